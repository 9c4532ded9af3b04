"""Decode one episode's span of a LeRobot video with PyAV, at a requested size.

LeRobot v3.0 puts many episodes back to back in one mp4 and records each episode's
[from_timestamp, to_timestamp) in the episodes table; frame k of the episode is shown at
from_timestamp + k / fps. We seek to the keyframe before the span and decode forward, keeping the
frames whose presentation time falls inside it (half a period of slack each side: container time
bases round).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from demoforge.schemas.errors import EpisodeError

FIX = "re-download or re-encode the video; the dataset's table and its video disagree"


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise EpisodeError("reading LeRobot videos needs PyAV", "pip install 'demoforge[export]'") from None
    return av


def decode_span(path: Path, t0: float, t1: float, fps: float, size: tuple[int, int]) -> np.ndarray:
    """Frames shown in [t0, t1) of `path`, as (N, height, width, 3) uint8 RGB scaled to `size`."""
    av = _av()
    if not path.is_file():
        raise EpisodeError(f"{path} is missing", FIX)
    half = 0.5 / fps
    h, w = size
    out: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise EpisodeError(f"{path} holds no video stream", FIX)
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb = stream.time_base
            if t0 > half and tb:
                container.seek(int((t0 - half) / tb), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * tb)
                if t < t0 - half:
                    continue
                if t >= t1 - half:
                    break
                out.append(frame.to_ndarray(format="rgb24", width=w, height=h))
    except EpisodeError:
        raise
    except Exception as e:  # PyAV raises its own FFmpegError family and plain ValueErrors
        if isinstance(e, OSError | ValueError | RuntimeError) or type(e).__module__.startswith("av"):
            raise EpisodeError(f"{path}: cannot be decoded ({e})", FIX) from None
        raise
    if not out:
        return np.zeros((0, h, w, 3), np.uint8)
    return np.stack(out)
