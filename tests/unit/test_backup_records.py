"""Backups as data, no Docker: records (and records written before a field existed), the
local store's atomic writes and its folder, each kind's restore settings and checks."""

from __future__ import annotations

import json
import stat

import pytest

from pilot_tui.config.schema import PostgresDatabase, RedisDatabase
from pilot_tui.data import backups
from pilot_tui.data.backups import BackupRecord
from pilot_tui.data.kinds import Postgres, Redis
from pilot_tui.data.stores import LocalStore, StoreError


def _record(**changes: object) -> BackupRecord:
    base = {
        "id": "20261203T101500Z",
        "database": "main",
        "kind": "postgres",
        "version": 16,
        "format": "pg_dump -Fc",
        "key": "main/20261203T101500Z.dump",
        "created": "2026-12-03T10:15:00+00:00",
        "size": 10,
        "sha256": "0" * 64,
        "seconds": 0.5,
        "tables": {"public.items": 3, "public.hello": 1},
    }
    return BackupRecord(**{**base, **changes})  # type: ignore[arg-type]


def test_a_record_round_trips_and_an_older_one_still_reads():
    record = _record(database_bytes=8_000_000, roles="CREATE ROLE reader;")
    assert BackupRecord.from_json(record.to_json()) == record
    older = json.loads(record.to_json())
    del older["database_bytes"], older["roles"]  # written before those fields existed
    assert BackupRecord.from_json(json.dumps(older).encode()).database_bytes == 0
    assert record.rows == 4
    redis = _record(kind="redis", tables={"keys": 3, "expires": 1})
    assert redis.rows == 3  # keys with a TTL are some of the keys, not more


def test_records_list_in_order_skip_unfinished_and_name_a_broken_one(tmp_path):
    store = LocalStore(tmp_path / "backups")
    for backup_id in ("20261203T101500Z", "20261201T090000Z"):
        store.write(f"main/{backup_id}.json", _record(id=backup_id).to_json())
    store.write("main/20261204T000000Z.dump", b"a dump without its record: unfinished")
    assert [r.id for r in backups.records(store, "main")] == [
        "20261201T090000Z",
        "20261203T101500Z",
    ]
    assert backups.record_for(store, "main", None).id == "20261203T101500Z"
    with pytest.raises(backups.BackupError, match="no backup 'nope'"):
        backups.record_for(store, "main", "nope")
    store.write("main/20261205T000000Z.json", b"{not json")
    with pytest.raises(backups.BackupError, match="is not a backup record"):
        backups.records(store, "main")


def test_records_of_one_second_list_in_the_order_they_were_claimed(tmp_path):
    """X, X-2, ..., X-10: as text, X-10 sorted before X-2 (ten backups in one second are
    possible since IDs are claimed: backups.claim_id), and `record_for` took it as newest."""
    store = LocalStore(tmp_path / "backups")
    ids = ["20261203T101500Z", *(f"20261203T101500Z-{n}" for n in range(2, 12))]
    for backup_id in reversed(ids):
        store.write(f"main/{backup_id}.json", _record(id=backup_id).to_json())
    assert [r.id for r in backups.records(store, "main")] == ids
    assert backups.record_for(store, "main", None).id == "20261203T101500Z-11"


def test_prune_keeps_the_newest_and_removes_record_and_dump(tmp_path):
    store = LocalStore(tmp_path / "backups")
    ids = [f"2026120{day}T000000Z" for day in (1, 2, 3)]
    for backup_id in ids:
        store.write(
            f"main/{backup_id}.json", _record(id=backup_id, key=f"main/{backup_id}.dump").to_json()
        )
        store.write(f"main/{backup_id}.dump", b"dump")
    assert backups.prune(store, "main", keep=2) == ids[:1]
    assert store.keys("main") == sorted(f"main/{i}.{e}" for i in ids[1:] for e in ("dump", "json"))

    # Dumps whose record was never written: removed once a day old, never sooner (a
    # teammate's backup may still be running).
    store.write("main/20261110T000000Z.dump", b"a backup that failed at its end")
    store.write("main/.DS_Store", b"not Pilot's")
    store.write("main/20261203T235959Z.dump", b"a backup still running")
    # The same for claims of IDs (backups.claim_id) a taker that died never let go.
    store.write("main/20261110T000000Z-2.taking", b"a taker that died")
    store.write("main/20261203T235959Z.taking", b"a taker still running")
    now = 1796342400.0  # 2026-12-04T00:00:00Z
    assert backups.prune(store, "main", keep=2, now=now) == []
    assert "main/20261110T000000Z.dump" not in store.keys("main")
    assert "main/20261110T000000Z-2.taking" not in store.keys("main")
    assert "main/20261203T235959Z.dump" in store.keys("main")
    assert "main/20261203T235959Z.taking" in store.keys("main")
    assert "main/.DS_Store" in store.keys("main")  # only dumps are ever pruned


