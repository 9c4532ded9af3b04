"""Dataset-level checks: each episode against the dataset's median, over per-episode summaries."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from demoforge.quality.findings import ERROR, WARNING, CheckSkipped, Finding
from demoforge.quality.thresholds import Thresholds


@dataclass
class EpisodeSummary:
    """What the dataset checks need of one episode (computed in the worker that opened it)."""

    file: str
    readable: bool
    length: int = 0
    duration: float = 0.0
    speed: float | None = None  # mean |joint speed|, rad/s
    start_pose: list[float] | None = None
    joint_names: list[str] = field(default_factory=list)
    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)  # cam -> settings (type, serial, ...)
    task: str = ""
    trace: np.ndarray | None = None  # (TRACE_POINTS, J) the operator's trajectory, resampled
    scene: dict[str, np.ndarray] | None = None  # cam -> first frame, small: what the episode started from
    digest: str = ""  # hash of the joint data: equal only for identical recordings


TRACE_POINTS = 64  # per joint: enough to tell two demonstrations apart, small to ship between processes
Placed = list[tuple[str | None, Finding]]  # (episode file, or None for the dataset as a whole; finding)
DatasetCheck = Callable[[list[EpisodeSummary], Thresholds], Placed]


def _readable(summaries: list[EpisodeSummary], th: Thresholds, what: str) -> list[EpisodeSummary]:
    ok = [s for s in summaries if s.readable and s.length > 0]
    if len(ok) < th.min_episodes_for_outliers:
        raise CheckSkipped(f"only {len(ok)} readable episodes; {what} needs {th.min_episodes_for_outliers}")
    return ok


def _whole(s: EpisodeSummary, check: str, severity: str, message: str, **detail: Any) -> Finding:
    return Finding(check, ERROR if severity == ERROR else WARNING, 0.0, s.duration, message, detail)


def _by_task(ok: list[EpisodeSummary], th: Thresholds, what: str) -> list[list[EpisodeSummary]]:
    """Episodes grouped by their `task` attribute; groups too small to have a median are left out."""
    tasks: dict[str, list[EpisodeSummary]] = {}
    for s in ok:
        tasks.setdefault(s.task, []).append(s)
    compared = [group for group in tasks.values() if len(group) >= th.min_episodes_for_outliers]
    if not compared:
        raise CheckSkipped(f"no task has {th.min_episodes_for_outliers} readable episodes for {what}")
    return compared


def _of_task(group: list[EpisodeSummary], summaries: list[EpisodeSummary]) -> str:
    return f" of task {group[0].task!r}" if len({s.task for s in summaries}) > 1 else ""


def _task_outliers(
    ok: list[EpisodeSummary],
    th: Thresholds,
    what: str,
    value: Callable[[EpisodeSummary], float],
    factor: float,
) -> Iterator[tuple[EpisodeSummary, float, float, float, list[EpisodeSummary]]]:
    """Each episode whose `value` lies outside [median / factor, factor x median] of its task's episodes.

    Yields (episode, value, median, low bound, its task's group).
    """
    for group in _by_task(ok, th, what):
        med = float(np.median([value(s) for s in group]))
        lo, hi = med / factor, med * factor
        for s in group:
            v = value(s)
            if not lo <= v <= hi:
                yield s, v, med, lo, group


def check_length_outlier(summaries: list[EpisodeSummary], th: Thresholds) -> Placed:
    """Length outside [median / f, f x median] of its task's episodes (error): botched or padded."""
    ok = _readable(summaries, th, "the length comparison")
    f = th.length_outlier_factor
    return [
        (
            s.file,
            _whole(
                s,
                "length_outlier",
                ERROR,
                f"{s.length} ticks is outside [{lo:.0f}, {med * f:.0f}] (median {med:.0f}"
                f"{_of_task(group, summaries)}); "
                f"{'cut short or aborted' if s.length < lo else 'much longer than the others'}, "
                "watch it and re-record",
                length=s.length,
                median=med,
                task=s.task,
            ),
        )
        for s, _, med, lo, group in _task_outliers(ok, th, "the length comparison", lambda s: s.length, f)
    ]


def check_speed_outlier(summaries: list[EpisodeSummary], th: Thresholds) -> Placed:
    """Mean joint speed outside [median / f, f x median] of its task's episodes (warning)."""
    ok = [s for s in _readable(summaries, th, "the speed comparison") if s.speed is not None]
    return [
        (
            s.file,
            _whole(
                s,
                "speed_outlier",
                WARNING,
                f"mean joint speed {v:.3f} rad/s vs. median {med:.3f}{_of_task(group, summaries)}; "
                f"{'much slower' if v < lo else 'much faster'} than the others (a hesitant or "
                "rushed operator), watch it",
                speed=v,
                median=med,
            ),
        )
        for s, v, med, lo, group in _task_outliers(
            ok, th, "the speed comparison", lambda s: float(s.speed or 0.0), th.speed_outlier_factor
        )
    ]


def _is_gripper(name: str) -> bool:
    return "gripper" in name.lower()  # normalized 0..1, not an angle


def _wrap(x: np.ndarray) -> np.ndarray:
    return (x + np.pi) % (2 * np.pi) - np.pi


def check_start_pose(summaries: list[EpisodeSummary], th: Thresholds) -> Placed:
    """Episodes starting far from the usual start (warning); one dataset finding when none is usual."""
    ok = [s for s in _readable(summaries, th, "the start-pose comparison") if s.start_pose is not None]
    if not ok:
        raise CheckSkipped("no readable start poses")
    n = Counter(len(s.start_pose or []) for s in ok).most_common(1)[0][0]
    ok = [s for s in ok if len(s.start_pose or []) == n]
    names = next((s.joint_names for s in ok if len(s.joint_names) == n), [f"joint_{j}" for j in range(n)])
    grip = np.array([_is_gripper(x) for x in names])
    poses = np.array([s.start_pose for s in ok])  # (E, J)
    # angles are compared on the circle (a start at +3.1 and one at -3.1 rad are 0.08 apart)
    mean = np.where(grip, 0.0, np.arctan2(np.sin(poses).mean(axis=0), np.cos(poses).mean(axis=0)))
    rel = np.where(grip, poses, _wrap(poses - mean))
    dev = np.abs(rel - np.median(rel, axis=0))  # (E, J), each joint in its own unit
    off = dev > th.start_pose_rad
    flagged = np.flatnonzero(off.any(axis=1))
    unit = ["" if g else " rad" for g in grip]
    if len(flagged) > th.start_pose_spread_fraction * len(ok):
        worst = int(np.argmax(np.median(dev, axis=0)))
        return [
            (
                None,
                Finding(
                    "start_pose",
                    WARNING,
                    0.0,
                    0.0,
                    f"no common start pose: {len(flagged)} of {len(ok)} episodes start more than "
                    f"{th.start_pose_rad:g} from the median start (most spread: {names[worst]}, median "
                    f"deviation {float(np.median(dev[:, worst])):.2f}{unit[worst]}); fine if the task "
                    "starts anywhere, otherwise reset the arms to one home pose before each episode",
                    {"episodes": len(flagged), "of": len(ok), "joint": names[worst]},
                ),
            )
        ]
    out: Placed = []
    for e in flagged:
        s, j = ok[e], int(np.argmax(dev[e] * off[e]))
        out.append(
            (
                s.file,
                Finding(
                    "start_pose",
                    WARNING,
                    0.0,
                    min(1.0, s.duration),
                    f"starts with {names[j]} {dev[e, j]:.2f}{unit[j]} from the usual start pose; reset "
                    "the arms to the home pose before recording",
                    {"joint": names[j], "deviation": float(dev[e, j])},
                ),
            )
        )
    return out


def _same_scene(a: EpisodeSummary, b: EpisodeSummary) -> bool:
    """Whether two episodes started from the same scene: their first frames are pixel-for-pixel equal.

    A scene that differs at all (an object placed 1.6 mm elsewhere moves its edges by a pixel) makes
    the same commands a different demonstration. Without cameras the scene is unknown: assumed same.
    """
    if not a.scene or not b.scene:
        return True
    common = set(a.scene) & set(b.scene)
    return all(np.array_equal(a.scene[c], b.scene[c]) for c in common)


def check_near_duplicate(summaries: list[EpisodeSummary], th: Thresholds) -> Placed:
    """An episode repeating an earlier one from the same scene: an error for identical data (a copied
    file), a warning otherwise (a replay or a scripted operator repeating itself)."""
    ok = [s for s in summaries if s.readable and s.trace is not None and s.length > 1]
    if len(ok) < 2:
        raise CheckSkipped("fewer than 2 episodes with trajectories")
    out: Placed = []
    by_joints: dict[int, list[EpisodeSummary]] = {}
    for s in ok:
        by_joints.setdefault(s.trace.shape[1] if s.trace is not None else 0, []).append(s)
    for group in by_joints.values():
        x = np.stack([np.asarray(s.trace, dtype=np.float64).ravel() for s in group])  # (E, P * J)
        sq = (x**2).sum(axis=1)
        rms = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0) / x.shape[1])  # (E, E)
        lengths = np.array([s.length for s in group])
        similar_len = np.abs(lengths[:, None] - lengths[None, :]) <= 0.05 * np.maximum.outer(lengths, lengths)
        close = (rms < th.near_duplicate_rad) & similar_len
        for b in range(len(group)):
            earlier = [int(a) for a in np.flatnonzero(close[b, :b]) if _same_scene(group[a], group[b])]
            if not earlier:
                continue
            a = earlier[0]
            copy = bool(group[b].digest) and group[b].digest == group[a].digest
            what = (
                "an exact copy (identical data): keep one of them"
                if copy
                else "the same scene and the same commands: a replayed recording or a scripted operator "
                "repeating itself; it adds little to train on"
            )
            out.append(
                (
                    group[b].file,
                    _whole(
                        group[b],
                        "near_duplicate",
                        ERROR if copy else WARNING,
                        f"near-duplicate of {group[a].file} (commands differ by {rms[b, a]:.4f} RMS), {what}",
                        duplicate_of=group[a].file,
                        rms=float(rms[b, a]),
                        identical=copy,
                    ),
                )
            )
    return out


