"""Findings: what a check reports (the checks themselves are listed in checks.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

Severity = Literal["error", "warning"]
ERROR: Severity = "error"  # excludes the episode from every split
WARNING: Severity = "warning"  # shown in the report, never excludes


@dataclass(frozen=True)
class Finding:
    """One problem with a time span in seconds of episode time (whole episode: 0 .. duration)."""

    check: str
    severity: Severity
    start_s: float
    end_s: float
    message: str  # what is wrong and what to do about it, for a person
    detail: dict[str, Any] = field(default_factory=dict)  # machine-readable facts (ticks, joint, values)

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "start_s": round(float(self.start_s), 4),
            "end_s": round(float(self.end_s), 4),
            "message": self.message,
            "detail": _jsonable(self.detail),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Finding:
        sev: Severity = ERROR if d["severity"] == ERROR else WARNING
        return cls(
            str(d["check"]),
            sev,
            float(d["start_s"]),
            float(d["end_s"]),
            str(d["message"]),
            dict(d.get("detail", {})),
        )


class CheckSkipped(Exception):
    """Raised by a check that cannot run on this episode; the reason lands in the report's `skipped` map."""


class PartlyChecked(CheckSkipped):
    """Raised by a check that ran on part of its inputs: its findings count, the reason names the rest."""

    def __init__(self, reason: str, findings: list[Finding]) -> None:
        super().__init__(reason)
        self.findings = findings


def runs(mask: np.ndarray, max_gap: int = 0) -> list[tuple[int, int]]:
    """Half-open [start, end) runs of True in a 1-D mask; runs separated by <= max_gap False ticks merge."""
    m = np.asarray(mask, dtype=bool).ravel()
    if not m.any():
        return []
    padded = np.concatenate(([False], m, [False]))
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    spans = list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))
    merged: list[tuple[int, int]] = [spans[0]]
    for s, e in spans[1:]:
        if s - merged[-1][1] <= max_gap:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged


def _jsonable(v: Any) -> Any:
    """numpy scalars/arrays and tuples to plain JSON types, NaN/Inf to None (JSON has neither)."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return round(v, 6) if np.isfinite(v) else None
    return v
