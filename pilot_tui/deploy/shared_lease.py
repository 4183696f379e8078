"""One deploy of an app at a time, wherever it runs: a lease kept in the state bucket beside
the release histories (``pilot/locks/APP.json``), taken by every deploy, rollback and
preview deploy that shares its history.

The Docker host's lock (lock.py) holds deploys apart only where they share an engine: a
CI run builds on its runner's own, and a zip Lambda's or a site's deploy opens none. The
bucket is what they all reach. A lease is written only over the version read (S3's
If-Match / If-None-Match, GCS's generation match), so two deployers cannot both take it.
It lapses LEASE seconds after it was last renewed (its holder renews it every RENEW
seconds while it deploys): a deploy killed outright (a cancelled CI job, a laptop closed)
holds the app for minutes, not forever; `deploy --break-lock` ends one at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from pilot_tui.deploy.shared_history import Changed, SharedHistory, SharedHistoryError
from pilot_tui.errors import PilotError

LOCKS = "pilot/locks"
LEASE = 300.0  # seconds a lease holds without being renewed
RENEW = 60.0  # seconds between its holder's renewals
POLL = 2.0  # seconds between looks while waiting for a holder to finish

Say = Callable[[str], None]


class LeaseHeld(PilotError):
    """Someone else is deploying this app; the message says who, since when, and until
    when their lease holds."""

    title = "App is locked"


@dataclass(frozen=True)
class Holding:
    """A lease as the bucket keeps it."""

    holder: str  # who deploys (notify.who: a person and their git identity, or a CI run)
    what: str  # "deploy", "rollback", "preview"
    since: float  # seconds since the epoch
    until: float  # lapses then, unless renewed
    released: bool = False

    def free(self, now: float) -> bool:
        return self.released or self.until <= now

    def to_bytes(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Holding | None:
        """None when it cannot be read (a garbled lease is taken as free: it guards
        nothing)."""
        try:
            found = json.loads(raw)
            return cls(
                str(found["holder"]),
                str(found.get("what", "deploy")),
                float(found["since"]),
                float(found["until"]),
                bool(found.get("released", False)),
            )
        except (ValueError, TypeError, KeyError):
            return None


def key(app: str) -> str:
    return f"{LOCKS}/{app}.json"


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass
class Lease:
    """A lease this process holds, renewed in the background until released."""

    store: SharedHistory
    app: str
    holding: Holding
    version: str
    clock: Callable[[], float] = time.time
    say: Say = field(default=lambda line: None)
    lost: str = ""  # why it is no longer ours (taken over, broken): said once
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _renewer: threading.Thread | None = None

    def start(self, every: float = RENEW) -> None:
        self._renewer = threading.Thread(
            target=self._renew_until_stopped, args=(every,), name=f"lease {self.app}", daemon=True
        )
        self._renewer.start()

    def _renew_until_stopped(self, every: float) -> None:
        while not self._stop.wait(every):
            if not self.renew():
                return

    def renew(self) -> bool:
        """The lease held LEASE seconds more; False when it is no longer ours (said)."""
        with self._lock:
            if self.lost or self._stop.is_set():
                return False
            renewed = Holding(**{**asdict(self.holding), "until": self.clock() + LEASE})
            try:
                self.version = self.store.put_if(key(self.app), renewed.to_bytes(), self.version)
            except Changed:
                self.lost = "taken over or broken"
                self.say(
                    f"warning: the deploy lock of {self.app} in the state bucket was broken or "
                    "taken over meanwhile (--break-lock elsewhere, or this deploy stalled past "
                    f"its {LEASE:.0f} s lease): another deploy of {self.app} may run now"
                )
                return False
            except PilotError as exc:  # the bucket unreachable a moment: tried again
                self.say(f"warning: the deploy lock of {self.app} was not renewed: {exc}")
                return True
            self.holding = renewed
            return True

    def release(self) -> None:
        """Given back (written released, over our own version only: one taken over since
        is the new holder's)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=30)
        with self._lock:
            if self.lost:
                return
            done = Holding(**{**asdict(self.holding), "released": True})
            try:
                self.store.put_if(key(self.app), done.to_bytes(), self.version)
            except Changed:
                pass  # broken or taken over meanwhile: not ours to give back
            except PilotError as exc:
                self.say(
                    f"warning: the deploy lock of {self.app} was not given back ({exc}); it "
                    f"lapses by itself at {_stamp(self.holding.until)}"
                )


def take(
    store: SharedHistory,
    app: str,
    holder: str,
    what: str,
    *,
    wait: float = 0.0,
    say: Say = lambda line: None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    renew_every: float = RENEW,
) -> Lease:
    """Take ``app``'s lease, waiting up to ``wait`` seconds for its holder to finish;
    LeaseHeld when it is still held then, naming who holds it and until when."""
    deadline = clock() + wait
    said = made = False
    while True:
        try:
            raw, version = store.read_versioned(key(app))
        except SharedHistoryError:
            if made or not store.make_bucket():
                raise
            made = True  # no `server up` made the bucket: made now, looked at again
            continue
        current = Holding.from_bytes(raw) if raw is not None else None
        now = clock()
        if current is None or current.free(now):
            mine = Holding(holder, what, now, now + LEASE)
            try:
                written = store.put_if(key(app), mine.to_bytes(), version)
            except Changed:
                continue  # another deployer took it first: look again
            if current is not None and not current.released:
                say(
                    f"took over the deploy lock of {app}: {current.holder}'s lapsed at "
                    f"{_stamp(current.until)} (its deploy stopped without giving it back)"
                )
            lease = Lease(store, app, mine, written, clock, say)
            lease.start(renew_every)
            return lease
        if now >= deadline:
            raise LeaseHeld(
                f"{app} is being deployed by {current.holder} (a {current.what} since "
                f"{_stamp(current.since)}; its lock in the state bucket, "
                f"{store.kind}://{store.bucket}/{key(app)}, lapses at {_stamp(current.until)} "
                "unless it goes on). Wait for it (--wait SECONDS), or if that deploy was "
                "killed, break the lock with --break-lock."
            )
        if not said:
            say(f"waiting for {current.holder}'s {current.what} of {app} to finish")
            said = True
        sleep(min(POLL, max(deadline - now, 0.0)))


def break_lease(store: SharedHistory, app: str, clock: Callable[[], float] = time.time) -> bool:
    """End ``app``'s lease whoever holds it; whether one was held."""
    raw, version = store.read_versioned(key(app))
    current = Holding.from_bytes(raw) if raw is not None else None
    if current is None or current.free(clock()):
        return False
    ended = Holding(**{**asdict(current), "released": True})
    try:
        store.put_if(key(app), ended.to_bytes(), version)
    except Changed:
        return break_lease(store, app, clock)  # it changed meanwhile: look again
    return True
