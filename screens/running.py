"""The app's long work, by the screen that runs it (see RunningWork): what Ctrl+Q asks
about and waits for. Small and free of widgets: the app imports it as it starts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from textual.app import App

if TYPE_CHECKING:
    from pilot_tui.screens.run_screen import RunScreen


class RunningWork:
    """The app's long work, by the screen that runs it, from its worker's first line to its
    last: a screen closed while its worker still runs (a deploy's watch of a live release,
    once Esc went back) counts until the work ends, which its workers' states do not say
    (a closed screen's workers are cancelled at once; a thread runs on)."""

    def __init__(self) -> None:
        self._screens: dict[int, RunScreen] = {}
        self._lock = threading.Lock()

    @contextmanager
    def of(self, screen: RunScreen) -> Iterator[None]:
        with self._lock:
            self._screens[id(screen)] = screen
        try:
            yield
        finally:
            with self._lock:
                self._screens.pop(id(screen), None)

    def screens(self) -> list[RunScreen]:
        with self._lock:
            return list(self._screens.values())


def app_running(app: App[object]) -> RunningWork:
    """The record ``app`` keeps of its long work (PilotApp.running)."""
    record = getattr(app, "running", None)
    if not isinstance(record, RunningWork):
        raise TypeError(f"{type(app).__name__} keeps no record of its running work")
    return record
