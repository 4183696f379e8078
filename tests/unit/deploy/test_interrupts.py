"""HeldInterrupt with real SIGINTs sent to this process: held off in the block and raised
after it only when asked; the handler before is given back; outside the main thread
(where no signal arrives) it changes nothing."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from pilot_tui.deploy.interrupts import HeldInterrupt


def test_a_ctrl_c_in_the_block_is_held_off_then_raised_when_asked():
    before = signal.getsignal(signal.SIGINT)
    with HeldInterrupt() as held:
        os.kill(os.getpid(), signal.SIGINT)
        finished = True  # reached: nothing was raised in the block
    assert finished and held.received
    assert signal.getsignal(signal.SIGINT) is before
    with pytest.raises(KeyboardInterrupt):
        held.reraise()
    held.reraise()  # once only


def test_no_ctrl_c_raises_nothing():
    with HeldInterrupt() as held:
        pass
    assert not held.received
    held.reraise()


def test_outside_the_main_thread_it_holds_nothing():
    before = signal.getsignal(signal.SIGINT)
    seen: list[object] = []

    def work() -> None:
        with HeldInterrupt():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == [before]


def test_a_process_ignoring_ctrl_c_goes_on_ignoring_it():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with HeldInterrupt() as held:
            os.kill(os.getpid(), signal.SIGINT)
        held.reraise()  # nothing noted: ignored, as before
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_second_ctrl_c_while_held_stops_at_once():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), HeldInterrupt() as held:
        os.kill(os.getpid(), signal.SIGINT)
        assert held.received
        os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("not reached: the second Ctrl+C raises")
    assert signal.getsignal(signal.SIGINT) is before


def test_started_after_the_wait_it_holds_from_there_only():
    held = HeldInterrupt()
    with pytest.raises(KeyboardInterrupt):  # before start(): a Ctrl+C is one
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass
    try:
        held.start()
        held.start()  # twice: still one handler to give back
        os.kill(os.getpid(), signal.SIGINT)
    finally:
        held.stop()
    with pytest.raises(KeyboardInterrupt):
        held.reraise()
