"""Training samples from a curated dataset: only what `splits.json` allows, read lazily.

The split is verified first (`verify_split`: report unchanged, episode files unchanged); without one
nothing trains. Train and val episodes are used, holdout never; the spans a split trims are left out.
A sample is one kept tick t of one episode: the observation at t (qpos, one frame per camera) and the
next k commands with an `is_pad` mask where the kept span ends first.

Alignment: our recorder sends the command of tick t, then reads the followers and cameras, so the
observation stored at t was taken after action[t] went out; the policy, given that observation, must
predict action[t + 1 :]. Plain ALOHA/ACT files (no `schema_version` attribute) observe before acting:
there the chunk starts at action[t].

LeRobot datasets (v3.0, v2.1) train the same way through their split (`check --out` / `split --out`
give `reports`). lerobot-record reads the observation, then sends the action it stores in the same
frame (lerobot/scripts/lerobot_record.py:348-412, `record_loop`): observed before acting, so the
chunk starts at action[t] as for plain ALOHA files. Their frames are decoded with PyAV, each sample
seeking to its frame (LeRobot writes a keyframe every 2 frames: lerobot/datasets/video_utils.py:396).

Images are decoded in the DataLoader workers, at the smallest reduced JPEG scale (1/2, 1/4, 1/8) that
is still at least the model's image size, then resized: a 1/4-scale decode costs ~1/6 of a full one.
Nothing but joint arrays is held in memory unless `cache=True`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from demoforge.policy.config import Config
from demoforge.policy.frames import resize_frame
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_source import AnyEpisodeReader, open_named
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import Splits, verify_split

STD_FLOOR = 1e-2  # a joint that never moved would otherwise be divided by ~0
NOMINAL_FPS = L.ALOHA_FPS  # plain ALOHA files carry no fps attribute


class CacheTooLarge(ConfigError):
    """The decoded frames would not fit comfortably in memory (callers may train uncached instead)."""


@dataclass(frozen=True)
class Stats:
    """Normalization statistics, from the train split only; (J,) float32 each."""

    qpos_mean: np.ndarray
    qpos_std: np.ndarray
    action_mean: np.ndarray
    action_std: np.ndarray

    def to_dict(self) -> dict[str, list[float]]:
        return {
            k: [float(x) for x in getattr(self, k)]
            for k in ("qpos_mean", "qpos_std", "action_mean", "action_std")
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stats:
        return cls(
            **{
                k: np.asarray(d[k], np.float32)
                for k in ("qpos_mean", "qpos_std", "action_mean", "action_std")
            }
        )


@dataclass(frozen=True)
class Episode:
    """One episode of the split: where it is, kept tick ranges [t0, t1), and where its chunks start."""

    folder: Path  # the dataset
    name: str  # as the split names it: episode_3.hdf5, or episode_3 of a LeRobot dataset
    kept: tuple[tuple[int, int], ...]
    action_offset: int  # 1 for our files (observed after acting), 0 for plain ALOHA and LeRobot files
    image_sizes: dict[str, tuple[int, int]]  # camera -> source (height, width)

    @property
    def path(self) -> Path:
        return self.folder / self.name

    def open(self) -> AnyEpisodeReader:
        return open_named(self.folder, self.name)


def kept_ranges(reader: AnyEpisodeReader, splits: Splits, name: str) -> tuple[tuple[int, int], ...]:
    """Tick ranges inside the split's kept spans of this episode (the whole episode without a trim).

    Times as the quality report measures spans (`tick_times`); files without `fps` count as 50 Hz.
    """
    period = 1.0 / (reader.fps or NOMINAL_FPS)
    ts = None if L.TIMESTAMPS in reader.missing else reader.array(L.TIMESTAMPS, check_finite=False)
    t = L.tick_times(ts, reader.length, period)
    out = []
    for a, b in splits.kept_spans(name, L.episode_duration(t, period)):
        idx = np.flatnonzero((t >= a - 1e-9) & (t < b - 1e-9))
        if len(idx):
            out.append((int(idx[0]), int(idx[-1]) + 1))
    return tuple(out)


def _image_size(reader: AnyEpisodeReader, cam: str) -> tuple[int, int]:
    shape = reader.image_shapes[cam]
    if len(shape) == 3:
        return int(shape[0]), int(shape[1])
    info = reader.camera_info.get(cam, {})
    if int(info.get("height", 0)) > 0 and int(info.get("width", 0)) > 0:
        return int(info["height"]), int(info["width"])
    h, w = reader.image(cam, 0).shape[:2]
    return h, w


def open_episodes(
    folder: Path, names: list[str], splits: Splits, cameras: tuple[str, ...]
) -> tuple[list[Episode], tuple[str, ...], int]:
    """Episodes with their kept ranges; checks they share cameras and joint count."""
    episodes: list[Episode] = []
    n_joints = -1
    for name in names:
        with open_named(folder, name) as r:
            if not cameras:
                cameras = tuple(r.cameras)
                if not cameras:
                    raise ConfigError(f"{r.path} has no cameras", "ACT needs at least one camera")
            missing = [c for c in cameras if c not in r.cameras]
            if missing:
                raise ConfigError(
                    f"{r.path} lacks camera(s) {', '.join(missing)}",
                    f"set model.cameras to cameras every episode has (this one: {', '.join(r.cameras)})",
                )
            if n_joints not in (-1, r.n_joints):
                raise ConfigError(
                    f"{r.path} has {r.n_joints} joints, earlier episodes {n_joints}",
                    "train on episodes of one rig",
                )
            n_joints = r.n_joints
            offset = 1 if "schema_version" in r.attrs else 0
            kept = tuple((a, b) for a, b in kept_ranges(r, splits, name) if b - a > offset)
            sizes = {c: _image_size(r, c) for c in cameras}
            episodes.append(Episode(folder, name, kept, offset, sizes))
    return episodes, cameras, n_joints


def compute_stats(episodes: list[Episode]) -> Stats:
    """Mean and std of qpos and action over the kept ticks of these (the train) episodes."""
    qs, acts = [], []
    for ep in episodes:
        with ep.open() as r:
            qpos, action = r.qpos, r.action
            for a, b in ep.kept:
                qs.append(qpos[a:b])
                acts.append(action[a:b])
    q, act = np.concatenate(qs).astype(np.float64), np.concatenate(acts).astype(np.float64)
    return Stats(
        q.mean(0).astype(np.float32),
        np.maximum(q.std(0), STD_FLOOR).astype(np.float32),
        act.mean(0).astype(np.float32),
        np.maximum(act.std(0), STD_FLOOR).astype(np.float32),
    )


def reduce_for(src: tuple[int, int], dst: tuple[int, int]) -> int:
    """The largest JPEG reduction (8, 4, 2, 1) that still decodes at least `dst` (height, width)."""
    for r in (8, 4, 2):
        if -(-src[0] // r) >= dst[0] and -(-src[1] // r) >= dst[1]:
            return r
    return 1


def load_frame(
    reader: AnyEpisodeReader, cam: str, t: int, src: tuple[int, int], dst: tuple[int, int]
) -> np.ndarray:
    """(3, H, W) uint8 RGB frame at the model's size."""
    img = resize_frame(reader.image(cam, t, reduce=reduce_for(src, dst)), dst)
    return np.ascontiguousarray(img.transpose(2, 0, 1))


