"""The one runner, with real child processes: streaming, exit codes, Ctrl+C forwarding to
the whole process group, escalation, and cancellation that reaches the child."""

from __future__ import annotations

import asyncio
import signal
import sys
import time

import pytest

from pilot_tui.runner import Command, Interrupt, RunnerError, capture, pid_alive, stream

# One os.write per line: both processes share the pipe, and a single small write is atomic.
# A child that reports SIGINT, and runs a grandchild (as Terraform 1.0's panicwrap does)
# that reports it too: both must hear the interrupt.
GRANDCHILD = (
    "import os, signal, sys, time\n"
    "def bye(*_):\n"
    "    os.write(1, b'grandchild got SIGINT\\n')\n"
    "    sys.exit(0)\n"
    "signal.signal(signal.SIGINT, bye)\n"
    "print('grandchild ready', flush=True)\n"
    "time.sleep(60)\n"
)
FAMILY = (
    "import os, signal, subprocess, sys, time\n"
    "def bye(*_):\n"
    "    os.write(1, b'parent got SIGINT\\n')\n"
    "    sys.exit(7)\n"
    "signal.signal(signal.SIGINT, bye)\n"
    f"kid = subprocess.Popen([sys.executable, '-c', {GRANDCHILD!r}])\n"
    "print('ready', flush=True)\n"
    "kid.wait()\n"
    "time.sleep(60)\n"
)

STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "print('ready', flush=True)\ntime.sleep(60)\n"
)


def py(code: str) -> Command:
    return Command((sys.executable, "-c", code))


async def test_streams_lines_from_both_streams_and_returns_the_exit_code():
    lines = []
    code = await stream(
        py("import sys\nprint('a')\nprint('b', file=sys.stderr)\nsys.exit(3)"), lines.append
    )
    assert code == 3
    assert {(line.stream, line.text) for line in lines} == {("stdout", "a"), ("stderr", "b")}


async def test_interrupt_reaches_child_and_grandchild():
    interrupt = Interrupt()
    seen = []

    def on_line(line):
        seen.append(line.text)
        if line.text == "grandchild ready" or (line.text == "ready" and "grandchild ready" in seen):
            interrupt.request()

    code = await asyncio.wait_for(stream(py(FAMILY), on_line, interrupt), 30)
    assert "grandchild got SIGINT" in seen and "parent got SIGINT" in seen
    assert code == 7


async def test_second_interrupt_waits_and_the_third_kills():
    """Terraform exits at once on a second SIGINT, forgetting what it is creating: the second
    interrupt is held back (the child keeps running), the third kills the child's group."""
    interrupt = Interrupt()
    alive_after_second = []

    def on_line(line):
        if line.text == "ready":
            interrupt.request()
            interrupt.request()
            asyncio.get_running_loop().call_later(1.0, third)

    def third():
        alive_after_second.append(interrupt.count)
        interrupt.request()

    code = await asyncio.wait_for(stream(py(STUBBORN), on_line, interrupt), 30)
    assert alive_after_second == [2]  # still running a second after the second interrupt
    assert code == -9  # SIGKILL on the third


async def test_cancelling_the_caller_stops_the_child():
    pids = []

    async def run():
        await stream(
            py("import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)"),
            lambda line: pids.append(int(line.text)),
        )

    task = asyncio.create_task(run())
    while not pids:
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not pid_alive(pids[0])


async def test_missing_binary_is_a_clear_error():
    with pytest.raises(RunnerError, match="cannot start"):
        await stream(Command(("/nonexistent/terraform", "version")), print)
    with pytest.raises(RunnerError, match="not found"):
        capture(Command(("/nonexistent/terraform", "version")))


async def test_one_token_cancels_a_deploy_step_and_a_running_command():
    """The deploy's CancelToken is runner.Interrupt: set from another thread (the TUI's
    Cancel), it is seen at once by work between steps (check raises Cancelled, exit 130) and
    reaches a child that a stream() is running with it."""
    import threading

    from pilot_tui.deploy.context import Cancelled, CancelToken
    from pilot_tui.errors import EXIT_INTERRUPTED

    token = CancelToken()
    token.check()  # not set: nothing happens
    started = []

    def on_line(line):
        if line.text == "ready":
            started.append(True)
            threading.Thread(target=token.set).start()

    code = await asyncio.wait_for(stream(py(FAMILY), on_line, token), 30)
    assert started and code == 7  # the child got SIGINT and exited its own way
    assert token.is_set()
    with pytest.raises(Cancelled) as raised:
        token.check("cancelled during the build")
    assert raised.value.exit_code == EXIT_INTERRUPTED
    assert str(raised.value) == "cancelled during the build"


def test_an_interrupt_after_its_run_ended_is_counted_not_a_crash():
    """Ctrl+C between two Terraform runs (server destroy's app and deployer steps come after
    its plan): the plan's loop is closed by then, and waking it raised 'Event loop is closed'
    in the signal handler instead of saying what the interrupt does (found in review)."""
    interrupt = Interrupt()
    code = asyncio.run(stream(py("print('done')"), lambda line: None, interrupt))
    assert code == 0
    interrupt.request()  # the first loop is closed now
    assert interrupt.count == 1 and interrupt.is_set()
    # The next run still hears it: its child gets SIGINT as soon as it starts.
    sleeper = py("import time; time.sleep(30)")
    started = time.monotonic()
    said: list[str] = []
    code = asyncio.run(
        asyncio.wait_for(stream(sleeper, lambda line: said.append(line.text), interrupt), 30)
    )
    assert time.monotonic() - started < 20  # interrupted, not slept out
    # SIGINT before Python's own handler is installed kills it (-SIGINT); after, it is a
    # KeyboardInterrupt (exit status 1): which one depends on how fast the child starts.
    assert code == -signal.SIGINT or (code == 1 and "KeyboardInterrupt" in said), (code, said)


def test_a_daemons_log_is_private(tmp_path):
    """Found walking: the sandbox emulators' logs were 0644 where every other log under
    .pilot/ is 0600; one an older Pilot made 0644 is made private too."""
    import os
    import stat
    import sys

    from pilot_tui.runner import Command, spawn_daemon, stop_pid

    older = tmp_path / "logs" / "older.log"
    older.parent.mkdir()
    older.write_text("before\n")
    older.chmod(0o644)
    for log in (tmp_path / "logs" / "new.log", older):
        pid = spawn_daemon(Command((sys.executable, "-c", "print('hello')")), log)
        stop_pid(pid)
        assert stat.S_IMODE(os.stat(log).st_mode) == 0o600, log
    assert older.read_text().startswith("before\n")  # appended to, never truncated
