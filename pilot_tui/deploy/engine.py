"""A deploy, start to finish: lock -> build -> push -> deploy -> release -> record.

UI-free: it reports through ``emit`` (typed events) and raises DeployError with the stage
and the reason. The CLI and the TUI's deploy viewer both drive it; one run log per deploy
goes to .pilot/logs/deploy-TIME-APP.log as JSON lines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pilot_tui import redact
from pilot_tui.deploy import build as builder
from pilot_tui.deploy import history, lock, secrets
from pilot_tui.deploy.events import (
    Emit,
    Output,
    Released,
    StageFailed,
    StageFinished,
    StageStarted,
    Timer,
    to_json,
)
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.deploy.shared_history import SharedHistory, SharedHistoryError
from pilot_tui.deploy.shippable import private_paths
from pilot_tui.deploy.targets.docker_host import containers as server_target
from pilot_tui.deploy.targets.managed import CONTAINER_TARGETS
from pilot_tui.fsutil import ensure_private_dir
from pilot_tui.runner import Command, RunnerError, capture

SITE_TARGETS = ("s3-cloudfront", "gcs-cdn")


def needs_docker(app: Any) -> bool:
    """Whether deploying ``app`` talks to the Docker host (static sites on managed targets
    go straight to their bucket unless a build command must run first, and a zip Lambda
    to the function)."""
    from pilot_tui.deploy.site_build import needs_builder
    from pilot_tui.deploy.targets.managed_flow import is_zip_lambda

    if app.target.kind in SITE_TARGETS:
        return needs_builder(app)
    return not is_zip_lambda(app)


class DeployError(Exception):
    """A deploy or rollback failed in ``stage``; ``logs`` has the new release's last lines."""

    def __init__(self, stage: str, message: str, logs: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.stage = stage
        self.logs = logs


@dataclass
class Deployer:
    """Everything one deploy needs; the client is an open docker SDK client."""

    client: Any  # None when only static sites on managed targets are deployed
    target: DockerTarget | None
    config: Any  # PilotConfig
    state_dir: Path
    root: Path
    emit: Emit
    lock_wait: float = 0.0
    drain: float = server_target.DRAIN_SECONDS
    settle: float = server_target.SETTLE_SECONDS  # a healthy new release must stay up this long
    cancel: threading.Event | None = None  # set by the TUI's Cancel; checked between steps
    shared: SharedHistory | None = None  # the state bucket's copy of the history

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def check_cancel(self) -> None:
        if self.cancelled():
            raise server_target.Cancelled("cancelled")

    @property
    def docker(self) -> DockerTarget:
        if self.target is None:
            raise DeployError("deploy", "this deploy needs the Docker host, which was not opened")
        return self.target

    @property
    def project(self) -> str:
        return str(self.config.project.name)

    def proxy_spec(self) -> server_target.ProxySpec:
        from pilot_tui.deploy.bases import PROXY

        base = PROXY.image()
        bind = "127.0.0.1" if self.docker.local else "0.0.0.0"
        return server_target.ProxySpec(bind, self.config.server.http_port, base)

    def app(self, name: str) -> Any:
        app = self.config.app(name)
        if app is None:
            known = ", ".join(a.name for a in self.config.apps) or "none yet"
            raise DeployError("deploy", f"no app {name!r} in pilot.toml (apps: {known})")
        return app

    # -- what people see ---------------------------------------------------------------
    def hosts(self, app: Any) -> list[str]:
        """Host names the proxy serves the app on."""
        names = [app.target.domain] if app.target.domain else []
        if self.docker.local:
            names.append(f"{app.name}.localhost")
        address = self.docker.host
        if address:
            try:
                ipaddress.ip_address(address)
                names.append(f"{app.name}.{address}.sslip.io")  # DNS that needs no setup
            except ValueError:
                names.append(f"{app.name}.{address}")
        return names

    def url(self, app: Any) -> str:
        port = self.config.server.http_port
        suffix = "" if port == 80 else f":{port}"
        return f"http://{self.hosts(app)[0]}{suffix}/"

    # -- the run -----------------------------------------------------------------------
    def deploy(self, name: str, *, force: bool = False) -> history.Release:
        app = self.app(name)
        if app.target.kind in SITE_TARGETS:
            from pilot_tui.deploy.targets.site_flow import deploy_site

            with _RunLog(self, name, "deploy") as log:
                return deploy_site(self, log, app, force=force)
        if app.target.kind in CONTAINER_TARGETS:
            from pilot_tui.deploy.targets.managed_flow import deploy_managed

            with _RunLog(self, name, "deploy") as log:
                return deploy_managed(self, log, app, force=force)
        with _RunLog(self, name, "deploy") as log:
            env = self._environment(app)
            proxy = self._stage(
                log,
                name,
                "deploy",
                "preparing the proxy",
                lambda: server_target.ensure_proxy(
                    self.client, self.proxy_spec(), log.line("deploy", name)
                ),
            )
            held = self._lock(name, proxy)
            try:
                self._pull(log, name)  # under the lock: a teammate may have released since
                image_id, tag = self._build(log, app)
                self.check_cancel()
                log.emit(StageStarted(name, "push"))
                log.emit(
                    StageFinished(
                        name, "push", "built on the deploy host's engine: nothing to push"
                    )
                )
                return self._release(log, app, proxy, image_id, tag, env, force=force, note="")
            finally:
                lock.release(self.client, held)

    def rollback(self, name: str, wanted: str | None = None) -> history.Release:
        from docker.errors import ImageNotFound

        app = self.app(name)
        if app.target.kind in SITE_TARGETS:
            from pilot_tui.deploy.targets.s3_site.rollback import rollback_site

            with _RunLog(self, name, "rollback") as log:
                self._pull(log, name)  # the newest shared history decides what "previous" is
                return rollback_site(self, log, app, wanted)
        if app.target.kind in CONTAINER_TARGETS:
            from pilot_tui.deploy.targets.managed_flow import rollback_managed

            with _RunLog(self, name, "rollback") as log:
                return rollback_managed(self, log, app, wanted)
        with _RunLog(self, name, "rollback") as log:
            env = self._environment(app)
            proxy = self._stage(
                log,
                name,
                "deploy",
                "preparing the proxy",
                lambda: server_target.ensure_proxy(
                    self.client, self.proxy_spec(), log.line("deploy", name)
                ),
            )
            held = self._lock(name, proxy)
            try:
                self._pull(log, name)  # the newest shared history decides what "previous" is
                try:
                    target = history.rollback_candidate(history.load(self.state_dir, name), wanted)
                except history.HistoryError as exc:
                    log.emit(StageFailed(name, "release", str(exc)))
                    raise DeployError("release", str(exc)) from exc
                try:
                    self.client.images.get(target.image_id)
                except ImageNotFound as exc:
                    message = (
                        f"the image of {target.id} ({target.image}) is no longer on the "
                        "engine; redeploy that commit instead"
                    )
                    log.emit(StageFailed(name, "release", message))
                    raise DeployError("release", message) from exc
                log.emit(StageStarted(name, "build", f"skipped: rolling back to {target.id}"))
                log.emit(StageFinished(name, "build", f"reusing {target.image}"))
                return self._release(
                    log,
                    app,
                    proxy,
                    target.image_id,
                    target.image,
                    env,
                    force=True,
                    note=f"rollback to {target.id}",
                    commit=target.commit,
                )
            finally:
                lock.release(self.client, held)

    def _pull(self, log: _RunLog, name: str) -> None:
        """Take the bucket's history first: a teammate may have released since (we hold the
        app's lock, so nobody writes it while we deploy)."""
        if self.shared is not None:
            try:
                self.shared.pull(self.state_dir, name)
            except SharedHistoryError as exc:
                _shared_note(log, name, exc)

    def record_release(self, log: _RunLog, name: str, release: history.Release) -> None:
        history.record(self.state_dir, name, release)
        if self.shared is not None:
            try:
                self.shared.push(self.state_dir, name)
            except SharedHistoryError as exc:
                _shared_note(log, name, exc)

    def _lock(self, name: str, proxy: Any) -> lock.Lock:
        try:
            return lock.acquire(
                self.client, self.project, name, proxy.image.id, wait=self.lock_wait
            )
        except lock.LockHeld as exc:
            raise DeployError("lock", str(exc)) from exc

    def _environment(self, app: Any) -> dict[str, str]:
        try:
            values = secrets.resolve(self.state_dir, app.name, app.secrets)
        except secrets.SecretsError as exc:
            raise DeployError("deploy", str(exc)) from exc
        return {**app.env, **values}

    def _stage(self, log: _RunLog, app: str, stage: str, detail: str, work: Any) -> Any:
        timer = Timer()
        try:
            result = work()
        except server_target.ReleaseError as exc:
            log.emit(StageFailed(app, stage, str(exc), exc.logs))
            raise DeployError(stage, str(exc), exc.logs) from exc
        log.line(stage, app)(f"{detail}: done in {timer.seconds():.1f}s")
        return result

    def _build(self, log: _RunLog, app: Any) -> tuple[str, str]:
        timer = Timer()
        try:
            recipe = builder.recipe_for(app, self.root, private_paths(self.root, self.config))
            log.emit(StageStarted(app.name, "build", recipe.why))
            shipped = builder.context_files(recipe)
            for skipped in shipped.skipped:
                log.emit(Output(app.name, "build", skipped.message(), warning=True))
            context, content = builder.pack(recipe, shipped)
        except builder.BuildError as exc:
            log.emit(StageFailed(app.name, "build", str(exc)))
            raise DeployError("build", str(exc)) from exc
        tag = builder.image_tag(self.project, app.name, content)
        existing = builder.existing_image(self.client, tag)
        if existing is not None:
            context.close()
            log.emit(
                StageFinished(
                    app.name, "build", f"unchanged source: reusing {tag}", timer.seconds()
                )
            )
            return existing, tag
        try:
            if recipe.buildpacks is not None:
                from pilot_tui.deploy.host import docker_env

                context.close()
                daemon = "inherit" if self.docker.local else f"unix://{self.docker.remote_socket}"
                image_id = builder.run_pack(
                    self.client,
                    recipe,
                    tag,
                    docker_env(self.docker, self.state_dir / "run"),
                    daemon,
                    log.line("build", app.name),
                    shipped,
                )
            else:
                if recipe.builder is not None:
                    context = builder.run_builder(
                        self.client,
                        recipe,
                        context,
                        log.line("build", app.name),
                        self.cancelled,
                        lambda text: log.emit(Output(app.name, "build", text, warning=True)),
                    )
                image_id = builder.build(
                    self.client, recipe, context, tag, log.line("build", app.name), self.cancelled
                )
        except builder.BuildError as exc:
            log.emit(StageFailed(app.name, "build", str(exc)))
            raise DeployError("build", str(exc)) from exc
        log.emit(StageFinished(app.name, "build", tag, timer.seconds()))
        return image_id, tag

    def _release(
        self,
        log: _RunLog,
        app: Any,
        proxy: Any,
        image_id: str,
        tag: str,
        env: dict[str, str],
        *,
        force: bool,
        note: str,
        commit: str | None = None,
    ) -> history.Release:
        name = app.name  # the caller holds the lock and has pulled the shared history
        releases = history.load(self.state_dir, name)
        fingerprint = _fingerprint(image_id, env, app.target)
        running = server_target.running_containers(self.client, self.project, name)
        current = history.live(releases)
        if (
            not force
            and current is not None
            and any(
                c.labels.get("pilot.fingerprint") == fingerprint
                and c.labels.get("pilot.release") == current.id
                for c in running
            )
        ):
            log.emit(StageStarted(name, "deploy"))
            log.emit(StageFinished(name, "deploy", f"nothing changed: {current.id} is live"))
            log.emit(Released(name, current.id, current.url or self.url(app)))
            return current
        self.check_cancel()
        release_id = history.next_id(releases)
        commit = commit if commit is not None else git_commit(self.root / app.path)
        base = history.Release(
            release_id,
            name,
            tag,
            image_id,
            history.now(),
            history.FAILED,
            commit=commit,
            url=self.url(app),
            note=note,
        )
        timer = Timer()
        log.emit(StageStarted(name, "deploy", f"{release_id} from {tag}"))
        container = None
        port = app.target.port
        base = replace(base, port=port)
        try:
            container = server_target.start(
                self.client,
                project=self.project,
                app=name,
                release=release_id,
                image=image_id,
                port=port,
                env=env,
                fingerprint=fingerprint,
            )
            server_target.wait_healthy(
                container,
                proxy,
                port,
                app.target.health_path,
                app.target.health_timeout,
                log.line("deploy", name),
                self.cancelled,
                self.settle,
            )
            server_target.make_permanent(container)
        except server_target.ReleaseError as exc:
            if container is not None:
                container.remove(force=True)
            self.record_release(log, name, replace(base, note=str(exc)))
            log.emit(StageFailed(name, "deploy", str(exc), exc.logs))
            raise DeployError("deploy", str(exc), exc.logs) from exc
        except BaseException:  # Ctrl+C or a lost connection: leave nothing half-made
            if container is not None:
                container.remove(force=True)
            self.record_release(log, name, replace(base, status=history.CANCELLED))
            raise
        log.emit(
            StageFinished(name, "deploy", f"healthy at {container.name}:{port}", timer.seconds())
        )
        timer = Timer()
        log.emit(StageStarted(name, "release", "switching the proxy"))
        # Routes are shared by every app (and project) on the host: one writer at a time.
        try:
            routes = lock.acquire(self.client, "proxy", "routes", proxy.image.id, wait=30)
        except lock.LockHeld as exc:
            container.remove(force=True)
            self.record_release(log, name, replace(base, note=str(exc)))
            log.emit(StageFailed(name, "release", str(exc)))
            raise DeployError("release", str(exc)) from exc
        try:
            server_target.swap(proxy, self.hosts(app), server_target.upstream(container, port))
        finally:
            lock.release(self.client, routes)
        live = replace(base, status=history.LIVE)
        self.record_release(log, name, live)
        time.sleep(self.drain)  # requests already on the old release finish
        server_target.retire(
            server_target.app_containers(self.client, self.project, name), keep=container.id
        )
        log.emit(StageFinished(name, "release", "previous release stopped", timer.seconds()))
        log.emit(Released(name, release_id, live.url or "", log.timer.seconds()))
        return live


def _shared_note(log: _RunLog, name: str, exc: SharedHistoryError) -> None:
    log.line("release", name)(f"warning: release history not shared: {exc}")


def _fingerprint(image_id: str, env: dict[str, str], target: Any) -> str:
    """What a running release is made of: a redeploy with the same one changes nothing."""
    # The network is part of it: a release started before apps moved to the private
    # network (host networking) is replaced by the next deploy, not kept as "unchanged".
    data = json.dumps(
        {
            "image": image_id,
            "env": sorted(env.items()),
            "target": [target.health_path, target.health_timeout, target.port],
            "network": server_target.NETWORK,
        }
    )
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def git_commit(folder: Path) -> str | None:
    """The source's git commit (with -dirty when it has uncommitted changes), if any."""
    try:
        head = capture(Command(("git", "rev-parse", "--short=12", "HEAD"), cwd=folder, timeout=10))
        if head.returncode != 0:
            return None
        dirty = capture(Command(("git", "status", "--porcelain"), cwd=folder, timeout=10))
    except RunnerError:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _redacted(event: Any) -> Any:
    """The event with its text masked (a failure's message may quote what the app printed)."""
    changes: dict[str, object] = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, str):
            changes[field.name] = redact.text(value)
        elif isinstance(value, tuple):
            changes[field.name] = tuple(redact.text(str(item)) for item in value)
    return dataclasses.replace(event, **changes)


class _RunLog:
    """Emits events and keeps them, redacted, in .pilot/logs/VERB-TIME-APP.log."""

    def __init__(self, deployer: Deployer, app: str, verb: str) -> None:
        logs = ensure_private_dir(deployer.state_dir / "logs")
        self.path = logs / f"{verb}-{time.strftime('%Y%m%d-%H%M%S')}-{app}.log"
        self.deployer = deployer
        self.timer = Timer()
        self.handle: Any = None

    def __enter__(self) -> _RunLog:
        self.handle = self.path.open("a", encoding="utf-8")
        self.path.chmod(0o600)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def emit(self, event: Any) -> None:
        event = _redacted(event)  # what the log, the terminal and the screen all get
        self.handle.write(redact.text(to_json(event)) + "\n")
        self.handle.flush()
        self.deployer.emit(event)

    def line(self, stage: str, app: str) -> Any:
        def write(text: str) -> None:
            self.emit(Output(app, stage, redact.text(text)))

        return write
