"""Waiting for auto exposure to settle before the first episode.

A USB or RealSense camera with auto exposure starts dark (or washed out) and takes up to a few
seconds to converge; frames recorded meanwhile teach a policy a lighting that never recurs. The
recorder waits until every camera's frame brightness is stable: the mean of a subsampled frame
varies by no more than `tolerance` grey levels over `window` samples taken `interval_s` apart.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping

import numpy as np

from demoforge.collect.cameras.base import Camera

WINDOW = 5  # samples that must agree
INTERVAL_S = 0.1  # between samples: auto exposure changes over tenths of seconds
TOLERANCE = 3.0  # grey levels (0..255) of mean brightness
TIMEOUT_S = 5.0  # longest wait; a camera still drifting after this is named, not waited for


def brightness(image: np.ndarray) -> float:
    """Mean grey level of a subsampled frame (every 8th pixel: cheap, and enough for a mean)."""
    return float(image[::8, ::8].mean())


def wait_for_exposure(
    cameras: Mapping[str, Camera],
    *,
    window: int = WINDOW,
    interval_s: float = INTERVAL_S,
    tolerance: float = TOLERANCE,
    timeout_s: float = TIMEOUT_S,
) -> list[str]:
    """Block until every camera's brightness is stable; returns the names of those that were not
    within `timeout_s` (for a warning: recording may go on)."""
    history: dict[str, deque[float]] = {name: deque(maxlen=window) for name in cameras}
    last_index: dict[str, int] = {}
    pause = threading.Event()  # an interruptible wait between samples (never set)
    deadline = time.monotonic() + timeout_s
    while True:
        for name, cam in cameras.items():
            frame = cam.latest()
            if frame is not None and frame.index != last_index.get(name):
                last_index[name] = frame.index
                history[name].append(brightness(frame.image))
        unsettled = [name for name, h in history.items() if len(h) < window or max(h) - min(h) > tolerance]
        if not unsettled or time.monotonic() > deadline:
            return unsettled
        pause.wait(interval_s)
