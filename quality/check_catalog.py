"""What each check means and which thresholds tune it, read from the checks themselves for the report.

No second table: the meaning is the check function's docstring and the thresholds are the
`Thresholds` fields it names there (in backticks), with their values from the thresholds in use.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass
from typing import Any

from demoforge.quality.checks_dataset import DATASET_CHECKS
from demoforge.quality.findings import CHECK_IDS, ERROR_CHECKS, Severity
from demoforge.quality.runner import EPISODE_CHECKS
from demoforge.quality.thresholds import Thresholds


@dataclass(frozen=True)
class CheckInfo:
    id: str
    severity: Severity  # the most it reports: an error check can exclude an episode
    scope: str  # "episode" or "dataset"
    finds: str  # what it finds, for a person
    thresholds: tuple[str, ...]  # Thresholds fields that tune it


def check_catalog() -> list[CheckInfo]:
    """Every check in report order, with its meaning and thresholds."""
    fields = {f.name for f in dataclasses.fields(Thresholds)}
    runs: dict[str, tuple[str, Any]] = {cid: ("episode", fn) for cid, fn in EPISODE_CHECKS}
    runs |= {cid: ("dataset", fn) for cid, fn in DATASET_CHECKS}
    out = []
    for cid in CHECK_IDS:
        scope, fn = runs.get(cid, ("episode", None))
        doc = (inspect.getdoc(fn) or "") if fn is not None else ""
        finds = " ".join(doc.split("\n\n")[0].split())
        names = tuple(dict.fromkeys(n for n in re.findall(r"`(\w+)`", doc) if n in fields))
        out.append(CheckInfo(cid, "error" if cid in ERROR_CHECKS else "warning", scope, finds, names))
    return out


def threshold_items(th: Thresholds, names: tuple[str, ...]) -> list[tuple[str, str]]:
    """(`name = value` as a thresholds TOML sets it, the reason for its default) per threshold.

    The reasons are comments in quality/thresholds.py, which nothing reads at run time yet: "".
    """
    return [(f"{n} = {_toml(getattr(th, n))}", "") for n in names]


def _toml(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else f"{v:g}" if isinstance(v, float) else str(v)
