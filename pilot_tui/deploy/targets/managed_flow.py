"""Deploys and rollbacks to managed container targets (Lambda, ECS on Fargate, Cloud Run),
reported through the engine's run log with the same stages as the Pilot Server:

- build: the image on the Pilot Server's Docker, or in a CI run the runner's own
  (host.runner_engine); a zip of the folder for a zip Lambda;
- push: to the target's registry (ECR, Artifact Registry), logged in by Pilot;
- deploy: a new revision on the target, serving once it is ready;
- release: the history records it with the target's revision, for rollbacks.

The image is built by whoever's Docker host the project names, and the registry token is
fetched here: a server on GCP deploys to Lambda (and one on AWS to Cloud Run) alike.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, NoReturn, Protocol, cast

from pilot_tui import redact
from pilot_tui.config import schema
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy import addresses, history, lock
from pilot_tui.deploy.context import (
    NEVER,
    Cancelled,
    Context,
    DeployContext,
    DeployError,
    RunLog,
    Say,
)
from pilot_tui.deploy.events import (
    Output,
    Released,
    StageFailed,
    StageFinished,
    StageStarted,
    Timer,
    release_note,
)
from pilot_tui.deploy.registry import (
    Registry,
    RegistryError,
    push,
)
from pilot_tui.deploy.targets.base import reverted, watching
from pilot_tui.deploy.targets.managed import (
    ManagedTarget,
    Probe,
    Revision,
    TargetError,
)
from pilot_tui.errors import PilotError
from pilot_tui.wording import size

if TYPE_CHECKING:
    from pilot_tui.deploy.targets.lambda_.function import LambdaFunction


class Platform(Protocol):
    """What the flow asks of a managed container kind (container.ManagedContainer)."""

    app: AppSettings

    def open(self, ctx: Context) -> ManagedTarget: ...

    def registry(self, ctx: Context) -> Registry: ...

    def check_registry(self, config: PilotConfig) -> None: ...

    def push_tag(self, tag: str) -> str: ...

    def adapt_image(
        self, ctx: DeployContext, log: RunLog, image_id: str, tag: str
    ) -> tuple[str, str]: ...

    def needs_docker(self) -> bool: ...

    def environment(self, ctx: DeployContext, log: RunLog) -> dict[str, str]: ...


def fingerprint(code: str, env: dict[str, str], target: schema.Target) -> str:
    """What a revision is made of (code, environment, settings): an equal one is a no-op.
    The watch's settings are Pilot's, not the revision's: left out."""
    from pilot_tui.deploy.targets import managed_watch

    made_with = managed_watch.without_watch(target)
    data = json.dumps({"code": code, "env": sorted(env.items()), "target": repr(made_with)})
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()[:24]


class StageError(PilotError):
    """A step of a managed deploy failed in ``stage`` (reported as that stage's failure)."""

    title = "Not deployed"

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


def deploy_managed(
    kind: Platform, ctx: DeployContext, log: RunLog, *, force: bool = False
) -> history.Release:
    """Build, push, deploy and release the app; raises DeployError naming the stage."""
    app = kind.app
    name = app.name
    env = kind.environment(ctx, log)
    stage = "deploy"
    try:
        target = _open(kind, ctx, log)
        if not kind.needs_docker():  # a zip Lambda: no image to build
            # Only a zip Lambda needs no Docker: its platform is a LambdaFunction.
            return _deploy_zip(ctx, log, app, cast("LambdaFunction", target), env, force)
        kind.check_registry(ctx.config)
        image_id, tag = ctx.build(log, app)  # raises DeployError itself
        image_id, tag = kind.adapt_image(ctx, log, image_id, tag)
        held = _lock(ctx, name, image_id)
        try:
            ctx.pull(log, name)  # a teammate may have released since
            stage = "push"
            reference = _push(kind, ctx, log, image_id, tag)
            ctx.cancel.check()
            made_of = fingerprint(reference, env, app.target)
            current = history.live(history.load(ctx.state_dir, name))
            if not force and current is not None and current.image_id == made_of:
                return _unchanged(log, app, current)
            stage = "deploy"
            return _release_new(
                ctx,
                log,
                (app, target, current),
                (reference, made_of),
                env,
                lambda release_id, say: target.deploy(reference, env, release_id, say),
            )
        finally:
            lock.release(ctx.docker_client, held)
    except (TargetError, RegistryError, StageError) as exc:
        stage = getattr(exc, "stage", stage)
        log.emit(StageFailed(name, stage, str(exc)))
        raise DeployError(stage, str(exc)) from exc
    except lock.LockHeld as exc:
        raise DeployError("lock", str(exc)) from exc


