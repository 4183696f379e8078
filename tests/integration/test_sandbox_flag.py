"""`--sandbox` (before or after the command) runs every command against the local sandbox,
whatever server.home says; pilot.toml itself is never changed by it."""

from __future__ import annotations

import json
import tomllib

import pytest

from pilot_tui.cloud.sandbox import Sandbox
from tests.conftest import run_pilot

NOTE = '--sandbox: using the local sandbox instead of home = "aws"'


@pytest.mark.slow
def test_deploy_and_status_of_a_site_go_to_the_sandbox(tmp_path):
    # A project meant for AWS, tried out locally first: with --sandbox the site goes to the
    # sandbox's S3 (moto) instead of the real account.
    assert run_pilot("init", "--name", "acme", "--home", "aws", cwd=tmp_path).returncode == 0
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>docs</h1>")
    before = (tmp_path / "pilot.toml").read_bytes()
    try:
        added = run_pilot("app", "new", "--path", "site", "--name", "docs", cwd=tmp_path)
        assert added.returncode == 0 and "target s3-cloudfront" in added.stderr, added.stderr
        before = (tmp_path / "pilot.toml").read_bytes()
        deployed = run_pilot("deploy", "docs", "--sandbox", cwd=tmp_path)
        assert deployed.returncode == 0, deployed.stderr
        assert NOTE in deployed.stderr
        assert "the sandbox's cloud is simulated on this machine" in deployed.stderr
        running = Sandbox(tmp_path / ".pilot").running()
        assert running and "aws" in running
        status = run_pilot("--sandbox", "status", "--json", cwd=tmp_path)
        assert status.returncode == 0, status.stderr
        rows = {row["app"]: row for row in json.loads(status.stdout)}
        assert rows["docs"]["release"] == "v1"
        assert (tmp_path / "pilot.toml").read_bytes() == before  # intent untouched
        assert tomllib.loads(before.decode())["server"]["home"] == "aws"
    finally:
        Sandbox(tmp_path / ".pilot").stop()


@pytest.mark.parametrize("command", [["deploy", "web"], ["status"], ["logs", "web"]])
def test_apps_on_the_server_use_the_sandbox_engine(cli, tmp_path, monkeypatch, command):
    # Without --sandbox a home = "aws" project with no server says so; with it, the command
    # looks for this machine's Docker, as the sandbox does (none answers at this path).
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    assert cli("init", "--name", "acme", "--home", "aws").code == 0
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM scratch\n")
    assert cli("app", "new", "--path", "web", "--name", "web", "--target", "server").code == 0
    plain = cli(*command)
    assert plain.code == 1 and "no Pilot Server is recorded" in plain.err
    sandboxed = cli(*command, "--sandbox")
    assert sandboxed.code == 1, sandboxed.err
    assert NOTE in sandboxed.err
    assert f"no engine answers at unix://{tmp_path}/no-docker.sock" in sandboxed.err


@pytest.mark.slow
async def test_the_app_opened_with_sandbox_deploys_to_the_sandbox(tmp_path):
    """The app's own screens honour --sandbox too (deploy, app logs, the dashboard's health),
    not only the Server screen: a home = "aws" site deployed from the Apps screen goes to the
    sandbox's S3 instead of failing for want of AWS credentials."""
    from textual.widgets import Static

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.deploy import DeployScreen
    from tests.integration.deploy.test_tui_deploy import until

    assert run_pilot("init", "--name", "acme", "--home", "aws", cwd=tmp_path).returncode == 0
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<h1>docs</h1>")
    assert run_pilot("app", "new", "--path", "site", "--name", "docs", cwd=tmp_path).returncode == 0
    before = (tmp_path / "pilot.toml").read_bytes()
    app = create_app(str(tmp_path / "pilot.toml"), sandbox=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a", "d")
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        result = screen.query_one("#deploy-result", Static)
        assert await until(
            pilot,
            lambda: "live" in str(result.render()) or "Not deployed" in str(result.render()),
            seconds=120,
        )
        assert "is live" in str(result.render()), str(result.render())
    assert (tmp_path / "pilot.toml").read_bytes() == before
    assert not Sandbox(tmp_path / ".pilot").running()  # the app stopped what it started


async def test_the_app_with_sandbox_refuses_to_destroy_a_real_projects_records(tmp_path):
    """`pilot-tui --sandbox`, Server screen, d: refused before anything is planned, since a
    sandbox teardown would delete the real server's records in this checkout."""
    from textual.widgets import Static

    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.server import ServerScreen

    assert run_pilot("init", "--name", "acme", "--home", "aws", cwd=tmp_path).returncode == 0
    outputs = tmp_path / ".pilot" / "outputs" / "server.json"
    outputs.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_text('{"home": "aws", "outputs": {"public_ip": "203.0.113.9"}}')
    app = create_app(str(tmp_path / "pilot.toml"), sandbox=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("s")
        assert isinstance(app.screen, ServerScreen)
        await pilot.press("d")
        await pilot.pause()
        error = app.screen.query_one("#error", Static)
        assert not error.has_class("hidden")
        assert "Not destroyed" in str(error.render()) and 'home is "aws"' in str(error.render())
        assert not app.screen.workers  # nothing was planned
    assert outputs.exists()
    assert not Sandbox(tmp_path / ".pilot").running()
