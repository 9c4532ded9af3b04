"""Curated splits from the latest report: passing episodes only, deterministic, optionally stratified."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from demoforge.quality.checks import CHECK_IDS
from demoforge.schemas.curation import OVERRIDES, load_overrides
from demoforge.schemas.dataset import REPORT_JSON
from demoforge.schemas.episode_layout import episode_order
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import Span, Splits, check_report_current, load_report, sha256_file


def _order(name: str) -> int:
    return episode_order(name)


def _allocate(total: int, sizes: dict[str, int]) -> dict[str, int]:
    """Split `total` across strata proportionally to their sizes (largest remainder, ties by key)."""
    n = sum(sizes.values())
    if not n:
        return dict.fromkeys(sizes, 0)
    exact = {k: total * s / n for k, s in sizes.items()}
    out = {k: int(v) for k, v in exact.items()}
    for k in sorted(sizes, key=lambda k: (-(exact[k] - out[k]), k))[: total - sum(out.values())]:
        out[k] += 1
    return out


def trim_spans(row: dict[str, Any]) -> list[Span]:
    """The spans of a report row's findings marked `trim` (idle edges, trimmed pauses), merged."""
    spans = sorted(
        (float(f["start_s"]), float(f["end_s"]))
        for f in row["findings"]
        if isinstance(f.get("detail"), dict) and f["detail"].get("trim") is True
    )
    merged: list[Span] = []
    for a, b in spans:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _applicable_overrides(folder: Path, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The person-written overrides (overrides.json) for episodes in the report, validated."""
    overrides = load_overrides(folder)
    known = {r["file"] for r in rows}
    for name, o in overrides.items():
        if name not in known:
            raise ConfigError(
                f"{folder / OVERRIDES} names {name}, which is not in the quality report",
                f"remove it with `demoforge accept {folder} {name} --revoke`, or run `demoforge check`",
            )
        bad = [c for c in o["accept"] if c not in CHECK_IDS or c == "integrity"]
        if bad:
            raise ConfigError(
                f"{folder / OVERRIDES}: {name} accepts {', '.join(bad)}, which cannot be accepted",
                "accept check ids from the report (a damaged file, `integrity`, can never be trained on)",
            )
    return overrides


def make_splits(
    folder: str | Path,
    *,
    val: float = 0.1,
    holdout: int = 0,
    seed: int = 0,
    stratify_by: str | None = None,
    out: str | Path | None = None,
) -> Splits:
    """Cut train / val / holdout from the passing episodes of the latest report and save `splits.json`.

    Spans the report marks for trimming (the operator idle at an episode's edges) go to `trim`.
    `out`: where `check --out` wrote the report; the overrides are read and splits.json written there.
    """
    folder = Path(folder)
    where = Path(out) if out is not None else folder
    if not 0.0 <= val < 1.0:
        raise ConfigError(f"--val {val} is not a fraction in [0, 1)", "use e.g. --val 0.1")
    if holdout < 0:
        raise ConfigError(f"--holdout {holdout} is negative", "use a count of episodes, e.g. --holdout 5")
    report = load_report(where)
    check_report_current(folder, report)
    rows = report["episodes"]
    overrides = _applicable_overrides(where, rows)
    excluded: dict[str, list[str]] = {}
    for r in rows:
        errors = list(dict.fromkeys(f["check"] for f in r["findings"] if f.get("severity") == "error"))
        unaccepted = [c for c in errors if c not in overrides.get(r["file"], {}).get("accept", [])]
        if r["verdict"] == "fail" and unaccepted:
            excluded[r["file"]] = unaccepted
    passing = sorted((r for r in rows if r["file"] not in excluded), key=lambda r: _order(r["file"]))
    if holdout > len(passing):
        raise ConfigError(f"--holdout {holdout} but only {len(passing)} episodes pass", "lower --holdout")
    strata: dict[str, list[str]] = {}
    for r in passing:
        key = ""
        if stratify_by:
            attrs = r.get("attrs", {})
            if stratify_by not in attrs:
                known = sorted({k for row in rows for k in row.get("attrs", {})})
                raise ConfigError(
                    f"{r['file']} has no attribute {stratify_by!r} in the report",
                    f"stratify by one of: {', '.join(known) or 'none recorded'}",
                )
            key = str(attrs[stratify_by])
        strata.setdefault(key, []).append(r["file"])
    sizes = {k: len(v) for k, v in strata.items()}
    n_hold = _allocate(holdout, sizes)
    rest = {k: sizes[k] - n_hold[k] for k in sizes}
    n_val = _allocate(round(val * sum(rest.values())), rest)
    train: list[str] = []
    val_files: list[str] = []
    hold_files: list[str] = []
    for key in sorted(strata):
        files = list(strata[key])
        random.Random(f"{seed}:{key}").shuffle(files)  # str seeds hash with SHA-512: stable across runs
        hold_files += files[: n_hold[key]]
        val_files += files[n_hold[key] : n_hold[key] + n_val[key]]
        train += files[n_hold[key] + n_val[key] :]
    splits = Splits(
        train=sorted(train, key=_order),
        val=sorted(val_files, key=_order),
        holdout=sorted(hold_files, key=_order),
        excluded=dict(sorted(excluded.items(), key=lambda kv: _order(kv[0]))),
        seed=seed,
        report_sha256=sha256_file(where / REPORT_JSON),
        trim={r["file"]: spans for r in passing if (spans := trim_spans(r))},
        overrides={k: v for k, v in overrides.items() if k not in excluded},
    )
    splits.save(where)
    return splits
