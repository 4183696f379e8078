"""Target kind "server": the app as containers on a Docker host (the Pilot Server, a host of
the team's, or this machine's Docker in the sandbox), behind Pilot's proxy."""

from __future__ import annotations

import calendar
import contextlib
import dataclasses
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig, ServerTarget
from pilot_tui.deploy import (
    history,
    lock,
    previews,
    release_contents,
    secret_versions,
)
from pilot_tui.deploy.context import Context, DeployContext, DeployError, RunLog, Say
from pilot_tui.deploy.events import StageFailed, StageFinished, StageStarted
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.deploy.previews import Preview
from pilot_tui.deploy.targets.base import (
    AppStatus,
    LogLine,
    NoLogs,
    WaypointApp,
    WaypointUse,
    not_deployed,
    target_settings,
)
from pilot_tui.deploy.targets.docker_host import (
    containers,
    edge_facts,
    preview_containers,
    preview_databases,
    proxy_container,
    release,
)
from pilot_tui.deploy.targets.docker_host.caddy_config import certifiable
from pilot_tui.deploy.targets.log_follow import tail_note
from pilot_tui.errors import PilotError
from pilot_tui.naming import resource_name
from pilot_tui.wording import counted

if TYPE_CHECKING:
    from docker import DockerClient

DOCKER_HOSTS = {"sandbox": "this machine's Docker", "host": "the Docker host"}


def docker_host_name(config: PilotConfig) -> str:
    """What runs apps of target "server", in a person's words: the sandbox uses this
    machine's Docker and `home = "host"` a host of the team's, not a Pilot Server."""
    return DOCKER_HOSTS.get(config.server.home, "the Pilot Server")


def parse_docker_line(raw: str) -> LogLine:
    """'2026-11-25T20:11:17.123456789Z text' (docker logs --timestamps) -> LogLine."""
    stamp, _, text = raw.partition(" ")
    try:
        seconds = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
        fraction = float("0." + stamp[20:].rstrip("Z")) if len(stamp) > 20 else 0.0
    except ValueError:
        return LogLine(time.time(), raw, "container")
    return LogLine(seconds + fraction, text, "container")


def container_lines(
    client: DockerClient, project: str, app: str, *, since: float | None, limit: int
) -> list[LogLine]:
    running = containers.running_containers(client, project, app)
    if not running:
        return []
    raw = running[-1].logs(
        timestamps=True, tail=limit, since=int(since) if since is not None else None
    )
    return [parse_docker_line(line) for line in raw.decode(errors="replace").splitlines() if line]


def stream_container(
    client: DockerClient, project: str, app: str, *, tail: int, follow: bool
) -> Iterator[str] | None:
    """The app's live container's log lines as they come (`logs --follow`), redacted; None
    when none runs."""
    running = containers.running_containers(client, project, app)
    if not running:
        return None
    stream = running[-1].logs(stream=True, follow=follow, tail=tail, timestamps=False)
    return _lines(stream)


def _lines(stream: Iterable[bytes]) -> Iterator[str]:
    return (redact.text(line) for line in containers.stream_lines(stream))


def _noting_the_tail(lines: Iterable[str], say: Say, tail: int) -> Iterator[str]:
    """``lines``, then the note that older ones were cut off when --tail was reached."""
    printed = 0
    for line in lines:
        yield line
        printed += 1
    if printed >= tail > 0:
        say(tail_note(tail))


def local_image(config: PilotConfig, app: AppSettings) -> WaypointUse:
    """Waypoint's registry stanza for an image kept on the Docker host that built it."""
    image = resource_name(config.project.name, app.name)
    return WaypointUse("docker", {"image": image, "tag": "latest", "local": True})


