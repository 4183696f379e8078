"""Both ends of a release of a Docker host app asked for by a CI run (server_queue.py):
the run builds and pushes the image and waits for the release (request_release); the
worker pulls that image instead of building one (pull_prebuilt)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings
from pilot_tui.deploy import history, previews, server_queue, server_wait
from pilot_tui.deploy.context import DeployError, RunLog
from pilot_tui.deploy.events import StageFailed, StageFinished, StageStarted, Timer
from pilot_tui.deploy.registry import RegistryError
from pilot_tui.deploy.server_images import expire_quietly, server_images
from pilot_tui.deploy.shared_history import SharedHistoryError
from pilot_tui.errors import EXIT_FAILED, PilotError
from pilot_tui.naming import image_repository
from pilot_tui.project import PROJECT_FILE

if TYPE_CHECKING:
    from pilot_tui.deploy.context import DeployContext


@dataclass(frozen=True)
class Prebuilt:
    """An app's image built elsewhere, a CI run's, pushed to the app's own repository: a
    deploy pulls it instead of building (server_worker.py)."""

    image: str  # host/repository@sha256:...
    tag: str  # as it was tagged where it was built
    commit: str | None  # the source's commit it was built from


def _failed(
    log: RunLog, app: str, stage: str, message: str, exit_code: int = EXIT_FAILED
) -> NoReturn:
    log.emit(StageFailed(app, stage, message))
    raise DeployError(stage, message, exit_code=exit_code)


def request_release(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    queue: server_queue.Queue,
    by: str,
    *,
    force: bool = False,
    preview: str | None = None,
) -> history.Release:
    """In a CI run: ``app`` (of the Docker host) built here, pushed to its repository, and
    released by the worker, whose events are shown as they come; with ``preview`` (its
    name), ``app`` is that preview's settings (APP--NAME), pushed to the app's previews'
    repository. The release it made, or DeployError as the worker said it failed."""
    name = app.name
    owner = (previews.split(name) or (name,))[0]
    worker = _worker_for(ctx, log, app, queue)
    image, tag = _built_and_pushed(ctx, log, app)
    ctx.cancel.check()
    request = server_queue.Request(
        server_queue.new_id(preview=preview is not None),
        owner,
        image,
        tag,
        ctx.commit(app),
        by,
        (ctx.root / PROJECT_FILE).read_text(encoding="utf-8"),
        force=force,
        watch=ctx.watch,
        preview=preview,
    )
    return _made(_asked(ctx, log, name, queue, request, worker, "release it"))


def request_rollback(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    queue: server_queue.Queue,
    by: str,
    wanted: str | None,
) -> history.Release:
    """In a CI run: ``app`` (of the Docker host) rolled back by the worker to ``wanted``
    (None: the release before the live one), as a rollback from a machine does it: that
    release's image (on the server's engine), settings and secrets' version. The release
    it made, or DeployError as the worker said it failed."""
    worker = _worker_for(ctx, log, app, queue, building=False, asking="rollback")
    # Which release, chosen here from the newest history, with the live one it was chosen
    # against: the worker refuses when another went live by the time it takes the request.
    ctx.pull(log, app.name)
    try:
        releases = history.load(ctx.state_dir, app.name)
        chosen = history.rollback_candidate(releases, wanted, app.name)
    except history.HistoryError as exc:
        _failed(log, app.name, "rollback", str(exc), exc.exit_code)
    live = history.live(releases)
    request = dataclasses.replace(
        _nothing_built(ctx, app, by, server_queue.new_id(rollback=True)),
        watch=ctx.watch,
        rollback=True,
        rollback_to=chosen.id,
        live_seen=live.id if live is not None else None,
    )
    what = f"roll it back to {chosen.id}"
    return _made(_asked(ctx, log, app.name, queue, request, worker, what))


def _nothing_built(
    ctx: DeployContext, app: AppSettings, by: str, request_id: str
) -> server_queue.Request:
    """A request of ``app`` that names no image (a removal, a rollback): who asks, and the
    run's pilot.toml (which the worker does not take for these)."""
    text = (ctx.root / PROJECT_FILE).read_text(encoding="utf-8")
    return server_queue.Request(request_id, app.name, "", "", None, by, text)


