"""Deploys and rollbacks to managed container targets (Lambda, ECS on Fargate, Cloud Run),
reported through the engine's run log with the same stages as the Pilot Server:

- build: the image on the Pilot Server's Docker (a zip of the folder for a zip Lambda);
- push: to the target's registry (ECR, Artifact Registry), logged in by Pilot;
- deploy: a new revision on the target, serving once it is ready;
- release: the history records it with the target's revision, for rollbacks.

The image is built by whoever's Docker host the project names, and the registry token is
fetched here: a server on GCP deploys to Lambda (and one on AWS to Cloud Run) alike.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from typing import Any

from pilot_tui.deploy import addresses, history, lock
from pilot_tui.deploy.events import (
    Output,
    Released,
    StageFailed,
    StageFinished,
    StageStarted,
    Timer,
)
from pilot_tui.deploy.registry import (
    REGISTRY_OVERRIDE,
    Registry,
    RegistryError,
    ecr_registry,
    push,
)
from pilot_tui.deploy.targets.managed import ManagedTarget, Revision, TargetError, open_target


def is_zip_lambda(app: Any) -> bool:
    return bool(app.target.kind == "lambda" and app.target.package == "zip")


def fingerprint(code: str, env: dict[str, str], target: Any) -> str:
    """What a revision is made of (code, environment, settings): an equal one is a no-op."""
    data = json.dumps({"code": code, "env": sorted(env.items()), "target": repr(target)})
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()[:24]


def registry_for(engine: Any, app: Any) -> Registry:
    """The app's repository on its target's registry, with a fresh login."""
    from pilot_tui.deploy.targets.managed import aws_clients, resource_name

    name = resource_name(engine.project, app.name)
    if app.target.kind == "cloud-run":
        from pilot_tui.deploy import artifact_registry

        return artifact_registry.registry_for(engine.config, engine.root, app)
    return ecr_registry(aws_clients(engine.config, engine.state_dir)("ecr"), name, engine.project)


def refuse_unreachable_registry(config: Any, app: Any) -> None:
    """In the sandbox, moto's ECR answers with a registry host that does not resolve, so an
    image could be built but never pushed: say so before the build (as Cloud Run is refused
    when its target opens), unless PILOT_REGISTRY names a local registry to push to."""
    if (
        config.server.home != "sandbox"
        or os.environ.get(REGISTRY_OVERRIDE)
        or app.target.kind not in ("ecs", "lambda")
        or is_zip_lambda(app)
    ):
        return
    raise TargetError(
        f"app {app.name!r}: {app.target.kind} needs its image pushed to ECR, and the sandbox "
        "has no container registry (its simulated ECR names a host that does not resolve): "
        f"set {REGISTRY_OVERRIDE}=HOST:PORT to a registry on this machine (e.g. Debian's "
        "docker-registry on 127.0.0.1:5000)"
        + (', use target.package = "zip"' if app.target.kind == "lambda" else "")
        + ', or deploy it from a project on AWS (server.home = "aws")'
    )


class _Failure(Exception):
    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


def deploy_managed(engine: Any, log: Any, app: Any, *, force: bool = False) -> history.Release:
    """Build, push, deploy and release ``app``; raises engine.DeployError naming the stage."""
    from pilot_tui.deploy.engine import DeployError, git_commit

    name = app.name
    env = engine._environment(app)
    stage = "deploy"
    try:
        if engine.config.server.home == "sandbox":
            from pilot_tui.sandbox import SandboxError, start_for_deploy

            try:
                start_for_deploy(engine.state_dir, log.line("deploy", name))
            except SandboxError as exc:
                raise TargetError(str(exc)) from exc
        target = open_target(engine.config, engine.state_dir, engine.root, app)
        if is_zip_lambda(app):
            return _deploy_zip(engine, log, app, target, env, force)
        refuse_unreachable_registry(engine.config, app)
        image_id, tag = engine._build(log, app)  # raises DeployError itself
        if app.target.kind == "lambda":
            image_id, tag = _with_adapter(engine, log, app, tag)
        held = _lock(engine, name, image_id)
        try:
            engine._pull(log, name)  # a teammate may have released since
            stage, timer = "push", Timer()
            log.emit(StageStarted(name, "push"))
            registry = registry_for(engine, app)
            reference = push(
                engine.client, image_id, registry, tag.rpartition(":")[2], log.line("push", name)
            )
            log.emit(StageFinished(name, "push", reference, timer.seconds()))
            engine.check_cancel()
            made_of = fingerprint(reference, env, app.target)
            current = history.live(history.load(engine.state_dir, name))
            if not force and current is not None and current.image_id == made_of:
                return _unchanged(log, app, current)
            stage = "deploy"
            attempt = history.Release(
                history.next_id(history.load(engine.state_dir, name)),
                name,
                reference,
                made_of,
                history.now(),
                history.FAILED,
                commit=git_commit(engine.root / app.path),
            )
            revision = _attempt(
                engine,
                log,
                app,
                target,
                attempt,
                current,
                lambda say: target.deploy(reference, env, attempt.id, say),
            )
            return _record(
                engine,
                log,
                app,
                replace(attempt, status=history.LIVE, url=revision.url, revision=revision.ref),
            )
        finally:
            lock.release(engine.client, held)
    except (TargetError, RegistryError, _Failure) as exc:
        stage = getattr(exc, "stage", stage)
        log.emit(StageFailed(name, stage, str(exc)))
        raise DeployError(stage, str(exc)) from exc
    except lock.LockHeld as exc:
        raise DeployError("lock", str(exc)) from exc


def rollback_managed(engine: Any, log: Any, app: Any, wanted: str | None) -> history.Release:
    """Move traffic back to an earlier release's revision: no build, no push."""
    from pilot_tui.deploy.engine import DeployError

    name = app.name
    try:
        engine._pull(log, name)
        releases = history.load(engine.state_dir, name)
        earlier = history.rollback_candidate(releases, wanted)
        if not earlier.revision:
            raise history.HistoryError(
                f"{earlier.id} has no revision recorded on "
                f"{app.target.kind}; redeploy that commit instead"
            )
        target = open_target(engine.config, engine.state_dir, engine.root, app)
        log.emit(StageStarted(name, "build", f"skipped: rolling back to {earlier.id}"))
        log.emit(StageFinished(name, "build", f"reusing revision {earlier.revision}"))
        revision = _deploy(log, app, lambda say: target.activate(str(earlier.revision), say))
        return _record(
            engine,
            log,
            app,
            replace(
                earlier,
                id=history.next_id(releases),
                created=history.now(),
                status=history.LIVE,
                url=revision.url,
                note=f"rollback to {earlier.id}",
            ),
        )
    except (TargetError, history.HistoryError) as exc:
        log.emit(StageFailed(name, "release", str(exc)))
        raise DeployError("release", str(exc)) from exc


