"""`export --to aloha`: the curated clips as episodes the original ACT loader (and act-plus-plus) read.

What those loaders need, checked against their `utils.py` (docs/interoperability.md): files named
`episode_0.hdf5` .. `episode_<N-1>.hdf5` with no gap; `/observations/qpos`, `/observations/qvel`,
`/observations/images/<cam>`, `/action`; root attribute `sim`. Original ACT cannot decode JPEG, so raw
(T, H, W, 3) frames are the default; `jpeg` writes the ALOHA convention (act-plus-plus decodes it).
Original ACT also stacks all episodes to compute its normalization, so they must be equally long:
`same_length` cuts every clip to the shortest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.export_clips import (
    SOURCE_JSON,
    Clip,
    assumed_fps,
    curated_clips,
    output_folder,
    write_source,
)
from demoforge.schemas.jpeg import CHANNEL_ORDER, encode_jpeg

Progress = Callable[[int, int], None]  # (episodes done, episodes in all)


def export_aloha(
    folder: str | Path,
    out: str | Path,
    split_names: list[str],
    *,
    jpeg: bool = False,
    same_length: bool = False,
    jpeg_quality: int = 90,
    progress: Progress | None = None,
    fps: float | None = None,
) -> list[Path]:
    """Write the clips of `split_names` to `out` as episode_0..N-1.hdf5; returns the files written."""
    folder = Path(folder)
    fps = fps or assumed_fps(folder)  # files without an fps attribute: the rate their check assumed
    splits, clips = curated_clips(folder, split_names, fps)
    if same_length:
        shortest = min(c.length for c in clips)
        clips = [Clip(c.file, c.start, c.start + shortest, c.split) for c in clips]
    with output_folder(out) as staging:
        for i, clip in enumerate(clips):
            with EpisodeReader(folder / clip.file, default_fps=fps) as ep:
                _write_clip(ep, clip, staging / L.episode_name(i), jpeg, jpeg_quality)
            if progress is not None:
                progress(i + 1, len(clips))
        write_source(
            staging / SOURCE_JSON,
            folder,
            splits,
            clips,
            {"format": "aloha", "images": "jpeg" if jpeg else "raw"},
        )
    return [Path(out) / L.episode_name(i) for i in range(len(clips))]


def _write_clip(ep: EpisodeReader, clip: Clip, path: Path, jpeg: bool, quality: int) -> Path:
    rows = slice(clip.start, clip.stop)
    n = clip.length
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = ep.sim
        f.attrs["compress"] = jpeg
        if jpeg:
            f.attrs[L.JPEG_CHANNEL_ORDER] = CHANNEL_ORDER
        if ep.fps:
            f.attrs["fps"] = ep.fps
        f.attrs["joint_names"] = json.dumps(ep.joint_names)
        for key in ("robot", "task"):
            if key in ep.attrs:
                f.attrs[key] = str(ep.attrs[key])
        f.attrs["source"] = f"{clip.file} ticks {clip.start}:{clip.stop}"
        for name, arr in ((L.QPOS, ep.qpos), (L.QVEL, ep.qvel), (L.EFFORT, ep.effort), (L.ACTION, ep.action)):
            if arr is not None:
                f.create_dataset(name, data=np.asarray(arr[rows], np.float32))
        if ep.timestamps is not None:
            f.create_dataset(L.TIMESTAMPS, data=ep.timestamps[rows] - ep.timestamps[clip.start])
        lengths = []
        for cam in ep.cameras:
            if jpeg:
                payloads = [_aloha_jpeg(ep, cam, t, quality) for t in range(clip.start, clip.stop)]
                width = max(len(p) for p in payloads)
                block = np.zeros((n, width), np.uint8)
                for i, p in enumerate(payloads):
                    block[i, : len(p)] = p
                f.create_dataset(L.image_path(cam), data=block, chunks=(1, width))
                lengths.append([len(p) for p in payloads])
            else:
                first = ep.image(cam, clip.start)
                ds = f.create_dataset(
                    L.image_path(cam), (n, *first.shape), np.uint8, chunks=(1, *first.shape)
                )
                for i, t in enumerate(range(clip.start, clip.stop)):
                    ds[i] = first if i == 0 else ep.image(cam, t)
        if jpeg and lengths:
            f.create_dataset(L.COMPRESS_LEN, data=np.asarray(lengths, np.int32))
    return path


def _aloha_jpeg(ep: EpisodeReader, cam: str, t: int, quality: int) -> np.ndarray:
    """The frame as an ALOHA-convention JPEG: the stored bytes when they already are, else re-encoded."""
    if ep.compressed and len(ep.image_shapes[cam]) == 1 and ep.jpeg_channel_order == CHANNEL_ORDER:
        return ep.jpeg_payload(cam, t)  # no second lossy pass
    return encode_jpeg(ep.image(cam, t), quality)
