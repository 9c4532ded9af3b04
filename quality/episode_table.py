"""The per-episode table as a pandas DataFrame: what report.html's dataset section is drawn from, and
`quality/episodes.csv`, which a curator opens in a notebook or a spreadsheet:

    df = pd.read_csv("data/pick_cube/quality/episodes.csv")
    df[df.verdict == "fail"].groupby("task").duration_s.describe()

Per-task comparisons are a groupby: `length_ratio` and `speed_ratio` are each episode's value over
its task's median (the figures the length and speed outlier checks judge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from demoforge.quality.findings import ERROR
from demoforge.quality.incidents import group_incidents
from demoforge.quality.next_steps import kept_by_split, trimmed_s
from demoforge.quality.runner import Report
from demoforge.schemas.episode_layout import episode_index_of

EPISODES_CSV = "quality/episodes.csv"
_FIXED = (
    "episode",
    "file",
    "verdict",
    "kept",
    "task",
    "length",
    "duration_s",
    "usable_s",
    "rate_hz",
    "clamped_ticks",
    "mean_speed",
    "start_pose_dev",
    "length_ratio",
    "speed_ratio",
    "incidents",
    "errors",
    "warnings",
    "error_checks",
    "warning_checks",
    "skipped_checks",
)


def episode_table(report: Report, overrides: dict[str, dict[str, Any]] | None = None) -> pd.DataFrame:
    """One row per episode; `kept` honours the overrides as `demoforge split` will."""
    overrides = overrides or {}
    rows = []
    for e in report.episodes:
        s = e.summary
        errors = [f.check for f in e.findings if f.severity == ERROR]
        warns = [f.check for f in e.findings if f.severity != ERROR]
        kept = kept_by_split(e, overrides)
        row: dict[str, Any] = {
            "episode": episode_index_of(e.file),
            "file": e.file,
            "verdict": e.verdict,
            "kept": kept,
            "task": str(e.attrs.get("task", "")),
            "length": e.length,
            "duration_s": round(e.duration_s, 4),
            "usable_s": round(e.duration_s - trimmed_s(e), 4) if kept else 0.0,
            "rate_hz": e.rate_hz,
            "clamped_ticks": e.clamped_ticks,
            "mean_speed": s.speed,
            "start_pose": s.start_pose,
            "incidents": len(group_incidents(e.findings, e.duration_s)),
            "errors": len(errors),
            "warnings": len(warns),
            "error_checks": ";".join(dict.fromkeys(errors)),
            "warning_checks": ";".join(dict.fromkeys(warns)),
            "skipped_checks": ";".join(sorted(e.skipped)),
        }
        for k, v in e.attrs.items():
            row.setdefault(k, v)
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=list(_FIXED))
    readable = df["length"] > 0
    by_task = df[readable].groupby("task")
    df["length_ratio"] = (df["length"] / by_task["length"].transform("median")).round(3)
    df["speed_ratio"] = (df["mean_speed"] / by_task["mean_speed"].transform("median")).round(3)
    df["start_pose_dev"] = _start_pose_dev(df)
    df = df.drop(columns=["start_pose"])
    return df[list(_FIXED) + [c for c in df.columns if c not in _FIXED]]


def _start_pose_dev(df: pd.DataFrame) -> pd.Series:
    """Largest joint distance of each episode's start pose from its task's median start pose."""
    out = pd.Series(np.nan, index=df.index)
    for _, g in df.groupby("task"):
        poses = [(i, p) for i, p in g["start_pose"].items() if isinstance(p, list) and p]
        if not poses:
            continue
        n = pd.Series([len(p) for _, p in poses]).mode()[0]
        same = [(i, p) for i, p in poses if len(p) == n]
        med = np.median(np.array([p for _, p in same]), axis=0)
        for i, p in same:
            out[i] = round(float(np.max(np.abs(np.asarray(p) - med))), 4)
    return out


def write_episodes_csv(folder: str | Path, report: Report, overrides: dict[str, dict[str, Any]]) -> Path:
    path = Path(folder) / EPISODES_CSV
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    episode_table(report, overrides).to_csv(tmp, index=False)
    tmp.replace(path)
    return path
