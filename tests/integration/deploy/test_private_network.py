"""Apps on the private `pilot` network (issue 11 item 5), against the private dockerd: no app
publishes a host port, the health check goes to the new container's own address (so another
listener on the host cannot answer for it), and a release whose container exits or restarts
fails at once with its exit code and its last lines, repeats collapsed, while the previous
release keeps serving."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from pilot_tui.cloud.sandbox import free_port
from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history
from pilot_tui.deploy.engine import DeployError
from pilot_tui.deploy.targets.docker_host import containers as server_target
from pilot_tui.deploy.targets.docker_host import proxy_container
from tests.integration.deploy.test_engine import deployer
from tests.support.deploy_fixtures import get

# A worker that keeps failing the same way, as gunicorn's master reports it: the same
# traceback printed again and again, then the whole thing gives up with code 3.
TRACEBACK = (
    "echo 'Traceback (most recent call last):'; echo '  File app.py, line 1'; "
    "echo 'ImportError: no module named flask'"
)
CRASHING = (
    "FROM pilot/busybox:latest\nCOPY www /www\n"
    f'CMD ["sh", "-c", "echo booting; for i in 1 2 3 4 5 6 7 8; do {TRACEBACK}; done; '
    'exit 3"]\n'
)


def set_value(root, key: str, value: object) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value(key, value))


def releases(root) -> list[tuple[str, str]]:
    return [(r.id, r.status) for r in history.load(root / ".pilot", "hello")]


def running_releases(client) -> list[str]:
    return [
        c.labels["pilot.release"]
        for c in client.containers.list(filters={"label": "pilot.app=hello"})
    ]


class HostListener:
    """Another program on the Docker host that answers 200 to everything on 127.0.0.1:PORT,
    the port the app's releases are told to listen on ($PORT). It listens before the deploy
    starts: a crashing release's container can be gone before anything could read its
    $PORT from it (the test checks the live release's instead)."""

    def __init__(self, port: int) -> None:
        self.hits = 0
        listener = self

        class Answer(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                listener.hits += 1
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"not the app\n")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", port), Answer)

    def __enter__(self) -> HostListener:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_crash_looping_release_is_not_live_when_its_port_answers_on_the_host(site):
    """The old bug: apps on the host network, so a listener on the new release's port
    answered its health check; the crashing release went live and the good one stopped."""
    root, port = site
    app_port = free_port()  # free on the host: the listener below takes it
    set_value(root, "apps.hello.target.port", app_port)
    engine, opened = deployer(root, [])
    try:
        assert engine.deploy("hello").id == "v1" and get(port) == "hello v1"
        # The port every release of hello is told to listen on: the listener's.
        (live,) = engine.client.containers.list(filters={"label": "pilot.app=hello"})
        env = dict(e.split("=", 1) for e in live.attrs["Config"]["Env"])
        assert env["PORT"] == str(app_port)
        (root / "hello" / "Dockerfile").write_text(CRASHING)
        with HostListener(app_port) as listener, pytest.raises(DeployError) as failed:
            engine.deploy("hello")
        assert listener.hits == 0  # the health check never went to a host port
        assert "exited with code 3" in str(failed.value)
        assert releases(root) == [("v1", "live"), ("v2", "failed")]
        assert get(port) == "hello v1"
        assert running_releases(engine.client) == ["v1"]
    finally:
        opened.__exit__(None, None, None)


def test_a_crashing_release_fails_at_once_with_its_exit_code_and_collapsed_lines(site):
    root, port = site
    # Far longer than the test may take: the failure must come from the exit itself.
    set_value(root, "apps.hello.target.health_timeout", 3600)
    engine, opened = deployer(root, [])
    try:
        engine.deploy("hello")
        (root / "hello" / "Dockerfile").write_text(CRASHING)
        with pytest.raises(DeployError) as failed:
            engine.deploy("hello")
        message = str(failed.value)
        assert failed.value.stage == "deploy"
        assert "exited with code 3 before it was live" in message
        assert "did not answer" not in message  # not the health timeout
        assert list(failed.value.logs) == [
            "booting",
            "Traceback (most recent call last):",
            "  File app.py, line 1",
            "ImportError: no module named flask",
            "[the 3 lines above repeated 7 more times]",
        ]
        records = history.load(root / ".pilot", "hello")
        assert [(r.id, r.status) for r in records] == [("v1", "live"), ("v2", "failed")]
        assert "exited with code 3" in records[-1].note
        assert get(port) == "hello v1"  # the previous release keeps serving
        assert running_releases(engine.client) == ["v1"]
    finally:
        opened.__exit__(None, None, None)


def test_a_release_that_dies_while_it_settles_is_not_live(site):
    """Healthy for a moment, then gone: the check passed, the settle catches it."""
    root, port = site
    engine, opened = deployer(root, [])
    engine.settle = 4.0  # longer than the app lives once healthy
    try:
        engine.deploy("hello")
        (root / "hello" / "Dockerfile").write_text(
            "FROM pilot/busybox:latest\nCOPY www /www\n"
            'CMD ["sh", "-c", "httpd -p $PORT -h /www; sleep 2; echo giving up; exit 4"]\n'
        )
        with pytest.raises(DeployError) as failed:
            engine.deploy("hello")
        assert "exited with code 4" in str(failed.value)
        assert failed.value.logs == ("giving up",)
        assert releases(root) == [("v1", "live"), ("v2", "failed")]
        assert get(port) == "hello v1"
    finally:
        opened.__exit__(None, None, None)


def test_apps_publish_no_host_port_and_live_on_the_private_network(site, docker_client):
    root, port = site
    engine, opened = deployer(root, [])
    try:
        engine.deploy("hello")
    finally:
        opened.__exit__(None, None, None)
    (app,) = docker_client.containers.list(filters={"label": "pilot.app=hello"})
    assert app.attrs["HostConfig"]["NetworkMode"] == "pilot"
    assert list(app.attrs["NetworkSettings"]["Networks"]) == ["pilot"]
    assert not app.attrs["HostConfig"]["PortBindings"] and not app.ports
    assert app.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"  # once live
    proxy = docker_client.containers.get("pilot-proxy")
    assert list(proxy.attrs["NetworkSettings"]["Networks"]) == ["pilot"]
    assert proxy.ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    routes = proxy_container.read_routes(proxy)
    assert routes == {"hello.localhost": f"{app.name}:8080"}  # by container name
    # Only the proxy reaches the app: nothing on the host listens on the app's port for it.
    assert get(port) == "hello v1"


def test_repeats_are_collapsed_as_data():
    lines = ["a", "x", "y", "x", "y", "x", "y", "b", "b", "c"]
    assert server_target.collapse_repeats(lines) == [
        "a",
        "x",
        "y",
        "[the 2 lines above repeated 2 more times]",
        "b",
        "[the line above repeated 1 more time]",
        "c",
    ]
    assert server_target.collapse_repeats(["a", "b", "c"]) == ["a", "b", "c"]
    assert server_target.collapse_repeats([]) == []


def test_a_restarting_or_restarted_container_is_never_trusted(docker_client):
    """What the release gate asks of a container (server_target.trouble): one that the
    engine keeps restarting is caught whether it is caught restarting or just up again."""
    container = docker_client.containers.run(
        "pilot/busybox:latest",
        ["sh", "-c", "sleep 0.2; exit 5"],
        detach=True,
        restart_policy={"Name": "always"},
        labels={"pilot.test": "restarts"},
    )
    try:
        deadline = time.monotonic() + 20
        while container.attrs.get("RestartCount", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            container.reload()
        said = [server_target.trouble(container) for _ in range(10)]
        assert all(said), said
        for text in said:
            assert "restarted" in text or ("restarting" in text and "exit code 5" in text)
    finally:
        container.remove(force=True)
