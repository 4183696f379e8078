"""Credential discovery and live checks, against the sandbox's local AWS API and GCS
emulator (real boto3 / google-cloud-storage calls), plus the failures a person meets."""

from __future__ import annotations

import json

import pytest

from pilot_tui.cloud.credentials import check_aws, check_gcp, find_aws, find_gcp, key_file_problem
from pilot_tui.cloud.sandbox import Sandbox, free_port
from tests.conftest import run_pilot


@pytest.fixture
def aws_home(tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    creds, config = tmp_path / "credentials", tmp_path / "config"
    creds.write_text(
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
        "[acme]\naws_access_key_id = AKIAI44QH8DHBEXAMPLE\n"
        "aws_secret_access_key = je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY\n"
    )
    config.write_text(
        "[profile sso-dev]\nsso_session = corp\nsso_account_id = 111122223333\n"
        "sso_role_name = Dev\nregion = eu-west-1\n"
        "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
        "sso_region = eu-west-1\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("HOME", str(tmp_path))  # no real SSO token cache
    return tmp_path


@pytest.fixture
def emulators(tmp_path):
    sandbox = Sandbox(tmp_path / "state")
    running, _ = sandbox.ensure()
    yield running
    sandbox.stop()


def test_finds_profiles_and_marks_sso(aws_home):
    found = {f.name: f for f in find_aws()}
    assert set(found) == {"default", "acme", "sso-dev"}
    assert found["sso-dev"].sso and not found["acme"].sso


def test_profiles_are_checked_live_and_failures_say_what_to_do(aws_home, emulators):
    url = emulators["aws"].url
    ok = check_aws("acme", "us-east-1", endpoint_url=url)
    assert ok.ok and "account 123456789012" in ok.message
    missing = check_aws("nope", "us-east-1", endpoint_url=url)
    assert not missing.ok and "aws configure --profile nope" in missing.message
    expired = check_aws("sso-dev", "eu-west-1", endpoint_url=url)
    assert not expired.ok and "aws sso login --profile sso-dev" in expired.message
    closed = check_aws("acme", "us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    assert not closed.ok and "cannot reach AWS" in closed.message
    assert "EXAMPLEKEY" not in ok.message + missing.message + closed.message


def test_google_checks(tmp_path, emulators):
    assert check_gcp("sandbox", None, api_endpoint=emulators["gcs"].url).ok
    pasted = tmp_path / "key.json"
    pasted.write_text('{"type": "external_account"}')
    assert "not a Google service-account" in (key_file_problem(pasted) or "")
    assert not check_gcp("acme", tmp_path / "missing.json").ok
    truncated = tmp_path / "truncated.json"  # a key damaged in copy-paste
    truncated.write_text(
        json.dumps(
            {
                "type": "service_account",
                "private_key": "-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n",
                "client_email": "a@b.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    damaged = check_gcp("acme-prod", truncated)
    assert not damaged.ok and "the key cannot be read" in damaged.message
    assert "BEGIN PRIVATE KEY" not in damaged.message
    found = find_gcp(env={"GOOGLE_APPLICATION_CREDENTIALS": str(pasted)}, home=tmp_path)
    assert [f.source for f in found] == ["GOOGLE_APPLICATION_CREDENTIALS"]


def test_cli_exits_non_zero_when_the_configured_credentials_fail(aws_home):
    project = aws_home / "proj"
    project.mkdir()
    env = {
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_home / "credentials"),
        "AWS_CONFIG_FILE": str(aws_home / "config"),
        "HOME": str(aws_home),
    }
    assert (
        run_pilot(
            "init", "--home", "aws", "--aws-profile", "sso-dev", cwd=project, env=env
        ).returncode
        == 0
    )
    result = run_pilot("credentials", "--json", cwd=project, env=env)
    assert result.returncode == 1
    rows = json.loads(result.stdout)
    used = [r for r in rows if r["configured"]]
    assert [r["name"] for r in used] == ["sso-dev (sso)"]
    assert "aws sso login --profile sso-dev" in used[0]["message"]
    assert "EXAMPLEKEY" not in result.stdout + result.stderr


@pytest.mark.slow
def test_cli_in_the_sandbox_passes(tmp_path):
    assert run_pilot("init", cwd=tmp_path).returncode == 0
    try:
        result = run_pilot("credentials", cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "ok   aws sandbox (used by pilot.toml)" in result.stdout
        # It started the stopped emulators to check them, and says so (issue 11 item 31),
        # and stops them after (found walking: a read-only check left two servers running)
        assert (
            "emulators were stopped: started them for this check, and stopped them after it"
            in result.stdout
        )
        assert Sandbox(tmp_path / ".pilot").running() == {}
        Sandbox(tmp_path / ".pilot").ensure()  # running before the check: left running
        again = run_pilot("credentials", cwd=tmp_path)
        assert "started them" not in again.stdout  # already running: nothing to say
        assert set(Sandbox(tmp_path / ".pilot").running()) == {"aws", "gcs"}
    finally:
        Sandbox(tmp_path / ".pilot").stop()


@pytest.mark.slow
async def test_credentials_screen_in_the_sandbox_and_with_a_failing_profile(aws_home, monkeypatch):
    from textual.widgets import DataTable, Static

    from pilot_tui.runner import pid_alive
    from pilot_tui.screens.app import create_app
    from pilot_tui.screens.credentials import CredentialsScreen
    from tests.support.server_fixtures import sandbox_state

    async def open_screen(project):
        app = create_app(str(project))
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            await pilot.press("c")
            screen = app.screen
            assert isinstance(screen, CredentialsScreen)
            await app.workers.wait_for_complete()
            await pilot.pause()
            rows = screen.query_one("#found", DataTable).row_count
            summary = str(screen.query_one("#credentials-summary", Static).render())
        return rows, summary

    sandbox = aws_home / "sandbox"
    sandbox.mkdir()
    assert run_pilot("init", cwd=sandbox).returncode == 0
    rows, summary = await open_screen(sandbox)
    assert rows >= 2 and "Ready." in summary
    # the verdict on the credentials used, whole (the table cut it at 80 columns)
    assert "Ready. sandbox: account 123456789012" in summary, summary
    assert "Next: the Pilot Server (Esc, then s)." in summary
    assert not any(pid_alive(e["pid"]) for e in sandbox_state(sandbox).values())
    # once the server is up, the next step is the apps (found walking: it sent a person
    # whose server was up to make one); what `server up` records, written here while the
    # sandbox that holds it runs
    from pilot_tui.cloud.sandbox import Sandbox

    box = Sandbox(sandbox / ".pilot")
    box.ensure()
    outputs = sandbox / ".pilot" / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    from pilot_tui.provision.sandbox_state import SANDBOX_KEY, sandbox_identity

    record = {
        "home": "sandbox",
        "outputs": {"public_ip": "54.214.243.10"},
        SANDBOX_KEY: sandbox_identity(sandbox / ".pilot"),  # the local AWS API it is in
    }
    (outputs / "server.json").write_text(json.dumps(record))
    try:
        rows, summary = await open_screen(sandbox)
    finally:
        box.stop()
    assert "The Pilot Server is up: deploy apps (Esc, then a)." in summary, summary
    assert "Next: the Pilot Server" not in summary
    # ... and once that sandbox stopped, its server went with it (found walking: "up"),
    # though this check starts it again: another local AWS API, holding nothing
    rows, summary = await open_screen(sandbox)
    assert "Next: the Pilot Server (Esc, then s)." in summary, summary

    failing = aws_home / "aws"
    failing.mkdir()
    assert (
        run_pilot("init", "--home", "aws", "--aws-profile", "sso-dev", cwd=failing).returncode == 0
    )
    rows, summary = await open_screen(failing)
    assert "failed" in summary and "aws sso login --profile sso-dev" in summary