def _made(outcome: server_queue.Outcome) -> history.Release:
    """The release the worker made; DeployError with its reason when it made none (its
    StageFailed came with its events: said once more as the error)."""
    made = outcome.made()
    if not outcome.ok or made is None:
        raise DeployError(
            outcome.stage or "deploy",
            outcome.message or "the worker released nothing",
            exit_code=outcome.exit_code,
        )
    return made


def request_removal(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    queue: server_queue.Queue,
    by: str,
    preview: str,
) -> list[str]:
    """In a pull request's run: the app's preview ``preview`` removed by the worker (on the
    Docker host, which the run cannot reach); what it removed. previews.NoSuchPreview when
    there is none, DeployError when the removal failed."""
    full = previews.full_name(app.name, preview)
    worker = _worker_for(ctx, log, app, queue, building=False)
    request = dataclasses.replace(
        _nothing_built(ctx, app, by, server_queue.new_id(preview=True)),
        preview=preview,
        remove=True,
    )
    outcome = _asked(ctx, log, full, queue, request, worker, "remove it")
    # Its images go whatever the worker found: one its agent removed at its TTL left them.
    images = _preview_images_deleted(ctx, log, app, preview)
    if not outcome.ok:
        if outcome.stage == NO_SUCH_PREVIEW:
            raise previews.NoSuchPreview(outcome.message)
        raise DeployError(outcome.stage or "destroy", outcome.message, exit_code=outcome.exit_code)
    return outcome.removed + images


def _preview_images_deleted(
    ctx: DeployContext, log: RunLog, app: AppSettings, preview: str
) -> list[str]:
    """The preview's images its runs pushed to the app's previews' repository, deleted
    (the worker's engine has its own copy, which it removed); a refusal is a warning."""
    images = server_images(ctx.config)
    say = log.line("destroy", previews.full_name(app.name, preview))
    try:
        deleted = images.delete_preview(ctx, app, preview)
    except Exception as exc:  # the preview itself is gone: its images are said, not fatal
        say(f"warning: its images in {images.where} were not deleted: {redact.clip(str(exc), 200)}")
        return []
    for image in deleted:
        say(f"deleted {image}")
    return deleted


NO_SUCH_PREVIEW = "no-such-preview"  # a removal's outcome stage: the preview is not there


def _asked(
    ctx: DeployContext,
    log: RunLog,
    name: str,
    queue: server_queue.Queue,
    request: server_queue.Request,
    worker: str,
    what: str,
) -> server_queue.Outcome:
    """``request`` submitted and waited for, the worker's events shown as they come; how
    it ended (DeployError, said, when it could not be asked or waited for)."""
    # (found walking: a rollback's failure was said as a deploy's)
    stage = "rollback" if request.rollback else "destroy" if request.remove else "deploy"
    try:
        queue.submit(request)
    except (server_queue.QueueError, SharedHistoryError) as exc:
        _failed(log, name, stage, f"the deploy request could not be made: {exc}")
    log.line(stage, name)(f"asked the deploy worker ({worker}) to {what}: request {request.id}")
    try:
        return server_wait.wait(queue, request.id, log.emit, ctx.cancel.is_set)
    except (server_queue.QueueError, SharedHistoryError) as exc:
        _failed(log, name, stage, str(exc))


def _worker_for(
    ctx: DeployContext,
    log: RunLog,
    app: AppSettings,
    queue: server_queue.Queue,
    *,
    building: bool = True,
    asking: str = "release",
) -> str:
    """The worker taking requests now, for a server of this runner's CPU when ``building``
    (its name), one that takes ``asking`` (server_queue.TAKES); DeployError before
    anything is built when there is none."""
    stage = "rollback" if asking == "rollback" else "deploy"
    try:
        seen = queue.worker_taking()
    except (server_queue.QueueError, SharedHistoryError) as exc:
        _failed(log, app.name, stage, str(exc))
    if asking != "release" and asking not in seen.takes:
        _failed(
            log,
            app.name,
            stage,
            f"the deploy worker {seen.worker} is of a Pilot that takes no {asking} requests: "
            "update Pilot where it runs (the worker on the Pilot Server is brought up to "
            "date by a deploy from a machine with the project's .pilot/)",
        )
    here = _architecture(ctx) if building else ""
    if seen.arch and here and seen.arch != here:  # (found reviewing: unhealthy, unsaid)
        _failed(
            log,
            app.name,
            "build",
            f"the Pilot Server's Docker engine runs on {seen.arch} and this runner's on "
            f"{here}: an image built here would not start there; run the job on a "
            f"{seen.arch} runner (GitHub's ubuntu-24.04-arm is aarch64)",
        )
    return seen.worker


