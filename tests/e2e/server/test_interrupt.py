"""Ctrl+C during a real apply: Terraform stops gracefully, state stays whole, a re-run
converges and nothing is created twice."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pilot_tui.runner import stop_pid
from tests.conftest import PILOT, run_pilot
from tests.polling import wait_until
from tests.support import slow_aws
from tests.support.server_fixtures import ec2


def test_sigint_during_apply_then_resume_then_ctrl_c_during_the_destroy(sandbox_project):
    """Two scenarios on one project: the resumed apply is the server the interrupted
    destroy starts from (an apply is most of each one's time)."""
    _sigint_during_apply_then_resume(sandbox_project)
    _ctrl_c_during_the_destroy_exits_130_and_names_what_may_remain(sandbox_project)


def _sigint_during_apply_then_resume(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    proc = subprocess.Popen(
        [PILOT, "server", "up", "--yes"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))
    reader.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any("created (" in line for line in lines):
        time.sleep(0.05)
    assert any("created (" in line for line in lines), "".join(lines)
    proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl+C
    code = proc.wait(timeout=180)
    reader.join()
    stderr = "".join(lines)
    assert code == 130, stderr
    assert "stopping gracefully" in stderr
    assert "apply interrupted after" in stderr

    workdir = project / ".pilot/terraform/sandbox"
    state = json.loads((workdir / "terraform.tfstate").read_text())  # whole, parseable
    assert state["resources"], "some resources were created before the interrupt"
    assert not (workdir / ".terraform.tfstate.lock.info").exists()  # lock released

    resumed = run_pilot("server", "up", "--yes", cwd=project, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    plan = json.loads(run_pilot("server", "plan", "--json", cwd=project).stdout)
    assert plan["changes"] == []

    client = ec2(project)
    vpcs = client.describe_vpcs(Filters=[{"Name": "tag:pilot:project", "Values": ["acme"]}])
    assert len(vpcs["Vpcs"]) == 1
    running = [
        i
        for r in client.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]
    assert len(running) == 1


class HeldLaunch:
    """`server up` with RunInstances' answer held by a proxy (tests/support/slow_aws.py), so
    the instance stays in flight while the test presses Ctrl+C; released on demand.
    ``action``: another call's answer to hold instead (TerminateInstances for a destroy)."""

    def __init__(self, project, action: str = "RunInstances"):
        import sys

        from pilot_tui.cloud.sandbox import free_port
        from tests.support.server_fixtures import sandbox_state

        self.project = project
        planned = run_pilot("server", "plan", cwd=project)  # starts the sandbox emulators
        assert planned.returncode == 0, planned.stderr
        state_file = project / ".pilot/sandbox.json"
        state = sandbox_state(project)
        self.moto_pid = state["aws"]["pid"]
        self.release = project.parent / f"release-{action}"
        self.held = project.parent / f"held-{action}"
        port = free_port()
        self.proxy = subprocess.Popen(
            [
                sys.executable,
                slow_aws.__file__,
                str(state["aws"]["port"]),
                str(port),
                action,
                str(self.release),
                str(self.held),
            ]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        # Pilot now reaches the local AWS API through the proxy.
        state["aws"].update(pid=self.proxy.pid, port=port)
        state_file.write_text(json.dumps(state))
        self.proc: subprocess.Popen[str] | None = None

    def server_up(self) -> None:
        env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
        self.proc = subprocess.Popen(
            [PILOT, "server", "up", "--yes"],
            cwd=self.project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(
            target=lambda: self.lines.extend(iter(self.proc.stderr.readline, ""))
        )
        self.reader.start()

    def wait_for(self, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and text not in "".join(self.lines):
            time.sleep(0.05)
        assert text in "".join(self.lines), "".join(self.lines)

    def wait_until_held(self) -> None:
        """Until the held call is out (done in moto) and its answer is being held."""
        wait_until(self.held.exists, what=f"the proxy to hold the answer to {self.held.name}")

    def ctrl_c(self, then: str) -> None:
        self.proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl+C
        self.wait_for(then, timeout=10)

    def finish(self) -> tuple[int, str]:
        code = self.proc.wait(timeout=180)
        self.reader.join()
        return code, "".join(self.lines)

    def close(self) -> None:
        self.release.touch()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        stop_pid(self.proxy.pid)
        stop_pid(self.moto_pid)


def _instances(project) -> list[dict]:
    client = ec2(project)
    return [
        i
        for r in client.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] != "terminated"
    ]


def _state_addresses(project) -> set[str]:
    state = json.loads((project / ".pilot/terraform/sandbox/terraform.tfstate").read_text())
    return {
        f"{r['type']}.{r['name']}"
        for r in state["resources"]
        if r["mode"] == "managed" and r["instances"]
    }


def test_second_ctrl_c_waits_for_the_resources_in_flight(sandbox_project):
    held = HeldLaunch(sandbox_project)
    try:
        held.server_up()
        held.wait_for("aws_instance.server: creating...")
        held.wait_until_held()  # the launch call is out, its answer held
        held.ctrl_c("stopping gracefully")
        held.ctrl_c("waiting for 1 resource in flight: aws_instance.server")
        assert "Ctrl+C again to kill" in "".join(held.lines)
        # Something that must not happen has no moment to wait for: watch for 2 s.
        with pytest.raises(subprocess.TimeoutExpired):  # Terraform keeps running
            held.proc.wait(timeout=2)
        held.release.touch()  # EC2 answers: Terraform records the instance and stops
        code, stderr = held.finish()
        instances = _instances(sandbox_project)
    finally:
        held.close()
    assert code == 130, stderr
    assert "Terraform saved its state" in stderr
    assert "aws_instance.server" in _state_addresses(sandbox_project)
    assert len(instances) == 1


def test_third_ctrl_c_kills_and_names_what_may_be_untracked(sandbox_project):
    held = HeldLaunch(sandbox_project)
    try:
        held.server_up()
        held.wait_for("aws_instance.server: creating...")
        held.wait_until_held()
        held.ctrl_c("stopping gracefully")
        held.ctrl_c("waiting for 1 resource in flight")
        held.proc.send_signal(signal.SIGINT)
        code, stderr = held.finish()
        held.release.touch()
        instances = wait_until(
            lambda: _instances(sandbox_project), what="EC2 to list the launched instance"
        )
    finally:
        held.close()
    assert code == 130, stderr
    assert "Terraform saved its state" not in stderr
    assert "killed Terraform" in stderr
    # The instance exists in EC2 but not in Terraform's state: the message names it and
    # says how to find it by its tag.
    assert "aws_instance.server" not in _state_addresses(sandbox_project)
    assert len(instances) == 1
    assert "may exist outside Terraform's state:" in stderr
    assert "aws_instance.server (creating)" in stderr
    assert "aws ec2 describe-instances --filters Name=tag:pilot:project,Values=acme" in stderr


def _ctrl_c_during_the_destroy_exits_130_and_names_what_may_remain(sandbox_project: Path) -> None:
    """Ctrl+C in a terminal (pexpect's pty: the signal reaches Pilot and Terraform) while
    Terraform destroys the instance of a server that is up: exit 130, and the message names
    the resource that was in flight and lists what may remain."""
    import io

    import pexpect

    held = HeldLaunch(sandbox_project, action="TerminateInstances")
    out = io.StringIO()
    try:
        env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
        child = pexpect.spawn(
            PILOT,
            ["server", "destroy", "--yes"],
            cwd=str(sandbox_project),
            env={**env, "TERM": "xterm", "COLUMNS": "200"},
            encoding="utf-8",
            timeout=120,
            dimensions=(50, 200),
        )
        child.logfile_read = out
        child.expect("aws_instance.server: destroying")
        held.wait_until_held()  # the terminate call is out, its answer held
        child.sendintr()  # Ctrl+C
        child.expect("stopping gracefully", timeout=10)
        # A margin for Terraform to take the SIGINT Pilot forwards before EC2 answers: it says
        # so only on its own output, which Pilot keeps for its log file (written buffered).
        time.sleep(2)
        held.release.touch()  # EC2 answers: Terraform records it and stops
        child.expect(pexpect.EOF, timeout=180)
        child.close()
        vpcs = ec2(sandbox_project).describe_vpcs(
            Filters=[{"Name": "tag:pilot:project", "Values": ["acme"]}]
        )["Vpcs"]
    finally:
        held.close()
    text = out.getvalue().replace("\r\n", "\n")
    assert child.exitstatus == 130, text
    assert "Traceback" not in text
    # At the Ctrl+C: what Terraform was destroying, which it finishes before stopping.
    pressed = next(line for line in text.splitlines() if "stopping gracefully" in line)
    assert "in flight (" in pressed and "aws_instance.server" in pressed, pressed
    # At the end: how far it got, and what may remain, each listed once as what holds it.
    assert re.search(r"terraform destroy interrupted after \d+ of 9 changes", text), text
    remains = text[text.index("What remains (") :]
    assert "Terraform resource aws_vpc.pilot (Terraform state)" in remains
    assert "not in Terraform state" not in remains, remains  # the state holds them
    assert len(vpcs) == 1  # what the list says remains does remain
