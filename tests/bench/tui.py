"""Benchmark the app: time to first painted screen (tmux, 80x24, beside a bare Textual app in
the same run), the latency of a UI update (what a
keypress handler does) while log lines stream into the Server screen, and peak RSS after
streaming 1M lines into its capped log. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/tui.py [--runs 15] [--paint-only] [--lines 100000]
        [--rss-lines 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
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

BARE_APP = """
from textual.app import App
from textual.widgets import Footer, Header, Static

class Bare(App):
    def compose(self):
        yield Header()
        yield Static("Welcome to Pilot")
        yield Footer()

Bare().run()
"""


def first_paint(command: str, runs: int, size: tuple[int, int] = (80, 24)) -> list[float]:
    """Wall time from launching ``command`` in a tmux pane of ``size`` to "Welcome to
    Pilot" being on it."""
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
                str(size[0]),
                "-y",
                str(size[1]),
                command,
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


def paints(project: Path, runs: int) -> tuple[list[float], list[float]]:
    """First paint of Pilot and of a bare Textual app (Header, Static, Footer), taken in
    turns so both see the same machine."""
    pilot = shutil.which("pilot-tui", path=str(Path(sys.executable).parent))
    bare = project / "bare.py"
    bare.write_text(BARE_APP)
    ours, baseline = [], []
    # A session kept open throughout: the tmux server would exit with each run's last one
    # and the next run race its shutdown.
    keeper = f"bench-keeper-{time.monotonic_ns()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", keeper, "sleep 3600"], check=True)
    try:
        for _ in range(runs):
            ours += first_paint(f"cd {project} && {pilot}", 1)
            baseline += first_paint(f"{sys.executable} {bare}", 1)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", keeper], capture_output=True)
    return ours, baseline


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
    parser.add_argument("--runs", type=int, default=15, help="first paints of each app")
    parser.add_argument("--paint-only", action="store_true", help="skip the streaming figures")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "pilot.toml").write_text(starter_text("bench"))
        ours, bare = paints(project, args.runs)
        med = statistics.median
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
        print(
            f"first painted screen, tmux 80x24, {args.runs} runs each: Pilot median "
            f"{med(ours):.2f} s (max {max(ours):.2f}), bare Textual app {med(bare):.2f} s "
            f"(max {max(bare):.2f}): {med(ours) / med(bare):.2f}x (goal <= 1.3x, < 0.5 s)"
        )
        if args.paint_only:
            return
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
