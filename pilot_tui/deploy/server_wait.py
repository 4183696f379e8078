"""A CI run waiting on its deploy request (server_queue.py): the worker's events shown as
they come, the request withdrawn when no worker takes it in time or the run is stopped
(Ctrl+C, SIGTERM, GitHub's cancel), and the worker that took it checked on: one that
stopped, a claim no worker of the project wrote, a withdrawal the run did not make, each
said at once instead of waited out."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pilot_tui.deploy.events import Event
from pilot_tui.deploy.server_queue import (
    CLAIM_WAIT,
    PROOF_WAIT,
    RESULT_WAIT,
    Outcome,
    Queue,
    QueueError,
    describe_worker,
)
from pilot_tui.deploy.shared_history import SharedHistoryError


def wait(
    queue: Queue,
    request_id: str,
    emit: Callable[[Event], None],
    cancelled: Callable[[], bool],
    *,
    poll: float = 1.0,
    claim_wait: float = CLAIM_WAIT,
    result_wait: float = RESULT_WAIT,
    look_every: float = 10.0,
    proof_wait: float = PROOF_WAIT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Wait for ``request_id``'s end, passing its events to ``emit`` as they come. A
    request no worker took within ``claim_wait`` seconds is withdrawn (never released
    later). Once taken, the worker's heartbeat is looked at every ``look_every`` seconds:
    a worker that stopped or vanished meanwhile is an error at once, as is one that did
    not end it within ``result_wait``, or a claim its worker wrote no events of within
    ``proof_wait`` (another run's, in the worker's name)."""
    waiting = _Waiting(
        queue,
        request_id,
        emit,
        cancelled,
        poll,
        claim_wait,
        result_wait,
        look_every,
        proof_wait,
        clock,
        sleep,
    )
    with _terminated_as_interrupted():
        try:
            return waiting.until_ended()
        except KeyboardInterrupt:  # Ctrl+C, SIGTERM, or GitHub cancelling the run (SIGINT)
            if waiting.claimer is None:  # (anywhere in the loop: found reviewing)
                with contextlib.suppress(SharedHistoryError):
                    queue.withdraw(request_id, "the run that asked for it was stopped")
            raise


@contextlib.contextmanager
def _terminated_as_interrupted() -> Iterator[None]:
    """SIGTERM (a `timeout`, a runner stopping the job) ends the wait as Ctrl+C does: a
    request no worker took yet is withdrawn, never left for a worker started later (found
    walking: one was released minutes after its run was gone). Outside the main thread
    (the app's workers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupted)
    try:
        yield
    finally:  # (None: a handler not set from Python, which cannot be put back: the default)
        signal.signal(signal.SIGTERM, before if before is not None else signal.SIG_DFL)


@dataclass
class _Waiting:
    """One run's wait on its request (wait's arguments), and what it knows so far."""

    queue: Queue
    request_id: str
    emit: Callable[[Event], None]
    cancelled: Callable[[], bool]
    poll: float
    claim_wait: float
    result_wait: float
    look_every: float
    proof_wait: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    claimer: str | None = None  # the worker that took it ("" when withdrawn), None: no one

    def until_ended(self) -> Outcome:
        queue, request_id = self.queue, self.request_id
        started = looked = self.clock()
        shown = 0
        claimed_at: float | None = None
        while True:
            outcome = queue.result(request_id)
            made = queue.events(request_id)
            for event in made[shown:]:
                self.emit(event)
            shown = max(shown, len(made))
            if outcome is not None:
                return outcome
            if self.cancelled():
                if self.claimer is None and queue.withdraw(
                    request_id, "the run that asked for it was stopped"
                ):
                    raise QueueError("stopped: the request was withdrawn before a worker took it")
                raise QueueError(
                    "stopped waiting; the worker that took the request still releases it "
                    "(`pilot-tui releases APP` shows how it ended)"
                )
            if self.claimer is None:
                self.claimer = _taken_by(queue, request_id)
            now = self.clock()
            if self.claimer and claimed_at is None:
                claimed_at = now
            if self.claimer is None and now - started > self.claim_wait:
                why = f"no worker took it within {self.claim_wait:.0f} s"
                if queue.withdraw(request_id, why):
                    raise QueueError(f"{why}: {_why_none_took(queue)}")
                self.claimer = _taken_by(queue, request_id) or "?"  # at the last moment
            if self.claimer and now - looked >= self.look_every:
                looked = now
                due = claimed_at is not None and now - claimed_at >= self.proof_wait
                _check_still_taking(queue, request_id, self.claimer, proof_due=due and not shown)
            if now - started > self.result_wait:
                raise QueueError(
                    f"the worker took the request but did not end it in {self.result_wait:.0f} s"
                )
            self.sleep(self.poll)


def _why_none_took(queue: Queue) -> str:
    """What to do about a request no worker took in time: a worker taking requests is busy
    with another's (found reviewing: "is it still running?" of one that was)."""
    try:
        seen = queue.worker_seen()
    except SharedHistoryError:
        seen = None
    if seen is not None and seen.taking:
        return (
            f"the worker {seen.worker} is taking requests, one at a time, and was busy with "
            "others: run the job again once they are done"
        )
    return "is `pilot-tui server worker` still running?"


def _taken_by(queue: Queue, request_id: str) -> str | None:
    """Who took ``request_id`` (None: no one yet); QueueError when it was withdrawn, which
    this run did not do (another run may write a pull request's claim where none is)."""
    found = queue.claim_of(request_id)
    if found is None or found[0]:
        return None if found is None else found[0]
    if queue.result(request_id) is None:
        raise QueueError(
            f"the request was withdrawn, not by this run ({found[1] or 'no reason given'}), "
            "and no worker releases it: run the job again"
        )
    return found[0]


def _check_still_taking(
    queue: Queue, request_id: str, claimer: str, *, proof_due: bool = False
) -> None:
    """QueueError when the worker that took ``request_id`` stopped, has not beaten lately,
    or never beat here, or (``proof_due``) wrote no events file of it: a claim another
    run wrote, in a worker's name or none (a pull request's role may write a claim where
    none is); each only when it left no result."""
    seen = [s for s in queue.workers_seen() if s.worker == claimer]
    if seen and all(s.taking for s in seen):
        if not proof_due or queue.started(request_id) or queue.result(request_id) is not None:
            return
        raise QueueError(
            f"the request was claimed in the name of the worker {claimer}, which wrote "
            f"nothing of it in {PROOF_WAIT:.0f} s: another run may have claimed it; if "
            f"that worker's log names request {request_id}, it releases it still "
            "(`pilot-tui releases APP` shows how it ended), else run the job again"
        )
    if queue.result(request_id) is not None:
        return
    if not seen:
        raise QueueError(
            f"the request was claimed by {claimer!r}, which is no worker of this project "
            "(none of its heartbeats names it), and no worker releases it: run the job again"
        )
    raise QueueError(
        f"the deploy worker {describe_worker(seen[0])}, during this release: "
        "`pilot-tui status` shows what is live"
    )
