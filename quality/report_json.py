"""`quality/report.json`: the machine-readable report (format fixed by DESIGN.md; extra keys only).

Version 2 (schemas/splits.py) adds `incident` to each finding: findings one event caused share it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from demoforge.quality.incidents import group_incidents, incident_id, incident_of_findings
from demoforge.quality.runner import EpisodeResult, Report
from demoforge.schemas.dataset import REPORT_JSON, write_json_atomic
from demoforge.schemas.splits import REPORT_SCHEMA_VERSION


def findings_json(e: EpisodeResult) -> list[dict[str, Any]]:
    """The episode's findings, each with the id of its incident (shared by findings of one cause)."""
    number = incident_of_findings(group_incidents(e.findings, e.duration_s), len(e.findings))
    return [
        {**f.to_json(), "incident": incident_id(e.file, k)} for f, k in zip(e.findings, number, strict=True)
    ]


def episode_row(e: EpisodeResult) -> dict[str, Any]:
    index = {} if e.episode_index is None else {"episode_index": e.episode_index}  # LeRobot sources
    return {
        "file": e.file,
        **index,
        "verdict": e.verdict,
        "length": e.length,
        "duration_s": round(e.duration_s, 4),
        "findings": findings_json(e),
        "skipped": dict(sorted(e.skipped.items())),
        # extra keys (allowed by the format): file fingerprint for verify_split, rate, teleop clamp count,
        # root attributes
        "fingerprint": e.fingerprint,
        "rate_hz": None if e.rate_hz is None else round(e.rate_hz, 3),
        "clamped_ticks": e.clamped_ticks,
        "attrs": e.attrs,
    }


def report_to_json(report: Report) -> dict[str, Any]:
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "dataset": report.dataset,
        "created": report.created,
        "thresholds": report.thresholds.to_json(),
        "episodes": [episode_row(e) for e in report.episodes],
        "dataset_findings": [f.to_json() for f in report.dataset_findings],
    }


def write_report_json(folder: str | Path, report: Report) -> Path:
    path = Path(folder) / REPORT_JSON
    write_json_atomic(path, report_to_json(report))
    return path
