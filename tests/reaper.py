"""Nothing a test run starts outlives it: emulators, private dockerds, sshd, Terraform and its
providers, whatever a test spawns (and what those spawn).

Every process a run starts inherits ``PILOT_TEST_SESSION`` (set here, once, by the first
pytest process: xdist's workers inherit the controller's), whose value names that process
(pid and start time, so a reused pid is never taken for it). So:

- at the run's end (normal, Ctrl+C, or SIGTERM, which is made a KeyboardInterrupt so
  fixtures still stop what they started), every process still carrying this run's mark is
  stopped: SIGTERM, then SIGKILL after a grace period (a dockerd stops its containers on
  TERM);
- at a run's start, every process carrying the mark of a run that is gone (killed with
  SIGKILL, or by a timeout) is stopped the same way, and the mounts a private dockerd of
  it left under /tmp are lazily unmounted.

The processes are found by their environment (/proc/PID/environ), which needs no
bookkeeping by the fixtures and reaches grandchildren. Registered as a plugin by conftest.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

MARK = "PILOT_TEST_SESSION"
GRACE = 15.0  # seconds a process has to stop on SIGTERM (a dockerd stopping containers)
PRIVATE_ROOTS = ("/tmp/pd-", "/tmp/pbk-", "/tmp/pix-")  # the tests' and benches' dockerds


def start_time(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the name


def own_mark() -> str:
    return f"{os.getpid()}:{start_time(os.getpid())}"


def alive(mark: str) -> bool:
    """Whether the run that set ``mark`` is still running."""
    pid, _, started = mark.partition(":")
    return pid.isdigit() and start_time(int(pid)) == started


def marked() -> dict[int, str]:
    """Every other process carrying a run's mark: pid -> mark."""
    found = {}
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        for variable in environ.split(b"\0"):
            if variable.startswith(MARK.encode() + b"="):
                found[int(entry.name)] = variable.split(b"=", 1)[1].decode(errors="replace")
                break
    return found


def stop(pids: Iterable[int], grace: float = GRACE) -> list[int]:
    """SIGTERM, then after ``grace`` seconds SIGKILL to those left; the pids stopped."""
    pids = [p for p in pids if p != os.getpid()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = list(pids)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = [p for p in left if _running(p)]
    for pid in left:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return pids


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie waits for its parent: it runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # ours: reaped, so it is not counted
    return state != "Z"


def unmount_leftovers() -> None:
    """Lazily unmount what a killed private dockerd left mounted under /tmp (its overlay
    and shm mounts), when no dockerd of that root runs any more."""
    try:
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return
    running = _dockerd_roots()
    for point in sorted(mounts, key=len, reverse=True):
        root = _private_root(point)
        if root is not None and root not in running:
            with contextlib.suppress(OSError):
                subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def _private_root(path: str) -> str | None:
    for prefix in PRIVATE_ROOTS:
        if path.startswith(prefix):
            return path[: path.find("/", len(prefix))] if "/" in path[len(prefix) :] else path
    return None


def _dockerd_roots() -> set[str]:
    roots = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().split(b"\0")
            if command and command[0].endswith(b"dockerd"):
                for word in command:
                    root = _private_root(word.decode(errors="replace").rpartition("=")[2])
                    if root is not None:
                        roots.add(root)
    return roots


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")  # an xdist worker: the controller reaps


TERMINATED: list[int] = []  # the signal that asked the run to end, once one did


def _terminated(signum: int, frame: object) -> None:
    TERMINATED.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")  # pytest unwinds: fixtures stop their work


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """No test after a SIGTERM: one whose code caught the KeyboardInterrupt (a wait that
    retries, a fixture's cleanup) would otherwise leave the run going on to the next."""
    yield
    if TERMINATED:
        item.session.shouldstop = f"stopped by signal {TERMINATED[0]}"


def pytest_configure(config: pytest.Config) -> None:
    if not _is_worker(config):  # a worker's children carry its controller's mark
        # Leftovers of runs that are gone (killed, timed out) first.
        stale = [pid for pid, mark in marked().items() if not alive(mark)]
        if stale:
            stop(stale)
        unmount_leftovers()
        os.environ[MARK] = own_mark()
    with contextlib.suppress(ValueError):  # not the main thread: leave SIGTERM alone
        signal.signal(signal.SIGTERM, _terminated)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_worker(config) or os.environ.get(MARK) != own_mark():
        return
    left = [pid for pid, mark in marked().items() if mark == os.environ[MARK]]
    if left:
        stop(left)
