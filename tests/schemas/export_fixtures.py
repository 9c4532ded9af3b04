"""Datasets for the export and JPEG tests: curated (report.json + splits.json), early true-colour files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import h5py

from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import REPORT_JSON, episode_files
from demoforge.schemas.episode_writer import EpisodeWriter
from demoforge.schemas.splits import Splits, file_fingerprint, sha256_file
from tests.schemas.conftest import frame, make_attrs, make_tick, write_episode

LENGTHS = (30, 26, 20, 24, 34)  # ticks of episode_0 .. episode_4 (50 Hz)


def curated_dataset(folder: Path, *, compress: bool = True) -> Path:
    """episode_2 excluded, episode_3 in val; episode_1 trimmed at its start, episode_4 cut in the middle."""
    folder.mkdir(parents=True)
    for i, n in enumerate(LENGTHS):
        write_episode(folder / f"episode_{i}.hdf5", n=n, compress=compress)
    return curate(
        folder,
        train=["episode_4.hdf5", "episode_0.hdf5", "episode_1.hdf5"],
        val=["episode_3.hdf5"],
        excluded={"episode_2.hdf5": ["pause"]},
        trim={"episode_1.hdf5": [(0.0, 0.1)], "episode_4.hdf5": [(0.2, 0.3)]},
    )


def curate(
    folder: Path,
    train: list[str],
    val: list[str] | None = None,
    excluded: dict[str, list[str]] | None = None,
    trim: dict[str, list[tuple[float, float]]] | None = None,
) -> Path:
    """report.json (with the files' fingerprints) and a splits.json cut from it, as check and split do."""
    excluded = excluded or {}
    rows = [
        {
            "file": p.name,
            "verdict": "fail" if p.name in excluded else "pass",
            "fingerprint": file_fingerprint(p),
        }
        for p in episode_files(folder)
    ]
    for row in rows:
        if row["file"] in excluded:
            row["verdict"] = "fail"
    report = folder / REPORT_JSON
    report.parent.mkdir(exist_ok=True)
    report.write_text(json.dumps({"schema_version": 1, "episodes": rows}))
    Splits(
        train=train,
        val=val or [],
        holdout=[],
        excluded=excluded,
        seed=0,
        report_sha256=sha256_file(report),
        trim=trim or {},
    ).save(folder)
    return folder


# (source file, first tick, ticks) of every exported episode of the train split, in export order
TRAIN_CLIPS = [
    ("episode_0.hdf5", 0, 30),
    ("episode_1.hdf5", 5, 21),
    ("episode_4.hdf5", 0, 10),
    ("episode_4.hdf5", 15, 19),
]


def write_true_colour_episode(path: Path, n: int, *, keep_attr: bool) -> Path:
    """A file as early demoforge wrote it: BGR handed to the encoder (true-colour JPEG)."""
    w = EpisodeWriter(path, make_attrs(compress=True))
    for t in range(n):
        tick = make_tick(t)
        tick.frames = {
            cam: replace(s, jpeg=cv2.imencode(".jpg", frame(cam, t)[..., ::-1])[1].reshape(-1))
            for cam, s in tick.frames.items()
        }
        w.append(tick)
    w.close(success=1)
    with h5py.File(path, "r+") as f:
        if keep_attr:
            f.attrs[L.JPEG_CHANNEL_ORDER] = L.JPEG_TRUE_COLOUR
        else:
            del f.attrs[L.JPEG_CHANNEL_ORDER]  # early files had no attribute
    return path
