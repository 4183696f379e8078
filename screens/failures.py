"""The one way a screen shows a worker that raised: in its own error panel, never a traceback.

Every ``@work`` in the screens passes ``exit_on_error=False`` (Textual's default ends the
app on the first exception) and renders ``worker_failure`` in its panel.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.worker import Worker

from pilot_tui.failures import describe


def worker_failure(worker: Worker[object], state_dir: Path | None) -> str:
    """Markup for the panel: what failed (the worker's name), why, and the log path."""
    error = worker.error or RuntimeError("unknown error")
    return escape(describe(state_dir, worker.name or "background work", error))
