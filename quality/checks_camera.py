"""Camera checks: drops, stale frames, frozen images, black or saturated frames.

Images are expensive, so nothing here decodes every frame: drops and staleness come from the
per-tick frame counters and capture times; frozen images from JPEG byte lengths (decoding only
frames whose length repeats under a moving counter); dark frames from a few sampled ticks plus
every unusually small JPEG (a uniform black or white frame compresses to little), with the span of each
bad frame found by galloping search over its neighbours.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from demoforge.quality.episode import Episode, ticks_text
from demoforge.quality.findings import ERROR, CheckSkipped, Finding, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L
from demoforge.schemas.errors import EpisodeError

SMALL_JPEG_FRACTION = 0.7  # JPEGs under 70 % of the median size are decoded as dark-frame suspects
MAX_SMALL_JPEG_SUSPECTS = 16  # per camera: runs of small JPEGs are probed once each, up to this many


def _new_frames(ep: Episode, cam: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Ticks at which `cam` delivered a new frame (ticks without a frame skipped), counter and time."""
    fidx = ep.raw(L.frame_index_path(cam))
    ft = ep.raw(L.frame_time_path(cam))
    key = fidx if fidx is not None else ft
    if key is None:
        raise CheckSkipped("no frame_index or frame_time datasets")
    valid = np.flatnonzero(_has_frame(fidx, ft))
    changed = key[valid[1:]] != key[valid[:-1]]
    return valid[1:][changed], fidx, ft


def _has_frame(fidx: np.ndarray | None, ft: np.ndarray | None) -> np.ndarray:
    """Ticks with a frame: the recorder writes counter -1 and time NaN when the camera had none yet."""
    n = len(fidx) if fidx is not None else len(ft) if ft is not None else 0
    ok = np.ones(n, dtype=bool)
    if fidx is not None:
        ok &= fidx >= 0
    if ft is not None:
        ok &= np.isfinite(ft)
    return ok


def _allowed_periods(ep: Episode, cam_fps: float, th: Thresholds) -> float:
    # A camera faster than the loop skips frames by design (60 fps at 50 Hz advances by 1 or 2).
    return th.drop_gap_periods + max(0, math.ceil(cam_fps / ep.fps - 1e-9) - 1)


def check_frame_drop(ep: Episode, th: Thresholds) -> list[Finding]:
    """Frame-counter or capture-time gaps beyond `drop_gap_periods` camera periods, and missing frames."""
    cams = [
        c
        for c in ep.reader.cameras
        if c in ep.cameras_with("frame_index") or c in ep.cameras_with("frame_time")
    ]
    if not cams:
        raise CheckSkipped("no frame_index or frame_time datasets")
    out: list[Finding] = []
    for cam in cams:
        new, fidx, ft = _new_frames(ep, cam)
        cam_fps = ep.camera_fps(cam)
        allowed = _allowed_periods(ep, cam_fps, th)
        bad = np.zeros(ep.length, dtype=bool)
        missing = ~_has_frame(fidx, ft)
        valid = np.flatnonzero(~missing)
        prev = np.concatenate((valid[:1], new[:-1]))[: len(new)]  # the previous new frame (or the first)
        gap = np.zeros(len(new), dtype=bool)
        if fidx is not None:
            jump = fidx[new] - fidx[prev]
            gap |= (jump > allowed) | (jump < 0)
        if ft is not None:
            dt = ft[new] - ft[prev]
            gap |= np.isfinite(dt) & (dt > allowed / cam_fps)
        for p, t in zip(prev[gap], new[gap], strict=True):
            # The ticks that kept showing the old frame are the drop; a jump with no repeats marks tick t.
            bad[p + 1 : t] = True
            bad[t] |= t == p + 1
        bad &= ~missing
        for i0, i1 in runs(bad, ep.merge_gap(th)):
            lost = int(fidx[min(i1, ep.length - 1)] - fidx[max(i0 - 1, 0)] - 1) if fidx is not None else None
            out.append(
                ep.finding(
                    "frame_drop",
                    ERROR,
                    i0,
                    i1,
                    f"{cam} dropped frames at {ticks_text(i0, i1)}"
                    f"{f' ({lost} frames lost)' if lost and lost > 0 else ''}; check its USB link "
                    "and bandwidth, then re-record",
                    camera=cam,
                    frames_lost=lost,
                )
            )
        for i0, i1 in runs(missing, ep.merge_gap(th)):
            out.append(
                ep.finding(
                    "frame_drop",
                    ERROR,
                    i0,
                    i1,
                    f"{cam} delivered no frame at {ticks_text(i0, i1)}; the camera was not ready "
                    "or disconnected",
                    camera=cam,
                    missing=True,
                )
            )
    return out


def check_stale_frame(ep: Episode, th: Thresholds) -> list[Finding]:
    """Frames older than `stale_periods` camera periods at the tick that used them."""
    cams = ep.cameras_with("frame_time")
    if not cams:
        raise CheckSkipped("no frame_time datasets")
    ts = ep.data(L.TIMESTAMPS)
    out: list[Finding] = []
    for cam in cams:
        ft = ep.raw(L.frame_time_path(cam))
        assert ft is not None
        limit = th.stale_periods / ep.camera_fps(cam)
        age = ts - ft
        stale = np.isfinite(age) & (age > limit)
        for i0, i1 in runs(stale, ep.merge_gap(th)):
            worst = float(age[i0:i1].max())
            out.append(
                ep.finding(
                    "stale_frame",
                    ERROR,
                    i0,
                    i1,
                    f"{cam} frames were up to {worst * 1000:.0f} ms old when used (limit "
                    f"{limit * 1000:.0f} ms); the camera thread fell behind, reduce its resolution "
                    "or exposure time",
                    camera=cam,
                    max_age_ms=worst * 1000,
                )
            )
    return out


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
    cams = ep.cameras_with("frame_index")
    if not cams:
        raise CheckSkipped("no frame_index datasets (cannot tell a frozen image from a slow camera)")
    out: list[Finding] = []
    for cam in cams:
        new, fidx, ft = _new_frames(ep, cam)
        if len(new) < 2:
            continue
        lens = ep.jpeg_lengths(cam)
        events = np.concatenate((np.flatnonzero(_has_frame(fidx, ft))[:1], new))
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
            out.append(
                ep.finding(
                    "dark_frame",
                    ERROR,
                    i0,
                    i1,
                    f"{cam} frames are {k} at {ticks_text(i0, i1)}; {fix}",
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
