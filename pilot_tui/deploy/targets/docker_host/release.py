"""A release on a Docker host: start the new container on the private network, wait until it
is healthy (and stays so), switch the proxy's route to it, record it, retire the old one.

A rollback is the same release from an earlier image that is still on the engine."""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig, ServerTarget
from pilot_tui.deploy import history, lock
from pilot_tui.deploy.context import (
    CancelToken,
    Context,
    DeployContext,
    DeployError,
    RunLog,
)
from pilot_tui.deploy.events import (
    Released,
    StageFailed,
    StageFinished,
    StageStarted,
    Timer,
    release_note,
)
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.deploy.interrupts import HeldInterrupt
from pilot_tui.deploy.targets.base import reverted, target_settings, watching
from pilot_tui.deploy.targets.docker_host import caddy_config, containers, proxy, proxy_container
from pilot_tui.project import STATE_DIR
from pilot_tui.wording import counted, plural

if TYPE_CHECKING:
    from docker import DockerClient
    from docker.models.containers import Container

    from pilot_tui.data.scheduling import AgentPlan


Result = TypeVar("Result")


def hosts(config: PilotConfig, docker: DockerTarget, app: AppSettings) -> list[str]:
    """Host names the proxy serves the app on (lowercase: DNS names are case-blind, and
    each is the name of its upstream file at the edge)."""
    domain = target_settings(app, ServerTarget).domain
    names = [domain.lower().rstrip(".")] if domain else []
    if docker.local:
        names.append(f"{app.name}.localhost")
    address = docker.host
    if address:
        try:
            spelled = str(ipaddress.ip_address(address)).replace(":", "-")  # sslip.io's IPv6
            names.append(f"{app.name}.{spelled}.sslip.io")  # DNS that needs no setup
        except ValueError:
            names.append(f"{app.name}.{address.lower()}")
    return names


def url(config: PilotConfig, docker: DockerTarget, app: AppSettings) -> str:
    """The app's address: HTTPS when a certificate can be had for its first name."""
    first = hosts(config, docker, app)[0]
    server = config.server
    if server.tls_on and caddy_config.certifiable(first):
        suffix = "" if server.https_port == 443 else f":{server.https_port}"
        return f"https://{first}{suffix}/"
    suffix = "" if server.http_port == 80 else f":{server.http_port}"
    return f"http://{first}{suffix}/"


def proxy_spec(config: PilotConfig, docker: DockerTarget, root: Path) -> proxy_container.ProxySpec:
    """The edge as the project's server settings want it (``root``: the project, where
    ``server.acme_ca_root`` is read from)."""
    from pilot_tui.deploy.build.bases import PROXY

    server = config.server
    bind = "127.0.0.1" if docker.local else "0.0.0.0"
    ca_root = None
    if server.tls_on and server.acme_ca_root:
        ca_root = read_ca_root(root, server.acme_ca_root)
    edge = caddy_config.EdgeSettings(
        tls=server.tls_on,
        https_port=server.https_port,
        acme_email=server.acme_email,
        acme_ca=server.acme_ca,
        acme_ca_root=proxy.CA_ROOT_PATH if ca_root is not None else None,
        hsts=server.hsts,
    )
    https_port = server.https_port if server.tls_on else None
    return proxy_container.ProxySpec(
        bind, server.http_port, PROXY.image(), https_port, edge, ca_root, config.project.name
    )


def read_ca_root(root: Path, given: str) -> bytes:
    """server.acme_ca_root's bytes: a PEM file inside the project."""
    path = (root / given).resolve()
    if not path.is_relative_to(root.resolve()):
        raise DeployError(
            "deploy", f"server.acme_ca_root ({given}) leaves the project directory {root}"
        )
    if path.is_relative_to((root / STATE_DIR).resolve()):  # keys and secrets: never sent
        raise DeployError("deploy", f"server.acme_ca_root ({given}) is under {STATE_DIR}/")
    if not path.is_file() or path.stat().st_size > 1024 * 1024:  # no FIFO, no huge file
        raise DeployError("deploy", f"server.acme_ca_root: {given} is not a file of <= 1 MB")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DeployError(
            "deploy", f"server.acme_ca_root: cannot read {given}: {exc.strerror}"
        ) from exc
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise DeployError("deploy", f"server.acme_ca_root: {given} holds no PEM certificate")
    return data