def _open(kind: Platform, ctx: DeployContext, log: RunLog) -> ManagedTarget:
    """The kind's platform, the sandbox's emulators started first when they hold it."""
    if ctx.config.server.home == "sandbox":
        from pilot_tui.cloud.sandbox import SandboxError, start_for_deploy

        try:
            start_for_deploy(ctx.state_dir, log.line("deploy", kind.app.name))
        except SandboxError as exc:
            raise TargetError(str(exc)) from exc
    return kind.open(ctx)


def _push(kind: Platform, ctx: DeployContext, log: RunLog, image_id: str, tag: str) -> str:
    """push: the image to the kind's registry; its reference there."""
    name = kind.app.name
    timer = Timer()
    log.emit(StageStarted(name, "push"))
    registry = kind.registry(ctx)
    reference = push(
        ctx.docker_client, image_id, registry, kind.push_tag(tag), log.line("push", name)
    )
    log.emit(StageFinished(name, "push", reference, timer.seconds()))
    return reference


def _release_new(
    ctx: DeployContext,
    log: RunLog,
    where: tuple[AppSettings, ManagedTarget, history.Release | None],
    made: tuple[str, str],
    env: dict[str, str],
    work: Callable[[str, Say], Revision],
) -> history.Release:
    """deploy and release a new revision: ``where`` is (the app, its platform, the live
    release), ``made`` (what it runs: the image or zip, its fingerprint), ``env`` its
    environment; ``work`` makes the revision (the release's id, a line sink)."""
    from pilot_tui.deploy import secret_versions
    from pilot_tui.deploy.release_contents import settings_record

    app, target, current = where
    image, made_of = made
    attempt = history.Release(
        history.next_id(history.load(ctx.state_dir, app.name)),
        app.name,
        image,
        made_of,
        history.now(),
        history.FAILED,
        commit=ctx.commit(app),
        # What its revision was made with: the platform keeps the revision itself (a
        # Lambda version, a Cloud Run revision), so a rollback to it runs them again.
        settings=settings_record(app),
        secrets_version=secret_versions.keep_of(ctx.state_dir, app.name, app.secrets, env),
    )
    revision = _attempt(ctx, log, app, target, attempt, current, lambda say: work(attempt.id, say))
    return _record(
        ctx,
        log,
        app,
        replace(attempt, status=history.LIVE, url=revision.url, revision=revision.ref),
        watched=(target, current),
    )


def rollback_managed(
    kind: Platform, ctx: DeployContext, log: RunLog, wanted: str | None
) -> history.Release:
    """Move traffic back to an earlier release's revision: no build, no push."""
    app = kind.app
    name = app.name
    try:
        ctx.pull(log, name)
        releases = history.load(ctx.state_dir, name)
        earlier = history.rollback_candidate(releases, wanted, name)
        if not earlier.revision:
            raise history.HistoryError(
                f"{earlier.id} has no revision recorded on "
                f"{app.target.kind}; redeploy that commit instead"
            )
        target = kind.open(ctx)
        log.emit(StageStarted(name, "build", f"skipped: rolling back to {earlier.id}"))
        log.emit(StageFinished(name, "build", f"reusing revision {earlier.revision}"))
        revision = _deploy(log, app, lambda say: target.activate(str(earlier.revision), say))
        return _record(
            ctx,
            log,
            app,
            replace(
                earlier,
                id=history.next_id(releases),
                created=history.now(),
                status=history.LIVE,
                url=revision.url,
                note=f"rollback to {earlier.id}",
                by=None,  # who rolls back, not who made it
            ),
        )
    except (TargetError, history.HistoryError) as exc:
        # (found walking: "release failed" of a rollback with nothing to go back to)
        stage = "rollback" if isinstance(exc, history.HistoryError) else "release"
        log.emit(StageFailed(name, stage, str(exc)))
        raise DeployError(stage, str(exc), exit_code=exc.exit_code) from exc


def _deploy_zip(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    target: LambdaFunction,
    env: dict[str, str],
    force: bool,
) -> history.Release:
    """A zip Lambda: no Docker, no registry. Lambda's RevisionId guards concurrent deploys."""
    data, sha = _zip(ctx, log, app)
    name = app.name
    ctx.pull(log, name)
    log.emit(StageStarted(name, "push"))
    log.emit(StageFinished(name, "push", "the zip goes up with the function: no registry"))
    made_of = fingerprint(sha, env, app.target)
    current = history.live(history.load(ctx.state_dir, name))
    if (
        not force
        and current is not None
        and current.image_id == made_of
        and target.unchanged({"ZipFile": data}, env) == current.revision
    ):
        return _unchanged(log, app, current)
    ctx.cancel.check()
    return _release_new(
        ctx,
        log,
        (app, target, current),
        (f"zip:{sha}", made_of),
        env,
        lambda release_id, say: target.deploy_code({"ZipFile": data}, env, release_id, say),
    )


