"""Benchmark: `pilot-tui server up --yes` in the sandbox against plain
`terraform apply -auto-approve` on the same rendered configuration, in one run.

Each run starts both from an initialised working directory with the emulators running and
nothing created, and is followed by a destroy; the two take turns, --runs times. Prints
each pair, the medians, their ratio and the machine's load; asserts nothing.

Goal (issue 16): <= 1.05x quiet, <= 1.10x busy.

    .venv/bin/python tests/bench/provision.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pilot_tui.provision.tf.toolchain import resolve


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    ns = parser.parse_args()
    pilot = shutil.which("pilot-tui", path=str(Path(sys.executable).parent))
    assert pilot, "install first: bash .ci/setup"
    tf = resolve(None, sandbox=True)
    ours, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        workdir = project / ".pilot" / "terraform" / "sandbox"

        def pilot_run(*args: str) -> None:
            subprocess.run([pilot, *args], cwd=project, check=True, capture_output=True)

        def terraform(*args: str) -> float:
            return timed([tf.path, *args, "-auto-approve", "-input=false"], workdir, tf.env)

        pilot_run("init", "--name", "bench")
        pilot_run("server", "plan")  # starts the emulators, renders and initialises
        try:
            for run in range(ns.runs):
                ours.append(timed([pilot, "server", "up", "--yes"], project))
                terraform("destroy")
                plain.append(terraform("apply"))
                terraform("destroy")
                print(
                    f"run {run + 1}: server up {ours[-1]:.1f} s, terraform apply "
                    f"{plain[-1]:.1f} s ({ours[-1] / plain[-1]:.2f}x)",
                    flush=True,
                )
        finally:
            subprocess.run([pilot, "server", "destroy", "--yes"], cwd=project, capture_output=True)
    med_ours, med_plain = statistics.median(ours), statistics.median(plain)
    print(f"terraform {tf.version}, sandbox, 9 resources, median of {ns.runs}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores")
    print(f"pilot-tui server up --yes       {med_ours:6.1f} s  (plan + show + apply + setup)")
    print(f"terraform apply -auto-approve   {med_plain:6.1f} s")
    print(f"ratio                           {med_ours / med_plain:6.2f}  (goal <= 1.05x quiet)")
    print(json.dumps({"pilot_s": round(med_ours, 2), "terraform_s": round(med_plain, 2)}))


if __name__ == "__main__":
    main()
