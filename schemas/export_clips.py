"""What an export takes from a dataset: the split's episodes, trims applied, as clips of ticks.

Both exports (`export_lerobot`, `export_aloha`) read the dataset through this module: the split must
still hold (`verify_split`), and each episode's kept spans (`Splits.kept_spans`) become clips. An
episode trimmed only at its edges gives one clip; a cut in the middle gives one clip per side, since
no consumer of the exports knows about gaps inside an episode.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import write_json_atomic
from demoforge.schemas.episode_layout import episode_order
from demoforge.schemas.episode_source import AnyEpisodeReader, open_named
from demoforge.schemas.errors import ConfigError, EpisodeError
from demoforge.schemas.splits import Span, Splits, verify_split

SPLIT_NAMES = ("train", "val", "holdout")
SOURCE_JSON = "demoforge_source.json"  # written into every export: which episode and ticks each clip is


@dataclass(frozen=True)
class Clip:
    """Ticks [start, stop) of one source episode; exported as one episode."""

    file: str  # episode_<i>.hdf5 in the dataset folder
    start: int
    stop: int
    split: str

    @property
    def length(self) -> int:
        return self.stop - self.start


def parse_splits(text: str) -> list[str]:
    """`train`, `train,val` or `all` -> split names."""
    names = list(SPLIT_NAMES) if text == "all" else [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in SPLIT_NAMES]
    if bad or not names:
        raise ConfigError(
            f"unknown split {', '.join(bad) or repr(text)}", "use train, val, holdout, a list or all"
        )
    return names


def tick_ranges(times: np.ndarray, spans: list[Span]) -> list[tuple[int, int]]:
    """[start, stop) tick ranges of the ticks whose time lies in [a, b) of each span (empty ones left out)."""
    ranges = []
    for a, b in spans:
        start, stop = int(np.searchsorted(times, a, "left")), int(np.searchsorted(times, b, "left"))
        if stop > start:
            ranges.append((start, stop))
    return ranges


def clips_of(ep: AnyEpisodeReader, splits: Splits, split: str) -> list[Clip]:
    """The kept spans of one episode as clips of ticks (in the episode time reports and trims use)."""
    if ep.fps is None:
        raise EpisodeError(
            f"{ep.path} has no fps attribute: its episode time, and so its trims, are unknown",
            "pass --fps (ALOHA records at 50), or set the file's root attribute fps",
        )
    period = 1.0 / ep.fps
    ts = None if L.TIMESTAMPS in ep.missing else ep.array(L.TIMESTAMPS, check_finite=False)
    times = L.tick_times(ts, ep.length, period)
    spans = splits.kept_spans(ep.path.name, L.episode_duration(times, period))
    return [Clip(ep.path.name, a, b, split) for a, b in tick_ranges(times, spans)]


def assumed_fps(reports: str | Path) -> float | None:
    """The rate `check` gave files without an fps attribute (its thresholds' nominal_fps): trims are in
    the seconds it measured at that rate."""
    from demoforge.schemas.splits import load_report

    fps = load_report(reports).get("thresholds", {}).get("nominal_fps")
    return float(fps) if isinstance(fps, int | float) and fps > 0 else None


def curated_clips(
    folder: str | Path, split_names: list[str], fps: float | None = None, reports: str | Path | None = None
) -> tuple[Splits, list[Clip]]:
    """The verified split of a dataset and the clips of the episodes in `split_names`.

    Ordered by split (as named), then episode number: each split is one contiguous range of the export.
    """
    folder = Path(folder)
    splits = verify_split(folder, reports)
    chosen = [(name, s) for s in split_names for name in sorted(getattr(splits, s), key=_number)]
    if not chosen:
        raise ConfigError(
            f"{folder}: the {'/'.join(split_names)} split holds no episodes",
            "choose another --split, or cut the split again with `demoforge split`",
        )
    clips: list[Clip] = []
    for name, split in chosen:
        with open_named(folder, name, fps) as ep:
            clips.extend(clips_of(ep, splits, split))
    return splits, clips


def _number(name: str) -> int:
    return episode_order(name)


def split_ranges(clips: list[Clip]) -> dict[str, str]:
    """{split: "first:stop"} over the export's episode indices (clips are grouped by split)."""
    ranges: dict[str, str] = {}
    for s in dict.fromkeys(c.split for c in clips):
        idx = [i for i, c in enumerate(clips) if c.split == s]
        ranges[s] = f"{idx[0]}:{idx[-1] + 1}"
    return ranges


@contextmanager
def output_folder(out: str | Path) -> Iterator[Path]:
    """A staging folder beside `out`, renamed to `out` when the export succeeds and removed when it fails.

    `out` must not exist or be empty: exports never overwrite, and a failed one leaves nothing behind.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not empty", "choose a new output folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield staging
        staging.chmod(0o755)  # mkdtemp makes 0700; an export is shared like any dataset
        os.replace(staging, out)  # replaces an empty folder too
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_source(path: Path, folder: Path, splits: Splits, clips: list[Clip], extra: dict[str, Any]) -> None:
    """Where each exported episode came from, so an export can be traced back to the checked files."""
    write_json_atomic(
        path,
        {
            "dataset": str(folder.resolve()),
            "report_sha256": splits.report_sha256,
            **extra,
            "episodes": [{"episode_index": i, **asdict(c)} for i, c in enumerate(clips)],
        },
    )
