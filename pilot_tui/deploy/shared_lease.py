"""One deploy of an app at a time, wherever it runs: a lease kept in the state bucket beside
the release histories (``pilot/locks/APP.json``), taken by every deploy, rollback and
preview deploy that shares its history.

The Docker host's lock (lock.py) holds deploys apart only where they share an engine: a
CI run builds on its runner's own, and a zip Lambda's or a site's deploy opens none. The
bucket is what they all reach. A lease is written only over the version read (S3's
If-Match / If-None-Match, GCS's generation match), so two deployers cannot both take it.
It lapses LEASE seconds after it was last renewed (its holder renews it every RENEW
seconds while it deploys): a deploy killed outright (a cancelled CI job, a laptop closed)
holds the app for minutes, not forever; `--break-lock` ends one at once. How long ago it
was renewed is the bucket's to say (S3's Last-Modified against its answer's Date), so
deployers whose clocks disagree still agree on it (GCS's client hands out no Date: the
reader's clock against the object's update time, there).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from pilot_tui.deploy.lease_rules import LEASE, RENEW, given_up, key
from pilot_tui.deploy.shared_history import Changed, NoBucket, SharedHistory
from pilot_tui.errors import PilotError

POLL = 2.0  # seconds between looks while waiting for a holder to finish

Say = Callable[[str], None]


class LeaseHeld(PilotError):
    """Someone else is deploying this app; the message says who, since when, and when
    their lease lapses unless renewed."""

    title = "App is locked"


@dataclass(frozen=True)
class Holding:
    """A lease as the bucket keeps it."""

    holder: str  # who deploys (notify.who: a person and their git identity, or a CI run)
    what: str  # "deploy", "rollback", "preview"
    since: float  # seconds since the epoch, by the holder's clock (said, never compared)
    renewed: float  # the same, at its last renewal (a new one each time: its bytes change)
    released: bool = False
    token: str = ""  # this taking's own (random): tells it from another's by the same holder

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
                float(found["renewed"]),
                bool(found.get("released", False)),
                str(found.get("token", "")),
            )
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class Found:
    """What the bucket holds for an app's lease."""

    holding: Holding | None  # None: none, or unreadable
    version: str  # "": none there
    age: float  # seconds since it was last written, by the bucket's clock

    @property
    def free(self) -> bool:
        return self.holding is None or given_up(self.holding.released, self.age, LEASE)


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _read(store: SharedHistory, app: str, *, make: bool = True) -> Found:
    """The app's lease as the bucket keeps it; the bucket made first when no `server up`
    made it (home = "host", a sandbox), with ``make`` (else NoBucket)."""
    try:
        stored = store.read_stored(key(app))
    except NoBucket:
        if not make or not store.make_bucket():
            raise
        stored = store.read_stored(key(app))
    if stored is None:
        return Found(None, "", 0.0)
    return Found(Holding.from_bytes(stored.data), stored.version, stored.age)


def held(store: SharedHistory, app: str) -> Holding | None:
    """Who holds ``app``'s lease now (a deploy under way), or None when it is free (or
    there is no bucket: a look never makes one, as _read does)."""
    try:
        found = _read(store, app, make=False)
    except NoBucket:
        return None
    return None if found.free else found.holding


def _put(store: SharedHistory, app: str, holding: Holding, version: str) -> str:
    """``holding`` written over ``version`` only; the version written. A retried write
    whose first answer was lost (the SDKs retry) finds its own bytes there: that is ours,
    not a Changed."""
    data = holding.to_bytes()
    try:
        return store.put_if(key(app), data, version)
    except Changed:
        stored = store.read_stored(key(app))
        if stored is not None and stored.data == data:
            return stored.version
        raise


@dataclass
class Lease:
    """A lease this process holds, renewed in the background until released."""

    store: SharedHistory
    app: str
    holding: Holding
    version: str
    clock: Callable[[], float] = time.time
    say: Say = field(default=lambda line: None)
    lost: bool = False  # taken over or broken meanwhile: no longer ours (said once)
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
            renewed = replace(self.holding, renewed=self.clock())
            try:
                self.version = _put(self.store, self.app, renewed, self.version)
            except Changed:
                self.lost = True
                self.say(
                    f"warning: the deploy lock of {self.app} in the state bucket was broken or "
                    "taken over meanwhile (--break-lock elsewhere, or this deploy could not "
                    f"renew it for {LEASE:.0f} s): another deploy of {self.app} may run now"
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
            try:
                _put(self.store, self.app, replace(self.holding, released=True), self.version)
            except Changed:
                pass  # broken or taken over meanwhile: not ours to give back
            except PilotError as exc:
                self.say(
                    f"warning: the deploy lock of {self.app} was not given back ({exc}); it "
                    f"lapses by itself {LEASE:.0f} s after its last renewal"
                )
            self.lost = True  # given back: never again


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
    LeaseHeld when it is still held then, naming who holds it and when it lapses."""
    deadline = clock() + wait
    said = made = False
    while True:
        found = _read(store, app)
        now = clock()
        current = found.holding
        if found.free:
            mine = Holding(holder, what, now, now, token=secrets.token_hex(8))
            try:
                written = _put(store, app, mine, found.version)
            except Changed:
                continue  # another deployer took it first: look again
            except NoBucket:  # (GCS reads a missing bucket as a missing object)
                if made or not store.make_bucket():
                    raise
                made = True
                continue
            except BaseException:  # Ctrl+C: the write may have been made, its answer not had
                _give_back_if_ours(store, app, mine)
                raise
            if current is not None and not current.released:
                say(
                    f"took over the deploy lock of {app}: {current.holder}'s was last renewed "
                    f"{found.age:.0f} s ago (its deploy stopped without giving it back)"
                )
            lease = Lease(store, app, mine, written, clock, say)
            lease.start(renew_every)
            return lease
        assert current is not None  # (a free lease is taken above)
        if now >= deadline:
            raise LeaseHeld(
                f"{app} is being deployed by {current.holder} (a {current.what} since "
                f"{_stamp(current.since)}; its lock in the state bucket, "
                f"{store.kind}://{store.bucket}/{key(app)}, lapses in "
                f"{max(LEASE - found.age, 0):.0f} s unless it is renewed). Wait for it "
                "(--wait SECONDS), or if that deploy was killed, break the lock with "
                "--break-lock."
            )
        if not said:
            say(f"waiting for {current.holder}'s {current.what} of {app} to finish")
            said = True
        sleep(min(POLL, max(deadline - now, 0.0)))


def _give_back_if_ours(store: SharedHistory, app: str, mine: Holding) -> None:
    """The lease given back when the bucket holds this very taking of it (its token),
    whatever else is failing: an interrupted take leaves no lease behind."""
    with contextlib.suppress(Exception):
        stored = store.read_stored(key(app))
        held = Holding.from_bytes(stored.data) if stored is not None else None
        if stored is not None and held is not None and held.token == mine.token:
            store.put_if(key(app), replace(held, released=True).to_bytes(), stored.version)


def break_lease(store: SharedHistory, app: str) -> bool:
    """End ``app``'s lease whoever holds it; whether one was held."""
    found = _read(store, app)
    if found.free or found.holding is None:
        return False
    try:
        _put(store, app, replace(found.holding, released=True), found.version)
    except Changed:
        return break_lease(store, app)  # it changed meanwhile: look again
    return True
