"""`quality/report.json`: the machine-readable report (format fixed by DESIGN.md; extra keys only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quality.runner import EpisodeResult, Report
from schemas.dataset import REPORT_JSON, read_json, write_json_atomic
from schemas.errors import ConfigError

REPORT_SCHEMA_VERSION = 1


def episode_row(e: EpisodeResult) -> dict[str, Any]:
    return {
        "file": e.file,
        "verdict": e.verdict,
        "length": e.length,
        "duration_s": round(e.duration_s, 4),
        "findings": [f.to_json() for f in e.findings],
        "skipped": dict(sorted(e.skipped.items())),
        # extra keys (allowed by the format): file fingerprint for verify_split, rate, root attributes
        "fingerprint": e.fingerprint,
        "rate_hz": None if e.rate_hz is None else round(e.rate_hz, 3),
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


def load_report_json(folder: str | Path) -> dict[str, Any]:
    """The dataset's report.json, checked for the keys other tools rely on."""
    path = Path(folder) / REPORT_JSON
    data = read_json(path, "quality report (run `demoforge check` first)")
    fix = "run `demoforge check` on the dataset again"
    if data.get("schema_version") != REPORT_SCHEMA_VERSION:
        raise ConfigError(
            f"{path}: schema_version {data.get('schema_version')!r} is not {REPORT_SCHEMA_VERSION}", fix
        )
    eps = data.get("episodes")
    if not isinstance(eps, list):
        raise ConfigError(f"{path}: `episodes` is not a list", fix)
    for i, row in enumerate(eps):
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("file"), str)
            or row.get("verdict") not in ("pass", "fail")
        ):
            raise ConfigError(f"{path}: episode row {i} lacks a file name or a pass/fail verdict", fix)
        findings = row.setdefault("findings", [])
        if not isinstance(findings, list) or not all(
            isinstance(f, dict)
            and isinstance(f.get("check"), str)
            and f.get("severity") in ("error", "warning")
            for f in findings
        ):
            raise ConfigError(f"{path}: episode row {i} has malformed findings", fix)
        if not isinstance(row.setdefault("attrs", {}), dict):
            raise ConfigError(f"{path}: episode row {i} has malformed attrs", fix)
    return data
