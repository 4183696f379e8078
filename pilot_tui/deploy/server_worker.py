"""`pilot-tui server worker`: releases the deploys CI runs ask for (server_queue.py).

It runs where the project's .pilot/ is, on a machine that reaches the Pilot Server (the
laptop that made it, or an always-on machine of the team's), and releases each request as
a deploy from there would, with two differences: the image is the one the run pushed
(pulled from the app's own repository, never built here), and the app's settings are
those of the run's commit. The rest is this machine's: the server's and the databases'
settings from its pilot.toml, the secrets from its .pilot/secrets (no secret value
travels through the bucket), its deploy lock and lease, its notifications. The release is
recorded in the shared history as made by the run that asked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.config.document import ProjectFile
from pilot_tui.config.schema import AppSettings, PilotConfig, ServerTarget
from pilot_tui.config.validate import Checked
from pilot_tui.deploy import previews, server_queue
from pilot_tui.deploy.context import CancelToken, DeployError, Say
from pilot_tui.deploy.events import Emit, Event, Output, StageFailed
from pilot_tui.deploy.host import DockerTarget
from pilot_tui.deploy.server_queue import EventsWriter, Outcome, Queue, Request, refused
from pilot_tui.deploy.shared_history import NoBucket, SharedHistoryError
from pilot_tui.deploy.targets.base import target_settings
from pilot_tui.errors import EXIT_FAILED, PilotError

if TYPE_CHECKING:
    from pilot_tui.deploy.engine import Deployer

TIDY_EVERY = 3600.0  # seconds between removals of old requests' records


def worker_name() -> str:
    """Who the worker is, as runs and the records name it: user@host#ID, the ID this
    process's own (a worker restarted under the same name is another: a run whose
    release the first one took is told it went)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "worker"
    return f"{user}@{socket.gethostname()}#{os.urandom(2).hex()}"


class _Heartbeat:
    """The worker's heartbeat in the bucket every BEAT seconds, on a thread of its own (a
    release may take minutes); a beat that fails is retried at the next."""

    def __init__(
        self, queue: Queue, name: str, arch: str, every: float = server_queue.BEAT
    ) -> None:
        self.queue, self.name, self.arch, self.every = queue, name, arch, every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pilot-worker-beat", daemon=True)

    def start(self) -> None:
        self.queue.beat(self.name, arch=self.arch)  # the first here: a refusal is said now
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.queue.beat(self.name, arch=self.arch)
            except SharedHistoryError:
                continue

    def stop(self) -> None:
        """No more beats, and the last says the worker stopped: a run asks nothing of it."""
        self.stopped.set()
        self.thread.join(timeout=5)
        with contextlib.suppress(SharedHistoryError):
            self.queue.beat(self.name, stopped=True, arch=self.arch)