def fingerprint(image_id: str, env: dict[str, str], target: ServerTarget) -> str:
    """What a running release is made of: a redeploy with the same one changes nothing."""
    # The network is part of it: a release started before apps moved to the private
    # network (host networking) is replaced by the next deploy, not kept as "unchanged".
    data = json.dumps(
        {
            "image": image_id,
            "env": sorted(env.items()),
            "target": [target.health_path, target.health_timeout, target.port],
            "network": containers.NETWORK,
        }
    )
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def stage(log: RunLog, app: str, name: str, detail: str, work: Callable[[], Result]) -> Result:
    """Run ``work`` as part of stage ``name``; a ReleaseError becomes a DeployError."""
    timer = Timer()
    try:
        result = work()
    except containers.ReleaseError as exc:
        log.emit(StageFailed(app, name, str(exc), exc.logs))
        raise DeployError(name, str(exc), exc.logs) from exc
    log.line(name, app)(f"{detail}: done in {timer.seconds():.1f}s")
    return result


def https_open(config: PilotConfig, state_dir: Path) -> str | None:
    """Why HTTPS cannot be served yet, or None: a Pilot Server provisioned before HTTPS
    opens only the HTTP port in its firewall (its recorded web_ports), so every name
    redirected to HTTPS would point at a closed port."""
    from pilot_tui.provision.outputs import saved_outputs

    server = config.server
    if not server.tls_on or server.home not in ("aws", "gcp"):
        return None
    opened = saved_outputs(state_dir).get("web_ports")
    if not isinstance(opened, list) or server.https_port in [int(p) for p in opened]:
        return None  # nothing recorded (the server is not Pilot's to know), or open
    ports = ", ".join(str(p) for p in opened)
    return (
        f"HTTPS is on (server.tls) but the Pilot Server's firewall opens only "
        f"{plural(len(opened), 'port')} {ports}: "
        f"run `pilot-tui server up` to open {server.https_port}, or set server.tls = "
        '"off"'
    )


def ensure_proxy(ctx: DeployContext, log: RunLog, name: str) -> proxy_container.Edge:
    closed = https_open(ctx.config, ctx.state_dir)
    if closed is not None:
        log.emit(StageFailed(name, "deploy", closed))
        raise DeployError("deploy", closed)
    spec = proxy_spec(ctx.config, ctx.docker, ctx.root)
    return stage(
        log,
        name,
        "deploy",
        "preparing the proxy",
        lambda: proxy_container.ensure_edge(ctx.docker_client, spec, log.line("deploy", name)),
    )


def linked_databases(ctx: DeployContext, log: RunLog, app: AppSettings) -> dict[str, str]:
    """Each database the app is linked to running and taking connections; the variables
    that carry their URLs (registered as secrets: masked wherever they would show)."""
    from pilot_tui.config.schema import PostgresDatabase

    linked = [db for db in ctx.config.databases if app.name in db.apps]
    if not linked:
        return {}  # (a no-change redeploy imports nothing of the databases)
    from pilot_tui.data import docker_db, managed
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.provision.outputs import saved_outputs

    urls: dict[str, str] = {}
    for settings in linked:
        if isinstance(settings, PostgresDatabase) and settings.service is not None:
            try:
                outputs = saved_outputs(ctx.state_dir)
                urls[settings.url_env] = managed.linked_url(outputs, ctx.state_dir, settings)
            except managed.ManagedError as exc:
                log.emit(StageFailed(app.name, "deploy", str(exc)))
                raise DeployError("deploy", str(exc)) from exc
            continue
        kind = kind_for(ctx.project, settings)
        line = log.line("deploy", app.name)
        live, password = stage(
            log,
            app.name,
            "deploy",
            f"{kind.what} ready",
            functools.partial(docker_db.ensure, ctx.docker_client, kind, ctx.state_dir, line),
        )
        urls[settings.url_env] = live.url(password)
    redact.register(urls.values())
    # The agent brought up to date with what pilot.toml schedules (a managed database's
    # backup.dumps too: set or turned off), or removed when nothing is.
    backup_agent(ctx, log.line("deploy", app.name))
    return urls


