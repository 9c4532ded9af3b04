"""What the operator did, from the leader readings (else the command): pauses, idle edges, spikes.

The follower is left out on purpose: its servos dither a few encoder steps while holding a pose,
which would hide a pause, and its clamped command would hide a glitch of the leader's encoder.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from demoforge.quality.episode import Episode, ticks_text
from demoforge.quality.findings import ERROR, WARNING, CheckSkipped, Finding, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L


def _still(x: np.ndarray, w: int, motion: float) -> np.ndarray:
    """(T,) ticks inside a window of `w` ticks over which no joint ranges more than `motion`."""
    n = len(x)
    # A window holding one step larger than the threshold cannot be still: only windows without such
    # a step need their per-joint range computed, which keeps this cheap on moving demonstrations.
    step = (np.abs(np.diff(x, axis=0)) > motion).any(axis=1)  # (T - 1,)
    steps_before = np.concatenate(([0], np.cumsum(step)))
    no_step = steps_before[w - 1 :] - steps_before[: n - w + 1] == 0
    ends_close = (np.abs(x[w - 1 :] - x[: n - w + 1]) <= motion).all(axis=1)  # nor a drift end to end
    maybe = np.flatnonzero(no_step & ends_close)  # window starts worth the full range test
    still_window = np.zeros(n - w + 1, dtype=bool)
    if maybe.size:
        windows = sliding_window_view(x, w, axis=0)[maybe]  # (M, J, w)
        still_window[maybe] = (np.ptp(windows, axis=2) <= motion).all(axis=1)
    return np.convolve(still_window.astype(np.int32), np.ones(w, np.int32))[:n] > 0


def _idle_edges(x: np.ndarray, motion: float) -> tuple[int, int]:
    """Ticks [0, a) before any joint leaves its start pose by `motion`; [b, T) after all reach the end."""
    moved_from_start = (np.abs(x - x[0]) > motion).any(axis=1)
    moved_from_end = (np.abs(x - x[-1]) > motion).any(axis=1)
    a = int(np.argmax(moved_from_start)) if moved_from_start.any() else len(x)
    b = len(x) - int(np.argmax(moved_from_end[::-1])) if moved_from_end.any() else 0
    return a, b


def check_idle(ep: Episode, th: Thresholds) -> list[Finding]:
    """The operator standing still at the start, or at the end for longer than the hold a policy must
    learn (`idle_end_keep_s`); warning, and `split` trims the finding's span."""
    x, who = ep.operator()
    a, b = _idle_edges(x, th.pause_motion_rad)
    if a >= ep.length:
        return []  # nothing moved at all: a pause over the whole episode
    out: list[Finding] = []
    if a > 0:
        s, e = ep.span(0, a)
        if e - s >= th.idle_min_s:
            why = "`demoforge split` trims it so ACT does not learn to wait before starting"
            msg = f"the {who} stood still for {e - s:.2f} s at the start ({s:.2f}-{e:.2f} s); {why}"
            out.append(ep.finding("idle", WARNING, 0, a, msg, signal=who, edge="start", trim=True))
    if b < ep.length:
        s, e = ep.span(b, ep.length)
        cut = int(np.searchsorted(ep.times, ep.times[b] + th.idle_end_keep_s - 1e-9))  # first tick past
        cs = ep.span(cut, ep.length)[0] if cut < ep.length else e
        if e - cs >= th.idle_min_s:
            msg = (
                f"the {who} stood still for {e - s:.2f} s at the end ({s:.2f}-{e:.2f} s); `demoforge "
                f"split` keeps its first {th.idle_end_keep_s:g} s (ACT learns to hold once done) and "
                f"trims the rest ({cs:.2f}-{e:.2f} s)"
            )
            out.append(ep.finding("idle", WARNING, cut, ep.length, msg, signal=who, edge="end", trim=True))
    return out


def check_pause(ep: Episode, th: Thresholds) -> list[Finding]:
    """The operator not moving for over `pause_min_s` mid-episode (error, or trimmed with `trim_pauses`)."""
    x, who = ep.operator()
    w = round(th.pause_min_s * ep.fps) + 1  # w ticks span pause_min_s of time
    if ep.length < w:
        raise CheckSkipped(f"episode shorter than {th.pause_min_s:g} s")
    if _idle_edges(x, th.pause_motion_rad)[0] >= ep.length:
        return [
            ep.whole(
                "pause",
                f"the {who} never moved more than {th.pause_motion_rad:g} in this episode; nothing was "
                "demonstrated, delete it",
                signal=who,
                seconds=ep.duration,
            )
        ]
    out: list[Finding] = []
    for i0, i1 in runs(_still(x, w, th.pause_motion_rad)):
        if i0 == 0 or i1 == ep.length:
            continue  # standing still at an edge is `idle`
        s, e = ep.span(i0, i1)
        fix = "`demoforge split` trims it (trim_pauses)" if th.trim_pauses else "trim it or re-record"
        out.append(
            ep.finding(
                "pause",
                WARNING if th.trim_pauses else ERROR,
                i0,
                i1,
                f"the {who} held still (no joint moved more than {th.pause_motion_rad:g}) for {e - s:.2f} s "
                f"({s:.2f}-{e:.2f} s); ACT learns to stall there, {fix}",
                signal=who,
                seconds=e - s,
                trim=th.trim_pauses,
            )
        )
    return out


def clamped_ticks(ep: Episode) -> int | None:
    """Ticks where the teleop clamp changed the leader's command (None when the file does not record it)."""
    c = ep.optional(L.CLAMPED)
    return None if c is None else int(np.count_nonzero(c))


def check_action_spike(ep: Episode, th: Thresholds) -> list[Finding]:
    """A leader reading or command jumping faster than a hand moves (warning): encoder glitch, cable."""
    if ep.length < 2:
        raise CheckSkipped("fewer than 2 ticks")
    limit = th.action_spike_rad_s / ep.fps  # per tick
    signals = [("command", ep.data(L.ACTION))]
    x, who = ep.operator()
    if who == "leader":
        signals.insert(0, ("leader reading", x))
    clamp = ep.optional(L.CLAMPED)
    names = ep.joint_names
    out: list[Finding] = []
    for label, sig in signals:
        jump = np.abs(np.diff(sig, axis=0)) > limit  # (T - 1, J): jump[i] between ticks i and i + 1
        for j in map(int, np.flatnonzero(jump.any(axis=0))):
            for i0, i1 in runs(jump[:, j], ep.merge_gap(th)):
                size = float(np.abs(np.diff(sig[i0 : i1 + 1, j])).max())
                clamped = int(np.count_nonzero(clamp[i0 : i1 + 1])) if clamp is not None else None
                out.append(
                    ep.finding(
                        "action_spike",
                        WARNING,
                        i0,
                        i1 + 1,
                        f"{label} of {names[j]} jumps {size:.2f}{ep.unit(j)} in one tick at "
                        f"{ticks_text(i0, i1 + 1)}"
                        + (f" (the teleop clamp fired on {clamped} of these ticks)" if clamped else "")
                        + "; check the leader's cable and encoder",
                        joint=names[j],
                        signal=label,
                        jump=size,
                        clamped_ticks=clamped,
                    )
                )
    return out
