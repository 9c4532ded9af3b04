"""LeRobot dataset layout, versions v3.0 and v2.1: file names, path templates, feature keys.

The one place demoforge states LeRobot's on-disk format; the reader (`lerobot_reader.py`) and the
export (`export_lerobot.py`) both use it. Read from LeRobot 0.4.4's source:
lerobot/datasets/utils.py (INFO_PATH, STATS_PATH, DEFAULT_TASKS_PATH, DEFAULT_EPISODES_PATH,
DEFAULT_DATA_PATH, DEFAULT_VIDEO_PATH, LEGACY_EPISODES_PATH, LEGACY_TASKS_PATH) and
lerobot/datasets/v30/convert_dataset_v21_to_v30.py (the v2.1 layout it converts from).

    v3.0: many episodes per file
        meta/info.json, meta/stats.json, meta/tasks.parquet (index = task text, column task_index)
        meta/episodes/chunk-*/file-*.parquet  one row per episode: length, tasks, data file, row range
            (dataset_from_index .. dataset_to_index of the `index` column), and per video key its file
            and [from_timestamp, to_timestamp) in it
        data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet
        videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4
    v2.1: one parquet and one mp4 per episode
        meta/info.json, meta/episodes.jsonl {episode_index, tasks, length}, meta/tasks.jsonl
        {task_index, task}, meta/episodes_stats.jsonl
        data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet
        videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4

Both versions write the path templates into info.json (`data_path`, `video_path`); the reader formats
those, so a dataset with other chunk sizes or names reads the same.
"""

from __future__ import annotations

V30, V21 = "v3.0", "v2.1"
VERSIONS = (V30, V21)
CODEBASE_VERSION = V30  # what the export writes

INFO_FILE = "meta/info.json"
STATS_FILE = "meta/stats.json"
TASKS_FILE = "meta/tasks.parquet"  # v3.0
EPISODES_GLOB = "meta/episodes/*/*.parquet"  # v3.0
EPISODES_FILE = "meta/episodes/chunk-000/file-000.parquet"  # what the export writes
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
LEGACY_EPISODES_FILE = "meta/episodes.jsonl"  # v2.1
LEGACY_TASKS_FILE = "meta/tasks.jsonl"  # v2.1
LEGACY_CHUNKS_SIZE = 1000  # v2.1 episodes per chunk folder when info.json does not say

# Feature keys and what they mean to demoforge (docs/lerobot.md states the mapping for users).
STATE = "observation.state"  # the follower's joint positions
ACTION = "action"  # the command sent (teleop: the leader's reading, as lerobot-record stores it)
VELOCITY = "observation.velocity"  # follower joint velocities, when recorded
EFFORT = "observation.effort"  # follower effort, when recorded
IMAGE_PREFIX = "observation.images."  # + camera name
SUCCESS = "next.success"  # per-frame success flag, when recorded
REWARD = "next.reward"  # per-frame reward, when recorded
TIMESTAMP, FRAME_INDEX, EPISODE_INDEX, INDEX, TASK_INDEX = (
    "timestamp",
    "frame_index",
    "episode_index",
    "index",
    "task_index",
)

# LeRobotDataset's default `tolerance_s` (lerobot/datasets/lerobot_dataset.py:574, documented at
# :678-682 as "each timestamp is separated to the next by 1/fps +/- tolerance_s"); its video decoders
# refuse a frame further than that from the queried timestamp (lerobot/datasets/video_utils.py:229).
TOLERANCE_S = 1e-4


def video_key(cam: str) -> str:
    return f"{IMAGE_PREFIX}{cam}"


def episode_name(index: int) -> str:
    """How reports, splits and overrides name a LeRobot episode: by its episode_index."""
    return f"episode_{index}"


__all__ = [
    "ACTION",
    "CODEBASE_VERSION",
    "STATE",
    "TOLERANCE_S",
    "VERSIONS",
    "episode_name",
    "video_key",
]