class ChunkDataset(Dataset):
    """(episode, t) over every kept tick -> images, qpos, action chunk, is_pad (normalized)."""

    def __init__(self, episodes: list[Episode], cameras: tuple[str, ...], cfg: Config, stats: Stats) -> None:
        self.episodes, self.cameras, self.stats = episodes, cameras, stats
        self.k = cfg.model.chunk_size
        self.size = (cfg.model.image_height, cfg.model.image_width)
        rows = [
            (e, t, b)
            for e, ep in enumerate(episodes)
            for a, b in ep.kept
            for t in range(a, b - ep.action_offset)
        ]
        self.index = np.asarray(rows, np.int64).reshape(-1, 3)  # (episode, t, end of its kept range)
        self._readers: dict[int, AnyEpisodeReader] = {}
        self._pid = -1
        self._cache: dict[int, np.ndarray] | None = None  # episode -> (T, N, 3, H, W) uint8

    def __len__(self) -> int:
        return len(self.index)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_readers"], state["_pid"] = {}, -1  # h5py handles do not cross process boundaries
        return state

    def _reader(self, e: int) -> AnyEpisodeReader:
        if self._pid != os.getpid():  # a fresh worker process: open files anew
            self._readers, self._pid = {}, os.getpid()
        if e not in self._readers:
            self._readers[e] = self.episodes[e].open()
        return self._readers[e]

    def images(self, e: int, t: int) -> np.ndarray:
        if self._cache is not None:
            return self._cache[e][t]
        ep, r = self.episodes[e], self._reader(e)
        return np.stack([load_frame(r, c, t, ep.image_sizes[c], self.size) for c in self.cameras])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        e, t, end = (int(x) for x in self.index[i])
        r, off, s = self._reader(e), self.episodes[e].action_offset, self.stats
        qpos = (r.qpos[t] - s.qpos_mean) / s.qpos_std
        chunk = r.action[t + off : min(t + off + self.k, end)]
        actions = np.zeros((self.k, chunk.shape[1]), np.float32)
        actions[: len(chunk)] = (chunk - s.action_mean) / s.action_std
        is_pad = np.arange(self.k) >= len(chunk)
        return {
            "images": torch.from_numpy(self.images(e, t)),  # (N, 3, H, W) uint8
            "qpos": torch.from_numpy(qpos.astype(np.float32)),  # (J,)
            "actions": torch.from_numpy(actions),  # (k, J)
            "is_pad": torch.from_numpy(is_pad),  # (k,)
        }

    def cache(self) -> None:
        """Decode every kept frame once into memory; refuses when that would not fit comfortably."""
        n_cam, (h, w) = len(self.cameras), self.size
        need = sum(b - a for ep in self.episodes for a, b in ep.kept) * n_cam * 3 * h * w
        avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        if need > avail // 2:
            raise CacheTooLarge(
                f"--cache needs {need / 2**30:.1f} GiB of decoded frames, {avail / 2**30:.1f} GiB is free",
                "train without --cache (frames are then decoded per sample), or lower the image size",
            )
        cache = {}
        for e, ep in enumerate(self.episodes):
            r = self._reader(e)
            arr = np.zeros((r.length, n_cam, 3, h, w), np.uint8)
            for a, b in ep.kept:
                for t in range(a, b):
                    arr[t] = self.images(e, t)
            cache[e] = arr
        self._cache = cache


