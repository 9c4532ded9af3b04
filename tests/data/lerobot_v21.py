"""Lay some episodes of the LeRobot-written v3.0 fixture out as a LeRobot v2.1 dataset, at test time.

LeRobot 0.4.4 (the peer venv) writes only v3.0, so the v2.1 layout is rebuilt from the v3.0 files
following the mapping in lerobot/datasets/v30/convert_dataset_v21_to_v30.py (its docstring: one
parquet and one mp4 per episode, meta/episodes.jsonl and meta/tasks.jsonl, info.json's `data_path`
"data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet" and `video_path`
"videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"). Each episode's frames
are decoded from the shared mp4 and re-encoded alone (h264: the v3.0 AV1 keyframes do not fall on
episode boundaries).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from demoforge.schemas.export_video import VideoFile
from demoforge.schemas.lerobot_reader import LeRobotSource

V30 = Path(__file__).parent / "lerobot_v30"
DATA_PATH = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"


def write_v21(out: Path, episodes: list[int]) -> Path:
    """`episodes` of the v3.0 fixture, renumbered 0.., as a v2.1 dataset in `out`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = LeRobotSource(V30)
    (out / "meta").mkdir(parents=True)
    info = dict(src.info)
    info.update(
        codebase_version="v2.1", data_path=DATA_PATH, video_path=VIDEO_PATH, total_episodes=len(episodes)
    )
    for key in ("data_files_size_in_mb", "video_files_size_in_mb"):
        info.pop(key, None)
    lines, frames = [], 0
    for new, old in enumerate(episodes):
        with src.open(old) as ep:
            table = pq.read_table(
                V30 / "data/chunk-000/file-000.parquet", filters=[("episode_index", "=", old)]
            )
            cols = {name: table.column(name) for name in table.column_names}
            cols["episode_index"] = pa.array(np.full(ep.length, new, np.int64))
            cols["index"] = pa.array(np.arange(frames, frames + ep.length, dtype=np.int64))
            path = out / DATA_PATH.format(episode_chunk=0, episode_index=new)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.table(cols), path)
            for cam in ep.cameras:
                key = f"observation.images.{cam}"
                video = out / VIDEO_PATH.format(episode_chunk=0, video_key=key, episode_index=new)
                h, w = ep.image_shapes[cam][:2]
                mp4 = VideoFile(video, int(src.fps), w, h, "h264")
                for frame in ep.frames(cam):
                    mp4.add(frame)
                mp4.close()
            lines.append({"episode_index": new, "tasks": ep.tasks, "length": ep.length})
            frames += ep.length
    info["total_frames"] = frames
    (out / "meta/info.json").write_text(json.dumps(info, indent=1))
    (out / "meta/episodes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    tasks = "".join(json.dumps({"task_index": i, "task": t}) + "\n" for i, t in sorted(src.tasks.items()))
    (out / "meta/tasks.jsonl").write_text(tasks)
    shutil.copy(V30 / "meta/stats.json", out / "meta/stats.json")
    return out
