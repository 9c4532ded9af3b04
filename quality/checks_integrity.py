"""Integrity (the file is whole and sane) and the success label."""

from __future__ import annotations

import numpy as np

from demoforge.quality.episode import Episode, ticks_text
from demoforge.quality.findings import ERROR, WARNING, Finding, runs
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L

# What the reader validates on open (required datasets, equal lengths, dtypes) fails the open and
# becomes an integrity finding in the runner; this check covers what an open file can still hide.
_FLOAT_DATASETS = (*L.JOINT_DATASETS, L.TIMESTAMPS)


def check_integrity(ep: Episode, th: Thresholds) -> list[Finding]:
    """Non-finite values (with their tick span), a writer that never closed, an empty episode."""
    out: list[Finding] = []
    if ep.length == 0:
        return [ep.whole("integrity", "the episode has no ticks; delete it and record it again")]
    for name in _FLOAT_DATASETS:
        arr = ep.raw(name)
        if arr is None or name not in ep.nonfinite:
            continue
        bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
        for i0, i1 in runs(bad, ep.merge_gap(th)):
            out.append(
                ep.finding(
                    "integrity",
                    ERROR,
                    i0,
                    i1,
                    f"{name} holds NaN/Inf at {ticks_text(i0, i1)}; the recording is corrupt there, "
                    "re-record the episode",
                    dataset=name,
                )
            )
    if ep.reader.cut_off:
        out.append(
            ep.whole(
                "integrity",
                "the recorder died before closing this file (cut off); run "
                "`demoforge recover` to keep what was flushed, or re-record",
                cut_off=True,
            )
        )
    elif "attr:complete" not in ep.reader.missing and not ep.reader.complete:
        out.append(
            ep.whole(
                "integrity",
                "the episode was not closed cleanly (`complete` is false); the end may "
                "be missing, re-record it",
                complete=False,
            )
        )
    return out


def check_success_label(ep: Episode, th: Thresholds) -> list[Finding]:
    """The operator's label must say success (1); unlabelled (-1) fails unless allowed."""
    label = ep.reader.success
    if label == 1:
        return []
    if label == 0:
        return [
            ep.whole(
                "success_label",
                "labelled a failed demonstration (success = 0); it teaches the "
                "policy to fail, so it is excluded",
                success=0,
            )
        ]
    if th.allow_unlabelled:
        return []
    return [
        ep.whole(
            "success_label",
            f"never labelled (success = -1); watch it, then `demoforge label {ep.reader.path.parent} "
            f"{L.episode_number(ep.name)} success` (or failure), or pass "
            "--allow-unlabelled if every episode of this dataset is a success",
            success=-1,
        )
    ]


def check_short_episode(ep: Episode, th: Thresholds) -> list[Finding]:
    """Fewer ticks than ACT's action chunk (warning): every training sample is mostly padding."""
    if ep.length >= th.min_episode_ticks:
        return []
    return [
        ep.whole(
            "short_episode",
            f"{ep.length} ticks is shorter than one action chunk ({th.min_episode_ticks} ticks); the "
            "policy learns little from it, record longer demonstrations",
            WARNING,
            length=ep.length,
            min_ticks=th.min_episode_ticks,
        )
    ]
