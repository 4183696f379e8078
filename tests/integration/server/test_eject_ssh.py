"""`server eject` hands the templates to the user; `server ssh` builds the right command."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pilot_tui.cli.server_tools import ssh_command
from tests.conftest import run_pilot


def test_eject_then_plan_renders_the_users_copy(sandbox_project):
    project = sandbox_project
    before = (project / "pilot.toml").read_text()
    result = run_pilot("server", "eject", cwd=project)
    assert result.returncode == 0, result.stderr
    infra = project / "infra"
    assert {p.name for p in infra.iterdir()} >= {
        "main.tf",
        "variables.tf",
        "outputs.tf",
        "versions.tf",
        "cloud-init.yaml.tpl",
    }
    after = (project / "pilot.toml").read_text()
    assert tomllib.loads(after)["terraform"]["templates"] == "infra"
    assert all(line in after.splitlines() for line in before.splitlines())  # comments kept

    # The expert edits their copy; Pilot plans what they wrote.
    variables = infra / "variables.tf"
    variables.write_text(variables.read_text().replace('"10.42.0.0/16"', '"10.77.0.0/16"'))
    plan = run_pilot("server", "plan", "--json", cwd=project)
    assert plan.returncode == 0, plan.stderr
    vpc = next(c for c in json.loads(plan.stdout)["changes"] if c["address"] == "aws_vpc.pilot")
    assert "10.77.0.0/16" in vpc["details"]

    again = run_pilot("server", "eject", cwd=project)
    assert again.returncode == 2 and "already ejected" in again.stderr


def test_eject_refuses_a_non_empty_folder(tmp_path):
    assert run_pilot("init", cwd=tmp_path).returncode == 0
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "mine.tf").write_text("# mine\n")
    result = run_pilot("server", "eject", cwd=tmp_path)
    assert result.returncode == 2 and "not empty" in result.stderr
    assert "templates" not in (tmp_path / "pilot.toml").read_text().split("[server]")[0]


def test_ssh_command_is_built_as_data():
    cmd = ssh_command(
        "203.0.113.9",
        "ubuntu",
        Path("/p/.pilot/keys/server_ed25519"),
        Path("/p/.pilot/keys/known_hosts"),
        ["docker", "ps"],
    )
    assert cmd.argv == (
        "ssh",
        "-i",
        "/p/.pilot/keys/server_ed25519",
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "UserKnownHostsFile=/p/.pilot/keys/known_hosts",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "ubuntu@203.0.113.9",
        "docker",
        "ps",
    )


def test_ssh_without_a_server_says_what_to_do(tmp_path):
    assert run_pilot("init", cwd=tmp_path).returncode == 0
    result = run_pilot("server", "ssh", cwd=tmp_path)
    assert result.returncode == 1 and "pilot-tui server up" in result.stderr
