"""Benchmark automatic revert on a private Docker engine (root and dockerd needed; `bash
.ci/setup --test` provides them): the sample app (tests/fixtures/apps/hello) is deployed,
then, --runs times, a release that passes its health check and crashes 5 s later is
deployed with the default watch settings while 4 clients ask through the edge. For each
run: the time from the bad release's first answer (it went live) to the previous release's
first answer after the bad one's last (the clients are 4 threads: an answer the old release
gave just before the switch can be recorded just after it), the time from the first failed
request to it, and the requests that failed meanwhile. Goal (issue 15): the previous
release serving again < 15 s after the bad one went live, median of 5. Prints figures and
the machine's load; asserts nothing.

    .venv/bin/python tests/bench/revert.py [--runs 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
HELLO = HERE.parent / "fixtures" / "apps" / "hello"
CRASHES = 'CMD ["sh", "-c", "httpd -f -p $PORT -h /www & sleep 5; kill $!; exit 3"]\n'


def pilot(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("pilot-tui", path=str(Path(sys.executable).parent))
    return subprocess.run([str(exe), *args], cwd=cwd, env=env, capture_output=True, text=True)


class Clients:
    """4 clients asking through the edge; each answer's time and body, each failure's time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: list[tuple[float, str]] = []
        self.failures: list[float] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.loop) for _ in range(4)]

    def loop(self) -> None:
        while not self.stop.is_set():
            request = urllib.request.Request(
                f"http://127.0.0.1:{self.port}/index.html", headers={"Host": "hello.localhost"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    self.answers.append((time.monotonic(), response.read().decode().strip()))
            except (OSError, http.client.HTTPException):  # refused, 502, cut short
                self.failures.append(time.monotonic())
                time.sleep(0.02)

    def __enter__(self) -> Clients:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    ns = parser.parse_args()
    import docker

    sys.path.insert(0, str(HERE.parent.parent))  # the checkout, for the tests' own helpers
    from pilot_tui.cloud.sandbox import free_port
    from tests.support import dockerd

    root = Path(tempfile.mkdtemp(prefix="pr-", dir="/tmp"))
    engine = dockerd.start(root)
    try:
        dockerd.import_base_image(engine)
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
            good = (project / "hello" / "Dockerfile").read_text()
            (project / "hello" / "www" / "index.html").write_text("good\n")
            assert pilot("deploy", "hello", cwd=project, env=env).returncode == 0
            live_to_back, failure_to_back, failed = [], [], []
            for n in range(ns.runs):
                dockerfile = project / "hello" / "Dockerfile"
                kept = [ln for ln in good.splitlines(keepends=True) if not ln.startswith("CMD")]
                dockerfile.write_text("".join(kept) + CRASHES)
                (project / "hello" / "www" / "index.html").write_text(f"bad {n}\n")
                with Clients(port) as clients:
                    result = pilot("deploy", "hello", cwd=project, env=env)
                    done = time.monotonic()
                    # until the previous release answers again: requests in flight to the
                    # crashed one when it was reverted wait out the edge's dial timeout
                    deadline = done + 15
                    while time.monotonic() < deadline and not any(
                        t > done and body == "good" for t, body in clients.answers[-50:]
                    ):
                        time.sleep(0.1)
                if result.returncode == 0 or "was reverted" not in result.stderr:
                    print(f"run {n + 1}: not reverted?\n{result.stderr[-800:]}")
                    continue
                bad = [t for t, body in clients.answers if body == f"bad {n}"]
                back = [t for t, body in clients.answers if bad and t > bad[-1] and body == "good"]
                if not bad or not back:
                    print(
                        f"run {n + 1}: {len(bad)} answer(s) from the bad release, "
                        f"{len(back)} from the previous one after them (it crashed before "
                        "a client reached it, or the previous one never came back)"
                    )
                    continue
                window = [t for t in clients.failures if bad[0] <= t <= back[0]]
                live_to_back.append(back[0] - bad[0])
                failure_to_back.append(back[0] - window[0] if window else 0.0)
                failed.append(len(window))
                print(
                    f"run {n + 1}: bad live -> good again {live_to_back[-1]:.1f} s, first failure "
                    f"-> good again {failure_to_back[-1]:.1f} s, {len(window)} failed of "
                    f"{len(clients.answers) + len(clients.failures)} requests"
                )
                dockerfile.write_text(good)
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"\nload average: {load}, {os.cpu_count()} cores")
            if live_to_back:
                print(
                    f"bad release live -> previous serving again: median "
                    f"{statistics.median(live_to_back):.1f} s over {len(live_to_back)} runs "
                    "(goal < 15 s; the release is healthy for its first 5 s by design)"
                )
                print(
                    f"first failed request -> previous serving again: median "
                    f"{statistics.median(failure_to_back):.1f} s; failed requests: median "
                    f"{statistics.median(failed):.0f}, max {max(failed)}"
                )
        docker.DockerClient(base_url=engine.url).close()
    finally:
        dockerd.stop(engine)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
