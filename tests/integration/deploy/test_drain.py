"""The previous release stops as on a platform: once the new one is live and the drain is
over, it gets SIGTERM through its container's init and up to `target.stop_timeout` seconds
to finish the requests it has, then SIGKILL. A request that was on it when the release
switched finishes with its answer, not a cut connection."""

from __future__ import annotations

import threading
import time
import urllib.request

from tests.polling import wait_until
from tests.support.deploy_fixtures import PYTHON_BASE

# Answers `/` at once; `/slow` waits for SIGTERM (at most 60 s), then answers a second
# later; on SIGTERM it stops accepting, lets the requests it has finish, and exits.
SERVER = """
import os, signal, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

term = threading.Event()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            term.wait(60)
            time.sleep(1)
            body = ("finished after SIGTERM" if term.is_set() else "no SIGTERM").encode()
        else:
            body = open("/app/version").read().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for the requests in flight

server = Server(("", int(os.environ["PORT"])), Handler)

def stop(*_):
    term.set()
    threading.Thread(target=server.shutdown).start()

signal.signal(signal.SIGTERM, stop)
server.serve_forever()
server.server_close()
"""


def test_a_request_in_flight_on_the_previous_release_finishes_after_sigterm(
    engine_project, cli, docker_client
):
    root, port, add = engine_project
    app = root / "slow"
    app.mkdir()
    (app / "server.py").write_text(SERVER)
    (app / "version").write_text("v1")
    (app / "Dockerfile").write_text(
        f'FROM {PYTHON_BASE}\nCOPY . /app\nCMD ["python3", "-u", "/app/server.py"]\n'
    )
    add(
        {
            "name": "slow",
            "path": "slow",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "port": 8000, "health_timeout": 20, "stop_timeout": 30},
        }
    )
    assert cli("deploy", "slow").code == 0
    (live,) = docker_client.containers.list(filters={"label": "pilot.app=slow"})
    assert live.attrs["HostConfig"]["Init"] is True  # signals reach an app without handlers

    answers: list[str] = []

    def ask_slow() -> None:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slow", headers={"Host": "slow.localhost"}
        )
        try:
            with urllib.request.urlopen(request, timeout=90) as response:
                answers.append(f"{response.status} {response.read().decode()}")
        except OSError as exc:
            answers.append(f"failed: {exc!r}")

    slow = threading.Thread(target=ask_slow)
    slow.start()
    time.sleep(1)  # on v1 now
    (app / "version").write_text("v2")
    started = time.monotonic()
    deployed = cli("deploy", "slow")
    assert deployed.code == 0, deployed.err
    assert "stopping the previous release (up to 30 s to finish)" in deployed.out + deployed.err
    slow.join(timeout=90)
    took = time.monotonic() - started
    print(f"deploy with a request in flight on the previous release: {took:.1f} s")
    assert answers == ["200 finished after SIGTERM"]
    wait_until(
        lambda: (
            urllib.request.urlopen(
                urllib.request.Request(
                    f"http://127.0.0.1:{port}/", headers={"Host": "slow.localhost"}
                )
            ).read()
            == b"v2"
        ),
        what="v2 answering",
    )
