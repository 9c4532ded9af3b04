"""EpisodeReader: opens our episode files and plain ALOHA/ACT ones, lazily.

Everything that can go wrong with a file (missing, garbage, truncated, cut off mid-write, wrong
shapes or dtypes, non-finite values) raises `EpisodeError` with the path and what is wrong; no
other exception escapes for a bad file. Images are read one tick at a time unless asked for more.
A file cut off by a crash (its SWMR write flag still set) is opened in SWMR read mode, which
returns everything flushed before the crash.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.errors import EpisodeError
from demoforge.schemas.jpeg import decode_jpeg

_H5_ERRORS = (OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError)


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def open_episode_file(path: Path) -> tuple[h5py.File, bool]:
    """Open an episode file for reading: (file, cut_off). cut_off: its writer died (SWMR flag set)."""
    if not path.exists():
        raise EpisodeError(f"{path} does not exist", "check the path")
    if path.is_dir():
        raise EpisodeError(f"{path} is a folder, not an episode file", "pass an episode_<i>.hdf5 file")
    damaged = "the file is damaged or not an episode"
    try:
        return h5py.File(path, "r"), False
    except OSError as first:
        # A file whose SWMR writer died still carries the "open for write" flag; SWMR read mode
        # ignores it and sees everything flushed before the crash. Only then: SWMR readers retry
        # failed metadata checksums ~100 times with back-off, which on a damaged file looks like a hang.
        if "already open for write" not in str(first):
            raise EpisodeError(f"{path}: not a readable HDF5 file ({first})", damaged) from None
        try:
            return h5py.File(path, "r", libver="latest", swmr=True), True
        except OSError:
            raise EpisodeError(f"{path}: not a readable HDF5 file ({first})", damaged) from None


class EpisodeReader:
    """Read one episode. Use as a context manager; arrays are read on first access."""

    def __init__(self, path: str | Path, *, default_fps: float | None = None) -> None:
        self.path = Path(path)
        self.default_fps = default_fps  # the rate of a file without an fps attribute (`--fps`)
        self.cut_off = False  # opened through SWMR: the writer never closed the file
        self._f = self._open()
        try:
            self._inspect()
        except EpisodeError:
            self._f.close()
            raise
        except _H5_ERRORS as e:
            self._f.close()
            raise self._error(f"unreadable structure ({e})") from None
        self._cache: dict[str, np.ndarray] = {}

    # -- opening and validation --------------------------------------------------------------------

    def _error(self, problem: str, hint: str = "") -> EpisodeError:
        return EpisodeError(
            f"{self.path}: {problem}",
            hint or "re-record the episode, or run `demoforge recover` if the recorder was cut off",
        )

    def _open(self) -> h5py.File:
        f, self.cut_off = open_episode_file(self.path)
        return f

    def _dataset(self, name: str) -> h5py.Dataset | None:
        try:
            obj = self._f.get(name)
        except _H5_ERRORS as e:
            raise self._error(f"{name} cannot be read ({e})") from None
        if obj is None:
            return None
        if not isinstance(obj, h5py.Dataset):
            raise self._error(f"{name} is a {type(obj).__name__}, expected a dataset")
        return obj

    def _inspect(self) -> None:
        f = self._f
        self.attrs: dict[str, Any] = {k: _attr(v) for k, v in f.attrs.items()}
        self.missing: list[str] = []  # our extensions this file lacks (plain ALOHA files lack all), the
        #   optional datasets included
        for name in L.REQUIRED_DATASETS:
            if self._dataset(name) is None:
                raise self._error(
                    f"required dataset {name} is missing", "this is not an ALOHA-layout episode"
                )
        qpos = self._dataset(L.QPOS)
        assert qpos is not None
        if qpos.ndim != 2:
            raise self._error(f"{L.QPOS} has shape {qpos.shape}, expected (T, J)")
        self.length, self.n_joints = int(qpos.shape[0]), int(qpos.shape[1])
        for name in L.JOINT_DATASETS:
            ds = self._dataset(name)
            if ds is None:
                self.missing.append(name)
            else:
                self._check_rows(name, ds, (self.length, self.n_joints), "f")
        ts = self._dataset(L.TIMESTAMPS)
        if ts is None:
            self.missing.append(L.TIMESTAMPS)
        else:
            self._check_rows(L.TIMESTAMPS, ts, (self.length,), "f")
        group = f.get(L.IMAGES)
        self.cameras: list[str] = []
        self.image_shapes: dict[str, tuple[int, ...]] = {}
        if isinstance(group, h5py.Group):
            for cam, ds in group.items():
                if not isinstance(ds, h5py.Dataset):
                    raise self._error(f"{L.image_path(cam)} is not a dataset")
                if ds.dtype != np.uint8 or ds.ndim not in (2, 4) or ds.shape[0] != self.length:
                    raise self._error(
                        f"{L.image_path(cam)} has shape {ds.shape} {ds.dtype}, expected "
                        f"({self.length}, H, W, 3) or ({self.length}, Lmax) uint8"
                    )
                if ds.ndim == 4 and ds.shape[3] != 3:
                    raise self._error(f"{L.image_path(cam)} has {ds.shape[3]} channels, expected 3")
                self.cameras.append(cam)
                self.image_shapes[cam] = tuple(ds.shape[1:])
        for cam in self.cameras:
            for path, kind in ((L.frame_time_path(cam), "f"), (L.frame_index_path(cam), "i")):
                d = self._dataset(path)
                if d is None:
                    self.missing.append(path)
                else:
                    self._check_rows(path, d, (self.length,), kind)
        self.optional_missing: list[str] = []  # optional datasets of the layout this file lacks
        optional = [*L.TICK_SCALARS]
        for cam in self.cameras:
            optional += [L.device_time_path(cam), L.device_index_path(cam)]
        for path in optional:
            d = self._dataset(path)
            if d is None:
                self.optional_missing.append(path)
            else:
                kind = "i" if np.dtype(L.optional_spec(path).dtype).kind in "iu" else "f"
                self._check_rows(path, d, (self.length,), kind)
        self.missing += self.optional_missing
        self.compressed = bool(self.attrs.get("compress", False)) or any(
            len(s) == 1 for s in self.image_shapes.values()
        )
        try:
            self.jpeg_channel_order = L.jpeg_channel_order(self.attrs)  # how decode_jpeg gets RGB back
        except ValueError as e:
            raise self._error(str(e), "set the attribute to rgb-as-bgr (ALOHA) or true-colour") from None
        for key in (
            "fps",
            "joint_names",
            "joint_limits",
            "cameras",
            "success",
            "complete",
            "loop_stats",
            "schema_version",
        ):
            if key not in self.attrs:
                self.missing.append(f"attr:{key}")

    def _check_rows(self, name: str, ds: h5py.Dataset, shape: tuple[int, ...], kind: str) -> None:
        if ds.shape != shape:
            raise self._error(
                f"{name} has shape {ds.shape}, expected {shape} (all datasets need T = {self.length} rows)"
            )
        if ds.dtype.kind not in ({"f"} if kind == "f" else {"i", "u"}):
            want = "floating point" if kind == "f" else "integer"
            raise self._error(f"{name} has dtype {ds.dtype}, expected {want}")

    # -- metadata ----------------------------------------------------------------------------------

    @property
    def fps(self) -> float | None:
        """The fps attribute; for a file without one, `default_fps` (None when that is not given either)."""
        v = self.attrs.get("fps")
        return float(v) if isinstance(v, int | float) and v > 0 else self.default_fps

    @property
    def fps_assumed(self) -> bool:
        """The file has no fps attribute: `fps` is the rate a person (`--fps`) or ALOHA's default gave."""
        v = self.attrs.get("fps")
        return not (isinstance(v, int | float) and v > 0)

    @property
    def joint_names(self) -> list[str]:
        names = self._json_attr("joint_names")
        if isinstance(names, list) and len(names) == self.n_joints:
            return [str(n) for n in names]
        return [f"joint_{i}" for i in range(self.n_joints)]

    @property
    def joint_limits(self) -> np.ndarray | None:
        v = self.attrs.get("joint_limits")
        arr = np.asarray(v, dtype=np.float64) if v is not None else None
        return arr if arr is not None and arr.shape == (self.n_joints, 2) else None

    @property
    def camera_info(self) -> dict[str, dict[str, Any]]:
        info = self._json_attr("cameras")
        out: dict[str, dict[str, Any]] = {}
        if isinstance(info, list):
            for c in info:
                if isinstance(c, dict) and "name" in c:
                    out[str(c["name"])] = c
        return out

    @property
    def loop_stats(self) -> dict[str, Any]:
        v = self._json_attr("loop_stats")
        return v if isinstance(v, dict) else {}

    @property
    def success(self) -> int:
        v = self.attrs.get("success", L.SUCCESS_UNLABELED)
        return int(v) if isinstance(v, int | float | bool) and v in (0, 1) else L.SUCCESS_UNLABELED

    @property
    def complete(self) -> bool:
        return bool(self.attrs.get("complete", not self.cut_off)) and not self.cut_off

    @property
    def sim(self) -> bool:
        return bool(self.attrs.get("sim", False))

    @property
    def duration(self) -> float | None:
        """Seconds of episode time (`L.episode_duration`); None when the file has no `fps` attribute."""
        if self.fps is None:
            return None
        ts = None if L.TIMESTAMPS in self.missing else self.array(L.TIMESTAMPS, check_finite=False)
        return L.episode_duration(L.tick_times(ts, self.length, 1.0 / self.fps), 1.0 / self.fps)

    def _json_attr(self, key: str) -> Any:
        v = self.attrs.get(key)
        if isinstance(v, str):
            try:
                return json.loads(v)
            except json.JSONDecodeError:
                return None
        return v

    # -- arrays ------------------------------------------------------------------------------------

    def array(self, name: str, *, check_finite: bool = True) -> np.ndarray:
        """A whole non-image dataset by its layout path (cached). Raises on NaN/Inf unless told not to."""
        if name not in self._cache:
            ds = self._dataset(name)
            if ds is None:
                raise self._error(f"{name} is missing", "this file predates our extensions")
            try:
                self._cache[name] = np.asarray(ds[()])
            except _H5_ERRORS as e:
                raise self._error(f"{name} cannot be read ({e})") from None
        arr = self._cache[name]
        if check_finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise self._error(
                f"{name} has a non-finite value at row {int(bad[0])}", "the recording is corrupt"
            )
        return arr

    @property
    def qpos(self) -> np.ndarray:
        return self.array(L.QPOS)

    @property
    def qvel(self) -> np.ndarray:
        return self.array(L.QVEL)

    @property
    def effort(self) -> np.ndarray | None:
        return None if L.EFFORT in self.missing else self.array(L.EFFORT)

    @property
    def action(self) -> np.ndarray:
        return self.array(L.ACTION)

    @property
    def leader_qpos(self) -> np.ndarray | None:
        return None if L.LEADER_QPOS in self.missing else self.array(L.LEADER_QPOS)

    @property
    def timestamps(self) -> np.ndarray | None:
        return None if L.TIMESTAMPS in self.missing else self.array(L.TIMESTAMPS)

    def frame_time(self, cam: str) -> np.ndarray | None:
        path = L.frame_time_path(cam)
        return None if path in self.missing else self.array(path, check_finite=False)

    def frame_index(self, cam: str) -> np.ndarray | None:
        path = L.frame_index_path(cam)
        return None if path in self.missing else self.array(path)

    def optional(self, name: str) -> np.ndarray | None:
        """An optional dataset by layout path (`L.REWARD`, `L.device_time_path(cam)`...); None if absent.

        Fill values (NaN, -1) mark ticks without a value; they are not an error.
        """
        L.optional_spec(name)  # a name the layout does not define is a bug, not a missing dataset
        if name in self.missing or self._dataset(name) is None:
            return None
        return self.array(name, check_finite=False)

    # -- images ------------------------------------------------------------------------------------

    def image(self, cam: str, t: int, *, reduce: int = 1) -> np.ndarray:
        """The RGB frame of camera `cam` at tick `t`, (H, W, 3) uint8; `reduce` 2, 4 or 8 shrinks it.

        Reduced JPEG frames are decoded at that scale directly (much cheaper than a full decode).
        """
        if cam not in self.image_shapes:
            raise self._error(
                f"no camera {cam!r}", f"cameras in this file: {', '.join(self.cameras) or 'none'}"
            )
        if not -self.length <= t < self.length:
            raise IndexError(f"tick {t} out of range for {self.length} ticks")
        try:
            row = self._f[L.image_path(cam)][t]
        except _H5_ERRORS as e:
            raise self._error(f"{L.image_path(cam)}[{t}] cannot be read ({e})") from None
        if row.ndim == 3:
            return np.ascontiguousarray(row[::reduce, ::reduce])
        lengths = self.jpeg_lengths(cam)
        if lengths is not None and 0 < lengths[t] <= row.size:
            row = row[: int(lengths[t])]  # skip decoding the zero padding
        rgb = decode_jpeg(row, reduce, self.jpeg_channel_order)
        if rgb is None:
            raise self._error(f"{L.image_path(cam)}[{t}] is not a valid JPEG")
        return rgb

    def jpeg_payload(self, cam: str, t: int) -> np.ndarray:
        """The stored JPEG bytes of camera `cam` at tick `t`, padding cut off (see `jpeg_channel_order`)."""
        if len(self.image_shapes.get(cam, ())) != 1:
            raise self._error(f"camera {cam!r} holds raw frames, not JPEG", "use image() for raw frames")
        try:
            row = np.asarray(self._f[L.image_path(cam)][t])
        except _H5_ERRORS as e:
            raise self._error(f"{L.image_path(cam)}[{t}] cannot be read ({e})") from None
        lengths = self.jpeg_lengths(cam)
        return row[: int(lengths[t])] if lengths is not None and 0 < lengths[t] <= row.size else row

    def images(self, cam: str, ticks: list[int] | range | None = None) -> np.ndarray:
        """Several RGB frames stacked (N, H, W, 3); all of them when `ticks` is None (large)."""
        idx = range(self.length) if ticks is None else ticks
        frames = [self.image(cam, int(t)) for t in idx]
        if not frames:
            return np.zeros((0, 0, 0, 3), np.uint8)
        return np.stack(frames)

    def jpeg_lengths(self, cam: str) -> np.ndarray | None:
        """Byte lengths of the JPEG rows of `cam` (from /compress_len), or None for raw images."""
        if len(self.image_shapes.get(cam, ())) != 1:
            return None
        key = f"{L.COMPRESS_LEN}:{cam}"
        if key not in self._cache:
            lengths = self._jpeg_lengths(cam)
            if lengths is None:
                return None
            self._cache[key] = lengths
        return self._cache[key]

    def _jpeg_lengths(self, cam: str) -> np.ndarray | None:
        ds = self._dataset(L.COMPRESS_LEN)
        if ds is None or ds.ndim != 2 or ds.shape[1] != self.length:
            return None
        info = self._json_attr("cameras")
        order = [c.get("name") for c in info] if isinstance(info, list) else self.cameras
        if cam not in order or order.index(cam) >= ds.shape[0]:
            return None
        try:
            return np.asarray(ds[order.index(cam)])
        except _H5_ERRORS as e:
            raise self._error(f"{L.COMPRESS_LEN} cannot be read ({e})") from None

    def datasets(self) -> list[tuple[str, tuple[int, ...], str]]:
        """Every dataset in the file: (path, shape, dtype), sorted by path."""
        out: list[tuple[str, tuple[int, ...], str]] = []

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset):
                out.append(("/" + name, tuple(obj.shape), str(obj.dtype)))

        try:
            self._f.visititems(visit)
        except _H5_ERRORS as e:
            raise self._error(f"the file's structure cannot be read ({e})") from None
        return sorted(out)

    # -- lifetime ----------------------------------------------------------------------------------

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> EpisodeReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
