"""`pilot-tui server worker`: release the Docker host deploys CI runs ask for
(deploy/server_worker.py), here, until stopped."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import signal
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pilot_tui import redact
from pilot_tui.cli.common import error, load_valid, print_json, say
from pilot_tui.config.schema import PilotConfig
from pilot_tui.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK
from pilot_tui.project import Project
from pilot_tui.runner import Interrupt

if TYPE_CHECKING:
    from pilot_tui.deploy.host import DockerTarget
    from pilot_tui.deploy.shared_history import SharedHistory


def worker(ns: argparse.Namespace) -> int:
    from pilot_tui.cli.deploy_cmds import Printer
    from pilot_tui.deploy.server_queue import Queue
    from pilot_tui.deploy.server_worker import Worker
    from pilot_tui.deploy.shared_history import NoBucket, SharedHistoryError

    if _flags_refused(ns):
        return EXIT_INVALID
    loaded = load_valid(ns)
    if loaded is None:
        return EXIT_INVALID
    pf, config = loaded
    project = Project(pf.path)
    # The engine first: on the server it also makes every AWS client the instance role's,
    # the bucket's too (found reviewing: an aws.profile stopped it before it began).
    engine = _server_own_engine(config, project) if ns.on_server else None
    if isinstance(engine, int):
        return engine
    shared = _bucket(config, project)
    if isinstance(shared, int):
        return shared
    arch = _engine_architecture(config, project, engine)
    stop = threading.Event()
    signals: list[int] = []
    runner = Worker(pf.path, Queue(shared), Printer(ns.verbose), say, arch=arch, engine=engine)
    if engine is not None:  # on the server: named as its, not as a container's root
        runner.name = f"pilot-server@{engine.host or 'localhost'}#{runner.name.rpartition('#')[2]}"
    say(
        f"taking the deploy requests of {config.project.name} in {shared.kind}://"
        f"{shared.bucket} as {runner.name}"
        + ("" if ns.once else "; Ctrl+C stops it (after the release under way, if one is)")
    )
    try:
        with _stopped_by_signals(stop, lambda: runner.cancel, signals, lambda: runner.busy):
            ended = runner.serve(once=ns.once, poll=ns.poll, stopped=stop.is_set)
    except NoBucket:
        error(
            f"the state bucket {shared.bucket} does not exist: `pilot-tui ci github` makes it "
            "(or `pilot-tui server up`, whose state it holds)"
        )
        return EXIT_FAILED
    except SharedHistoryError as exc:
        # (found walking: "cannot be read: cannot write", and no hint, with no credentials)
        error(f"the worker cannot use the state bucket: {exc}")
        if "credentials" in str(exc).lower():
            say(
                "hint: the worker acts with this machine's AWS credentials (pilot-tui "
                "credentials, or aws.profile in pilot.toml); on the Pilot Server, with its "
                "role (server.ci_worker)"
            )
        return EXIT_FAILED
    except KeyboardInterrupt:
        if runner.stopped_mid_release:
            error("stopped during a release: the run that asked is told it failed")
        return 128 + signals[0] if signals else EXIT_INTERRUPTED
    if ns.json:
        print_json([dataclasses.asdict(o) for o in ended])
    elif ns.once and not ended:
        say("no deploy request was waiting")
    if signals:  # stopped as asked: 128 + the signal, as shells say it
        return 128 + signals[0]
    return EXIT_OK if all(o.ok for o in ended) else EXIT_FAILED


def _flags_refused(ns: argparse.Namespace) -> bool:
    """Whether the flags cannot be used together or as given (said)."""
    if not (math.isfinite(ns.poll) and ns.poll > 0):  # (found walking: nan polled nonstop)
        error(f"--poll {ns.poll:g}: the seconds between looks must be a number more than 0")
        return True
    if ns.json and not ns.once:
        error("--json prints how the requests ended, once they have: use it with --once")
        return True
    return False


def _bucket(config: PilotConfig, project: Project) -> SharedHistory | int:
    """The state bucket the requests are in, or the exit code after saying why not."""
    from pilot_tui.deploy.shared_history import SharedHistoryError, shared_history

    if config.state.backend == "local":
        error(
            'state.backend is "local": CI runs leave their deploy requests in the state '
            "bucket, and this project has none (pilot-tui config set state.backend s3, then "
            "pilot-tui ci github)"
        )
        return EXIT_INVALID
    try:
        # Never the sandbox's emulators started here: stopped, they took the bucket along.
        shared = shared_history(config, project.state_dir, project.root)
    except SharedHistoryError as exc:
        error(str(exc))
        return EXIT_FAILED
    if shared is None:
        error("the sandbox is stopped, and its state bucket with it: pilot-tui server up")
        return EXIT_FAILED
    return shared


def _server_own_engine(config: PilotConfig, project: Project) -> DockerTarget | int:
    """`--on-server`: the server's own engine through its socket, every AWS client of this
    process the instance role's; the exit code after saying why not."""
    from pilot_tui.cloud.clients import ON_SERVER_ENV
    from pilot_tui.deploy.host import server_own_engine
    from pilot_tui.deploy.worker_container import refusal
    from pilot_tui.provision.outputs import saved_record

    why = refusal(config)
    if why is not None:
        error(why)
        return EXIT_INVALID
    saved = saved_record(project.state_dir)
    if not saved.get("outputs", {}).get("docker_host"):  # (else on 127.0.0.1 alone)
        error(
            "--on-server is how the worker's container on the Pilot Server runs, and this "
            "project's .pilot/outputs records no server (its address names the apps): on "
            "the machine that made it, `pilot-tui server up`, then a deploy from there "
            "(with server.ci_worker = true) starts the worker on the server"
        )
        return EXIT_INVALID
    os.environ[ON_SERVER_ENV] = "1"
    return server_own_engine(saved)


def _engine_architecture(config: PilotConfig, project: Project, target: DockerTarget | None) -> str:
    """The Docker host's CPU architecture (``target``, else the project's), said in the
    heartbeat (a run builds for it); a warning now when the host does not answer (found
    walking: the worker beat as "taking requests" and failed each one), and ""."""
    from pilot_tui.deploy.host import HostError, connect, target_for
    from pilot_tui.provision.outputs import saved_record

    try:
        if target is None:
            target = target_for(config, project.state_dir, saved_record(project.state_dir))
        with connect(target, project.state_dir / "run") as client:
            return str(client.info().get("Architecture") or "")
    except Exception as exc:  # HostError, or the docker SDK's own
        said = exc if isinstance(exc, HostError) else redact.clip(str(exc), 300)
        say(f"warning: the Docker host does not answer now, so requests fail until it does: {said}")
        return ""


@contextlib.contextmanager
def _stopped_by_signals(
    stop: threading.Event,
    cancel: Callable[[], Interrupt],
    signals: list[int],
    busy: Callable[[], bool],
) -> Iterator[None]:
    """The first Ctrl+C or SIGTERM stops the worker, after the release under way when
    ``busy`` (noted in ``signals``); a second cancels that release (``cancel()``: its
    token; the live one keeps serving); a third stops at once (KeyboardInterrupt)."""

    def handle(signum: int, frame: object) -> None:
        if cancel().is_set():
            raise KeyboardInterrupt
        if stop.is_set():
            if not busy():
                raise KeyboardInterrupt  # nothing under way: stopped now
            cancel().request()
            say("cancelling the release under way (Ctrl+C again stops at once)")
            return
        signals.append(signum)
        stop.set()
        if busy():
            say("stopping after the release under way (Ctrl+C again cancels it)")
        else:
            say("stopping")

    before = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