@dataclass
class DockerHost:
    kind: ClassVar[str] = "server"
    on_docker_host: ClassVar[bool] = True
    has_logs: ClassVar[bool] = True

    app: AppSettings
    previewing: Preview | None = None  # the app's preview this deploys (app is its copy)
    previews_refused: ClassVar[str | None] = None

    def needs_docker(self) -> bool:
        return True

    def builds_image(self) -> bool:
        return True

    def preview(self, preview: Preview) -> DockerHost:
        return DockerHost(self.preview_app(preview.name), preview)

    def preview_app(self, name: str) -> AppSettings:
        return preview_containers.preview_app(self.app, name)

    def preview_name_limits(self, project: str) -> dict[str, tuple[int, int]]:
        return {}  # its host name and containers' are every preview's (previews.name_room)

    def previews(self, ctx: Context) -> list[Preview]:
        if ctx.client is None or ctx.target is None:
            raise DeployError("deploy", "the previews are on the Docker host, which was not opened")
        return preview_containers.found(ctx.client, ctx.config, ctx.target, self.app)

    def runs_now(self, ctx: Context) -> bool:
        return False  # its listing reads the engine's containers: it never lags

    def _environment(self, ctx: DeployContext, log: RunLog) -> dict[str, str]:
        """The app's env and secrets; a preview's secrets from the previews' own file only."""
        if self.previewing is None:
            return ctx.environment(self.app)
        say = log.line("deploy", self.app.name)
        return previews.environment(ctx.state_dir, self.previewing, self.app, say)

    def deploy(self, ctx: DeployContext, log: RunLog, *, force: bool = False) -> history.Release:
        app, name = self.app, self.app.name
        env = self._environment(ctx, log)
        edge = release.ensure_proxy(ctx, log, name)
        proxy = edge.container
        held = release.take_lock(ctx, name, proxy)
        try:
            if self.previewing is None:
                env.update(release.linked_databases(ctx, log, app))
            else:  # never the app's own databases: copies, where pilot.toml offers them
                preview = self.previewing
                owner = ctx.config.app(preview.app) or app
                self._room_under_lock(ctx, owner, held)  # before its database is made
                env.update(preview_databases.linked(ctx, log, owner, preview.name))
            ctx.pull(log, name)  # under the lock: a teammate may have released since
            # Under the lock too: two deploys must not both write the next version.
            version = secret_versions.keep_of(ctx.state_dir, name, app.secrets, env)
            image_id, tag = ctx.build(log, app)
            ctx.cancel.check()
            if self.previewing is not None:  # again: a lock made just before ours shows late
                try:
                    self._room_under_lock(ctx, ctx.config.app(self.previewing.app) or app, held)
                except previews.PreviewError:  # a first deploy (a redeploy is never refused):
                    preview_containers.remove_images(ctx.docker_client, ctx.project, name)
                    raise  # (a database made for it goes with the unused ones, once old)
            log.emit(StageStarted(name, "push"))
            log.emit(
                StageFinished(
                    name, "push", "the image is on the deploy host's engine: nothing to push"
                )
            )
            made = release.release(
                ctx,
                log,
                app,
                proxy,
                image_id,
                tag,
                env,
                # A preview's every deploy is a release: its TTL starts again from it.
                force=force or self.previewing is not None,
                note="",
                secrets_version=version,
                watch=True,  # when the deploy watches (ctx.watch) and target.watch > 0
                labels=self.previewing.labels() if self.previewing is not None else None,
                served=edge.served,
            )
        finally:
            lock.release(ctx.docker_client, held)
        if self.previewing is not None:  # the agent removes it once its TTL runs out
            release.backup_agent(ctx, log.line("release", name))
        return made

    def _room_under_lock(self, ctx: DeployContext, owner: AppSettings, held: lock.Lock) -> None:
        """previews.max checked again now that this preview's deploy holds its lock. The
        engine's check before cannot see a preview a teammate (or another terminal) is
        deploying at the same moment: its containers come only at its end. So the deploys
        of the owner's other previews that took their lock first count too; of two new
        previews at once past the limit, the later lock is refused (PreviewError). Asked
        once the lock is taken and again after the build: the engine stamps a container's
        creation a moment before it is listed, so a lock made just before ours may show
        only then."""
        assert self.previewing is not None
        preview = self.previewing
        # The deploy's own clock (it set the expiry), not this process's: a test injects it.
        now = preview.expires - owner.previews.ttl_seconds()
        running = [p for p in DockerHost(owner).previews(ctx) if not p.expired(now)]
        under_way = preview_containers.deploying(
            ctx.docker_client, ctx.project, owner.name, held.container_id
        )
        previews.room_for(owner, preview.name, running + under_way)

    def rollback(self, ctx: DeployContext, log: RunLog, wanted: str | None) -> history.Release:
        from docker.errors import ImageNotFound

        app, name = self.app, self.app.name
        proxy = release.ensure_proxy(ctx, log, name).container
        held = release.take_lock(ctx, name, proxy)
        try:
            ctx.pull(log, name)  # the newest shared history decides what "previous" is
            try:
                releases = history.load(ctx.state_dir, name)
                target = history.rollback_candidate(releases, wanted, name)
                live = history.live(releases)
                restored = release_contents.restore(ctx.state_dir, target, app)
            except history.HistoryError as exc:  # which release: the rollback's own choice
                log.emit(StageFailed(name, "rollback", str(exc)))
                raise DeployError("rollback", str(exc), exit_code=exc.exit_code) from exc
            # The release's own settings and secrets; a record from before releases kept
            # them runs with today's. Linked databases' URLs are always today's (a
            # database restored since is where the data is).
            if restored is None:
                run_as, env = app, ctx.environment(app)
                version = secret_versions.keep_of(ctx.state_dir, name, app.secrets, env)
                later = " with today's settings (its own were not recorded)"
            else:
                # Its settings, with today's domain: the names the app answers to are not
                # the release's to take back.
                run_as = dataclasses.replace(
                    restored.app,
                    target=dataclasses.replace(
                        target_settings(restored.app, ServerTarget),
                        domain=target_settings(app, ServerTarget).domain,
                    ),
                )
                env = {**restored.app.env, **restored.secrets}
                version, later = target.secrets_version, ""
            env.update(release.linked_databases(ctx, log, run_as))
            try:
                ctx.docker_client.images.get(target.image_id)
            except ImageNotFound as exc:
                message = (
                    f"the image of {target.id} ({target.image}) is no longer on the "
                    "engine; redeploy that commit instead"
                )
                log.emit(StageFailed(name, "release", message))
                raise DeployError("release", message) from exc
            log.emit(StageStarted(name, "build", f"skipped: rolling back to {target.id}"))
            log.emit(StageFinished(name, "build", f"reusing {target.image}"))
            return release.release(
                ctx,
                log,
                run_as,
                proxy,
                target.image_id,
                target.image,
                env,
                force=True,
                note=(
                    f"relaunch of {target.id}"
                    if live is not None and live.id == target.id
                    else f"rollback to {target.id}"
                )
                + later,
                commit=target.commit,
                secrets_version=version,
            )
        finally:
            lock.release(ctx.docker_client, held)

    def status(self, ctx: Context) -> AppStatus:
        app = self.app
        live = history.live_release(ctx.state_dir, app.name)
        if live is None:
            return not_deployed(app.name, ctx.state_dir)
        if ctx.target is None or ctx.client is None:  # the caller opens the host for its apps
            raise DeployError("deploy", "this status needs the Docker host, which was not opened")
        address = release.url(ctx.config, ctx.target, app)
        health = self._health(ctx, ctx.client, live)
        notes, facts = self._edge(ctx, ctx.client, ctx.target)
        return AppStatus(app.name, live.id, health, address, notes=notes, facts=facts)

    def _edge(
        self, ctx: Context, client: DockerClient, docker: DockerTarget
    ) -> tuple[tuple[str, ...], dict[str, Any]]:
        """What the edge says of the app: its certificates and its traffic (as lines, and
        as data)."""
        from docker.errors import DockerException

        try:
            proxy = client.containers.get(containers.PROXY_NAME)
            names = release.hosts(ctx.config, docker, self.app)
            secure = {h for h in names if ctx.config.server.tls_on and certifiable(h)}
            facts = edge_facts.read(proxy, names, secure)
        except (DockerException, ValueError):  # no proxy (yet), it went, or bad log text
            return (), {}
        now = time.time()
        lines = [f"certificate {c.text(now)}" for c in facts.certificates]
        lines.append(f"traffic {facts.traffic.text()}")
        data: dict[str, Any] = {
            "certificates": [
                {
                    "host": c.host,
                    "issuer": c.issuer or None,
                    "expires": c.expires,
                    "error": c.error or None,
                }
                for c in facts.certificates
            ],
            "traffic": {
                "window_seconds": facts.traffic.window,
                "requests": facts.traffic.requests,
                "requests_per_second": round(facts.traffic.per_second, 3),
                "error_rate_5xx": round(facts.traffic.error_rate, 4),
                "p95_ms": facts.traffic.p95_ms,
            },
        }
        return tuple(lines), data

    def _health(self, ctx: Context, client: DockerClient, live: history.Release) -> str:
        """The live release's own container: stopped, restarting, or what its health path
        says (restarts of a running one are not held against it here: a reboot restarts
        them all)."""
        app = self.app
        proxy = None
        with contextlib.suppress(Exception):  # docker.errors.NotFound: not started yet
            proxy = client.containers.get(containers.PROXY_NAME)
        found = [
            c
            for c in containers.app_containers(client, ctx.project, app.name)
            if c.labels.get("pilot.release") == live.id
        ]
        if not found or proxy is None:
            return "stopped"
        container = found[-1]
        if container.status == "restarting":
            code = container.attrs.get("State", {}).get("ExitCode")
            return f"unhealthy (restarting, exit code {code})"
        if container.status != "running":
            return "stopped"
        if proxy.status != "running":
            return "unhealthy (the proxy is not running)"
        where = containers.address(container)
        if where is None:
            return "unhealthy (not on the private network: redeploy it)"
        settings = target_settings(app, ServerTarget)
        ok, detail = containers.http_check(
            proxy, where, live.port or settings.port, settings.health_path
        )
        return "healthy" if ok else f"unhealthy ({detail})"

    def _client(self, ctx: Context) -> DockerClient:
        """The Docker host the app's logs are on; NoLogs when the caller did not open it."""
        if ctx.client is None:
            raise NoLogs(
                f"{self.app.name} runs on {docker_host_name(ctx.config)}: its Docker host is needed"
            )
        return ctx.client

    def logs(self, ctx: Context, *, since: float | None, limit: int) -> list[LogLine]:
        client = self._client(ctx)
        return container_lines(client, ctx.project, self.app.name, since=since, limit=limit)

    def stream(self, ctx: Context, say: Say, *, tail: int, follow: bool) -> Iterator[str]:
        """Docker's own stream of the live container's lines (raised at once when none
        runs, before anything is printed)."""
        name = self.app.name
        lines = stream_container(self._client(ctx), ctx.project, name, tail=tail, follow=follow)
        if lines is None:
            raise PilotError(
                f"{name} is not running", hint=f"deploy it first (pilot-tui deploy {name})"
            )
        return _noting_the_tail(lines, say, tail)

    def requests(self, ctx: Context, say: Say, *, tail: int, follow: bool) -> Iterator[str]:
        """The edge's access log lines for the app's names (``tail`` counts the edge's
        lines, of every app)."""
        client = self._client(ctx)
        if ctx.target is None:
            raise NoLogs(f"{self.app.name} runs on {docker_host_name(ctx.config)}: not opened")
        from docker.errors import NotFound

        try:
            proxy = client.containers.get(containers.PROXY_NAME)
        except NotFound:
            raise PilotError(
                f"the edge is not running on {docker_host_name(ctx.config)}",
                hint=f"deploy an app first (pilot-tui deploy {self.app.name})",
            ) from None
        names = set(release.hosts(ctx.config, ctx.target, self.app))
        return edge_facts.requests_to(proxy, names, tail=tail, follow=follow)

    def log_source(self, config: PilotConfig) -> str:
        return f"its container on {docker_host_name(config)}"

    def destroy_question(self, config: PilotConfig) -> str:
        return (
            f"Stop and remove {self.app.name}'s containers and route, and its previews? "
            "(its history is kept)"
        )

    def waypoint(self, config: PilotConfig) -> WaypointApp:
        return WaypointApp(
            WaypointUse("docker", {"service_port": target_settings(self.app, ServerTarget).port}),
            registry=local_image(config, self.app),
        )

    def destroy(self, ctx: Context, say: Say) -> list[str]:
        """Its route on the proxy and its containers; nothing without an open Docker host
        (`server destroy` removes the host's containers itself)."""
        if ctx.client is None or ctx.target is None:
            return []
        app = self.app
        found = containers.app_containers(ctx.client, ctx.project, app.name)
        from docker.errors import DockerException, NotFound

        try:
            proxy_container.unroute(
                ctx.client.containers.get(containers.PROXY_NAME),
                release.hosts(ctx.config, ctx.target, app),
                release.proxy_spec(ctx.config, ctx.target, ctx.root),
                containers.release_prefix(ctx.project, app.name),
            )
        except NotFound:
            pass  # no edge: no route
        except (PilotError, DockerException) as exc:  # its containers go all the same
            say(f"warning: {app.name}'s routes could not be removed from the edge: {exc}")
        for container in found:
            container.remove(force=True)
        done = [f"removed {counted(len(found), 'container')} of {app.name}"]
        if self.previewing is not None:  # its images are its own (tagged with its name)
            done += preview_containers.remove_images(ctx.client, ctx.project, app.name)
            if lock.break_lock(ctx.client, ctx.project, app.name):  # a killed deploy's
                done.append(f"removed the deploy lock of {app.name}")
            gone = frozenset({self.previewing.name})  # the branch's last preview's, maybe
            done += preview_databases.remove_unused(ctx, say, gone)
            release.backup_agent(ctx, say)  # gone with the last preview (and no backups)
        elif ctx.config.state.backend in ("s3", "gcs"):  # CI runs' images of it, for the worker
            done += _ci_images_deleted(ctx, app, say)
        for line in done:
            say(line)
        return done


def _ci_images_deleted(ctx: Context, app: AppSettings, say: Say) -> list[str]:
    """The images CI runs pushed of the app (server_images.py), deleted where there are
    some; a failure is a warning (`server destroy` finds them still)."""
    from pilot_tui.deploy.server_images import server_images

    images = server_images(ctx.config)
    if not images.ci_pushes(ctx.root):  # no CI: nothing of the app's there
        return []
    try:
        deleted = images.delete_all(ctx, app)
    except Exception as exc:  # no credentials here, or the registry said no
        say(f"warning: {app.name}'s images in {images.where} (CI runs') not checked: {exc}")
        return []
    return [deleted] if deleted else []
