"""Training runs end to end on tiny datasets: overfitting, the run folder, resume, NaN, DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

import demoforge.policy.train as train_mod
from demoforge.policy.checkpoint import load_checkpoint
from demoforge.policy.config import Config, make_config
from demoforge.policy.errors import PolicyError
from demoforge.policy.train import train
from tests.policy.conftest import make_split_dataset

ROOT = Path(__file__).resolve().parents[2]


def tiny(**settings: Any) -> Config:
    return make_config("tiny", {"train": settings})


def metrics(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_tiny_model_overfits_and_writes_the_run_folder(tmp_path: Path) -> None:
    dataset = make_split_dataset(tmp_path / "data", n=3, length=30, val=0.34)  # 2 train episodes, 1 val
    run = tmp_path / "run"
    summary = train(dataset, run, tiny(steps=100, log_every=10, val_every=50, save_every=50), live=False)
    rows = [r for r in metrics(run) if r["split"] == "train"]
    assert rows[-1]["l1"] < 0.35 * rows[0]["l1"], rows  # predicting the mean action scores ~0.8
    for name in ("best.pt", "last.pt", "metrics.jsonl", "loss.png", "run.json", "config.toml"):
        assert (run / name).is_file(), name
    info = json.loads((run / "run.json").read_text())
    splits = json.loads((dataset / "splits.json").read_text())
    assert info["train_episodes"] == splits["train"] and info["val_episodes"] == splits["val"]
    assert info["report_sha256"] == splits["report_sha256"]
    assert info["config"]["model"]["hidden"] == 32 and info["machine"]["torch"] == torch.__version__
    assert info["wall_s"] > 0 and info["steps"] == 100 and summary["status"] == "done"
    val = [r for r in metrics(run) if r["split"] == "val"]
    best = min(val, key=lambda r: r["loss"])
    assert load_checkpoint(run / "best.pt")["meta"]["step"] == best["step"] == info["best"]["step"]
    png = (run / "loss.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_after_a_kill_continues_the_same_run(
    split_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    cfg = tiny(steps=30, save_every=10, val_every=10, log_every=5)
    real_loss, calls = train_mod.act_loss, {"n": 0}

    def killed_at_step_25(*a: Any, **kw: Any) -> Any:
        calls["n"] += torch.is_grad_enabled()  # training steps only, not validation batches
        if calls["n"] == 25:
            raise KeyboardInterrupt
        return real_loss(*a, **kw)

    monkeypatch.setattr(train_mod, "act_loss", killed_at_step_25)
    with pytest.raises(KeyboardInterrupt):
        train(split_dataset, run, cfg, live=False)
    monkeypatch.setattr(train_mod, "act_loss", real_loss)
    assert load_checkpoint(run / "last.pt")["meta"]["step"] == 20
    with pytest.raises(Exception, match="already holds"):
        train(split_dataset, run, cfg, live=False)
    train(split_dataset, run, cfg, resume=True, live=False)
    rows = metrics(run)
    steps = [r["step"] for r in rows if r["split"] == "train"]
    assert steps == list(range(5, 31, 5))  # no step lost from the file, none twice
    assert [r["step"] for r in rows if r["split"] == "val"] == [10, 20, 30]
    assert load_checkpoint(run / "last.pt")["meta"]["step"] == 30
    assert json.loads((run / "run.json").read_text())["steps"] == 30
    train(split_dataset, run, cfg, resume=True, live=False, steps=40)  # then train longer
    assert [r["step"] for r in metrics(run) if r["split"] == "train"] == list(range(5, 41, 5))


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(
    split_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    real_loss, calls = train_mod.act_loss, {"n": 0}

    def nan_after_a_while(*a: Any, **kw: Any) -> Any:
        calls["n"] += torch.is_grad_enabled()
        out = real_loss(*a, **kw)
        if calls["n"] > 14:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(train_mod, "act_loss", nan_after_a_while)
    with pytest.raises(PolicyError, match="NaN"):
        train(split_dataset, run, tiny(steps=30, save_every=10, val_every=10), live=False)
    last = load_checkpoint(run / "last.pt")
    assert last["meta"]["step"] == 10
    assert all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())
    assert json.loads((run / "run.json").read_text())["status"].startswith("stopped at step")


def _run_cli(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run in its own process group, so that on a timeout torchrun's workers go too."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        out, err = p.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        raise
    return subprocess.CompletedProcess(args, p.returncode, out, err)


def test_two_process_ddp_run_keeps_the_ranks_weights_equal(split_dataset: Path, tmp_path: Path) -> None:
    common = [
        "-m",
        "demoforge",
        "train",
        str(split_dataset),
        "--preset",
        "tiny",
        "--steps",
        "10",
        "--unattended",
    ]
    one = _run_cli([sys.executable, *common, "--out", str(tmp_path / "one")])
    assert one.returncode == 0, one.stderr
    two = _run_cli(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            *common,
            "--out",
            str(tmp_path / "two"),
        ]
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = metrics(tmp_path / "one"), metrics(tmp_path / "two")
    assert [(r["split"], r["step"], sorted(r)) for r in a] == [(r["split"], r["step"], sorted(r)) for r in b]
    info = json.loads((tmp_path / "two" / "run.json").read_text())
    assert info["machine"]["processes"] == 2
    # the ranks start from different seeds and see different samples: only DDP's averaged gradients keep
    # their weights equal (the trainer compares every parameter with rank 0's at the end)
    assert info["ranks_max_weight_diff"] == 0.0


def test_bf16_autocast_on_cpu_trains(split_dataset: Path, tmp_path: Path) -> None:
    train(
        split_dataset, tmp_path / "run", tiny(steps=4, precision="bf16", val_every=4, log_every=2), live=False
    )
    rows = metrics(tmp_path / "run")
    assert all(r["loss"] == r["loss"] and r["loss"] < 1e3 for r in rows)  # finite


@pytest.mark.parametrize("freeze", [True, False, None])
def test_imagenet_weights_keep_the_stem_and_layer1_as_loaded(
    split_dataset: Path, tmp_path: Path, freeze: bool | None
) -> None:
    # None: the default, which trains the whole backbone as ACT (detr/models/backbone.py:64-66, the
    # freezing loop commented out) and LeRobot do
    from demoforge.policy.backbone import ResNet

    weights = tmp_path / "resnet18.pth"
    torch.manual_seed(1)
    loaded = ResNet("resnet18", width=8).state_dict()
    for v in loaded.values():  # ImageNet-like: no zero-initialized convolution
        if v.dtype.is_floating_point and v.dim() == 4:
            v.normal_(std=0.1)
    torch.save(loaded, weights)
    opts = {} if freeze is None else {"freeze_stem": freeze}
    cfg = tiny(steps=6, val_every=6, save_every=6, backbone_weights=str(weights), **opts)
    train(split_dataset, tmp_path / "run", cfg, live=False)
    trained = load_checkpoint(tmp_path / "run" / "last.pt")["model"]

    def same(key: str) -> bool:
        return torch.equal(trained[f"backbone.{key}"], loaded[key])

    assert not same("layer2.0.conv1.weight") and not same("layer4.1.conv2.weight")  # these train
    assert same("conv1.weight") == bool(freeze) and same("layer1.1.conv2.weight") == bool(freeze)


def test_precision_auto_is_bf16_exactly_where_the_hardware_computes_it() -> None:
    from demoforge.policy.precision import native_bf16, use_bf16

    cpu = torch.device("cpu")
    assert use_bf16(cpu, "bf16") and not use_bf16(cpu, "fp32")
    assert use_bf16(cpu, "auto") == native_bf16(cpu) == bool(torch.cpu._is_avx512_bf16_supported())


def test_threads_follow_the_affinity_and_a_run_below_min_steps_says_so(
    split_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one usable core: torch gets one thread whatever the core count; and a step budget far below what
    # the preset needs (a contended machine's few steps, made deterministic) is named, not silent
    from demoforge.policy import threads

    before = torch.get_num_threads()
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {1}, raising=False)
    try:
        s = train(split_dataset, tmp_path / "run", tiny(steps=6, val_every=6, min_steps=500), live=False)
    finally:
        torch.set_num_threads(before)
    assert s["machine"]["usable_cores"] == 1 and s["machine"]["torch_threads"] == 1
    assert s["too_few_steps"] and s["min_steps"] == 500 and s["step_s"] > 0
    assert any("below the 500 steps its preset needs" in line for line in s["health"])
    rows = [r for r in metrics(tmp_path / "run") if r["split"] == "train"]
    assert all(r["step_s"] > 0 for r in rows)


def test_a_budget_too_short_for_min_steps_stretches_to_them_and_says_so(
    split_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a budget that ends after the first step, a cap with room for 30: trains exactly 30, says why
    cfg = tiny(steps=500, min_steps=30, log_every=10, val_every=500)
    s = train(split_dataset, tmp_path / "run", cfg, live=False, budget_s=1e-3, max_budget_s=600.0)
    said = capsys.readouterr().out
    assert s["steps"] == 30 and not s["too_few_steps"] and s["budget"]["stretched"]
    assert "training goes on to step 30" in said and "below the 30 steps its preset needs" not in said
    assert load_checkpoint(tmp_path / "run" / "last.pt")["meta"]["step"] == 30
    # the same run without a cap stops at its budget and is named too short
    s = train(split_dataset, tmp_path / "run2", cfg, live=False, budget_s=1e-3)
    assert s["steps"] == 1 and s["too_few_steps"] and not s["budget"]["stretched"]
