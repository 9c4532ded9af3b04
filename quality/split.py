"""Curated splits from the latest report: passing episodes only, deterministic, optionally stratified."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from quality.report_json import load_report_json
from schemas.dataset import REPORT_JSON, SPLITS, Splits, episode_files, sha256_file
from schemas.episode_layout import episode_number
from schemas.errors import ConfigError


def _order(name: str) -> int:
    return episode_number(name) or 0


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


def check_fingerprints(folder: Path, report: dict[str, Any]) -> None:
    """Raise ConfigError when an episode file changed, vanished or appeared since the report was made."""
    fix = "run `demoforge check` again, then `demoforge split`"
    rows = {r["file"]: r for r in report["episodes"]}
    on_disk = {p.name: p for p in episode_files(folder)}
    for name, path in on_disk.items():
        if name not in rows:
            raise ConfigError(f"{path} is not in {folder / REPORT_JSON} (recorded after the check)", fix)
    for name, row in rows.items():
        if name not in on_disk:
            raise ConfigError(f"{folder / name} is in the quality report but no longer on disk", fix)
        st = on_disk[name].stat()
        if row.get("fingerprint") != {"size": st.st_size, "mtime_ns": st.st_mtime_ns}:
            raise ConfigError(f"{folder / name} changed since {folder / REPORT_JSON} was made", fix)


def make_splits(
    folder: str | Path,
    *,
    val: float = 0.1,
    holdout: int = 0,
    seed: int = 0,
    stratify_by: str | None = None,
) -> Splits:
    """Cut train / val / holdout from the passing episodes of the latest report and save `splits.json`."""
    folder = Path(folder)
    if not 0.0 <= val < 1.0:
        raise ConfigError(f"--val {val} is not a fraction in [0, 1)", "use e.g. --val 0.1")
    if holdout < 0:
        raise ConfigError(f"--holdout {holdout} is negative", "use a count of episodes, e.g. --holdout 5")
    report = load_report_json(folder)
    check_fingerprints(folder, report)
    rows = report["episodes"]
    excluded = {
        r["file"]: list(dict.fromkeys(f["check"] for f in r["findings"] if f.get("severity") == "error"))
        for r in rows
        if r["verdict"] == "fail"
    }
    passing = sorted((r for r in rows if r["verdict"] == "pass"), key=lambda r: _order(r["file"]))
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
        report_sha256=sha256_file(folder / REPORT_JSON),
    )
    splits.save(folder)
    return splits


def verify_split(folder: str | Path) -> Splits:
    """The dataset's splits if still valid; ConfigError when the report hash or a file fingerprint changed."""
    folder = Path(folder)
    splits = Splits.load(folder)
    splits.verify_report(folder)
    report = load_report_json(folder)
    rows = {r["file"]: r for r in report["episodes"]}
    fix = "run `demoforge check` then `demoforge split` again"
    for name in splits.train + splits.val + splits.holdout:
        path = folder / name
        row = rows.get(name)
        if row is None:
            raise ConfigError(f"{folder / SPLITS} lists {name}, which the quality report does not", fix)
        if not path.is_file():
            raise ConfigError(f"{path} is listed in {folder / SPLITS} but missing", fix)
        st = path.stat()
        if row.get("fingerprint") != {"size": st.st_size, "mtime_ns": st.st_mtime_ns}:
            raise ConfigError(f"{path} changed since it was checked (size or modification time differ)", fix)
    return splits
