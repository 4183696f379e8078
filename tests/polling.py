"""Wait for a condition instead of sleeping a fixed time: as fast as the machine allows, and a
message naming what never happened when it does not."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], *, what: str, timeout: float = 10, interval: float = 0.05
) -> T:
    """Call ``condition`` until it returns something truthy and return that; after
    ``timeout`` seconds fail with an AssertionError saying it was waiting for ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g} s for {what}; it did not happen")
        time.sleep(interval)
