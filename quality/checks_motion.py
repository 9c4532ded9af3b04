"""Follower checks: joint limits, tracking offset, dead joints, stalls against an obstacle."""

from __future__ import annotations

import numpy as np

from demoforge.quality.episode import Episode, ticks_text
from demoforge.quality.findings import ERROR, WARNING, CheckSkipped, Finding, PartlyChecked, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L
from demoforge.schemas.joint_limits import units_mismatch


def check_joint_limit(ep: Episode, th: Thresholds) -> list[Finding]:
    """qpos or action past the joint limits: a hair for a moment warns, far or long is an error. The
    limits are `check --rig RIG` / `--limits FILE`'s when given, else the episode's `joint_limits`
    attribute; joints the given limits do not name are listed as not checked."""
    names = ep.joint_names
    given = th.joint_limits
    unnamed: list[str] = []
    if given is not None:
        limits, unnamed, _ = given.match(names)
        if len(unnamed) == len(names):
            raise CheckSkipped(f"not checked: {given.source} names none of the joints {', '.join(names)}")
        for name in (L.QPOS, L.ACTION):
            why = units_mismatch(limits, ep.data(name), names, given.source)
            if why:
                raise CheckSkipped(f"not checked: {why}")
    elif ep.reader.joint_limits is not None:
        limits = np.asarray(ep.reader.joint_limits, dtype=np.float64)
    else:
        raise CheckSkipped(
            "not checked: no joint_limits attribute (LeRobot datasets store no joint limits); "
            "pass `check --rig RIG` or `--limits FILE`"
        )
    in_rad = given is None or given.from_rig  # a limits file is in the dataset's own units
    whose = given.source if given else "the rig"
    out: list[Finding] = []
    for label, name in (("qpos", L.QPOS), ("action", L.ACTION)):
        x = ep.data(name)
        with np.errstate(invalid="ignore"):  # NaN limits (joints not named) are never past
            over = np.maximum(limits[:, 0] - x, x - limits[:, 1])  # (T, J) > 0 past a limit
            past = over > th.joint_limit_noise
        for j in map(int, np.flatnonzero(past.any(axis=0))):
            unit = ep.unit(j) if in_rad else ""
            for i0, i1 in runs(past[:, j], ep.merge_gap(th)):
                k = i0 + int(np.argmax(over[i0:i1, j]))
                worst, value = float(over[k, j]), float(x[k, j])
                s, e = ep.span(i0, i1)
                severe = worst > th.joint_limit_tolerance or e - s > th.joint_limit_max_s
                how = (
                    f"beyond the {th.joint_limit_tolerance:g} tolerance"
                    if worst > th.joint_limit_tolerance
                    else f"for {e - s:.1f} s"
                    if severe
                    else f"by {worst:.3f} for {e - s:.2f} s, within tolerance"
                )
                out.append(
                    ep.finding(
                        "joint_limit",
                        ERROR if severe else WARNING,
                        i0,
                        i1,
                        f"{label} of {names[j]} reached {value:.3f}{unit}, outside its limits "
                        f"[{limits[j, 0]:.3f}, {limits[j, 1]:.3f}] {how} ({ticks_text(i0, i1)}); "
                        f"check the calibration of {names[j]} or {whose}'s limits",
                        joint=names[j],
                        signal=label,
                        value=value,
                        past_by=worst,
                        limits=limits[j],
                    )
                )
    if unnamed:  # only given limits leave joints unnamed
        raise PartlyChecked(f"not checked on {', '.join(unnamed)}: {whose} names no such joint", out)
    return out


