"""Read LeRobot datasets (v3.0 and v2.1) as episodes with the interface of `EpisodeReader`.

`LeRobotSource` reads a dataset's metadata once (info.json, the episodes table, tasks) and validates
it; `LeRobotEpisodeReader` is one episode: its rows of the data table, its frames of each camera's
video (decoded with PyAV, seeking to the episode's span in a shared mp4), under the names of our
layout (`episode_layout`), so the checks, the report and `split` see one kind of episode.

What the format never recorded is said, not invented (`not_recorded`): LeRobot's `timestamp` is
`frame_index / fps` by construction (lerobot/datasets/lerobot_dataset.py:1197-1198, `add_frame`), so
the control loop's real rate and the cameras' own timing are unknown; joint limits are not stored.
Everything that can go wrong with the files raises `EpisodeError` naming the file and the problem.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas import lerobot_layout as LR
from demoforge.schemas.errors import EpisodeError

NO_TIMING = (
    "LeRobot's timestamp is frame_index / fps by construction: the control loop's real rate and the "
    "cameras' own timing were never recorded"
)
NOT_RECORDED = {  # check id -> why a LeRobot dataset cannot feed it
    "control_rate": NO_TIMING,
    "frame_drop": NO_TIMING,
    "camera_rate": NO_TIMING,
    "stale_frame": NO_TIMING,
    "camera_sync": NO_TIMING,
}
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, IndexError, RuntimeError, AttributeError)
FIX = "re-download or re-convert the dataset; `lerobot-edit-dataset` cannot repair a damaged file"


def is_lerobot(folder: Path) -> bool:
    """A LeRobot dataset is recognised by its meta/info.json."""
    return (folder / LR.INFO_FILE).is_file()


def _pyarrow() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise EpisodeError(
            "reading a LeRobot dataset needs pyarrow and av", "pip install 'demoforge[export]'"
        ) from None
    return pq


@dataclass
class EpisodeMeta:
    """One row of the episodes table: where an episode's rows and frames are."""

    index: int
    length: int
    tasks: list[str]
    data_file: Path
    videos: dict[str, tuple[Path, float, float]] = field(default_factory=dict)  # cam -> (mp4, from_s, to_s)


