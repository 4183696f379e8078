"""One error type for everything Pilot refuses or fails to do: ``PilotError``.

Every exception class Pilot defines subclasses it, so the faces need no list of classes:
the CLI catches ``PilotError`` once (cli/main.py), prints its message and hint and exits with
its ``exit_code``; the app shows its ``title``, message and hint in a screen's error panel
(screens/failures.py). A module raises its own subclass, which says where the error comes
from and how it fails by default.

This module imports nothing from pilot_tui: any module may import it without a circle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

# The CLI's exit codes (cli/main.py re-exports them): the contract scripts rely on.
EXIT_OK = 0
EXIT_FAILED = 1  # an operation failed: the cloud said no, a build broke, a file is unsafe
EXIT_INVALID = 2  # invalid input: pilot.toml, a key, a name, a flag; nothing was done
EXIT_INTERRUPTED = 130  # the person stopped it (Ctrl+C, Esc); 128 + SIGINT, as shells do


class PilotError(Exception):
    """Something Pilot could not do, told so a person can act on it.

    ``message`` says what went wrong and where (a file, a key, an app), never a secret.
    ``hint`` is what to do next, when there is something better than "fix the cause and run
    it again". ``str(error)`` is both on one line ("message; hint"), which is how the CLI
    prints it and how another error quoting this one keeps the hint; the app's panel shows
    the hint on a line of its own under the message. ``exit_code`` is the CLI's exit status
    for it; a subclass sets its default and a raise may override it when the same error is
    bad input in one place and a failure in another. ``title`` is the few words the app's
    error panel leads with.
    """

    exit_code: int = EXIT_FAILED
    title: str = "Something failed"
    hint: str | None = None

    def __init__(
        self,
        message: str = "",
        *,
        hint: str | None = None,
        exit_code: int | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


@contextlib.contextmanager
def framed(prefix: str = "", suffix: str = "", *, exit_code: int | None = None) -> Iterator[None]:
    """Re-raise a PilotError from the block with what the caller knows added: its message
    framed (``framed(f"{app.name}: ")``), and the exit code it has here, when one error is
    bad input in one command and a failure in another. One handler far up then reports it
    whole; nothing else is caught."""
    try:
        yield
    except PilotError as exc:
        exc.message = f"{prefix}{exc.message}{suffix}"
        exc.args = (exc.message, *exc.args[1:])
        if exit_code is not None:
            exc.exit_code = exit_code
        raise


class Cancelled(PilotError):
    """The person asked to stop (Ctrl+C, Esc, Cancel); what was started is cleaned up by the
    caller."""

    exit_code = EXIT_INTERRUPTED
    title = "Cancelled"
