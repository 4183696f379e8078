"""Benchmark: Terraform -json events parsed per second.

Builds a 200,000-line stream from streams captured from real runs (tests/fixtures/tf) and
times pilot_tui.provision.tf.events.parse_line over it, --repeat times; prints the median
and the spread, the decoder in use, and the machine's load. Asserts nothing.
Goal (issue 16): a median of >= 300,000 lines/s.

    .venv/bin/python tests/bench/events.py [--lines 200000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from pathlib import Path

from pilot_tui.provision.tf import events
from pilot_tui.provision.tf.events import parse_line

FIXTURES = Path(__file__).parent.parent / "fixtures" / "tf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    source = [line for f in sorted(FIXTURES.glob("*.jsonl")) for line in f.read_text().splitlines()]
    lines = list(itertools.islice(itertools.cycle(source), args.lines))
    rates = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for line in lines:
            parse_line(line)
        rates.append(len(lines) / (time.perf_counter() - start))
    size = sum(len(line) + 1 for line in lines) / 1e6
    print(f"{len(lines)} lines ({size:.1f} MB) from {len(source)} captured lines")
    print(f"decoder: {events._loads.__module__}.{events._loads.__name__}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(
        f"median of {args.repeat}: {statistics.median(rates):,.0f} lines/s "
        f"(min {min(rates):,.0f}, max {max(rates):,.0f}; goal >= 300,000)"
    )


if __name__ == "__main__":
    main()