class LeRobotSource:
    """A LeRobot dataset folder: metadata read and validated once; episodes opened by index."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        info = self._json(LR.INFO_FILE)
        if not isinstance(info, dict):
            raise self._error(LR.INFO_FILE, "is not a JSON object")
        self.info = info
        self.version = info.get("codebase_version")
        if self.version not in LR.VERSIONS:
            raise self._error(
                LR.INFO_FILE,
                f"codebase_version {self.version!r} is not one demoforge reads ({', '.join(LR.VERSIONS)})",
                "convert it with LeRobot's convert_dataset_v21_to_v30 (v2.0 datasets: to v2.1 first)",
            )
        fps = info.get("fps")
        if not isinstance(fps, int | float) or isinstance(fps, bool) or not fps > 0 or not math.isfinite(fps):
            raise self._error(LR.INFO_FILE, f"fps {fps!r} is not a positive number")
        self.fps = float(fps)
        features = info.get("features")
        if not isinstance(features, dict) or not all(isinstance(v, dict) for v in features.values()):
            raise self._error(LR.INFO_FILE, "has no `features` object")
        self.features: dict[str, dict[str, Any]] = features
        for key in (LR.STATE, LR.ACTION):
            if key not in features:
                raise self._error(
                    LR.INFO_FILE,
                    f"has no {key!r} feature",
                    "demoforge reads the follower from observation.state and the command from action",
                )
        self.n_joints = self._width(LR.STATE)
        if self._width(LR.ACTION) != self.n_joints:
            raise self._error(LR.INFO_FILE, f"{LR.ACTION} and {LR.STATE} have different widths")
        self.cameras = [
            k[len(LR.IMAGE_PREFIX) :]
            for k, v in features.items()
            if k.startswith(LR.IMAGE_PREFIX) and v.get("dtype") == "video"
        ]
        self.image_cameras = [  # stored as images in the parquet: not read (rare on the Hub)
            k for k, v in features.items() if k.startswith(LR.IMAGE_PREFIX) and v.get("dtype") == "image"
        ]
        for key, suffix in (("data_path", ".parquet"), *((("video_path", ".mp4"),) if self.cameras else ())):
            template = info.get(key)
            # a template names each episode's file through its fields ({episode_index}, {chunk_index}, ...)
            if not isinstance(template, str) or "{" not in template or not template.endswith(suffix):
                raise self._error(
                    LR.INFO_FILE, f"`{key}` is {template!r}, not a path template ending in {suffix}"
                )
        self.tasks: dict[int, str] = self._tasks()
        self.episodes: dict[int, EpisodeMeta] = {e.index: e for e in self._episodes()}
        if not self.episodes:
            raise self._error("meta", "lists no episodes", "pass a dataset with at least one episode")

    # -- metadata ----------------------------------------------------------------------------------

    def _error(self, rel: str, problem: str, hint: str = FIX) -> EpisodeError:
        return EpisodeError(f"{self.root / rel}: {problem}", hint)

    def _json(self, rel: str) -> Any:
        path = self.root / rel
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise self._error(rel, "is missing", "pass the dataset's root folder (it holds meta/)") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise self._error(rel, f"is not valid JSON ({e})") from None

    def _jsonl(self, rel: str) -> list[dict[str, Any]]:
        path = self.root / rel
        try:
            lines = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
        except FileNotFoundError:
            raise self._error(rel, "is missing") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise self._error(rel, f"is not valid JSON lines ({e})") from None
        if not all(isinstance(x, dict) for x in lines):
            raise self._error(rel, "holds a line that is not a JSON object")
        return lines

    def _width(self, key: str) -> int:
        shape = self.features[key].get("shape")
        if not isinstance(shape, list | tuple) or len(shape) != 1 or not isinstance(shape[0], int):
            raise self._error(LR.INFO_FILE, f"feature {key!r} has shape {shape!r}, expected [J]")
        return int(shape[0])

    def joint_names(self, key: str = LR.STATE) -> list[str]:
        names = self.features[key].get("names")
        if isinstance(names, dict):  # older datasets: {"motors": [...]}
            names = next(iter(names.values()), None)
        if isinstance(names, list) and len(names) == self.n_joints:
            return [str(n) for n in names]
        return [f"joint_{i}" for i in range(self.n_joints)]

    def table(self, rel: str | Path, columns: list[str] | None = None, filters: Any = None) -> Any:
        """A parquet file of the dataset as a pyarrow Table; a damaged file is an EpisodeError."""
        pq = _pyarrow()
        path = self.root / rel
        if not path.is_file():
            raise self._error(str(rel), "is missing")
        try:
            return pq.read_table(path, columns=columns, filters=filters)
        except _READ_ERRORS as e:
            raise self._error(str(rel), f"is not a readable parquet file ({e})") from None
        except Exception as e:  # pyarrow's own errors (ArrowInvalid is a ValueError; others are not)
            if type(e).__module__.startswith("pyarrow"):
                raise self._error(str(rel), f"is not a readable parquet file ({e})") from None
            raise

    def _tasks(self) -> dict[int, str]:
        if self.version == LR.V21:
            rows = self._jsonl(LR.LEGACY_TASKS_FILE)
            pairs = [(r.get("task_index"), r.get("task")) for r in rows]
        else:
            t = self.table(LR.TASKS_FILE).to_pydict()
            texts = t.get("task") or t.get("__index_level_0__")  # written from pandas: the index
            pairs = list(zip(t.get("task_index", []), texts or [], strict=False))
        out: dict[int, str] = {}
        for i, text in pairs:
            if not isinstance(i, int) or isinstance(i, bool) or not isinstance(text, str):
                where = LR.LEGACY_TASKS_FILE if self.version == LR.V21 else LR.TASKS_FILE
                raise self._error(where, "holds a task without an integer task_index and a text")
            out[i] = text
        return out

    def _episodes(self) -> list[EpisodeMeta]:
        return self._episodes_v21() if self.version == LR.V21 else self._episodes_v30()

    def _episodes_v21(self) -> list[EpisodeMeta]:
        chunks = self.info.get("chunks_size", LR.LEGACY_CHUNKS_SIZE)
        if not isinstance(chunks, int) or chunks < 1:
            raise self._error(LR.INFO_FILE, f"chunks_size {chunks!r} is not a positive integer")
        out = []
        for n, row in enumerate(self._jsonl(LR.LEGACY_EPISODES_FILE)):
            index, length, tasks = row.get("episode_index"), row.get("length"), row.get("tasks", [])
            if not isinstance(index, int) or not isinstance(length, int) or length < 0:
                raise self._error(
                    LR.LEGACY_EPISODES_FILE, f"line {n + 1} lacks an integer episode_index and length"
                )
            where = {"episode_chunk": index // chunks, "episode_index": index}
            data = self._path("data_path", **where)
            videos = {
                cam: (self._path("video_path", video_key=LR.video_key(cam), **where), 0.0, length / self.fps)
                for cam in self.cameras
            }
            out.append(EpisodeMeta(index, length, [str(t) for t in tasks or []], data, videos))
        return out

    def _episodes_v30(self) -> list[EpisodeMeta]:
        files = sorted(self.root.glob(LR.EPISODES_GLOB))
        if not files:
            raise self._error("meta/episodes", "holds no parquet files")
        out = []
        for f in files:
            rel = f.relative_to(self.root)
            rows = self.table(rel, columns=None).to_pylist()
            for n, row in enumerate(rows):
                out.append(self._episode_v30(str(rel), n, row))
        return out

    def _episode_v30(self, rel: str, n: int, row: dict[str, Any]) -> EpisodeMeta:
        def need(key: str, kind: type | tuple[type, ...]) -> Any:
            v = row.get(key)
            if not isinstance(v, kind) or isinstance(v, bool):
                raise self._error(
                    rel, f"row {n}: {key} is {v!r}, expected {getattr(kind, '__name__', 'a number')}"
                )
            return v

        index, length = need("episode_index", int), need("length", int)
        data = self._path(
            "data_path", chunk_index=need("data/chunk_index", int), file_index=need("data/file_index", int)
        )
        videos = {}
        for cam in self.cameras:
            key = LR.video_key(cam)
            path = self._path(
                "video_path",
                video_key=key,
                chunk_index=need(f"videos/{key}/chunk_index", int),
                file_index=need(f"videos/{key}/file_index", int),
            )
            t0, t1 = (
                need(f"videos/{key}/from_timestamp", (int, float)),
                need(f"videos/{key}/to_timestamp", (int, float)),
            )
            if not (math.isfinite(t0) and math.isfinite(t1) and 0 <= t0 <= t1):
                raise self._error(rel, f"row {n}: the {key} span [{t0}, {t1}] is not a time span")
            videos[cam] = (path, float(t0), float(t1))
        tasks = row.get("tasks") or []
        if length < 0:
            raise self._error(rel, f"row {n}: length {length} is negative")
        return EpisodeMeta(index, length, [str(t) for t in tasks], data, videos)

    def _path(self, template: str, **where: Any) -> Path:
        try:
            return self.root / str(self.info[template]).format(**where)
        except (KeyError, IndexError, ValueError) as e:
            raise self._error(LR.INFO_FILE, f"`{template}` cannot be filled in ({e})") from None

    # -- episodes ----------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return [LR.episode_name(i) for i in sorted(self.episodes)]

    def open(self, index: int) -> LeRobotEpisodeReader:
        if index not in self.episodes:
            raise EpisodeError(f"{self.root}: no episode {index}", f"episodes: 0 .. {max(self.episodes)}")
        return LeRobotEpisodeReader(self, self.episodes[index])

    def stats(self) -> dict[str, Any] | None:
        """meta/stats.json, None when the dataset has none."""
        if not (self.root / LR.STATS_FILE).is_file():
            return None
        doc = self._json(LR.STATS_FILE)
        if not isinstance(doc, dict):
            raise self._error(LR.STATS_FILE, "is not a JSON object")
        return doc


class LeRobotEpisodeReader:
    """One LeRobot episode under our layout's names (`episode_layout`); see the module docstring."""

    def __init__(self, source: LeRobotSource, meta: EpisodeMeta) -> None:
        self.source, self.meta = source, meta
        self.episode_index = meta.index
        self.path = source.root / LR.episode_name(meta.index)  # its name is what reports show
        self.fps: float | None = source.fps
        self.cut_off = False
        self.complete = True
        self.sim = False
        self.cameras = list(source.cameras)
        self.n_joints = source.n_joints
        self.not_recorded = dict(NOT_RECORDED)
        self._cache: dict[str, np.ndarray] = {}
        self._frames: dict[tuple[str, int], np.ndarray] = {}
        self.video_frames: dict[str, int] = {}  # cam -> frames its video holds for this episode
        self._read_rows()
        self.length = len(self._cache[L.QPOS])
        h = {cam: self._feature_size(cam) for cam in self.cameras}
        self.image_shapes: dict[str, tuple[int, ...]] = {cam: (*h[cam], 3) for cam in self.cameras}
        self.camera_info: dict[str, dict[str, Any]] = {
            cam: {
                "name": cam,
                "type": "lerobot-video",
                "height": h[cam][0],
                "width": h[cam][1],
                "fps": self.fps,
            }
            for cam in self.cameras
        }
        task = self.tasks[0] if self.tasks else ""
        self.attrs: dict[str, Any] = {
            "task": task,
            "episode_index": meta.index,
            "robot": str(source.info.get("robot_type") or ""),
            "fps": self.fps,
        }
        self.missing = [
            name
            for name in (L.QVEL, L.EFFORT, L.LEADER_QPOS, L.TIMESTAMPS, *L.TICK_SCALARS)
            if name not in self._cache
        ]
        self.missing += [p(c) for c in self.cameras for p in (L.frame_time_path, L.frame_index_path)]
        self.missing += [p(c) for c in self.cameras for p in (L.device_time_path, L.device_index_path)]
        self.missing += ["attr:joint_limits", "attr:cameras", "attr:loop_stats", "attr:schema_version"]
        if SUCCESS_KEY not in self.columns:
            self.missing.append("attr:success")
            self.not_recorded["success_label"] = f"the dataset records no success label ({SUCCESS_KEY})"
        self.optional_missing = [m for m in self.missing if not m.startswith("attr:")]
        self.compressed = False

    # -- rows --------------------------------------------------------------------------------------

    def _read_rows(self) -> None:
        src, meta = self.source, self.meta
        rel = meta.data_file.relative_to(src.root)
        filters = [(LR.EPISODE_INDEX, "=", meta.index)] if src.version == LR.V30 else None
        table = src.table(rel, filters=filters)
        self.columns: dict[str, np.ndarray] = {}
        for name in table.column_names:
            try:
                col = table.column(name).to_numpy(zero_copy_only=False)
                if col.dtype == object and len(col) and isinstance(col[0], list | np.ndarray):
                    col = np.stack([np.asarray(v) for v in col])
            except (ValueError, TypeError):
                continue  # a column of another kind (strings, images): not ours to read
            self.columns[name] = col
        for key in (LR.STATE, LR.ACTION):
            if key not in self.columns:
                raise src._error(str(rel), f"has no {key} column")
        n = len(self.columns[LR.STATE])
        for key, name in (
            (LR.STATE, L.QPOS),
            (LR.ACTION, L.ACTION),
            (LR.VELOCITY, L.QVEL),
            (LR.EFFORT, L.EFFORT),
        ):
            if key not in self.columns:
                continue
            arr = self.columns[key]
            if arr.ndim != 2 or arr.shape != (n, src.n_joints) or arr.dtype.kind not in "fiu":
                raise src._error(
                    str(rel),
                    f"episode {meta.index}: {key} has shape {arr.shape} {arr.dtype}, "
                    f"expected ({n}, {src.n_joints}) numbers",
                )
            self._cache[name] = arr.astype(np.float32, copy=False)
        if REWARD_KEY in self.columns:
            self._cache[L.REWARD] = np.asarray(self.columns[REWARD_KEY], np.float32).reshape(n, -1)[:, 0]
        for key in (LR.TIMESTAMP, LR.FRAME_INDEX, LR.INDEX, LR.TASK_INDEX):
            if key in self.columns and (
                self.columns[key].ndim != 1 or self.columns[key].dtype.kind not in "fiu"
            ):
                raise src._error(str(rel), f"episode {meta.index}: {key} is not one number per row")

    @property
    def tasks(self) -> list[str]:
        if LR.TASK_INDEX in self.columns and len(self.columns[LR.TASK_INDEX]):
            ids = dict.fromkeys(int(i) for i in self.columns[LR.TASK_INDEX])
            return [self.source.tasks.get(i, f"task {i}") for i in ids]
        return list(self.meta.tasks)

    def _feature_size(self, cam: str) -> tuple[int, int]:
        ft = self.source.features[LR.video_key(cam)]
        info = ft.get("info") or {}
        h, w = info.get("video.height"), info.get("video.width")
        if not isinstance(h, int) or not isinstance(w, int):
            shape = ft.get("shape")
            names = ft.get("names")
            if isinstance(shape, list | tuple) and len(shape) == 3 and all(isinstance(s, int) for s in shape):
                h, w = (
                    (shape[1], shape[2])
                    if isinstance(names, list) and names[:1] == ["channels"]
                    else shape[:2]
                )
            else:
                raise self.source._error(LR.INFO_FILE, f"feature {LR.video_key(cam)!r} has no frame size")
        return int(h), int(w)

    # -- EpisodeReader's interface -----------------------------------------------------------------

    @property
    def joint_names(self) -> list[str]:
        return self.source.joint_names()

    joint_limits = None  # LeRobot stores none: joint_limit needs `check --rig` or `--limits`

    @property
    def loop_stats(self) -> dict[str, Any]:
        return {}  # the loop's timing is not recorded

    @property
    def success(self) -> int:
        if SUCCESS_KEY not in self.columns or not self.length:
            return L.SUCCESS_UNLABELED
        return int(bool(np.asarray(self.columns[SUCCESS_KEY]).reshape(self.length, -1).any()))

    @property
    def duration(self) -> float:
        return self.length / self.source.fps

    def array(self, name: str, *, check_finite: bool = True) -> np.ndarray:
        if name not in self._cache:
            raise EpisodeError(f"{self.path}: {name} is not in this LeRobot dataset", "")
        arr = self._cache[name]
        if check_finite and arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise EpisodeError(f"{self.path}: {name} has a non-finite value at row {int(bad[0])}", FIX)
        return arr

    def optional(self, name: str) -> np.ndarray | None:
        L.optional_spec(name)
        return self._cache.get(name)

    @property
    def qpos(self) -> np.ndarray:
        return self.array(L.QPOS)

    @property
    def action(self) -> np.ndarray:
        return self.array(L.ACTION)

    @property
    def qvel(self) -> np.ndarray | None:
        return self._cache.get(L.QVEL)

    @property
    def effort(self) -> np.ndarray | None:
        return self._cache.get(L.EFFORT)

    leader_qpos = None
    timestamps = None

    def frame_time(self, cam: str) -> None:
        return None

    def frame_index(self, cam: str) -> None:
        return None

    def jpeg_lengths(self, cam: str) -> None:
        return None

    def image(self, cam: str, t: int, *, reduce: int = 1) -> np.ndarray:
        """The RGB frame of `cam` at tick `t` (H/reduce, W/reduce, 3); decodes the episode's span once."""
        if cam not in self.image_shapes:
            raise EpisodeError(
                f"{self.path}: no camera {cam!r}", f"cameras: {', '.join(self.cameras) or 'none'}"
            )
        if not -self.length <= t < self.length:
            raise IndexError(f"tick {t} out of range for {self.length} ticks")
        t = t % self.length
        if (cam, reduce) not in self._frames:  # one frame: seek to it (a training sample, a thumbnail)
            one = self._decode(cam, reduce, t / self.source.fps, (t + 1) / self.source.fps)
            if len(one):
                return one[0]
        frames = self.frames(cam, reduce)
        if t >= len(frames):
            key = LR.video_key(cam)
            raise EpisodeError(
                f"{self.path}: {key} holds {len(frames)} frames for {self.length} rows (none for tick {t})",
                FIX,
            )
        return frames[t]

    def frames(self, cam: str, reduce: int = 1) -> np.ndarray:
        """Every frame of the episode's span of `cam`'s video, (N, H/reduce, W/reduce, 3), cached."""
        if (cam, reduce) not in self._frames:
            _, t0, t1 = self.meta.videos[cam]
            self._frames[(cam, reduce)] = self._decode(cam, reduce, 0.0, t1 - t0)
            self.video_frames[cam] = len(self._frames[(cam, reduce)])
        return self._frames[(cam, reduce)]

    def _decode(self, cam: str, reduce: int, a: float, b: float) -> np.ndarray:
        """Frames shown in [a, b) s of this episode (within its span of the video), 1/reduce size."""
        from demoforge.schemas.lerobot_video import decode_span

        path, t0, t1 = self.meta.videos[cam]
        h, w = self.image_shapes[cam][:2]
        size = (max(1, h // reduce), max(1, w // reduce))
        return decode_span(path, t0 + a, min(t0 + b, t1), self.source.fps, size)

    def images(self, cam: str, ticks: list[int] | range | None = None) -> np.ndarray:
        frames = self.frames(cam)
        return frames if ticks is None else frames[list(ticks)]

    def datasets(self) -> list[tuple[str, tuple[int, ...], str]]:
        return sorted((k, tuple(v.shape), str(v.dtype)) for k, v in self.columns.items())

    def close(self) -> None:
        self._frames.clear()

    def __enter__(self) -> LeRobotEpisodeReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


SUCCESS_KEY, REWARD_KEY = LR.SUCCESS, LR.REWARD
