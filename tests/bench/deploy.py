"""Benchmark the deploy engine on a private Docker engine (root, dockerd and the CI's Python
base tarball needed; `bash .ci/setup --test` provides them):

- a full build + deploy of the sample app (tests/fixtures/apps/hello) from a cold cache;
- a no-change redeploy (goal < 0.3 s, issue 16; median of 7), through the real CLI as a
  user runs it;
- requests failed while a changed release is swapped in under a client loop (target 0).

Prints figures; asserts nothing.

    .venv/bin/python tests/bench/deploy.py [--swaps 3]
"""

from __future__ import annotations

import argparse
import http.client
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from pilot_tui.cloud.sandbox import free_port

HERE = Path(__file__).resolve().parent
HELLO = HERE.parent / "fixtures" / "apps" / "hello"
ROOTFS = Path.home() / ".cache" / "pilot-ci" / "python3-rootfs.tar"


def pilot(*args: str, cwd: Path, env: dict[str, str]) -> float:
    return timed(*args, cwd=cwd, env=env)[0]


def timed(*args: str, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one `pilot-tui ARGS` run. On a busy
    machine the wall time is the CPU time over the share of a core the run gets."""
    import resource

    exe = shutil.which("pilot-tui", path=str(Path(sys.executable).parent))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(exe), *args], cwd=cwd, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--swaps", type=int, default=3)
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="also profile one no-change redeploy (cProfile's stats to FILE, imports to "
        "FILE.imports)",
    )
    ns = parser.parse_args()
    import os

    import docker

    sys.path.insert(0, str(HERE.parent.parent))  # the checkout, for the tests' own helpers
    from tests.support import dockerd

    root = Path(tempfile.mkdtemp(prefix="pb-", dir="/tmp"))
    engine = dockerd.start(root)
    try:
        dockerd.import_base_image(engine)
        client = docker.DockerClient(base_url=engine.url, timeout=600)
        client.api.import_image(src=str(ROOTFS), repository="pilot/python", tag="3")
        edge = dockerd.build_caddy_image(engine)
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp)
            shutil.copytree(HELLO, project / "hello")
            port = free_port()
            env = {**os.environ, "PILOT_PROXY_IMAGE": edge, "API_TOKEN": "bench"}
            pilot("init", "--name", "bench", cwd=project, env=env)
            for key, value in (
                ("server.host", engine.url),
                ("server.home", "host"),
                ("server.http_port", str(port)),
                ("server.tls", "off"),
            ):
                pilot("config", "set", key, value, cwd=project, env=env)
            with (project / "pilot.toml").open("a") as handle:
                handle.write(
                    '\n[[apps]]\nname = "hello"\npath = "hello"\nsecrets = '
                    '["API_TOKEN"]\n[apps.build]\nkind = "dockerfile"\n'
                    '[apps.target]\nkind = "server"\nhealth_path = "/index.html"\n'
                )
            first = pilot("deploy", "hello", cwd=project, env=env)
            print(f"full build + deploy (proxy started too): {first:.2f} s")
            (project / "hello" / "www" / "index.html").write_text("changed\n")
            # --no-watch: the watch window (60 s by default) is the revert bench's figure.
            second = pilot("deploy", "hello", "--no-watch", cwd=project, env=env)
            print(f"build + deploy of a change (proxy up, not watched): {second:.2f} s")
            runs = [timed("deploy", "hello", cwd=project, env=env) for _ in range(7)]
            unchanged = [wall for wall, _ in runs]
            cpu = statistics.median(c for _, c in runs)
            print(
                f"no-change redeploy, 7 runs: median {statistics.median(unchanged):.2f} s, "
                f"min {min(unchanged):.2f} s, max {max(unchanged):.2f} s (goal < 0.3 s); "
                f"CPU (user + system) median {cpu:.2f} s; "
                f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
            )

            if ns.profile:
                profile(ns.profile, project, env)

            total = failed = 0
            for n in range(ns.swaps):
                stop = threading.Event()
                counts = {"ok": 0, "failed": 0}

                def loop(stop: threading.Event = stop, counts: dict[str, int] = counts) -> None:
                    while not stop.is_set():
                        request = urllib.request.Request(
                            f"http://127.0.0.1:{port}/index.html",
                            headers={"Host": "hello.localhost"},
                        )
                        try:
                            with urllib.request.urlopen(request, timeout=5) as response:
                                response.read()
                            counts["ok"] += 1
                        except (OSError, http.client.HTTPException):
                            counts["failed"] += 1

                clients = [threading.Thread(target=loop) for _ in range(4)]
                for c in clients:
                    c.start()
                (project / "hello" / "www" / "index.html").write_text(f"swap {n}\n")
                pilot("deploy", "hello", "--no-watch", cwd=project, env=env)
                stop.set()
                for c in clients:
                    c.join()
                total += counts["ok"] + counts["failed"]
                failed += counts["failed"]
            print(
                f"swaps under 4 client loops: {ns.swaps} swaps, {total} requests, "
                f"{failed} failed (target 0)"
            )
        client.close()
    finally:
        dockerd.stop(engine)
        shutil.rmtree(root, ignore_errors=True)


def profile(path: str, project: Path, env: dict[str, str]) -> None:
    """One no-change redeploy under cProfile, and one with -X importtime: where its CPU
    time goes (print the top with `python -m pstats FILE`)."""
    command = [sys.executable, "-m", "cProfile", "-o", path, "-m", "pilot_tui", "deploy", "hello"]
    subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pilot_tui", "deploy", "hello"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    Path(f"{path}.imports").write_text(imports.stderr)
    print(f"profiled one no-change redeploy: {path}, {path}.imports")


if __name__ == "__main__":
    main()
