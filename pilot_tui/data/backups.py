"""Backups of a database: a dump streamed from its container to the backup store, with a
record beside it that says what a restore must find again.

Store layout, per database ``NAME`` (``stores`` adds ``backups/`` in a bucket):

- ``NAME/ID.dump``: the dump (Postgres: ``pg_dump -Fc``), written as it is made;
- ``NAME/ID.json``: its record (size, sha256, seconds, each table's row count), written
  last: a backup without its record never finished and is not listed;
- ``NAME/drills.json``: the last drills' results.

IDs are UTC times (``20261203T101500Z``): sorted by name, oldest first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pilot_tui.data import execs
from pilot_tui.data.stores import BackupStore, StoreError
from pilot_tui.errors import PilotError

if TYPE_CHECKING:
    from docker import DockerClient

    from pilot_tui.data.kinds import Kind

Say = Callable[[str], None]
COUNT_PREFIX = "pilot-count\t"
ROLE_PREFIX = "pilot-role\t"
SIZE_PREFIX = "pilot-size\t"
DRILLS_KEPT = 50


class BackupError(PilotError):
    """A backup could not be taken, found or read; ``logs`` holds the tool's last lines."""

    title = "Backup problem"

    def __init__(self, message: str, logs: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.logs = logs


@dataclass(frozen=True)
class BackupRecord:
    """What a backup holds, written once its dump is complete."""

    id: str
    database: str
    kind: str
    version: int
    format: str
    key: str  # the dump, in the store
    created: str  # ISO 8601, UTC
    size: int
    sha256: str
    seconds: float
    tables: dict[str, int] = field(default_factory=dict)
    database_bytes: int = 0  # its size on disk when dumped: the room a restore needs
    roles: str = ""  # SQL making the roles its objects name (no passwords)

    @property
    def rows(self) -> int:
        """Rows (Postgres) or keys (Redis: its "expires" count is some of its keys)."""
        return sum(n for table, n in self.tables.items() if table != "expires")

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> BackupRecord:
        data = json.loads(raw)
        data["tables"] = {str(k): int(v) for k, v in dict(data.get("tables", {})).items()}
        return cls(**data)


@dataclass(frozen=True)
class DrillRecord:
    """One drill: a backup restored into a throwaway database and checked."""

    at: str
    backup: str
    ok: bool
    seconds: float
    detail: str


@dataclass(frozen=True)
class ScheduledRun:
    """The backup agent's last run for a database (``NAME/schedule.json``): written by the
    agent after each run, read by it again after a restart (a missed run is taken late)
    and by ``db list``, ``db status`` and the Data screen."""

    at: str  # ISO 8601, UTC: when it started
    ok: bool
    detail: str  # the backup taken, or why none was
    schedule: str
    next: str  # ISO 8601, UTC


SCHEDULED_RUN = "schedule.json"


def scheduled_run(store: BackupStore, database: str) -> ScheduledRun | None:
    """The agent's last run for ``database``; None when it has run none (or its record
    cannot be read: the next run writes it again)."""
    raw = store.read(f"{database}/{SCHEDULED_RUN}")
    if raw is None:
        return None
    with contextlib.suppress(ValueError, TypeError, KeyError):
        return ScheduledRun(**json.loads(raw))
    return None


def record_scheduled_run(store: BackupStore, database: str, run: ScheduledRun) -> None:
    store.write(f"{database}/{SCHEDULED_RUN}", json.dumps(asdict(run), indent=2).encode())


def new_id(now: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def records(store: BackupStore, database: str) -> list[BackupRecord]:
    """The database's finished backups, oldest first; an unreadable record is an error
    naming it (never silently one backup fewer)."""
    found = []
    for key in store.keys(database):
        if RECORD_NAME.fullmatch(key.rsplit("/", 1)[-1]) is None:
            continue  # a dump, drills.json, the agent's schedule.json
        raw = store.read(key)
        if raw is None:
            continue  # removed meanwhile (a teammate's backup pruned it)
        try:
            found.append(BackupRecord.from_json(raw))
        except (ValueError, TypeError, KeyError) as exc:
            raise BackupError(f"{store.where(key)} is not a backup record: {exc}") from exc
    return sorted(found, key=_in_order)


def _in_order(record: BackupRecord) -> tuple[str, int]:
    """By time, then by suffix: X, X-2, ..., X-10 (as text X-10 came before X-2)."""
    base, _, suffix = record.id.partition("-")
    return base, int(suffix) if suffix.isdigit() else 1


def record_for(store: BackupStore, database: str, wanted: str | None) -> BackupRecord:
    """Backup ``wanted``, else the newest."""
    known = records(store, database)
    if not known:
        raise BackupError(
            f"database {database} has no backup in {store.where(database)}: take one with "
            f"pilot-tui db backup {database}"
        )
    if wanted is None:
        return known[-1]
    for record in known:
        if record.id == wanted:
            return record
    ids = ", ".join(r.id for r in known[-5:])
    raise BackupError(f"database {database} has no backup {wanted!r} (newest: {ids})")


@dataclass(frozen=True)
class DumpPlan:
    """How a database is dumped, as data: made here from its ``Kind``, and read by the
    backup agent on the Docker host from its settings (which has no ``Kind``: its image
    carries the standard library only)."""

    database: str
    kind: str
    version: int
    format: str
    extension: str
    command: list[str]
    environment: dict[str, str]
    # Ends the sessions of a backup cut short; its name comes in PILOT_APP.
    stop_command: list[str] | None = None
    stop_environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, kind: Kind, password: str) -> DumpPlan:
        """Postgres dumps over its container's own socket (no password); Redis's
        ``redis-cli`` needs the password."""
        dump = kind.dump(password)
        if dump is None or kind.dump_format is None:
            raise BackupError(f"backups of {kind.kind} databases are not offered yet")
        stop = kind.stop_sessions()
        return cls(
            kind.name,
            kind.kind,
            int(kind.settings.version),
            kind.dump_format,
            kind.dump_extension,
            *dump,
            *(stop if stop is not None else (None, {})),
        )


def take(
    client: DockerClient,
    kind: Kind,
    store: BackupStore,
    *,
    keep: int,
    say: Say,
    now: float | None = None,
) -> tuple[BackupRecord, list[str]]:
    """Dump the running database into the store; its record and the IDs ``keep`` pruned.
    (A managed database is dumped by ``managed_client.take``.)"""
    from pilot_tui.data import docker_db

    found = docker_db.find(client, kind)
    kind, container = found.kind, found.container
    if container is None or container.status != "running":
        raise BackupError(
            f"{kind.what} is not running ({found.state}): deploy an app it lists to start it"
        )
    # Just started (a restart, a teammate's deploy): wait until it takes connections.
    password = docker_db.made_with(kind, container) or ""
    docker_db.wait_ready(container, kind, password)
    plan = DumpPlan.of(kind, password)
    return dump_into(client, str(container.id), plan, store, keep=keep, say=say, now=now)


def dump_into(
    client: execs.HasExecAPI,  # the docker SDK's client, or the backup agent's own
    container_id: str,
    plan: DumpPlan,
    store: BackupStore,
    *,
    keep: int,
    say: Say,
    now: float | None = None,
) -> tuple[BackupRecord, list[str]]:
    """Stream ``plan``'s dump from the running container into the store, write its
    record, prune beyond ``keep``: the backup, wherever it is started from."""
    backup_id = claim_id(store, plan.database, now)
    try:
        return _dump_as(backup_id, client, container_id, plan, store, keep=keep, say=say, now=now)
    finally:
        # Never in the way of the dump's own error; one left is pruned a day later.
        with contextlib.suppress(Exception):
            store.delete(_claim_key(plan.database, backup_id))


def _dump_as(
    backup_id: str,
    client: execs.HasExecAPI,
    container_id: str,
    plan: DumpPlan,
    store: BackupStore,
    *,
    keep: int,
    say: Say,
    now: float | None,
) -> tuple[BackupRecord, list[str]]:
    key = f"{plan.database}/{backup_id}.{plan.extension}"
    what = f"{plan.kind} {plan.version} database {plan.database}"
    say(f"dumping {what} ({plan.format}) to {store.where(key)}")
    started = time.monotonic()
    tables: dict[str, int] = {}
    roles: list[str] = []
    database_bytes = 0

    def on_error_line(line: str) -> None:
        nonlocal database_bytes
        if line.startswith(ROLE_PREFIX):
            roles.append(line[len(ROLE_PREFIX) :])
            return
        if line.startswith(SIZE_PREFIX) and line[len(SIZE_PREFIX) :].isdigit():
            database_bytes = int(line[len(SIZE_PREFIX) :])
            return
        counted = parse_count(line.removeprefix(COUNT_PREFIX))
        if line.startswith(COUNT_PREFIX) and counted is not None:
            tables[counted[0]] = counted[1]
        elif line.strip():
            say(f"  {line}")

    # Named, so a backup cut short (Ctrl+C, the store failing) stops its sessions too.
    app_name = f"pilot-backup-{backup_id}"
    environment = {**plan.environment, "PGAPPNAME": app_name}
    streamed = execs.stream_out(client, container_id, plan.command, environment, on_error_line)
    digest, size = hashlib.sha256(), 0
    try:
        with store.writer(key) as sink:
            for chunk in _progress(streamed.chunks(), say):
                digest.update(chunk)
                sink.write(chunk)
                size += len(chunk)
            finished = streamed.finished
            if finished is None or finished.exit_code != 0:
                code = "?" if finished is None else finished.exit_code
                tail = finished.tail() if finished is not None else ()
                raise BackupError(f"the dump of {what} failed (exit status {code})", tail)
    except BaseException:
        if plan.stop_command is not None:
            with contextlib.suppress(Exception):  # best effort: the error says what failed
                stop_environment = {**plan.stop_environment, "PILOT_APP": app_name}
                execs.run_in(client, container_id, plan.stop_command, stop_environment)
        raise
    record = BackupRecord(
        id=backup_id,
        database=plan.database,
        kind=plan.kind,
        version=plan.version,
        format=plan.format,
        key=key,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        size=size,
        sha256=digest.hexdigest(),
        seconds=round(time.monotonic() - started, 3),
        tables=dict(sorted(tables.items())),
        database_bytes=database_bytes,
        roles="\n".join(roles).strip(),
    )
    store.write(f"{plan.database}/{backup_id}.json", record.to_json())
    try:
        pruned = prune(store, plan.database, keep, now)
    except PilotError as exc:  # the backup is whole and kept: only the pruning failed
        say(f"warning: backup {backup_id} is kept, but older ones were not pruned: {exc}")
        pruned = []
    return record, pruned


def parse_count(line: str) -> tuple[str, int] | None:
    """``TABLE<TAB>ROWS`` as (table, rows), else None."""
    table, _, rows = line.rpartition("\t")
    return (table, int(rows)) if table and rows.isdigit() else None


def mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def claim_id(store: BackupStore, database: str, now: float | None = None) -> str:
    """An ID for a backup starting now, held by this taker alone until ``dump_into`` lets
    it go: this second's, with a suffix when a backup of this second exists or another
    taker holds it. Held by ``DB/ID.taking``, made only where there is none: two takers in
    one second (the agent's schedule and ``db backup --on-server``, two teammates) would
    otherwise write one dump over the other."""
    wanted = new_id(now)
    holder = f"{socket.gethostname()} pid {os.getpid()}\n".encode()  # for whoever looks
    taken = {key.rsplit("/", 1)[-1].split(".", 1)[0] for key in store.keys(database)}
    for n in range(1, CLAIM_TRIES + 1):
        candidate = wanted if n == 1 else f"{wanted}-{n}"
        claim = _claim_key(database, candidate)
        # (A client's retry of a create whose answer was lost finds its own claim: that
        # ID is skipped, and its claim pruned a day later. Safe, if one ID wasted.)
        if candidate in taken or not store.create(claim, holder):
            continue
        try:
            # Its record, read again: a taker that held it between our listing and our
            # claim has finished (and let its claim go).
            finished = store.read(f"{database}/{candidate}.json") is not None
        except BaseException:  # the store failing, Ctrl+C: the claim goes with us
            with contextlib.suppress(Exception):
                store.delete(claim)
            raise
        if not finished:
            return candidate
        store.delete(claim)
    raise BackupError(
        f"no free backup ID for {database} at {wanted}: {CLAIM_TRIES} are taken in "
        f"{store.where(database)}"
    )


def _claim_key(database: str, backup_id: str) -> str:
    return f"{database}/{backup_id}.{CLAIM_EXTENSION}"


def _progress(chunks: Iterator[bytes], say: Say, every: int = 64 << 20) -> Iterator[bytes]:
    """The chunks, saying how far it got every ``every`` bytes."""
    done, next_say = 0, every
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        if done >= next_say:
            say(f"  {done >> 20} MB")
            next_say += every


ORPHAN_SECONDS = 86_400  # a dump without its record this old never finished
CLAIM_EXTENSION = "taking"  # held while its backup is taken (claim_id)
CLAIM_TRIES = 100
# What a backup writes before its record: its dump, and its claim.
DUMP_NAME = re.compile(rf"(\d{{8}}T\d{{6}}Z(?:-\d+)?)\.(?:dump|rdb|{CLAIM_EXTENSION})")
RECORD_NAME = re.compile(r"\d{8}T\d{6}Z(?:-\d+)?\.json")


def prune(store: BackupStore, database: str, keep: int, now: float | None = None) -> list[str]:
    """Remove the oldest backups beyond ``keep`` (the record first: a backup is either
    listed and whole, or not listed), and dumps and ID claims a day old whose record was
    never written (a backup that failed at its end, a taker that died); the IDs removed."""
    known = records(store, database)
    removed = []
    for record in known[: max(0, len(known) - keep)]:
        store.delete(f"{database}/{record.id}.json")
        store.delete(record.key)
        removed.append(record.id)
    recorded = {record.key for record in known}
    before = new_id((time.time() if now is None else now) - ORPHAN_SECONDS)
    for key in store.keys(database):
        name = key.rsplit("/", 1)[-1]
        dump = DUMP_NAME.fullmatch(name)
        if dump is None or key in recorded or dump.group(1) >= before:
            continue  # not a dump, a listed one, or a backup that may still be running
        store.delete(key)
    return removed


def verified_chunks(store: BackupStore, record: BackupRecord) -> Iterator[bytes]:
    """The dump's bytes from the store, checked against its record as they pass: a dump
    of another size or checksum raises BackupError after its last byte."""
    digest, size = hashlib.sha256(), 0
    try:
        for chunk in store.chunks(record.key):
            digest.update(chunk)
            size += len(chunk)
            yield chunk
    except StoreError as exc:
        raise BackupError(f"cannot read backup {record.id}: {exc}") from exc
    if size != record.size or digest.hexdigest() != record.sha256:
        raise BackupError(
            f"backup {record.id} is damaged: {store.where(record.key)} has {size} bytes "
            f"(sha256 {digest.hexdigest()[:12]}), its record says {record.size} "
            f"(sha256 {record.sha256[:12]})"
        )


def drills(store: BackupStore, database: str) -> list[DrillRecord]:
    raw = store.read(f"{database}/drills.json")
    if raw is None:
        return []
    with contextlib.suppress(ValueError, TypeError, KeyError):
        return [DrillRecord(**item) for item in json.loads(raw)]
    return []  # an unreadable drill log is only history: the next drill starts it again


def record_drill(store: BackupStore, database: str, drill: DrillRecord) -> None:
    kept = [*drills(store, database), drill][-DRILLS_KEPT:]
    store.write(f"{database}/drills.json", json.dumps([asdict(d) for d in kept], indent=2).encode())


def last_good(drill_records: list[DrillRecord]) -> DrillRecord | None:
    """The newest drill that passed, of ``drill_records`` (oldest first)."""
    return next((d for d in reversed(drill_records) if d.ok), None)


def last_good_drill(store: BackupStore, database: str) -> DrillRecord | None:
    return last_good(drills(store, database))
