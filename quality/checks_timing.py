"""Control-loop timing from the recorded tick timestamps: sustained rate, stalls, jitter, overruns."""

from __future__ import annotations

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
    floor = th.min_rate_fraction * ep.fps
    n = min(len(ts), max(2, round(th.rate_window_s * ep.fps)))  # ticks per window
    window_rate = (n - 1) / (ts[n - 1 :] - ts[: len(ts) - n + 1])  # rate of window [i, i + n)
    slow_window = window_rate < floor
    slow = np.convolve(slow_window.astype(np.int32), np.ones(n, np.int32))[: len(ts)] > 0
    for i0, i1 in runs(slow):
        worst = float(window_rate[max(0, i0 - n + 1) : i1].min())
        out.append(
            ep.finding(
                "control_rate",
                ERROR,
                i0,
                i1,
                f"the loop ran at {worst:.1f} Hz over {th.rate_window_s:g} s "
                f"({ep.span(i0, i1)[0]:.2f}-{ep.span(i0, i1)[1]:.2f} s), below the {floor:.1f} Hz floor "
                f"for a {ep.fps:g} Hz rig; the control loop overran, close other load on the host",
                kind="rate",
                achieved_hz=worst,
                floor_hz=floor,
            )
        )
    long_gap = dt > th.max_control_gap_periods * ep.period
    for i0, i1 in runs(long_gap, gap):
        worst = float(dt[i0:i1].max())
        stall = worst > th.max_stall_s
        out.append(
            ep.finding(
                "control_rate",
                ERROR if stall else WARNING,
                i0,
                i1 + 1,
                f"the control loop stalled for {worst * 1000:.0f} ms after tick {i0}; "
                + (
                    "the arm moved unobserved, re-record"
                    if stall
                    else f"short enough to keep (under {th.max_stall_s * 1000:.0f} ms), watch the host's load"
                ),
                kind="gap",
                max_period_ms=worst * 1000,
            )
        )
    # jitter of the ticks that kept time; overruns and gaps are counted on their own below
    on_time = dt[dt <= th.overrun_periods * ep.period]
    err_ms = np.abs(on_time - np.median(on_time)) * 1000 if on_time.size else on_time
    p95 = float(np.percentile(err_ms, 95)) if err_ms.size else 0.0
    if p95 > th.max_jitter_ms:
        out.append(
            ep.whole(
                "control_rate",
                f"period jitter p95 {p95:.1f} ms exceeds {th.max_jitter_ms:g} ms; "
                "the loop is not running on deadlines",
                WARNING,
                kind="jitter",
                jitter_p95_ms=p95,
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
