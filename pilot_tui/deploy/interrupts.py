"""A Ctrl+C held off while a step that must not be cut in half runs: the edge's switch
from one release to another, from the moment the routes lock is taken (its files renamed,
Caddy reloaded, the lock given back). Cut there, the edge could serve the new release
while the deploy says it was interrupted and records nothing live; held off, the switch is
whole, and the Ctrl+C is then handled as one just after it (the new release stays live).
A second Ctrl+C while one is held stops at once, as it would have.

Signals reach Python's main thread only: in another thread (the app's workers, whose
Cancel is a CancelToken, never a SIGINT) this holds nothing off."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class HeldInterrupt:
    """``start()`` (or ``with``) holds SIGINT off: the first is noted, not raised;
    ``stop()`` gives the handler before back; ``reraise()`` afterwards raises the
    KeyboardInterrupt held off, if any."""

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None  # the handler before (a callable or SIG_DFL)
        self._held = False

    def start(self) -> None:
        if self._held or threading.current_thread() is not threading.main_thread():
            return
        # A process that ignores SIGINT (started in the background) goes on ignoring it.
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            return
        previous = signal.signal(signal.SIGINT, self._note)
        # None: a handler not set from Python; Python's own is the default to give back.
        self._previous = signal.default_int_handler if previous is None else previous
        self._held = True

    def stop(self) -> None:
        if self._held:
            signal.signal(signal.SIGINT, self._previous)
            self._held = False

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received:  # the second: the person means it
            self.stop()
            raise KeyboardInterrupt
        self.received = True

    def __enter__(self) -> HeldInterrupt:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def reraise(self) -> None:
        """The KeyboardInterrupt held off, if a Ctrl+C came while held."""
        if self.received:
            self.received = False
            raise KeyboardInterrupt
