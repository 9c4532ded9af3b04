"""`Episode`: what every check sees of one open episode file, with tick -> seconds conversion."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from demoforge.quality.findings import ERROR, CheckSkipped, Finding, Severity
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_source import AnyEpisodeReader
from demoforge.schemas.errors import EpisodeError

THUMB_WIDTH = 80  # px: a 640-wide JPEG decodes at 1/8 scale to exactly this; thumbnails stay ~2 KB


def ticks_text(i0: int, i1: int) -> str:
    """Ticks [i0, i1) for a message: "tick 7" or "ticks 7-12"."""
    return f"tick {i0}" if i1 - i0 <= 1 else f"ticks {i0}-{i1 - 1}"


class Episode:
    """An open `EpisodeReader` plus the timing every check needs; arrays are read once and shared."""

    def __init__(self, reader: AnyEpisodeReader, th: Thresholds) -> None:
        self.reader = reader
        # check id -> why this source cannot feed it (LeRobot: no loop or camera timing)
        self.not_recorded: dict[str, str] = getattr(reader, "not_recorded", {})
        self.name = reader.path.name
        self.length = reader.length
        self.fps = reader.fps or th.nominal_fps
        self.period = 1.0 / self.fps
        self.nonfinite: dict[str, int] = {}  # dataset -> first bad row; checks skip those datasets
        self._arrays: dict[str, np.ndarray] = {}  # read and screened for NaN/Inf once
        ts = self.raw(L.TIMESTAMPS)
        self.has_timestamps = ts is not None
        # Spans are in episode time: the recorded tick times when sane, otherwise tick / fps.
        self.times = L.tick_times(ts, self.length, self.period)
        self.duration = L.episode_duration(self.times, self.period)
        self.thumbs: dict[tuple[str, int], np.ndarray] = {}  # (cam, tick) -> small RGB, for the HTML report
        self.camera_info = reader.camera_info  # parsed once: the attribute is JSON
        self.joint_names = reader.joint_names  # likewise
        self._lens: dict[str, np.ndarray | None] = {}
        self._optional: dict[str, np.ndarray | None] = {}
        self.streams: dict[str, Any] = {}  # cam -> camera_streams.CameraStream, built once

    # -- arrays ------------------------------------------------------------------------------------

    def raw(self, name: str) -> np.ndarray | None:
        """A dataset as stored (NaN allowed), None when the file lacks it; notes non-finite rows."""
        if name in self._arrays:
            return self._arrays[name]
        if name in self.reader.missing:
            return None
        arr = self.reader.array(name, check_finite=False)
        if arr.dtype.kind == "f":
            bad = ~np.isfinite(arr)
            if bad.any():
                self.nonfinite[name] = int(np.argwhere(bad)[0][0])
        self._arrays[name] = arr
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

    def optional(self, name: str) -> np.ndarray | None:
        """An optional dataset of the layout (device time, counter, clamp) as stored, with its fill
        values; None when the file lacks it (the reader validated its shape when opening)."""
        if name not in self._optional:
            self._optional[name] = self.reader.optional(name)
        return self._optional[name]

    def camera_type(self, cam: str) -> str:
        """The camera's driver type from the `cameras` attribute (opencv, realsense, ...)."""
        return str(self.camera_info.get(cam, {}).get("type", "unknown"))

    def operator(self) -> tuple[np.ndarray, str]:
        """What the operator did: the leader readings when recorded, else the command sent."""
        leader = self.raw(L.LEADER_QPOS)
        if leader is not None and L.LEADER_QPOS not in self.nonfinite:
            return leader, "leader"
        return self.data(L.ACTION), "command"

    def is_gripper(self, j: int) -> bool:
        """Grippers are normalized 0 (closed) .. 1 (open), every other joint is in rad."""
        return "gripper" in self.joint_names[j].lower()

    def unit(self, j: int) -> str:
        return "" if self.is_gripper(j) else " rad"

    def cameras_with(self, what: str) -> list[str]:
        """Cameras that have `frame_time` or `frame_index` data."""
        path = L.frame_time_path if what == "frame_time" else L.frame_index_path
        return [c for c in self.reader.cameras if path(c) not in self.reader.missing]

    def camera_fps(self, cam: str) -> float:
        """The camera's nominal rate from the `cameras` attribute, else estimated, else the control rate."""
        fps = self.camera_info.get(cam, {}).get("fps")
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
        """Mean pixel value of one frame (decoded once, small; the thumbnail is kept for the report)."""
        img = self._small_frame(cam, t)
        h, w = img.shape[:2]
        if w > THUMB_WIDTH:
            img = cv2.resize(img, (THUMB_WIDTH, max(1, h * THUMB_WIDTH // w)), interpolation=cv2.INTER_AREA)
        self.thumbs[(cam, t)] = img
        return float(img.mean())

    def _small_frame(self, cam: str, t: int) -> np.ndarray:
        """A frame decoded at 1/2, 1/4 or 1/8 scale when it is a JPEG at least that wide.

        libjpeg's scaled decoding skips most of the inverse DCT: 1/4 scale costs ~1/6 of a full decode,
        which is what keeps sampled image checks near the cost of reading the non-image data. The mean
        brightness is unchanged by scaling.
        """
        return self.reader.image(cam, t, reduce=self.reduce(cam))

    def reduce(self, cam: str) -> int:
        """The scale image checks decode `cam` at: 1/2, 1/4 or 1/8 while at least THUMB_WIDTH wide."""
        width = int(self.camera_info.get(cam, {}).get("width") or 0)
        return next((f for f in (8, 4, 2) if width // f >= THUMB_WIDTH), 1)

    def video_frames(self, cam: str) -> np.ndarray | None:
        """A video source's frames of `cam` at the checks' scale (decoded once), None for HDF5 files."""
        frames = getattr(self.reader, "frames", None)
        return frames(cam, self.reduce(cam)) if frames is not None else None

    def jpeg_lengths(self, cam: str) -> np.ndarray | None:
        """JPEG byte lengths per tick for a JPEG camera (read once), None for raw frames."""
        if cam not in self._lens:
            try:
                self._lens[cam] = self.reader.jpeg_lengths(cam)
            except (OSError, KeyError, ValueError, RuntimeError, TypeError) as e:
                raise EpisodeError(f"{self.reader.path}: /compress_len cannot be read ({e})") from None
        return self._lens[cam]

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
