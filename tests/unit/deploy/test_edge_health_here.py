"""A local engine's edge is asked for its health over loopback (one request, not an exec in
its container): only the edge's own answer counts, and a remote host's edge is never asked
from here. A real HTTP server on 127.0.0.1 stands in for the edge's health route."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from pilot_tui.deploy.targets.docker_host import caddy_config
from pilot_tui.deploy.targets.docker_host.proxy_container import ProxySpec, _answers_here
from tests.conftest import free_port


def serving(body: bytes, status: int = 200) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == caddy_config.HEALTH_PATH else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def edge():
    yield from serving(caddy_config.HEALTH_BODY)


@pytest.fixture
def impostor():
    yield from serving(b"<html>another server</html>")


def test_the_edges_own_answer_on_loopback_counts(edge):
    assert _answers_here(ProxySpec(bind="127.0.0.1", port=edge))


def test_anything_else_does_not(impostor):
    assert not _answers_here(ProxySpec(bind="127.0.0.1", port=impostor))  # another answer
    assert not _answers_here(ProxySpec(bind="127.0.0.1", port=free_port()))  # nobody there


def test_a_remote_hosts_edge_is_not_asked_from_here(edge):
    assert not _answers_here(ProxySpec(bind="0.0.0.0", port=edge))
