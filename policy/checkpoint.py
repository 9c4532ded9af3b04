"""Checkpoints: plain tensors, dicts, lists and numbers, so `torch.load(weights_only=True)` reads them.

    {"format": 1, "model": state_dict, "config": {...}, "stats": {...}, "meta": {step, cameras, n_joints,
     joint_names, val_loss, rig: {joint_limits, calibration}, ...},
     "optimizer": state_dict (last.pt only), "rng": tensor (last.pt only)}

`meta.rig` (what the joint values meant: the limits and the calibration fingerprint per arm) is absent
from checkpoints written before it existed; `deploy` then compares less and says so.

Written to a temporary file and renamed, so a kill while saving leaves the previous checkpoint whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from demoforge.policy.act import ACT
from demoforge.policy.config import Config, config_from_dict, config_to_dict
from demoforge.policy.data import Stats
from demoforge.schemas.errors import ConfigError

FORMAT = 1


def save_checkpoint(
    path: str | Path,
    model: torch.nn.Module,
    cfg: Config,
    stats: Stats,
    meta: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
) -> None:
    state: dict[str, Any] = {
        "format": FORMAT,
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "config": config_to_dict(cfg),
        "stats": stats.to_dict(),
        "meta": meta,
    }
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
        state["rng"] = torch.get_rng_state()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, loaded without executing pickled code."""
    p = Path(path)
    fix = "pass RUN/best.pt or RUN/last.pt written by `demoforge train`"
    if not p.is_file():
        raise ConfigError(f"checkpoint {p} does not exist", fix)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for damaged or foreign files
        raise ConfigError(f"checkpoint {p} cannot be loaded ({e})", fix) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ConfigError(f"{p} is not a demoforge checkpoint (format {FORMAT})", fix)
    return state


@dataclass
class LoadedPolicy:
    model: ACT
    config: Config
    stats: Stats
    meta: dict[str, Any]
    path: str = ""


def load_policy(path: str | Path, device: str = "cpu") -> LoadedPolicy:
    """The model from a checkpoint, in eval mode on `device`."""
    state = load_checkpoint(path)
    cfg = config_from_dict(state["config"])
    meta = state["meta"]
    model = ACT(cfg.model, int(meta["n_joints"]), len(meta["cameras"]))
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return LoadedPolicy(model, cfg, Stats.from_dict(state["stats"]), meta, str(path))
