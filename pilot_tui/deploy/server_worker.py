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
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pilot_tui import redact
from pilot_tui.config.document import ProjectFile
from pilot_tui.config.schema import PilotConfig
from pilot_tui.deploy import server_queue
from pilot_tui.deploy.context import CancelToken, DeployError, Say
from pilot_tui.deploy.events import Emit, Event, StageFailed
from pilot_tui.deploy.server_queue import EventsWriter, Outcome, Queue, Request, refused
from pilot_tui.deploy.shared_history import SharedHistoryError
from pilot_tui.errors import EXIT_FAILED, PilotError

TIDY_EVERY = 3600.0  # seconds between removals of old requests' records


def worker_name() -> str:
    """Who the worker is, as runs and the records name it: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = "worker"
    return f"{user}@{socket.gethostname()}"


class _Heartbeat:
    """The worker's heartbeat in the bucket every BEAT seconds, on a thread of its own (a
    release may take minutes); a beat that fails is retried at the next."""

    def __init__(self, queue: Queue, name: str, every: float = server_queue.BEAT) -> None:
        self.queue, self.name, self.every = queue, name, every
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pilot-worker-beat", daemon=True)

    def start(self) -> None:
        self.queue.beat(self.name)  # the first one here: a bucket that refuses is said now
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                self.queue.beat(self.name)
            except SharedHistoryError:
                continue

    def stop(self) -> None:
        """No more beats, and the last says the worker stopped: a run asks nothing of it."""
        self.stopped.set()
        self.thread.join(timeout=5)
        with contextlib.suppress(SharedHistoryError):
            self.queue.beat(self.name, stopped=True)


@dataclass
class Worker:
    """One project's worker: ``config`` is this machine's pilot.toml, ``emit`` shows the
    releases' events here, ``say`` the worker's own lines."""

    project_file: Path
    config: PilotConfig
    queue: Queue
    emit: Emit
    say: Say
    name: str = field(default_factory=worker_name)
    cancel: CancelToken = field(default_factory=CancelToken)  # the release under way's

    def serve(self, *, once: bool, poll: float, stopped: Callable[[], bool]) -> list[Outcome]:
        """Release the requests as they come until ``stopped`` (``once``: those waiting
        now, then return); how each ended."""
        beat = _Heartbeat(self.queue, self.name)
        beat.start()
        ended: list[Outcome] = []
        tidied = 0.0
        try:
            while not stopped():
                for request, age in self.queue.pending():
                    if stopped():
                        break
                    outcome = self.take(request, age)
                    if outcome is not None:
                        ended.append(outcome)
                if once:
                    break
                if time.monotonic() - tidied > TIDY_EVERY:
                    tidied = time.monotonic()
                    self._tidy()
                deadline = time.monotonic() + poll
                while time.monotonic() < deadline and not stopped():
                    time.sleep(min(0.2, poll))
        finally:
            beat.stop()
        return ended

    def take(self, request: Request, age: float) -> Outcome | None:
        """Claim and release ``request``; None when another worker took it first."""
        if not self.queue.claim(request.id, self.name):
            return None
        self.say(f"request {request.id}: {request.app} ({request.image}), for {request.by}")
        if age > server_queue.EXPIRED:
            outcome = refused(
                f"not released: the request waited {age / 60:.0f} min, and a release that "
                "late may be older than the one serving now; run the deploy again"
            )
        else:
            writer = EventsWriter(self.queue, request.id)
            try:
                outcome = self._release(request, writer.emit)
            except KeyboardInterrupt:  # stopped at once: the run is told, not left waiting
                with contextlib.suppress(SharedHistoryError):
                    self.queue.finish(
                        request.id,
                        Outcome(
                            False,
                            stage="deploy",
                            message=f"the worker ({self.name}) was stopped during the "
                            f"release: `pilot-tui status {request.app}` shows what is live",
                            by=self.name,
                        ),
                    )
                raise
            finally:
                writer.close()
        outcome = dataclasses.replace(outcome, by=self.name)
        try:
            self.queue.finish(request.id, outcome)
        except SharedHistoryError as exc:
            self.say(f"warning: the run that asked cannot be told how it ended: {exc}")
        self.say(
            f"request {request.id}: "
            + (f"released {outcome.release['id']}" if outcome.release else outcome.message)
        )
        return outcome

    def _release(self, request: Request, record: Callable[[Event], None]) -> Outcome:
        from pilot_tui.deploy.server_requests import Prebuilt
        from pilot_tui.deploy.session import open_deployer

        config = self.config_for(request)
        if isinstance(config, Outcome):
            record(StageFailed(request.app, "deploy", config.message))
            return config

        def both(event: Event) -> None:
            record(event)
            self.emit(event)

        prebuilt = {request.app: Prebuilt(request.image, request.tag, request.commit)}
        try:
            with open_deployer(
                self.project_file,
                config,
                both,
                apps=[request.app],
                warn=self.say,
                prebuilt=prebuilt,
                requested_by=request.by,
                cancel=self.cancel,
            ) as engine:
                made = engine.deploy(request.app)
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

    def config_for(self, request: Request) -> PilotConfig | Outcome:
        """This machine's configuration with the app as the run's commit sets it; the
        refusal (Outcome) when that cannot be released here."""
        from pilot_tui.deploy.targets import target_for

        checked = ProjectFile(self.project_file, request.pilot_toml).check()
        if checked.config is None:
            problems = "; ".join(checked.report.lines())
            return refused(f"the pilot.toml of the run's commit is not valid: {problems[:400]}")
        theirs = checked.config
        project = self.config.project.name
        if theirs.project.name != project:
            return refused(
                f"the run's pilot.toml is of project {theirs.project.name!r}; this worker "
                f"releases {project!r}"
            )
        app = theirs.app(request.app)
        if app is None:
            return refused(f"the run's pilot.toml has no app {request.app!r}")
        if not target_for(app).on_docker_host:
            return refused(
                f"in the run's pilot.toml, {app.name} runs on {app.target.kind}, not the "
                "Docker host: the run deploys it itself"
            )
        ours = self.config.app(app.name)
        if ours is not None and not target_for(ours).on_docker_host:
            return refused(
                f"in this worker's pilot.toml ({self.project_file}), {app.name} runs on "
                f"{ours.target.kind}: not released on the Docker host"
            )
        apps = [app if a.name == app.name else a for a in self.config.apps]
        return dataclasses.replace(self.config, apps=apps if ours else [*apps, app])

    def _tidy(self) -> None:
        try:
            gone = self.queue.tidy()
        except SharedHistoryError as exc:
            self.say(f"warning: old deploy requests not removed: {exc}")
            return
        if gone:
            self.say(f"removed the records of {gone} old deploy requests")
