"""Who may reach the server: asked when it cannot be found, warned about when it is the world."""

from __future__ import annotations

import json
import os
import tomllib

import pexpect
import pytest

from tests.conftest import PILOT, run_pilot


@pytest.mark.terraform
def test_asks_for_allowed_cidrs_when_the_address_cannot_be_found(tmp_path):
    # No network here: the public-address lookup fails, as it would behind some proxies.
    assert run_pilot("init", "--name", "acme", "--home", "aws", cwd=tmp_path).returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    child = pexpect.spawn(
        PILOT,
        ["server", "plan"],
        cwd=str(tmp_path),
        env=env,
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 120),
    )
    try:
        child.expect("CIDRs, comma separated")
        child.sendline("10.0.0.1/8")
        child.expect('did you mean "10.0.0.0/8"')
        child.sendline("203.0.113.7/32")
        child.expect("saved server.allowed_cidrs")
        child.expect(pexpect.EOF, timeout=120)  # planning against real AWS fails here
    finally:
        child.close()
    text = (tmp_path / "pilot.toml").read_text()
    assert tomllib.loads(text)["server"]["allowed_cidrs"] == ["203.0.113.7/32"]
    assert "# who may reach SSH and Docker" in text  # the starter's comment is kept


def test_without_a_terminal_it_says_how_to_set_them(tmp_path):
    assert run_pilot("init", "--name", "acme", "--home", "aws", cwd=tmp_path).returncode == 0
    result = run_pilot("server", "plan", cwd=tmp_path)
    assert result.returncode == 1
    assert "pilot-tui config set server.allowed_cidrs" in result.stderr


@pytest.mark.parametrize(
    "cidrs", ['["0.0.0.0/0"]', '["0.0.0.0/1", "128.0.0.0/1"]'], ids=["zero-prefix", "two-halves"]
)
def test_a_world_open_port_is_warned_about_loudly(sandbox_project, cidrs):
    project = sandbox_project
    assert run_pilot("config", "set", "server.allowed_cidrs", cidrs, cwd=project).returncode == 0
    plan = run_pilot("server", "plan", cwd=project)
    assert plan.returncode == 0, plan.stderr
    assert (
        "WARNING: aws_security_group.server opens port 22 (SSH) to the WHOLE INTERNET"
        in plan.stdout
    )
    as_json = json.loads(run_pilot("server", "plan", "--json", cwd=project).stdout)
    assert as_json["warnings"] == [
        "aws_security_group.server opens port 22 (SSH) to the WHOLE INTERNET"
    ]


@pytest.mark.terraform
@pytest.mark.slow
def test_sandbox_flag_overrides_the_home_for_one_command(tmp_path):
    from tests.support.server_fixtures import sandbox_state

    assert run_pilot("init", "--name", "acme", "--home", "aws", cwd=tmp_path).returncode == 0
    try:
        plan = run_pilot("--sandbox", "server", "plan", "--json", cwd=tmp_path)
        assert plan.returncode == 0, plan.stderr
        assert len(json.loads(plan.stdout)["changes"]) == 9
        assert (tmp_path / ".pilot/terraform/sandbox").is_dir()
        assert 'home = "aws"' in (tmp_path / "pilot.toml").read_text()  # nothing written
        running = json.loads(run_pilot("sandbox", "status", "--json", cwd=tmp_path).stdout)
        assert set(running) == {"aws", "gcs"}
        stopped = run_pilot("sandbox", "stop", cwd=tmp_path)
        assert stopped.returncode == 0 and "stopped: aws, gcs" in stopped.stdout
        from pilot_tui.runner import pid_alive

        assert not any(pid_alive(e["pid"]) for e in running.values())
    finally:
        from pilot_tui.runner import stop_pid

        for emulator in sandbox_state(tmp_path).values():
            stop_pid(emulator["pid"])
