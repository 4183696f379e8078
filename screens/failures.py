"""The one way a screen shows a worker that raised: in its own error panel, never a traceback.

Every ``@work`` in the screens passes ``exit_on_error=False`` (Textual's default ends the
app on the first exception) and renders ``worker_failure`` where it reports; the run screens
(server, deploy) pin it in an ``ErrorPanel`` under the error's title: a PilotError's title,
message and hint all reach the person through this module.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.widgets import Static
from textual.worker import Worker

from pilot_tui.failures import describe, title


def worker_failure(worker: Worker[object], state_dir: Path | None) -> str:
    """Markup for the panel: what failed (the worker's name), why, what to do next, and the
    log path."""
    error = worker.error or RuntimeError("unknown error")
    return escape(describe(state_dir, worker.name or "background work", error))


class ErrorPanel(Static):
    """A run screen's pinned error: hidden (CSS class ``hidden``) until something fails, then
    it stays in view above the log until the next run clears it."""

    def pin(self, markup: str) -> None:
        self.update(markup)
        self.remove_class("hidden")

    def clear(self) -> None:
        self.add_class("hidden")

    def pin_failure(self, worker: Worker[object], state_dir: Path | None) -> None:
        """A worker that raised: its error's title in bold, then ``worker_failure``."""
        error = worker.error or RuntimeError("unknown error")
        self.pin(f"[b]{escape(title(error))}[/b]\n{worker_failure(worker, state_dir)}")