@dataclass
class Worker:
    """One project's worker: ``project_file`` is this machine's pilot.toml (read again for
    each request), ``emit`` shows the releases' events here, ``say`` the worker's own
    lines."""

    project_file: Path
    queue: Queue
    emit: Emit
    say: Say
    name: str = field(default_factory=worker_name)
    cancel: CancelToken = field(default_factory=CancelToken)  # the release under way's
    busy: bool = False  # a request is being released now
    stopped_mid_release: bool = False  # stopped at once (KeyboardInterrupt) during one
    # The Docker host's CPU architecture (said in the heartbeat: a run builds for it).
    arch: str = ""
    # Requests whose claim failed on the way: maybe taken after all, to end if so.
    unsure: set[str] = field(default_factory=set)
    # The Docker host to release on; None: the project's (target_for).
    engine: DockerTarget | None = None

    def serve(self, *, once: bool, poll: float, stopped: Callable[[], bool]) -> list[Outcome]:
        """Release the requests as they come until ``stopped`` (``once``: those waiting
        now, then return); how each ended. A bucket that cannot be read for a while is
        said and looked at again (SharedHistoryError only when its first heartbeat, or a
        look with ``once``, cannot be written or read; NoBucket when it is gone)."""
        beat = _Heartbeat(self.queue, self.name, self.arch)
        beat.start()
        ended: list[Outcome] = []
        tidied: float | None = None  # (monotonic time starts at boot: a young server's)
        try:
            while not stopped():
                try:
                    waiting = self.queue.pending()
                except NoBucket:  # `server destroy` took it: nothing to wait for any more
                    raise
                except SharedHistoryError as exc:
                    if once:
                        raise
                    self.say(f"warning: the deploy requests cannot be read now: {exc}")
                    waiting = []
                self._end_unsure()
                for request in waiting:
                    if stopped():
                        break
                    outcome = self.take(request)
                    if outcome is not None:
                        ended.append(outcome)
                if once:
                    break
                if tidied is None or time.monotonic() - tidied > TIDY_EVERY:
                    tidied = time.monotonic()
                    self._tidy()
                deadline = time.monotonic() + poll
                while time.monotonic() < deadline and not stopped():
                    time.sleep(min(0.2, poll))
        finally:
            beat.stop()
        return ended

    def take(self, request: Request) -> Outcome | None:
        """Claim and release ``request``; None when another worker took it first (or the
        bucket could not be asked: looked at again next time)."""
        try:
            age = self.queue.claim(request.id, self.name)
        except SharedHistoryError as exc:
            self.say(f"warning: request {request.id} not taken: {exc}")
            self.unsure.add(request.id)
            return None
        if age is None:
            return None
        # Its events file at once: the run's proof that this worker took it (a pull
        # request's role may write a claim in a worker's name, never events).
        for attempt in (1, 2):
            try:
                self.queue.write_events(request.id, [])
                break
            except SharedHistoryError as exc:
                if attempt == 2:  # the release's own events prove it later
                    self.say(f"warning: request {request.id}'s events not begun: {exc}")
        asked = (
            f"{request.app} rolled back to {request.rollback_to or 'the release before'}"
            if request.rollback
            else f"{request.app} ({request.image})"
            if request.preview is None
            else f"{previews.full_name(request.app, request.preview)} "
            + ("removed" if request.remove else f"({request.image})")
        )
        self.say(f"request {request.id}: {asked}, for {request.by}")
        writer = EventsWriter(self.queue, request.id)
        self.cancel = CancelToken()  # this release's: a Ctrl+C for the last is not its
        self.busy = True
        try:
            if age > server_queue.EXPIRED:  # its age when claimed: never released late
                outcome = refused(
                    f"not released: the request waited {age:.0f} s, so its run gave up on "
                    "it (or was stopped), and a release that late may be older than the one "
                    "serving now; run the job again"
                )
                late = StageFailed(request.app, "deploy", outcome.message)
                writer.emit(late)
                self.emit(late)
            else:
                outcome = self._release(request, writer.emit)
        except KeyboardInterrupt:  # stopped at once: the run is told, not left waiting
            self.stopped_mid_release = True
            writer.close()
            self._finish(
                request,
                Outcome(
                    False,
                    stage="deploy",
                    message=f"the worker ({self.name}) was stopped during the release: "
                    f"`pilot-tui status {request.app}` shows what is live",
                ),
            )
            raise
        finally:
            self.busy = False
        writer.close()
        return self._finish(request, outcome)

    def _end_unsure(self) -> None:
        """A request whose claim failed on the way but was written after all (its answer
        lost) is this worker's, and no other takes it: ended as failed, so its run is not
        left waiting."""
        for request_id in sorted(self.unsure):
            try:
                mine = self.queue.claimer(request_id) == self.name
                if mine and self.queue.result(request_id) is None:
                    self.queue.finish(
                        request_id,
                        Outcome(
                            False,
                            stage="deploy",
                            message="the worker could not be sure it had taken the request: "
                            "run the deploy again",
                            by=self.name,
                            request=request_id,
                        ),
                    )
            except SharedHistoryError:
                continue  # asked again next time
            self.unsure.discard(request_id)

    def _finish(self, request: Request, outcome: Outcome) -> Outcome:
        """``outcome`` written for the run that waits (masked: the run cannot mask what it
        never held), and said here."""
        outcome = dataclasses.replace(
            outcome,
            message=redact.text(outcome.message),
            by=self.name,
            request=request.id,
            app=request.app,
        )
        try:
            self.queue.finish(request.id, outcome)
        except SharedHistoryError as exc:
            self.say(f"warning: the run that asked cannot be told how it ended: {exc}")
        # (a failure's reason was said just above, by its event: not again)
        made = outcome.release
        ended = f"released {made['id']}" if made else "done" if outcome.ok else "failed"
        self.say(f"request {request.id}: {ended}")
        return outcome

    def _release(self, request: Request, record: Callable[[Event], None]) -> Outcome:
        from pilot_tui.deploy.server_requests import Prebuilt
        from pilot_tui.deploy.session import open_deployer

        def both(event: Event) -> None:
            record(event)
            self.emit(event)

        try:
            config = self.config_for(request)
            if isinstance(config, Outcome):
                both(StageFailed(request.app, "deploy", config.message))
                return config
            unasked = _not_a_pull_requests(request)
            if unasked is not None:
                both(StageFailed(request.app, "deploy", unasked.message))
                return unasked
            # A preview's image and records are the preview's own (APP--NAME).
            built = request.app
            if request.preview is not None:
                built = previews.full_name(request.app, request.preview)
            prebuilt = {built: Prebuilt(request.image, request.tag, request.commit)}
            with open_deployer(
                self.project_file,
                config,
                both,
                apps=[built],
                warn=self.say,
                prebuilt=prebuilt if not (request.remove or request.rollback) else {},
                requested_by=request.by,
                cancel=self.cancel,
                secrets_from_env=False,
                watch=request.watch,
                target=self.engine,
            ) as engine:
                if request.rollback:
                    moved = _live_moved(engine, request)
                    if moved is not None:
                        both(StageFailed(request.app, "rollback", moved.message))
                        return moved
                    made = engine.rollback(request.app, request.rollback_to)
                elif request.preview is None:
                    made = engine.deploy(request.app, force=request.force)
                elif request.remove:
                    return self._remove(engine, request, both)
                else:
                    made = engine.deploy_preview(request.app, request.preview)
        except DeployError as exc:  # its StageFailed went with the events
            return Outcome(False, stage=exc.stage, message=str(exc), exit_code=exc.exit_code)
        except PilotError as exc:  # the host, the bucket: before the deploy began
            both(StageFailed(request.app, "deploy", str(exc)))
            return Outcome(False, stage="deploy", message=str(exc), exit_code=exc.exit_code)
        except Exception as exc:  # a bug: said to the run, the traceback kept here
            self.say(redact.text(traceback.format_exc()))
            message = f"the worker failed: {redact.clip(str(exc), 300)}"
            both(StageFailed(request.app, "deploy", message))
            return Outcome(False, stage="deploy", message=message, exit_code=EXIT_FAILED)
        return Outcome(True, release=dataclasses.asdict(made))

    def _remove(self, engine: Deployer, request: Request, record: Emit) -> Outcome:
        """A pull request's preview removed (its run's closing), what went said as it goes
        and listed in the outcome; one not there is NO_SUCH_PREVIEW (the run's
        --missing-ok takes that as done)."""
        from pilot_tui.deploy.server_requests import NO_SUCH_PREVIEW

        assert request.preview is not None
        full = previews.full_name(request.app, request.preview)

        def said(text: str) -> None:
            record(Output(full, "destroy", text))

        try:
            removed = engine.destroy_preview(request.app, request.preview, said)
        except previews.NoSuchPreview as exc:
            return Outcome(False, stage=NO_SUCH_PREVIEW, message=str(exc), exit_code=exc.exit_code)
        except previews.PreviewError as exc:
            record(StageFailed(full, "destroy", str(exc)))
            return Outcome(False, stage="destroy", message=str(exc), exit_code=exc.exit_code)
        return Outcome(True, removed=removed)

    def config_for(self, request: Request) -> PilotConfig | Outcome:
        """This machine's pilot.toml (read now) with the app's table of the run's commit in
        place of its own (its previews' limits kept), checked whole; for a preview's
        removal this machine's alone; the refusal (Outcome) when that cannot be released
        here (the commit adds no app; _what_a_run_may_not_change)."""
        from tomlkit.exceptions import TOMLKitError

        from pilot_tui.config.validate import check_text
        from pilot_tui.deploy.targets import target_for

        ours = ProjectFile.load(self.project_file)
        checked = ours.check()
        if checked.config is None:
            return refused(f"this worker's {ours.display} is not valid: {_problems(checked)}")
        mine = checked.config.app(request.app)
        if mine is None:
            return refused(
                f"this worker's {ours.display} has no app {request.app!r}: add it there first"
            )
        if not target_for(mine).on_docker_host:
            return refused(
                f"in this worker's {ours.display}, {mine.name} is a {mine.target.kind} app, "
                "not one of the Docker host: not released here"
            )
        # A removal or a rollback needs nothing of the commit, nor passes its checks (a
        # rollback runs with the settings its release recorded, as from a machine).
        if request.remove or request.rollback:
            return checked.config
        theirs = ProjectFile(self.project_file, str(request.pilot_toml)).check()
        if theirs.config is None:
            return refused(f"the pilot.toml of the run's commit is not valid: {_problems(theirs)}")
        if theirs.config.project.name != checked.config.project.name:
            return refused(
                f"the run's pilot.toml is of project {theirs.config.project.name!r}; this "
                f"worker releases {checked.config.project.name!r}"
            )
        app = theirs.config.app(request.app)
        if app is None:
            return refused(f"the run's pilot.toml has no app {request.app!r}")
        why = _what_a_run_may_not_change(app, mine, ours.display)
        if why is not None:
            return refused(why)
        try:
            merged = _with_their_app(ours.text, str(request.pilot_toml), request.app)
        except (TOMLKitError, KeyError, StopIteration, TypeError) as exc:
            return refused(f"the run's app table of {request.app} cannot be used here: {exc}")
        whole = check_text(merged, ours.display, self.project_file.parent)
        if whole.config is None:
            return refused(
                f"with the run's {request.app}, this worker's {ours.display} is not valid: "
                f"{_problems(whole)}"
            )
        config = whole.config
        # Its previews' limits are this machine's: a pull request's commit would otherwise
        # give itself as many as it likes, for as long (found reviewing).
        config.apps = [
            dataclasses.replace(a, previews=mine.previews) if a.name == request.app else a
            for a in config.apps
        ]
        return config

    def _tidy(self) -> None:
        try:
            gone = self.queue.tidy()
        except SharedHistoryError as exc:
            self.say(f"warning: old deploy requests not removed: {exc}")
        else:
            if gone:
                self.say(f"removed the records of {gone} old deploy requests")
        self._prune_previews()

    def _prune_previews(self) -> None:
        """The server's apps' previews past their TTL removed, and what is left in the
        state bucket of those that run no more forgotten (their histories and leases): the
        server's agent removes expired previews but reaches no bucket, and no laptop may
        ever run `preview prune` for previews CI made (found reviewing: they leaked)."""
        from pilot_tui.deploy.session import open_deployer
        from pilot_tui.deploy.targets import on_docker_host

        config = ProjectFile.load(self.project_file).check().config
        if config is None:  # said when a request comes
            return
        apps = on_docker_host(a for a in config.apps if a.previews.max > 0)
        if not apps:
            return
        self.busy = True  # a stop waits for it: never cut in the middle of a removal
        self.cancel = CancelToken()  # a second Ctrl+C cancels it, as it does a release
        try:
            with open_deployer(
                self.project_file,
                config,
                self.emit,
                apps=apps,
                warn=self.say,
                secrets_from_env=False,
                target=self.engine,
                cancel=self.cancel,
            ) as engine:
                engine.prune_previews(self.say, apps=apps)
        except PilotError as exc:
            self.say(f"warning: the server's apps' expired previews not looked for: {exc}")
        except Exception:  # a bug: said, and the worker goes on taking requests
            self.say(redact.text(traceback.format_exc()))
        finally:
            self.busy = False


