"""Benchmark: start-up time of `pilot-tui --version` and `pilot-tui config validate`
against bare `python -c pass`. Prints medians; asserts nothing (timings vary by machine).

    .venv/bin/python tests/bench/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_ms(cmd: list[str], runs: int, cwd: Path) -> float:
    subprocess.run(cmd, cwd=cwd, capture_output=True)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    runs = parser.parse_args().runs
    pilot = shutil.which("pilot-tui", path=str(Path(sys.executable).parent))
    assert pilot, "install first: bash .ci/setup"
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        subprocess.run([pilot, "init", "--name", "bench"], cwd=cwd, check=True, capture_output=True)
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("pilot-tui --version", [pilot, "--version"]),
            ("pilot-tui config validate", [pilot, "config", "validate"]),
            ("pilot-tui config get aws.region", [pilot, "config", "get", "aws.region"]),
        ]
        base = None
        print(f"median of {runs} runs")
        for name, cmd in rows:
            ms = median_ms(cmd, runs, cwd)
            base = base or ms
            print(f"{name:34s} {ms:7.1f} ms  {ms / base:5.2f}x python")
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average: {load} ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
