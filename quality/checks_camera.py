"""Image checks: frozen images, black or saturated frames (timing is in checks_camera_timing.py).

Images are expensive, so nothing here decodes every frame: frozen images from JPEG byte lengths
(decoding only frames whose length repeats under a moving counter); dark frames from a few sampled
ticks plus every unusually small JPEG (a uniform black or white frame compresses to little), with the
span of each bad frame found by galloping search over its neighbours.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from demoforge.quality.camera_streams import camera_stream
from demoforge.quality.episode import Episode, ticks_text
from demoforge.quality.findings import ERROR, WARNING, CheckSkipped, Finding, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L
from demoforge.schemas.errors import EpisodeError

SMALL_JPEG_FRACTION = 0.7  # JPEGs under 70 % of the median size are decoded as dark-frame suspects
MAX_SMALL_JPEG_SUSPECTS = 16  # per camera: runs of small JPEGs are probed once each, up to this many


class _Frames:
    """Decoded frames of one camera, keeping only the last two (comparisons walk forward)."""

    def __init__(self, ep: Episode, cam: str) -> None:
        self.ep, self.cam = ep, cam
        self.cache: dict[int, np.ndarray | None] = {}

    def get(self, t: int) -> np.ndarray | None:
        if t not in self.cache:
            if len(self.cache) >= 2:
                del self.cache[min(self.cache)]
            try:
                self.cache[t] = self.ep.reader.image(self.cam, t)
            except EpisodeError:
                self.cache[t] = None  # undecodable frames are integrity's business
        return self.cache[t]

    def same(self, a: int, b: int, th: Thresholds) -> bool:
        fa, fb = self.get(a), self.get(b)
        if fa is None or fb is None or not np.array_equal(fa, fb):
            return False
        # a run of black (or blown-out) frames is identical too; dark_frame reports those
        return th.dark_max_mean < float(fa.mean()) < th.saturated_min_mean


def check_frozen_frame(ep: Episode, th: Thresholds) -> list[Finding]:
    """Identical image content over `frozen_min_frames` counter advances: the driver repeats a buffer."""
    if ep.reader.cameras and ep.video_frames(ep.reader.cameras[0]) is not None:
        return _frozen_video(ep, th)
    cams = [
        c
        for c in ep.reader.cameras
        if c in ep.cameras_with("frame_index") or ep.optional(L.device_index_path(c)) is not None
    ]
    if not cams:
        raise CheckSkipped("no frame_index datasets (cannot tell a frozen image from a slow camera)")
    out: list[Finding] = []
    for cam in cams:
        events = camera_stream(ep, cam, th).events
        if len(events) < 3:
            continue
        lens = ep.jpeg_lengths(cam)
        frames = _Frames(ep, cam)
        same = np.zeros(len(events), dtype=bool)  # same[k]: event k shows event k-1's content
        # only equal JPEG sizes can be equal bytes: decode those candidates alone
        maybe = (
            np.flatnonzero(lens[events[1:]] == lens[events[:-1]]) + 1
            if lens is not None
            else range(1, len(events))
        )
        for k in maybe:
            same[k] = frames.same(int(events[k - 1]), int(events[k]), th)
        for k0, k1 in runs(same):
            if k1 - k0 < th.frozen_min_frames:
                continue
            i0, i1 = int(events[k0]), int(events[k1]) if k1 < len(events) else ep.length
            out.append(
                ep.finding(
                    "frozen_frame",
                    ERROR,
                    i0,
                    i1,
                    f"{cam} image frozen for {k1 - k0} frames while its counter advanced "
                    f"({ticks_text(i0, i1)}); restart the camera driver, then re-record",
                    camera=cam,
                    frames=k1 - k0,
                )
            )
    return out


FROZEN_VIDEO_DIFF = 0.5  # mean |difference| in grey levels at the checks' scale: codec noise, not motion
FROZEN_VIDEO_MIN_S = 0.5  # lossy video (AV1 at crf 30, as LeRobot writes) repeated frames of a slowly
#   changing 64 px scene for up to 0.4 s in tests/data/lerobot_v30; a frozen camera stays frozen longer
FROZEN_VIDEO_MOTION = 0.1  # rad (or gripper units) the follower must move for a live camera to see a change


def _frozen_video(ep: Episode, th: Thresholds) -> list[Finding]:
    """Video sources (one frame per tick, no camera counter): an unchanging image while the arm moves.

    Without a counter a still scene and a frozen camera look alike, so a run of (near-)identical
    frames counts only while the follower moves: the moving arm, or the scene it moves through,
    must change the image of a live camera.
    """
    q = ep.raw(L.QPOS)
    if q is None or L.QPOS in ep.nonfinite:
        raise CheckSkipped("no finite follower positions to tell a frozen camera from a still scene")
    min_run = max(th.frozen_min_frames, round(FROZEN_VIDEO_MIN_S * ep.fps))
    out: list[Finding] = []
    for cam in ep.reader.cameras:
        frames = ep.video_frames(cam)
        if frames is None or len(frames) < 2:
            continue
        f = frames[: ep.length].astype(np.int16)  # more frames than rows: `format` reports it
        diff = np.abs(np.diff(f, axis=0)).reshape(len(f) - 1, -1).mean(axis=1)
        mean = f.reshape(len(f), -1).mean(axis=1)[1:]
        same = np.zeros(len(f), dtype=bool)  # same[k]: frame k shows frame k-1's content
        same[1:] = (diff <= FROZEN_VIDEO_DIFF) & (mean > th.dark_max_mean) & (mean < th.saturated_min_mean)
        for i0, i1 in runs(same):
            i0 -= 1  # the first frame of the run is the one repeated
            moved = float(np.ptp(q[i0:i1], axis=0).max()) if i1 > i0 else 0.0
            if i1 - i0 < min_run or moved <= FROZEN_VIDEO_MOTION:
                continue
            out.append(
                ep.finding(
                    "frozen_frame",
                    ERROR,
                    i0,
                    i1,
                    f"{cam} image unchanged for {i1 - i0} frames ({ticks_text(i0, i1)}) while the follower "
                    f"moved {moved:.2f}; the camera froze: restart its driver, then re-record",
                    camera=cam,
                    frames=i1 - i0,
                )
            )
    return out


def _edge(bad: Callable[[int], bool], t: int, limit: int, step: int) -> int:
    """Furthest tick from `t` toward `limit` (inclusive) such that the run from t stays bad (galloping)."""
    span = abs(limit - t)
    lo, k = 0, 1
    while k <= span and bad(t + step * k):
        lo, k = k, k * 2
    hi = min(k, span + 1)  # first known-good offset (or past the end)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bad(t + step * mid):
            lo = mid
        else:
            hi = mid
    return t + step * lo


class _Brightness:
    """Classifies frames of one camera as black / saturated / fine, decoding each tick at most once."""

    def __init__(self, ep: Episode, cam: str, th: Thresholds) -> None:
        self.ep, self.cam, self.th = ep, cam, th
        self.kinds: dict[int, str | None] = {}
        self.broken: list[int] = []  # ticks whose JPEG does not decode

    def kind(self, t: int) -> str | None:
        if t not in self.kinds:
            try:
                m = self.ep.frame_mean(self.cam, t)
            except EpisodeError:
                self.broken.append(t)
                m = (self.th.dark_max_mean + self.th.saturated_min_mean) / 2
            self.kinds[t] = (
                "black"
                if m <= self.th.dark_max_mean
                else "saturated"
                if m >= self.th.saturated_min_mean
                else None
            )
        return self.kinds[t]

    def is_kind(self, k: str) -> Callable[[int], bool]:
        return lambda t: self.kind(t) == k


def _samples(length: int, lens: np.ndarray | None, n: int) -> set[int]:
    """`n` ticks to decode: the smallest JPEG first (a uniform frame compresses best), then evenly spaced."""
    picks: set[int] = set()
    if n <= 0 or length == 0:
        return picks
    if lens is not None and len(lens):
        picks.add(int(np.argmin(lens)))
    rest = n - len(picks)
    if rest > 0:
        picks |= set(np.linspace(0, length - 1, rest + 2)[1:-1].round().astype(int).tolist())
    return picks


def check_dark_frame(ep: Episode, th: Thresholds) -> list[Finding]:
    """Black or saturated frames among sampled ticks and all small JPEGs, each expanded to its full span."""
    if not ep.reader.cameras:
        raise CheckSkipped("no cameras")
    out: list[Finding] = []
    for cam in ep.reader.cameras:
        frames = _Brightness(ep, cam, th)
        lens = ep.jpeg_lengths(cam)
        suspects = _samples(ep.length, lens, th.image_samples)
        video = ep.video_frames(cam)
        if video is not None and len(video):  # decoded whole anyway: every frame is a suspect
            video = video[: ep.length]
            m = video.reshape(len(video), -1).mean(axis=1)
            off = (m <= th.dark_max_mean) | (m >= th.saturated_min_mean)
            suspects |= {s for s, _ in runs(off)[:MAX_SMALL_JPEG_SUSPECTS]}
        if lens is not None and len(lens):
            small = lens < SMALL_JPEG_FRACTION * np.median(lens)
            suspects |= {s for s, _ in runs(small)[:MAX_SMALL_JPEG_SUSPECTS]}
        spans: list[tuple[int, int, str]] = []
        for t in sorted(suspects):
            k = frames.kind(t)
            if k is None or any(s <= t < e for s, e, _ in spans):
                continue
            same = frames.is_kind(k)
            spans.append((_edge(same, t, 0, -1), _edge(same, t, ep.length - 1, 1) + 1, k))
        for i0, i1, k in sorted(spans):
            fix = "check the lens cap and the light" if k == "black" else "lower the exposure or gain"
            if i1 - i0 < th.dark_min_frames:
                fix = "a hand or a flash passing by does this; if it recurs, " + fix
            out.append(
                ep.finding(
                    "dark_frame",
                    ERROR if i1 - i0 >= th.dark_min_frames else WARNING,
                    i0,
                    i1,
                    f"{cam}: {i1 - i0} {k} frame{'s' if i1 - i0 > 1 else ''} at {ticks_text(i0, i1)}; {fix}",
                    camera=cam,
                    kind=k,
                )
            )
        for t in sorted(frames.broken):
            out.append(
                ep.finding(
                    "integrity",
                    ERROR,
                    t,
                    t + 1,
                    f"{cam} frame at tick {t} cannot be decoded; the file is damaged there",
                    camera=cam,
                )
            )
    return out
