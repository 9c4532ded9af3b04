"""`format`: what a LeRobot dataset's own files must agree on, per episode and for the dataset.

Per episode: timestamps against `fps` within LeRobot's tolerance (`lerobot_layout.TOLERANCE_S`: past
it LeRobot's decoders refuse the frame), each video's frame count against the table's rows,
`frame_index` / `index` / `episode_index` / `task_index` consistent with the episodes table and the
tasks. For the dataset: the episode indices, info.json's totals and meta/stats.json against the data
they summarise (a stale stats.json normalises training with the wrong numbers).
HDF5 episodes have none of these files; `integrity` covers them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from demoforge.quality.episode import Episode, ticks_text
from demoforge.quality.findings import ERROR, WARNING, Finding, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import lerobot_layout as LR
from demoforge.schemas.episode_source import source_of
from demoforge.schemas.errors import EpisodeError
from demoforge.schemas.lerobot_reader import LeRobotEpisodeReader, LeRobotSource

STATS_RTOL = 1e-3  # of the feature's range: float32 sums and LeRobot's own aggregation round this much


def check_format(ep: Episode, th: Thresholds) -> list[Finding]:
    """Timestamps vs fps, video frames vs rows, index columns vs the episodes table (LeRobot only)."""
    r = ep.reader
    if not isinstance(r, LeRobotEpisodeReader):
        return []  # an HDF5 file has no tables or videos to disagree; integrity covers it
    out = _timestamps(ep, r)
    out += _indices(ep, r)
    for cam in r.cameras:
        frames = ep.video_frames(cam)
        n = 0 if frames is None else len(frames)
        if n != ep.length:
            key = LR.video_key(cam)
            out.append(
                ep.finding(
                    "format",
                    ERROR,
                    min(n, ep.length - 1) if n < ep.length else 0,
                    ep.length,
                    f"{key}: the video holds {n} frames for this episode's {ep.length} rows; LeRobot "
                    "cannot load the missing frames, re-encode the video or re-convert the episode",
                    camera=cam,
                    frames=n,
                )
            )
    return out


def _timestamps(ep: Episode, r: LeRobotEpisodeReader) -> list[Finding]:
    ts = r.columns.get(LR.TIMESTAMP)
    if ts is None:
        return [ep.whole("format", f"no {LR.TIMESTAMP} column; LeRobot needs one to find each frame")]
    ts = ts.astype(np.float64)
    expected = np.arange(ep.length) / r.source.fps
    off = ~(np.abs(ts - expected) <= LR.TOLERANCE_S)  # NaN counts as off
    out = []
    for i0, i1 in runs(off):
        out.append(
            ep.finding(
                "format",
                ERROR,
                i0,
                i1,
                f"{LR.TIMESTAMP} at {ticks_text(i0, i1)} is {ts[i0]:.4f} s where frame_index / fps is "
                f"{expected[i0]:.4f} s (LeRobot allows {LR.TOLERANCE_S:g} s): its decoder will refuse "
                "those frames; rewrite timestamp as frame_index / fps",
                first=float(ts[i0]),
                expected=float(expected[i0]),
            )
        )
    return out


def _indices(ep: Episode, r: LeRobotEpisodeReader) -> list[Finding]:
    out: list[Finding] = []
    n = ep.length
    if n != r.meta.length:
        out.append(
            ep.whole(
                "format",
                f"the episodes table says {r.meta.length} rows, the data holds {n}; re-convert the dataset",
                rows=n,
                table_length=r.meta.length,
            )
        )

    def bad_runs(name: str, values: np.ndarray, want: np.ndarray, what: str) -> None:
        for i0, i1 in runs(values != want)[:3]:
            out.append(
                ep.finding(
                    "format",
                    ERROR,
                    i0,
                    i1,
                    f"{name} at {ticks_text(i0, i1)} is {int(values[i0])}, expected {int(want[i0])} ({what})",
                    column=name,
                )
            )

    cols = r.columns
    if LR.FRAME_INDEX in cols:
        bad_runs(LR.FRAME_INDEX, cols[LR.FRAME_INDEX], np.arange(n), "0, 1, 2 ... within an episode")
    if LR.EPISODE_INDEX in cols:
        bad_runs(
            LR.EPISODE_INDEX, cols[LR.EPISODE_INDEX], np.full(n, r.episode_index), "this episode's index"
        )
    if LR.INDEX in cols and n:
        idx = cols[LR.INDEX]
        bad_runs(LR.INDEX, idx, idx[0] + np.arange(n), "consecutive rows of the dataset")
    if LR.TASK_INDEX in cols:
        unknown = sorted({int(t) for t in cols[LR.TASK_INDEX]} - set(r.source.tasks))
        if unknown:
            out.append(
                ep.whole(
                    "format",
                    f"task_index {', '.join(map(str, unknown))} is not in the tasks table; "
                    "re-convert the dataset",
                    task_index=unknown,
                )
            )
    return out


def source_findings(folder: Path) -> list[Finding]:
    """Dataset findings about a LeRobot dataset's metadata; none for an HDF5 folder."""
    try:
        src = source_of(folder)
        if src is None:
            return []
        return _totals(src) + _stats(src)
    except EpisodeError as e:  # a damaged data file: its episodes already carry integrity findings
        return [Finding("format", ERROR, 0.0, 0.0, str(e))]