def _deploy_zip(
    engine: Any, log: Any, app: Any, target: Any, env: dict[str, str], force: bool
) -> history.Release:
    """A zip Lambda: no Docker, no registry. Lambda's RevisionId guards concurrent deploys."""
    from pilot_tui.deploy.engine import git_commit
    from pilot_tui.deploy.shippable import private_paths
    from pilot_tui.deploy.targets.lambda_.function import code_sha256, zip_files, zip_folder

    name = app.name
    timer = Timer()
    folder = (engine.root / app.path).resolve()
    log.emit(StageStarted(name, "build", f"zipping {folder}"))
    if not folder.is_dir():
        raise _Failure("build", f"app {name!r}: {folder} does not exist (apps.{name}.path)")
    shipped = zip_files(folder, private_paths(engine.root, engine.config))
    for skipped in shipped.skipped:
        log.emit(Output(name, "build", skipped.message(), warning=True))
    data = zip_folder(folder, shipped)
    sha = code_sha256(data)
    log.emit(
        StageFinished(
            name, "build", f"{len(data) / 1e3:.1f} kB zip, sha256 {sha[:12]}", timer.seconds()
        )
    )
    engine._pull(log, name)
    log.emit(StageStarted(name, "push"))
    log.emit(StageFinished(name, "push", "the zip goes up with the function: no registry"))
    made_of = fingerprint(sha, env, app.target)
    current = history.live(history.load(engine.state_dir, name))
    if (
        not force
        and current is not None
        and current.image_id == made_of
        and target.unchanged({"ZipFile": data}, env) == current.revision
    ):
        return _unchanged(log, app, current)
    engine.check_cancel()
    release_id = history.next_id(history.load(engine.state_dir, name))
    attempt = history.Release(
        release_id,
        name,
        f"zip:{sha}",
        made_of,
        history.now(),
        history.FAILED,
        commit=git_commit(engine.root / app.path),
    )
    revision = _attempt(
        engine,
        log,
        app,
        target,
        attempt,
        current,
        lambda say: target.deploy_code({"ZipFile": data}, env, release_id, say),
    )
    return _record(
        engine,
        log,
        app,
        replace(attempt, status=history.LIVE, url=revision.url, revision=revision.ref),
    )