def agent_plan(ctx: Context, *, backups: bool = True) -> AgentPlan | None:
    """What the agent on the Docker host runs for the project: pilot.toml's backup
    schedules, and the removal of expired previews while any preview is on the host
    (with the edge's settings, which a prune keeps); None when neither."""
    from pilot_tui.data import scheduling
    from pilot_tui.data.agent.previews import Edge
    from pilot_tui.deploy.previews import PREVIEW_OF

    client, docker = ctx.client, ctx.target
    if client is None or docker is None:
        raise DeployError("deploy", "the agent runs on the Docker host, which was not opened")
    labels = [f"pilot.project={ctx.project}", PREVIEW_OF]
    edge = None
    if client.containers.list(all=True, filters={"label": labels}):
        spec = proxy_spec(ctx.config, docker, ctx.root)
        edge = Edge(spec.edge, spec.ca_root, ctx.project, spec.image)
    return scheduling.agent_plan(
        ctx.config,
        docker,
        ctx.state_dir,
        scheduling.sandbox_store(ctx.config, ctx.state_dir) if backups else None,
        edge,
        backups=backups,
    )


def backup_agent(ctx: Context, line: Callable[[str], None]) -> None:
    """The agent on the Docker host brought up to date (``agent_plan``), or removed when
    it has nothing to do. A problem is a warning: the release itself does not depend on
    it (``db schedule`` fails on it)."""
    from docker.errors import DockerException

    from pilot_tui.cloud.oidc_exchange import in_github_actions
    from pilot_tui.data import scheduling
    from pilot_tui.errors import PilotError

    # A CI run's engine is the runner's own (host.runner_engine): the agent is not its.
    if ctx.client is None or ctx.target is None or in_github_actions():
        return
    try:
        try:
            plan = agent_plan(ctx)
        except scheduling.AgentUnavailable as exc:
            # The backups cannot run from the host as set up; previews expire all the same.
            plan = agent_plan(ctx, backups=False)
            if plan is None:
                raise
            line(f"warning: scheduled backups are not running: {redact.clip(str(exc), 600)}")
        if plan is None:
            scheduling.remove(ctx.client, ctx.project)
        else:
            scheduling.install(ctx.client, plan, line)
    except (PilotError, DockerException, OSError) as exc:
        line(
            "warning: the agent on the Docker host (scheduled backups, expired previews) was "
            f"not brought up to date: {redact.clip(str(exc), 600)}"
        )


@dataclass
class _OnTheHost:
    """A managed target's Context with the Docker host opened for the agent alone."""

    config: PilotConfig
    state_dir: Path
    root: Path
    client: DockerClient | None
    target: DockerTarget | None
    cancel: CancelToken

    @property
    def project(self) -> str:
        return self.config.project.name


def agent_for_previews(ctx: Context, line: Callable[[str], None]) -> None:
    """After a preview's deploy on a managed target: the agent on the Pilot Server brought
    up to date, so it removes the preview when its TTL runs out, laptop or not. A deploy
    that opened no Docker host (a zip Lambda's) opens the server's for it, only while the
    agent has Lambda previews to look after; a server it cannot reach is a warning (the
    preview is deployed)."""
    from docker.errors import DockerException

    from pilot_tui.cloud.oidc_exchange import in_github_actions
    from pilot_tui.data import scheduling
    from pilot_tui.deploy.host import connect, target_for
    from pilot_tui.errors import PilotError
    from pilot_tui.provision.outputs import saved_record

    if ctx.client is not None:
        backup_agent(ctx, line)
        return
    if in_github_actions() or scheduling.lambda_previews(ctx.config, ctx.state_dir) is None:
        return
    try:
        target = target_for(ctx.config, ctx.state_dir, saved_record(ctx.state_dir))
        with connect(target, ctx.state_dir / "run") as client:
            opened = _OnTheHost(ctx.config, ctx.state_dir, ctx.root, client, target, ctx.cancel)
            backup_agent(opened, line)
    except (PilotError, DockerException, OSError) as exc:
        line(
            "warning: the agent on the Pilot Server (it removes expired previews) was not "
            f"brought up to date: {redact.clip(str(exc), 600)}; `pilot-tui preview prune` "
            "removes them from here"
        )


