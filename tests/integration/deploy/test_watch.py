"""Automatic revert (issue 15, item 2) on the Docker host, against the tests' private
dockerd and the real edge: a release that starts, passes its health check, then
crash-loops, whose health check starts failing once it is live, or that answers its users
5xx through the proxy while its health path says 200, is reverted within the watch window
while a client keeps asking through the proxy; `deploy` exits non-zero, the
previous release serves again, the history says why and who deployed; `--no-watch` does
not watch. A local HTTP receiver stands for the team's webhook (issue 15, item 5) and gets
each notification."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history
from tests.polling import wait_until
from tests.support.deploy_fixtures import SECRET, get

CRASHES_AFTER = 'CMD ["sh", "-c", "httpd -f -p $PORT -h /www & sleep 5; kill $!; exit 3"]\n'
SICKENS_AFTER = (
    'CMD ["sh", "-c", "httpd -f -p $PORT -h /www & sleep 5; rm /www/index.html; wait"]\n'
)


@pytest.fixture
def webhook(monkeypatch):
    """A webhook receiver on 127.0.0.1: the JSON bodies it was sent."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PILOT_TEST_WEBHOOK", f"http://127.0.0.1:{server.server_address[1]}/hook")
    yield received
    server.shutdown()
    server.server_close()


def _notifying(root) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("notify.webhook_env", "PILOT_TEST_WEBHOOK"))


def _watched(root, seconds: int = 25) -> None:
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps.hello.target.watch", seconds))


def _release_v2(root, command: str) -> None:
    dockerfile = root / "hello" / "Dockerfile"
    lines = [ln for ln in dockerfile.read_text().splitlines(keepends=True) if ln[:3] != "CMD"]
    dockerfile.write_text("".join(lines) + command)
    (root / "hello" / "www" / "index.html").write_text("hello v2\n")


def _answer(port: int) -> str:
    try:
        return get(port)
    except (OSError, http.client.HTTPException):
        return ""


