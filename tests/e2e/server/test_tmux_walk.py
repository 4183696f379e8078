"""The truest end-to-end check: `pilot-tui --sandbox` in a real terminal (tmux), driven by
keys as a person would, from an empty folder to a provisioned sandbox server."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from pilot_tui.runner import pid_alive
from tests.conftest import PILOT
from tests.support.server_fixtures import sandbox_state


@pytest.mark.terraform
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is installed by .ci/run")
def test_empty_folder_to_a_running_sandbox_server(tmp_path):
    session = f"pilot-walk-{time.monotonic_ns()}"
    marker = tmp_path / "exit-code"
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "120",
            "-y",
            "36",
            f"cd {tmp_path} && {PILOT} --sandbox; echo $? > {marker}",
        ],
        check=True,
    )

    def screen() -> str:
        return subprocess.run(
            ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
        ).stdout

    def keys(*names: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", session, *names], check=True)

    def wait_for(text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen:\n{screen()}")

    pids: list[int] = []
    try:
        wait_for("no pilot.toml")
        keys("i")
        wait_for("valid")
        assert (tmp_path / "pilot.toml").is_file()
        keys("s")
        wait_for("Press p to plan")
        keys("p")
        shown = wait_for("to review", timeout=90)
        assert "aws_instance.server" in shown and "create" in shown
        pids = [e["pid"] for e in sandbox_state(tmp_path).values()]
        keys("a")
        shown = wait_for("Done.", timeout=180)
        assert "100%" in shown and "ssh://ubuntu@" in shown
        keys("C-q")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (marker.exists() and marker.read_text()):
            time.sleep(0.1)
        assert marker.read_text().strip() == "0"
        assert pids and not any(pid_alive(p) for p in pids)  # the app stopped what it started
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        for emulator in sandbox_state(tmp_path).values():
            if pid_alive(emulator["pid"]):
                from pilot_tui.runner import stop_pid

                stop_pid(emulator["pid"])
