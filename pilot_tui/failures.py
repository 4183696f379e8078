"""Background work that failed, told to a person: its message plus a log of the details.

Every screen's workers end here when they raise: the message (secrets masked) goes to the
screen's error panel, and the full traceback to a file under .pilot/logs/ whose path the
panel shows, so nothing is lost and no traceback ever takes over the terminal.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from pilot_tui import redact
from pilot_tui.errors import PilotError
from pilot_tui.fsutil import atomic_write, ensure_private_dir


def record(state_dir: Path | None, what: str, error: BaseException) -> Path | None:
    """Write ``error``'s traceback (masked) to .pilot/logs/; its path (None without a
    project, or when the log cannot be written)."""
    if state_dir is None:
        return None
    try:
        logs = ensure_private_dir(state_dir / "logs")
        slug = "".join(c if c.isalnum() else "-" for c in what.lower()).strip("-") or "work"
        # One file per kind of work, holding its latest failure: a stable path to show.
        path = logs / f"failed-{slug}.log"
        details = "".join(traceback.format_exception(error))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        atomic_write(path, redact.text(f"{what} failed at {stamp}\n\n{details}"), mode=0o600)
    except OSError:
        return None
    return path


def title(error: BaseException) -> str:
    """The few words a panel leads with: a PilotError's own title, else the base's."""
    return error.title if isinstance(error, PilotError) else PilotError.title


def describe(state_dir: Path | None, what: str, error: BaseException) -> str:
    """One message for a failed piece of work: what failed, why, what to do next (a
    PilotError's hint, on its own line), and where the details are."""
    if isinstance(error, PilotError):
        message = error.message.strip() + (f"\n{error.hint}" if error.hint else "")
    else:
        message = str(error).strip()
    log = record(state_dir, what, error)
    where = f"\n(details: {log})" if log else ""
    return redact.text(f"{what} failed: {message or type(error).__name__}") + where
