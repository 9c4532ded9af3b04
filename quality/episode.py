"""`Episode`: what every check sees of one open episode file, with tick -> seconds conversion."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from quality.findings import ERROR, CheckSkipped, Finding, Severity
from quality.thresholds import Thresholds
from schemas import episode_layout as L
from schemas.episode_reader import EpisodeReader
from schemas.errors import EpisodeError

THUMB_WIDTH = 96  # px; thumbnails in the HTML report stay a few KB each


def ticks_text(i0: int, i1: int) -> str:
    """Ticks [i0, i1) for a message: "tick 7" or "ticks 7-12"."""
    return f"tick {i0}" if i1 - i0 <= 1 else f"ticks {i0}-{i1 - 1}"


class Episode:
    """An open `EpisodeReader` plus the timing every check needs; arrays are read once and shared."""

    def __init__(self, reader: EpisodeReader, th: Thresholds) -> None:
        self.reader = reader
        self.name = reader.path.name
        self.length = reader.length
        self.fps = reader.fps or th.nominal_fps
        self.period = 1.0 / self.fps
        self.nonfinite: dict[str, int] = {}  # dataset -> first bad row; checks skip those datasets
        ts = self.raw(L.TIMESTAMPS)
        self.has_timestamps = ts is not None
        usable = ts is not None and L.TIMESTAMPS not in self.nonfinite and bool(np.all(np.diff(ts) > 0))
        # Spans are in episode time: the recorded tick times when sane, otherwise tick / fps.
        self.times = ts if usable and ts is not None and len(ts) else np.arange(self.length) * self.period
        self.duration = float(self.times[-1] + self.period) if self.length else 0.0
        self.thumbs: dict[tuple[str, int], np.ndarray] = {}  # (cam, tick) -> small RGB, for the HTML report

    # -- arrays ------------------------------------------------------------------------------------

    def raw(self, name: str) -> np.ndarray | None:
        """A dataset as stored (NaN allowed), None when the file lacks it; notes non-finite rows."""
        if name in self.reader.missing:
            return None
        arr = self.reader.array(name, check_finite=False)
        if arr.dtype.kind == "f" and name not in self.nonfinite:
            bad = ~np.isfinite(arr)
            if bad.any():
                self.nonfinite[name] = int(np.argwhere(bad)[0][0])
        return arr

    def data(self, name: str) -> np.ndarray:
        """A dataset a check depends on; skips the check when it is absent or holds NaN/Inf."""
        arr = self.raw(name)
        if arr is None:
            raise CheckSkipped(f"no {name} dataset")
        if name in self.nonfinite:
            raise CheckSkipped(f"{name} holds non-finite values (see integrity)")
        return arr

    def data_or_nan(self, name: str) -> np.ndarray:
        """A per-tick float dataset, all NaN when absent (callers mask with isfinite)."""
        arr = self.raw(name)
        return np.full(self.length, np.nan) if arr is None else arr

    def cameras_with(self, what: str) -> list[str]:
        """Cameras that have `frame_time` or `frame_index` data."""
        path = L.frame_time_path if what == "frame_time" else L.frame_index_path
        return [c for c in self.reader.cameras if path(c) not in self.reader.missing]

    def camera_fps(self, cam: str) -> float:
        """The camera's nominal rate from the `cameras` attribute, else estimated, else the control rate."""
        fps = self.reader.camera_info.get(cam, {}).get("fps")
        if isinstance(fps, int | float) and fps > 0:
            return float(fps)
        ft = self.raw(L.frame_time_path(cam))
        if ft is not None:
            d = np.diff(ft[np.isfinite(ft)])
            d = d[d > 0]
            if d.size:
                return float(1.0 / np.median(d))
        return self.fps

    # -- images ------------------------------------------------------------------------------------

    def frame_mean(self, cam: str, t: int) -> float:
        """Mean pixel value of one frame (decoded once; a thumbnail is kept for the report)."""
        img = self.reader.image(cam, t)
        h, w = img.shape[:2]
        if w > THUMB_WIDTH:
            img = cv2.resize(img, (THUMB_WIDTH, max(1, h * THUMB_WIDTH // w)), interpolation=cv2.INTER_AREA)
        self.thumbs[(cam, t)] = img
        return float(img.mean())

    def thumbnail(self, cam: str, t: int) -> np.ndarray | None:
        if (cam, t) not in self.thumbs:
            try:
                self.frame_mean(cam, t)
            except EpisodeError:
                return None
        return self.thumbs[(cam, t)]

    # -- findings ----------------------------------------------------------------------------------

    def span(self, i0: int, i1: int) -> tuple[float, float]:
        """Seconds of episode time covered by ticks [i0, i1)."""
        i0 = min(max(i0, 0), max(self.length - 1, 0))
        i1 = min(max(i1, i0 + 1), self.length)
        if not self.length:
            return 0.0, 0.0
        return float(self.times[i0]), min(float(self.times[i1 - 1] + self.period), self.duration)

    def finding(
        self, check: str, severity: Severity, i0: int, i1: int, message: str, **detail: Any
    ) -> Finding:
        s, e = self.span(i0, i1)
        return Finding(check, severity, s, e, message, {"ticks": [int(i0), int(i1)], **detail})

    def whole(self, check: str, message: str, severity: Severity = ERROR, **detail: Any) -> Finding:
        return Finding(check, severity, 0.0, self.duration, message, dict(detail))

    def merge_gap(self, th: Thresholds) -> int:
        return round(th.merge_gap_s * self.fps)
