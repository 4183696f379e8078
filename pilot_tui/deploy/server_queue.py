"""Deploy requests through the state bucket: how a CI run deploys an app of the Pilot
Server without reaching it.

A runner reaches no Pilot Server (no SSH key or certificate, and the server admits only
``allowed_cidrs``), and no port is opened for it. So the run builds the image on its own
engine, pushes it to the project's registry, and leaves a request in the state bucket; a
worker that can reach the server (`pilot-tui server worker`, on a machine holding the
project's .pilot/) takes it, releases that image with the app's settings of the run's
commit and the secrets it holds itself, and writes back what happened. Nothing secret is
in the bucket: the request names an image and carries the commit's pilot.toml (which
holds no secret values); the events are the release's, redacted as every run log is.

Under ``pilot/deploys/`` in the bucket, per request ID (sortable by time):

- ``ID.request.json``: what to release (Request), written once by the run; a pull
  request's run's is ``preview-ID.preview-request.json`` (PULL_REQUEST_PART), the only
  request keys its role may write, which a worker takes for a pull request's preview
  alone (decided by the key, never the request's own words; and a worker older than
  previews, listing ``*.request.json``, never sees it);
- ``ID.claim.json``: who took it, written only where none is (If-None-Match / generation
  0): one worker releases it, or the run withdraws it when none took it in time (a
  pull request's role may create a request and a claim, never change one, and write no
  result: a run checks who claimed its request against the workers' heartbeats);
- ``ID.events.json``: the release's events so far, rewritten as they come;
- ``ID.result.json``: how it ended (Outcome).

``workers/NAME.json`` is each worker's heartbeat: a run asks for nothing when no worker
has beaten lately, and says so at once instead of waiting out its time. How a run waits
on its request is server_wait.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from pilot_tui.deploy import events, history
from pilot_tui.deploy.events import Event
from pilot_tui.deploy.shared_history import Changed, SharedHistory, SharedHistoryError
from pilot_tui.errors import EXIT_FAILED, EXIT_INVALID, PilotError

PREFIX = "pilot/deploys"
WORKERS = f"{PREFIX}/workers"  # each worker's heartbeat: WORKERS/NAME.json
PREVIEW_ID = "preview-"  # the start of a pull request's run's requests (new_id)
PULL_REQUEST_PART = "preview-request"  # its request's part: preview-ID.preview-request.json
PULL_REQUEST_PREVIEW = re.compile(r"pr-[0-9]{1,9}")  # the previews a pull request has
# A rollback's request: ROLLBACK_ID-ID.rollback-request.json, which a worker older than
# rollbacks never lists (it would take one for a release of no image).
ROLLBACK_ID = "rollback-"
ROLLBACK_PART = "rollback-request"
# What a worker of this Pilot takes, said in its heartbeat: a run asks for a rollback only
# of a worker that says it takes them (an older one would take it for a release).
TAKES = ("release", "preview", "rollback")
BEAT = 30.0  # seconds between a worker's heartbeats (S3 bills each write)
STALE = 120.0  # a heartbeat older than this: no worker is taking requests
CLAIM_WAIT = 120.0  # a request no worker took in this long is withdrawn by its run
# A request older than this is never released: its run withdrew it by then, or was killed
# before it could (found walking: a worker started later made two releases no one waited
# for).
EXPIRED = CLAIM_WAIT + 30.0
RESULT_WAIT = 3600.0  # the longest a run waits for a taken request's end
KEEP = 7 * 86400.0  # a finished request's records are removed after a week
FLUSH = 1.0  # seconds between writes of a release's events
# A claim whose worker wrote no events file (its proof: a pull request's role may write a
# claim, never events) within this long is not that worker's own.
PROOF_WAIT = 60.0

EVENT_TYPES: dict[str, type[Event]] = {
    t.__name__: t
    for t in (
        events.StageStarted,
        events.StageFinished,
        events.StageFailed,
        events.Output,
        events.Released,
    )
}


WORKER_HINT = (
    "start it where the project's .pilot/ is (a machine that reaches the Pilot Server): "
    "pilot-tui server worker; or on the Pilot Server itself: server.ci_worker = true in "
    "pilot.toml, `pilot-tui server up`, then a deploy from that machine starts it there"
)


@dataclass(frozen=True)
class Seen:
    """A worker's last heartbeat: who, how long ago (by the bucket's clock), and whether
    it said it stopped."""

    worker: str
    age: float
    stopped: bool
    arch: str = ""  # its Docker engine's CPU architecture (x86_64, aarch64), when known
    takes: tuple[str, ...] = ()  # what it takes (TAKES; () from a worker before rollbacks)

    @property
    def taking(self) -> bool:
        """Whether it takes requests now: it beat lately and did not say it stopped."""
        return not self.stopped and self.age <= STALE


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return f"{seconds / 60:.0f} min ago"


def describe_worker(seen: Seen | None) -> str:
    """The worker as `server status` and a refused run say it."""
    if seen is None:
        return "none has taken deploy requests yet (CI runs of the server's apps need one)"
    if seen.stopped:
        return f"{seen.worker}, stopped {_ago(seen.age)}"
    if seen.age > STALE:
        return f"{seen.worker}, last seen {_ago(seen.age)} (is it still running?)"
    return f"{seen.worker}, taking requests (seen {_ago(seen.age)})"


class QueueError(PilotError):
    """A request could not be made, taken or waited for; the message says why."""

    title = "Deploy request failed"


def new_id(now: float | None = None, *, preview: bool = False, rollback: bool = False) -> str:
    """A request ID: its UTC time to the millisecond first (requests sort by it: two runs
    a moment apart are released in order), then 6 random hex digits. A pull request's
    run's starts with PREVIEW_ID: the previews' role may write those keys alone, and the
    worker takes nothing from them but a preview of a pull request."""
    moment = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(moment))
    made = f"{stamp}.{int(moment * 1000) % 1000:03d}Z-{os.urandom(3).hex()}"
    return f"{PREVIEW_ID if preview else ROLLBACK_ID if rollback else ''}{made}"


def known_fields(kind: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The items of ``data`` that are fields of dataclass ``kind``: a record written by a
    newer Pilot, with more in it, is read all the same."""
    names = {f.name for f in dataclasses.fields(kind)}
    return {k: v for k, v in data.items() if k in names}


