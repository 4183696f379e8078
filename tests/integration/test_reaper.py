"""A test run leaves nothing running (issue 16, test hygiene): a run stopped by SIGTERM (a CI
timeout, `kill`) stops what its tests started, however detached; a run killed outright
(SIGKILL) leaves it to the next run, which stops it as it starts. The inner runs are real
pytest processes with the suite's reaper plugin; the process their test starts is a
detached `sleep` standing in for an emulator or a dockerd (a new session, as the sandbox
starts its emulators). On the code before the reaper, both `sleep`s stay running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.polling import wait_until
from tests.reaper import GRACE, start_time
from tests.support.paths import REPO

INNER = """
import subprocess, time
from pathlib import Path

def test_starts_a_server_and_hangs():
    child = subprocess.Popen(["sleep", "600"], start_new_session=True)
    Path("child.pid").write_text(str(child.pid))
    time.sleep(600)

def test_nothing():
    pass

def test_swallows_the_interrupt():
    Path("started").write_text("1")
    try:
        time.sleep(600)
    except KeyboardInterrupt:  # as a wait that retries, or a cleanup, may
        pass

def test_after_it():
    Path("after").write_text("1")
"""


def _run(folder: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PILOT_TEST_SESSION"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.reaper",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            *args,
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _child(folder: Path) -> int:
    pid_file = folder / "child.pid"
    wait_until(
        lambda: pid_file.is_file() and pid_file.read_text(),
        what="the inner test's server",
        timeout=60,
    )
    pid = int(pid_file.read_text())
    assert start_time(pid) is not None
    return pid


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_a_run_stopped_by_sigterm_stops_what_its_tests_started(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    run = _run(tmp_path, "test_inner.py::test_starts_a_server_and_hangs")
    pid = _child(tmp_path)
    run.send_signal(signal.SIGTERM)
    assert run.wait(timeout=GRACE + 30) != 0
    wait_until(lambda: _gone(pid), what=f"process {pid} to be stopped", timeout=GRACE + 5)


def test_a_run_killed_outright_is_cleaned_up_by_the_next_run(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER)
    run = _run(tmp_path, "test_inner.py::test_starts_a_server_and_hangs")
    pid = _child(tmp_path)
    run.kill()
    run.wait(timeout=30)
    time.sleep(0.5)
    assert not _gone(pid)  # SIGKILL runs nothing: the server is still there
    following = _run(tmp_path, "test_inner.py::test_nothing")
    assert following.wait(timeout=GRACE + 60) == 0
    assert _gone(pid)


def test_a_sigterm_ends_the_run_even_when_a_test_swallows_the_interrupt(tmp_path):
    """Regression: a CI run sent SIGTERM went on to its next tests after one caught the
    KeyboardInterrupt the signal is made."""
    (tmp_path / "test_inner.py").write_text(INNER)
    run = _run(
        tmp_path, "test_inner.py::test_swallows_the_interrupt", "test_inner.py::test_after_it"
    )
    wait_until(lambda: (tmp_path / "started").is_file(), what="the inner test", timeout=60)
    run.send_signal(signal.SIGTERM)
    run.wait(timeout=GRACE + 30)
    assert not (tmp_path / "after").exists()
