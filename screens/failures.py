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

from pilot_tui import redact
from pilot_tui.failures import describe, title


def worker_failure(worker: Worker[object], state_dir: Path | None) -> str:
    """Markup for the panel: what failed (the worker's name), why, what to do next, and the
    log path."""
    return escape(_failure(worker, state_dir))


def _failure(worker: Worker[object], state_dir: Path | None) -> str:
    error = worker.error or RuntimeError("unknown error")
    return describe(state_dir, worker.name or "background work", error)


class ErrorPanel(Static):
    """A run screen's pinned error: hidden (CSS class ``hidden``) until something fails, then
    it stays in view above the log until the next run clears it.

    What it pins is plain text from the core (messages, paths, a container's lines): masked
    and escaped here, the one place, so a ``[red]`` in a folder name shows as written and
    never restyles or breaks the panel. Only ``then`` is the screen's own markup."""

    def pin(self, lead: str, text: str = "", *, then: str = "") -> None:
        """``lead`` in bold, then ``text`` as written, then the markup ``then``."""
        shown = escape(redact.text(lead)), escape(redact.text(text))
        self.update(f"[b]{shown[0]}[/b]{shown[1]}{then}")
        self.remove_class("hidden")

    def clear(self) -> None:
        self.add_class("hidden")

    def pin_failure(self, worker: Worker[object], state_dir: Path | None) -> None:
        """A worker that raised: its error's title in bold, then ``worker_failure``."""
        self.pin(title(worker.error or RuntimeError()), "\n" + _failure(worker, state_dir))