def _lagged(q: np.ndarray, a: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Follower and command aligned at the lag (0..max_lag ticks) that explains the follower best."""
    n, step = len(q), max(1, len(q) // 200)  # 200 ticks pick the lag as well as all of them
    best = min(range(max_lag + 1), key=lambda lag: float(np.abs(q[lag::step] - a[: n - lag : step]).mean()))
    return q[best:], a[: n - best], best


def check_tracking_error(ep: Episode, th: Thresholds) -> list[Finding]:
    """A steady follower-minus-command offset: calibration (warning); a gripper holding an object is not."""
    if ep.reader.sim:
        # the follower is a physics model: its offset from the command is the model's (contact, gains),
        # not a calibration anyone could redo
        raise CheckSkipped("the follower is simulated (no calibration to drift)")
    q, a = ep.data(L.QPOS), ep.data(L.ACTION)
    max_lag = min(th.tracking_max_lag_ticks, ep.length - 1)
    if ep.length < 2:
        raise CheckSkipped("fewer than 2 ticks")
    qf, af, lag = _lagged(q, a, max_lag)
    d = qf - af  # (N, J)
    names = ep.joint_names
    grippers = [ep.is_gripper(j) for j in range(d.shape[1])]
    offsets = np.median(d, axis=0)  # (J,) all at once; grippers are looked at more closely below
    out: list[Finding] = []
    for j in range(d.shape[1]):
        if not grippers[j] and abs(offsets[j]) <= th.tracking_offset_rad:
            continue
        dj, held = d[:, j], 0
        if grippers[j]:
            # a gripper closing on an object stops open of its command: that is a grasp, not calibration.
            # Judge calibration where the command is in its open half (nothing to hold there).
            grasp = (dj > th.tracking_offset_rad) & (af[:, j] <= np.median(af[:, j]))
            held = int(np.count_nonzero(grasp))
            dj = dj[~grasp]
        if dj.size < max(10, d.shape[0] // 5):
            continue
        offset = float(np.median(dj))
        if abs(offset) > th.tracking_offset_rad:
            out.append(
                ep.whole(
                    "tracking_error",
                    f"follower {names[j]} sits {offset:+.3f}{ep.unit(j)} from its command"
                    + (" while it holds nothing" if ep.is_gripper(j) else " throughout")
                    + "; recalibrate that joint (leader/follower offsets drifted)",
                    WARNING,
                    joint=names[j],
                    offset=offset,
                    lag_ticks=lag,
                    grasp_ticks=held,
                )
            )
    return out


def check_dead_joint(ep: Episode, th: Thresholds) -> list[Finding]:
    """A follower joint never moving while commanded (error); a command dimension never moving (warning)."""
    q, a = ep.data(L.QPOS), ep.data(L.ACTION)
    if ep.duration < 1.0:
        raise CheckSkipped("shorter than 1 s")
    x, who = ep.operator()
    names = ep.joint_names
    q_range, a_range, x_range = np.ptp(q, axis=0), np.ptp(a, axis=0), np.ptp(x, axis=0)
    out: list[Finding] = []
    if not (x_range > 10 * th.dead_joint_range).any():
        return out  # nothing moved at all: `idle` reports that
    for j in range(q.shape[1]):
        if x_range[j] <= th.dead_joint_range:
            out.append(
                ep.whole(
                    "dead_joint",
                    f"the {who} of {names[j]} never moved (range {x_range[j]:.4f}{ep.unit(j)}) while other "
                    "joints did: a dead encoder or loose cable on the leader; ignore this if the task "
                    "never moves that joint",
                    WARNING,
                    joint=names[j],
                    signal=who,
                    range=float(x_range[j]),
                )
            )
        elif q_range[j] <= th.dead_joint_range and a_range[j] > 10 * th.dead_joint_range:
            out.append(
                ep.whole(
                    "dead_joint",
                    f"follower {names[j]} never moved although its command ranged over "
                    f"{a_range[j]:.2f}{ep.unit(j)}: a dead motor, its cable, or torque off; fix it and "
                    "re-record",
                    ERROR,
                    joint=names[j],
                    signal="follower",
                    command_range=float(a_range[j]),
                )
            )
    return out


def check_stall(ep: Episode, th: Thresholds) -> list[Finding]:
    """A follower joint stuck behind a moving command with its effort at its limit: pushing on an obstacle."""
    effort = ep.raw(L.EFFORT)
    if effort is None or L.EFFORT in ep.nonfinite:
        raise CheckSkipped("no effort dataset")
    q, a = ep.data(L.QPOS), ep.data(L.ACTION)
    if ep.length < 3:
        raise CheckSkipped("fewer than 3 ticks")
    e = np.abs(effort)
    peak, typical = e.max(axis=0), np.median(e, axis=0)
    names = ep.joint_names
    min_ticks = max(2, round(th.stall_min_s * ep.fps))
    still_step = th.stall_offset_rad / 20  # follower moving less than this per tick: stuck
    out: list[Finding] = []
    candidates = [
        j
        for j in range(q.shape[1])
        # a gripper squeezing an object is the point of a grasp
        if not ep.is_gripper(j) and peak[j] > 0 and peak[j] >= th.stall_effort_ratio * typical[j]
    ]
    if not candidates:
        return out
    c = np.array(candidates)
    pushing = (
        (np.abs(a[:, c] - q[:, c]) > th.stall_offset_rad)  # behind its command ...
        & (np.abs(np.gradient(q[:, c], axis=0)) < still_step)  # ... not moving ...
        & (e[:, c] >= 0.9 * peak[c])  # ... at its current limit
    )  # (T, C)
    for k in np.flatnonzero(pushing.any(axis=0)):
        j = int(c[k])
        for i0, i1 in runs(pushing[:, k], ep.merge_gap(th)):
            if i1 - i0 < min_ticks or np.ptp(a[i0:i1, j]) <= th.stall_offset_rad / 2:
                continue  # short contact, or the command did not move: holding, not pushing
            s, t = ep.span(i0, i1)
            gap = float(np.abs(a[i0:i1, j] - q[i0:i1, j]).max())
            out.append(
                ep.finding(
                    "stall",
                    ERROR,
                    i0,
                    i1,
                    f"follower {names[j]} stalled for {t - s:.2f} s, up to {gap:.2f}{ep.unit(j)} behind "
                    f"its moving command with its effort at its limit ({ticks_text(i0, i1)}): it pushed "
                    "against an obstacle; clear the workspace and re-record",
                    joint=names[j],
                    max_gap=gap,
                    effort=float(peak[j]),
                )
            )
    return out


def mean_speed(ep: Episode) -> float | None:
    """Mean absolute follower joint speed (rad/s) for the dataset's speed-outlier check."""
    q = ep.raw(L.QPOS)
    if q is None or L.QPOS in ep.nonfinite or ep.length < 2:
        return None
    return float(np.abs(np.diff(q, axis=0)).mean() * ep.fps)
