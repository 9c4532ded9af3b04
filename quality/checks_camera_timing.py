"""Camera timing: lost frames, cameras below their configured rate, stale frames, cameras out of sync.

All judged from `camera_streams` (the camera's own counter and clock where the file has them) and
against what the loop and camera rates make normal.
"""

from __future__ import annotations

import itertools

import numpy as np

from demoforge.quality.camera_streams import CameraStream, camera_stream
from demoforge.quality.episode import Episode, ticks_text
from demoforge.quality.findings import ERROR, WARNING, CheckSkipped, Finding, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L


def _timed_cameras(ep: Episode) -> list[str]:
    cams = [
        c
        for c in ep.reader.cameras
        if L.frame_index_path(c) not in ep.reader.missing or L.frame_time_path(c) not in ep.reader.missing
    ]
    if not cams:
        raise CheckSkipped("no frame_index or frame_time datasets")
    return cams


def _loss_ticks(ep: Episode, s: CameraStream, k: int) -> tuple[int, int]:
    """Ticks that kept showing the old frame before event k; the event tick itself when none did."""
    prev, t = int(s.events[k - 1]), int(s.events[k])
    return (prev + 1, t) if t > prev + 1 else (t, t + 1)


def check_frame_drop(ep: Episode, th: Thresholds) -> list[Finding]:
    """Bursts of frames the camera never delivered, and ticks without a frame (errors)."""
    out: list[Finding] = []
    for cam in _timed_cameras(ep):
        s = camera_stream(ep, cam, th)
        burst = np.zeros(ep.length, dtype=bool)
        lost_at = np.zeros(ep.length, dtype=np.int64)
        for k in np.flatnonzero(s.lost >= max(1, th.drop_min_frames)):
            i0, i1 = _loss_ticks(ep, s, int(k))
            burst[i0:i1] = True
            lost_at[i0] += s.lost[k]
        how = f"by {s.source}" if s.exact else f"estimated from {s.source}"
        if ep.camera_type(cam) == "opencv" and not s.exact:
            how += "; the OpenCV counter counts reads, it cannot confirm losses"
        for i0, i1 in runs(burst, ep.merge_gap(th)):
            n = int(lost_at[i0:i1].sum())
            count = f"{n} frames lost" if s.exact else f"about {n} frames missing"
            out.append(
                ep.finding(
                    "frame_drop",
                    ERROR,
                    i0,
                    i1,
                    f"{cam}: {count} at {ticks_text(i0, i1)} ({how}); the loop kept an old image there. "
                    "Check the camera's USB link and bandwidth (one camera per USB controller), then "
                    "re-record",
                    camera=cam,
                    frames_lost=n,
                    exact=s.exact,
                )
            )
        for i0, i1 in runs(s.missing, ep.merge_gap(th)):
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


def _slow_cause(kind: str) -> str:
    if kind == "opencv":
        return (
            "a webcam's auto exposure lengthens the exposure in a dim scene; add light or set a fixed "
            "exposure"
        )
    if kind == "realsense":
        return (
            "auto exposure with auto-exposure priority lowers the rate in low light (add light or turn "
            "the priority off), or the camera is on a USB 2 port"
        )
    return "the camera or its link cannot keep the configured rate (exposure, bandwidth, CPU)"