def _zip(ctx: DeployContext, log: RunLog, app: AppSettings) -> tuple[bytes, str]:
    """build: the zip of the app's folder (what may ship of it); (its bytes, its sha256)."""
    from pilot_tui.deploy.build.shippable import private_paths
    from pilot_tui.deploy.targets.lambda_.function import code_sha256, zip_files, zip_folder

    name = app.name
    timer = Timer()
    folder = (ctx.root / app.path).resolve()
    log.emit(StageStarted(name, "build", f"zipping {folder}"))
    if not folder.is_dir():
        raise StageError("build", f"app {name!r}: {folder} does not exist (apps.{name}.path)")
    shipped = zip_files(folder, private_paths(ctx.root, ctx.config))
    for skipped in shipped.skipped:
        log.emit(Output(name, "build", skipped.message(), warning=True))
    data = zip_folder(folder, shipped)
    sha = code_sha256(data)
    log.emit(
        StageFinished(name, "build", f"{size(len(data))} zip, sha256 {sha[:12]}", timer.seconds())
    )
    return data, sha


def _attempt(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    target: ManagedTarget,
    attempt: history.Release,
    current: history.Release | None,
    work: Callable[[Say], Revision],
) -> Revision:
    """Run the deploy stage; a failure or a cancel is recorded (as on the Pilot Server),
    and a cancel sends traffic back to the live revision, so what was live stays live."""
    target.cancel = ctx.cancel  # long waits (ECS rollouts) stop on Cancel
    try:
        return _deploy(log, app, work)
    except Cancelled:
        # Traffic back first: a record that cannot be shared (a CI run) must not keep it.
        if current is not None and current.revision:
            target.cancel = NEVER  # putting it back must not be cancelled
            target.activate(current.revision, log.line("deploy", app.name), wait=False)
        ctx.record_release(log, app.name, replace(attempt, status=history.CANCELLED))
        raise
    except TargetError as exc:
        ctx.record_release(log, app.name, replace(attempt, note=redact.clip(str(exc), 300)))
        raise


def _lock(ctx: DeployContext, name: str, image_id: str) -> lock.Lock:
    return lock.acquire(ctx.docker_client, ctx.project, name, image_id, wait=ctx.lock_wait)


def _deploy(log: RunLog, app: AppSettings, work: Callable[[Say], Revision]) -> Revision:
    timer = Timer()
    log.emit(StageStarted(app.name, "deploy", app.target.kind))
    revision: Revision = work(log.line("deploy", app.name))
    log.emit(StageFinished(app.name, "deploy", revision.detail, timer.seconds()))
    return revision


def _unchanged(log: RunLog, app: AppSettings, current: history.Release) -> history.Release:
    log.emit(StageStarted(app.name, "deploy"))
    log.emit(
        StageFinished(
            app.name,
            "deploy",
            f"nothing changed: {current.id} is live (revision {current.revision})",
        )
    )
    log.emit(
        Released(app.name, current.id, current.url or "", simulated=current.simulated_url or "")
    )
    return current


def _record(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    release: history.Release,
    *,
    watched: tuple[ManagedTarget, history.Release | None] | None = None,
) -> history.Release:
    """release: record ``release`` live; with ``watched`` (the platform, the release that
    was live), a new one is watched first and a bad one reverted (DeployError)."""
    timer = Timer()
    log.emit(StageStarted(app.name, "release"))
    release = addresses.placed(ctx.config, release)
    if release.simulated_url:
        log.line("release", app.name)(
            f"the sandbox's cloud is simulated on this machine: {release.simulated_url} is "
            "where a real deploy would answer; nothing answers there"
        )
    ctx.record_release(log, app.name, release)
    if watched is not None:
        _watch(ctx, log, app, release, *watched)
        # What the watch needed goes once it kept the release (Cloud Run: the previous
        # revision's own address); a kind with nothing to undo has no such method.
        over = getattr(watched[0], "watch_over", None)
        if over is not None:
            said = log.line("release", app.name)
            try:
                over(said)
            except Exception as exc:  # the release is live and kept: said, never a failure
                said(f"warning: {redact.clip(str(exc), 200)}")
    log.emit(
        StageFinished(
            app.name, "release", f"{release.id} is revision {release.revision}", timer.seconds()
        )
    )
    log.emit(
        Released(
            app.name,
            release.id,
            release.url or "",
            log.timer.seconds(),
            release.simulated_url or "",
            release_note(release.note),
        )
    )
    return release


