"""The writer's output is pinned: the same ticks give the same datasets and attributes as before.

`golden_episode.json` holds the shape, dtype and SHA-256 of every dataset and every root attribute
of two episodes (JPEG and raw) written by the writer before `Tick.frames` and the optional datasets
existed (regenerated for schema version 2: JPEG payloads in the ALOHA channel convention).
A change of the file format must show up here (and bump `SCHEMA_VERSION`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

from demoforge.schemas.episode_writer import CameraSample, EpisodeWriter, Tick
from demoforge.schemas.jpeg import encode_jpeg
from tests.schemas.conftest import CAMS, frame, make_attrs

GOLDEN = json.loads((Path(__file__).parent / "golden_episode.json").read_text())


def digest(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"datasets": {}, "attrs": {}}
    with h5py.File(path, "r") as f:

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset):
                a = np.ascontiguousarray(obj[()])
                out["datasets"]["/" + name] = [
                    list(a.shape),
                    str(a.dtype),
                    hashlib.sha256(a.tobytes()).hexdigest(),
                ]

        f.visititems(visit)
        for k, v in f.attrs.items():
            out["attrs"][k] = (
                v.tolist() if isinstance(v, np.ndarray) else (v.item() if isinstance(v, np.generic) else v)
            )
    return out


def golden_ticks(compress: bool) -> list[Tick]:
    """Uneven tick times, frames repeated over two ticks, and a wrist camera late to start (JPEG)."""
    ticks = []
    for t in range(30):
        q = np.sin(np.arange(3) + t * 0.1).astype(np.float32)
        frames = {}
        for c in CAMS:
            if compress and c == "cam_wrist" and t in (0, 1):
                continue
            img = frame(c, t // 2)
            timing = t * 0.02 - 0.004 * (1 + t % 2), 100 + t // 2
            frames[c] = (
                CameraSample(*timing, jpeg=encode_jpeg(img, 90))
                if compress
                else CameraSample(*timing, image=img)
            )
        ticks.append(Tick(t * 0.02 + 0.0003 * (t % 3), q, q * 2, q * 3, q + 0.01, q - 0.01, frames))
    return ticks


@pytest.mark.parametrize("compress", [True, False])
def test_same_ticks_same_file_content(tmp_path: Path, compress: bool) -> None:
    path = tmp_path / "episode_0.hdf5"
    w = EpisodeWriter(path, make_attrs(compress), flush_interval=0.1)
    for tick in golden_ticks(compress):
        w.append(tick)
    w.close(success=1, loop_stats={"achieved_hz": 49.9, "overruns": 0})
    assert digest(path) == GOLDEN["compress" if compress else "raw"]


def test_the_sink_encodes_what_the_golden_file_holds(tmp_path: Path) -> None:
    """The recorder's path: RGB frames in, EpisodeSink encodes (quality 90) on its threads."""
    from dataclasses import replace

    from demoforge.collect.episode_sink import EpisodeSink

    path = tmp_path / "episode_0.hdf5"
    sink = EpisodeSink(EpisodeWriter(path, make_attrs(True), flush_interval=0.1), jpeg_quality=90)
    for t, tick in enumerate(golden_ticks(compress=False)):
        frames = dict(tick.frames)
        if t in (0, 1):  # the wrist camera is late to start, as in the golden JPEG ticks
            del frames["cam_wrist"]
        sink.put(replace(tick, frames=frames))
    sink.close(success=1, loop_stats={"achieved_hz": 49.9, "overruns": 0})
    assert digest(path) == GOLDEN["compress"]
