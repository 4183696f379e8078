"""Benchmark what the deploy requests in the state bucket (pilot_tui/deploy/server_queue.py)
add to a CI run's deploy of a Pilot Server app, against the sandbox's local AWS API (moto's
S3 on 127.0.0.1): a worker on a thread of its own looks for requests every --poll seconds
(as `server worker --poll` does) and, for each one it takes, emits --events events over
a few seconds, as a release would; the run submits a request and waits with
server_wait.wait, as `deploy` does in a run. Figures: the time from the submit to the
worker's claim (the run submits after a random pause, as pushes come at any moment: about
half the poll), the delay from an event emitted by the worker to the run showing it (the
worker writes them at most every FLUSH second, the run looks every second), the time from
the worker's result to the run's return, and the S3 requests each side sent per deploy.
A real bucket adds its round trips (about 20-60 ms each within a region). Prints figures;
asserts nothing.

    .venv/bin/python tests/bench/server_queue.py [--runs 10] [--poll 2] [--events 20]
"""

from __future__ import annotations

import argparse
import random
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
from pilot_tui.deploy import server_queue, server_wait  # noqa: E402
from pilot_tui.deploy.events import Output  # noqa: E402
from pilot_tui.deploy.server_queue import EventsWriter, Outcome, Queue, Request  # noqa: E402
from pilot_tui.deploy.shared_history import SharedHistory  # noqa: E402

BUCKET = "pilot-state-bench"


def worker(queue: Queue, poll: float, events: int, stop: threading.Event, claims: dict) -> None:
    """Take each request as it comes; emit ``events`` events a tenth of a second apart,
    each carrying its emit time; end it."""
    while not stop.is_set():
        for request in queue.pending():
            if queue.claim(request.id, "bench") is None:
                continue
            claims[request.id] = time.time()
            writer = EventsWriter(queue, request.id)
            for n in range(events):
                writer.emit(Output(request.app, "deploy", f"{time.time():.6f} line {n}"))
                time.sleep(0.1)
            writer.close()
            claims[request.id + "/result"] = time.time()
            queue.finish(request.id, Outcome(True, release={"id": "v1", "app": request.app}))
        stop.wait(poll)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--poll", type=float, default=2.0, help="the worker's --poll")
    parser.add_argument("--events", type=int, default=20)
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        sandbox = Sandbox(Path(scratch))
        running, _ = sandbox.ensure()
        try:
            session = emulator_aws("us-east-1").session
            url = running["aws"].url
            run_s3 = session.client("s3", endpoint_url=url)
            run_s3.create_bucket(Bucket=BUCKET)
            work_s3 = session.client("s3", endpoint_url=url)
            sent = {"run": 0, "worker": 0}

            def counter(side: str):
                def count(**_: object) -> None:
                    sent[side] += 1

                return count

            run_s3.meta.events.register("before-send.s3.*", counter("run"))
            work_s3.meta.events.register("before-send.s3.*", counter("worker"))
            run_queue = Queue(SharedHistory("s3", BUCKET, run_s3))
            work_queue = Queue(SharedHistory("s3", BUCKET, work_s3))
            stop = threading.Event()
            claims: dict[str, float] = {}
            thread = threading.Thread(
                target=worker, args=(work_queue, ns.poll, ns.events, stop, claims), daemon=True
            )
            thread.start()
            to_claim, delays, to_return, run_sent, worker_sent = [], [], [], [], []
            for _ in range(ns.runs):
                sent["run"] = sent["worker"] = 0
                time.sleep(random.uniform(0, ns.poll))  # a push comes at any moment
                request = Request(server_queue.new_id(), "web", "r@sha256:0", "t:1", None, "b", "")
                submitted = time.time()
                run_queue.submit(request)

                def shown(event: object) -> None:
                    assert isinstance(event, Output)
                    delays.append(time.time() - float(event.text.split()[0]))

                server_wait.wait(run_queue, request.id, shown, lambda: False)
                returned = time.time()
                to_claim.append(claims[request.id] - submitted)
                to_return.append(returned - claims[request.id + "/result"])
                run_sent.append(sent["run"])
                worker_sent.append(sent["worker"])
            stop.set()
            thread.join(timeout=10)
        finally:
            sandbox.stop()

    def said(values: list[float]) -> str:
        return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"

    print(f"server_queue bench: {ns.runs} deploys, worker --poll {ns.poll:g}, {ns.events} events")
    print(f"  submit -> worker's claim:     {said(to_claim)}")
    print(f"  event emitted -> run shows it: {said(delays)} ({len(delays)} events)")
    print(f"  result written -> run returns: {said(to_return)}")
    print(
        f"  S3 requests per deploy: run median {statistics.median(run_sent):.0f}, "
        f"worker median {statistics.median(worker_sent):.0f} (with its idle looks)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
