"""What each check means and which thresholds tune it, for the report: read from the check list.

No second table: the meaning is each check's `finds` text in quality/checks.py, its thresholds the
`Thresholds` fields it names there, with their values in use and the reason commented beside each
field in quality/thresholds.py (what docs/quality-checks.md shows).
"""

from __future__ import annotations

from demoforge.quality.checks import CHECKS, Check
from demoforge.quality.checks_doc import threshold_reasons
from demoforge.quality.thresholds import Thresholds

CheckInfo = Check  # what the report reads of a check: id, severity, scope, finds, thresholds


def check_catalog() -> list[CheckInfo]:
    """Every check in report order."""
    return list(CHECKS)


def threshold_items(th: Thresholds, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """(`name = value` as a thresholds TOML sets it, the reason for its default) per threshold."""
    reasons = threshold_reasons()
    return [(f"{n} = {_toml(getattr(th, n))}", reasons.get(n, "")) for n in names]


def _toml(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)