def running_image(container: Container) -> str:
    """The id of the image ``container`` runs (the proxy's: ensure_proxy made sure of it)."""
    image = container.image
    if image is None or image.id is None:
        raise DeployError("deploy", f"the image of {container.name} is no longer on the engine")
    return image.id


def take_lock(ctx: DeployContext, name: str, edge: Container) -> lock.Lock:
    try:
        return lock.acquire(
            ctx.docker_client, ctx.project, name, running_image(edge), wait=ctx.lock_wait
        )
    except lock.LockHeld as exc:
        raise DeployError("lock", str(exc)) from exc


def release(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    edge: Container,
    image_id: str,
    tag: str,
    env: dict[str, str],
    *,
    force: bool,
    note: str,
    commit: str | None = None,
    secrets_version: str | None = None,
    watch: bool = False,
    labels: dict[str, str] | None = None,
    served: dict[str, str] | None = None,
) -> history.Release:
    """Start ``image_id`` as the app's next release and move traffic to it once healthy,
    recording ``app``'s settings and ``secrets_version`` with it (what ``env`` was made
    of); with ``watch``, watched once live (see _switch); ``labels`` go on its container
    (a preview's). The caller holds the app's lock and has pulled the shared history.
    ``served``: the edge's routes as read when it was ensured (else read here)."""
    from pilot_tui.deploy.release_contents import settings_record

    name, settings = app.name, target_settings(app, ServerTarget)
    address = url(ctx.config, ctx.docker, app)
    releases = history.load(ctx.state_dir, name)
    made_of = fingerprint(image_id, env, settings)
    live = history.live(releases)
    unchanged = None if force else _unchanged(ctx, app, edge, live, made_of, served)
    if unchanged is not None:
        current, others = unchanged
        log.emit(StageStarted(name, "deploy"))
        # An earlier deploy's Ctrl+C left them: retired as that one would have, once the
        # edge, read again now, still routes to the live one (the first read may be old).
        if others and _unchanged(ctx, app, edge, current, made_of) is not None:
            log.line("deploy", name)(
                f"stopping {counted(len(others), 'container')} of earlier releases left running"
            )
            containers.retire(others, None, settings.stop_timeout)
        log.emit(StageFinished(name, "deploy", f"nothing changed: {current.id} is live"))
        log.emit(Released(name, current.id, current.url or address))
        return current
    ctx.cancel.check()
    base = history.Release(
        history.next_id(releases),
        name,
        tag,
        image_id,
        history.now(),
        history.FAILED,
        commit=commit if commit is not None else ctx.commit(app),
        url=address,
        note=note,
        port=settings.port,
        settings=settings_record(app),
        secrets_version=secrets_version,
    )
    container = _start_healthy(ctx, log, app, edge, base, env, made_of, labels)
    return _switch(ctx, log, app, edge, container, base, live if watch else None)


def _unchanged(
    ctx: DeployContext,
    app: AppSettings,
    edge: Container,
    current: history.Release | None,
    made_of: str,
    served: dict[str, str] | None = None,
) -> tuple[history.Release, list[Container]] | None:
    """The live release when a container of it, made of the same, is running and the edge
    routes every one of the app's names to it (a new `target.domain`, or an edge that lost
    its routes or an upstream file, makes a new release); with the app's containers of
    other releases (none, unless a deploy was cut short after its release went live).
    ``served`` may be a read from before the app's lock (the edge's, as it was ensured):
    the routes to this app's names change by its deploys, rollbacks and reverts, under
    that lock, each recording the release it routes to; so a read from before one finds
    the edge routing elsewhere than the live release, and makes a needless release."""
    if current is None:
        return None
    found = containers.app_containers(ctx.docker_client, ctx.project, app.name)
    same = [
        c
        for c in found
        if c.status == "running"
        and c.labels.get("pilot.fingerprint") == made_of
        and c.labels.get("pilot.release") == current.id
    ]
    if not same:
        return None
    routes = served if served is not None else proxy_container.served_routes(edge)
    upstream = containers.upstream(
        same[-1], current.port or target_settings(app, ServerTarget).port
    )
    if any(routes.get(host) != upstream for host in hosts(ctx.config, ctx.docker, app)):
        return None
    return current, [c for c in found if c.labels.get("pilot.release") != current.id]


