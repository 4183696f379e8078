"""The deploy engine against a real Docker engine (a private dockerd, see conftest): build,
health-gated zero-downtime release behind Pilot's proxy, history, rollback, lock, secrets."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path

import docker
import pytest

from pilot_tui.config.document import ProjectFile
from pilot_tui.deploy import history
from pilot_tui.deploy.engine import Deployer, DeployError
from pilot_tui.deploy.events import StageFailed
from pilot_tui.deploy.host import connect, parse_host
from pilot_tui.project import Project
from tests.polling import wait_until
from tests.support.deploy_fixtures import SECRET, get


def deployer(root: Path, events: list[object], **kwargs: object):
    from pilot_tui.deploy.host import target_for

    pf = ProjectFile.load(root / "pilot.toml")
    config = pf.check().config
    project = Project(pf.path)
    target = target_for(config, project.state_dir, {})
    opened = connect(target, project.state_dir / "run")
    client = opened.__enter__()
    engine = Deployer(
        client, target, config, project.state_dir, project.root, events.append, drain=0.5, **kwargs
    )  # type: ignore[arg-type]
    return engine, opened


def test_deploy_serves_records_and_skips_an_unchanged_redeploy(site):
    root, port = site
    events: list[object] = []
    engine, opened = deployer(root, events)
    try:
        release = engine.deploy("hello")
        assert release.id == "v1" and release.status == "live"
        assert get(port) == "hello v1"
        assert release.url == f"http://hello.localhost:{port}/"
        records = history.load(root / ".pilot", "hello")
        assert [(r.id, r.status) for r in records] == [("v1", "live")]
        assert records[0].image_id.startswith("sha256:") and records[0].port
        # .dockerignore honoured: notes.txt never reached the image.
        container = engine.client.containers.list(filters={"label": "pilot.app=hello"})[0]
        assert container.exec_run(["ls", "/www"]).output.decode().split() == ["index.html"]
        assert container.exec_run(["sh", "-c", "echo $GREETING"]).output.decode().strip() == "hi"

        events.clear()
        again = engine.deploy("hello")
        assert again.id == "v1"  # nothing changed: no new release
        text = " ".join(str(e) for e in events)
        assert "unchanged source" in text and "nothing changed" in text
        assert len(history.load(root / ".pilot", "hello")) == 1
    finally:
        opened.__exit__(None, None, None)


def test_redeploy_under_load_fails_no_request_then_bad_health_keeps_serving_then_rollback(site):
    root, port = site
    events: list[object] = []
    engine, opened = deployer(root, events)
    try:
        engine.deploy("hello")
        (root / "hello" / "www" / "index.html").write_text("hello v2\n")
        seen: list[str] = []
        failures: list[str] = []
        stop = threading.Event()

        def client_loop() -> None:
            while not stop.is_set():
                try:
                    seen.append(get(port))
                except (OSError, http.client.HTTPException) as exc:  # refused, or cut short
                    failures.append(repr(exc))

        loop = threading.Thread(target=client_loop)
        loop.start()
        try:
            wait_until(lambda: len(seen) >= 10, what="10 answers from v1 before the redeploy")
            v2 = engine.deploy("hello")
            wait_until(lambda: seen.count("hello v2") >= 10, what="10 answers from v2")
        finally:
            stop.set()
            loop.join()
        assert v2.id == "v2"
        assert failures == []
        assert len(seen) > 20
        first_v2 = seen.index("hello v2")
        assert set(seen[:first_v2]) == {"hello v1"} and set(seen[first_v2:]) == {"hello v2"}

        # A release whose health check never passes: removed; v2 keeps serving.
        pf = ProjectFile.load(root / "pilot.toml")
        pf.save(pf.with_value("apps.hello.target.health_path", "/missing"))
        (root / "hello" / "www" / "index.html").write_text("hello v3\n")
        engine_bad, opened_bad = deployer(root, events)
        try:
            with pytest.raises(DeployError) as failed:
                engine_bad.deploy("hello")
        finally:
            opened_bad.__exit__(None, None, None)
        assert failed.value.stage == "deploy" and "did not answer 2xx" in str(failed.value)
        assert any("starting on" in line for line in failed.value.logs)  # its own logs
        assert any(isinstance(e, StageFailed) for e in events)
        assert get(port) == "hello v2"
        running = engine.client.containers.list(filters={"label": "pilot.app=hello"})
        assert [c.labels["pilot.release"] for c in running] == ["v2"]
        records = history.load(root / ".pilot", "hello")
        assert [(r.id, r.status) for r in records] == [
            ("v1", "superseded"),
            ("v2", "live"),
            ("v3", "failed"),
        ]

        rolled = engine.rollback("hello")  # the newest good one before v2: v1
        assert rolled.note == "rollback to v1" and get(port) == "hello v1"
        assert history.live(history.load(root / ".pilot", "hello")).id == rolled.id
        assert rolled.image_id == records[0].image_id  # no rebuild: the same image
    finally:
        opened.__exit__(None, None, None)


def test_two_deploys_at_once_one_is_refused_and_history_stays_whole(site):
    root, port = site
    results: dict[str, object] = {}

    def run(name: str) -> None:
        engine, opened = deployer(root, [])
        try:
            results[name] = engine.deploy("hello")
        except DeployError as exc:
            results[name] = exc
        finally:
            opened.__exit__(None, None, None)

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [r for r in results.values() if isinstance(r, DeployError)]
    done = [r for r in results.values() if isinstance(r, history.Release)]
    assert len(refused) == 1 and len(done) == 1, results
    assert refused[0].stage == "lock" and "locked by" in str(refused[0])
    records = json.loads((root / ".pilot" / "releases" / "hello.json").read_text())
    assert [(r["id"], r["status"]) for r in records] == [("v1", "live")]
    assert get(port) == "hello v1"

    # With --wait, the second waits for the first instead.
    (root / "hello" / "www" / "index.html").write_text("hello v2\n")
    results.clear()

    def run_waiting(name: str) -> None:
        engine, opened = deployer(root, [], lock_wait=60)
        try:
            results[name] = engine.deploy("hello", force=True)
        finally:
            opened.__exit__(None, None, None)

    threads = [threading.Thread(target=run_waiting, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = sorted(r.id for r in results.values())  # type: ignore[attr-defined]
    assert ids == ["v2", "v3"]


def test_secrets_reach_the_app_and_nothing_else(site, cli, capsys):
    root, port = site
    result = cli("deploy", "hello", "--verbose")
    assert result.code == 0, result.err
    assert get(port) == "hello v1"
    logs = cli("logs", "hello")
    assert logs.code == 0 and "token=••••••" in logs.out  # the app printed it; masked
    releases = cli("releases", "hello", "--json")
    status = cli("status")
    assert "healthy" in status.out
    everything = [result.out, result.err, logs.out, logs.err, releases.out, status.out]
    everything += [
        p.read_text(errors="replace")
        for p in (root / ".pilot").rglob("*")
        if p.is_file() and p.suffix in (".log", ".json", ".toml", "")
    ]
    everything.append((root / "pilot.toml").read_text())
    assert not [text for text in everything if SECRET in text]
    # The container does get it.
    import docker

    client = docker.DockerClient(
        base_url=ProjectFile.load(root / "pilot.toml").check().config.server.host
    )
    container = client.containers.list(filters={"label": "pilot.app=hello"})[0]
    assert f"API_TOKEN={SECRET}" in container.attrs["Config"]["Env"]
    client.close()


def test_a_missing_secret_is_named_before_anything_is_built(site, cli, monkeypatch):
    monkeypatch.delenv("API_TOKEN")
    result = cli("deploy", "hello")
    assert result.code == 1
    assert "API_TOKEN" in result.err and "pilot-tui secrets set hello" in result.err


def test_unknown_app_and_plain_tcp_are_refused(site, cli, tmp_path):
    result = cli("deploy", "nope")
    assert result.code == 2 and 'no app "nope"' in result.err and "hello" in result.err
    from pilot_tui.deploy.host import HostError

    with pytest.raises(HostError, match="plain TCP"):
        parse_host("tcp://203.0.113.9:2375", tmp_path / ".pilot")


def test_the_cli_reports_events(site, cli):
    result = cli("deploy", "hello")
    assert result.code == 0, result.err
    assert "==> hello: build" in result.err and "release v1 is live" in result.err
    assert result.out.strip().startswith("hello\tv1\thttp://hello.localhost:")
    assert "Step 1/" not in result.err  # the build output needs --verbose


def test_a_stale_lock_is_named_and_can_be_broken(site, cli, docker_engine):
    root, port = site
    import docker

    from pilot_tui.deploy import lock

    client = docker.DockerClient(base_url=docker_engine.url)
    try:  # a deploy that was killed: its lock container is still there
        project = ProjectFile.load(root / "pilot.toml").check().config.project.name
        stale = lock.acquire(client, project, "hello", "pilot/busybox:latest")
        refused = cli("deploy", "hello")
        assert refused.code == 1 and "locked by" in refused.err and "--break-lock" in refused.err
        no_tty = cli("deploy", "hello", "--break-lock")  # asks first; no terminal: refuses
        # 2 (invalid usage, before anything is built), no longer 1 from the locked deploy.
        assert no_tty.code == 2 and "add --yes" in no_tty.err
        assert "locked by" not in no_tty.err
        broken = cli("deploy", "hello", "--break-lock", "--yes")
        assert broken.code == 0, broken.err
        assert "broke the lock of hello" in broken.err
        assert get(port) == "hello v1"
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(stale.container_id)
    finally:
        client.close()


def test_a_routes_lock_whose_agent_is_gone_is_broken_by_the_next_deploy(site, cli, docker_client):
    """The agent on the Docker host takes the edge's routes lock every minute; replaced or
    removed while it held it (a deploy that changes its settings replaces it), the lock
    stayed, and every deploy on the host waited 30 s then failed "locked by the agent"
    until someone broke it by hand. The lock now names its agent container: while that
    runs the lock is honoured; once it is gone the next taker removes the lock."""
    from pilot_tui.deploy import lock

    root, port = site
    assert cli("deploy", "hello").code == 0
    routes = lock.lock_name("proxy", "routes")
    agent = docker_client.containers.run(
        "pilot/busybox:latest",
        ["sleep", "600"],
        detach=True,
        labels={"pilot.project": "stand-in-agent", lock.AGENT_ID_LABEL: "0c4d1e9a"},
    )
    left = docker_client.containers.create(
        "pilot/busybox:latest",
        ["true"],
        name=routes,
        labels={
            lock.LOCK_LABEL: "routes",
            "pilot.project": "proxy",
            "pilot.lock.holder": "the agent on the Docker host (expired previews)",
            lock.AGENT_LOCK_LABEL: "0c4d1e9a",
        },
    )
    try:
        with pytest.raises(lock.LockHeld):  # its agent runs: honoured
            lock.acquire(docker_client, "proxy", "routes", "pilot/busybox:latest")
    finally:
        agent.remove(force=True)  # the agent replaced while it held the lock
    (root / "hello" / "www" / "index.html").write_text("hello v2\n")
    again = cli("deploy", "hello")
    assert again.code == 0, again.err
    assert get(port) == "hello v2"
    with pytest.raises(docker.errors.NotFound):
        docker_client.containers.get(left.id)


def test_logs_follow_streams_and_app_destroy_removes_everything(site, cli, docker_engine):
    import subprocess
    import sys

    root, port = site
    assert cli("deploy", "hello").code == 0
    follow = subprocess.Popen(
        [sys.executable, "-m", "pilot_tui", "logs", "hello", "--follow", "--tail", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(follow.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        before = len(lines)

        def request_streamed() -> bool:
            get(port)  # busybox httpd -v logs each request ("IP:PORT: response:200")
            return any("response:200" in line for line in lines[before:])

        # Asks until `logs --follow` is attached and streams a request's line.
        wait_until(
            request_streamed,
            what="a request's log line from logs --follow",
            timeout=15,
            interval=0.2,
        )
        assert any("response:200" in line for line in lines[before:]), lines
    finally:
        follow.terminate()
        follow.wait(10)
    destroyed = cli("app", "destroy", "hello", "--yes")
    assert destroyed.code == 0, destroyed.err
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    assert client.containers.list(all=True, filters={"label": "pilot.app=hello"}) == []
    client.close()
    with pytest.raises(urllib.error.HTTPError) as gone:
        get(port)
    assert gone.value.code == 404  # the proxy no longer routes it
    records = history.load(root / ".pilot", "hello")
    assert records[-1].status == "superseded" and records[-1].note == "app destroyed"
    logs = cli("logs", "hello")  # nothing runs to read: said before any line, exit 1
    assert logs.code == 1 and logs.out == ""
    assert logs.err == (
        "pilot-tui: error: hello is not running; deploy it first (pilot-tui deploy hello)\n"
    )


def test_the_sandbox_deploys_on_this_machines_docker(site, cli, docker_engine, monkeypatch):
    root, port = site
    assert cli("config", "set", "server.home", "sandbox").code == 0
    monkeypatch.setenv("DOCKER_HOST", docker_engine.url)  # this machine's engine
    result = cli("deploy", "hello")
    assert result.code == 0, result.err
    assert get(port) == "hello v1"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{root}/nothing.sock")
    missing = cli("status")
    assert missing.code == 1 and "no engine answers" in missing.err