def _problems(checked: Checked) -> str:
    return redact.clip("; ".join(checked.report.lines()), 400)


def _with_their_app(ours: str, theirs: str, name: str) -> str:
    """``ours`` (pilot.toml's text) with its [[apps]] table ``name`` replaced by the one of
    ``theirs``, the rest of it (comments too) as it is."""
    import tomlkit

    merged = tomlkit.parse(ours)
    tables = {t["name"]: t for t in tomlkit.parse(theirs)["apps"]}
    apps = merged["apps"]
    index = next(i for i, t in enumerate(apps) if t.get("name") == name)
    apps[index] = tables[name]
    return tomlkit.dumps(merged)


def _what_a_run_may_not_change(app: AppSettings, mine: AppSettings, ours: str) -> str | None:
    """Why the run's ``app`` cannot replace this worker's ``mine`` (in its pilot.toml
    ``ours``), or None: it stays on the Docker host, answers to the same names (found
    reviewing: another app's name, and its certificate, could be taken over) and gets no
    secret this machine does not give it."""
    from pilot_tui.deploy.targets import target_for

    if not target_for(app).on_docker_host:
        return (
            f"in the run's pilot.toml, {app.name} runs on {app.target.kind}, not the Docker "
            "host: the run deploys it itself"
        )
    theirs_domain = target_settings(app, ServerTarget).domain
    mine_domain = target_settings(mine, ServerTarget).domain
    if theirs_domain != mine_domain:
        return (
            f"the run's pilot.toml gives {app.name} the domain {theirs_domain or 'none'}, and "
            f"this worker's {ours} {mine_domain or 'none'}: the names an app answers to are "
            "changed where the worker runs, not by a CI run"
        )
    new = sorted(set(app.secrets) - set(mine.secrets))
    if new:
        return (
            f"the run's pilot.toml gives {app.name} the secret {', '.join(new)}, which this "
            f"worker's {ours} does not: add it there and set it (pilot-tui secrets set "
            f"{app.name} NAME)"
        )
    return None


