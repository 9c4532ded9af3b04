"""A small curated dataset for the export tests: report.json and splits.json as check and split leave them."""

from __future__ import annotations

import json
from pathlib import Path

from demoforge.schemas.dataset import REPORT_JSON
from demoforge.schemas.splits import Splits, file_fingerprint, sha256_file
from tests.schemas.conftest import write_episode

LENGTHS = (30, 26, 20, 24, 34)  # ticks of episode_0 .. episode_4 (50 Hz)


def curated_dataset(folder: Path, *, compress: bool = True) -> Path:
    """episode_2 excluded, episode_3 in val; episode_1 trimmed at its start, episode_4 cut in the middle."""
    folder.mkdir(parents=True)
    rows = []
    for i, n in enumerate(LENGTHS):
        path = write_episode(folder / f"episode_{i}.hdf5", n=n, compress=compress)
        verdict = "fail" if i == 2 else "pass"
        rows.append({"file": path.name, "verdict": verdict, "fingerprint": file_fingerprint(path)})
    report = folder / REPORT_JSON
    report.parent.mkdir()
    report.write_text(json.dumps({"schema_version": 1, "episodes": rows}))
    Splits(
        train=["episode_4.hdf5", "episode_0.hdf5", "episode_1.hdf5"],
        val=["episode_3.hdf5"],
        holdout=[],
        excluded={"episode_2.hdf5": ["pause"]},
        seed=0,
        report_sha256=sha256_file(report),
        trim={"episode_1.hdf5": [(0.0, 0.1)], "episode_4.hdf5": [(0.2, 0.3)]},
    ).save(folder)
    return folder


# (source file, first tick, ticks) of every exported episode of the train split, in export order
TRAIN_CLIPS = [
    ("episode_0.hdf5", 0, 30),
    ("episode_1.hdf5", 5, 21),
    ("episode_4.hdf5", 0, 10),
    ("episode_4.hdf5", 15, 19),
]
