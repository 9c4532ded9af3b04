"""Load a demoforge LeRobot export with LeRobot's own classes and compare its frames with the source's.

Run in the peer venv (LeRobot 0.4.4: ../shared/peers/peer_lerobot_setup.sh), not in CI:

    /tmp/peer-lerobot-venv/bin/python scripts/verify_lerobot_export.py OUT [--source SRC]

Checks, printing one JSON line and exiting non-zero on a mismatch:
  - `LeRobotDatasetMetadata(repo_id, root=OUT)` reads it, with the episode and frame counts that
    meta/demoforge_source.json (the clips `splits.json` implied) gives;
  - `LeRobotDataset(repo_id, root=OUT)` loads it (its table; LeRobot's own video decoding does not work
    in the peer venv, so frames are decoded with PyAV);
  - with --source (a LeRobot dataset the export was made from): each exported episode's frames match the
    source's at the kept ticks (mean absolute difference per frame, both decoded with PyAV; the export
    re-encodes, so equality is up to the codecs' loss).
Uses nothing of demoforge (the peer venv does not have it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq

MAX_MEAN_DIFF = 8.0  # grey levels: two lossy encodings of one frame differ this much at most on our fixture


def frames(path: Path, t0: float, t1: float, fps: float) -> np.ndarray:
    half = 0.5 / fps
    out = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            t = float(f.pts * s.time_base)
            if t < t0 - half:
                continue
            if t >= t1 - half:
                break
            out.append(f.to_ndarray(format="rgb24"))
    return np.stack(out) if out else np.zeros((0, 1, 1, 3), np.uint8)


def episode_frames(root: Path, info: dict, row: dict, key: str) -> np.ndarray:
    path = root / info["video_path"].format(
        video_key=key,
        chunk_index=row[f"videos/{key}/chunk_index"],
        file_index=row[f"videos/{key}/file_index"],
    )
    return frames(path, row[f"videos/{key}/from_timestamp"], row[f"videos/{key}/to_timestamp"], info["fps"])


def episodes_table(root: Path) -> dict[int, dict]:
    rows = {}
    for f in sorted((root / "meta" / "episodes").rglob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            rows[r["episode_index"]] = r
    return rows


def main() -> int:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata

    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--source", type=Path, help="the LeRobot dataset the export was made from")
    a = ap.parse_args()
    clips = json.loads((a.out / "meta" / "demoforge_source.json").read_text())["episodes"]
    want_frames = sum(c["stop"] - c["start"] for c in clips)
    meta = LeRobotDatasetMetadata("demoforge/export", root=a.out)
    problems = []
    if meta.total_episodes != len(clips) or meta.total_frames != want_frames:
        problems.append(
            f"metadata: {meta.total_episodes} episodes / {meta.total_frames} frames, "
            f"the split implies {len(clips)} / {want_frames}"
        )
    ds = LeRobotDataset("demoforge/export", root=a.out)
    if ds.num_episodes != len(clips) or ds.num_frames != want_frames:
        problems.append(f"dataset: {ds.num_episodes} episodes / {ds.num_frames} frames")
    worst = 0.0
    compared = 0
    if a.source is not None:
        src_info = json.loads((a.source / "meta" / "info.json").read_text())
        out_info = json.loads((a.out / "meta" / "info.json").read_text())
        src_rows, out_rows = episodes_table(a.source), episodes_table(a.out)
        for new, clip in enumerate(clips):
            old = int(clip["file"].split("_")[1])
            for key in meta.video_keys:
                exported = episode_frames(a.out, out_info, out_rows[new], key)
                source = episode_frames(a.source, src_info, src_rows[old], key)[clip["start"] : clip["stop"]]
                if exported.shape != source.shape:
                    problems.append(f"episode {new} {key}: {exported.shape} frames, source {source.shape}")
                    continue
                diff = np.abs(exported.astype(np.int16) - source.astype(np.int16)).mean(axis=(1, 2, 3))
                worst = max(worst, float(diff.max()))
                compared += len(diff)
        if worst > MAX_MEAN_DIFF:
            problems.append(f"frames differ from the source's by up to {worst:.1f} grey levels")
    print(
        json.dumps(
            {
                "episodes": meta.total_episodes,
                "frames": meta.total_frames,
                "video_keys": meta.video_keys,
                "frames_compared": compared,
                "worst_mean_abs_diff": round(worst, 2),
                "problems": problems,
            }
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