def _built_and_pushed(ctx: DeployContext, log: RunLog, app: AppSettings) -> tuple[str, str]:
    """``app``'s image built on the runner's engine and pushed to its own repository:
    (the pushed image by digest, the tag it was built as)."""
    from pilot_tui.deploy.registry import push

    name = app.name
    images = server_images(ctx.config)
    try:
        images.check(ctx.config, app)
    except PilotError as exc:
        _failed(log, name, "push", str(exc))
    image_id, tag = ctx.build(log, app)
    ctx.cancel.check()
    timer = Timer()
    where = "the app's previews' repository" if previews.split(name) else "the app's repository"
    log.emit(StageStarted(name, "push", f"to {where}, for the Pilot Server"))
    try:
        registry = images.registry(ctx, app)
        pushed_as = tag.rpartition(":")[2]  # the content tag of repository:tag
        parts = previews.split(name)
        if parts is not None:  # its own tag: its removal deletes it, never the app's
            pushed_as = previews.image_tag(parts[1], pushed_as)
        image = push(ctx.docker_client, image_id, registry, pushed_as, log.line("push", name))
    except RegistryError as exc:
        _failed(log, name, "push", str(exc))
    log.emit(StageFinished(name, "push", image, timer.seconds()))
    return image, tag


def pull_prebuilt(
    ctx: DeployContext, log: RunLog, app: AppSettings, made: Prebuilt
) -> tuple[str, str]:
    """In the worker: the image a CI run pushed for ``app``, pulled from the app's own
    repository (an image anywhere else is refused) and tagged as it was built; (image id,
    tag), as a build gives."""
    name = app.name
    timer = Timer()
    log.emit(StageStarted(name, "build", "skipped: built by the CI run that asked"))
    try:
        registry = server_images(ctx.config).registry(ctx, app)
    except (RegistryError, PilotError) as exc:
        _failed(log, name, "build", f"cannot log in to the app's repository: {exc}")
    repository, _, digest = made.image.partition("@")
    if repository != registry.name or not digest.startswith("sha256:"):
        _failed(
            log,
            name,
            "build",
            f"the request's image {made.image} is not in {name}'s own repository "
            f"({registry.name}) by digest: not released",
        )
    # Tagged here only as the app's own builds are (a tag of another app's would stand for
    # its build of that content: found by the next deploy of it, and run).
    own, _, content = made.tag.rpartition(":")
    if own != image_repository(ctx.project, name) or not re.fullmatch(r"[0-9a-f]{6,64}", content):
        _failed(
            log,
            name,
            "build",
            f"the request's tag {made.tag!r} is not one of {name}'s builds "
            f"({image_repository(ctx.project, name)}:CONTENT): not released",
        )
    client = ctx.docker_client
    auth = {"username": registry.username, "password": registry.password}
    try:
        for event in client.api.pull(
            repository, tag=digest, auth_config=auth, stream=True, decode=True
        ):
            if "error" in event:
                raise RegistryError(redact.text(str(event["error"])))
        image = client.images.get(made.image)
    except Exception as exc:  # the registry refused, or the engine could not reach it
        _failed(log, name, "build", f"cannot pull {made.image}: {redact.clip(str(exc), 300)}")
    image.tag(own, content)  # as a build here names it: found, kept and pruned alike
    expire_quietly(ctx, name, log.line("build", name))
    log.emit(StageFinished(name, "build", f"pulled {made.image}", timer.seconds()))
    return str(image.id), made.tag


def _architecture(ctx: DeployContext) -> str:
    """The CPU architecture of the engine images are built on ("" when it does not say)."""
    try:
        return str(ctx.docker_client.info().get("Architecture") or "")
    except Exception:  # not said: not checked
        return ""