def _attempt(
    engine: Any,
    log: Any,
    app: Any,
    target: Any,
    attempt: history.Release,
    current: history.Release | None,
    work: Any,
) -> Revision:
    """Run the deploy stage; a failure or a cancel is recorded (as on the Pilot Server),
    and a cancel sends traffic back to the live revision, so what was live stays live."""
    from pilot_tui.deploy.targets.docker_host.containers import Cancelled

    if hasattr(target, "cancelled"):
        target.cancelled = engine.cancelled  # long waits (ECS rollouts) stop on Cancel
    try:
        return _deploy(log, app, work)
    except Cancelled:
        engine.record_release(log, app.name, replace(attempt, status=history.CANCELLED))
        if current is not None and current.revision:
            if hasattr(target, "cancelled"):
                target.cancelled = lambda: False  # putting it back must not be cancelled
            target.activate(current.revision, log.line("deploy", app.name), wait=False)
        raise
    except TargetError as exc:
        engine.record_release(log, app.name, replace(attempt, note=str(exc)[:300]))
        raise


def _with_adapter(engine: Any, log: Any, app: Any, tag: str) -> tuple[str, str]:
    from pilot_tui.deploy.targets.lambda_.image import wrap

    wrapped = f"{tag}-lambda"
    try:
        image_id = wrap(
            engine.client,
            tag,
            app.target.port,
            wrapped,
            log.line("build", app.name),
            engine.cancelled,
        )
    except Exception as exc:  # BuildError, or the adapter image cannot be pulled
        raise _Failure("build", f"adding the Lambda Web Adapter: {exc}") from exc
    return image_id, wrapped


def _lock(engine: Any, name: str, image_id: str) -> lock.Lock:
    return lock.acquire(engine.client, engine.project, name, image_id, wait=engine.lock_wait)


def _deploy(log: Any, app: Any, work: Any) -> Revision:
    timer = Timer()
    log.emit(StageStarted(app.name, "deploy", app.target.kind))
    revision: Revision = work(log.line("deploy", app.name))
    log.emit(StageFinished(app.name, "deploy", revision.detail, timer.seconds()))
    return revision


def _unchanged(log: Any, app: Any, current: history.Release) -> history.Release:
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


def _record(engine: Any, log: Any, app: Any, release: history.Release) -> history.Release:
    timer = Timer()
    log.emit(StageStarted(app.name, "release"))
    release = addresses.placed(engine.config, engine.state_dir, app, release)
    if release.simulated_url:
        log.line("release", app.name)(
            f"the sandbox's cloud is simulated on this machine: {release.simulated_url} is "
            "where a real deploy would answer; nothing answers there"
        )
    engine.record_release(log, app.name, release)
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
        )
    )
    return release


__all__ = ["ManagedTarget", "deploy_managed", "is_zip_lambda", "rollback_managed"]
