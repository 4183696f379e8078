"""A deploy, start to finish: lock -> build -> push -> deploy -> release -> record.

UI-free: it reports through ``emit`` (typed events) and raises DeployError with the stage
and the reason. The CLI and the TUI's deploy viewer both drive it; one run log per deploy
goes to .pilot/logs/deploy-TIME-APP.log as JSON lines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pilot_tui import redact
from pilot_tui.config.schema import AppSettings, PilotConfig
from pilot_tui.deploy import (
    history,
    notify,
    previews,
    secrets,
    server_queue,
    server_requests,
    shared_lease,
    worker_install,
)
from pilot_tui.deploy.build import images, packing
from pilot_tui.deploy.build.recipe import BuildError, recipe_for
from pilot_tui.deploy.build.shippable import private_paths
from pilot_tui.deploy.context import (
    Cancelled,
    CancelToken,
    DeployError,
    RunLog,
    Say,
    git_commit,
)
from pilot_tui.deploy.events import (
    Emit,
    Event,
    Output,
    StageFailed,
    StageFinished,
    StageStarted,
    Timer,
    redacted,
    to_json,
)
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.deploy.server_requests import Prebuilt
from pilot_tui.deploy.shared_history import SharedHistory, SharedHistoryError
from pilot_tui.deploy.targets import Target, target_for
from pilot_tui.deploy.targets.docker_host import containers
from pilot_tui.errors import EXIT_INVALID, PilotError
from pilot_tui.fsutil import ensure_private_dir
from pilot_tui.naming import image_labels
from pilot_tui.wording import counted

if TYPE_CHECKING:
    from docker import DockerClient

    from pilot_tui.deploy.server_queue import Queue

# Re-exported: what the CLI, the screens and the tests catch and call by these names.
__all__ = ["Cancelled", "DeployError", "Deployer", "Prebuilt", "git_commit", "needs_docker"]


def preview_name(config: PilotConfig, app: AppSettings, wanted: str) -> str:
    """The name of ``app``'s preview ``wanted`` (a branch, say): the same for a deploy,
    a destroy and a lock; PreviewError when the app can have none of that name. From
    pilot.toml alone: the CLI asks before it reaches any host."""
    # A host name APP--NAME only where the preview is reached by one (the edge's).
    why = previews.two_letter(app.name) if target_for(app).on_docker_host else None
    if why is not None:
        raise previews.PreviewError(why)
    return previews.slug(wanted, preview_room(config, app))


def preview_room(config: PilotConfig, app: AppSettings) -> int:
    """How long ``app``'s previews' names may be: the names every preview has and its
    kind's own (a Cloud Run service's); PreviewError when that leaves too little. One
    answer for a deploy and for the app's preview-name question."""
    own = target_for(app).preview_name_limits(config.project.name)
    return previews.name_room(config.project.name, app, config.databases, own)


def needs_docker(app: AppSettings) -> bool:
    """Whether deploying ``app`` talks to the Docker host (static sites on managed targets
    go straight to their bucket unless a build command must run first, and a zip Lambda
    to the function)."""
    return target_for(app).needs_docker()


