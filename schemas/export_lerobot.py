"""`export --to lerobot`: the curated clips as a LeRobot dataset, format v3.0, on disk.

Layout (what LeRobot's `LeRobotDataset(repo_id, root=OUT)` reads; docs/interoperability.md has the
version it was loaded with):

    meta/info.json                          codebase_version "v3.0", fps, features, totals, path templates
    meta/stats.json                         per feature: min max mean std count q01 q10 q50 q90 q99
    meta/tasks.parquet                      index = task text, column task_index
    meta/episodes/chunk-000/file-000.parquet  per episode: length, tasks, where its rows and frames are
    data/chunk-000/file-000.parquet         one row per tick: state, velocity, effort, action, indices
    videos/observation.images.<cam>/chunk-000/file-000.mp4   a camera's episodes back to back (file-001 ...)

The data table goes in one file (LeRobot's writer starts a new one past 100 MB: over two hours of 50 Hz
ticks; its reader follows whatever file the episode table names, so one file reads the same). Videos
start a new file past `video_file_mb`, between episodes, as LeRobot's writer does.
Joint vectors keep our names (`joint_names`); qvel and effort are kept as observation.velocity and
observation.effort (LeRobot's old ALOHA converter dropped qvel).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.schemas.dataset import write_json_atomic
from demoforge.schemas.episode_source import AnyEpisodeReader, open_named
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.export_clips import (
    SOURCE_JSON,
    Clip,
    assumed_fps,
    curated_clips,
    output_folder,
    split_ranges,
    write_source,
)
from demoforge.schemas.export_video import CODECS, PIX_FMT, VideoFile
from demoforge.schemas.lerobot_layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_FILE,
    INFO_FILE,
    STATS_FILE,
    TASKS_FILE,
    VIDEO_PATH,
    video_key,
)

CHUNKS_SIZE, DATA_FILE_MB, VIDEO_FILE_MB = 1000, 100, 200  # LeRobot's defaults, recorded in info.json
QUANTILES = {"q01": 0.01, "q10": 0.10, "q50": 0.50, "q90": 0.90, "q99": 0.99}
IMAGE_STAT_FRAMES = 50  # frames per episode and camera sampled for the image statistics
IMAGE_STAT_STRIDE = 4  # ... each thinned to every 4th pixel
UNNAMED_TASK = "unnamed task"

Progress = Callable[[int, int], None]  # (episodes done, episodes in all)


@dataclass
class _Shape:
    """What every exported episode must share: rate, joints, cameras and their frame sizes."""

    fps: int
    joint_names: list[str]
    cameras: dict[str, tuple[int, int]]  # cam -> (height, width)
    effort: bool
    robot: str
    velocity: bool = True  # our files always have qvel; a LeRobot source may not

    @classmethod
    def of(cls, ep: AnyEpisodeReader) -> _Shape:
        if not ep.fps or abs(ep.fps - round(ep.fps)) > 1e-9:
            rate = f"fps {ep.fps:g} is not a whole number" if ep.fps else "no fps attribute"
            raise ConfigError(
                f"{ep.path}: {rate}",
                "a LeRobot dataset has one integer fps: set the file's fps attribute, or leave it out",
            )
        cams = {c: ep.image(c, 0).shape[:2] for c in ep.cameras}
        robot = str(ep.attrs.get("robot", "")) or "unknown"
        velocity = ep.qvel is not None
        return cls(round(ep.fps), ep.joint_names, cams, ep.effort is not None, robot, velocity)


@dataclass
class _Tables:
    """What the export collects episode by episode: data columns, episode rows, tasks, image samples."""

    columns: dict[str, list[np.ndarray]] = field(default_factory=dict)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    tasks: dict[str, int] = field(default_factory=dict)  # task text -> task_index
    image_samples: dict[str, list[np.ndarray]] = field(default_factory=dict)  # cam -> thinned frames
    frames: int = 0  # rows so far

    def add(self, name: str, arr: np.ndarray) -> None:
        self.columns.setdefault(name, []).append(arr)

    def joined(self, name: str) -> np.ndarray:
        return np.concatenate(self.columns[name])


def export_lerobot(
    folder: str | Path,
    out: str | Path,
    split_names: list[str],
    *,
    codec: str = "h264",
    video_file_mb: float = VIDEO_FILE_MB,
    progress: Progress | None = None,
    fps: float | None = None,
    reports: str | Path | None = None,
) -> Path:
    """Write the clips of `split_names` as a LeRobot v3.0 dataset in `out`; returns `out`.

    Each camera's episodes go back to back into one mp4, a new one started once a file passes
    `video_file_mb` (LeRobot's writer does the same at 200 MB). The source may be a LeRobot dataset:
    its kept ticks are renumbered and its videos cut at the new boundaries (decoded and re-encoded).
    `reports`: where `check --out` / `split --out` wrote the report and splits.json.
    """
    try:
        import pyarrow  # noqa: F401  (pandas writes parquet through it)
    except ImportError:
        raise ConfigError("the LeRobot export needs pyarrow", "pip install 'demoforge[export]'") from None
    folder = Path(folder)
    fps = fps or assumed_fps(reports or folder)  # files without an fps attribute: as their check assumed
    splits, clips = curated_clips(folder, split_names, fps, reports)
    with open_named(folder, clips[0].file, fps) as ep:
        shape = _Shape.of(ep)
    with output_folder(out) as staging:
        tables = _episodes_and_videos(folder, clips, shape, staging, codec, video_file_mb, progress)
        features = _features(shape, codec)
        _write_tables(staging, tables, features)
        info = {
            "codebase_version": CODEBASE_VERSION,
            "robot_type": shape.robot,
            "total_episodes": len(clips),
            "total_frames": tables.frames,
            "total_tasks": len(tables.tasks),
            "chunks_size": CHUNKS_SIZE,
            "data_files_size_in_mb": DATA_FILE_MB,
            "video_files_size_in_mb": video_file_mb,
            "fps": shape.fps,
            "splits": split_ranges(clips),
            "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if shape.cameras else None,
            "features": features,
        }
        write_json_atomic(staging / INFO_FILE, info)
        extra = {"format": "lerobot", "codec": codec}
        write_source(staging / "meta" / SOURCE_JSON, folder, splits, clips, extra)
    return Path(out)


class _VideoSeries:
    """One camera's video files: all episodes back to back, a new file once one passes `max_mb`.

    As LeRobot's writer does, a file is only ever closed between episodes, and file indices roll over
    into the next chunk folder after CHUNKS_SIZE files.
    """

    def __init__(self, staging: Path, cam: str, fps: int, size: tuple[int, int], codec: str, max_mb: float):
        self.staging, self.key, self.fps, self.size, self.codec = staging, video_key(cam), fps, size, codec
        self.max_bytes = max_mb * 1024 * 1024
        self.files = 0  # files started before the current one
        self._file: VideoFile | None = None

    def current(self) -> VideoFile:
        if self._file is None:
            chunk, file = divmod(self.files, CHUNKS_SIZE)
            path = self.staging / VIDEO_PATH.format(video_key=self.key, chunk_index=chunk, file_index=file)
            h, w = self.size
            self._file = VideoFile(path, self.fps, w, h, self.codec)
        return self._file

    def where(self) -> dict[str, Any]:
        """Where the next episode's frames go: its columns in the episodes table."""
        chunk, file = divmod(self.files, CHUNKS_SIZE)
        return {
            f"videos/{self.key}/chunk_index": chunk,
            f"videos/{self.key}/file_index": file,
            f"videos/{self.key}/from_timestamp": self.current().frames / self.fps,
        }

    def episode_done(self) -> None:
        video = self.current()
        if video.bytes >= self.max_bytes:
            video.close()
            self._file = None
            self.files += 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _episodes_and_videos(
    folder: Path,
    clips: list[Clip],
    shape: _Shape,
    staging: Path,
    codec: str,
    video_file_mb: float,
    progress: Progress | None,
) -> _Tables:
    """Encode every clip's frames into the camera videos and collect its rows; cameras encode in parallel."""
    videos = {
        cam: _VideoSeries(staging, cam, shape.fps, size, codec, video_file_mb)
        for cam, size in shape.cameras.items()
    }
    tables = _Tables(image_samples={cam: [] for cam in videos})
    try:
        with ThreadPoolExecutor(max(1, len(videos))) as pool:
            for i, clip in enumerate(clips):
                with open_named(folder, clip.file, shape.fps) as ep:
                    _check_same(ep, shape)
                    task = str(ep.attrs.get("task", "")) or UNNAMED_TASK
                    task_index = tables.tasks.setdefault(task, len(tables.tasks))
                    row = _episode_row(i, clip, task, tables.frames)
                    for series in videos.values():
                        row.update(series.where())
                    _add_rows(tables, ep, clip, i, task_index, shape)
                    files = [series.current() for series in videos.values()]
                    n = len(files)
                    encoded = pool.map(_encode, [ep] * n, list(videos), [clip] * n, files)
                    samples = dict(zip(videos, encoded, strict=True))
                for cam, sample in samples.items():
                    key = video_key(cam)
                    row[f"videos/{key}/to_timestamp"] = (
                        row[f"videos/{key}/from_timestamp"] + clip.length / shape.fps
                    )
                    tables.image_samples[cam].append(sample)
                    row.update(_flat_stats(key, _image_stats(sample)))
                    videos[cam].episode_done()
                for name, parts in tables.columns.items():
                    row.update(_flat_stats(name, _stats(parts[-1])))
                row["meta/episodes/chunk_index"] = 0
                row["meta/episodes/file_index"] = 0
                tables.episodes.append(row)
                tables.frames += clip.length
                if progress is not None:
                    progress(i + 1, len(clips))
    finally:
        for series in videos.values():
            series.close()
    return tables


def _write_tables(staging: Path, tables: _Tables, features: dict[str, Any]) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for name, ft in features.items():
        if ft["dtype"] == "video":
            continue
        values = tables.joined(name)
        if ft["shape"] == [1]:
            arrays[name] = pa.array(values)
        else:  # fixed-size lists: what LeRobot's feature types (a sequence of known length) read back
            arrays[name] = pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), values.shape[1])
    for path, table in (
        (staging / DATA_PATH.format(chunk_index=0, file_index=0), pa.table(arrays)),
        (staging / EPISODES_FILE, pa.Table.from_pylist(tables.episodes)),
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
    tasks = pd.DataFrame({"task_index": list(tables.tasks.values())}, index=list(tables.tasks))
    tasks.to_parquet(staging / TASKS_FILE)
    stats = {name: _stats(tables.joined(name)) for name in tables.columns}
    for cam, samples in tables.image_samples.items():
        stats[video_key(cam)] = _image_stats(np.concatenate(samples))
    doc = {key: {k: v.tolist() for k, v in st.items()} for key, st in stats.items()}
    write_json_atomic(staging / STATS_FILE, doc)


def _check_same(ep: AnyEpisodeReader, shape: _Shape) -> None:
    here = _Shape.of(ep)
    for what in ("fps", "joint_names", "cameras", "effort", "velocity"):
        if getattr(here, what) != getattr(shape, what):
            raise ConfigError(
                f"{ep.path}: its {what} ({getattr(here, what)}) differ from the first exported episode's "
                f"({getattr(shape, what)})",
                "one LeRobot dataset holds one robot setup: export such episodes separately (--split)",
            )


def _add_rows(
    tables: _Tables, ep: AnyEpisodeReader, clip: Clip, index: int, task: int, shape: _Shape
) -> None:
    rows = slice(clip.start, clip.stop)
    n = clip.length
    cols = tables
    cols.add("observation.state", ep.qpos[rows].astype(np.float32))
    if shape.velocity:
        assert ep.qvel is not None
        cols.add("observation.velocity", ep.qvel[rows].astype(np.float32))
    if shape.effort:
        assert ep.effort is not None
        cols.add("observation.effort", ep.effort[rows].astype(np.float32))
    cols.add("action", ep.action[rows].astype(np.float32))
    # LeRobot's timestamps are frame_index / fps: it looks frames up in the video by them
    cols.add("timestamp", (np.arange(n) / shape.fps).astype(np.float32))
    cols.add("frame_index", np.arange(n, dtype=np.int64))
    cols.add("episode_index", np.full(n, index, np.int64))
    cols.add("index", np.arange(tables.frames, tables.frames + n, dtype=np.int64))
    cols.add("task_index", np.full(n, task, np.int64))


def _encode(ep: AnyEpisodeReader, cam: str, clip: Clip, video: VideoFile) -> np.ndarray:
    """Append the clip's frames of one camera to its video; returns thinned frames for the statistics."""
    every = max(1, clip.length // IMAGE_STAT_FRAMES)
    sample = []
    for i, t in enumerate(range(clip.start, clip.stop)):
        rgb = ep.image(cam, t)
        video.add(rgb)
        if i % every == 0:
            sample.append(rgb[::IMAGE_STAT_STRIDE, ::IMAGE_STAT_STRIDE])
    return np.stack(sample)


def _episode_row(i: int, clip: Clip, task: str, first: int) -> dict[str, Any]:
    return {
        "episode_index": i,
        "tasks": [task],
        "length": clip.length,
        "data/chunk_index": 0,
        "data/file_index": 0,
        "dataset_from_index": first,
        "dataset_to_index": first + clip.length,
    }


def _stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Statistics over axis 0 of (N, D) or (N,) values; (N,) gives shape-(1,) results, as LeRobot stores."""
    x = x.astype(np.float64).reshape(len(x), -1)
    out = {
        "min": x.min(axis=0),
        "max": x.max(axis=0),
        "mean": x.mean(axis=0),
        "std": x.std(axis=0),
        "count": np.array([len(x)]),
    }
    out.update({k: np.quantile(x, q, axis=0) for k, q in QUANTILES.items()})
    return out


def _image_stats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """Per-channel statistics of (N, H, W, 3) uint8 frames in [0, 1], shaped (3, 1, 1) as LeRobot has them."""
    st = {k: v.reshape(3, 1, 1) for k, v in _stats(frames.reshape(-1, 3) / 255.0).items() if k != "count"}
    return st | {"count": np.array([len(frames)])}


def _flat_stats(name: str, stats: dict[str, np.ndarray]) -> dict[str, Any]:
    return {f"stats/{name}/{k}": v.tolist() for k, v in stats.items()}


def _features(shape: _Shape, codec: str) -> dict[str, Any]:
    j = len(shape.joint_names)
    joints = {"dtype": "float32", "shape": [j], "names": list(shape.joint_names)}
    features: dict[str, Any] = {"observation.state": joints}
    if shape.velocity:
        features["observation.velocity"] = joints
    features["action"] = joints
    if shape.effort:
        features["observation.effort"] = joints
    for cam, (h, w) in shape.cameras.items():
        features[video_key(cam)] = {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": h,
                "video.width": w,
                "video.codec": CODECS[codec].name,
                "video.pix_fmt": PIX_FMT,
                "video.is_depth_map": False,
                "video.fps": shape.fps,
                "video.channels": 3,
                "has_audio": False,
            },
        }
    for name, dtype in (
        ("timestamp", "float32"),
        ("frame_index", "int64"),
        ("episode_index", "int64"),
        ("index", "int64"),
        ("task_index", "int64"),
    ):
        features[name] = {"dtype": dtype, "shape": [1], "names": None}
    return features


__all__ = ["CODEBASE_VERSION", "export_lerobot", "video_key"]
