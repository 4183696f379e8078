"""`pilot-tui app destroy APP --yes` whose removal fails says why and exits 1: never 0, never
a traceback. The clouds' refusals are real ones: the sandbox's moto started with
INITIAL_NO_AUTH_ACTION_COUNT=0 checks every request's credentials, as AWS does, and refuses
the sandbox's (as it would expired keys); the Docker engine is a socket nothing listens on."""

from __future__ import annotations

import pytest

from pilot_tui.cloud.sandbox import Sandbox
from pilot_tui.runner import pid_alive, stop_pid
from tests.conftest import run_pilot


@pytest.fixture
def refusing(tmp_path, monkeypatch):
    """A sandbox project with a Lambda app and a static site, its moto refusing every call."""
    assert run_pilot("init", "--name", "acme", cwd=tmp_path).returncode == 0
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "Dockerfile").write_text("FROM busybox\n")
    for name, kind in (("fn", "lambda"), ("site", "s3-cloudfront"), ("api", "server")):
        added = run_pilot(
            "app", "new", "--path", name, "--name", name, "--target", kind, "--yes", cwd=tmp_path
        )
        assert added.returncode == 0, added.stderr
    monkeypatch.setenv("INITIAL_NO_AUTH_ACTION_COUNT", "0")  # moto checks credentials
    sandbox = Sandbox(tmp_path / ".pilot")
    running, _ = sandbox.ensure()
    yield tmp_path
    for emulator in running.values():
        if pid_alive(emulator.pid):
            stop_pid(emulator.pid)


# The first call each destroy makes: a Lambda app's previews (functions tagged as its) are
# listed before the function goes.
@pytest.mark.parametrize(("app", "call"), [("fn", "GetResources"), ("site", "ListDistributions")])
def test_a_cloud_refusal_is_a_clear_message_and_exit_1(refusing, app, call):
    done = run_pilot("app", "destroy", app, "--yes", cwd=refusing, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"error: {app}: " in done.stderr
    assert f"AWS refused {call}" in done.stderr, done.stderr
    assert "<?xml" not in done.stderr  # the refusal's words, not the response body


def test_an_unreachable_docker_engine_is_a_clear_message_and_exit_1(refusing, tmp_path):
    nowhere = f"unix://{tmp_path}/no-docker.sock"
    done = run_pilot("app", "destroy", "api", "--yes", cwd=refusing, env={"DOCKER_HOST": nowhere})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert f"no engine answers at {nowhere}" in done.stderr
