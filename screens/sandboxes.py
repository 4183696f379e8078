"""The sandboxes this app run started, so its exit stops them and nobody else's.

A worker records a sandbox before it may start its emulators (``starting``): the app's exit
can come while they start, and must still stop them. Emulators that were running before are
someone else's and are left alone.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App


class AppSandboxes:
    """The state dirs whose emulators this app's workers start; stopped at the app's exit."""

    def __init__(self) -> None:
        self._started: set[Path] = set()
        self._shutting_down = False  # set at exit: a worker stops what it starts after

    def starting(self, state_dir: Path) -> bool:
        """Before a worker may start ``state_dir``'s emulators: record them as this app's
        unless they are running already (then they are someone else's). True if recorded."""
        from pilot_tui.cloud.sandbox import Sandbox  # imported when used: the app starts fast

        if Sandbox(state_dir).running():
            return False
        self._started.add(state_dir)
        return True

    def started(self, state_dir: Path) -> None:
        """The core says this app's work started ``state_dir``'s emulators."""
        self._started.add(state_dir)

    def stop_if_shutting_down(self, state_dir: Path) -> None:
        """After a worker's start: the exit may have come first and stopped nothing yet."""
        from pilot_tui.cloud.sandbox import Sandbox

        if self._shutting_down and state_dir in self._started:
            Sandbox(state_dir).stop()

    def stop_all(self) -> None:
        """At the app's exit: stop every sandbox it started."""
        from pilot_tui.cloud.sandbox import STARTING, Sandbox

        self._shutting_down = True
        with STARTING:  # a start in progress finishes first, then goes with the rest
            for state_dir in self._started:
                Sandbox(state_dir).stop()


def app_sandboxes(app: App[object]) -> AppSandboxes:
    """The record ``app`` keeps (PilotApp.sandboxes)."""
    record = getattr(app, "sandboxes", None)
    if not isinstance(record, AppSandboxes):
        raise TypeError(f"{type(app).__name__} keeps no record of the sandboxes it starts")
    return record