def check_camera_settings(summaries: list[EpisodeSummary], th: Thresholds) -> Placed:
    """Camera settings or intrinsics differing from the dataset's most common ones (warning)."""
    ok = _readable(summaries, th, "the camera comparison")
    cams = sorted({c for s in ok for c in s.cameras})
    if not cams:
        raise CheckSkipped("no camera information")
    out: Placed = []
    for cam in cams:
        have = [s for s in ok if cam in s.cameras]
        usual_key, _ = Counter(json.dumps(s.cameras[cam], sort_keys=True) for s in have).most_common(1)[0]
        usual = json.loads(usual_key)
        for s in have:
            mine = s.cameras[cam]
            diff = sorted(k for k in set(usual) | set(mine) if usual.get(k) != mine.get(k))
            if diff:
                out.append(
                    (
                        s.file,
                        _whole(
                            s,
                            "camera_settings",
                            WARNING,
                            f"{cam} {', '.join(diff)} differ from the other episodes; a different or "
                            "re-configured camera changes what the policy sees",
                            camera=cam,
                            fields=diff,
                            values={k: mine.get(k) for k in diff},
                            usual={k: usual.get(k) for k in diff},
                        ),
                    )
                )
    missing = [s for s in ok if s.cameras and set(cams) - set(s.cameras)]
    for s in missing:
        out.append(
            (
                s.file,
                _whole(
                    s,
                    "camera_settings",
                    WARNING,
                    f"cameras {', '.join(sorted(set(cams) - set(s.cameras)))} are missing here but "
                    "recorded in other episodes",
                    missing=sorted(set(cams) - set(s.cameras)),
                ),
            )
        )
    return out