@dataclass
class Deployer:
    """Everything one deploy needs; the client is an open docker SDK client. It is the
    DeployContext (context.py) every target gets."""

    client: DockerClient | None  # None when only static sites on managed targets are deployed
    target: DockerTarget | None
    config: PilotConfig
    state_dir: Path
    root: Path
    emit: Emit
    lock_wait: float = 0.0
    drain: float = containers.DRAIN_SECONDS
    settle: float = containers.SETTLE_SECONDS  # a healthy new release must stay up this long
    watch: bool = True  # watch a new live release (target.watch seconds); --no-watch: not
    cancel: CancelToken = field(default_factory=CancelToken)  # the TUI's Cancel sets it
    shared: SharedHistory | None = None  # the state bucket's copy of the history
    # A CI run's .pilot/ goes with its job: there the shared history is not optional, and
    # what cannot be read or written fails the deploy instead of a warning.
    shared_required: bool = False
    # In a CI run: the state bucket's deploy requests, through which the apps of the Docker
    # host (which the runner cannot reach) are released by the server's worker.
    queue: Queue | None = None
    # In the worker: the images CI runs built, by app, and who asked for the release.
    prebuilt: dict[str, Prebuilt] = field(default_factory=dict)
    requested_by: str | None = None
    # False in the worker: secrets from .pilot/secrets only, never its own environment
    # (its cloud keys are no app's, whatever names a commit's pilot.toml lists).
    secrets_from_env: bool = True
    # pilot.toml itself, as found (the CI worker on the Pilot Server gets a copy of it).
    project_file: Path | None = None

    @property
    def docker(self) -> DockerTarget:
        if self.target is None:
            raise DeployError("deploy", "this deploy needs the Docker host, which was not opened")
        return self.target

    @property
    def docker_client(self) -> DockerClient:
        if self.client is None:
            raise DeployError("deploy", "this deploy needs the Docker host, which was not opened")
        return self.client

    @property
    def project(self) -> str:
        return str(self.config.project.name)

    def app(self, name: str) -> AppSettings:
        app = self.config.app(name)
        if app is None:
            raise DeployError("deploy", self.config.no_app(name), exit_code=EXIT_INVALID)
        return app

    # -- the run: the app's target does it, reporting through the run log ---------------
    def deploy(self, name: str, *, force: bool = False) -> history.Release:
        app = self.app(name)
        target = target_for(app)
        if self.queue is not None and target.on_docker_host:
            # The worker takes the lease and records the release: never held here too.
            with _RunLog(self, name, "deploy") as log:
                return server_requests.request_release(
                    self, log, app, self.queue, self.by, force=force
                )
        with _RunLog(self, name, "deploy") as log:
            with self._leased(log, name, "deploy"):
                records = _records(self.state_dir, name)
                before, known = history.live(records), {r.id for r in records}
                try:
                    release = target.deploy(self, log, force=force)
                except DeployError as exc:
                    event = notify.REVERTED if exc.stage == "watch" else notify.FAILED
                    self._notify(log, name, event, str(exc), _made(self.state_dir, name, known))
                    raise
                if before is None or release.id != before.id:  # "nothing changed": unsaid
                    self._notify(log, name, notify.DEPLOYED, "", release)
            if target.on_docker_host:  # (its lease given back: it may wait)
                worker_install.refresh(self, log.line("release", name))
            return release

    def newest_live(self, name: str) -> history.Release | None:
        """``name``'s live release by the newest history: the shared one pulled first when
        there is one (a teammate's release may be the live one), this machine's copy when
        it cannot be reached."""
        if self.shared is not None:
            with contextlib.suppress(PilotError):
                self.shared.pull(self.state_dir, name)
        return history.live_release(self.state_dir, name)

    def rollback(self, name: str, wanted: str | None = None) -> history.Release:
        app = self.app(name)
        if self.queue is not None and target_for(app).on_docker_host:
            # A CI run: the server's worker rolls it back (and notifies), under its lease.
            with _RunLog(self, name, "rollback") as log:
                return server_requests.request_rollback(self, log, app, self.queue, self.by, wanted)
        with _RunLog(self, name, "rollback") as log, self._leased(log, name, "rollback"):
            try:
                release = target_for(app).rollback(self, log, wanted)
            except DeployError as exc:
                self._notify(log, name, notify.FAILED, f"rollback: {exc}", None)
                raise
            self._notify(log, name, notify.ROLLED_BACK, release.note, release)
            return release

    # -- previews: copies of an app from a branch (previews.py) --------------------------
    def deploy_preview(
        self, name: str, wanted: str, *, now: float | None = None
    ) -> history.Release:
        """Deploy the app's source as its preview ``wanted`` (a branch name, made a preview
        name), after removing the app's expired previews; refused past ``previews.max``.
        ``now``: the clock (seconds since the epoch), for the TTL."""
        app = self.app(name)
        target = target_for(app)
        moment = time.time() if now is None else now
        try:
            made = previews.Preview(
                app.name, self.preview_name(app, wanted), moment + app.previews.ttl_seconds()
            )
            runs = target.preview(made)  # refused here by a kind that has none
        except previews.PreviewError as exc:
            raise DeployError("deploy", str(exc), exit_code=exc.exit_code) from exc
        if self.queue is not None and target.on_docker_host:
            # A pull request's run: the worker removes the expired ones, checks the limit
            # and takes the lease there, on the Docker host the run cannot reach.
            if not server_queue.PULL_REQUEST_PREVIEW.fullmatch(made.name):  # before a build
                raise DeployError(
                    "deploy",
                    f"the deploy worker makes previews of pull requests alone "
                    f"(pr-NUMBER), not {made.name!r}: deploy it from a machine with the "
                    "project's .pilot/",
                    exit_code=EXIT_INVALID,
                )
            with _RunLog(self, made.full, "preview") as log:
                return server_requests.request_release(
                    self, log, runs.app, self.queue, self.by, force=True, preview=made.name
                )
        with _RunLog(self, made.full, "preview") as log, self._leased(log, made.full, "preview"):
            say = log.line("deploy", made.full)
            try:
                expired, kept = self._remove_expired(app, moment, say)
                previews.room_for(app, made.name, kept)
            except previews.PreviewError as exc:
                log.emit(StageFailed(made.full, "deploy", str(exc)))
                raise DeployError("deploy", str(exc), exit_code=exc.exit_code) from exc
            try:
                release = runs.deploy(self, log, force=True)
                if not target.on_docker_host:  # (its own lock decides there, beforehand)
                    gone = frozenset(p.name for p in expired)
                    self._one_too_many(app, target, made, kept, gone, say)
            except previews.PreviewError as exc:  # past the limit after all, or its secrets
                log.emit(StageFailed(made.full, "deploy", str(exc)))
                raise DeployError("deploy", str(exc), exit_code=exc.exit_code) from exc
            except DeployError as exc:
                self._notify(log, made.full, notify.FAILED, str(exc), None)
                raise
            self._notify(log, made.full, notify.PREVIEWED, "", release)
            return release

    def preview_name(self, app: AppSettings, wanted: str) -> str:
        return preview_name(self.config, app, wanted)

    def existing_preview_name(self, app: AppSettings, wanted: str) -> str:
        """The name of ``app``'s preview ``wanted`` to remove: a name, its branch's, or its
        full name APP--NAME as `preview list` shows it (on a laptop and in a CI run alike:
        found walking, a run refused the full name)."""
        parts = previews.split(wanted)
        if parts is not None and parts[0] != app.name and self.config.app(parts[0]) is not None:
            raise previews.PreviewError(  # (walk: taken for app's preview "ui-pr-7")
                f"{wanted} is a preview of {parts[0]}, not of {app.name}: pilot-tui preview "
                f"destroy {parts[0]} {parts[1]}"
            )
        return self.preview_name(app, wanted.removeprefix(previews.full_name(app.name, "")))

    def list_previews(self, apps: list[str] | None = None) -> list[previews.Preview]:
        """Every preview of every app in pilot.toml (or of ``apps``), where its target runs
        it."""
        return [
            p
            for app in self.config.apps
            if apps is None or app.name in apps
            for p in target_for(app).previews(self)
        ]

    def request_preview_removal(self, name: str, wanted: str) -> list[str]:
        """In a CI run: the app's preview ``wanted`` on the Docker host removed by the
        server's worker (the run cannot reach it); what was removed. NoSuchPreview when
        there is none there, DeployError when the removal failed."""
        app = self.app(name)
        if self.queue is None:
            raise DeployError("destroy", "this run has no deploy requests to leave")
        try:
            preview = self.existing_preview_name(app, wanted)
        except previews.PreviewError as exc:
            raise DeployError("destroy", str(exc), exit_code=exc.exit_code) from exc
        with _RunLog(self, previews.full_name(name, preview), "destroy") as log:
            return server_requests.request_removal(self, log, app, self.queue, self.by, preview)

    def destroy_preview(self, name: str, wanted: str, say: Say) -> list[str]:
        """Remove the app's preview ``wanted``: what runs it, its route, images, history
        and secret versions; what was removed. PreviewError when there is no such one."""
        return self.remove_preview(self.find_preview(name, wanted), say)

    def find_preview(self, name: str, wanted: str) -> previews.Preview:
        """The app's preview ``wanted`` (a name, its branch's, or its full name APP--NAME
        as `preview list` shows it); NoSuchPreview when it runs nowhere and has no history
        here."""
        app = self.app(name)
        target = target_for(app)
        preview_name = self.existing_preview_name(app, wanted)
        found = {p.name: p for p in target.previews(self)}
        preview = found.get(preview_name) or previews.Preview(app.name, preview_name, 0)
        full = preview.full
        if (
            preview_name not in found
            and not history.history_file(self.state_dir, full).exists()
            and not target.preview(preview).runs_now(self)
        ):
            known = ", ".join(sorted(found)) or "none"
            raise previews.NoSuchPreview(
                f"{app.name} has no preview {preview_name!r} (its previews: {known})"
            )
        return preview

    def remove_preview(self, preview: previews.Preview, say: Say) -> list[str]:
        """Remove ``preview`` (find_preview's): what runs it, its route, images, history
        and secret versions; what was removed."""
        return self._remove(target_for(self.app(preview.app)), preview, say)

    def prune_previews(
        self, say: Say, *, now: float | None = None, apps: list[str] | None = None
    ) -> list[previews.Preview]:
        """Remove every preview (of ``apps``; None: every app's) whose TTL ran out; those
        removed. What the agent on the Docker host left of those it removed (histories here
        and in the state bucket) goes too."""
        moment = time.time() if now is None else now
        removed = []
        for app in self.config.apps:
            if apps is not None and app.name not in apps:
                continue
            removed += self._remove_expired(app, moment, say)[0]
            # Listed again: a preview whose first deploy ended meanwhile has a history.
            self._forget_gone(app, target_for(app).previews(self), say)
        return removed

    def destroy_previews(self, app: AppSettings, say: Say) -> None:
        """Every preview of ``app`` removed (`app destroy`: a preview never outlives its
        app), and what is left of those the agent removed."""
        target = target_for(app)
        for preview in target.previews(self):
            self._remove(target, preview, say)
        self._forget_gone(app, [], say, listed_only=False)

    def _forget_gone(
        self,
        app: AppSettings,
        running: list[previews.Preview],
        say: Say,
        *,
        listed_only: bool = True,
    ) -> None:
        """The histories (local and shared) of ``app``'s previews that run nowhere any more
        (not in ``running``), and what their target left of them (a database, a lock).
        ``listed_only``: one its platform has though ``running`` does not list it (a
        listing that lags) is kept; False (`app destroy`): every one goes."""
        target = target_for(app)
        names = {p.full for p in running}
        pattern = f"{previews.full_name(app.name, '*')}.json"
        known = {
            path.stem
            for path in history.history_file(self.state_dir, app.name).parent.glob(pattern)
        }
        if self.shared is not None:
            try:
                known |= set(self.shared.apps(previews.full_name(app.name, "")))
            except SharedHistoryError as exc:
                say(f"warning: {exc}")
        for full in sorted(known - names):
            found = previews.split(full)
            if found is None or found[0] != app.name:
                continue
            if listed_only and self._being_deployed(full, say):
                continue  # (found reviewing: a redeploy of one had its image taken)
            if target.previews_refused is None:  # its kind ran it: what is left of it there
                runs = target.preview(previews.Preview(app.name, found[1], 0))
                if listed_only and runs.runs_now(self):
                    continue  # made a moment ago, not listed yet: its TTL decides, later
                runs.destroy(self, say)
            self._forget(full, say)

    def _being_deployed(self, full: str, say: Say) -> bool:
        """Whether preview ``full`` is being deployed now (its lease held): one that runs
        nowhere but has a history may be on its way (made again under an old one's name),
        and is left to its deploy, said. Not known (no bucket, or unreadable): False, as
        before leases."""
        if self.shared is None:
            return False
        try:
            holding = shared_lease.held(self.shared, full)
        except PilotError:
            return False
        if holding is not None:
            say(f"kept {full}: {holding.holder} is deploying it ({holding.what})")
        return holding is not None

    def _one_too_many(
        self,
        app: AppSettings,
        target: Target,
        made: previews.Preview,
        before: list[previews.Preview],
        gone: frozenset[str],
        say: Say,
    ) -> None:
        """A preview deploy that raced another to the last free place (no lock holds a
        cloud's previews): the previews listed again, and ``made`` removed when it is one
        too many (previews.lost_race); PreviewError then. A listing that fails keeps it
        (said): it is deployed, and a limit is no reason to call that a failure."""
        try:
            listed = target.previews(self)
        except PilotError as exc:
            say(f"warning: previews.max not checked again after this deploy: {exc}")
            return
        others = previews.lost_race(app, made, before, listed, gone=gone, now=time.time())
        if others is None:
            return
        say(f"{app.name} got previews made at the same time past previews.max: removing this one")
        self._remove(target, made, say)
        raise previews.PreviewError(
            f"{app.name} has {counted(app.previews.max, 'preview')} already: {', '.join(others)} "
            f"was made at the same time and first, so {made.name} was removed again "
            f"(previews.max = {app.previews.max})",
            hint=f"remove one first: pilot-tui preview destroy {app.name} NAME",
        )

    def _remove_expired(
        self, app: AppSettings, now: float, say: Say
    ) -> tuple[list[previews.Preview], list[previews.Preview]]:
        """(the app's previews removed as their TTL ran out by ``now``, those kept)."""
        target = target_for(app)
        found = target.previews(self)
        expired = [p for p in found if p.expired(now)]
        for preview in expired:
            say(f"removing the preview {preview.full}: its TTL ({app.previews.ttl}) ran out")
            self._remove(target, preview, say)
        return expired, [p for p in found if not p.expired(now)]

    def _remove(self, target: Target, preview: previews.Preview, say: Say) -> list[str]:
        """What runs ``preview`` (``target`` its app's), then its history and secret
        versions; what was removed. The app's own history is pulled first: what its
        releases run is kept (a fresh CI runner knows it from the bucket only)."""
        self._pull(preview.app, say, f"nothing of {preview.full} is removed")
        return target.preview(preview).destroy(self, say) + self._forget(preview.full, say)

    def _pull(self, name: str, say: Say, refused: str) -> None:
        """``name``'s history from the bucket, when it is shared; a failure said, or in a
        CI run (``shared_required``) a DeployError ending with ``refused``."""
        if self.shared is None:
            return
        try:
            self.shared.pull(self.state_dir, name)
        except SharedHistoryError as exc:
            if self.shared_required:
                raise DeployError("deploy", f"{exc}: {refused}") from exc
            say(f"warning: release history not shared: {exc}")

    def _forget(self, full: str, say: Say) -> list[str]:
        """A preview's history (here and in the state bucket) and secret versions."""
        import shutil

        from pilot_tui.deploy import secret_versions

        done = []
        path = history.history_file(self.state_dir, full)
        if path.exists():
            path.unlink()
            done.append(f"removed the release history of {full}")
        versions = secret_versions.versions_dir(self.state_dir, full)
        if versions.exists():
            shutil.rmtree(versions)
        if self.shared is not None:
            try:
                self.shared.forget(full)
            except SharedHistoryError as exc:
                done.append(f"warning: {exc}")
        for line in done:
            say(line)
        return done

    @functools.cached_property
    def by(self) -> str:
        """Who releases: recorded with every release this engine makes (in the worker, the
        CI run that asked for it)."""
        return self.requested_by or notify.who(self.root)

    def commit(self, app: AppSettings) -> str | None:
        """The commit of the source ``app`` is built from: a prebuilt image's, else the
        app folder's git commit."""
        made = self.prebuilt.get(app.name)
        return made.commit if made is not None else git_commit(self.root / app.path)

    def _notify(
        self,
        log: RunLog,
        name: str,
        event: str,
        reason: str,
        release: history.Release | None,
    ) -> None:
        """Tell the webhook pilot.toml names, if any; a failure to is a warning only."""
        variable = self.config.notify.webhook_env
        if variable is None:
            return
        line = log.line("release", name)
        url = notify.webhook(variable)
        if url is None:
            line(f"warning: no notification sent: ${variable} (notify.webhook_env) is not set")
            return
        notice = notify.Notice(
            event,
            self.project,
            name,
            release.id if release else None,
            release.url if release else None,
            self.by,
            reason,
        )
        problem = notify.send(url, notice)
        if problem is not None:
            line(f"warning: no notification sent: {problem}")

    @contextlib.contextmanager
    def _leased(self, log: RunLog, name: str, what: str) -> Iterator[None]:
        """``name`` released by this process alone, wherever else it is deployed from (a
        teammate's laptop, a CI run): its lease in the state bucket, with a shared history
        (shared_lease.py). A bucket that cannot be reached is a warning, as for the
        history; in a CI run it fails the deploy."""
        lease = None
        if self.shared is not None:
            say = log.line("deploy", name)
            try:
                lease = shared_lease.take(
                    self.shared, name, self.by, what, wait=self.lock_wait, say=say
                )
            except shared_lease.LeaseHeld as exc:
                log.emit(StageFailed(name, "deploy", str(exc)))
                raise DeployError("lock", str(exc)) from exc
            except SharedHistoryError as exc:
                if self.shared_required:
                    message = f"{exc}: a CI run deploys nothing it cannot record"
                    log.emit(StageFailed(name, "deploy", message))
                    raise DeployError("lock", message) from exc
                say(f"warning: {exc}; deploying without the shared deploy lock")
        try:
            yield
        finally:
            if lease is not None:
                lease.release()

    # -- what every target gets (context.DeployContext) ----------------------------------
    def pull(self, log: RunLog, name: str) -> None:
        """Take the bucket's history first: a teammate may have released since (we hold the
        app's lock, so no deploy on this engine writes it while we deploy; one elsewhere, a
        CI run's, is found out by the push: shared_history.py)."""
        try:
            self._pull(name, log.line("release", name), "a CI run deploys nothing it cannot record")
        except DeployError as exc:  # before anything changed
            log.emit(StageFailed(name, "deploy", str(exc)))
            raise

    def record_release(self, log: RunLog, name: str, release: history.Release) -> None:
        if release.by is None:
            release = dataclasses.replace(release, by=self.by)
        history.record(self.state_dir, name, release)
        if self.shared is not None:
            try:
                self.shared.push(self.state_dir, name)
            except SharedHistoryError as exc:
                if self.shared_required:
                    message = (
                        f"{exc}: {release.id} of {name} is {release.status}, but this run's "
                        "record of it goes with the runner"
                    )
                    log.emit(StageFailed(name, "release", message))
                    raise DeployError("release", message) from exc
                _shared_note(log, name, exc)

    def environment(self, app: AppSettings) -> dict[str, str]:
        try:
            env: dict[str, str] | None = None if self.secrets_from_env else {}
            values = secrets.resolve(self.state_dir, app.name, app.secrets, env)
        except secrets.SecretsError as exc:
            if not self.secrets_from_env:  # (its "export it" does not hold here)
                raise DeployError(
                    "deploy",
                    f"{exc} (a server worker takes no secret from its environment: "
                    f"pilot-tui secrets set {app.name} NAME, where the worker runs)",
                ) from exc
            raise DeployError("deploy", str(exc)) from exc
        return {**app.env, **values}

    def build(self, log: RunLog, app: AppSettings) -> tuple[str, str]:
        made = self.prebuilt.get(app.name)
        if made is not None:
            return server_requests.pull_prebuilt(self, log, app, made)
        timer = Timer()
        try:
            recipe = recipe_for(app, self.root, private_paths(self.root, self.config))
            log.emit(StageStarted(app.name, "build", recipe.why))
            shipped = packing.context_files(recipe)
            for skipped in shipped.skipped:
                log.emit(Output(app.name, "build", skipped.message(), warning=True))
            context, content = packing.pack(recipe, shipped)
        except BuildError as exc:
            log.emit(StageFailed(app.name, "build", str(exc)))
            raise DeployError("build", str(exc)) from exc
        client, tag = self.docker_client, packing.image_tag(self.project, app.name, content)
        existing = images.existing_image(client, tag)
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
                from pilot_tui.deploy.build import buildpacks
                from pilot_tui.deploy.host import docker_env

                context.close()
                daemon = "inherit" if self.docker.local else f"unix://{self.docker.remote_socket}"
                image_id = buildpacks.run_pack(
                    client,
                    recipe,
                    tag,
                    docker_env(self.docker, self.state_dir / "run"),
                    daemon,
                    log.line("build", app.name),
                    shipped,
                    image_labels(self.project, app.name),
                )
            else:
                if recipe.builder is not None:
                    from pilot_tui.deploy.build import site_builder

                    context = site_builder.run_builder(
                        client,
                        recipe,
                        context,
                        log.line("build", app.name),
                        self.cancel.is_set,
                        lambda text: log.emit(Output(app.name, "build", text, warning=True)),
                        site_builder.builder_network(self.config.server.home),
                    )
                image_id = images.build(
                    client,
                    recipe,
                    context,
                    tag,
                    log.line("build", app.name),
                    self.cancel.is_set,
                    image_labels(self.project, app.name),
                )
        except BuildError as exc:
            log.emit(StageFailed(app.name, "build", str(exc)))
            raise DeployError("build", str(exc)) from exc
        log.emit(StageFinished(app.name, "build", tag, timer.seconds()))
        return image_id, tag


