"""Motion checks over the joint trajectories: pauses, joint limits, tracking offset, action spikes."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from demoforge.quality.episode import Episode
from demoforge.quality.findings import ERROR, WARNING, CheckSkipped, Finding, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L


def check_pause(ep: Episode, th: Thresholds) -> list[Finding]:
    """No joint of follower or leader moving more than `pause_motion_rad` for over `pause_min_s`."""
    q = ep.data(L.QPOS)
    arms = ["follower"]
    leader = ep.raw(L.LEADER_QPOS)
    if leader is not None and L.LEADER_QPOS not in ep.nonfinite:
        q = np.concatenate([q, leader], axis=1)
        arms.append("leader")
    w = round(th.pause_min_s * ep.fps) + 1  # w ticks span pause_min_s of time
    if ep.length < w:
        raise CheckSkipped(f"episode shorter than {th.pause_min_s:g} s")
    # A window holding one step larger than the threshold cannot be still: only windows without such
    # a step need their per-joint range computed, which keeps this cheap on moving demonstrations.
    step = (np.abs(np.diff(q, axis=0)) > th.pause_motion_rad).any(axis=1)  # (T - 1,)
    steps_before = np.concatenate(([0], np.cumsum(step)))  # steps among the first k ticks' transitions
    maybe = np.flatnonzero(steps_before[w - 1 :] - steps_before[: ep.length - w + 1] == 0)  # window starts
    still_window = np.zeros(ep.length - w + 1, dtype=bool)
    if maybe.size:
        windows = sliding_window_view(q, w, axis=0)[maybe]  # (M, J, w)
        still_window[maybe] = (np.ptp(windows, axis=2) <= th.pause_motion_rad).all(axis=1)
    still = np.convolve(still_window.astype(np.int32), np.ones(w, np.int32))[: ep.length] > 0
    out: list[Finding] = []
    for i0, i1 in runs(still):
        if not th.pause_count_edges and (i0 == 0 or i1 == ep.length):
            continue
        s, e = ep.span(i0, i1)
        out.append(
            ep.finding(
                "pause",
                ERROR,
                i0,
                i1,
                f"no joint moved more than {th.pause_motion_rad:g} rad for {e - s:.2f} s "
                f"({s:.2f}-{e:.2f} s); ACT learns to hesitate there, trim or re-record",
                arms=arms,
                seconds=e - s,
            )
        )
    return out


def check_joint_limit(ep: Episode, th: Thresholds) -> list[Finding]:
    """qpos or action outside the rig's `joint_limits` by more than `joint_limit_tolerance`, per joint."""
    limits = ep.reader.joint_limits
    if limits is None:
        raise CheckSkipped("no joint_limits attribute (the rig's limits are unknown)")
    names = ep.reader.joint_names
    lo, hi = limits[:, 0] - th.joint_limit_tolerance, limits[:, 1] + th.joint_limit_tolerance
    out: list[Finding] = []
    for label, name in (("qpos", L.QPOS), ("action", L.ACTION)):
        x = ep.data(name)
        outside = (x < lo) | (x > hi)  # (T, J)
        for j in np.flatnonzero(outside.any(axis=0)):
            for i0, i1 in runs(outside[:, j], ep.merge_gap(th)):
                seg = x[i0:i1, j]
                worst = float(seg.min() if seg.min() < lo[j] else seg.max())
                out.append(
                    ep.finding(
                        "joint_limit",
                        ERROR,
                        i0,
                        i1,
                        f"{label} of {names[j]} reached {worst:.3f}, outside its limits "
                        f"[{limits[j, 0]:.3f}, {limits[j, 1]:.3f}]; check the calibration of "
                        f"{names[j]} or the rig's limits",
                        joint=names[j],
                        signal=label,
                        value=worst,
                        limits=limits[j],
                    )
                )
    return out


def check_tracking_error(ep: Episode, th: Thresholds) -> list[Finding]:
    """A steady offset between follower position and command: calibration drift (warning)."""
    q, a = ep.data(L.QPOS), ep.data(L.ACTION)
    max_lag = min(th.tracking_max_lag_ticks, ep.length - 1)
    if max_lag < 0 or ep.length < 2:
        raise CheckSkipped("fewer than 2 ticks")
    # the follower trails its command by a few ticks; pick the lag that explains it best
    best = min(range(max_lag + 1), key=lambda lag: float(np.abs(q[lag:] - a[: ep.length - lag]).mean()))
    offset = np.median(q[best:] - a[: ep.length - best], axis=0)  # (J,)
    names = ep.reader.joint_names
    return [
        ep.whole(
            "tracking_error",
            f"follower {names[j]} sits {offset[j]:+.3f} rad from its command throughout; "
            "recalibrate that joint (leader/follower offsets drifted)",
            WARNING,
            joint=names[j],
            offset_rad=float(offset[j]),
            lag_ticks=best,
        )
        for j in np.flatnonzero(np.abs(offset) > th.tracking_offset_rad)
    ]


def check_action_spike(ep: Episode, th: Thresholds) -> list[Finding]:
    """A command jumping more than `action_spike_rad` between ticks (warning): a glitch in the leader."""
    a = ep.data(L.ACTION)
    if ep.length < 2:
        raise CheckSkipped("fewer than 2 ticks")
    jump = np.abs(np.diff(a, axis=0)) > th.action_spike_rad  # (T - 1, J): jump[i] between i and i + 1
    names = ep.reader.joint_names
    out: list[Finding] = []
    for j in np.flatnonzero(jump.any(axis=0)):
        for i0, i1 in runs(jump[:, j], ep.merge_gap(th)):
            size = float(np.abs(np.diff(a[i0 : i1 + 1, j])).max())
            out.append(
                ep.finding(
                    "action_spike",
                    WARNING,
                    i0,
                    i1 + 1,
                    f"action of {names[j]} jumps {size:.2f} rad in one tick at {ep.span(i0, i1)[0]:.2f} s; "
                    "check the leader's cable and encoder",
                    joint=names[j],
                    jump_rad=size,
                )
            )
    return out


def mean_speed(ep: Episode) -> float | None:
    """Mean absolute follower joint speed (rad/s) for the dataset's speed-outlier check."""
    q = ep.raw(L.QPOS)
    if q is None or L.QPOS in ep.nonfinite or ep.length < 2:
        return None
    return float(np.abs(np.diff(q, axis=0)).mean() * ep.fps)
