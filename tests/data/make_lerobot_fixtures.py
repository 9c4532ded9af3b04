"""Regenerate tests/data/lerobot_v30: a small LeRobot v3.0 dataset written by LeRobot's own writer.

Run in the peer venv (LeRobot 0.4.4; `../shared/peers/peer_lerobot_setup.sh` builds it), never in CI:

    /tmp/peer-lerobot-venv/bin/python tests/data/make_lerobot_fixtures.py
    # a bigger one for benchmarks/bench_check.py --lerobot (episodes past 14 are clean):
    /tmp/peer-lerobot-venv/bin/python tests/data/make_lerobot_fixtures.py \
        --out /tmp/lr200 --episodes 200 --size 480x640

It uses LeRobot's public recording API (`LeRobotDataset.create`, `add_frame`, `save_episode`,
`finalize`: lerobot/datasets/lerobot_dataset.py), AV1 video as `lerobot-record` writes it. The
defects are planted in the signals as they happen on real rigs; `PLANTED` below is what the tests in
tests/quality/test_lerobot_source.py expect (keep both in step). Output is deterministic in content,
not byte for byte (the encoder and parquet writer stamp versions).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np

FPS = 30
LENGTH = 105  # ticks of a clean episode (3.5 s): longer than ACT's 100-tick chunk
SIZE = 64  # px, square frames: small files, and SVT-AV1 takes nothing smaller
JOINTS = ["waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper"]
OUT = Path(__file__).parent / "lerobot_v30"
TASK = "pick up the cube"

# episode_index -> (defect, first tick, end tick); see test_lerobot_source.py
PLANTED: dict[int, tuple[str, int, int]] = {
    5: ("pause", 50, 80),
    6: ("idle", 0, 30),
    7: ("frozen_frame", 40, 70),  # wrist camera repeats one image while the arm moves
    8: ("dark_frame", 55, 80),  # top camera black (lens cap, light off)
    9: ("length_outlier", 0, 3 * LENGTH),  # 3x long: the operator forgot to stop
    10: ("action_spike", 70, 71),  # leader encoder glitch: one reading jumps 1.5 rad
    11: ("dead_joint", 0, LENGTH),  # follower elbow never moves although commanded
    12: ("length_outlier", 0, 30),  # too short: aborted
    13: ("near_duplicate", 0, LENGTH),  # an exact copy of episode 1 (saved twice)
    14: ("timestamp", 60, 61),  # a converted recording whose timestamps skip one frame period
}


def motion(n: int, seed: int) -> np.ndarray:
    """(n, J) smooth operator commands in rad (gripper 0..1), different for every seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / FPS
    freq = rng.uniform(0.15, 0.35, len(JOINTS))
    phase = rng.uniform(0, 2 * np.pi, len(JOINTS))
    amp = rng.uniform(0.3, 0.6, len(JOINTS))
    # every episode starts from the same rest pose, as an operator's do
    a = amp * (np.sin(2 * np.pi * freq * t[:, None] + phase) - np.sin(phase))
    a[:, -1] = 0.5 + 0.4 * (np.sin(2 * np.pi * 0.3 * t + phase[-1]) - np.sin(phase[-1]))
    return a.astype(np.float32)


def follow(action: np.ndarray, seed: int) -> np.ndarray:
    """The follower one tick behind its command, with a little servo noise."""
    rng = np.random.default_rng(seed + 1000)
    state = np.concatenate([action[:1], action[:-1]])
    return (state + rng.normal(0, 2e-4, state.shape)).astype(np.float32)


def frames(state: np.ndarray, scene: int) -> tuple[np.ndarray, np.ndarray]:
    """(n, S, S, 3) top and wrist images: a cube at the scene's place, the arm where its joints say."""
    n = len(state)
    rng = np.random.default_rng(scene)
    cube = rng.integers(8, SIZE - 16, 2)
    top = np.full((n, SIZE, SIZE, 3), 110, np.uint8)
    top[:, :, :, 2] = np.linspace(80, 160, SIZE, dtype=np.uint8)[None, :, None]
    top[:, cube[0] : cube[0] + 8, cube[1] : cube[1] + 8] = (200, 40, 40)
    wrist = np.empty((n, SIZE, SIZE, 3), np.uint8)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    for i, q in enumerate(state):
        # the arm seen from above: soft blobs at its elbow, wrist and gripper, each joint moving them
        x, y, angle, arm = SIZE / 2, SIZE - 6.0, -np.pi / 2 + q[0], np.zeros((SIZE, SIZE))
        for link, qj in ((22, q[1]), (16, q[2]), (10, q[4] + 0.5 * q[3] + 0.3 * q[5])):
            angle += qj
            x, y = x + link * np.cos(angle), y + link * np.sin(angle)
            arm += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 18.0)
        arm = np.clip(arm, 0, 1)[..., None]
        top[i] = (top[i] * (1 - arm) + np.array([40, 60, 220]) * arm).astype(np.uint8)
        shift = q[3] * 30 + q[4] * 20
        wrist[i] = (96 + 60 * np.sin((xx + shift) / 12.0) * np.cos((yy - shift) / 16.0))[..., None].astype(
            np.uint8
        )
        wrist[i, :, :, 1] = np.uint8(100 + 60 * q[-1])
    return top, wrist