class Record:
    """A dataclass kept in the bucket as JSON."""

    def to_bytes(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode()  # type: ignore[call-overload]  # (a dataclass: its subclasses are)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Self:
        return cls(**known_fields(cls, json.loads(raw)))


@dataclass(frozen=True)
class Request(Record):
    """One release asked of the worker: ``image`` by digest (host/repository@sha256:...),
    the commit's pilot.toml (the app's settings come from it), who asked, and the deploy's
    own flags (``force``: release even when nothing changed; ``watch``: watch it live)."""

    id: str
    app: str
    image: str
    tag: str  # how the image was tagged where it was built (pilot/PROJECT-APP:CONTENT)
    commit: str | None
    by: str
    pilot_toml: str
    force: bool = False
    watch: bool = True
    # The app's preview to deploy or remove (its name: pr-NUMBER from a pull request's
    # run), None for the app itself; ``remove``: remove that preview (nothing is built).
    preview: str | None = None
    remove: bool = False
    # Set by the worker from the request's key (Queue.pending), whatever the JSON says.
    pull_request: bool = False
    # A rollback of the app (nothing is built or pulled): to ``rollback_to``, or with None
    # to the release before the live one, as `pilot-tui rollback APP [RELEASE]`. Set by the
    # worker from the key too (ROLLBACK_PART).
    rollback: bool = False
    rollback_to: str | None = None
    # The live release the run saw when it chose ``rollback_to``: a worker that finds
    # another live by then refuses (a release came between: found reviewing).
    live_seen: str | None = None


@dataclass(frozen=True)
class Outcome(Record):
    """How a request ended: the release made (``release``), or the stage that failed, why,
    and the exit code the run ends with."""

    ok: bool
    release: dict[str, Any] | None = None
    stage: str = ""
    message: str = ""
    exit_code: int = EXIT_FAILED
    by: str = ""  # the worker that ran it ("" when none did)
    request: str = ""  # the request's ID and app (what `server worker --json` lists)
    app: str = ""
    removed: list[str] = dataclasses.field(default_factory=list)  # a removal's: what went

    def made(self) -> history.Release | None:
        """The release made, as the history records it."""
        if self.release is None:
            return None
        return history.Release(**known_fields(history.Release, self.release))


def event_data(event: Event) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    data["type"] = type(event).__name__
    return data


def event_from(data: dict[str, Any]) -> Event | None:
    """The event ``data`` holds; None for a kind this Pilot does not know (a newer one's)."""
    kind = EVENT_TYPES.get(str(data.get("type")))
    if kind is None:
        return None
    values = known_fields(kind, data)
    if "logs" in values:
        values["logs"] = tuple(values["logs"])
    return kind(**values)


@dataclass
class Queue:
    """The deploy requests in one state bucket."""

    store: SharedHistory

    def key(self, request_id: str, part: str) -> str:
        if part == "request" and request_id.startswith(PREVIEW_ID):
            part = PULL_REQUEST_PART
        elif part == "request" and request_id.startswith(ROLLBACK_ID):
            part = ROLLBACK_PART
        return f"{PREFIX}/{request_id}.{part}.json"

    def _create(self, key: str, data: bytes) -> bool:
        """Write ``key`` only where there is none; False when someone else's is there. A
        retry of this very write (its first answer lost) finds its own bytes: written."""
        try:
            self.store.put_if(key, data, "")
        except Changed:
            found = self.store.read_stored(key)
            return found is not None and found.data == data
        return True

    # -- the workers' heartbeats ----------------------------------------------------------
    def beat(self, worker: str, *, stopped: bool = False, arch: str = "") -> None:
        data = {"worker": worker, "stopped": stopped, "arch": arch, "takes": list(TAKES)}
        self.store.put_if(_beat_key(worker), json.dumps(data).encode(), None)

    def workers_seen(self) -> list[Seen]:
        """Each worker's last heartbeat, the newest first."""
        seen = []
        for key in self.store.keys(f"{WORKERS}/"):
            found = self.store.read_stored(key)
            if found is None:
                continue
            try:
                data = json.loads(found.data)
            except ValueError:
                continue
            seen.append(
                Seen(
                    str(data.get("worker", "?")),
                    found.age,
                    bool(data.get("stopped")),
                    str(data.get("arch") or ""),
                    tuple(str(t) for t in data.get("takes") or ()),
                )
            )
        return sorted(seen, key=lambda s: s.age)

    def worker_seen(self) -> Seen | None:
        """The worker taking requests now, else the one seen last; None when none ever
        beat here."""
        seen = self.workers_seen()
        return next((s for s in seen if s.taking), seen[0] if seen else None)

    def worker_taking(self) -> Seen:
        """The worker taking this project's requests now; QueueError when none is: a run
        then asks for nothing, and says what to start."""
        seen = self.worker_seen()
        if seen is None:
            raise QueueError(f"no worker takes this project's deploy requests: {WORKER_HINT}")
        if not seen.taking:
            raise QueueError(f"the deploy worker {describe_worker(seen)}: {WORKER_HINT}")
        return seen

    # -- a run's side ---------------------------------------------------------------------
    def submit(self, request: Request) -> None:
        if not self._create(self.key(request.id, "request"), request.to_bytes()):
            raise QueueError(f"a request {request.id} is there already")

    def withdraw(self, request_id: str, why: str) -> bool:
        """Claim ``request_id`` for no one, so no worker takes it later; False when a
        worker took it first."""
        if not self._create(self.key(request_id, "claim"), _claim("", why)):
            return False
        if not request_id.startswith(PREVIEW_ID):  # a result is a worker's alone to write
            self.finish(request_id, Outcome(False, stage="deploy", message=why))
        return True

    def claimer(self, request_id: str) -> str | None:
        """The worker that took ``request_id`` ("" when it was withdrawn), or None when
        none has."""
        found = self.claim_of(request_id)
        return None if found is None else found[0]

    def claim_of(self, request_id: str) -> tuple[str, str] | None:
        """(the worker that took ``request_id``, why it was withdrawn): ("", why) when it
        was, None when no one has taken it."""
        found = self.store.read_stored(self.key(request_id, "claim"))
        if found is None:
            return None
        try:
            data = json.loads(found.data)
        except ValueError:
            return "", "its claim cannot be read"
        return str(data.get("worker") or ""), str(data.get("withdrawn") or "")

    def result(self, request_id: str) -> Outcome | None:
        found = self.store.read_stored(self.key(request_id, "result"))
        return None if found is None else Outcome.from_bytes(found.data)

    def started(self, request_id: str) -> bool:
        """Whether the worker that took ``request_id`` wrote its events file (at once, as
        it claims: Worker.take), which no pull request's run may write."""
        return self.store.read_stored(self.key(request_id, "events")) is not None

    def events(self, request_id: str) -> list[Event]:
        found = self.store.read_stored(self.key(request_id, "events"))
        if found is None:
            return []
        return [e for e in map(event_from, json.loads(found.data)) if e is not None]

    # -- the worker's side ----------------------------------------------------------------
    def pending(self) -> list[Request]:
        """The requests no one took yet, oldest first."""
        keys = set(self.store.keys(f"{PREFIX}/"))
        found = []
        for key in sorted(keys):
            request_id, pull_request, rollback = _request_of(key)
            if request_id is None or self.key(request_id, "claim") in keys:
                continue
            stored = self.store.read_stored(key)
            if stored is None:  # removed meanwhile
                continue
            try:
                request = Request.from_bytes(stored.data)
            except (ValueError, TypeError):  # not one of ours: left for tidy() to remove
                continue
            # Whose it is, by its key: the words in it are the writer's (found reviewing: a
            # pull request's, naming another ID, was released as the app's own).
            found.append(
                dataclasses.replace(
                    request, id=request_id, pull_request=pull_request, rollback=rollback
                )
            )
        # In the order they were asked, whatever their kind (found reviewing: by key, every
        # rollback came after every deploy, and one asked first undid a later fix).
        return sorted(found, key=lambda r: _asked_at(r.id))

    def claim(self, request_id: str, worker: str) -> float | None:
        """Take ``request_id`` for ``worker``: the request's age then (seconds, by the
        bucket's clock), or None when someone took it first."""
        if not self._create(self.key(request_id, "claim"), _claim(worker, "")):
            return None
        try:  # taken now, whatever this read says: the taker must end it
            found = self.store.read_stored(self.key(request_id, "request"))
        except SharedHistoryError:
            return 0.0
        return 0.0 if found is None else found.age

    def write_events(self, request_id: str, made: list[Event]) -> None:
        data = json.dumps([event_data(e) for e in made]).encode()
        self.store.put_if(self.key(request_id, "events"), data, None)

    def finish(self, request_id: str, outcome: Outcome) -> None:
        self.store.put_if(self.key(request_id, "result"), outcome.to_bytes(), None)

    def tidy(self, older_than: float = KEEP) -> int:
        """Remove the records of requests that ended more than ``older_than`` seconds ago
        (and of any older than that never ended), and heartbeats as old; how many requests
        went."""
        keys = self.store.keys(f"{PREFIX}/")
        ids = {
            k.removeprefix(f"{PREFIX}/").rsplit(".", 2)[0]
            for k in keys
            if k.endswith(".json") and not k.startswith(f"{WORKERS}/")
        }  # (ID.part.json: a pull request's part name has no dot)
        gone = 0
        for request_id in sorted(ids):
            first = self.store.read_stored(self.key(request_id, "request"))
            if first is not None and first.age < older_than:
                continue
            for part in ("request", "claim", "events", "result"):
                if self.key(request_id, part) in keys:
                    self.store.delete(self.key(request_id, part))
            gone += 1
        for key in (k for k in keys if k.startswith(f"{WORKERS}/")):
            beat = self.store.read_stored(key)
            if beat is not None and beat.age >= older_than:
                self.store.delete(key)
        return gone


def _request_of(key: str) -> tuple[str | None, bool, bool]:
    """(the request's ID, whether it is a pull request's, whether a rollback) of a
    request's key; (None, ...) for another record, or a branch's request key whose ID
    says pull request or rollback (nobody writes those: its claim and result would be
    looked for under the other name)."""
    name = key.removeprefix(f"{PREFIX}/")
    if "/" in name:
        return None, False, False
    for start, part, pull_request, rollback in (
        (PREVIEW_ID, PULL_REQUEST_PART, True, False),
        (ROLLBACK_ID, ROLLBACK_PART, False, True),
    ):
        if name.startswith(start) and name.endswith(f".{part}.json"):
            return name.removesuffix(f".{part}.json"), pull_request, rollback
    if name.endswith(".request.json") and not name.startswith((PREVIEW_ID, ROLLBACK_ID)):
        return name.removesuffix(".request.json"), False, False
    return None, False, False


def _asked_at(request_id: str) -> str:
    """``request_id`` without its kind's prefix: its time first (new_id), sortable."""
    return request_id.removeprefix(PREVIEW_ID).removeprefix(ROLLBACK_ID)


def _beat_key(worker: str) -> str:
    return f"{WORKERS}/{re.sub(r'[^A-Za-z0-9_.@-]', '_', worker)}.json"


def _claim(worker: str, why: str) -> bytes:
    # The nonce: two workers' claims are never the same bytes (Queue._create).
    return json.dumps({"worker": worker, "withdrawn": why, "nonce": os.urandom(8).hex()}).encode()


class EventsWriter:
    """A release's events, written to the bucket at most every FLUSH seconds: by the emit
    that comes a FLUSH after the last write, else by a thread of its own a FLUSH later (a
    release may say nothing for a minute while it is watched: what came before is shown
    meanwhile), and at the end: what the run waiting on it shows as they come."""

    def __init__(self, queue: Queue, request_id: str, clock: Callable[[], float] = time.monotonic):
        self.queue, self.request_id, self.clock = queue, request_id, clock
        self.made: list[Event] = []
        self.written = 0
        self.last = 0.0
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.flusher = threading.Thread(target=self._flush_later, daemon=True)
        self.flusher.start()

    def emit(self, event: Event) -> None:
        event = events.redacted(event)  # the run cannot mask what only this machine holds
        with self.lock:
            self.made.append(event)
            if self.clock() - self.last >= FLUSH:
                self._write()

    def close(self) -> None:
        self.closed.set()
        self.flusher.join(timeout=5)
        with self.lock:
            if self.written < len(self.made):
                self._write()

    def _flush_later(self) -> None:
        while not self.closed.wait(FLUSH):
            with self.lock:
                if self.written < len(self.made):
                    self._write()

    def _write(self) -> None:
        self.last = self.clock()
        try:
            self.queue.write_events(self.request_id, self.made)
        except SharedHistoryError:  # shown late or not at all; the result still says it
            return
        self.written = len(self.made)


def refused(message: str) -> Outcome:
    """The outcome of a request the worker will not release (bad input: exit 2)."""
    return Outcome(False, stage="deploy", message=message, exit_code=EXIT_INVALID)
