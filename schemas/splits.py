"""The split contract: `quality/report.json` as read back, `splits.json`, and the proof they still hold.

`quality/` writes both documents; the trainer reads them through this module alone (it never imports
`quality/`). A split is trusted only while the report it was cut from is unchanged (SHA-256 of
report.json) and every episode it names is the file that was checked (size + modification time, the
fingerprint the report stores for each episode).

splits.json versions: 1 = train / val / holdout / excluded / seed / report_sha256; 2 adds `trim`
(per episode, [start_s, end_s] spans the trainer leaves out) and `overrides` (per episode, findings
a person accepted, with the reason). Version 1 files read as version 2 with neither.

report.json versions: 1 as DESIGN.md shows it; 2 adds `incident` to each finding, a string shared by
the findings of one episode that one event caused (e.g. "episode_3#2": a stalled camera's frame_drop,
stale_frame and camera_sync). Version 1 reports read with no `incident` keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demoforge.schemas.dataset import REPORT_JSON, SPLITS, episode_files, read_json, write_json_atomic
from demoforge.schemas.episode_layout import episode_index_of
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.lerobot_reader import is_lerobot

REPORT_SCHEMA_VERSION = 2
READABLE_REPORT_VERSIONS = (1, 2)
SPLITS_SCHEMA_VERSION = 2
READABLE_SPLITS_VERSIONS = (1, 2)

Span = tuple[float, float]  # [start_s, end_s] in episode time


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_fingerprint(path: str | Path) -> dict[str, int]:
    """Size + mtime_ns: cheap proof that an episode file is the one that was checked."""
    st = Path(path).stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def load_report(folder: str | Path) -> dict[str, Any]:
    """The dataset's report.json, checked for the keys other tools rely on."""
    path = Path(folder) / REPORT_JSON
    data = read_json(path, "quality report (run `demoforge check` first)")
    fix = "run `demoforge check` on the dataset again"
    if data.get("schema_version") not in READABLE_REPORT_VERSIONS:
        raise ConfigError(
            f"{path}: schema_version {data.get('schema_version')!r} is not one of "
            f"{', '.join(map(str, READABLE_REPORT_VERSIONS))}",
            fix,
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
            and isinstance(f.get("incident", ""), str)
            for f in findings
        ):
            raise ConfigError(f"{path}: episode row {i} has malformed findings", fix)
        if not isinstance(row.setdefault("attrs", {}), dict):
            raise ConfigError(f"{path}: episode row {i} has malformed attrs", fix)
    return data


def _check_fingerprint(folder: Path, name: str, row: dict[str, Any], fix: str) -> None:
    if is_lerobot(folder):  # a LeRobot episode: the data file its rows are in
        from demoforge.schemas.episode_source import lerobot_source

        meta = lerobot_source(str(folder)).episodes.get(row.get("episode_index"))  # type: ignore[arg-type]
        if meta is None:
            raise ConfigError(f"{folder}: {name} is in the quality report but no longer in the dataset", fix)
        if row.get("fingerprint") != file_fingerprint(meta.data_file):
            raise ConfigError(f"{meta.data_file} changed since the quality report was made", fix)
        return
    path = folder / name
    if not path.is_file():
        raise ConfigError(f"{path} is in the quality report but no longer on disk", fix)
    if row.get("fingerprint") != file_fingerprint(path):
        raise ConfigError(f"{path} changed since {folder / REPORT_JSON} was made (size or time differ)", fix)


def check_report_current(folder: str | Path, report: dict[str, Any]) -> None:
    """Raise ConfigError when an episode file changed, vanished or appeared since the report was made."""
    folder = Path(folder)
    fix = "run `demoforge check` again, then `demoforge split`"
    if is_lerobot(folder):
        _check_lerobot_current(folder, report, fix)
        return
    rows = {r["file"]: r for r in report["episodes"]}
    for path in episode_files(folder):
        if path.name not in rows:
            raise ConfigError(f"{path} is not in {folder / REPORT_JSON} (recorded after the check)", fix)
    for name, row in rows.items():
        _check_fingerprint(folder, name, row, fix)


def _check_lerobot_current(folder: Path, report: dict[str, Any], fix: str) -> None:
    """A LeRobot dataset: the same episodes, and each one's data file unchanged since the check."""
    from demoforge.schemas.episode_source import lerobot_source

    lerobot_source.cache_clear()
    src = lerobot_source(str(folder))
    rows = {r.get("episode_index"): r for r in report["episodes"]}
    for index, meta in src.episodes.items():
        row = rows.get(index)
        if row is None:
            raise ConfigError(f"{folder}: episode {index} is not in the quality report (added since)", fix)
        if row.get("fingerprint") != file_fingerprint(meta.data_file):
            raise ConfigError(f"{meta.data_file} changed since the quality report was made", fix)
    gone = sorted(set(rows) - set(src.episodes), key=str)
    if gone:
        raise ConfigError(
            f"{folder}: episodes {gone} of the quality report are no longer in the dataset", fix
        )