@dataclass
class TrainingData:
    train: ChunkDataset
    val: ChunkDataset
    stats: Stats
    splits: Splits
    cameras: tuple[str, ...]
    n_joints: int


def load_training_data(
    folder: str | Path, cfg: Config, *, cache: bool = False, reports: str | Path | None = None
) -> TrainingData:
    """Verify the split, index its train and val episodes, compute stats on train only.

    `reports`: where `check --out` / `split --out` wrote the report and splits.json."""
    folder = Path(folder)
    splits = verify_split(folder, reports)
    if not splits.train:
        raise ConfigError(
            f"{folder / 'splits.json'} has no training episodes",
            f"record more episodes or fix the failing ones, then `demoforge split {folder}`",
        )
    if not splits.val:
        raise ConfigError(
            f"{folder / 'splits.json'} has no validation episodes (checkpoints are chosen on them)",
            f"run `demoforge split {folder}` with a --val that gives at least one episode, or record more",
        )
    train_eps, cameras, n_joints = open_episodes(folder, splits.train, splits, cfg.model.cameras)
    val_eps, _, n_val_joints = open_episodes(folder, splits.val, splits, cameras)
    if n_val_joints != n_joints:
        raise ConfigError(
            f"validation episodes have {n_val_joints} joints, training ones {n_joints}",
            "train on episodes of one rig",
        )
    stats = compute_stats(train_eps)
    train, val = ChunkDataset(train_eps, cameras, cfg, stats), ChunkDataset(val_eps, cameras, cfg, stats)
    if len(train) == 0 or len(val) == 0:
        raise ConfigError(
            f"{folder}: the split keeps no ticks to train or validate on", "check the trims in splits.json"
        )
    if cache:
        train.cache()
        val.cache()
    return TrainingData(train, val, stats, splits, cameras, n_joints)