def _shared_note(log: RunLog, name: str, exc: SharedHistoryError) -> None:
    log.line("release", name)(f"warning: release history not shared: {exc}")


class _RunLog:
    """Emits events and keeps them, redacted, in .pilot/logs/VERB-TIME-APP.log."""

    def __init__(self, deployer: Deployer, app: str, verb: str) -> None:
        logs = ensure_private_dir(deployer.state_dir / "logs")
        # UTC, as every time Pilot records: the Logs screen orders runs by these names.
        self.path = logs / f"{verb}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{app}.log"
        self.deployer = deployer
        self.timer = Timer()
        self.handle: Any = None

    def __enter__(self) -> _RunLog:
        self.handle = self.path.open("a", encoding="utf-8")
        self.path.chmod(0o600)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def emit(self, event: Event) -> None:
        event = redacted(event)  # what the log, the terminal and the screen all get
        self.handle.write(redact.text(to_json(event)) + "\n")
        self.handle.flush()
        self.deployer.emit(event)

    def line(self, stage: str, app: str) -> Say:
        def write(text: str) -> None:
            self.emit(Output(app, stage, redact.text(text)))

        return write


def _records(state_dir: Path, name: str) -> list[history.Release]:
    try:
        return history.load(state_dir, name)
    except history.HistoryError:
        return []


def _made(state_dir: Path, name: str, known: set[str]) -> history.Release | None:
    """The newest record a run made (not one of ``known``, those before it), if any: a
    failed build or lock leaves none, and no earlier release is named for it."""
    made = [r for r in _records(state_dir, name) if r.id not in known]
    return made[-1] if made else None
