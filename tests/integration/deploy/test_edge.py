"""The edge proxy, Caddy, in its container on the private Docker engine (built from the
static caddy binary on BusyBox, as caddy:2-alpine cannot be pulled here), in front of two
real upstream containers on the private network: routing by host, the 404 for any other
host, no open proxy, the admin API out of reach, swaps under keep-alive load, a refused
config, a restart, and the move from Pilot's old Python proxy."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import json
import os
import re
import socket
import tarfile
import threading
import time
from pathlib import Path

import pytest

from pilot_tui.cloud.sandbox import free_port
from pilot_tui.deploy.targets.docker_host import caddy_config, proxy, proxy_container
from pilot_tui.deploy.targets.docker_host.containers import (
    NETWORK,
    PROXY_NAME,
    ReleaseError,
    ensure_network,
)
from pilot_tui.deploy.targets.docker_host.proxy_container import ProxySpec
from tests.polling import wait_until
from tests.support.load import KeepAliveLoad

UPSTREAMS = {"A": "edge-test-a", "B": "edge-test-b"}
NOT_AN_APP = "pilot-edgetest-none-"  # the release prefix swaps are told: no upstream here has it


@pytest.fixture(scope="module")
def engine(docker_engine, edge_image):
    """(client, spec, the two upstreams' addresses): upstream containers answering their
    own letter, and the port the proxy is published on."""
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    ensure_network(client)
    made = []
    for letter, name in UPSTREAMS.items():
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(name).remove(force=True)
        made.append(
            client.containers.run(
                edge_image,
                ["caddy", "respond", "--listen", ":8080", "--body", letter],
                name=name,
                network=NETWORK,
                detach=True,
            )
        )
    spec = ProxySpec("127.0.0.1", free_port(), edge_image)
    yield client, spec, {letter: f"{name}:8080" for letter, name in UPSTREAMS.items()}
    for container in made:
        container.remove(force=True)
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(PROXY_NAME).remove(force=True)
    client.close()


@pytest.fixture
def edge(engine):
    """A fresh proxy routing a.test to A (and nothing else), the module's upstreams."""
    import docker

    client, spec, upstream = engine
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(PROXY_NAME).remove(force=True)
    container = proxy_container.ensure_proxy(client, spec, lambda _: None)
    proxy_container.swap(container, ["a.test"], upstream["A"], spec, NOT_AN_APP)
    return container, spec, upstream


def raw(port: int, request: bytes) -> bytes:
    """One request's whole answer, as bytes, over a plain socket."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def get(port: int, host: str, path: str = "/") -> tuple[int, bytes]:
    answer = raw(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_routes_by_host_and_any_other_host_gets_a_404_that_names_nothing(edge):
    container, spec, upstream = edge
    proxy_container.swap(container, ["b.test"], upstream["B"], spec, NOT_AN_APP)
    assert get(spec.port, "a.test") == (200, b"A")
    assert get(spec.port, "A.TEST:80") == (200, b"A")  # case and port ignored
    assert get(spec.port, "b.test") == (200, b"B")
    status, body = get(spec.port, "unknown.test", "/secret")
    assert status == 404 and body == caddy_config.NOT_FOUND.encode()
    assert b"a.test" not in body and b"edge-test" not in body
    assert get(spec.port, "whatever", caddy_config.HEALTH_PATH) == (200, b"ok\n")


def test_an_absolute_form_or_connect_request_is_never_proxied_elsewhere(edge):
    _, spec, _ = edge
    # The absolute URI's host wins over the Host header (RFC 9112, 3.2.2): no route.
    elsewhere = raw(
        spec.port,
        b"GET http://elsewhere.example/ HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    assert elsewhere.startswith(b"HTTP/1.1 404"), elsewhere[:80]
    # Naming a routed host reaches that app, never the host in the Host header.
    routed = raw(
        spec.port,
        b"GET http://a.test/ HTTP/1.1\r\nHost: elsewhere.example\r\nConnection: close\r\n\r\n",
    )
    assert routed.startswith(b"HTTP/1.1 200") and routed.endswith(b"A"), routed[-80:]
    tunnel = raw(
        spec.port,
        b"CONNECT elsewhere.example:443 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    assert not tunnel.startswith(b"HTTP/1.1 200"), tunnel[:80]


def test_the_admin_api_is_out_of_reach_of_the_published_port_and_of_app_containers(engine, edge):
    client, _, _ = engine
    container, spec, _ = edge
    # It is there, on the proxy container's own loopback (the check below could fail).
    inside = container.exec_run(["wget", "-O", "-", "http://localhost:2019/config/"])
    assert inside.exit_code == 0 and b'"admin"' in inside.output
    # Through the published port, its paths are just unknown hosts' paths.
    for host in ("localhost:2019", "localhost", "127.0.0.1"):
        assert get(spec.port, host, "/config/")[0] == 404
    loaded = raw(
        spec.port,
        b"POST /load HTTP/1.1\r\nHost: localhost:2019\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    assert loaded.startswith(b"HTTP/1.1 404"), loaded[:80]
    # From an app's container on the private network, by name and by address: refused.
    container.reload()
    address = container.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
    app = client.containers.get(UPSTREAMS["A"])
    for where in (PROXY_NAME, address):
        probe = app.exec_run(["timeout", "3", "wget", "-O", "-", f"http://{where}:2019/config/"])
        assert probe.exit_code != 0, probe.output
        assert b"refused" in probe.output, probe.output
    assert get(spec.port, "a.test") == (200, b"A")  # and the config is what it was


def test_swaps_under_keep_alive_load_fail_no_request(edge):
    container, spec, upstream = edge
    order = ["B", "A", "B"]
    with KeepAliveLoad(spec.port, "a.test", clients=8) as load:
        wait_until(lambda: load.count() >= 200, what="200 answers before the swaps", timeout=60)
        for letter in order:
            before = load.count()
            proxy_container.swap(container, ["a.test"], upstream[letter], spec, NOT_AN_APP)
            switched = time.monotonic()
            wait_until(
                lambda b=before, t=switched: load.count() >= b + 200 and time.monotonic() > t + 1,
                what="200 more answers and a second",
            )
        # A release the proxy refuses (a CA root file that is not there) changes nothing.
        refused = ProxySpec(
            spec.bind,
            spec.port,
            spec.image,
            edge=caddy_config.EdgeSettings(tls=True, acme_ca_root="/etc/pilot/missing.pem"),
        )
        with pytest.raises(ReleaseError, match="refused its new config"):
            proxy_container.swap(
                container, ["shop.example.com"], upstream["A"], refused, NOT_AN_APP
            )
        before = load.count()
        wait_until(lambda: load.count() >= before + 200, what="200 answers after the refusal")
    report = load.report
    print(f"3 swaps and a refused config under 8 keep-alive clients: {report.summary()}")
    assert not report.failures, report.failures[:5]
    assert report.retried == 0  # no config load: no idle connection closed under a client
    assert len(report.answers) >= 1000
    assert report.bodies_after(switched + 0.5) == {b"B"}  # never back to the old release
    assert proxy_container.read_routes(container) == {"a.test": upstream["B"]}


def test_a_refused_config_leaves_the_running_one_and_its_files(edge):
    container, spec, upstream = edge
    before = proxy_container.read_routes(container)
    bad = ProxySpec(
        spec.bind,
        spec.port,
        spec.image,
        edge=caddy_config.EdgeSettings(tls=True, acme_ca_root="/etc/pilot/missing.pem"),
    )
    with pytest.raises(ReleaseError) as caught:
        proxy_container.swap(container, ["shop.example.com"], upstream["B"], bad, NOT_AN_APP)
    assert any("missing.pem" in line for line in caught.value.logs), caught.value.logs
    assert proxy_container.read_routes(container) == before
    assert get(spec.port, "a.test") == (200, b"A")
    assert b"upstreams.next" not in container.exec_run(["ls", proxy.CONFIG_DIR]).output
    container.restart()  # it starts again on the files it ran on
    wait_until(lambda: _answers(spec.port, "a.test") == (200, b"A"), what="A after a restart")


def _answers(port: int, host: str) -> tuple[int, bytes] | None:
    try:
        return get(port, host)
    except (OSError, IndexError):  # refused, or closed before an answer (still starting)
        return None


def test_the_old_python_proxy_is_replaced_in_place_keeping_its_routes(engine):
    import docker

    client, spec, upstream = engine
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(PROXY_NAME).remove(force=True)
    # What a host running Pilot's old proxy has: its labels, its routes file, its port
    # published (a stand-in answers "old" for every host there).
    old = client.containers.create(
        spec.image,
        ["caddy", "respond", "--listen", ":80", "--body", "old"],
        name=PROXY_NAME,
        network=NETWORK,
        ports={"80/tcp": ("127.0.0.1", spec.port)},
        labels={
            "pilot.role": "proxy",
            "pilot.proxy.image": "pilot/proxy:b3fb473e8762",
            "pilot.proxy.listen": spec.listen,
            "pilot.proxy.network": NETWORK,
        },
    )
    routes = {"a.test": upstream["A"], "b.test": upstream["B"]}
    old.put_archive("/etc", proxy.folder_tar("pilot", {"routes.json": proxy.routes_json(routes)}))
    old.start()
    wait_until(lambda: _answers(spec.port, "a.test") == (200, b"old"), what="the old proxy")
    answered: list[tuple[float, bytes]] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            got = _answers(spec.port, "a.test")
            if got is not None and got[0] == 200:
                answered.append((time.monotonic(), got[1]))
            time.sleep(0.01)

    asking = threading.Thread(target=ask)
    asking.start()
    said: list[str] = []
    try:
        new = proxy_container.ensure_proxy(client, spec, said.append)
        wait_until(lambda: answered and answered[-1][1] == b"A", what="A through Caddy")
    finally:
        stop.set()
        asking.join()
    last_old = max(t for t, body in answered if body == b"old")
    first_new = min(t for t, body in answered if body == b"A")
    print(f"old proxy -> Caddy: {first_new - last_old:.2f} s without an answer")
    assert said[0] == "moving 2 routes from Pilot's old proxy to Caddy"
    assert new.id != old.id and new.labels["pilot.proxy.edge"] == "caddy"
    assert get(spec.port, "a.test") == (200, b"A") and get(spec.port, "b.test") == (200, b"B")
    assert [c.name for c in client.containers.list(all=True) if "proxy" in c.name] == [PROXY_NAME]
    again = proxy_container.ensure_proxy(client, spec, said.append)
    assert again.id == new.id and len(said) == 1  # now current: kept as it is


def test_a_replacement_that_cannot_start_gives_way_to_the_edge_it_replaced(engine, edge):
    """The new edge cannot publish its port (taken on the host): the one it was to replace
    serves again, with its routes, and the error names the port."""
    client, _, _ = engine
    container, spec, _ = edge
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        moved = ProxySpec(spec.bind, taken.getsockname()[1], spec.image)
        with pytest.raises(ReleaseError, match="cannot listen on"):
            proxy_container.ensure_proxy(client, moved, lambda _: None)
    back = client.containers.get(PROXY_NAME)
    assert back.id == container.id
    wait_until(lambda: _answers(spec.port, "a.test") == (200, b"A"), what="the old edge back")
    names = [c.name for c in client.containers.list(all=True) if "proxy" in c.name]
    assert names == [PROXY_NAME]


def test_the_proxy_keeps_its_data_in_a_named_volume_and_publishes_only_its_ports(edge):
    container, spec, _ = edge
    container.reload()
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert mounts["/data"]["Type"] == "volume" and mounts["/data"]["Name"] == proxy.DATA_VOLUME
    published = container.attrs["HostConfig"]["PortBindings"]
    assert published == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(spec.port)}]}
    config = json.loads(_read(container, proxy.CONFIG_PATH))
    assert config["admin"] == {"listen": caddy_config.ADMIN}


def _read(container, path: str) -> bytes:
    chunks, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.extractfile(path.rsplit("/", 1)[1])
        assert member is not None
        return member.read()


WS_SERVER = Path(__file__).resolve().parents[2] / "fixtures" / "ws" / "server.py"


class WebSocket:
    """A WebSocket client over a plain socket through the edge (text frames, masked)."""

    def __init__(self, port: int, host: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /chat HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            byte = self.sock.recv(1)
            assert byte, head
            head += byte
        assert head.startswith(b"HTTP/1.1 101"), head

    def echo(self, text: str) -> str:
        data, mask = text.encode(), os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(bytes([0x81, 0x80 | len(data)]) + mask + masked)
        first = self._read(2)
        return self._read(first[1] & 0x7F).decode()

    def _read(self, size: int) -> bytes:
        out = b""
        while len(out) < size:
            chunk = self.sock.recv(size - len(out))
            if not chunk:
                raise ConnectionError("the WebSocket was closed")
            out += chunk
        return out

    def close(self) -> None:
        self.sock.close()


def test_a_websocket_to_one_app_outlives_a_swap_of_another(engine, edge, python_base):
    """Another app's first releases (new hosts) load new configs; a WebSocket open to an app
    that did not change is not cut by them (Caddy closes upgraded streams when their config
    goes, unless told to wait: stream_close_delay)."""
    client, _, _ = engine
    container, spec, upstream = edge
    ws = client.containers.create(
        python_base,
        ["python3", "-u", "/srv/server.py"],
        name="edge-test-ws",
        network=NETWORK,
        environment={"PORT": "8080"},
    )
    try:
        ws.put_archive("/", proxy.folder_tar("srv", {"server.py": WS_SERVER.read_bytes()}))
        ws.start()
        proxy_container.swap(container, ["ws.test"], "edge-test-ws:8080", spec, NOT_AN_APP)
        wait_until(lambda: _answers(spec.port, "ws.test") == (200, b"ok\n"), what="the WS app")
        socket_ = WebSocket(spec.port, "ws.test")
        try:
            assert socket_.echo("before") == "before"
            loads = _loads(container)
            for n, letter in enumerate(("B", "A", "B")):  # another app's releases, new names
                hosts = ["a.test", f"new{n}.test"]
                proxy_container.swap(container, hosts, upstream[letter], spec, NOT_AN_APP)
            assert get(spec.port, "a.test") == (200, b"B")
            assert _loads(container) == loads + 3  # each one a config load
            assert socket_.echo("after three swaps") == "after three swaps"
        finally:
            socket_.close()
    finally:
        ws.remove(force=True)


def _loads(container) -> float:
    """How many configs the edge's admin API has been sent (its own metrics, inside)."""
    metrics = container.exec_run(["wget", "-q", "-O", "-", "http://localhost:2019/metrics"])
    found = re.findall(
        rb'caddy_admin_http_requests_total\{[^}]*path="/load"[^}]*\} ([\d.e+]+)', metrics.output
    )
    return sum(float(n) for n in found)


def test_a_release_switches_without_a_config_load_and_only_a_new_host_loads_one(engine, edge):
    """A swap renames the host's upstream file: Caddy is given no config (a load closes
    every idle keep-alive connection and drops connections arriving meanwhile); the same
    files again are not even written; a new host is a new config, loaded once."""
    client, _, _ = engine
    container, spec, upstream = edge
    before = _loads(container)
    assert before >= 1  # the swap in the fixture: a new host
    again = proxy_container.ensure_proxy(client, spec, lambda _: None)
    proxy_container.swap(again, ["a.test"], upstream["A"], spec, NOT_AN_APP)  # already so
    assert again.id == container.id and _loads(container) == before
    proxy_container.swap(again, ["a.test"], upstream["B"], spec, NOT_AN_APP)
    assert get(spec.port, "a.test") == (200, b"B") and _loads(container) == before
    proxy_container.swap(again, ["c.test"], upstream["A"], spec, NOT_AN_APP)
    assert get(spec.port, "c.test") == (200, b"A") and _loads(container) == before + 1
    listed = container.exec_run(["ls", proxy.CONFIG_DIR + "/" + proxy.UPSTREAMS]).output.split()
    assert sorted(listed) == [b"a.test", b"c.test"]  # no staged file left behind
    assert b"upstreams.next" not in container.exec_run(["ls", proxy.CONFIG_DIR]).output


def test_another_projects_different_edge_settings_are_named_before_they_change(engine, edge):
    """The edge is the host's, shared by its projects: a deploy that changes its settings
    says whose it replaces (and the same project's own changes say nothing)."""
    client, _, _ = engine
    _, spec, _ = edge
    said: list[str] = []
    alpha = dataclasses.replace(spec, project="alpha")
    proxy_container.ensure_proxy(client, alpha, said.append)
    proxy_container.ensure_proxy(client, alpha, said.append)
    assert said == []
    beta = dataclasses.replace(
        spec,
        project="beta",
        edge=caddy_config.EdgeSettings(tls=True, acme_ca="https://127.0.0.1:9/dir"),
    )
    proxy_container.ensure_proxy(client, beta, said.append)
    assert said == [
        "warning: the edge on this host runs project alpha's settings (tls off); this deploy "
        "sets tls auto, https_port 443, acme_ca https://127.0.0.1:9/dir for every app on the host"
    ]
    proxy_container.ensure_proxy(client, spec, said.append)  # back as the module had it


def test_a_replaced_edge_left_behind_by_a_cut_short_move_is_removed(engine, edge):
    """A move killed after its new edge started leaves the old one set aside: the next
    deploy removes it (a later move would trip on its name)."""
    import docker

    client, spec, _ = engine
    left = client.containers.create(spec.image, ["sleep", "60"], name="pilot-proxy-old")
    proxy_container.ensure_proxy(client, spec, lambda _: None)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(left.id)


def test_an_edge_as_it_should_be_is_read_without_the_lock_and_never_changed_by_it(engine, edge):
    """A deploy that finds the edge as it should be takes no routes lock (no lock container
    is made) and gets the routes it serves; the lock-free read only reads: an edge set
    aside beside it (another deploy's replacement under way) is left to the locked path."""
    client, _, _ = engine
    container, spec, upstream = edge
    import time

    since = f"{time.time():.6f}"  # the fixture's own swap, a moment ago, is before it
    found = proxy_container.ensure_edge(client, spec, lambda _: None)
    assert found.container.id == container.id
    assert found.served is not None and found.served["a.test"] == upstream["A"]
    until = int(time.time()) + 1
    events = client.events(
        since=since, until=until, decode=True, filters={"type": "container", "event": "create"}
    )
    made = [e.get("Actor", {}).get("Attributes", {}).get("name", "") for e in events]
    assert not [name for name in made if "lock" in name], made  # no lock container

    # Under the lock, for comparison: a write (a new host) makes one.
    since = f"{time.time():.6f}"
    proxy_container.swap(container, ["d.test"], upstream["A"], spec, NOT_AN_APP)
    until = int(time.time()) + 1
    events = client.events(
        since=since, until=until, decode=True, filters={"type": "container", "event": "create"}
    )
    made = [e.get("Actor", {}).get("Attributes", {}).get("name", "") for e in events]
    assert [name for name in made if "lock" in name], made

    aside = client.containers.create(spec.image, ["sleep", "60"], name="pilot-proxy-old")
    try:
        assert proxy_container._as_is(client, spec, lambda _: None) is None
        assert client.containers.get(aside.id).name == "pilot-proxy-old"  # still there
    finally:
        aside.remove(force=True)


def test_an_edge_image_the_check_cannot_run_in_says_what_the_check_got(
    site, cli, docker_client, edge_image, monkeypatch
):
    """Found walking: a Caddy image without BusyBox's `timeout` served, yet the deploy said
    only "the proxy did not start on 127.0.0.1:80": the health check run inside the edge
    failed, and what it got was never said."""
    dockerfile = io.BytesIO(f"FROM {edge_image}\nRUN rm /bin/timeout\n".encode())
    docker_client.images.build(fileobj=dockerfile, tag="pilot-test/edge-no-timeout", rm=True)
    monkeypatch.setenv("PILOT_PROXY_IMAGE", "pilot-test/edge-no-timeout")
    failed = cli("deploy", "hello")
    assert failed.code != 0
    assert "the proxy did not start on" in failed.err
    assert "(its health check inside the container: " in failed.err, failed.err
    assert "timeout" in failed.err.split("its health check inside the container: ")[1]