def _totals(src: LeRobotSource) -> list[Finding]:
    out = []
    idx = sorted(src.episodes)
    if idx != list(range(len(idx))):
        gaps = sorted(set(range(idx[-1] + 1)) - set(idx))[:10]
        out.append(
            Finding(
                "format",
                ERROR,
                0.0,
                0.0,
                f"episode_index is not 0 .. {len(idx) - 1}: missing {gaps}; LeRobot loads episodes by "
                "position, renumber them (lerobot-edit-dataset) or re-convert",
                {"missing": gaps},
            )
        )
    frames = sum(e.length for e in src.episodes.values())
    for key, actual in (
        ("total_episodes", len(idx)),
        ("total_frames", frames),
        ("total_tasks", len(src.tasks)),
    ):
        said = src.info.get(key)
        if said is not None and said != actual:
            out.append(
                Finding(
                    "format",
                    WARNING,
                    0.0,
                    0.0,
                    f"meta/info.json says {key} {said}, the dataset holds {actual}; fix info.json",
                    {key: said, "actual": actual},
                )
            )
    return out


def _stats(src: LeRobotSource) -> list[Finding]:
    """meta/stats.json's min, max, mean and count of the joint features against the data tables."""
    stats = src.stats()
    if stats is None:
        return [
            Finding(
                "format", WARNING, 0.0, 0.0, "no meta/stats.json; LeRobot's trainer needs it to normalise"
            )
        ]
    keys = [k for k in (LR.STATE, LR.ACTION) if isinstance(stats.get(k), dict)]
    files = sorted({e.data_file for e in src.episodes.values()})
    data: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for f in files:
        t = src.table(f.relative_to(src.root), columns=keys)
        for k in keys:
            data[k].append(np.stack(t.column(k).to_numpy(zero_copy_only=False)).astype(np.float64))
    out = []
    for k in keys:
        x = np.concatenate(data[k]) if data[k] else np.zeros((0, src.n_joints))
        if not len(x):
            continue
        actual = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "count": np.array([len(x)])}
        scale = np.maximum(actual["max"] - actual["min"], 1e-6)
        wrong = []
        for name, value in actual.items():
            try:
                said = np.asarray(stats[k].get(name), dtype=np.float64).reshape(-1)
            except (TypeError, ValueError):
                wrong.append(f"{name} unreadable")
                continue
            if said.shape != value.shape:
                wrong.append(f"{name} has {said.size} values for {value.size}")
            elif name == "count":
                if int(said[0]) != int(value[0]):
                    wrong.append(f"count {int(said[0])} for {int(value[0])} frames")
            elif not np.all(np.abs(said - value) <= STATS_RTOL * scale):
                j = int(np.argmax(np.abs(said - value) / scale))
                wrong.append(f"{name}[{j}] {said[j]:.4g} where the data give {value[j]:.4g}")
        if wrong:
            out.append(
                Finding(
                    "format",
                    ERROR,
                    0.0,
                    0.0,
                    f"meta/stats.json does not describe the data of {k}: {'; '.join(wrong[:4])}; training "
                    "would normalise with the wrong numbers, recompute the stats "
                    "(`demoforge export --to lerobot` writes them from the data)",
                    {"feature": k, "problems": wrong},
                )
            )
    return out