def check_camera_rate(ep: Episode, th: Thresholds) -> list[Finding]:
    """A camera delivering well below its configured fps for a sustained time (warning, with the cause)."""
    out: list[Finding] = []
    measured_any = False
    for cam in _timed_cameras(ep):
        configured = ep.camera_info.get(cam, {}).get("fps")
        s = camera_stream(ep, cam, th)
        if not isinstance(configured, int | float) or configured <= 0 or not s.measurable_rate:
            continue
        measured_any = True
        rate = 1.0 / s.period_at_ticks(ep.length)
        slow = rate < (1 - th.camera_rate_tolerance) * configured
        for i0, i1 in runs(slow, ep.merge_gap(th)):
            a, b = ep.span(i0, i1)
            if b - a < th.camera_rate_min_s:
                continue
            fps = float(np.median(rate[i0:i1]))
            out.append(
                ep.finding(
                    "camera_rate",
                    WARNING,
                    i0,
                    i1,
                    f"{cam} delivered {fps:.1f} fps instead of its configured {configured:g} for "
                    f"{b - a:.1f} s (no frames lost: it ran slower); {_slow_cause(ep.camera_type(cam))}",
                    camera=cam,
                    measured_fps=fps,
                    configured_fps=float(configured),
                )
            )
    if not measured_any:
        raise CheckSkipped("no camera with a configured fps and a measurable rate")
    return out


def check_stale_frame(ep: Episode, th: Thresholds) -> list[Finding]:
    """Frames older than `stale_periods` camera periods (measured) at the tick that used them."""
    cams = ep.cameras_with("frame_time")
    if not cams:
        raise CheckSkipped("no frame_time datasets")
    ts = ep.data(L.TIMESTAMPS)
    out: list[Finding] = []
    for cam in cams:
        ft = ep.raw(L.frame_time_path(cam))
        assert ft is not None
        period = np.fmax(
            camera_stream(ep, cam, th).period_at_ticks(ep.length, bound=True), 1.0 / ep.camera_fps(cam)
        )
        limit = th.stale_periods * period
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
                    f"{float(limit[i0:i1].max()) * 1000:.0f} ms); the camera thread fell behind, reduce "
                    "its resolution or exposure time",
                    camera=cam,
                    max_age_ms=worst * 1000,
                )
            )
    return out


def check_camera_sync(ep: Episode, th: Thresholds) -> list[Finding]:
    """Host capture times of the cameras used at one tick apart by more than the skew limit, lasting."""
    cams = ep.cameras_with("frame_time")
    if len(cams) < 2:
        raise CheckSkipped("no frame_time datasets" if not cams else "only one camera has frame_time")
    ft = np.stack([ep.data_or_nan(L.frame_time_path(c)) for c in cams])  # (C, T)
    ok = np.isfinite(ft)
    skew = np.zeros(ep.length)
    worst_pair = np.zeros((ep.length, 2), dtype=int)
    for a, b in itertools.combinations(range(len(cams)), 2):
        d = np.where(ok[a] & ok[b], np.abs(ft[a] - ft[b]), 0.0)
        worse = d > skew
        skew = np.where(worse, d, skew)
        worst_pair[worse] = (a, b)
    # the slower camera's period at each tick, measured (a camera slowed by auto exposure counts)
    period = np.stack(
        [
            np.fmax(camera_stream(ep, c, th).period_at_ticks(ep.length, bound=True), 1.0 / ep.camera_fps(c))
            for c in cams
        ]
    ).max(axis=0)
    limit = th.max_camera_skew_periods * period
    lasting = np.zeros(ep.length, dtype=bool)
    for i0, i1 in runs(skew > limit):  # aliasing or one late delivery lasts a tick or two: not a lag
        a_s, b_s = ep.span(i0, i1)
        lasting[i0:i1] = b_s - a_s > th.sync_min_periods * float(np.median(period[i0:i1]))
    out: list[Finding] = []
    for i0, i1 in runs(lasting, ep.merge_gap(th)):
        a_s, b_s = ep.span(i0, i1)
        k = i0 + int(np.argmax(skew[i0:i1]))
        a, b = worst_pair[k]
        out.append(
            ep.finding(
                "camera_sync",
                ERROR,
                i0,
                i1,
                f"{cams[a]} and {cams[b]} captured up to {skew[k] * 1000:.0f} ms apart for "
                f"{b_s - a_s:.2f} s (limit {limit[k] * 1000:.0f} ms); one camera lags, check its USB "
                "bandwidth and exposure",
                cameras=[cams[a], cams[b]],
                max_skew_ms=skew[k] * 1000,
            )
        )
    return out
