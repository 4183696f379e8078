"""Benchmark the backup agent on a private Docker engine with the tests' PostgreSQL 15 image
(root, dockerd and the databases' root filesystem needed: `bash .ci/setup --test`).

Figures, each the median of --runs:

- what the agent adds to the host: its own image layer (the image minus its base), and its
  memory while it waits for the next run (the engine's stats);
- what it adds to a deploy: `scheduling.install` when nothing changed (a deploy's usual
  case: the plan made, the running agent compared with it), and when the agent is made
  (image built, container created and started);
- a backup by the agent (`db backup --on-server`'s path: its standard-library engine client
  and store, in its container) against the same backup from here (`backups.take`, the
  docker SDK), of the same database of about --scale x 15 MB, into the same store: the
  local one, or with --store gcs the sandbox's GCS emulator (the agent's own JSON-API
  client against google-cloud-storage's).

The agent's base here is the tests' database image (it has Python 3.11); its layer is
what Pilot copies in. Prints figures and the machine's load; asserts nothing.

    .venv/bin/python tests/bench/backup_agent.py [--scale 10] [--runs 5] [--store gcs]
"""

from __future__ import annotations

import argparse
import dataclasses
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

[[apps]]
name = "api"

[[databases]]
name = "main"
version = 15
apps = ["api"]
backup = { schedule = "hourly", keep = 2 }
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=10, help="pgbench scale (~15 MB each)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--store", choices=("local", "gcs"), default="local")
    ns = parser.parse_args()
    import docker

    sys.path.insert(0, str(HERE.parent.parent))  # the checkout, for the tests' own helpers
    from pilot_tui.cloud.clients import emulator_gcs
    from pilot_tui.cloud.sandbox import Sandbox
    from pilot_tui.config.validate import check_text
    from pilot_tui.data import backups, docker_db, execs, scheduling
    from pilot_tui.data.kinds import kind_for
    from pilot_tui.data.stores import BackupStore, GcsStore, LocalStore
    from pilot_tui.deploy.host import parse_host
    from tests.support import dockerd
    from tests.support.databases import build_data_image

    root = Path(tempfile.mkdtemp(prefix="pba-", dir="/tmp"))
    state = root / "state"
    engine = dockerd.start(root / "engine")
    client = docker.DockerClient(base_url=engine.url, timeout=900)
    emulators = Sandbox(root / "emulators")
    med = statistics.median
    try:
        image = build_data_image(engine.url)
        os.environ["PILOT_POSTGRES_IMAGE"] = os.environ["PILOT_PYTHON_BASE"] = image
        config = check_text(TOML).config
        assert config is not None
        kind = kind_for("bench", config.databases[0])
        docker_db.ensure(client, kind, state, lambda _line: None)
        db = client.containers.get(kind.container)
        made = execs.run(db, ["pgbench", "-i", "-q", "-s", str(ns.scale), "-U", "main", "main"], {})
        if made.exit_code != 0:
            raise SystemExit(made.output[-2000:])
        target = parse_host(engine.url, state)

        store: BackupStore = LocalStore(state / "backups")
        gcs_spec: dict[str, str] = {}
        if ns.store == "gcs":
            url = emulators.ensure()[0]["gcs"].url
            emulator_gcs(url).create_bucket("pilot-bench-state")
            store = GcsStore(emulator_gcs(url), "pilot-bench-state")
            gcs_spec = {"kind": "gcs", "bucket": "pilot-bench-state", "endpoint": url}

        def plan() -> scheduling.AgentPlan:
            made = scheduling.agent_plan(config, target, state)
            assert made is not None
            if not gcs_spec:
                return made
            # What a sandbox project with GCS state gets (the unit tests check it as data).
            return dataclasses.replace(
                made,
                settings={**made.settings, "store": gcs_spec},
                binds={k: v for k, v in made.binds.items() if v == scheduling.HOST_SOCKET},
                network_mode="host",
                user=None,
                group_add=[],
            )

        cold, warm = [], []
        for _ in range(ns.runs):
            scheduling.remove(client, "bench")
            tag = plan().image
            if client.images.list(tag):
                client.images.remove(tag, force=True)
            started = time.perf_counter()
            scheduling.install(client, plan(), lambda _line: None)
            cold.append(time.perf_counter() - started)
            started = time.perf_counter()
            scheduling.install(client, plan(), lambda _line: None)  # nothing changed
            warm.append(time.perf_counter() - started)

        agent = scheduling.find(client, "bench")
        assert agent is not None
        time.sleep(3)  # settled: waiting for its next run
        memory = agent.stats(stream=False)["memory_stats"].get("usage", 0)
        own = client.images.get(plan().image).attrs["Size"] - client.images.get(image).attrs["Size"]

        by_agent, from_here = [], []
        for _ in range(ns.runs):
            started = time.perf_counter()
            code = scheduling.run_now(client, "bench", "main", lambda _line: None)
            by_agent.append(time.perf_counter() - started)
            if code != 0:
                raise SystemExit("the agent's backup failed")
            started = time.perf_counter()
            backups.take(client, kind, store, keep=2, say=lambda _line: None)
            from_here.append(time.perf_counter() - started)
        record = backups.records(store, "main")[-1]

        print(
            f"database: pgbench -s {ns.scale}, dump {record.size / 1e6:.0f} MB, "
            f"{record.rows:,} rows; store: {ns.store}"
        )
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, 2 cores")
        print(
            f"agent image layer: {own / 1e3:.0f} kB over its base; "
            f"idle memory {memory / 1e6:.1f} MB"
        )
        print(
            f"install, nothing changed (each deploy): median {med(warm) * 1000:.0f} ms; "
            f"made (image built, started): median {med(cold):.2f} s"
        )
        print(
            f"backup by the agent {med(by_agent):.2f} s vs from here {med(from_here):.2f} s: "
            f"{med(by_agent) / med(from_here):.2f}x (median of {ns.runs})"
        )
    finally:
        client.close()
        emulators.stop()
        dockerd.stop(engine)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
