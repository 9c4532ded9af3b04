"""The public API for your own control code: `load_policy(path)` on a checkpoint or an ONNX export.

    from demoforge.policy import load_policy
    policy = load_policy("runs/cube/best.pt")          # or "cube.onnx" (onnxruntime, no torch needed)
    chunk = policy.predict_chunk({"cam_high": rgb}, qpos)  # (chunk_size, n_joints), raw joint units

Images are uint8 (H, W, 3) RGB arrays at any size, resized to the network's size as the training
frames were (frames.py); qpos and the chunk are in the rig's raw units (rad; grippers 0..1), the
normalization happens inside. Both kinds of file answer through the same class interface, `Policy`
below; the torch one is torch_policy.py, the onnxruntime one onnx_policy.py. No torch is imported
until a checkpoint is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.policy.config import Config, EnsembleConfig, config_to_dict, make_config
from demoforge.policy.errors import PolicyError
from demoforge.policy.frames import resize_frame
from demoforge.policy.threads import usable_cores
from demoforge.schemas.rig import Rig


class Policy:
    """A trained ACT policy: raw qpos and RGB frames in, a chunk of raw actions out.

    cameras:    camera name -> (height, width) the network sees, in the network's order
    n_joints:   J, the length of qpos and of each action
    chunk_size: k, the actions per prediction (one per control tick, the first for the tick observed)
    """

    cameras: dict[str, tuple[int, int]]
    n_joints: int
    chunk_size: int
    joint_names: list[str]
    config: Config  # the checkpoint's settings (the [ensemble] table is what deploy starts from)
    meta: dict[str, Any]
    runtime: str  # what computes it, e.g. "torch cpu bf16", "onnxruntime CPUExecutionProvider fp32"

    def predict_chunk(self, images: Mapping[str, np.ndarray], qpos: np.ndarray) -> np.ndarray:
        """camera -> (H, W, 3) uint8 RGB at any size, (J,) raw qpos -> (chunk_size, J) raw actions."""
        frames = [self._frame(images, cam, size) for cam, size in self.cameras.items()]
        q = np.asarray(qpos, np.float32).reshape(-1)
        if q.shape != (self.n_joints,):
            raise PolicyError(
                f"qpos has {q.size} values, the policy drives {self.n_joints} joints",
                f"pass the follower positions in this order: {', '.join(self.joint_names)}",
            )
        return self._infer(frames, q)

    def _infer(self, frames: list[np.ndarray], qpos: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 per camera at the network's size, (J,) float32 raw -> (k, J) float raw."""
        raise NotImplementedError

    def _frame(self, images: Mapping[str, np.ndarray], cam: str, size: tuple[int, int]) -> np.ndarray:
        if cam not in images:
            raise PolicyError(
                f"no image for camera {cam!r}", f"pass one image per camera: {', '.join(self.cameras)}"
            )
        img = np.asarray(images[cam])
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise PolicyError(
                f"camera {cam!r}: image is {img.dtype} {img.shape}",
                "pass (height, width, 3) uint8 RGB arrays (convert BGR from OpenCV with img[..., ::-1])",
            )
        return np.ascontiguousarray(resize_frame(img, size))

    def ensemble_config(self, overrides: Mapping[str, Any] | None = None) -> EnsembleConfig:
        """The policy's [ensemble] settings with `overrides` applied (validated like a config file)."""
        d = config_to_dict(self.config)
        d["ensemble"].update(overrides or {})
        return make_config("paper", d, "ensemble settings").ensemble

    def check_rig(self, rig: Rig) -> None:
        """PolicyError unless the rig has the joints and cameras the policy was trained on."""
        if len(rig.joint_names) != self.n_joints:
            raise PolicyError(
                f"the policy drives {self.n_joints} joints, rig {rig.name} has {len(rig.joint_names)}",
                "deploy on the rig (or a rig like the one) the training episodes came from",
            )
        missing = [c for c in self.cameras if c not in {c.name for c in rig.cameras}]
        if missing:
            raise PolicyError(
                f"rig {rig.name} lacks camera(s) {', '.join(missing)} the policy needs",
                "name the rig's cameras as in the training episodes",
            )


def load_policy(
    path: str | Path, device: str = "auto", precision: str = "auto", *, threads: int | None = None
) -> Policy:
    """A checkpoint (`best.pt`, needs torch) or an ONNX export (`.onnx`, needs onnxruntime), ready to act.

    device: "cpu", "cuda", "cuda:1" or "auto" = CUDA where present (ONNX: TensorRT, then CUDA), else the
    CPU. precision: "auto" (checkpoints: bfloat16
    where the hardware computes it natively, else fp32; ONNX: as exported), "fp32", "bf16" (checkpoints),
    "fp16" (ONNX: an --fp16 export, or any export on the TensorRT provider). threads: intra-op threads
    for inference (default: the cores this process may use; never more, threads.py).
    """
    p = Path(path)
    if p.suffix.lower() == ".onnx":
        from demoforge.policy.onnx_policy import OnnxPolicy

        return OnnxPolicy(p, device, precision, threads=threads)
    from demoforge.policy.torch_policy import TorchPolicy

    return TorchPolicy.load(p, device, precision, threads=threads)


def threads_beside_control_loop() -> int:
    """Inference threads that leave a core to the control loop (deploy and eval use this).

    Torch's (and onnxruntime's) worker threads spin while they wait for work: on a 2-core machine two of
    them starve the control thread, and (measured with bench_act.py on a loaded machine) made inference
    itself 20x slower than one thread (threads.py, benchmarks/RESULTS.md).
    """
    return max(1, usable_cores() - 1)
