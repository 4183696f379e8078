"""Benchmark: Terraform -json events parsed per second.

Builds a 200,000-line stream from streams captured from real runs (tests/fixtures/tf) and
times pilot_tui.provision.tf.events.parse_line over it. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/events.py [--lines 200000]
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

from pilot_tui.provision.tf.events import parse_line

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    source = [line for f in sorted(FIXTURES.glob("*.jsonl")) for line in f.read_text().splitlines()]
    lines = list(itertools.islice(itertools.cycle(source), args.lines))
    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        for line in lines:
            parse_line(line)
        best = min(best, time.perf_counter() - start)
    size = sum(len(line) + 1 for line in lines) / 1e6
    print(f"{len(lines)} lines ({size:.1f} MB) from {len(source)} captured lines")
    print(f"best of {args.repeat}: {best:.3f} s = {len(lines) / best:,.0f} lines/s")


if __name__ == "__main__":
    main()