def test_a_local_write_that_fails_leaves_nothing_and_files_are_private(tmp_path):
    store = LocalStore(tmp_path / "backups")
    with pytest.raises(RuntimeError), store.writer("main/x.dump") as sink:
        sink.write(b"half a dump")
        raise RuntimeError("the dump failed")
    assert list((tmp_path / "backups" / "main").iterdir()) == []
    with store.writer("main/y.dump") as sink:
        sink.write(b"a whole dump")
    written = tmp_path / "backups" / "main" / "y.dump"
    assert written.read_bytes() == b"a whole dump"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert stat.S_IMODE(written.parent.stat().st_mode) == 0o700
    with pytest.raises(StoreError, match="leaves"):
        store.read("../../etc/passwd")


def test_verified_chunks_refuse_a_dump_of_another_size_or_checksum(tmp_path):
    import hashlib

    store = LocalStore(tmp_path / "backups")
    data = b"the whole dump"
    store.write("main/a.dump", data)
    good = _record(key="main/a.dump", size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert b"".join(backups.verified_chunks(store, good)) == data
    store.write("main/a.dump", data[:-1] + b"!")
    with pytest.raises(backups.BackupError, match="is damaged"):
        b"".join(backups.verified_chunks(store, good))


def test_postgres_restores_as_a_durable_bulk_load_sized_to_its_memory():
    small = Postgres("shop", PostgresDatabase(name="main", size="512m"))
    command = small.restoring_command("pw") or []
    assert command[0] == "postgres"
    assert "-cwal_level=minimal" in command and "-cmax_wal_senders=0" in command
    # Two restore jobs, each building indexes with an eighth of the memory limit.
    assert "-cmaintenance_work_mem=64MB" in command and "-cautovacuum=off" in command
    assert "-cfsync=off" not in command  # the restored data must survive a power cut
    big = Postgres("shop", PostgresDatabase(name="main", size="16g"))
    assert "-cmaintenance_work_mem=1024MB" in (big.restoring_command("pw") or [])
    tiny = Postgres("shop", PostgresDatabase(name="main", size="64m"))
    assert "-cmaintenance_work_mem=16MB" in (tiny.restoring_command("pw") or [])
    # The dump is received whole into the volume beside PGDATA (initdb needs PGDATA empty),
    # then loaded from there by two jobs, which remove it.
    receive, env = small.receive(1234)
    assert env == {"PILOT_SIZE": "1234", "PILOT_FILE": f"{small.mount}/pilot-restore.dump"}
    assert 'head -c "$PILOT_SIZE"' in receive[-1] and "umask 077" in receive[-1]
    assert not env["PILOT_FILE"].startswith(small.environment("pw")["PGDATA"] + "/")
    load = small.load()
    assert load is not None
    load_command, load_env = load
    assert '--jobs="$PILOT_JOBS"' in load_command[-1] and load_env["PILOT_JOBS"] == "2"
    assert 'rm -f "$PILOT_FILE"' in load_command[-1] and load_env["PILOT_DB"] == "main"
    assert small.mismatches({"t": 3}, {"t": 3}) == []
    assert small.mismatches({"t": 3}, {"t": 2, "u": 1}) == [
        "t: 2 rows, the backup had 3",
        "u: not in the backup's record",
    ]


def test_redis_loads_its_rdb_before_it_starts_and_counts_keys_as_they_load():
    kind = Redis("shop", RedisDatabase(name="cache"))
    assert kind.load() is None and kind.dump_extension == "rdb"  # loaded as it starts
    receive, env = kind.receive(99)
    assert env["PILOT_FILE"] == "/data/dump.rdb" and ".pilot-loaded" in receive[-1]
    command = kind.restoring_command("pw") or []
    assert "--appendonly no" in command[2]  # else Redis starts empty, ignoring the RDB
    recorded = {"keys": 10, "expires": 10}  # a cache: every key has a time to live
    assert kind.mismatches(recorded, {"keys": 10}) == []  # loaded + dropped as expired
    assert kind.mismatches(recorded, {"keys": 0}) != []  # an empty restore never passes
    assert kind.mismatches(recorded, {"keys": 11}) != []
    _, env = kind.dump("secret")
    assert env["REDISCLI_AUTH"] == "secret"  # in its environment, not on a command line