def _start_healthy(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    edge: Container,
    base: history.Release,
    env: dict[str, str],
    made_of: str,
    labels: dict[str, str] | None = None,
) -> Container:
    """deploy: the new release's container, once healthy; a failed or cancelled one is
    removed and recorded."""
    settings = target_settings(app, ServerTarget)
    name, port = app.name, settings.port
    timer = Timer()
    log.emit(StageStarted(name, "deploy", f"{base.id} from {base.image}"))
    container = None
    try:
        container = containers.start(
            ctx.docker_client,
            project=ctx.project,
            app=name,
            release=base.id,
            image=base.image_id,
            port=port,
            env=env,
            fingerprint=made_of,
            labels=labels,
        )
        containers.wait_healthy(
            container,
            edge,
            port,
            settings.health_path,
            settings.health_timeout,
            log.line("deploy", name),
            ctx.cancel.is_set,
            ctx.settle,
        )
        containers.make_permanent(container)
    except containers.ReleaseError as exc:
        if container is not None:
            container.remove(force=True)
        ctx.record_release(log, name, replace(base, note=str(exc)))
        log.emit(StageFailed(name, "deploy", str(exc), exc.logs))
        raise DeployError("deploy", str(exc), exc.logs) from exc
    except BaseException:  # Ctrl+C or a lost connection: leave nothing half-made
        if container is not None:
            container.remove(force=True)
        ctx.record_release(log, name, replace(base, status=history.CANCELLED))
        raise
    log.emit(StageFinished(name, "deploy", f"healthy at {container.name}:{port}", timer.seconds()))
    return container


def _switch(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    edge: Container,
    container: Container,
    base: history.Release,
    watched_from: history.Release | None = None,
) -> history.Release:
    """release: route the app's hosts to the new container, record it live, retire the
    previous one after the drain. With ``watched_from`` (the release that was live), the
    new one is watched first (watch.py), that one's container kept running meanwhile, and
    a bad new one is reverted: DeployError, once the previous serves again."""
    from docker.errors import DockerException

    name, client = app.name, ctx.docker_client
    timer = Timer()
    log.emit(StageStarted(name, "release", "switching the proxy"))
    # A Ctrl+C mid-switch would leave the edge serving the new release and the deploy
    # "interrupted": held off from when the routes lock is taken until it is given back.
    held = HeldInterrupt()
    try:
        try:  # (held from inside the swap, once the routes lock is taken)
            _route(ctx, app, edge, container, target_settings(app, ServerTarget).port, held)
        finally:
            held.stop()
    except (containers.ReleaseError, DockerException) as exc:  # the edge refused, or went
        if held.received:  # said as the deploy's failure; what follows it is not begun
            ctx.cancel.set()
        logs = exc.logs if isinstance(exc, containers.ReleaseError) else ()
        container.remove(force=True)
        ctx.record_release(log, name, replace(base, note=str(exc)))
        log.emit(StageFailed(name, "release", str(exc), logs))
        raise DeployError("release", str(exc), logs) from exc
    live = replace(base, status=history.LIVE)
    # Live from here: a Ctrl+C (in the CLI) keeps it, as one during the watch does; the
    # deploy ends as released, cancelled from there on (the CLI exits 130).
    line = log.line("release", name)
    try:
        held.reraise()  # one during the switch: the switch is whole, so as one just after
        ctx.record_release(log, name, live)
        time.sleep(ctx.drain)  # the edge's requests in flight to the old release arrive
    except KeyboardInterrupt:
        ctx.cancel.set()
        line("Ctrl+C: the new release stays live; stopping the previous one now")
        ctx.record_release(log, name, live)  # again: it may have been cut short (atomic)
    else:
        if ctx.cancel.is_set():  # the app's Cancel, meanwhile
            line("cancelled: the new release stays live; stopping the previous one now")
    previous = _previous(ctx, app, watched_from)
    if watched_from is not None and previous is not None:
        why = _watch(ctx, log, app, edge, container, watched_from)
        if why is not None:
            _revert(ctx, log, app, edge, (container, live), (previous, watched_from), why)
    stop_timeout = target_settings(app, ServerTarget).stop_timeout
    others = [
        c for c in containers.app_containers(client, ctx.project, name) if c.id != container.id
    ]
    done = "previous release stopped" if others else "no earlier release runs: none to stop"
    if others:  # (found walking: a first release said it stopped one)
        line(f"stopping the previous release (up to {stop_timeout} s to finish)")
    try:
        containers.retire(others, container.id, stop_timeout)
    except KeyboardInterrupt:
        ctx.cancel.set()
        done = f"Ctrl+C: the previous release is left running; the next deploy of {name} stops it"
        line(done)
    log.emit(StageFinished(name, "release", done, timer.seconds()))
    log.emit(
        Released(name, base.id, live.url or "", log.timer.seconds(), note=release_note(live.note))
    )
    return live


