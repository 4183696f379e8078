"""A Ctrl+C held off while a step that must not be cut in half runs: the edge's switch
from one release to another (its files renamed, Caddy reloaded, the routes lock given
back). Cut there, the edge could serve the new release while the deploy says it was
interrupted and records nothing live; held off, the switch is whole, and the Ctrl+C is
then handled as one just after it (the new release stays live).

Signals reach Python's main thread only: in another thread (the app's workers, whose
Cancel is a CancelToken, never a SIGINT) this holds nothing off."""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class HeldInterrupt:
    """``with HeldInterrupt() as held:`` a SIGINT in the block is noted, not raised;
    ``held.reraise()`` afterwards raises the KeyboardInterrupt it would have been."""

    def __init__(self) -> None:
        self.received = False
        self._previous: Any = None  # the handler before (a callable, SIG_IGN or SIG_DFL)
        self._held = False

    def __enter__(self) -> HeldInterrupt:
        # A process that ignores SIGINT (started in the background) goes on ignoring it.
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            previous = signal.signal(signal.SIGINT, self._note)
            # None: a handler not set from Python; Python's own is the default to give back.
            self._previous = signal.default_int_handler if previous is None else previous
            self._held = True
        return self

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.received = True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._held:
            signal.signal(signal.SIGINT, self._previous)
            self._held = False

    def reraise(self) -> None:
        """The KeyboardInterrupt held off, if a Ctrl+C came during the block."""
        if self.received:
            self.received = False
            raise KeyboardInterrupt
