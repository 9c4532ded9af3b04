"""A policy on a rig: the goal-source seam, inference off the control thread, deploy and eval commands."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import torch

from demoforge.cli import main
from demoforge.collect.control_loop import Observation
from demoforge.policy.act import ACT
from demoforge.policy.checkpoint import save_checkpoint
from demoforge.policy.config import EnsembleConfig, make_config
from demoforge.policy.data import Stats
from demoforge.policy.runner import PolicyGoals
from demoforge.policy.torch_policy import TorchPolicy
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_reader import EpisodeReader
from tests.collect.virtual_rig import small_virtual_rig
from tests.polling import poll

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_policy_package_loads_no_torch() -> None:
    code = (
        "import sys, demoforge.policy, demoforge.policy.config, demoforge.cli\n"
        "from demoforge.policy import load_policy\n"
        "import demoforge.policy.runner, demoforge.policy.evaluate, demoforge.policy.onnx_policy\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert out.stdout.strip() == "False"


def tiny_checkpoint(path: Path, n_joints: int, cameras: list[str], start: list[float]) -> Path:
    """An untrained tiny policy whose actions stay near `start` (action std 0.01)."""
    torch.manual_seed(0)
    cfg = make_config("tiny")
    z, one = np.zeros(n_joints, np.float32), np.ones(n_joints, np.float32)
    stats = Stats(z, one, np.asarray(start, np.float32), one * 0.01)
    save_checkpoint(
        path,
        ACT(cfg.model, n_joints, len(cameras)),
        cfg,
        stats,
        {"cameras": cameras, "n_joints": n_joints, "step": 0},
    )
    return path


class Frame:
    def __init__(self, image: np.ndarray) -> None:
        self.image = image


class GatedPolicy:
    """Stands in for the network (the layer under test is the scheduling): finishes when told to."""

    def __init__(self, k: int) -> None:
        self.k, self.calls, self.go, self.cameras = k, 0, threading.Event(), ["cam"]

    def predict_chunk(self, frames: dict[str, np.ndarray], qpos: np.ndarray) -> np.ndarray:
        self.calls += 1
        assert self.go.wait(10)
        self.go.clear()
        return qpos[None] + np.arange(self.k, dtype=float)[:, None]  # chunk[i] = qpos + i


def obs(t: int) -> Observation:
    return Observation(
        t, t, np.zeros(2), np.full(2, 5.0), {"cam": Frame(np.zeros((4, 4, 3), np.uint8))}, True
    )


def test_the_loop_never_waits_for_inference_and_late_chunks_start_at_the_current_tick() -> None:
    policy = GatedPolicy(k=10)
    goals = PolicyGoals(policy, EnsembleConfig(mode="chunk", execute_every=5))  # type: ignore[arg-type]
    try:
        goals.start(np.full(2, 1.0))
        assert np.array_equal(goals.goal(obs(0)), np.full(2, 1.0))  # no chunk yet: hold where the arm was
        assert poll(lambda: policy.calls == 1, 10.0, 0.005)  # tick 0's observation is being inferred ...
        for t in (1, 2):  # ... and the loop goes on without it, asking for nothing more
            assert np.array_equal(goals.goal(obs(t)), np.full(2, 1.0))
        assert policy.calls == 1
        policy.go.set()
        assert poll(lambda: goals._result is not None, 10.0, 0.005)
        g = goals.goal(obs(3))  # the chunk from tick 0 is used from its index 3 on
        assert np.array_equal(g, np.full(2, 8.0))
        assert goals.latency.keys() == {3}
        assert np.array_equal(goals.goal(obs(4)), np.full(2, 9.0))
    finally:
        policy.go.set()
        goals.close()


def test_synchronous_mode_for_simulation_acts_on_the_same_tick() -> None:
    policy = GatedPolicy(k=4)
    policy.go.set()
    goals = PolicyGoals(policy, EnsembleConfig(mode="chunk", execute_every=2), synchronous=True)  # type: ignore[arg-type]
    try:
        goals.start(np.zeros(2))
        got = []
        for t in range(5):
            policy.go.set()
            got.append(float(goals.goal(obs(t))[0]))
        assert got == [5.0, 6.0, 5.0, 6.0, 5.0]  # a fresh chunk from qpos 5 every 2 ticks, used at once
        assert policy.calls == 3 and goals.scalars() != {}
    finally:
        goals.close()


def test_deploy_records_rollouts_with_inference_latency(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    ckpt = tiny_checkpoint(tmp_path / "best.pt", 3, ["cam_high"], rig.start_pose)
    args = [
        "deploy",
        "--rig",
        str(tmp_path / "rig.toml"),
        "--checkpoint",
        str(ckpt),
        "--record",
        str(tmp_path / "rollouts"),
        "--episode-time",
        "1",
        "--unattended",
    ]
    assert main(args) == 0
    with EpisodeReader(tmp_path / "rollouts" / "episode_0.hdf5") as r:
        assert r.length == 50
        latency = r.array(L.INFERENCE_LATENCY, check_finite=False)
        action = r.action
    began = np.isfinite(latency)
    assert began.sum() >= 1 and (latency[began] > 0).all()
    assert np.abs(action - np.asarray(rig.start_pose)).max() < 0.2  # the policy's own outputs, clamped


def test_deploy_refuses_a_rig_the_policy_was_not_trained_for(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    ckpt = tiny_checkpoint(tmp_path / "best.pt", 14, ["cam_high"], [0.0] * 14)
    assert main(["deploy", "--rig", str(tmp_path / "rig.toml"), "--checkpoint", str(ckpt)]) == 2
    assert "14 joints" in capsys.readouterr().err


def test_eval_on_a_rig_without_reward(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    ckpt = tiny_checkpoint(tmp_path / "best.pt", 3, ["cam_high"], rig.start_pose)
    out = tmp_path / "eval"
    args = [
        "eval",
        str(ckpt),
        "--rig",
        str(tmp_path / "rig.toml"),
        "--episodes",
        "1",
        "--episode-time",
        "0.6",
        "--out",
        str(out),
        "--videos",
        "1",
        "--ensemble",
        "chunk",
        "--execute-every",
        "5",
    ]
    assert main(args) == 0
    summary = json.loads((out / "eval.json").read_text())
    assert (
        summary["episodes"] == 1
        and summary["success_lerobot"] is None
        and "no /reward" in summary["success_note"]
    )
    assert summary["jumps"]["inside"] is not None and summary["jumps"]["at_boundary"] is not None
    assert summary["ensemble"]["mode"] == "chunk" and summary["rollouts"][0]["chunks_begun"] >= 2
    assert (out / "videos" / "episode_0.mp4").stat().st_size > 0
    assert (out / "rollouts" / "episode_0.hdf5").is_file()


def test_bf16_inference_stays_close_to_fp32(tmp_path: Path) -> None:
    ckpt = tiny_checkpoint(tmp_path / "best.pt", 3, ["cam_high"], [0.0, 0.5, 1.0])
    frames = {"cam_high": np.random.default_rng(0).integers(0, 256, (72, 96, 3), dtype=np.uint8)}
    qpos = np.array([0.1, 0.4, 0.9])
    full = TorchPolicy.load(ckpt, "cpu", "fp32").predict_chunk(frames, qpos)
    half = TorchPolicy.load(ckpt, "cpu", "bf16").predict_chunk(frames, qpos)
    assert full.shape == half.shape == (10, 3)
    # in units of each joint's action std (0.01 here): within 3 % (measured: 0.7 %; benchmarks/RESULTS.md)
    assert float(np.abs(half - full).max()) / 0.01 < 0.03
    assert float(np.abs(half - full).max()) > 0  # bf16 did compute something else: two paths compared
