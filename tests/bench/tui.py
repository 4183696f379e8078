"""Benchmark the app: time to first painted screen (tmux), the latency of a UI update (what a
keypress handler does) while log lines stream into the Server screen, and peak RSS after
streaming 1M lines into its capped log. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/tui.py [--lines 100000] [--rss-lines 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pilot_tui.config.starter import starter_text


def first_paint(project: Path, runs: int = 5) -> list[float]:
    """Wall time from launching `pilot-tui` in tmux to the welcome screen being on it."""
    pilot = shutil.which("pilot-tui", path=str(Path(sys.executable).parent))
    times = []
    for n in range(runs):
        session = f"bench-{n}-{time.monotonic_ns()}"
        start = time.perf_counter()
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "120",
                "-y",
                "36",
                f"cd {project} && {pilot}",
            ],
            check=True,
        )
        while True:
            shown = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            if "Welcome to Pilot" in shown:
                times.append(time.perf_counter() - start)
                break
            time.sleep(0.005)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    return times


async def latency_and_rss(project: Path, lines: int, rss_lines: int) -> tuple[list[float], int]:
    from pilot_tui.provision.tf.events import LogLine
    from pilot_tui.screens.app import create_app

    app = create_app(str(project))
    latencies: list[float] = []
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        screen = app.screen
        done = threading.Event()

        def stream(count: int, paced: bool) -> None:  # lines arriving from a worker thread
            batch = 100
            for start in range(0, count, batch):
                events = [
                    LogLine("info", f"aws_instance.server: Still creating... [{i}s]")
                    for i in range(start, min(start + batch, count))
                ]
                app.call_from_thread(lambda evs=events: [screen.handle(e) for e in evs])
                if paced:  # 10,000 lines/s: far faster than Terraform ever writes
                    time.sleep(0.01)
            done.set()

        summary = screen.query_one("#summary")

        def probe() -> None:  # what a keypress does: a handler on the UI loop updates a widget
            n = 0
            while not done.is_set():
                n += 1
                start = time.perf_counter()
                app.call_from_thread(summary.update, f"probe {n}")
                latencies.append(time.perf_counter() - start)
                time.sleep(0.05)

        feeder = threading.Thread(target=stream, args=(lines, True), daemon=True)
        prober = threading.Thread(target=probe, daemon=True)
        feeder.start()
        prober.start()
        while not done.is_set():
            await pilot.pause(0.05)
        prober.join()
        feeder.join()
        done.clear()
        feeder = threading.Thread(target=stream, args=(rss_lines, False), daemon=True)
        feeder.start()
        while not done.is_set():
            await pilot.pause(0.05)
        feeder.join()
        await pilot.pause(0.3)
    return latencies, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rss-lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "pilot.toml").write_text(starter_text("bench"))
        paints = first_paint(project)
        print(
            f"first painted screen (tmux, 5 runs): median {statistics.median(paints):.2f} s, "
            f"max {max(paints):.2f} s"
        )
        latencies, rss_kb = asyncio.run(latency_and_rss(project, args.lines, args.rss_lines))
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"UI-update latency while {args.lines:,} lines stream at 10k/s: "
            f"{len(latencies)} probes, median {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms (plus at most one frame, 1/60 s, to repaint)"
        )
        print(f"peak RSS after streaming {args.rss_lines:,} more lines: {rss_kb / 1024:.0f} MB")


if __name__ == "__main__":
    main()
