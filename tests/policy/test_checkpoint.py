"""Checkpoints load with torch.load(weights_only=True) and give back the same policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from demoforge.policy.act import ACT
from demoforge.policy.checkpoint import load_policy, save_checkpoint
from demoforge.policy.config import make_config
from demoforge.policy.data import Stats
from demoforge.schemas.errors import ConfigError


def test_round_trip_with_weights_only(tmp_path: Path) -> None:
    cfg = make_config("tiny", {"model": {"chunk_size": 7}, "ensemble": {"execute_every": 7}})
    torch.manual_seed(3)
    model = ACT(cfg.model, 4, 2).eval()
    stats = Stats(*(np.arange(4, dtype=np.float32) + i for i in range(4)))
    opt = torch.optim.AdamW(model.parameters())
    save_checkpoint(
        tmp_path / "last.pt", model, cfg, stats, {"cameras": ["a", "b"], "n_joints": 4, "step": 9}, opt
    )
    raw = torch.load(tmp_path / "last.pt", weights_only=True)  # no pickled code runs
    assert raw["meta"]["step"] == 9 and "optimizer" in raw and raw["config"]["model"]["chunk_size"] == 7
    loaded = load_policy(tmp_path / "last.pt")
    assert loaded.config == cfg
    np.testing.assert_array_equal(loaded.stats.action_std, stats.action_std)
    images = torch.randint(0, 256, (2, 2, 3, 24, 32), dtype=torch.uint8)
    qpos = torch.randn(2, 4)
    assert torch.equal(loaded.model.predict(images, qpos), model.predict(images, qpos))


def test_a_foreign_or_damaged_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot be loaded"):
        load_policy(tmp_path / "bad.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="not a demoforge checkpoint"):
        load_policy(tmp_path / "other.pt")
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy(tmp_path / "missing.pt")
