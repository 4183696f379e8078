"""Ctrl+C during a real apply: Terraform stops gracefully, state stays whole, a re-run
converges and nothing is created twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

from tests.conftest import PILOT, run_pilot
from tests.server.conftest import ec2


def test_sigint_during_apply_then_resume(sandbox_project):
    project = sandbox_project
    env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    proc = subprocess.Popen([PILOT, "server", "up", "--yes"], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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

    resumed = run_pilot("server", "up", "--yes", cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    plan = json.loads(run_pilot("server", "plan", "--json", cwd=project).stdout)
    assert plan["changes"] == []

    client = ec2(project)
    vpcs = client.describe_vpcs(Filters=[{"Name": "tag:pilot:project", "Values": ["acme"]}])
    assert len(vpcs["Vpcs"]) == 1
    running = [i for r in client.describe_instances()["Reservations"] for i in r["Instances"]
               if i["State"]["Name"] != "terminated"]
    assert len(running) == 1