def _spans(value: Any) -> list[Span]:
    spans = [(float(a), float(b)) for a, b in value]
    if any(not 0.0 <= a < b for a, b in spans):
        raise ValueError(f"trim spans must be [start_s, end_s] with 0 <= start < end, not {value}")
    return spans


@dataclass
class Splits:
    """`splits.json`: train / val / holdout files, excluded files with reasons, trims, overrides."""

    train: list[str]
    val: list[str]
    holdout: list[str]
    excluded: dict[str, list[str]]  # file -> ids of the checks that excluded it
    seed: int
    report_sha256: str
    trim: dict[str, list[Span]] = field(default_factory=dict)  # file -> spans the trainer leaves out
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # file -> {accept: [ids], reason}
    schema_version: int = SPLITS_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "train": self.train,
            "val": self.val,
            "holdout": self.holdout,
            "excluded": self.excluded,
            "trim": {k: [list(s) for s in v] for k, v in self.trim.items()},
            "overrides": self.overrides,
            "seed": self.seed,
            "report_sha256": self.report_sha256,
        }

    def save(self, folder: str | Path) -> None:
        write_json_atomic(Path(folder) / SPLITS, self.to_json())

    @classmethod
    def load(cls, folder: str | Path) -> Splits:
        path = Path(folder) / SPLITS
        d = read_json(path, "splits file")
        fix = "run `demoforge check` then `demoforge split` on the dataset"
        version = d.get("schema_version", 1)
        if version not in READABLE_SPLITS_VERSIONS:
            raise ConfigError(
                f"{path}: schema_version {version!r} is newer than this demoforge reads",
                "upgrade demoforge, or cut the split again with this version",
            )
        try:
            lists = {k: [str(x) for x in d[k]] for k in ("train", "val", "holdout")}
            splits = cls(
                **lists,
                excluded={str(k): [str(r) for r in v] for k, v in d["excluded"].items()},
                seed=int(d["seed"]),
                report_sha256=str(d["report_sha256"]),
                trim={str(k): _spans(v) for k, v in d.get("trim", {}).items()},
                overrides={str(k): dict(v) for k, v in d.get("overrides", {}).items()},
                schema_version=int(version),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ConfigError(f"{path}: malformed splits file ({e})", fix) from None
        seen: set[str] = set()
        for name in splits.train + splits.val + splits.holdout:
            if name in seen:
                raise ConfigError(f"{path}: {name} appears in more than one split", fix)
            if episode_index_of(name) is None:
                raise ConfigError(f"{path}: {name!r} is not an episode file name", fix)
            seen.add(name)
        return splits

    def kept_spans(self, name: str, duration_s: float) -> list[Span]:
        """The parts of an episode the trainer uses: [0, duration] minus this episode's trimmed spans."""
        keep: list[Span] = []
        t = 0.0
        for a, b in sorted(self.trim.get(name, [])):
            if a > t:
                keep.append((t, min(a, duration_s)))
            t = max(t, b)
        if t < duration_s:
            keep.append((t, duration_s))
        return [(a, b) for a, b in keep if b > a]


def verify_split(folder: str | Path, reports: str | Path | None = None) -> Splits:
    """The dataset's splits if they still hold; ConfigError naming the fix otherwise.

    Refuses when there is no split, when report.json changed since the split was cut, and when an
    episode the split names changed, vanished or is not in the report. `reports`: where
    `check --out` / `split --out` wrote them (default: the dataset folder).
    """
    folder = Path(folder)
    where = Path(reports) if reports is not None else folder
    if not (where / SPLITS).exists():
        raise ConfigError(
            f"{where} has no {SPLITS}: nothing says which episodes are fit to train on",
            f"run `demoforge check {folder}` then `demoforge split {folder}`",
        )
    splits = Splits.load(where)
    report_path = where / REPORT_JSON
    fix = "run `demoforge check` then `demoforge split` again"
    if not report_path.exists():
        raise ConfigError(f"{report_path} is missing, the split {where / SPLITS} cannot be verified", fix)
    if sha256_file(report_path) != splits.report_sha256:
        raise ConfigError(f"{where / SPLITS} was cut from another quality report than {report_path}", fix)
    rows = {r["file"]: r for r in load_report(where)["episodes"]}
    for name in splits.train + splits.val + splits.holdout:
        if name not in rows:
            raise ConfigError(f"{where / SPLITS} lists {name}, which the quality report does not", fix)
        _check_fingerprint(folder, name, rows[name], fix)
    return splits


__all__ = [
    "READABLE_REPORT_VERSIONS",
    "REPORT_SCHEMA_VERSION",
    "SPLITS_SCHEMA_VERSION",
    "Span",
    "Splits",
    "check_report_current",
    "file_fingerprint",
    "load_report",
    "sha256_file",
    "verify_split",
]
