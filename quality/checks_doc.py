"""docs/quality-checks.md, rendered from the check list and the thresholds' own comments.

    python -m demoforge.quality.checks_doc > docs/quality-checks.md

tests/quality/test_check_list.py fails when the file and this rendering differ.
"""

from __future__ import annotations

import dataclasses
import inspect

from demoforge.quality.checks import CHECKS
from demoforge.quality.thresholds import Thresholds

# The ids the design brief fixed (DESIGN.md, "Machine-readable outputs"); the rest are additions.
DESIGN_IDS = (
    "integrity",
    "control_rate",
    "frame_drop",
    "stale_frame",
    "frozen_frame",
    "dark_frame",
    "camera_sync",
    "pause",
    "length_outlier",
    "joint_limit",
    "success_label",
    "speed_outlier",
    "start_pose",
    "tracking_error",
    "action_spike",
    "camera_settings",
)


def threshold_reasons() -> dict[str, str]:
    """Each Thresholds field's comment block (the lines just above it in thresholds.py), joined."""
    lines = inspect.getsource(Thresholds).splitlines()
    out: dict[str, str] = {}
    names = {f.name for f in dataclasses.fields(Thresholds)}
    comment: list[str] = []
    for line in lines:
        s = line.strip()
        if s.startswith("# --"):
            comment = []
        elif s.startswith("#"):
            comment.append(s.lstrip("# "))
        elif ":" in s and s.split(":")[0] in names:
            out[s.split(":")[0]] = " ".join(comment)
            comment = []
    return out


def render() -> str:
    defaults = Thresholds()
    reasons = threshold_reasons()
    parts = [
        "# Quality checks",
        "",
        "Generated from `quality/checks.py` and `quality/thresholds.py` by "
        "`python -m demoforge.quality.checks_doc > docs/quality-checks.md`; do not edit by hand.",
        "",
        "`demoforge check DIR` runs every check below and writes `quality/report.json` and "
        "`quality/report.html`. A finding with severity `error` excludes its episode from every split; "
        "a `warning` never does. An `error` check may also report milder problems as warnings. Spans "
        "marked for trimming (`idle`, and `pause` with `trim_pauses = true`) are written to "
        "`splits.json` under `trim` by `demoforge split`; the trainer leaves them out.",
        "",
        "`demoforge check DIR --fail-on error|warning` exits 1 when any episode has a finding of that "
        "severity or worse (for CI); exit 2 always means bad input (a wrong path, a bad thresholds file).",
        "",
        "Thresholds: pass a TOML file with any of the keys below (`demoforge check DIR --config t.toml`).",
        "",
        "| check | severity | scope | in the design brief |",
        "|---|---|---|---|",
    ]
    for c in CHECKS:
        parts.append(f"| `{c.id}` | {c.severity} | {c.scope} | {'yes' if c.id in DESIGN_IDS else 'added'} |")
    for c in CHECKS:
        parts += ["", f"## `{c.id}` ({c.severity}, {c.scope})", "", c.finds]
        if c.thresholds:
            parts.append("")
            for name in c.thresholds:
                parts.append(
                    f"- `{name} = {_toml(getattr(defaults, name))}`: {reasons.get(name, '')}".rstrip()
                )
    return "\n".join(parts) + "\n"


def _toml(v: object) -> str:
    return str(v).lower() if isinstance(v, bool) else repr(v)


if __name__ == "__main__":  # pragma: no cover
    print(render(), end="")
