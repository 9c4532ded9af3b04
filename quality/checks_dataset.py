"""Dataset-level checks: each episode against the dataset's median, over per-episode summaries."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
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


Placed = list[tuple[str, Finding]]  # (episode file, finding about that episode)
DatasetCheck = Callable[[list[EpisodeSummary], Thresholds], Placed]


def _readable(summaries: list[EpisodeSummary], th: Thresholds, what: str) -> list[EpisodeSummary]:
    ok = [s for s in summaries if s.readable and s.length > 0]
    if len(ok) < th.min_episodes_for_outliers:
        raise CheckSkipped(f"only {len(ok)} readable episodes; {what} needs {th.min_episodes_for_outliers}")
    return ok


def _whole(s: EpisodeSummary, check: str, severity: str, message: str, **detail: Any) -> Finding:
    return Finding(check, ERROR if severity == ERROR else WARNING, 0.0, s.duration, message, detail)


def check_length_outlier(summaries: list[EpisodeSummary], th: Thresholds) -> Placed:
    """Length outside [median / f, f x median] (error): a botched or padded demonstration."""
    ok = _readable(summaries, th, "the length comparison")
    med = float(np.median([s.length for s in ok]))
    lo, hi = med / th.length_outlier_factor, med * th.length_outlier_factor
    return [
        (
            s.file,
            _whole(
                s,
                "length_outlier",
                ERROR,
                f"{s.length} ticks is outside [{lo:.0f}, {hi:.0f}] (dataset median {med:.0f}); "
                f"{'cut short or aborted' if s.length < lo else 'much longer than the others'}, "
                "watch it and re-record",
                length=s.length,
                median=med,
            ),
        )
        for s in ok
        if not lo <= s.length <= hi
    ]


def check_speed_outlier(summaries: list[EpisodeSummary], th: Thresholds) -> Placed:
    """Mean joint speed outside [median / f, f x median] (warning): a rushed or hesitant operator."""
    ok = [s for s in _readable(summaries, th, "the speed comparison") if s.speed is not None]
    if len(ok) < th.min_episodes_for_outliers:
        raise CheckSkipped("too few episodes with readable joint positions")
    med = float(np.median([s.speed for s in ok if s.speed is not None]))
    lo, hi = med / th.speed_outlier_factor, med * th.speed_outlier_factor
    return [
        (
            s.file,
            _whole(
                s,
                "speed_outlier",
                WARNING,
                f"mean joint speed {s.speed:.3f} rad/s vs. dataset median {med:.3f}; "
                f"{'much slower' if s.speed < lo else 'much faster'} than the others, watch it",
                speed=s.speed,
                median=med,
            ),
        )
        for s in ok
        if s.speed is not None and not lo <= s.speed <= hi
    ]


def check_start_pose(summaries: list[EpisodeSummary], th: Thresholds) -> Placed:
    """A start pose far from the dataset's median start (warning): the scene was not reset."""
    ok = [s for s in _readable(summaries, th, "the start-pose comparison") if s.start_pose is not None]
    if not ok:
        raise CheckSkipped("no readable start poses")
    n = Counter(len(s.start_pose or []) for s in ok).most_common(1)[0][0]
    ok = [s for s in ok if len(s.start_pose or []) == n]
    med = np.median(np.array([s.start_pose for s in ok]), axis=0)
    out: Placed = []
    for s in ok:
        dev = np.abs(np.asarray(s.start_pose) - med)
        j = int(np.argmax(dev))
        if dev[j] > th.start_pose_rad:
            name = s.joint_names[j] if j < len(s.joint_names) else f"joint_{j}"
            out.append(
                (
                    s.file,
                    Finding(
                        "start_pose",
                        WARNING,
                        0.0,
                        min(1.0, s.duration),
                        f"starts with {name} {dev[j]:.2f} rad from the usual start pose; reset "
                        "the arms to the home pose before recording",
                        {"joint": name, "deviation_rad": float(dev[j])},
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


DATASET_CHECKS: list[tuple[str, DatasetCheck]] = [
    ("length_outlier", check_length_outlier),
    ("speed_outlier", check_speed_outlier),
    ("start_pose", check_start_pose),
    ("camera_settings", check_camera_settings),
]
