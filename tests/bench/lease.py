"""Benchmark what the deploy lease in the state bucket (pilot_tui/deploy/shared_lease.py)
adds to each deploy, against the sandbox's local AWS API (moto's S3 on 127.0.0.1): the wall
time of a take and a release, the S3 requests they send, and how long a second deployer
waiting with --wait takes to get the lease once the first gives it back. A real bucket adds
its round trips (about 20-60 ms each within a region) to the request counts printed here.
Prints figures; asserts nothing.

    .venv/bin/python tests/bench/lease.py [--runs 50]
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

from pilot_tui.cloud.clients import emulator_aws  # noqa: E402
from pilot_tui.cloud.sandbox import Sandbox  # noqa: E402
from pilot_tui.deploy import shared_lease  # noqa: E402
from pilot_tui.deploy.shared_history import SharedHistory  # noqa: E402

BUCKET = "pilot-state-bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        sandbox = Sandbox(Path(scratch))
        running, _ = sandbox.ensure()
        try:
            s3 = emulator_aws("us-east-1").session.client("s3", endpoint_url=running["aws"].url)
            s3.create_bucket(Bucket=BUCKET)
            sent: list[str] = []
            s3.meta.events.register(
                "before-send.s3.*", lambda request, **_: sent.append(request.method)
            )
            store = SharedHistory("s3", BUCKET, s3)
            takes, releases, counts = [], [], []
            for _ in range(runs):
                sent.clear()
                started = time.perf_counter()
                lease = shared_lease.take(store, "web", "bench", "deploy", renew_every=3600)
                took = time.perf_counter()
                lease.release()
                done = time.perf_counter()
                takes.append((took - started) * 1000)
                releases.append((done - took) * 1000)
                counts.append(len(sent))
            handovers = []
            for _ in range(min(runs, 10)):
                first = shared_lease.take(store, "web", "first", "deploy", renew_every=3600)
                timer = threading.Timer(0.5, first.release)
                given = time.perf_counter() + 0.5
                timer.start()
                second = shared_lease.take(store, "web", "second", "deploy", wait=30)
                handovers.append((time.perf_counter() - given) * 1000)
                second.release()
                timer.join()
        finally:
            sandbox.stop()
    print(f"lease take+release against the local S3, {runs} runs (ms):")
    print(f"  take     median {statistics.median(takes):6.1f}  max {max(takes):6.1f}")
    print(f"  release  median {statistics.median(releases):6.1f}  max {max(releases):6.1f}")
    print(f"  S3 requests per deploy: {statistics.median(counts):.0f} (a read and two writes)")
    print(
        f"  a waiting deployer's start after the lease is given back: median "
        f"{statistics.median(handovers):.0f} ms, max {max(handovers):.0f} ms "
        f"(it looks every {shared_lease.POLL:.0f} s)"
    )
    print(f"  plus one write per {shared_lease.RENEW:.0f} s of deploy (the renewal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
