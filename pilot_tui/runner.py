"""The one place Pilot starts child processes.

Commands are plain data (:class:`Command`), built by pure functions elsewhere and run here:
``stream`` runs one asynchronously, handing each output line to a callback as it arrives;
``capture`` runs a short one to completion; ``spawn_daemon`` starts a background server
(the sandbox emulators) and returns its pid so it can be stopped by pid.

Children run in their own session (and process group), so a Ctrl+C at the terminal reaches
Pilot only; Pilot then forwards it to the child's group: the first interrupt sends SIGINT
(Terraform stops gracefully: it waits for the cloud calls in flight, saves state and
releases its lock). The second is *not* forwarded: Terraform's own answer to a second SIGINT
is to exit at once, forgetting resources whose creation is under way, so Pilot keeps waiting
and the UI says for what. The third kills the child's group (:data:`KILL_AT`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pilot_tui.errors import Cancelled, PilotError
from pilot_tui.fsutil import pid_exists

if TYPE_CHECKING:  # imported where a run streams: a deploy or a status never needs it
    import asyncio

Stream = Literal["stdout", "stderr"]
LINE_LIMIT = 64 * 1024 * 1024  # `terraform show -json` prints the whole plan on one line


class RunnerError(PilotError):
    """A command could not be started (missing binary, bad directory, ...)."""

    title = "Command could not start"


@dataclass(frozen=True)
class Command:
    """A command as data: what to run, where, with which environment."""

    argv: tuple[str, ...]
    cwd: Path | None = None
    env: Mapping[str, str] | None = None  # the complete environment; None inherits ours
    timeout: float | None = None  # only for capture()

    def __str__(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True)
class Line:
    stream: Stream
    text: str


@dataclass
class Completed:
    returncode: int
    stdout: str = ""
    stderr: str = ""


KILL_AT = 3  # the interrupt that kills the child; the ones before it only ask


@dataclass
class Interrupt:
    """The one cancellation token: a person's Ctrl+C, Esc or Cancel, for a running command,
    a deploy or a teardown. ``request()`` (``set()``) may be called from any thread; work
    between steps asks ``is_set()`` or ``check()``, and a command started by :func:`stream`
    with the token gets the signals below. ``count`` is how many interrupts were asked for:
    1 stops gracefully, :data:`KILL_AT` kills."""

    kill_after: float = 20.0
    count: int = 0
    _event: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        import asyncio

        self._loop = loop
        self._event = asyncio.Event()

    def unbind(self) -> None:
        """The run is over: a later request is only counted (for the next check or run)."""
        self._loop = self._event = None

    def request(self) -> None:
        # Counted at once, so is_set() is true in every thread the moment this returns; a
        # bound loop is woken to forward the signal to its child.
        with self._lock:
            self.count += 1
        loop, event = self._loop, self._event
        if loop is not None and event is not None:
            # A run's loop may have ended (and closed) since: then the count is all there is.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    set = request  # the name a deploy's Cancel button uses

    def is_set(self) -> bool:
        return self.count > 0

    def check(self, what: str = "cancelled") -> None:
        """Raise Cancelled(``what``) once an interrupt was asked for."""
        if self.count:
            raise Cancelled(what)

    def kill(self) -> None:
        """Skip the waiting: kill the child now (a UI's explicit "kill" choice)."""
        for _ in range(max(KILL_AT - self.count, 0)):
            self.request()


async def stream(
    command: Command, on_line: Callable[[Line], None], interrupt: Interrupt | None = None
) -> int:
    """Run ``command``, calling ``on_line`` for every stdout/stderr line; the exit code."""
    import asyncio

    try:
        proc = await asyncio.create_subprocess_exec(
            *command.argv,
            cwd=command.cwd,
            env=None if command.env is None else dict(command.env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            limit=LINE_LIMIT,
        )
    except OSError as exc:
        raise RunnerError(f"cannot start {command.argv[0]}: {exc.strerror or exc}") from exc

    async def pump(reader: asyncio.StreamReader | None, name: Stream) -> None:
        assert reader is not None
        while True:
            raw = await reader.readline()
            if not raw:
                return
            on_line(Line(name, raw.decode("utf-8", "replace").rstrip("\r\n")))

    pumps = asyncio.gather(pump(proc.stdout, "stdout"), pump(proc.stderr, "stderr"))
    watcher = asyncio.ensure_future(_forward_interrupts(proc, interrupt)) if interrupt else None
    try:
        await pumps
        return await proc.wait()
    except asyncio.CancelledError:
        # The caller was cancelled (a Textual worker, say): stop the child the same way.
        await _stop(proc, kill_after=interrupt.kill_after if interrupt else 20.0)
        raise
    finally:
        if watcher:
            watcher.cancel()


async def _forward_interrupts(proc: asyncio.subprocess.Process, interrupt: Interrupt) -> None:
    import asyncio

    interrupt.bind(asyncio.get_running_loop())
    event = interrupt._event
    assert event is not None
    sent = 0
    try:
        if interrupt.count:  # interrupted before the child even started
            event.set()
        while proc.returncode is None:
            await event.wait()
            event.clear()
            if interrupt.count >= KILL_AT:
                _signal(proc.pid, signal.SIGKILL)
                return
            if interrupt.count >= 1 and not sent:
                sent = 1
                _signal(proc.pid, signal.SIGINT)
    finally:
        interrupt.unbind()


async def _stop(proc: asyncio.subprocess.Process, kill_after: float) -> None:
    import asyncio

    if proc.returncode is not None:
        return
    _signal(proc.pid, signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), kill_after)
    except TimeoutError:
        _signal(proc.pid, signal.SIGKILL)
        await proc.wait()


def _signal(pid: int, sig: signal.Signals) -> None:
    """Signal the child's whole process group, as a terminal's Ctrl+C would: Terraform 1.0
    runs its real work in a re-executed child (panicwrap) that only the group reaches."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def capture(command: Command, stdin: str | None = None) -> Completed:
    """Run a short command to completion and return its output."""
    try:
        done = subprocess.run(
            list(command.argv),
            cwd=command.cwd,
            env=command.env,
            capture_output=True,
            text=True,
            timeout=command.timeout,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError as exc:
        raise RunnerError(f"{command.argv[0]}: not found") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RunnerError(str(exc)) from exc
    return Completed(done.returncode, done.stdout, done.stderr)


def run_attached(command: Command) -> int:
    """Run an interactive program on this terminal (an editor) and wait for it."""
    try:
        return subprocess.run(
            list(command.argv), cwd=command.cwd, env=command.env, check=False
        ).returncode
    except FileNotFoundError as exc:
        raise RunnerError(f"{command.argv[0]}: not found") from exc
    except OSError as exc:
        raise RunnerError(str(exc)) from exc


def exec_replace(command: Command) -> None:
    """Replace this process with ``command`` (an interactive `ssh`); returns only on error."""
    import shutil

    binary = shutil.which(command.argv[0])
    if binary is None:
        raise RunnerError(f"{command.argv[0]}: not found")
    if command.cwd is not None:
        os.chdir(command.cwd)
    os.execve(binary, list(command.argv), dict(command.env or os.environ))


def spawn_daemon(command: Command, log: Path) -> int:
    """Start a long-running server detached from the terminal; its pid. Its output goes
    to ``log``, 0600 as every log under .pilot/ is (found walking: the sandbox's were
    0644)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    # Never through a link: a log left as one would append to, and chmod, its target.
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
    try:
        descriptor = os.open(log, flags, 0o600)
    except OSError as exc:
        raise RunnerError(f"cannot open {log}: {exc}") from exc
    try:
        os.fchmod(descriptor, 0o600)  # one made before, by an older Pilot, too
        out = os.fdopen(descriptor, "ab")
    except OSError:
        os.close(descriptor)
        raise
    with out:
        try:
            proc = subprocess.Popen(
                list(command.argv),
                cwd=command.cwd,
                env=command.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        except OSError as exc:
            raise RunnerError(f"cannot start {command.argv[0]}: {exc}") from exc
    return proc.pid


def stop_pid(pid: int, timeout: float = 5.0) -> bool:
    """SIGTERM a process we started, then SIGKILL; True when it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    _signal(pid, signal.SIGKILL)
    return not pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a child of ours that exited is reaped, so it counts as gone)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    return pid_exists(pid)
