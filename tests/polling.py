"""Bounded polling for what another thread or process makes true: no fixed sleeps in the tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def poll(predicate: Callable[[], object], timeout_s: float = 3.0, interval_s: float = 0.0) -> bool:
    """True as soon as `predicate()` is, False if it still is not after `timeout_s` (checked once more at
    the end). `interval_s` 0 busy-polls: right where each try is itself a round trip (a bus read)."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while time.monotonic() < deadline:
        if predicate():
            return True
        if interval_s:
            pause.wait(interval_s)
    return bool(predicate())
