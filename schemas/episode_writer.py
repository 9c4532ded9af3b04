"""EpisodeWriter: appends ticks to one episode file, crash-safe.

The file is written in HDF5 SWMR mode: every dataset and attribute is created up front (SWMR
forbids creating any later), rows are buffered and written in batches, and the file is flushed
at least every `flush_interval` seconds of episode time. A SIGKILL or power cut therefore loses at
most that interval; the rest reads back with `EpisodeReader` (which opens such a file in SWMR read
mode). The closing attributes (`complete`, `success`, `loop_stats`) are set after the SWMR writer
has closed, by reopening the file normally.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.errors import EpisodeError
from demoforge.schemas.jpeg import CHANNEL_ORDER

JPEG_CHUNK_BYTES = 1 << 14  # padded rows are stored in 16 KiB chunks: < 16 KiB a row beyond the padded width
ROWS = 64  # rows per chunk of the (T, J) datasets; per-tick scalars use 4x this


@dataclass(frozen=True)
class CameraSample:
    """One camera's frame as used at one tick.

    Exactly one of `image` and `jpeg` is set: the control loop hands over the RGB image, and
    `EpisodeSink` (the only encoder) replaces it by its JPEG bytes when the episode is compressed.
    """

    capture_time: float  # s since episode start, host monotonic clock (the tick's clock)
    index: int  # the camera's frame counter as the driver reports it; gaps mean dropped frames
    image: np.ndarray | None = None  # (H, W, 3) uint8 RGB
    jpeg: np.ndarray | None = None  # (L,) uint8 JPEG bytes, as `schemas.jpeg.encode_jpeg` makes them
    device_time: float | None = None  # s on the camera's own clock; None when the device has none
    device_index: int | None = None  # the device's own frame counter; None when it has none


@dataclass
class Tick:
    """One control tick. Joint vectors are (J,)."""

    timestamp: float  # s since episode start, host monotonic clock
    qpos: np.ndarray
    qvel: np.ndarray
    effort: np.ndarray
    action: np.ndarray
    leader_qpos: np.ndarray
    frames: dict[str, CameraSample] = field(default_factory=dict)  # cameras without a frame are absent
    scalars: dict[str, float] = field(default_factory=dict)  # optional per-tick values by layout path
    #   (L.CLAMPED, L.REWARD, L.INFERENCE_LATENCY); the episode must have been created with them


class EpisodeWriter:
    """Writes one episode file tick by tick.

    The cameras, their order (also the row order of `/compress_len`) and their sizes are those of
    `attrs.cameras`. With `attrs.compress` true every frame must arrive as JPEG bytes
    (`CameraSample.jpeg`), otherwise as an RGB image: anything else is a bug and raises ValueError.
    `optional` names the optional datasets of the layout this episode has (`L.optional_spec`).
    """

    def __init__(
        self,
        path: str | Path,
        attrs: L.EpisodeAttrs,
        *,
        optional: Iterable[str] = (),
        flush_interval: float = 0.5,
        write_batch: int = 4,
    ) -> None:
        self.path = Path(path)
        self.attrs = attrs
        self.cams = [c.name for c in attrs.cameras]
        self.image_sizes = {c.name: (c.height, c.width) for c in attrs.cameras}
        self.optional = {name: L.optional_spec(name) for name in optional}
        self.flush_interval = flush_interval
        self.length = 0  # rows written to the file
        self.bytes_written = 0
        self._pending: list[Tick] = []
        self._last_flush_t: float | None = None
        self._flushed_t: float | None = None  # timestamp of the last tick written
        self.write_batch = write_batch
        self._closed = False
        J = len(attrs.joint_names)
        self.n_joints = J
        if self.path.exists():
            raise EpisodeError(
                f"{self.path} already exists", "episodes are never overwritten; pick a new index"
            )
        try:
            self._f = h5py.File(self.path, "w", libver="latest")
        except OSError as e:
            raise EpisodeError(
                f"cannot create {self.path}: {e}", "check the folder exists and is writable"
            ) from None
        f = self._f
        for key, value in attrs.to_hdf5().items():
            f.attrs[key] = value
        if attrs.compress:
            # the JPEG bytes handed over come from schemas.jpeg.encode_jpeg (EpisodeSink): its convention
            f.attrs[L.JPEG_CHANNEL_ORDER] = CHANNEL_ORDER
        self._joint_ds = {
            name: f.create_dataset(name, (0, J), np.float32, maxshape=(None, J), chunks=(ROWS, J))
            for name in L.JOINT_DATASETS
        }
        self._ts = _per_tick(f, L.TIMESTAMPS, np.float64)
        self._img: dict[str, h5py.Dataset] = {}
        self._ftime: dict[str, h5py.Dataset] = {}
        self._fidx: dict[str, h5py.Dataset] = {}
        f.require_group(L.IMAGES)
        for cam, (h, w) in self.image_sizes.items():
            if attrs.compress:
                # a chunk is stored whole: small frames (sim 84x84, thumbnails) in 64 KiB chunks would
                # make files ~20x larger than their JPEGs, so the chunk never exceeds the raw frame size
                chunk = min(JPEG_CHUNK_BYTES, max(1024, h * w * 3))
                self._img[cam] = f.create_dataset(
                    L.image_path(cam), (0, 0), np.uint8, maxshape=(None, None), chunks=(1, chunk)
                )
            else:
                self._img[cam] = f.create_dataset(
                    L.image_path(cam), (0, h, w, 3), np.uint8, maxshape=(None, h, w, 3), chunks=(1, h, w, 3)
                )
            self._ftime[cam] = _per_tick(f, L.frame_time_path(cam), np.float64)
            self._fidx[cam] = _per_tick(f, L.frame_index_path(cam), np.int64)
        self._clen = None
        if attrs.compress and self.cams:
            n = len(self.cams)
            self._clen = f.create_dataset(
                L.COMPRESS_LEN, (n, 0), np.int32, maxshape=(n, None), chunks=(n, ROWS * 4)
            )
        self._optional_ds = {
            name: _per_tick(f, name, np.dtype(spec.dtype)) for name, spec in self.optional.items()
        }
        f.swmr_mode = True
        f.flush()

    # -- appending ---------------------------------------------------------------------------------

    def append(self, tick: Tick) -> None:
        """Buffer one tick; writes and flushes when `flush_interval` of episode time has passed."""
        if self._closed:
            raise RuntimeError("append() after close()")
        if self._last_flush_t is None:
            self._last_flush_t = tick.timestamp
        self._pending.append(tick)
        if tick.timestamp - self._last_flush_t >= self.flush_interval:
            self.flush()
        elif len(self._pending) >= self.write_batch:
            self._write()

    def flush(self) -> None:
        """Write the buffered ticks and flush the file to disk."""
        self._write()
        self._f.flush()
        if self._flushed_t is not None:
            self._last_flush_t = self._flushed_t

    def _write(self) -> None:
        # h5py holds the GIL for a whole write: a few ticks at a time keeps each hold short (~1 ms),
        # where half a second of 3 JPEG cameras at once held it ~10 ms and delayed the control loop.
        if not self._pending:
            return
        ticks, self._pending = self._pending, []
        n0, n = self.length, len(ticks)
        for name, ds in self._joint_ds.items():
            attr = {
                L.QPOS: "qpos",
                L.QVEL: "qvel",
                L.EFFORT: "effort",
                L.ACTION: "action",
                L.LEADER_QPOS: "leader_qpos",
            }[name]
            block = np.asarray([getattr(t, attr) for t in ticks], dtype=np.float32).reshape(n, self.n_joints)
            ds.resize(n0 + n, axis=0)
            ds[n0:] = block
        _append(self._ts, n0, [t.timestamp for t in ticks])
        for ci, cam in enumerate(self.cams):
            samples = [t.frames.get(cam) for t in ticks]
            self._write_images(ci, cam, samples, n0)
            _append(self._ftime[cam], n0, [np.nan if s is None else s.capture_time for s in samples])
            _append(self._fidx[cam], n0, [-1 if s is None else s.index for s in samples])
        for name, ds in self._optional_ds.items():
            _append(ds, n0, [self._optional_value(name, t) for t in ticks])
        self.length = n0 + n
        self._flushed_t = ticks[-1].timestamp

    def _optional_value(self, name: str, tick: Tick) -> float:
        fill = self.optional[name].fill
        group, _, cam = name.rpartition("/")
        if group in (L.DEVICE_TIME, L.DEVICE_INDEX):
            s = tick.frames.get(cam)
            v = None if s is None else (s.device_time if group == L.DEVICE_TIME else s.device_index)
            return fill if v is None else v
        return tick.scalars.get(name, fill)

    def _write_images(self, ci: int, cam: str, samples: list[CameraSample | None], n0: int) -> None:
        ds = self._img[cam]
        n = len(samples)
        h, w = self.image_sizes[cam]
        if not self.attrs.compress:
            block = np.empty((n, h, w, 3), np.uint8)
            for i, s in enumerate(samples):
                if s is not None and s.jpeg is not None:
                    raise ValueError(f"camera {cam}: a raw-image episode got JPEG bytes (a bug upstream)")
                img = None if s is None else s.image
                if img is None or img.shape != (h, w, 3):
                    got = None if img is None else img.shape
                    raise EpisodeError(
                        f"camera {cam}: frame of shape {got} at tick {n0 + i}, expected {(h, w, 3)}",
                        "set the camera's width and height in the rig to what it delivers",
                    )
                block[i] = img
            ds.resize(n0 + n, axis=0)
            ds[n0:] = block
            self.bytes_written += block.nbytes
            return
        payloads = []
        for s in samples:
            if s is None:
                payloads.append(np.zeros(0, np.uint8))
            elif s.jpeg is None or s.image is not None or s.jpeg.ndim != 1:
                raise ValueError(
                    f"camera {cam}: a JPEG episode got a frame not encoded by EpisodeSink (a bug)"
                )
            else:
                payloads.append(s.jpeg)
        width = max(ds.shape[1], max(len(p) for p in payloads))
        if width != ds.shape[1]:
            ds.resize(width, axis=1)
        block = np.zeros((n, width), np.uint8)
        for i, p in enumerate(payloads):
            block[i, : len(p)] = p
        ds.resize(n0 + n, axis=0)
        ds[n0:] = block
        assert self._clen is not None
        self._clen.resize(n0 + n, axis=1)
        self._clen[ci, n0:] = [len(p) for p in payloads]
        self.bytes_written += sum(len(p) for p in payloads)

    # -- closing -----------------------------------------------------------------------------------

    def close(
        self, *, success: int | None = None, loop_stats: dict[str, Any] | None = None, complete: bool = True
    ) -> Path:
        """Write what is buffered, close, and set the closing attributes (`complete` last)."""
        if self._closed:
            return self.path
        self.flush()
        self._f.close()
        self._closed = True
        finish_episode(self.path, success=success, loop_stats=loop_stats, complete=complete)
        return self.path

    def abort(self) -> Path:
        """Close after a failure: keep what was recorded, `complete` stays false."""
        return self.close(complete=False)

    def __enter__(self) -> EpisodeWriter:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def finish_episode(
    path: str | Path,
    *,
    success: int | None = None,
    loop_stats: dict[str, Any] | None = None,
    complete: bool = True,
) -> None:
    """Set the closing attributes of a closed episode file (also used to relabel success later)."""
    with h5py.File(path, "r+") as f:
        if success is not None:
            if success not in (1, 0, L.SUCCESS_UNLABELED):
                raise ValueError(f"success must be 1, 0 or -1, got {success}")
            f.attrs["success"] = int(success)
        if loop_stats is not None:
            f.attrs["loop_stats"] = json.dumps(loop_stats)
        f.attrs["complete"] = bool(complete)


def _per_tick(f: h5py.File, name: str, dtype: np.dtype[Any] | type) -> h5py.Dataset:
    """A (T,) dataset that grows one row per tick."""
    return f.create_dataset(name, (0,), dtype, maxshape=(None,), chunks=(ROWS * 4,))


def _append(ds: h5py.Dataset, n0: int, values: list[Any]) -> None:
    ds.resize(n0 + len(values), axis=0)
    ds[n0:] = np.asarray(values, dtype=ds.dtype)
