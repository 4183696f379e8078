"""The app's exit stops the sandbox emulators its workers started, even one a worker was
still starting when the exit began (the credentials check starts moto, then the GCS
emulator; quitting in between left them running)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pilot_tui.runner import stop_pid
from pilot_tui.screens.app import create_app


def emulator_pids(project: Path) -> set[int]:
    """Live processes writing to this project's emulator logs (spawn_daemon gives each its
    log as stdout): found by pid, whatever .pilot/sandbox.json says."""
    logs = str(project / ".pilot" / "logs" / "sandbox-")
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "fd" / "1").startswith(logs):
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] != "Z":  # a zombie is gone
                    pids.add(int(entry.name))
        except OSError:
            continue  # exited meanwhile, or not ours to read
    return pids


async def test_exit_during_the_credentials_check_stops_the_emulators(sandbox_project):
    state = sandbox_project / ".pilot" / "sandbox.json"
    assert not state.exists()
    app = create_app(str(sandbox_project))
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            await pilot.press("c")  # the credentials screen checks at once
            deadline = time.monotonic() + 60
            while not state.exists():  # moto is being started: the GCS emulator is next
                assert time.monotonic() < deadline, "the check never started the emulators"
                await pilot.pause(0.02)
            await pilot.press("ctrl+q")
        # Whatever the check was still doing has had time to finish starting.
        time.sleep(3)
        left = emulator_pids(sandbox_project)
        assert left == set(), f"emulators still running after the app exited: {left}"
    finally:
        for pid in emulator_pids(sandbox_project):
            stop_pid(pid)


def test_a_closed_terminal_stops_the_emulators_the_app_started(sandbox_project):
    """Found walking: closing the terminal (SIGHUP) while the app had started the sandbox's
    emulators left them running; only ctrl+q stopped them. A real pilot-tui on a PTY."""
    import signal

    import pexpect

    from tests.conftest import PILOT

    env = {**os.environ, "TERM": "xterm"}
    env.pop("PILOT_PROJECT", None)
    child = pexpect.spawn(
        PILOT, [], cwd=str(sandbox_project), env=env, dimensions=(30, 100), timeout=60
    )
    try:
        child.expect("Next")  # the home screen is up
        child.send("c")  # the credentials screen checks at once, starting the emulators
        deadline = time.monotonic() + 60
        while not emulator_pids(sandbox_project):  # the first is starting: the next may be
            assert time.monotonic() < deadline, "the check never started the emulators"
            time.sleep(0.05)
        child.kill(signal.SIGHUP)
        child.expect(pexpect.EOF, timeout=60)
        child.close()
        assert (child.exitstatus, child.signalstatus) == (128 + signal.SIGHUP, None)
        time.sleep(1)  # (a start the hang-up met finishes, then is stopped, before the exit)
        left = emulator_pids(sandbox_project)
        assert left == set(), f"emulators still running after the terminal closed: {left}"
    finally:
        if child.isalive():
            child.terminate(force=True)
        for pid in emulator_pids(sandbox_project):
            stop_pid(pid)
