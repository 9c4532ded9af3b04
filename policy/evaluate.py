"""Evaluation: roll a policy out on a rig through the recorder, then measure the recorded rollouts.

    OUT/rollouts/        the rollouts as a dataset (check them with `demoforge check`)
    OUT/videos/*.mp4     the first few rollouts, every camera side by side
    OUT/eval.json        success rates, per-stage rates, action jumps, inference latency, and per rollout
                     its `scene_seed` (simulation rigs): rollout i starts from a fresh reset of it

Success needs the per-tick task reward (`/reward`, written by simulation rigs); elsewhere it is null.
Three counts, because published numbers use different ones (eval.json `schema_version` 2):
    success_reached: the top reward reached at any tick of the (400-tick) episode. The ACT paper's
                     count (act: imitate_episodes.py:288-295, `np.max(rewards) == env_max_reward`).
    success_lerobot: the top reward reached within the first 300 ticks: gym-aloha registers 300 steps
                     (gym_aloha/__init__.py, max_episode_steps) and ends an episode at reward 4
                     (env.py:180); LeRobot 0.4.4 counts a rollout successful if any step was
                     (scripts/lerobot_eval.py:154,365). Its ACT model card's 87.6 % (500 rollouts,
                     trained on the human transfer-cube data) counts this way.
    success_held:    the top reward still held at the last tick: stricter than either (a cube dropped
                     after the transfer fails). Version 1 called it `success_strict` (held at tick 400).
Per stage s = 1 .. top reward: the share of rollouts whose reward reached s (the paper's stage rates:
transfer-cube's stages are touched, lifted, transferred, and both grippers on the cube at 4).

Jerk at chunk boundaries: the mean joint step |a[t] - a[t-1]| (max over joints) at ticks where a new
chunk began to be used, against all other ticks. Much larger at boundaries means the chunks disagree:
use temporal ensembling, or a smaller m if it is on.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from demoforge.policy.api import Policy
from demoforge.policy.runner import PolicyGoals, latency_summary
from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import episode_files
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import ConfigError

LEROBOT_TICKS = 300  # gym-aloha's registered episode length
STRICT_TICKS = 400  # the ACT paper's episode length (act: constants.py:9,16,23, episode_len)
EVAL_SCHEMA_VERSION = 2  # 2: success_reached / success_held replace version 1's success_strict
TOP_REWARD = 4  # gym-aloha transfer-cube and insertion both top out at 4
# Rollout scenes start this far past the rig's seed; recordings use seed + file number, so a policy is
# never scored on the cube positions it was trained on (until a dataset holds 100000 episodes).
EVAL_SEED_OFFSET = 100_000
SUCCESS_KEYS = ("success_reached", "success_lerobot", "success_held")


def success_of(reward: np.ndarray, top_reward: int = TOP_REWARD) -> dict[str, bool]:
    """The three success counts of one rollout's per-tick reward (see the module's docstring)."""
    if not len(reward):
        return dict.fromkeys(SUCCESS_KEYS, False)
    return {
        "success_reached": bool(np.max(reward) >= top_reward),
        "success_lerobot": bool(np.max(reward[:LEROBOT_TICKS]) >= top_reward),
        "success_held": bool(reward[-1] >= top_reward),
    }


def rollout_metrics(path: Path, top_reward: int = TOP_REWARD) -> dict[str, Any]:
    """Success, stage reached and action jumps of one recorded rollout."""
    with EpisodeReader(path) as r:
        action = r.action.astype(np.float64)
        reward = r.optional(L.REWARD)
        latency = r.optional(L.INFERENCE_LATENCY)
        length = r.length
    out: dict[str, Any] = {"file": path.name, "ticks": length}
    if reward is not None:
        out["max_reward"] = float(np.max(reward)) if len(reward) else 0.0
        out.update(success_of(reward, top_reward))
    else:
        out["max_reward"] = None
        out.update(dict.fromkeys(SUCCESS_KEYS))
    step = np.abs(np.diff(action, axis=0)).max(axis=1) if length > 1 else np.zeros(0)  # step into tick t+1
    boundary = np.zeros(len(step), bool)
    if latency is not None:
        began = np.flatnonzero(np.isfinite(latency))
        began = began[(began >= 1) & (began < length)] - 1
        boundary[began] = True
    out["jump_at_boundary"] = float(step[boundary].mean()) if boundary.any() else None
    out["jump_inside"] = float(step[~boundary].mean()) if (~boundary).any() else None
    out["chunks_begun"] = int(boundary.sum())
    return out


def summarize(rows: list[dict[str, Any]], top_reward: int = TOP_REWARD) -> dict[str, Any]:
    """Rates over rollouts (`rollout_metrics` rows); what eval.json holds besides its provenance."""

    def rate(key: str) -> float | None:
        vals = [r[key] for r in rows if r[key] is not None]
        return float(np.mean(vals)) if vals else None

    labelled = [r for r in rows if r["max_reward"] is not None]
    stages = (
        {str(s): float(np.mean([r["max_reward"] >= s for r in labelled])) for s in range(1, top_reward + 1)}
        if labelled
        else None
    )
    jb = [r["jump_at_boundary"] for r in rows if r["jump_at_boundary"] is not None]
    ji = [r["jump_inside"] for r in rows if r["jump_inside"] is not None]
    jumps = {"at_boundary": float(np.mean(jb)) if jb else None, "inside": float(np.mean(ji)) if ji else None}
    advice = None
    if jumps["at_boundary"] and jumps["inside"] and jumps["at_boundary"] > 3 * jumps["inside"]:
        advice = (
            f"actions jump {jumps['at_boundary'] / jumps['inside']:.1f}x more at chunk boundaries than "
            "inside chunks: use temporal ensembling (--ensemble temporal), or a smaller m if it is on"
        )
    return {
        "schema_version": EVAL_SCHEMA_VERSION,
        "episodes": len(rows),
        **{k: rate(k) for k in SUCCESS_KEYS},
        "stage_rates": stages,
        "jumps": jumps,
        "jump_advice": advice,
    }


def success_counts(ev: dict[str, Any]) -> dict[str, float | None]:
    """The three success rates of an eval.json of any version (version 1 had only lerobot and held)."""
    if ev.get("schema_version", 1) >= 2:
        return {k: ev.get(k) for k in SUCCESS_KEYS}
    held = ev.get("success_strict")  # version 1: the top reward held at tick 400
    return {"success_reached": None, "success_lerobot": ev.get("success_lerobot"), "success_held": held}


def write_video(path: Path, out: Path, fps: float = 50.0) -> Path:
    """Every camera of a rollout side by side, as an mp4."""
    with EpisodeReader(path) as r:
        cams = r.cameras
        first = [r.image(c, 0) for c in cams]
        h = max(f.shape[0] for f in first)
        size = (sum(f.shape[1] for f in first), h)
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), r.fps or fps, size)
        try:
            for t in range(r.length):
                frames = [r.image(c, t) for c in cams]
                row = np.concatenate(
                    [np.pad(f, ((0, h - f.shape[0]), (0, 0), (0, 0))) for f in frames], axis=1
                )
                writer.write(np.ascontiguousarray(row[..., ::-1]))  # VideoWriter takes BGR
        finally:
            writer.release()
    return out


def evaluate(
    checkpoint: str | Path,
    rig_name: str,
    out: str | Path,
    *,
    episodes: int = 50,
    episode_time: float | None = None,
    videos: int = 3,
    top_reward: int = TOP_REWARD,
    device: str = "auto",
    precision: str = "auto",
    ensemble: dict[str, Any] | None = None,
    seed_offset: int = EVAL_SEED_OFFSET,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Roll out `episodes` times, record them, measure them; writes OUT/eval.json and returns it.

    `policy`: one already loaded (any `Policy`, e.g. another project's model behind the same interface:
    benchmarks/peer_policy.py) instead of loading `checkpoint`, which then only names it in eval.json.

    On a simulation rig rollout i starts from the scene of seed + seed_offset + i: the same scenes for
    every checkpoint evaluated with the same offset, and none a demonstration on the rig started from.
    """
    from demoforge.collect.operator_display import PlainDisplay
    from demoforge.collect.recorder import Recorder, RecordOptions
    from demoforge.collect.rigs import resolve_rig
    from demoforge.policy.api import load_policy, threads_beside_control_loop

    out = Path(out)
    if episode_files(out / "rollouts") if (out / "rollouts").is_dir() else []:
        raise ConfigError(f"{out / 'rollouts'} already holds rollouts", "evaluate into a new --out folder")
    rig = resolve_rig(rig_name)
    if policy is None:
        policy = load_policy(checkpoint, device, precision, threads=threads_beside_control_loop())
    policy.check_rig(rig)
    # Rendering is most of a simulated rollout's cost: cameras the policy does not see are left out
    # (of the rendering and of the rollouts' files).
    rig = dataclasses.replace(rig, cameras=tuple(c for c in rig.cameras if c.name in policy.cameras))
    if rig.simulation is not None:  # scenes no recording on this rig used (those are seed + file number)
        rig = dataclasses.replace(
            rig, simulation=dataclasses.replace(rig.simulation, seed=rig.simulation.seed + seed_offset)
        )
    goals = PolicyGoals(policy, policy.ensemble_config(ensemble), synchronous=rig.sim)
    opts = RecordOptions(
        dataset=out / "rollouts",
        episodes=episodes,
        task=f"eval {Path(checkpoint).name}",
        operator="policy",
        episode_time=episode_time
        if episode_time is not None
        else (STRICT_TICKS / rig.fps if rig.sim else None),
        unattended=True,
        label=-1,
    )
    try:
        with PlainDisplay() as display:
            Recorder(rig, opts, display=display, goal_source=goals).run()
    finally:
        goals.close()
    files = episode_files(out / "rollouts")
    rows = [rollout_metrics(p, top_reward) for p in files]
    for row in rows:  # a simulated rollout replays from its seed: SimScene.reset(scene_seed)
        number = L.episode_number(row["file"])
        row["scene_seed"] = rig.simulation.seed + number if rig.simulation and number is not None else None
    (out / "videos").mkdir(parents=True, exist_ok=True)
    made = [str(write_video(p, out / "videos" / f"{p.stem}.mp4")) for p in files[:videos]]
    summary = {
        "checkpoint": str(checkpoint),
        "runtime": policy.runtime,
        "rig": rig.name,
        "scene_seeds": [rig.simulation.seed, rig.simulation.seed + episodes - 1] if rig.simulation else None,
        "ensemble": dataclasses.asdict(goals.ensemble),
        **summarize(rows, top_reward),
        "inference_latency": latency_summary(goals.latencies_all),
        "videos": made,
        "rollouts": rows,
    }
    if summary["success_reached"] is None:
        summary["success_note"] = f"rig {rig.name} records no /reward: success is unknown"
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(summary, indent=2, default=_nan_none) + "\n")
    return summary


def _nan_none(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return str(v)