def episode(index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(action, state, top, wrist) of one episode with its planted defect, if any."""
    seed = 1 if index == 13 else index
    n = {9: 3 * LENGTH, 12: 30}.get(index, LENGTH)
    action = motion(n, seed)
    defect = PLANTED.get(index)
    if defect and defect[0] in ("pause", "idle"):  # the operator holds still, then goes on from there
        _, a, b = defect
        action = np.concatenate(
            [action[:a], np.repeat(action[a : a + 1], b - a, axis=0), action[a : n - (b - a)]]
        )
    state = follow(action, seed)
    if index == 10:
        action[70, 1] += 1.5  # the command follows the glitching leader for one tick
    if index == 11:
        state[:, 2] = state[0, 2]
    top, wrist = frames(state, seed)
    if index == 7:
        wrist[40:70] = wrist[40]
    if index == 8:
        top[55:80] = 0
    return action, state, top, wrist


def _skip_a_period(root: Path, index: int) -> None:
    """Rewrite one episode's timestamps as a converter from real capture times leaves them.

    `add_frame` refuses a `timestamp` key (validate_frame in lerobot/datasets/utils.py), so the planted
    timing defect is written into the data parquet afterwards, as third-party converters do.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    for path in sorted((root / "data").rglob("*.parquet")):
        table = pq.read_table(path)
        ep = table.column("episode_index").to_numpy()
        ts = table.column("timestamp").to_numpy().copy()
        rows = np.flatnonzero(ep == index)
        if not len(rows):
            continue
        _, a, _ = PLANTED[index]
        ts[rows[a:]] += np.float32(1 / FPS)
        i = table.schema.get_field_index("timestamp")
        table = table.set_column(i, table.schema.field(i), pa.array(ts, table.schema.field(i).type))
        pq.write_table(table, path, compression="zstd")


def main() -> None:
    import argparse

    from lerobot.datasets.lerobot_dataset import LeRobotDataset  # the peer venv's

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--episodes", type=int, default=15, help="episodes 15 and up are clean")
    ap.add_argument("--size", default=f"{SIZE}x{SIZE}", help="HEIGHTxWIDTH of the stored frames")
    a = ap.parse_args()
    out: Path = a.out
    h, w = (int(v) for v in a.size.split("x"))
    rows, cols = np.arange(h) * SIZE // h, np.arange(w) * SIZE // w  # nearest-neighbour upscaling

    joints = {"dtype": "float32", "shape": (len(JOINTS),), "names": list(JOINTS)}
    image = {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}
    features = {
        "observation.state": joints,
        "action": joints,
        "observation.images.top": image,
        "observation.images.wrist": image,
    }
    if out.exists():
        shutil.rmtree(out)
    ds = LeRobotDataset.create("demoforge/planted", FPS, features, root=out, robot_type="viperx")
    for index in range(a.episodes):
        action, state, top, wrist = episode(index)
        if (h, w) != (SIZE, SIZE):
            top, wrist = top[:, rows][:, :, cols], wrist[:, rows][:, :, cols]
        task = "put the cube in the bin" if index == 3 else TASK
        for t in range(len(action)):
            ds.add_frame(
                {
                    "observation.state": state[t],
                    "action": action[t],
                    "observation.images.top": top[t],
                    "observation.images.wrist": wrist[t],
                    "task": task,
                }
            )
        ds.save_episode()
    ds.finalize()
    if a.episodes > 14:
        _skip_a_period(out, 14)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    if out == OUT:
        planted = {str(k): list(v) for k, v in PLANTED.items()}
        (OUT.parent / "lerobot_v30_planted.json").write_text(json.dumps(planted, indent=1) + "\n")
    print(f"wrote {out} ({size / 1024:.0f} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
