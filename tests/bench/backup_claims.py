"""Benchmark what claiming a backup's ID (pilot_tui/data/backups.claim_id: ``DB/ID.taking``
made only where there is none, read the record again, let it go once the record is
written) adds to each backup, on each store a backup is written to: the local folder,
moto's S3 (the sandbox's local AWS API) and the sandbox's GCS emulator, all on this machine.
A real bucket adds its round trips (about 20-60 ms each within a region) to the request
counts printed here. Also: how many takers racing in one second each got an ID of their
own. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/backup_claims.py [--runs 50] [--racers 8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from pilot_tui.cloud.clients import emulator_aws, emulator_gcs  # noqa: E402
from pilot_tui.cloud.sandbox import Sandbox  # noqa: E402
from pilot_tui.data import backups  # noqa: E402
from pilot_tui.data.stores import BackupStore, GcsStore, LocalStore, S3Store  # noqa: E402

BUCKET = "pilot-claims-bench"


def claim_and_let_go(store: BackupStore, now: float) -> float:
    """One claim as a backup makes it, and its letting go: milliseconds."""
    started = time.perf_counter()
    held = backups.claim_id(store, "main", now)
    store.delete(f"main/{held}.{backups.CLAIM_EXTENSION}")
    return (time.perf_counter() - started) * 1000


def racing(store: BackupStore, racers: int, now: float) -> int:
    """How many distinct IDs ``racers`` takers starting together in one second got."""
    start, got = threading.Barrier(racers), []

    def take() -> None:
        start.wait()
        got.append(backups.claim_id(store, "race", now))

    threads = [threading.Thread(target=take) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(set(got))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--racers", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        sandbox = Sandbox(Path(scratch) / "emulators")
        running, _ = sandbox.ensure()
        try:
            s3 = emulator_aws("us-east-1").session.client("s3", endpoint_url=running["aws"].url)
            s3.create_bucket(Bucket=BUCKET)
            sent: list[str] = []
            s3.meta.events.register("before-send.s3.*", lambda request, **_: sent.append("x"))
            gcs = emulator_gcs(running["gcs"].url)
            gcs.create_bucket(BUCKET)
            stores: dict[str, BackupStore] = {
                "local folder": LocalStore(Path(scratch) / "backups"),
                "S3 (moto)": S3Store(s3, BUCKET),
                "GCS (emulator)": GcsStore(gcs, BUCKET),
            }
            print(f"{'store':16} {'claim + let go, median':>24} {'p95':>9} {'racers':>8} distinct")
            for name, store in stores.items():
                times = sorted(claim_and_let_go(store, time.time() + n) for n in range(args.runs))
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                distinct = racing(store, args.racers, time.time())
                print(
                    f"{name:16} {statistics.median(times):21.1f} ms {p95:6.1f} ms "
                    f"{args.racers:8} {distinct}"
                )
            sent.clear()
            claim_and_let_go(stores["S3 (moto)"], time.time() - 86_400)
            print(f"S3 requests per claim and its letting go: {len(sent)}")
        finally:
            sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