def _watch(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    release: history.Release,
    target: ManagedTarget,
    before: history.Release | None,
) -> None:
    """Watch the new live ``release`` (managed_watch.py) when there is a release to go back
    to, the deploy watches and the kind is watched with target.watch > 0; a bad one is
    reverted to ``before``: DeployError saying so."""
    from pilot_tui.deploy.targets import managed_watch

    watched = managed_watch.settings_of(app.target)
    if before is None or not before.revision or not ctx.watch or watched is None:
        return
    seconds, failures, path = watched
    if seconds <= 0:
        return
    line = log.line("release", app.name)
    if before.revision == release.revision:  # (Lambda hands back an unchanged version)
        line(
            f"not watched: it runs {before.id}'s revision {before.revision}, nothing to go back to"
        )
        return
    # The previous revision must pass the same look, or the look says nothing of the new one.
    baseline = target.probe(path, before.revision)
    if baseline is None:
        line("not watched: its health cannot be asked (nothing answers here, or no task runs)")
        return
    if baseline.never:  # it waited out the whole watch, all its looks unmade (found walking)
        line(f"not watched: no look can be made here ({baseline.detail})")
        return
    if baseline.healthy is False:
        line(
            f"not watched: {before.id} does not pass {path} either ({baseline.detail}); "
            "set target.health_path to a path the app answers 2xx"
        )
        return
    line(
        f"watching the new release for {seconds} s: {path} asked every "
        f"{managed_watch.INTERVAL:g} s ({before.id}'s revision is kept; stopping the deploy "
        "(Ctrl+C, or Esc in the app) stops watching and keeps the new one)"
    )
    started = time.time()
    why = watching(
        ctx,
        lambda: managed_watch.watch(
            lambda: target.probe(path) or Probe(None, "no look"),
            seconds,
            failures,
            line,
            ctx.cancel.is_set,
        ),
        line,  # the watch says a Cancel's stop itself, not an interrupt's
    )
    if why is not None:
        _revert(ctx, log, app, target, (release, before), why, started)


def _revert(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    target: ManagedTarget,
    releases: tuple[history.Release, history.Release],
    why: str,
    since: float,
) -> NoReturn:
    """Traffic back to the good release's revision, unless someone released meanwhile
    (a zip Lambda has no deploy lock: a teammate's or a CI run's release is never undone);
    the bad one recorded reverted, with why. Raises DeployError saying what happened, with
    the bad one's log lines since ``since``."""
    bad, good = releases
    name = app.name
    ctx.pull(log, name)  # what the others released meanwhile
    live = history.live(history.load(ctx.state_dir, name))
    serving = target.serving()
    if (live is not None and live.id != bad.id) or serving not in (None, bad.revision):
        now = live.id if live is not None and live.id != bad.id else f"revision {serving}"
        message = (
            f"{bad.id} went bad ({why}), but {name} was released again meanwhile ({now} is "
            f"live): nothing was put back"
        )
        log.emit(StageFailed(name, "release", message))
        raise DeployError("release", message)
    target.cancel = NEVER  # putting the good one back must not be cancelled
    try:
        target.activate(str(good.revision), log.line("release", name))
    except Exception as exc:  # TargetError, or the cloud's own: the bad one stays live
        said = str(exc) if isinstance(exc, PilotError) else type(exc).__name__
        message = (
            f"{bad.id} went bad ({why}), and {good.id} could not be put back "
            f"({redact.clip(said, 200)}): {bad.id} is still live; roll back to an earlier release "
            f"(pilot-tui rollback {name} RELEASE) or deploy a good commit"
        )
        log.emit(StageFailed(name, "release", message))
        raise DeployError("release", message) from exc
    reverted(ctx, log, name, releases, why, _tail(target, since))


def _tail(target: ManagedTarget, since: float, lines: int = 20) -> tuple[str, ...]:
    """The app's last log lines since ``since``, redacted ((): none could be read)."""

    try:
        found = list(target.logs(since=since, limit=500))
    except Exception:  # the platform's logs are a help here, never the failure
        return ()
    return tuple(redact.text(line.text) for line in found[-lines:])
