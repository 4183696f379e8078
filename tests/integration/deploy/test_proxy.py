"""Pilot's reverse proxy (targets/docker_host/proxy_main.py): first as a local process in front of
two real upstream HTTP servers (routing by Host, 404/502/400, SIGHUP swaps under load, the
headers the upstream sees, SIGTERM), then as a container built from the image recipe the
engine uses, on the private Docker engine with a locally imported Python base image."""

from __future__ import annotations

import ast
import contextlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pilot_tui.deploy.targets.docker_host import proxy, proxy_main
from tests.polling import wait_until

PROGRAM = Path(proxy_main.__file__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Upstream:
    """A real HTTP server on 127.0.0.1 in a thread: answers JSON naming itself, with the
    request's path and headers; /slow waits a second; POST echoes the body's length."""

    def __init__(self, name: str) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, extra: dict) -> None:
                if self.path.startswith("/slow"):
                    outer.slow_arrived.set()
                    time.sleep(1.0)
                body = json.dumps(
                    {
                        "name": outer.name,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        **extra,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._answer({})

            def do_POST(self):
                data = self.rfile.read(int(self.headers["Content-Length"]))
                self._answer({"received": len(data), "tail": data[-8:].decode()})

            def log_message(self, *args):
                pass

        self.name = name
        self.slow_arrived = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstreams():
    started = [Upstream("A"), Upstream("B")]
    yield started
    for upstream in started:
        upstream.stop()


def get(
    port: int,
    host: str | None,
    path: str = "/",
    headers: dict | None = None,
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = 10,
):
    """(status, body bytes, response headers) of one request through the proxy."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = dict(headers or {})
        if host is not None:
            sent["Host"] = host
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in sent.items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def refuses(port: int) -> bool:
    """Whether nothing accepts connections on 127.0.0.1:``port`` (any more)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


def raw(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send raw bytes and read the reply until the proxy closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return reply


def wait_healthy(port: int, timeout: float = 15, alive=lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get(port, "probe", "/_pilot/health", timeout=2)[0] == 200:
                return
        assert alive(), "the proxy exited before it answered"
        time.sleep(0.05)
    raise AssertionError(f"the proxy did not answer on 127.0.0.1:{port} within {timeout} s")


class LocalProxy:
    """proxy_main.py run by this test's interpreter, started and stopped by pid."""

    def __init__(self, tmp_path: Path, routes: dict[str, str]) -> None:
        self.routes_path = tmp_path / "routes.json"
        self.write_routes(routes)
        self.port = free_port()
        self.out, self.err = tmp_path / "proxy.out", tmp_path / "proxy.err"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(PROGRAM),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--routes",
                    str(self.routes_path),
                ],
                stdout=out,
                stderr=err,
            )
        wait_healthy(self.port, alive=lambda: self.process.poll() is None)

    def write_routes(self, routes: dict[str, str]) -> None:
        tmp = self.routes_path.with_suffix(".tmp")
        tmp.write_bytes(proxy.routes_json(routes))
        tmp.replace(self.routes_path)

    def swap(self, routes: dict[str, str]) -> None:
        self.write_routes(routes)
        os.kill(self.process.pid, signal.SIGHUP)

    def stderr(self) -> str:
        return self.err.read_text()

    def stop(self) -> int:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def local_proxy(tmp_path, upstreams):
    a, b = upstreams
    running = LocalProxy(tmp_path, {"a.example.com": a.address, "api.example.com": b.address})
    yield running
    running.stop()


def until_stderr(running: LocalProxy, text: str, count: int = 1, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while running.stderr().count(text) < count:
        assert time.monotonic() < deadline, running.stderr()
        time.sleep(0.02)


# -- the program, locally ------------------------------------------------------------------


def test_routes_by_host_ignoring_case_and_port(local_proxy):
    status, body, _ = get(local_proxy.port, "a.example.com", "/hello?x=1")
    assert status == 200 and json.loads(body)["name"] == "A"
    assert json.loads(body)["path"] == "/hello?x=1"
    status, body, _ = get(local_proxy.port, "API.example.com:8080", "/")
    assert status == 200 and json.loads(body)["name"] == "B"
    assert json.loads(body)["headers"]["Host"] == "API.example.com:8080"  # passed on unchanged


def test_an_unknown_host_is_a_404_that_lists_no_routes(local_proxy, upstreams):
    status, body, headers = get(local_proxy.port, "nope.example.com", "/")
    assert status == 404
    assert body == b"no app is served at nope.example.com\n"
    assert headers["Connection"] == "close"
    text = body.decode()
    assert "a.example.com" not in text and "api" not in text
    assert all(str(u.port) not in text for u in upstreams)


def test_a_refusing_upstream_is_a_502(local_proxy):
    dead = free_port()
    local_proxy.swap({"a.example.com": f"127.0.0.1:{dead}"})
    until_stderr(local_proxy, "loaded 1 route(s)")
    status, body, _ = get(local_proxy.port, "a.example.com", "/")
    assert status == 502 and body.startswith(b"bad gateway") and str(dead).encode() not in body


def test_health_answers_whatever_the_host(local_proxy):
    assert get(local_proxy.port, "whatever.invalid", "/_pilot/health")[:2] == (200, b"ok")
    assert raw(local_proxy.port, b"GET /_pilot/health HTTP/1.0\r\n\r\n").endswith(b"\r\n\r\nok")
    status, body, _ = get(local_proxy.port, "a.example.com", "/_pilot/health", method="HEAD")
    assert status == 200 and body == b""


def test_the_upstream_sees_forwarded_headers_and_connection_close(local_proxy):
    status, body, _ = get(
        local_proxy.port,
        "a.example.com:80",
        "/",
        headers={
            "Connection": "keep-alive",
            "Keep-Alive": "timeout=5",
            "X-Forwarded-For": "203.0.113.9",
            "X-Forwarded-Proto": "https",
            "X-Custom": "kept",
        },
    )
    assert status == 200
    seen = json.loads(body)["headers"]
    assert seen["Connection"] == "close"
    assert "Keep-Alive" not in seen
    assert seen["X-Forwarded-For"] == "203.0.113.9, 127.0.0.1"  # appended to
    assert seen["X-Forwarded-Proto"] == "http"
    assert seen["X-Forwarded-Host"] == "a.example.com:80"
    assert seen["X-Custom"] == "kept"
    _, body, _ = get(local_proxy.port, "a.example.com", "/")
    assert json.loads(body)["headers"]["X-Forwarded-For"] == "127.0.0.1"


def test_a_websocket_upgrade_keeps_its_headers(local_proxy):
    _, body, _ = get(
        local_proxy.port,
        "a.example.com",
        "/ws",
        headers={
            "Connection": "keep-alive, Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
        },
    )
    seen = json.loads(body)["headers"]
    assert seen["Connection"] == "Upgrade" and seen["Upgrade"] == "websocket"
    assert seen["Sec-WebSocket-Key"] == "dGhlIHNhbXBsZSBub25jZQ=="
    # An Upgrade header without the Connection token is not an upgrade: dropped.
    _, body, _ = get(local_proxy.port, "a.example.com", "/", headers={"Upgrade": "h2c"})
    seen = json.loads(body)["headers"]
    assert seen["Connection"] == "close" and "Upgrade" not in seen


def test_a_request_body_is_piped_through(local_proxy):
    data = os.urandom(1 << 20)[:-8] + b"THE-END!"
    status, body, _ = get(local_proxy.port, "a.example.com", "/upload", method="POST", body=data)
    assert status == 200 and json.loads(body)["received"] == len(data)
    assert json.loads(body)["tail"] == "THE-END!"


def test_bad_heads_are_refused(local_proxy):
    assert raw(local_proxy.port, b"GET / HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")  # no Host
    assert raw(local_proxy.port, b"nonsense\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(local_proxy.port, b"GET / HTTP/1.1\r\nHost: a.example.com\nX: y\r\n\r\n").startswith(
        b"HTTP/1.1 400 "
    )  # a bare LF would smuggle a header
    big = b"GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Big: " + b"x" * 70000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", local_proxy.port), timeout=10) as s:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            s.sendall(big)
        assert s.recv(65536).startswith(b"HTTP/1.1 400 ")


def test_one_log_line_per_request_without_the_query(local_proxy, upstreams):
    get(local_proxy.port, "a.example.com", "/orders?token=secret")
    get(local_proxy.port, "nope.example.com", "/x")
    lines = local_proxy.out.read_text().splitlines()
    assert lines[-2].endswith(f" GET a.example.com /orders -> {upstreams[0].address}")
    assert lines[-1].endswith(" GET nope.example.com /x -> -")
    assert "secret" not in local_proxy.out.read_text()


def test_a_sighup_swap_under_load_loses_no_request_and_never_goes_back(local_proxy, upstreams):
    b = upstreams[1]
    results: list[str] = []
    failures: list[str] = []

    def client() -> None:
        for i in range(300):
            try:
                status, body, _ = get(local_proxy.port, "a.example.com", f"/{i}")
                if status != 200:
                    failures.append(f"{i}: {status} {body[:80]!r}")
                else:
                    results.append(json.loads(body)["name"])
            except (OSError, http.client.HTTPException) as exc:
                failures.append(f"{i}: {exc!r}")

    thread = threading.Thread(target=client)
    started = time.monotonic()
    thread.start()
    wait_until(
        lambda: len(results) + len(failures) >= 100,
        what="100 answers before the swap",
        timeout=60,
        interval=0.002,
    )
    local_proxy.swap({"a.example.com": b.address, "api.example.com": b.address})
    thread.join(timeout=120)
    elapsed = time.monotonic() - started
    assert not failures, failures[:5]
    assert len(results) == 300
    switch = results.index("B")
    assert switch >= 100 and set(results[:switch]) == {"A"} and set(results[switch:]) == {"B"}
    print(f"300 requests through the proxy in {elapsed:.2f} s ({300 / elapsed:.0f}/s)")


def test_a_bad_routes_file_keeps_the_old_table(local_proxy):
    local_proxy.routes_path.write_text('{"routes": {"a.example.com": "no port"}}')
    os.kill(local_proxy.process.pid, signal.SIGHUP)
    until_stderr(local_proxy, "keeping the current 2 route(s)")
    assert "'no port' is not HOST:PORT" in local_proxy.stderr()
    local_proxy.routes_path.write_text("{not json")
    os.kill(local_proxy.process.pid, signal.SIGHUP)
    until_stderr(local_proxy, "keeping the current 2 route(s)", count=2)
    local_proxy.routes_path.unlink()
    os.kill(local_proxy.process.pid, signal.SIGHUP)
    until_stderr(local_proxy, "keeping the current 2 route(s)", count=3)
    assert json.loads(get(local_proxy.port, "a.example.com")[1])["name"] == "A"
    assert json.loads(get(local_proxy.port, "api.example.com")[1])["name"] == "B"


def test_sigterm_lets_a_request_in_flight_finish_and_exits_0(local_proxy, upstreams):
    answer: list = []
    thread = threading.Thread(
        target=lambda: answer.append(get(local_proxy.port, "a.example.com", "/slow"))
    )
    thread.start()
    # The request has reached the upstream, which takes a second to answer.
    wait_until(upstreams[0].slow_arrived.is_set, what="the /slow request to reach upstream A")
    os.kill(local_proxy.process.pid, signal.SIGTERM)
    wait_until(lambda: refuses(local_proxy.port), what="the proxy to stop accepting after SIGTERM")
    with pytest.raises(OSError):  # no longer accepting
        socket.create_connection(("127.0.0.1", local_proxy.port), timeout=2).close()
    assert local_proxy.process.wait(timeout=15) == 0
    thread.join(timeout=5)
    assert answer and answer[0][0] == 200 and json.loads(answer[0][1])["path"] == "/slow"


def test_a_routes_file_missing_at_start_means_no_routes_until_sighup(tmp_path, upstreams):
    running = LocalProxy(tmp_path, {})
    try:
        running.routes_path.unlink()
        os.kill(running.process.pid, signal.SIGHUP)  # missing now: the empty table stays
        until_stderr(running, "keeping the current 0 route(s)")
        assert get(running.port, "a.example.com")[0] == 404
        running.swap({"a.example.com": upstreams[0].address})
        until_stderr(running, "loaded 1 route(s)")
        assert json.loads(get(running.port, "a.example.com")[1])["name"] == "A"
    finally:
        assert running.stop() == 0


def test_the_program_parses_as_python_3_9():
    # The proxy runs under the base image's Python, not ours.
    ast.parse(PROGRAM.read_text(), feature_version=(3, 9))
    imported = set()
    for node in ast.walk(ast.parse(PROGRAM.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported


# -- the engine's helpers ---------------------------------------------------------------------


def test_the_build_context_and_routes_archive():
    with tarfile.open(fileobj=io.BytesIO(proxy.proxy_context("pilot/python:3"))) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    assert files["proxy_main.py"] == PROGRAM.read_bytes()
    dockerfile = files["Dockerfile"].decode()
    assert dockerfile.startswith("FROM pilot/python:3\n")
    assert "COPY proxy_main.py /pilot/proxy.py" in dockerfile and '["python3"' in dockerfile
    assert json.loads(files["routes.json"]) == {"routes": {}}

    routes = {"b.example.com": "127.0.0.1:20001", "a.example.com": "127.0.0.1:20000"}
    with tarfile.open(fileobj=io.BytesIO(proxy.routes_tar(routes))) as tar:
        (member,) = tar.getmembers()
        assert member.name == "routes.json" and member.mode == 0o644
        data = tar.extractfile(member).read()
    assert data == proxy.routes_json(routes)
    assert list(json.loads(data)["routes"]) == ["a.example.com", "b.example.com"]


def test_the_image_tag_follows_the_base_and_the_program(tmp_path, monkeypatch):
    tag = proxy.proxy_image_tag("python:3.12-alpine")
    assert tag.startswith("pilot/proxy:") and len(tag.split(":")[1]) == 12
    assert proxy.proxy_image_tag("python:3.12-alpine") == tag
    assert proxy.proxy_image_tag("pilot/python:3") != tag
    changed = tmp_path / "proxy_main.py"
    changed.write_bytes(PROGRAM.read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(proxy, "program", changed.read_bytes)
    assert proxy.proxy_image_tag("python:3.12-alpine") != tag


# -- in Docker ------------------------------------------------------------------------------


def test_the_proxy_container_routes_and_swaps(docker_client, python_base, upstreams):
    a, b = upstreams
    tag = proxy.proxy_image_tag(python_base)
    started = time.monotonic()
    docker_client.images.build(
        fileobj=io.BytesIO(proxy.proxy_context(python_base)),
        custom_context=True,
        tag=tag,
        rm=True,
        forcerm=True,
    )
    built = time.monotonic() - started
    port = free_port()
    container = docker_client.containers.create(
        tag,
        network_mode="host",
        command=[
            "python3",
            "/pilot/proxy.py",
            "--listen",
            f"127.0.0.1:{port}",
            "--routes",
            "/etc/pilot/routes.json",
        ],
    )
    try:
        container.put_archive("/etc/pilot", proxy.routes_tar({"a.example.com": a.address}))
        container.start()

        def alive() -> bool:
            container.reload()
            return container.status == "running"

        wait_healthy(port, timeout=30, alive=alive)
        assert json.loads(get(port, "A.example.com:80")[1])["name"] == "A"
        assert get(port, "b.example.com")[0] == 404

        names: list[str] = []
        failures: list[str] = []

        def client() -> None:
            for _ in range(150):
                try:
                    status, body, _ = get(port, "a.example.com")
                    if status == 200:
                        names.append(json.loads(body)["name"])
                    else:
                        failures.append(f"{status} {body[:80]!r}")
                except (OSError, http.client.HTTPException) as exc:
                    failures.append(repr(exc))

        thread = threading.Thread(target=client)
        thread.start()
        wait_until(
            lambda: len(names) + len(failures) >= 50,
            what="50 answers before the swap",
            timeout=60,
            interval=0.002,
        )
        container.put_archive("/etc/pilot", proxy.routes_tar({"a.example.com": b.address}))
        container.kill(signal="SIGHUP")
        thread.join(timeout=120)
        assert not failures, failures[:5]
        switch = names.index("B")
        assert set(names[:switch]) == {"A"} and set(names[switch:]) == {"B"} and switch >= 50

        logs = container.logs().decode()
        assert f"GET a.example.com / -> {b.address}" in logs
        assert "loaded 1 route(s) from /etc/pilot/routes.json" in logs

        started = time.monotonic()
        container.stop(timeout=10)  # SIGTERM to PID 1: handled, so well under the 10 s
        stopped = time.monotonic() - started
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0 and stopped < 5
        print(f"proxy image built in {built:.1f} s, stopped in {stopped:.2f} s")
    finally:
        container.remove(force=True)
