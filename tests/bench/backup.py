"""Benchmark Postgres backup and restore against raw pg_dump / pg_restore, on a private
Docker engine with the tests' PostgreSQL 15 image (root, dockerd and the databases' root
filesystem needed: `bash .ci/setup --test` provides them).

A database of about 35 x 15 MB is made with `pgbench -i -s SCALE`, plus --random-mb of random
text (pgbench's own rows compress about 50:1, which would make the dump a few MB), then, in
the same run and on the same data (each figure the median of --runs):

- raw backup:     `pg_dump -Fc -f FILE` in the database's container (FILE on the host's disk);
- Pilot backup:   `backups.take` to a store on tmpfs (/dev/shm: not the host's disk), as
                  `pilot-tui db backup` runs it; the host disk's peak extra use is sampled
                  (statvfs of the Docker root's filesystem, every 50 ms) during each;
- raw restore:    `pg_restore` of FILE into a new, empty database in the same container;
- Pilot restore:  `restore.check_into` as `db restore` and `db drill` run it: a new volume
                  and container started from a copy of the database's empty cluster (made
                  once per database and image, by the first drill or restore: timed apart),
                  the dump received into the volume meanwhile, loaded with
                  `pg_restore --jobs=2`, then every table counted and compared with the
                  record. Its parts are reported too.

Goals (issue 14): backup and restore <= 1.15x raw; peak extra disk during a backup <= 10% of
the database's size. Prints figures and the machine's load; asserts nothing.

    .venv/bin/python tests/bench/backup.py [--scale 35] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW_RESTORE = (
    "dropdb --if-exists -U bench copy && createdb -U bench copy && "
    "pg_restore --exit-on-error -U bench -d copy /tmp/raw"
)


class DiskPeak:
    """The largest drop in free space on ``path``'s filesystem while it runs."""

    def __init__(self, path: Path) -> None:
        self.path, self.peak, self._stop = path, 0, threading.Event()

    def _free(self) -> int:
        info = os.statvfs(self.path)
        return info.f_bavail * info.f_frsize

    def __enter__(self) -> DiskPeak:
        self.base = self._free()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.base - self._free())
            time.sleep(0.05)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.thread.join()
        self.peak = max(self.peak, self.base - self._free())


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=35, help="pgbench scale (~15 MB each)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--random-mb",
        type=int,
        default=150,
        help="MB of random text added beside pgbench's tables (theirs compress ~50:1)",
    )
    ns = parser.parse_args()
    import docker

    sys.path.insert(0, str(HERE.parent.parent))  # the checkout, for the tests' own helpers
    from pilot_tui.config.schema import PostgresDatabase
    from pilot_tui.data import backups, docker_db, execs, restore, templates
    from pilot_tui.data.kinds import Postgres
    from pilot_tui.data.stores import LocalStore
    from tests.support import dockerd
    from tests.support.databases import build_data_image

    root = Path(tempfile.mkdtemp(prefix="pbk-", dir="/tmp"))
    shm = Path(tempfile.mkdtemp(prefix="pbk-store-", dir="/dev/shm"))
    engine = dockerd.start(root)
    client = docker.DockerClient(base_url=engine.url, timeout=900)
    try:
        os.environ["PILOT_POSTGRES_IMAGE"] = build_data_image(engine.url)
        kind = Postgres("bench", PostgresDatabase(name="bench", version=15, size="2g"))
        docker_db.ensure(client, kind, root / "state", lambda _line: None)
        db = client.containers.get(kind.container)

        def sh(script: str) -> str:
            done = execs.run(db, ["sh", "-c", script], {})
            if done.exit_code != 0:
                raise SystemExit(f"{script}: {done.output[-2000:]}")
            return done.output

        print(f"making the database: pgbench -i -s {ns.scale} ...", flush=True)
        made = timed(lambda: sh(f"pgbench -i -q -s {ns.scale} -U bench bench 2>&1"))
        rows = ns.random_mb * 1_000_000 // 100  # ~100 bytes a row on disk
        noise = (
            "create table noise (id bigint primary key, a text); insert into noise select g, "
            f"md5(random()::text) || md5(random()::text) from generate_series(1, {rows}) g"
        )
        made += timed(lambda: sh(f'psql -v ON_ERROR_STOP=1 -U bench -d bench -c "{noise}"'))
        size = int(sh("psql -U bench -d bench -Atc 'select pg_database_size(current_database())'"))
        print(f"database: {size / 1e6:.0f} MB (pg_database_size), made in {made:.0f} s")

        store = LocalStore(shm)
        # Made by the first drill or restore, once per database and image; timed apart.
        made_template = timed(lambda: templates.ensure(client, kind, lambda _line: None))
        raw_dump, raw_restore, ours_dump, ours_restore = [], [], [], []
        raw_disk, ours_disk, parts = [], [], []
        record = None
        for run in range(ns.runs):
            with DiskPeak(root) as disk:
                raw_dump.append(timed(lambda: sh("pg_dump -Fc -U bench -d bench -f /tmp/raw")))
            raw_disk.append(disk.peak)
            raw_size = int(sh("stat -c %s /tmp/raw"))
            raw_restore.append(timed(lambda: sh(RAW_RESTORE)))
            sh("rm -f /tmp/raw && dropdb -U bench copy")

            with DiskPeak(root) as disk:
                started = time.perf_counter()
                record, _ = backups.take(client, kind, store, keep=1, say=lambda _line: None)
                ours_dump.append(time.perf_counter() - started)
            ours_disk.append(disk.peak)
            volume = f"{kind.container}-bench{run}"
            said: list[tuple[float, str]] = []
            note = said.append
            started = time.perf_counter()
            checked = restore.check_into(
                client,
                kind,
                volume,
                {**kind.labels(), "pilot.role": "database-drill"},
                "bench-password",
                record,
                store,
                lambda line, note=note: note((time.perf_counter(), line)),
                from_template=True,
            )
            ours_restore.append(time.perf_counter() - started)
            parts.append({line.split(" ", 1)[0]: t - started for t, line in said})
            client.volumes.get(volume).remove(force=True)
            print(
                f"run {run + 1}: raw dump {raw_dump[-1]:.1f} s, restore {raw_restore[-1]:.1f} s"
                f" | Pilot backup {ours_dump[-1]:.1f} s, restore {ours_restore[-1]:.1f} s "
                f"({checked.rows:,} rows checked)",
                flush=True,
            )

        assert record is not None
        mb = record.size / 1e6
        med = statistics.median
        print()
        print(f"database {size / 1e6:.0f} MB, dump {mb:.0f} MB (raw dump {raw_size / 1e6:.0f} MB)")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, 2 cores")
        rows = [
            ("backup", med(raw_dump), med(ours_dump)),
            ("restore", med(raw_restore), med(ours_restore)),
        ]
        for what, raw, ours in rows:
            db_mb = size / 1e6
            print(
                f"{what:8} raw {raw:6.1f} s ({db_mb / raw:5.1f} MB/s of database)   Pilot "
                f"{ours:6.1f} s ({db_mb / ours:5.1f} MB/s)   {ours / raw:.2f}x raw (goal <= 1.15x)"
            )
        # Where a restore's time goes: the dump received while initdb runs, the load, then
        # counts and stop.
        # Each step by the first word of the line it says, at that moment.
        labels = {
            "restoring": "new container started",
            "started": "dump received and the copied cluster up",
            "restored;": "dump loaded",
        }
        steps = [
            f"{label} {med(p[word] for p in parts):.1f} s"
            for word, label in labels.items()
            if all(word in p for p in parts)
        ]
        print(
            "Pilot restore, median time at each step: "
            + ", ".join(steps)
            + f", counted, synced, verified and stopped {med(ours_restore):.1f} s"
        )
        print(f"the empty cluster restores start from: made once, in {made_template:.1f} s")
        print(
            f"peak extra disk on the host during a backup: raw {max(raw_disk) / 1e6:.0f} MB "
            f"({max(raw_disk) / size:.0%} of the database), Pilot {max(ours_disk) / 1e6:.1f} MB "
            f"({max(ours_disk) / size:.1%}; goal <= 10%)"
        )
    finally:
        client.close()
        dockerd.stop(engine)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)


if __name__ == "__main__":
    main()
