"""The real aws template, planned and applied by the real Terraform binary and aws provider
against the sandbox's local AWS API (moto), through the real `pilot-tui` CLI."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from pilot_tui.provision.tf.toolchain import resolve
from pilot_tui.runner import pid_alive
from tests.conftest import run_pilot
from tests.support.server_fixtures import ec2, iam_client, sandbox_state

EXPECTED = {
    "aws_vpc.pilot",
    "aws_subnet.public",
    "aws_internet_gateway.pilot",
    "aws_route_table.public",
    "aws_route.internet",
    "aws_route_table_association.public",
    "aws_security_group.server",
    "aws_key_pair.pilot",
    "aws_instance.server",
}


def recording_terraform(tmp_path: Path, project: Path) -> tuple[dict[str, str], Path]:
    """$PILOT_TERRAFORM naming a wrapper (outside the project) that notes each command
    (Terraform's first argument) before running the sandbox's real Terraform."""
    real = resolve(None, sandbox=True).path
    ran = tmp_path / "terraform-commands"
    wrapper = tmp_path / "terraform-recorder"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {ran}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    assert not wrapper.is_relative_to(project)
    return {"PILOT_TERRAFORM": str(wrapper)}, ran


def commands_run(ran: Path) -> list[str]:
    """The Terraform commands noted since the last call; `version`, and `init` (the
    wrapper is another binary, so the workspace is initialised again), left out."""
    noted = ran.read_text().split() if ran.exists() else []
    noted = [c for c in noted if c not in ("version", "init")]
    ran.unlink(missing_ok=True)
    return noted


def test_plan_apply_reapply_destroy(sandbox_project, tmp_path):
    project = sandbox_project
    recorder, ran = recording_terraform(tmp_path, project)
    plan = run_pilot("server", "plan", "--json", cwd=project)
    assert plan.returncode == 0, plan.stderr
    planned = json.loads(plan.stdout)
    assert {c["address"] for c in planned["changes"]} == EXPECTED
    assert {c["action"] for c in planned["changes"]} == {"create"}
    assert planned["warnings"] == []
    # The whole server's monthly cost: the machine, its 30 GB gp3 disk and its public IPv4.
    assert planned["cost"]["monthly"] == 21.23 and planned["cost"]["sandbox"] is True
    assert [i["what"] for i in planned["cost"]["items"]] == [
        "t3.small",
        "30 GB gp3 disk",
        "public IPv4 address",
    ]

    up = run_pilot("server", "up", "--yes", cwd=project, env=recorder)
    assert up.returncode == 0, up.stderr
    # The outputs come from the apply's own stream: no `terraform output` starts the
    # providers once more; with --yes the plan is read back (show) beside the apply, for
    # the table below (issue 16).
    assert sorted(commands_run(ran)) == ["apply", "plan", "show"]
    assert "applying 9 changes (--yes); the plan's table follows" in up.stderr
    assert "instance_type=t3.small" in up.stdout and "Plan: 9 to add" in up.stdout
    assert "[9/9]" in up.stderr and "The Pilot Server is up." in up.stdout
    assert (
        "Estimated cost: nothing in the sandbox; on AWS the same server is ~$21.23/month "
        "(t3.small $15.18 + 30 GB gp3 disk $2.40 + public IPv4 address $3.65; list prices "
        "as of 2025-01)."
    ) in up.stdout  # below the plan table, as `server plan` prints

    outputs = json.loads((project / ".pilot/outputs/server.json").read_text())["outputs"]
    assert outputs["instance_id"].startswith("i-")
    assert outputs["docker_host"] == f"ssh://ubuntu@{outputs['public_ip']}"
    assert outputs["open_ports"] == [22]
    key = project / ".pilot/keys/server_ed25519"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert "pilot.toml" not in outputs and "public_ip" not in (project / "pilot.toml").read_text()

    # Setup made the least-privilege deployer and stored its key, never shown.
    deployer_key = project / ".pilot/keys/aws-deployer.json"
    assert stat.S_IMODE(deployer_key.stat().st_mode) == 0o600
    assert json.loads(deployer_key.read_text())["secret_access_key"] not in up.stdout + up.stderr
    assert "deploys use arn:aws:iam::" in up.stderr and ":user/pilot-acme-deployer" in up.stderr
    iam = iam_client(project)
    assert iam.get_user(UserName="pilot-acme-deployer")["User"]["UserName"]
    assert {r["RoleName"] for r in iam.list_roles()["Roles"]} >= {
        "pilot-acme-lambda",
        "pilot-acme-ecs-exec",
    }

    client = ec2(project)
    (reservation,) = client.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"]
    instance = reservation["Instances"][0]
    assert instance["InstanceType"] == "t3.small"
    assert instance["KeyName"] == "pilot-acme-server"
    group = client.describe_security_groups(GroupIds=[outputs["security_group_id"]])[
        "SecurityGroups"
    ][0]
    ingress = {r["FromPort"]: r for r in group["IpPermissions"]}
    assert sorted(ingress) == [22, 80] and all(r["ToPort"] == p for p, r in ingress.items())
    # SSH only from the allowed networks (the sandbox default); the apps' port for everyone.
    assert [ip["CidrIp"] for ip in ingress[22]["IpRanges"]] == ["127.0.0.1/32"]
    assert [ip["CidrIp"] for ip in ingress[80]["IpRanges"]] == ["0.0.0.0/0"]
    assert all(not r.get("Ipv6Ranges") for r in ingress.values())

    again = run_pilot("server", "plan", "--json", cwd=project, env=recorder)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["changes"] == []  # converged: nothing to do
    assert commands_run(ran) == ["plan"]  # nothing to review: the plan is not read back

    status = run_pilot("server", "status", "--json", cwd=project)
    info = json.loads(status.stdout)
    assert info["up"] is True and set(info["resources"]) == EXPECTED

    pids = [e["pid"] for e in sandbox_state(project).values()]
    down = run_pilot("server", "destroy", "--yes", cwd=project)
    assert down.returncode == 0, down.stderr
    assert "This removes:" in down.stdout and "aws_instance.server" in down.stdout
    assert "IAM user pilot-acme-deployer" in down.stdout  # what setup made goes too
    assert "What remains: nothing." in down.stdout
    assert "Stopped the sandbox emulators" in down.stdout
    assert not any(pid_alive(pid) for pid in pids)
    assert not (project / ".pilot/outputs/server.json").exists()
    status = json.loads(run_pilot("server", "status", "--json", cwd=project).stdout)
    assert status["up"] is False and status["resources"] == []


def test_failed_apply_names_the_resource_and_the_diagnostic(sandbox_project):
    project = sandbox_project
    assert run_pilot("config", "set", "server.size", "t3.bogus", cwd=project).returncode == 0
    up = run_pilot("server", "up", "--yes", cwd=project)
    assert up.returncode == 1
    assert "aws_instance.server: FAILED" in up.stderr
    assert "error:" in up.stderr and "t3.bogus" in up.stderr
    assert "apply failed at: aws_instance.server" in up.stderr
    assert "resumes" in up.stderr
    # Fix the size: the next run creates only what is missing.
    assert run_pilot("config", "set", "server.size", "t3.micro", cwd=project).returncode == 0
    plan = json.loads(run_pilot("server", "plan", "--json", cwd=project).stdout)
    assert [c["address"] for c in plan["changes"]] == ["aws_instance.server"]


def test_a_sandbox_stopped_after_its_apply_is_said_gone_and_destroyed_at_once(
    sandbox_project, tmp_path
):
    """Found walking: quitting the app stopped the sandbox's emulators, and with them the
    server just applied (it lived in their memory). `server status` then listed its
    addresses, or called it "up" once they ran again; `server destroy` sat silent for six
    minutes (Terraform waits on a route table association it cannot find), ended "What
    remains (9)", exit 1, and a retry did the same. The stale record is now said as gone
    and set aside, never planned against."""
    from pilot_tui.cloud.sandbox import Sandbox

    up = run_pilot("server", "up", "--yes", cwd=sandbox_project, timeout=300)
    assert up.returncode == 0, up.stderr
    Sandbox(sandbox_project / ".pilot").stop()  # as the app's exit does

    status = run_pilot("server", "status", cwd=sandbox_project)
    assert status.returncode == 0, status.stderr
    assert "server: gone: the sandbox's local AWS API was stopped or restarted" in status.stdout
    assert "public_ip" not in status.stdout  # no address of what is gone
    shown = json.loads(run_pilot("server", "status", "--json", cwd=sandbox_project).stdout)
    assert shown["up"] is False and shown["sandbox_forgot"] is True
    # started again (a new, empty local AWS API): asked for the state's VPC, gone still
    Sandbox(sandbox_project / ".pilot").ensure()
    again = run_pilot("server", "status", cwd=sandbox_project)
    assert "server: gone: the sandbox's local AWS API was stopped or restarted" in again.stdout

    gone = run_pilot("server", "destroy", "--yes", cwd=sandbox_project, timeout=300)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "their Terraform record is set aside as terraform.tfstate.stale-" in gone.stderr
    assert "What remains: nothing." in gone.stdout, gone.stdout
    workdir = sandbox_project / ".pilot" / "terraform" / "sandbox"
    assert list(workdir.glob("terraform.tfstate.stale-*"))  # kept, never deleted
    # the emulators a destroy started are stopped with it, as ever
    assert not [e for e in sandbox_state(sandbox_project).values() if pid_alive(e["pid"])]
