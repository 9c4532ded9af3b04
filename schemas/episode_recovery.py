"""Recovery: turn episodes cut off by a crash into valid files marked `complete=false`.

A recorder killed mid-episode leaves a file whose SWMR write flag is still set (a plain open is
refused) and whose datasets may differ in length by the rows of one unfinished flush. Recovery
opens it as the reader does (`open_episode_file`), keeps the ticks every dataset has, replays them
through `EpisodeWriter` into a fresh file beside it (so the recovered file has exactly the layout the
writer makes), checks that it reads back, and only then replaces the original: nothing that was
readable is lost. Datasets outside the layout are not carried over (the writer never makes any).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import Manifest, episode_entry, episode_files
from demoforge.schemas.episode_reader import EpisodeReader, open_episode_file
from demoforge.schemas.episode_writer import CameraSample, EpisodeWriter, Tick
from demoforge.schemas.errors import EpisodeError
from demoforge.schemas.writable import environment_error

COPY_ROWS = 64  # ticks read at a time: bounded memory for long raw-image episodes


@dataclass
class Recovered:
    file: str
    ticks: int  # ticks kept
    dropped_rows: int  # rows of an unfinished flush that not every dataset had
    status: str  # "recovered", "intact" or "unrecoverable: ..."


def recover_episode(path: Path) -> Recovered:
    """Recover one file if it needs it; never touches a file that reads cleanly."""
    try:
        with EpisodeReader(path) as ep:
            if not ep.cut_off:
                return Recovered(path.name, ep.length, 0, "intact")
    except EpisodeError:
        pass
    try:
        src, _ = open_episode_file(path)
    except EpisodeError as e:
        return Recovered(path.name, 0, 0, f"unrecoverable: {e.message.replace(str(path) + ': ', '')}")
    tmp = path.with_name(f".{path.name}.recovering")
    try:
        with src:
            if not isinstance(src.get(L.QPOS), h5py.Dataset) or not isinstance(
                src.get(L.ACTION), h5py.Dataset
            ):
                return Recovered(path.name, 0, 0, "unrecoverable: no /observations/qpos or /action")
            n, longest = _common_length(src)
            tmp.unlink(missing_ok=True)
            _replay(src, tmp, n)
        with EpisodeReader(tmp) as check:
            if check.length != n:
                raise EpisodeError(
                    f"{tmp}: recovered copy has {check.length} ticks, expected {n}", "report this as a bug"
                )
        os.replace(tmp, path)
        return Recovered(path.name, n, longest - n, "recovered")
    except (OSError, EpisodeError, ValueError, KeyError, TypeError) as e:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and (mapped := environment_error(e)) is not None:
            raise mapped from None  # the folder cannot be written: the file is fine, only not here
        return Recovered(path.name, 0, 0, f"unrecoverable: {e}")


def _common_length(f: h5py.File) -> tuple[int, int]:
    """(ticks every per-tick dataset has, the longest one's ticks); compress_len has ticks on axis 1."""
    lengths: list[int] = []

    def visit(name: str, obj: object) -> None:
        if isinstance(obj, h5py.Dataset):
            lengths.append(obj.shape[1] if "/" + name == L.COMPRESS_LEN else obj.shape[0])

    f.visititems(visit)
    return min(lengths), max(lengths)


def _replay(src: h5py.File, dst: Path, n: int) -> None:
    """Write the first n ticks of `src` to a new file `dst` through the writer (complete=false)."""
    attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in src.attrs.items()}
    layout = L.EpisodeAttrs.from_hdf5(attrs)
    cams = [c.name for c in layout.cameras]
    optional = [name for name in _optional_names(cams) if isinstance(src.get(name), h5py.Dataset)]
    writer = EpisodeWriter(dst, layout, optional=optional)
    try:
        for a in range(0, n, COPY_ROWS):
            for tick in _ticks(src, cams, optional, layout.compress, a, min(n, a + COPY_ROWS)):
                writer.append(tick)
    except BaseException:
        writer.abort()
        raise
    writer.close(loop_stats=_stats_from(src, n), complete=False)
    with h5py.File(dst, "r+") as f:  # root attributes the writer does not know (newer software) stay
        for k, v in src.attrs.items():
            if k not in f.attrs:
                f.attrs[k] = v


def _optional_names(cams: list[str]) -> list[str]:
    return [*L.TICK_SCALARS, *(p for c in cams for p in (L.device_time_path(c), L.device_index_path(c)))]


def _ticks(
    src: h5py.File, cams: list[str], optional: list[str], compress: bool, a: int, b: int
) -> list[Tick]:
    joints = {name: np.asarray(src[name][a:b]) for name in L.JOINT_DATASETS}
    ts = np.asarray(src[L.TIMESTAMPS][a:b])
    extra = {name: np.asarray(src[name][a:b]) for name in optional}
    per_cam = {
        c: (
            np.asarray(src[L.image_path(c)][a:b]),
            np.asarray(src[L.frame_time_path(c)][a:b]),
            np.asarray(src[L.frame_index_path(c)][a:b]),
        )
        for c in cams
    }
    lengths = np.asarray(src[L.COMPRESS_LEN][:, a:b]) if compress and cams else None
    ticks = []
    for i in range(b - a):
        frames = {}
        for ci, c in enumerate(cams):
            images, ftime, fidx = per_cam[c]
            dtime = extra.get(L.device_time_path(c))
            didx = extra.get(L.device_index_path(c))
            device_time = None if dtime is None or np.isnan(dtime[i]) else float(dtime[i])
            device_index = None if didx is None or didx[i] < 0 else int(didx[i])
            timing = float(ftime[i]), int(fidx[i])
            if lengths is None:
                frames[c] = CameraSample(
                    *timing, image=images[i], device_time=device_time, device_index=device_index
                )
            elif lengths[ci, i] > 0:  # 0: the camera had no frame at this tick
                jpeg = images[i, : lengths[ci, i]]
                frames[c] = CameraSample(
                    *timing, jpeg=jpeg, device_time=device_time, device_index=device_index
                )
        ticks.append(
            Tick(
                float(ts[i]),
                qpos=joints[L.QPOS][i],
                qvel=joints[L.QVEL][i],
                effort=joints[L.EFFORT][i],
                action=joints[L.ACTION][i],
                leader_qpos=joints[L.LEADER_QPOS][i],
                frames=frames,
                scalars={name: float(extra[name][i]) for name in L.TICK_SCALARS if name in extra},
            )
        )
    return ticks


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
    if (folder / "dataset.json").exists() and any(r.status == "recovered" for r in results):
        manifest = Manifest.load(folder)
        for r in results:
            if r.status == "recovered":
                manifest.upsert(episode_entry(folder / r.file))
        manifest.save(folder)
    return results
