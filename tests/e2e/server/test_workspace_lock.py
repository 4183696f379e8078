"""Overlapping `server up` runs: one run at a time per working directory (a second is
refused, naming the first), and what exists is read from the state, wherever it lives."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import threading
import time

from tests.conftest import PILOT, run_pilot
from tests.e2e.server.test_interrupt import HeldLaunch


def test_a_second_run_in_the_same_folder_is_refused_while_the_first_applies(sandbox_project):
    held = HeldLaunch(sandbox_project)  # the first run's instance launch is held open
    try:
        held.server_up()
        held.wait_for("aws_instance.server: creating...")
        second = pilot("server", "up", "--yes", cwd=sandbox_project)
        plan = pilot("server", "plan", cwd=sandbox_project)
        held.release.touch()
        code, stderr = held.finish()
        first_pid = held.proc.pid
    finally:
        held.close()
    for refused in (second, plan):
        assert refused.returncode == 1, refused.stderr
        assert f"another `pilot-tui server up` is running (pid {first_pid})" in refused.stderr
    assert code == 0, stderr  # the first run was not disturbed
    assert "Invalid plan file" not in stderr


def pilot(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    """run_pilot with room for a whole apply on a busy machine."""
    env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    return subprocess.run(
        [PILOT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _checkout(source, target):
    """A second checkout of the same project: its pilot.toml, the same sandbox and key."""
    target.mkdir()
    shutil.copy(source / "pilot.toml", target / "pilot.toml")
    (target / ".pilot").mkdir(mode=0o700)
    shutil.copy(source / ".pilot/sandbox.json", target / ".pilot/sandbox.json")
    shutil.copytree(source / ".pilot/keys", target / ".pilot/keys")


def _pump(stream, into: list[str]) -> None:
    """Read as it comes (a prompt has no newline to wait for)."""
    while chunk := os.read(stream.fileno(), 4096):
        into.append(chunk.decode("utf-8", "replace"))


def test_a_stale_plan_from_another_checkout_reports_what_the_state_holds(sandbox_project):
    first = sandbox_project
    assert run_pilot("config", "set", "state.backend", "s3", cwd=first).returncode == 0
    up = pilot("server", "up", "--yes", cwd=first)
    assert up.returncode == 0, up.stderr
    second = first.parent / "second"
    _checkout(first, second)
    assert (
        run_pilot(
            "config", "set", "server.allowed_cidrs", '["127.0.0.2/32"]', cwd=second
        ).returncode
        == 0
    )

    # The second checkout plans, and waits at "Apply this 1 change?" in a terminal...
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PILOT_PROJECT"}
    proc = subprocess.Popen(
        [PILOT, "server", "up"],
        cwd=second,
        env=env,
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(slave)
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, out)),
        threading.Thread(target=_pump, args=(proc.stderr, err)),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and "Apply this 1 change?" not in "".join(out):
        time.sleep(0.1)
    try:
        assert "Apply this 1 change?" in "".join(out), "".join(out) + "".join(err)
        # ...while the first checkout applies a change of its own to the shared state.
        assert (
            run_pilot(
                "config", "set", "server.allowed_cidrs", '["127.0.0.3/32"]', cwd=first
            ).returncode
            == 0
        )
        changed = pilot("server", "up", "--yes", cwd=first)
        assert changed.returncode == 0, changed.stderr
        os.write(master, b"y\n")
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    for reader in readers:
        reader.join()
    stderr = "".join(err)
    assert code == 1, stderr
    assert "Saved plan is stale" in stderr
    assert "run the command again to plan from what exists now" in stderr
    # 9 of the network and server, and (S3 state) the backup agent's role, its policy and
    # the instance profile that gives it to the server.
    assert "what exists now (12): " in stderr, stderr
    assert "aws_iam_role_policy.server_backups[0]" in stderr
    status = json.loads(run_pilot("server", "status", "--json", cwd=second).stdout)
    assert len(status["resources"]) == 12