def _live_moved(engine: Deployer, request: Request) -> Outcome | None:
    """The refusal of a rollback chosen against a live release that is not live any more
    (another release came between the run's choice and this worker's turn), or None."""
    if request.live_seen is None:
        return None
    live = engine.newest_live(request.app)
    now = live.id if live is not None else "none"
    if now == request.live_seen:
        return None
    return refused(
        f"not rolled back: {request.app}'s live release is {now} now, not "
        f"{request.live_seen} as when the run chose {request.rollback_to}; run the rollback "
        "again if it is still wanted"
    )


def _not_a_pull_requests(request: Request) -> Outcome | None:
    """The refusal of a request that asks for more than a pull request's run may: one the
    previews' role wrote (under a pull request's request key, the only request keys that
    role may write: Queue.pending marks them) asks for a preview named pr-NUMBER alone;
    a preview is asked for by that name only (the previews of the Docker host that runs
    make). None when it may be released."""
    from pilot_tui.deploy.server_queue import PULL_REQUEST_PREVIEW

    named = request.preview is not None and PULL_REQUEST_PREVIEW.fullmatch(request.preview)
    if request.pull_request and not named:
        return refused(
            f"request {request.id} is a pull request's, and asks for "
            + (f"the preview {request.preview!r}" if request.preview else f"{request.app} itself")
            + ": a pull request's run may make and remove its previews (pr-NUMBER) alone"
        )
    if request.preview is not None and not named:
        return refused(
            f"the preview {request.preview!r} is not a pull request's (pr-NUMBER): "
            "the worker makes those alone"
        )
    if request.remove and request.preview is None:
        return refused("a request may remove a preview, never the app itself")
    if request.rollback and (request.pull_request or request.preview is not None):
        return refused(
            f"request {request.id} asks for a rollback of "
            + (f"the preview {request.preview!r}" if request.preview else request.app)
            + ": a pull request's run may not roll back, and previews are not rolled back"
        )
    return None