def _route(
    ctx: DeployContext,
    app: AppSettings,
    edge: Container,
    container: Container,
    port: int,
    held: HeldInterrupt,
) -> None:
    """Every name of the app to ``container`` at the edge (a release, or a revert), a
    Ctrl+C ``held`` off once the routes lock is taken."""
    proxy_container.swap(
        edge,
        hosts(ctx.config, ctx.docker, app),
        containers.upstream(container, port),
        proxy_spec(ctx.config, ctx.docker, ctx.root),
        containers.release_prefix(ctx.project, app.name),
        held,
    )


def _previous(
    ctx: DeployContext, app: AppSettings, before: history.Release | None
) -> Container | None:
    """The running container of ``before`` (the release that was live), when the new one
    is to be watched (``target.watch`` > 0, the deploy watching) and there is one."""
    if before is None or not ctx.watch or target_settings(app, ServerTarget).watch <= 0:
        return None
    if ctx.cancel.is_set():
        return None  # a Ctrl+C during the drain: nothing is watched
    running = containers.running_containers(ctx.docker_client, ctx.project, app.name)
    return next((c for c in running if c.labels.get("pilot.release") == before.id), None)


def _watch(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    edge: Container,
    container: Container,
    before: history.Release,
) -> str | None:
    """Why the new release must go (watch.watch), or None."""
    from pilot_tui.deploy.targets.docker_host import watch

    settings = target_settings(app, ServerTarget)
    line = log.line("release", app.name)
    line(
        f"watching the new release for {settings.watch} s ({before.id} kept running meanwhile; "
        "stopping the deploy (Ctrl+C, or Esc in the app) stops watching and keeps the new one)"
    )
    names = set(hosts(ctx.config, ctx.docker, app))
    why = watching(
        ctx, lambda: watch.watch(container, edge, settings, names, line, ctx.cancel.is_set)
    )
    if why is None:
        line(
            "stopped watching: the new release stays live"
            if ctx.cancel.is_set()
            else "watched: it stayed well"
        )
    return why


def _revert(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    edge: Container,
    bad: tuple[Container, history.Release],
    good: tuple[Container, history.Release],
    why: str,
) -> None:
    """The previous release serves again, at once (its container kept running); the bad
    one is recorded reverted, with why, and removed. Raises DeployError saying so."""
    from docker.errors import DockerException

    (bad_container, bad_release), (good_container, good_release) = bad, good
    name = app.name
    port = good_release.port or target_settings(app, ServerTarget).port
    held = HeldInterrupt()  # the revert ends the deploy either way: whole, not cut
    try:
        down = containers.trouble(good_container)
        if down is not None:
            raise containers.ReleaseError(f"{good_release.id}'s container {down}")
        try:
            _route(ctx, app, edge, good_container, port, held)
        finally:
            held.stop()
    except (containers.ReleaseError, DockerException) as exc:
        if held.received:
            ctx.cancel.set()
        message = (
            f"{bad_release.id} went bad ({why}), and {good_release.id} could not be put back "
            f"({redact.clip(str(exc), 200)}): {bad_release.id} is still live; try "
            f"`pilot-tui rollback {name}`"
        )
        log.emit(StageFailed(name, "release", message))
        # "release", as managed targets say it: "watch" is a revert done (notify.REVERTED)
        raise DeployError("release", message) from exc
    if held.received:  # noted: the deploy ends with the revert, and nothing after it
        ctx.cancel.set()
    tail = containers.container_tail(bad_container)
    bad_container.remove(force=True)  # the edge routes to the good one already
    reverted(ctx, log, name, (bad_release, good_release), why, tail)
