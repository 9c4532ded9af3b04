"""Control-loop timing and cross-camera synchronisation, from the recorded timestamps."""

from __future__ import annotations

import itertools

import numpy as np

from demoforge.quality.episode import Episode, ticks_text
from demoforge.quality.findings import ERROR, WARNING, CheckSkipped, Finding, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L


def check_control_rate(ep: Episode, th: Thresholds) -> list[Finding]:
    """Monotonic timestamps, achieved rate above the floor, no long gaps, bounded jitter and overruns."""
    ts = ep.data(L.TIMESTAMPS)
    if len(ts) < 2:
        raise CheckSkipped("fewer than 2 ticks")
    out: list[Finding] = []
    dt = np.diff(ts)  # dt[i]: period from tick i to tick i + 1
    gap = ep.merge_gap(th)
    for i0, i1 in runs(dt <= 0, gap):
        out.append(
            ep.finding(
                "control_rate",
                ERROR,
                i0,
                i1 + 1,
                f"timestamps go backwards or repeat at {ticks_text(i0, i1 + 1)}; the host clock or the "
                "recorder is broken, re-record",
                kind="non_monotonic",
            )
        )
    if out:
        return out  # rates over a broken clock mean nothing
    achieved = (len(ts) - 1) / float(ts[-1] - ts[0])
    floor = th.min_rate_fraction * ep.fps
    if achieved < floor:
        out.append(
            ep.whole(
                "control_rate",
                f"achieved {achieved:.1f} Hz, below the {floor:.1f} Hz floor for a "
                f"{ep.fps:g} Hz rig; the control loop overran, close other load on the host",
                kind="rate",
                achieved_hz=achieved,
                floor_hz=floor,
            )
        )
    long_gap = dt > th.max_control_gap_periods * ep.period
    for i0, i1 in runs(long_gap, gap):
        worst = float(dt[i0:i1].max())
        out.append(
            ep.finding(
                "control_rate",
                ERROR,
                i0,
                i1 + 1,
                f"the control loop stalled for {worst * 1000:.0f} ms after tick {i0}; the arm moved "
                "unobserved, re-record",
                kind="gap",
                max_period_ms=worst * 1000,
            )
        )
    # jitter of the ticks that kept time; overruns and gaps are counted on their own below
    on_time = dt[dt <= th.overrun_periods * ep.period]
    err_ms = np.abs(on_time - np.median(on_time)) * 1000 if on_time.size else on_time
    p99 = float(np.percentile(err_ms, 99)) if err_ms.size else 0.0
    if p99 > th.max_jitter_ms:
        out.append(
            ep.whole(
                "control_rate",
                f"period jitter p99 {p99:.1f} ms exceeds {th.max_jitter_ms:g} ms; "
                "the loop is not running on deadlines",
                WARNING,
                kind="jitter",
                jitter_p99_ms=p99,
            )
        )
    over = np.flatnonzero((dt > th.overrun_periods * ep.period) & ~long_gap)  # gaps were reported above
    if len(over) > th.max_overrun_fraction * len(dt):
        out.append(
            ep.finding(
                "control_rate",
                WARNING,
                int(over[0]),
                int(over[-1]) + 2,
                f"{len(over)} overruns ({100 * len(over) / len(dt):.1f} % of ticks); the host is "
                "too loaded for this rate",
                kind="overruns",
                overruns=len(over),
                first_ticks=over[:10],
            )
        )
    return out


def check_camera_sync(ep: Episode, th: Thresholds) -> list[Finding]:
    """Capture times of different cameras used at one tick within `max_camera_skew_periods`."""
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
    limit = th.max_camera_skew_periods / min(ep.camera_fps(c) for c in cams)  # s, slowest camera
    out: list[Finding] = []
    for i0, i1 in runs(skew > limit, ep.merge_gap(th)):
        k = i0 + int(np.argmax(skew[i0:i1]))
        a, b = worst_pair[k]
        out.append(
            ep.finding(
                "camera_sync",
                ERROR,
                i0,
                i1,
                f"{cams[a]} and {cams[b]} captured up to {skew[k] * 1000:.0f} ms apart "
                f"(limit {limit * 1000:.0f} ms); one camera lags, check its USB bandwidth "
                "and exposure",
                cameras=[cams[a], cams[b]],
                max_skew_ms=skew[k] * 1000,
            )
        )
    return out
