"""`recover`: turn episodes cut off by a crash into valid files marked `complete=false`.

A recorder killed mid-episode leaves a file whose SWMR write flag is still set (a plain open is
refused) and whose datasets may differ in length by the rows of one unfinished flush. Recovery
reads it in SWMR mode, keeps the ticks every dataset has, writes a fresh file beside it, checks
that it reads back, and only then replaces the original: nothing that was readable is lost.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import EpisodeEntry, Manifest, episode_files
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import EpisodeError

COPY_ROWS = 64  # image rows copied at a time: bounded memory for long raw-image episodes


@dataclass
class Recovered:
    file: str
    ticks: int  # ticks kept
    dropped_rows: int  # rows of an unfinished flush that not every dataset had
    status: str  # "recovered", "intact" or "unrecoverable: ..."


def _open_cut(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError:
        return h5py.File(path, "r", libver="latest", swmr=True)


def _per_tick_datasets(f: h5py.File) -> dict[str, h5py.Dataset]:
    """Every dataset with one row per tick (compress_len has ticks on axis 1)."""
    out: dict[str, h5py.Dataset] = {}

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset) and "/" + name != L.COMPRESS_LEN:
            out["/" + name] = obj

    f.visititems(visit)
    return out


def recover_episode(path: Path) -> Recovered:
    """Recover one file if it needs it; never touches a file that reads cleanly."""
    try:
        with EpisodeReader(path) as ep:
            if not ep.cut_off:
                return Recovered(path.name, ep.length, 0, "intact")
    except EpisodeError:
        pass
    try:
        src = _open_cut(path)
    except OSError as e:
        return Recovered(path.name, 0, 0, f"unrecoverable: not readable as HDF5 ({e})")
    tmp = path.with_name(f".{path.name}.recovering")
    try:
        with src:
            data = _per_tick_datasets(src)
            if L.QPOS not in data or L.ACTION not in data:
                return Recovered(path.name, 0, 0, "unrecoverable: no /observations/qpos or /action")
            lengths = [ds.shape[0] for ds in data.values()]
            clen = src.get(L.COMPRESS_LEN)
            if isinstance(clen, h5py.Dataset):
                lengths.append(clen.shape[1])
            n = min(lengths)
            tmp.unlink(missing_ok=True)
            with h5py.File(tmp, "w") as dst:
                for key, value in src.attrs.items():
                    dst.attrs[key] = value
                for name, ds in data.items():
                    shape = (n, *ds.shape[1:])
                    chunks = (
                        tuple(max(1, min(c, d)) for c, d in zip(ds.chunks, shape, strict=True))
                        if ds.chunks and all(shape)
                        else None
                    )
                    out = dst.create_dataset(name, shape, ds.dtype, chunks=chunks)
                    for a in range(0, n, COPY_ROWS):
                        out[a : min(n, a + COPY_ROWS)] = ds[a : min(n, a + COPY_ROWS)]
                if isinstance(clen, h5py.Dataset):
                    dst.create_dataset(L.COMPRESS_LEN, data=np.asarray(clen[:, :n]))
                dst.attrs["complete"] = False
                stats = _stats_from(dst, n)
                dst.attrs["loop_stats"] = json.dumps(stats)
        with EpisodeReader(tmp) as check:
            if check.length != n:
                raise EpisodeError(
                    f"{tmp}: recovered copy has {check.length} ticks, expected {n}", "report this as a bug"
                )
        os.replace(tmp, path)
        return Recovered(path.name, n, max(lengths) - n, "recovered")
    except (OSError, EpisodeError, ValueError, KeyError) as e:
        tmp.unlink(missing_ok=True)
        return Recovered(path.name, 0, 0, f"unrecoverable: {e}")


def _stats_from(f: h5py.File, n: int) -> dict[str, object]:
    """Loop statistics rebuilt from the timestamps (the recorder writes them only on a clean close)."""
    stats: dict[str, object] = {"recovered": True, "ticks": n}
    ts = f.get(L.TIMESTAMPS)
    if isinstance(ts, h5py.Dataset) and n > 1:
        t = np.asarray(ts[:n])
        stats["achieved_hz"] = round(float((n - 1) / (t[-1] - t[0])), 3) if t[-1] > t[0] else 0.0
    return stats


def recover_dataset(folder: Path) -> list[Recovered]:
    """Recover every cut-off episode of a dataset and bring its manifest up to date."""
    results = [recover_episode(p) for p in episode_files(folder)]
    if (folder / "dataset.json").exists():
        manifest = Manifest.load(folder)
        for r in results:
            if r.status == "recovered":
                with EpisodeReader(folder / r.file) as ep:
                    manifest.upsert(
                        EpisodeEntry(
                            r.file,
                            ep.length,
                            ep.success,
                            ep.complete,
                            str(ep.attrs.get("started_at", "")),
                            str(ep.attrs.get("task", "")),
                        )
                    )
        manifest.save(folder)
    return results
