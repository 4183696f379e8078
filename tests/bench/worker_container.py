"""Benchmark the CI worker on the Pilot Server (server.ci_worker) on a private Docker
engine (root, dockerd and the tests' Python root filesystem needed: `bash .ci/setup
--test`), with the local AWS API standing in for the server's S3 and instance role.

Figures, each the median of --runs:

- what it adds to a deploy from a laptop: `worker_install.install` when nothing changed
  (the usual case: the plan made, the running worker compared with it), and when the
  worker is remade (a changed secret: container made, files put in, started and watched
  for --settle seconds), and when its image is built too (a new Pilot version);
- what it adds to the server: its image's own layers (the image minus its base: Pilot's
  modules and what pip installs; here the stand-in base already holds the packages, so
  this is Pilot's share), and its memory while it waits for requests;
- how soon it takes requests: a remade worker's first heartbeat in the bucket, from the
  start of its install.

Prints figures and the machine's load; asserts nothing.

    .venv/bin/python tests/bench/worker_container.py [--runs 5] [--settle 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOML = """[project]
name = "bench"

[server]
home = "aws"
ci_worker = true

[state]
backend = "s3"

[[apps]]
name = "web"
secrets = ["API_TOKEN"]
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--settle", type=float, default=5.0)
    ns = parser.parse_args()
    import boto3
    import docker

    sys.path.insert(0, str(HERE.parent.parent))  # the checkout, for the tests' own helpers
    from pilot_tui.cloud.sandbox import Sandbox
    from pilot_tui.config.validate import check_file
    from pilot_tui.deploy import server_queue, worker_container, worker_install
    from pilot_tui.deploy.host import parse_host
    from tests.support import dockerd
    from tests.support.deploy_fixtures import PYTHON_BASE, python_rootfs
    from tests.support.worker_base import worker_base

    root = Path(tempfile.mkdtemp(prefix="pwc-", dir="/tmp"))
    engine = dockerd.start(root / "engine")
    client = docker.DockerClient(base_url=engine.url, timeout=900)
    emulators = Sandbox(root / "emulators")
    med = statistics.median

    def step(what: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)

    try:
        step("starting the local AWS API")
        aws = emulators.ensure()[0]["aws"].url
        os.environ.update(
            AWS_ENDPOINT_URL=aws, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"
        )
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="pilot-state-bench")
        step("importing the Python base")
        repository, _, tag = PYTHON_BASE.rpartition(":")
        client.api.import_image(
            src=str(python_rootfs()),
            repository=repository,
            tag=tag,
            changes=['CMD ["python3"]', "ENV PATH=/usr/local/bin:/usr/bin:/bin"],
        )
        os.environ["PILOT_WORKER_BASE"] = base = worker_base(
            client, PYTHON_BASE, aws, "127.0.0.1:1"
        )
        project = root / "project"
        (project / ".pilot" / "outputs").mkdir(parents=True)
        (project / ".pilot" / "secrets").mkdir()
        (project / "pilot.toml").write_text(TOML)
        record = {"outputs": {"docker_host": engine.url, "ci_worker": True}}
        (project / ".pilot" / "outputs" / "server.json").write_text(json.dumps(record))
        config = check_file(project / "pilot.toml").config
        assert config is not None
        target = parse_host(engine.url, project / ".pilot")
        quiet = lambda _line: None  # noqa: E731

        def plan(secret: str) -> worker_container.WorkerPlan:
            (project / ".pilot" / "secrets" / "web.env").write_text(f"API_TOKEN={secret}\n")
            return worker_container.worker_plan(
                config, project / "pilot.toml", project / ".pilot", target
            )

        def first_beat(since: float, old: set[str]) -> float:
            """Seconds from ``since`` to a heartbeat of a worker not in ``old``."""
            while time.perf_counter() - since < 60:
                listed = s3.list_objects_v2(Bucket="pilot-state-bench", Prefix=server_queue.WORKERS)
                if {o["Key"] for o in listed.get("Contents", [])} - old:
                    return time.perf_counter() - since
                time.sleep(0.05)
            raise SystemExit("the worker never beat")

        def beating() -> set[str]:
            listed = s3.list_objects_v2(Bucket="pilot-state-bench", Prefix=server_queue.WORKERS)
            return {o["Key"] for o in listed.get("Contents", [])}

        built, remade, unchanged, beats = [], [], [], []
        for run in range(ns.runs):
            step(f"run {run + 1}")
            worker_install.remove(client, "bench", quiet)
            for image in client.images.list(name="pilot-ci-worker"):
                client.images.remove(image.id, force=True)
            for key in s3.list_objects_v2(Bucket="pilot-state-bench").get("Contents", []):
                s3.delete_object(Bucket="pilot-state-bench", Key=key["Key"])
            started = time.perf_counter()
            worker_install.install(client, plan(f"a{run}"), quiet, settle=ns.settle)
            built.append(time.perf_counter() - started)
            started = time.perf_counter()
            worker_install.install(client, plan(f"a{run}"), quiet, settle=ns.settle)
            unchanged.append(time.perf_counter() - started)
            old = beating()  # (the one stopped now writes its last beat under its name)
            started = time.perf_counter()
            worker_install.install(client, plan(f"b{run}"), quiet, settle=0)
            remade.append(time.perf_counter() - started)
            beats.append(first_beat(started, old))
        worker = worker_install.find(client, "bench")
        assert worker is not None
        time.sleep(3)  # settled: waiting for requests
        memory = worker.stats(stream=False)["memory_stats"].get("usage", 0)
        image = worker.attrs["Config"]["Image"]
        own = client.images.get(image).attrs["Size"] - client.images.get(base).attrs["Size"]
        print(f"runs: {ns.runs}; load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(f"install, nothing changed:         median {med(unchanged) * 1000:.0f} ms")
        print(f"install, remade (a new secret):   median {med(remade):.2f} s (no settle)")
        print(
            f"install, image built too:         median {med(built):.2f} s (settle {ns.settle:g} s)"
        )
        print(
            f"remade -> its first heartbeat:    median {med(beats):.2f} s, max {max(beats):.2f} s"
        )
        print(f"its image's own layers:           {own / 1e6:.1f} MB (Pilot's modules)")
        print(f"its memory, waiting for requests: {memory / 1e6:.1f} MB")
    finally:
        worker_install.remove(client, "bench", lambda _line: None)
        client.close()
        emulators.stop()
        dockerd.stop(engine)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
