"""Every eval rollout starts from its scene's fresh reset, however fast the policy infers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from demoforge.policy import api
from demoforge.policy.evaluate import EVAL_SEED_OFFSET, evaluate
from demoforge.schemas.episode_reader import EpisodeReader
from tests.policy.test_runner import tiny_checkpoint

pytest.importorskip("gym_aloha", reason="the simulated rig needs the `sim` extra")

ROLLOUTS = 3


class SlowPolicy:
    """The real policy with a fixed extra latency per inference: a slower runtime or machine."""

    def __init__(self, policy: Any, extra_s: float) -> None:
        self._policy, self._extra_s = policy, extra_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self._policy, name)

    def predict_chunk(self, frames: dict[str, np.ndarray], qpos: np.ndarray) -> np.ndarray:
        time.sleep(self._extra_s)  # a latency, not a wait for another thread
        return self._policy.predict_chunk(frames, qpos)


def starts(out: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(qpos of every tick, cam_high image of the first) of each rollout."""
    got = []
    for i in range(ROLLOUTS):
        with EpisodeReader(out / "rollouts" / f"episode_{i}.hdf5") as r:
            got.append((r.qpos.copy(), r.image("cam_high", 0)))
    return got


def test_rollouts_start_from_their_scenes_reset_whatever_the_inference_speed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demoforge.collect.rigs import resolve_rig
    from demoforge.collect.sim.scene import SimScene

    rig = resolve_rig("sim-transfer-cube")
    assert rig.simulation is not None
    ckpt = tiny_checkpoint(tmp_path / "best.pt", 14, ["cam_high"], rig.start_pose)
    real_load = api.load_policy
    runs = {}
    for name, extra_s in (("fast", 0.0), ("slow", 0.04)):
        monkeypatch.setattr(api, "load_policy", lambda *a, s=extra_s, **k: SlowPolicy(real_load(*a, **k), s))
        out = tmp_path / name
        summary = evaluate(ckpt, "sim-transfer-cube", out, episodes=ROLLOUTS, episode_time=0.1, videos=0)
        seeds = [rig.simulation.seed + EVAL_SEED_OFFSET + i for i in range(ROLLOUTS)]
        assert [row["scene_seed"] for row in summary["rollouts"]] == seeds  # anyone can replay one
        assert json.loads((out / "eval.json").read_text())["rollouts"][2]["scene_seed"] == seeds[2]
        runs[name] = starts(out)
    for i, ((q_fast, im_fast), (q_slow, im_slow)) in enumerate(zip(runs["fast"], runs["slow"], strict=True)):
        at = f"rollout {i}: depends on the inference speed"
        np.testing.assert_array_equal(q_slow[0], q_fast[0], err_msg=f"{at} (start qpos)")
        np.testing.assert_array_equal(im_slow, im_fast, err_msg=f"{at} (first image)")
        # the whole rollout too: synchronous inference on the same observations
        np.testing.assert_array_equal(q_slow, q_fast, err_msg=f"{at} (qpos)")
        assert np.abs(q_fast[-1] - q_fast[0]).max() > 1e-4  # the policy moved the arms: not a frozen scene
    scene = SimScene(rig.simulation.task)
    for i, (q_fast, _) in enumerate(runs["fast"]):
        scene.reset(rig.simulation.seed + EVAL_SEED_OFFSET + i)
        fresh = scene.qpos().astype(q_fast.dtype)  # recorded as float32
        np.testing.assert_array_equal(q_fast[0], fresh, err_msg=f"rollout {i}: not its scene's fresh reset")
    # the rollouts differ from each other: the cube moved (a different seed), not one scene replayed
    assert not np.array_equal(runs["fast"][0][1], runs["fast"][1][1])


class ConstantPolicy(api.Policy):
    """Another project's model behind our interface (as benchmarks/peer_policy.py puts LeRobot's)."""

    def __init__(self, target: np.ndarray, names: list[str]) -> None:
        from demoforge.policy.config import make_config

        self.target = target.astype(np.float32)
        self.cameras = {"cam_high": (48, 64)}
        self.n_joints, self.chunk_size, self.joint_names = len(target), 10, names
        self.config, self.meta = make_config("cpu"), {"joint_names": names}
        self.runtime, self.path = "a constant stand-in", Path("elsewhere")
        self.seen: list[tuple[int, ...]] = []

    def _infer(self, frames: list[np.ndarray], qpos: np.ndarray) -> np.ndarray:
        self.seen.append(frames[0].shape)
        return np.tile(self.target, (self.chunk_size, 1))


def test_a_policy_given_is_rolled_out_instead_of_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demoforge.collect.rigs import resolve_rig

    rig = resolve_rig("sim-transfer-cube")
    target = np.asarray(rig.start_pose, np.float32)
    target[0] += 0.05  # left waist: a command the rollout's actions must show
    policy = ConstantPolicy(target, list(rig.joint_names))

    def no_load(*a: object, **k: object) -> None:
        raise AssertionError("evaluate loaded a checkpoint although a policy was given")

    monkeypatch.setattr(api, "load_policy", no_load)
    summary = evaluate(
        "peer-label", "sim-transfer-cube", tmp_path, episodes=2, episode_time=0.1, videos=0, policy=policy
    )
    assert summary["runtime"] == "a constant stand-in" and summary["checkpoint"] == "peer-label"
    assert summary["episodes"] == 2 and set(policy.seen) == {(48, 64, 3)}  # resized to the policy's size
    with EpisodeReader(tmp_path / "rollouts" / "episode_1.hdf5") as r:
        # from tick 1: tick 0's command is limited to a step from the scene's reset pose
        np.testing.assert_allclose(r.action[1:], np.tile(target, (r.length - 1, 1)), atol=1e-6)
        assert r.cameras == ["cam_high"]  # only what the policy sees is rendered
