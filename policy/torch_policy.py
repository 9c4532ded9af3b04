"""A checkpoint ready to act in PyTorch: what `load_policy("best.pt")`, deploy and eval run.

Inference as fast as this code knows how: frozen batch norm folded into the convolutions, channels_last,
torch.inference_mode, bfloat16 autocast where the hardware computes it (precision.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from demoforge.policy.api import Policy
from demoforge.policy.backbone import fold_frozen_batchnorm
from demoforge.policy.checkpoint import LoadedPolicy, load_policy
from demoforge.policy.errors import PolicyError
from demoforge.policy.precision import autocast, use_bf16
from demoforge.policy.threads import usable_cores, use_cores


def resolve_device(device: str) -> torch.device:
    """Device "auto" -> cuda where present, else cpu; anything else as torch names it."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class TorchPolicy(Policy):
    def __init__(
        self, loaded: LoadedPolicy, device: str = "auto", precision: str = "auto", threads: int | None = None
    ) -> None:
        if precision not in ("auto", "bf16", "fp32"):
            raise PolicyError(
                f"precision {precision!r} is not one a checkpoint runs in",
                "use auto, bf16 or fp32 (fp16 is for ONNX exports: `demoforge export-policy --fp16`)",
            )
        if threads is not None:  # never above what is set already (threads.py: OMP_NUM_THREADS, affinity)
            use_cores(leave=max(0, usable_cores() - threads))
        self.model, self.config, self.stats = loaded.model, loaded.config, loaded.stats
        self.meta = loaded.meta
        self.device = resolve_device(device)
        # bfloat16 autocast where native: GPUs, CPUs with AVX512-BF16/AMX (precision.py)
        self.bf16 = use_bf16(self.device, precision)
        m = self.config.model
        self.cameras = {str(c): (m.image_height, m.image_width) for c in self.meta["cameras"]}
        self.n_joints = int(self.meta["n_joints"])
        self.chunk_size = m.chunk_size
        self.joint_names = [str(n) for n in self.meta.get("joint_names") or range(self.n_joints)]
        self.runtime = f"torch {self.device} {'bf16' if self.bf16 else 'fp32'}"
        fold_frozen_batchnorm(self.model.backbone)  # one conv instead of conv + scale/shift pass
        self.model.to(self.device).to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]

    @classmethod
    def load(
        cls, path: str | Path, device: str = "auto", precision: str = "auto", threads: int | None = None
    ) -> TorchPolicy:
        return cls(load_policy(path, "cpu"), device, precision, threads)

    def _infer(self, frames: list[np.ndarray], qpos: np.ndarray) -> np.ndarray:
        imgs = np.stack([f.transpose(2, 0, 1) for f in frames])[None]  # (1, N, 3, H, W) uint8
        images = torch.from_numpy(imgs).to(self.device)
        s = self.stats
        q = torch.from_numpy(((qpos - s.qpos_mean) / s.qpos_std).astype(np.float32))[None].to(self.device)
        with autocast(self.device, self.bf16):
            chunk = self.model.predict(images, q)[0].float().cpu().numpy()  # (k, J) normalized
        return chunk * s.action_std + s.action_mean