class Client:
    """Asks the app through the proxy, as fast as it answers, until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: list[tuple[float, str]] = []
        self.failed: list[tuple[float, str]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop)

    def loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.seen.append((time.monotonic(), get(self.port).strip()))
            except (OSError, http.client.HTTPException) as exc:  # refused, or cut short
                self.failed.append((time.monotonic(), repr(exc)[:80]))
                time.sleep(0.05)

    def __enter__(self) -> Client:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def test_a_release_that_crash_loops_once_live_is_reverted(site, cli, webhook):
    root, port = site
    _notifying(root)
    assert cli("deploy", "hello").code == 0
    (deployed_v1,) = webhook
    assert (deployed_v1["event"], deployed_v1["release"], deployed_v1["app"]) == (
        "deployed",
        "v1",
        "hello",
    )
    assert deployed_v1["text"].startswith("[") and "v1 of hello deployed by " in deployed_v1["text"]
    _watched(root)
    _release_v2(root, CRASHES_AFTER)
    with Client(port) as client:
        started = time.monotonic()
        deployed = cli("deploy", "hello")
        took = time.monotonic() - started
        # until v1 answers the client again (a request in flight to the crashed release
        # when it was reverted can take the edge's dial timeout to fail)
        wait_until(
            lambda: any(text == "hello v1" for t, text in client.seen if t > started + took),
            what="v1 answering the client again",
        )
    assert deployed.code != 0
    assert "watch: v2 was reverted: its container" in deployed.err
    assert "v1 serves again" in deployed.err
    assert get(port).strip() == "hello v1"
    v1, v2 = history.load(root / ".pilot", "hello")
    assert (v1.status, v2.status) == (history.LIVE, history.REVERTED)
    assert v2.note.startswith("reverted: its container") and "v2 was reverted" in v1.note
    assert took < 25 + 15  # within the watch window, with the build and the start
    answered = [text for _, text in client.seen]
    assert "hello v2" in answered and answered[-1] == "hello v1"
    # Requests fail only while v2 is down and not yet reverted: none before its first
    # answer, none after v1's first answer again.
    first_v2 = next(t for t, text in client.seen if text == "hello v2")
    back = next(t for t, text in client.seen if t > first_v2 and text == "hello v1")
    assert all(first_v2 < t < back for t, _ in client.failed), client.failed
    print(f"crash window: {len(client.failed)} failed request(s), {back - first_v2:.1f} s")
    # who deployed, in every record; the team heard of the revert, with why
    assert v1.by and v1.by == v2.by == deployed_v1["by"]
    reverted = webhook[-1]
    assert (reverted["event"], reverted["release"]) == ("reverted", "v2")
    assert reverted["reason"].startswith("v2 was reverted: its container")
    assert SECRET not in json.dumps(webhook)


def test_a_revert_that_cannot_put_the_previous_release_back_is_not_said_to_be_one(
    site, cli, docker_client, webhook
):
    """v2 crash-loops while v1's container, kept for the revert, has been stopped: nothing
    can be put back. The deploy fails saying so, v2 stays the live record, and the team is
    told of a failure, never of a revert (the webhook said "reverted")."""
    root, port = site
    _notifying(root)
    assert cli("deploy", "hello").code == 0
    _watched(root)
    _release_v2(root, CRASHES_AFTER.replace("sleep 5", "sleep 10"))
    labels = ["pilot.app=hello", "pilot.release=v1"]
    stopped = threading.Event()

    def stop_v1_once_v2_is_live() -> None:  # as a host's OOM killer or a person might
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                live = get(port) == "hello v2"
            except (OSError, http.client.HTTPException):
                live = False
            if live:  # after the drain (2 s) it is watched, v1 kept running to be put back
                time.sleep(3)
                for container in docker_client.containers.list(filters={"label": labels}):
                    container.stop(timeout=1)
                stopped.set()
                return
            time.sleep(0.1)

    stopper = threading.Thread(target=stop_v1_once_v2_is_live)
    stopper.start()
    deployed = cli("deploy", "hello")
    stopper.join()
    assert stopped.is_set()
    assert deployed.code != 0
    assert "v2 went bad (its container" in deployed.err
    assert "v1 could not be put back" in deployed.err and "v2 is still live" in deployed.err
    v1, v2 = history.load(root / ".pilot", "hello")
    assert v2.status == history.LIVE and v1.status != history.LIVE
    failed = webhook[-1]
    assert (failed["event"], failed["release"]) == ("failed", "v2"), failed
    assert "could not be put back" in failed["reason"]
    assert all(sent["event"] != "reverted" for sent in webhook)


def test_ctrl_c_during_the_watch_keeps_the_new_release_and_retires_the_old(
    site, cli, docker_client
):
    """A real SIGINT to `pilot-tui deploy` while it watches: as the watch's line promises,
    the new release stays, the previous one's container is retired (it was kept running
    for a revert), the release is printed, and the exit status is 130. Before, the
    KeyboardInterrupt went straight up: no release said, v1's container left running."""
    import signal
    import subprocess

    from tests.conftest import PILOT

    root, port = site
    assert cli("deploy", "hello").code == 0
    _watched(root, seconds=60)
    _release_v2(root, 'CMD ["sh", "-c", "exec httpd -f -p $PORT -h /www"]\n')
    child = subprocess.Popen(
        [PILOT, "deploy", "hello"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: _answer(port) == "hello v2", what="v2 live", timeout=120)
        time.sleep(3)  # the drain (2 s): it watches now, v1 kept running
        assert child.poll() is None  # still watching
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    text = err.decode()
    assert child.returncode == 130, text
    assert "stopped watching: the new release stays live" in text
    assert out.decode().startswith("hello\tv2\t")
    assert get(port) == "hello v2"
    (v1, v2) = history.load(root / ".pilot", "hello")
    assert v2.status == history.LIVE and v1.status != history.LIVE
    running = docker_client.containers.list(filters={"label": "pilot.app=hello"})
    assert [c.labels["pilot.release"] for c in running] == ["v2"]


def _interrupted_deploy(root, port: int, wait_after_live: float):
    """`pilot-tui deploy hello` in a child process, sent a real SIGINT ``wait_after_live``
    seconds after the new release answers through the edge; (exit status, out, err)."""
    import signal
    import subprocess

    from tests.conftest import PILOT

    child = subprocess.Popen(
        [PILOT, "deploy", "hello"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        wait_until(lambda: _answer(port) == "hello v2", what="v2 live", timeout=120, interval=0.02)
        time.sleep(wait_after_live)
        assert child.poll() is None  # still at it
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    return child.returncode, out.decode(), err.decode()


def test_ctrl_c_during_the_drain_keeps_the_new_release_and_retires_the_old(
    site, cli, docker_client
):
    """A SIGINT in the 2 s after the switch (the old release's requests in flight finish)
    keeps the new release, as one during the watch does: the old container is retired,
    nothing is watched, the release is printed, exit 130. Before, the KeyboardInterrupt
    went straight up: no release said, v1's container left running."""
    root, port = site
    assert cli("deploy", "hello").code == 0
    _watched(root, seconds=60)
    _release_v2(root, 'CMD ["sh", "-c", "exec httpd -f -p $PORT -h /www"]\n')
    code, out, err = _interrupted_deploy(root, port, wait_after_live=0.5)
    assert code == 130, err
    assert "Ctrl+C: the new release stays live; stopping the previous one now" in err
    assert "watching the new release" not in err
    assert out.startswith("hello\tv2\t"), out
    assert get(port) == "hello v2"
    (v1, v2) = history.load(root / ".pilot", "hello")
    assert v2.status == history.LIVE and v1.status != history.LIVE
    running = docker_client.containers.list(all=True, filters={"label": "pilot.app=hello"})
    assert [c.labels["pilot.release"] for c in running] == ["v2"]


def test_ctrl_c_as_the_edge_switches_keeps_the_switched_release(
    site, cli, docker_client, monkeypatch
):
    """Regression (issue 15): a real SIGINT that lands while the edge switches, here just
    after its files were renamed to the new release and before the routes lock is given
    back. Before, the KeyboardInterrupt went up from there: the edge served v2 while the
    deploy said "interrupted", recorded nothing live and left v1 running. The switch now
    holds the Ctrl+C off until it is whole, then it is one just after: v2 stays, exit 130."""
    import os
    import signal

    from pilot_tui.deploy.targets.docker_host import proxy_container

    root, port = site
    assert cli("deploy", "hello").code == 0
    _release_v2(root, 'CMD ["sh", "-c", "exec httpd -f -p $PORT -h /www"]\n')
    real_apply = proxy_container.apply
    sent: list[str] = []

    def apply_then_ctrl_c(edge, routes, spec, present=None):  # type: ignore[no-untyped-def]
        real_apply(edge, routes, spec, present)
        if not sent and any("-hello-v2:" in upstream for upstream in routes.values()):
            sent.append("SIGINT")
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C, as the terminal sends it

    monkeypatch.setattr(proxy_container, "apply", apply_then_ctrl_c)
    result = cli("deploy", "hello")
    assert sent == ["SIGINT"]
    assert result.code == 130, result.err
    assert "Ctrl+C: the new release stays live" in result.err
    assert result.out.startswith("hello\tv2\t"), result.out
    assert get(port) == "hello v2"
    (v1, v2) = history.load(root / ".pilot", "hello")
    assert v2.status == history.LIVE and v1.status != history.LIVE
    running = docker_client.containers.list(all=True, filters={"label": "pilot.app=hello"})
    assert [c.labels["pilot.release"] for c in running] == ["v2"]


def test_ctrl_c_held_through_a_switch_that_fails_still_stops_the_run(
    engine_project, cli, docker_client, monkeypatch
):
    """A SIGINT held off during the switch, which then fails for real (the edge container
    is stopped under it: the engine refuses the reload): the deploy fails as it would,
    and the Ctrl+C is not lost: `deploy hello other` does not go on to `other`, exit 130."""
    import os
    import shutil
    import signal

    from pilot_tui.deploy.targets.docker_host import containers, proxy_container
    from tests.support.deploy_fixtures import HELLO

    root, _, add = engine_project
    shutil.copytree(HELLO, root / "hello")
    for name in ("hello", "other"):
        target = {"kind": "server", "health_path": "/index.html", "health_timeout": 10}
        add({"name": name, "path": "hello", "build": {"kind": "dockerfile"}, "target": target})
    real_apply = proxy_container.apply
    sent: list[str] = []

    def ctrl_c_then_the_edge_stops(edge, routes, spec, present=None):  # type: ignore[no-untyped-def]
        if not sent:
            sent.append("SIGINT")
            os.kill(os.getpid(), signal.SIGINT)  # held: the switch goes on
            edge.stop(timeout=0)
        real_apply(edge, routes, spec, present)

    monkeypatch.setattr(proxy_container, "apply", ctrl_c_then_the_edge_stops)
    result = cli("deploy", "hello", "other")
    assert sent == ["SIGINT"]
    assert result.code == 130, result.err
    assert "interrupted: not deployed: other" in result.err
    assert not docker_client.containers.list(all=True, filters={"label": "pilot.app=other"})
    docker_client.containers.get(containers.PROXY_NAME).start()  # for the fixture's cleanup


def test_ctrl_c_while_the_old_release_stops_leaves_it_to_the_next_deploy(site, cli, docker_client):
    """A SIGINT while the previous release stops (it ignores SIGTERM: the stop waits out
    `stop_timeout`) ends the deploy as released, exit 130, saying the old container is
    left; the next deploy, though nothing changed, removes it. Before, the interrupt went
    straight up with no release said, and a no-change deploy never looked at it again."""
    root, port = site
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps.hello.target.stop_timeout", 15))
    dockerfile = root / "hello" / "Dockerfile"
    stubborn = 'CMD ["sh", "-c", "trap \\"\\" TERM; exec httpd -f -p $PORT -h /www"]\n'
    lines = [ln for ln in dockerfile.read_text().splitlines(keepends=True) if ln[:3] != "CMD"]
    dockerfile.write_text("".join(lines) + stubborn)
    assert cli("deploy", "hello").code == 0
    _release_v2(root, 'CMD ["sh", "-c", "exec httpd -f -p $PORT -h /www"]\n')
    code, out, err = _interrupted_deploy(root, port, wait_after_live=3.5)  # the drain is 2 s
    assert code == 130, err
    assert "the previous release is left running; the next deploy of hello stops it" in err
    assert out.startswith("hello\tv2\t"), out
    assert get(port) == "hello v2"
    v1 = docker_client.containers.list(filters={"label": ["pilot.app=hello", "pilot.release=v1"]})
    assert len(v1) == 1, "v1's container was to be left running"

    again = cli("deploy", "hello")
    assert again.code == 0, again.err
    assert "nothing changed: v2 is live" in again.err
    assert "stopping 1 container of earlier releases left running" in again.err
    left = docker_client.containers.list(all=True, filters={"label": "pilot.app=hello"})
    assert [c.labels["pilot.release"] for c in left] == ["v2"]
    assert get(port) == "hello v2"


def test_a_release_whose_health_fails_once_live_is_reverted_and_no_watch_keeps_it(site, cli):
    root, port = site
    assert cli("deploy", "hello").code == 0
    _watched(root)
    _release_v2(root, SICKENS_AFTER)
    deployed = cli("deploy", "hello")
    assert deployed.code != 0
    assert "its health check failed 3 times in a row (last: 404)" in deployed.err
    assert get(port).strip() == "hello v1"
    assert history.live(history.load(root / ".pilot", "hello")).id == "v1"

    (root / "hello" / "www" / "index.html").write_text("hello v3\n")  # a new image again
    kept = cli("deploy", "hello", "--no-watch")
    assert kept.code == 0, kept.err
    assert "watching" not in kept.err
    records = history.load(root / ".pilot", "hello")
    assert [(r.id, r.status) for r in records] == [
        ("v1", "superseded"),
        ("v2", "reverted"),
        ("v3", "live"),
    ]
    # the default rollback skips the reverted release
    back = cli("rollback", "hello")
    assert back.code == 0, back.err
    assert "rollback to v1" in back.out


FIVE_HUNDREDS = """import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        bad = os.environ.get("BAD") == "1" and self.path != "/healthz"
        body = b"broken" if bad else b"fine"
        self.send_response(500 if bad else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()
"""


def test_a_release_that_answers_5xx_through_the_proxy_is_reverted(engine_project, cli, python_base):
    """Healthy by its health path, failing its users: more than watch_5xx_percent of the
    requests through the edge answer 500, and the previous release comes back."""
    root, port, add = engine_project
    (root / "api").mkdir()
    (root / "api" / "server.py").write_text(FIVE_HUNDREDS)
    (root / "api" / "Dockerfile").write_text(
        f"FROM {python_base}\nCOPY server.py /app/server.py\n"
        'ENTRYPOINT []\nCMD ["python3", "-u", "/app/server.py"]\n'
    )
    add(
        {
            "name": "api",
            "path": "api",
            "build": {"kind": "dockerfile"},
            "target": {"kind": "server", "port": 8000, "health_path": "/healthz", "watch": 30},
        }
    )
    assert cli("deploy", "api").code == 0
    pf = ProjectFile.load(root / "pilot.toml")
    pf.save(pf.with_value("apps.api.env", {"BAD": "1"}))  # a settings change: a new release
    answers: list[int] = []
    stop = threading.Event()

    def users() -> None:
        while not stop.is_set():
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/", headers={"Host": "api.localhost"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as answer:
                    answers.append(answer.status)
            except urllib.error.HTTPError as exc:
                answers.append(exc.code)
            except (OSError, http.client.HTTPException):
                answers.append(0)
            time.sleep(0.05)

    thread = threading.Thread(target=users)
    thread.start()
    try:
        deployed = cli("deploy", "api")
    finally:
        stop.set()
        thread.join()
    assert deployed.code != 0
    assert "v2 was reverted: " in deployed.err and "answered 5xx" in deployed.err
    assert "the limit is 20%" in deployed.err
    assert 500 in answers and answers[-1] == 200
    v1, v2 = history.load(root / ".pilot", "api")
    assert (v1.status, v2.status) == (history.LIVE, history.REVERTED)
