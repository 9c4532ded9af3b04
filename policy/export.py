"""`demoforge export-policy`: a checkpoint's whole inference graph as one ONNX model, verified before written.

The graph (onnx_policy.py names its inputs, output and metadata):
    qpos (raw) -> normalize -> qpos token ┐
    image_<cam> (uint8 HWC) -> NCHW -> ImageNet normalize -> ResNet (batch norm folded) -> tokens ┼-> encoder
    z = 0 -> latent token ────────────────┘                      -> decoder -> denormalize -> actions (raw)
Batch 1 and fixed image sizes: what a robot's loop runs, and what TensorRT builds fastest from.

Exporter: torch.onnx.export with dynamo=True, the default since torch 2.9 (it needs onnxscript, part of
the `edge` extra). Before anything is written the model is checked with onnx.checker and run through
onnxruntime against PyTorch (fp32) on frames and joint positions from the run's own training episodes,
both through load_policy's public path (resize, normalization, the metadata read back); a difference
beyond the tolerance refuses the export with the measured figure.

--fp16 exports the network in half precision (inputs, normalization and output stay float32): for GPUs
and TensorRT. onnxruntime's CPU provider runs such a graph (that is how it is verified here) but has
few native fp16 kernels: for a CPU, export fp32.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from demoforge.policy.act import ACT
from demoforge.policy.backbone import fold_frozen_batchnorm
from demoforge.policy.checkpoint import LoadedPolicy, load_policy
from demoforge.policy.config import config_to_dict
from demoforge.policy.data import NOMINAL_FPS, Stats
from demoforge.policy.errors import PolicyError
from demoforge.policy.onnx_policy import ACTIONS, INSTALL, QPOS, OnnxPolicy, image_input, metadata_props
from demoforge.policy.torch_policy import TorchPolicy
from demoforge.schemas.dataset import episode_files
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import ConfigError

# Largest accepted |onnxruntime - PyTorch fp32| over every sample and joint, in units of that joint's
# action std (the scale the network predicts in). fp32: reordered sums differ by ~1e-6 of the output's
# scale; 1e-3 leaves room for that and catches any wrong operator. fp16: ~3 decimal digits per weight
# and activation; 2e-2 is below bfloat16 autocast's own deviation (precision.py).
TOLERANCE = {"fp32": 1e-3, "fp16": 2e-2}


class ExportGraph(nn.Module):
    """The inference graph with its normalization: raw qpos and uint8 HWC frames in, raw actions out."""

    qpos_mean: Tensor
    qpos_std: Tensor
    action_mean: Tensor
    action_std: Tensor

    def __init__(self, model: ACT, stats: Stats, fp16: bool = False) -> None:
        super().__init__()
        self.model = copy.deepcopy(model).eval()
        fold_frozen_batchnorm(self.model.backbone)  # one conv instead of conv + scale/shift pass
        self.dtype = torch.float16 if fp16 else torch.float32
        self.model.to(self.dtype)
        for k, v in stats.to_dict().items():
            self.register_buffer(k, torch.tensor(v, dtype=torch.float32)[None])  # (1, J)

    def forward(self, qpos: Tensor, *images: Tensor) -> Tensor:
        """(1, J) float32 raw, (1, H, W, 3) uint8 per camera -> (1, k, J) float32 raw."""
        q = ((qpos - self.qpos_mean) / self.qpos_std).to(self.dtype)
        x = torch.stack([img.permute(0, 3, 1, 2) for img in images], dim=1)  # (1, N, 3, H, W)
        actions = self.model(x, q)[0].float()  # z = 0: no actions given
        return actions * self.action_std + self.action_mean


@dataclass
class Sample:
    images: dict[str, np.ndarray]  # camera -> (H, W, 3) uint8 RGB as recorded
    qpos: np.ndarray  # (J,) raw


def training_samples(
    checkpoint: Path, cameras: list[str], data: Path | None = None, n: int = 8
) -> tuple[list[Sample], dict[str, Any]]:
    """n observations spread over the run's training episodes, and what the episodes say (fps, joints).

    The dataset is the one RUN/run.json names (or `data`); its training episodes as run.json lists them.
    """
    run_json = checkpoint.parent / "run.json"
    run = json.loads(run_json.read_text()) if run_json.is_file() else {}
    folder = data or (Path(run["dataset"]) if "dataset" in run else None)
    fix = "pass --data DIR: the dataset the run was trained on (its frames are the export's test inputs)"
    if folder is None or not folder.is_dir():
        raise ConfigError(f"cannot find the training data of {checkpoint} (no dataset at {folder})", fix)
    names = [n for n in run.get("train_episodes", []) if (folder / n).is_file()]
    files = [folder / n for n in names] or episode_files(folder)
    if not files:
        raise ConfigError(f"{folder} holds no episodes", fix)
    picks = [(files[i % len(files)], (i // len(files) + 0.5) / -(-n // len(files))) for i in range(n)]
    samples: list[Sample] = []
    info: dict[str, Any] = {}
    for path, where in picks:
        with EpisodeReader(path) as r:
            missing = [c for c in cameras if c not in r.cameras]
            if missing:
                raise ConfigError(f"{path} lacks camera(s) {', '.join(missing)} the policy sees", fix)
            t = min(int(where * r.length), r.length - 1)
            samples.append(Sample({c: r.image(c, t) for c in cameras}, np.asarray(r.qpos[t], np.float32)))
            info.setdefault("fps", r.fps or NOMINAL_FPS)
            info.setdefault("joint_names", r.joint_names)
    return samples, info


def random_samples(policy: LoadedPolicy, n: int = 4, seed: int = 0) -> list[Sample]:
    """Random frames at the network's size and qpos around the training mean (when no data is at hand)."""
    rng = np.random.default_rng(seed)
    m, s = policy.config.model, policy.stats
    return [
        Sample(
            {
                c: rng.integers(0, 256, (m.image_height, m.image_width, 3), np.uint8)
                for c in policy.meta["cameras"]
            },
            (s.qpos_mean + s.qpos_std * rng.standard_normal(len(s.qpos_mean))).astype(np.float32),
        )
        for _ in range(n)
    ]


def max_difference(
    a: OnnxPolicy, b: TorchPolicy, samples: list[Sample], std: np.ndarray
) -> tuple[float, float]:
    """(largest |a - b| in units of each joint's action std, the same in raw units) over the samples."""
    scaled, raw = 0.0, 0.0
    for s in samples:
        d = np.abs(a.predict_chunk(s.images, s.qpos) - b.predict_chunk(s.images, s.qpos))  # (k, J)
        scaled, raw = max(scaled, float((d / std).max())), max(raw, float(d.max()))
    return scaled, raw


@contextmanager
def quiet_exporter() -> Iterator[None]:
    """The exporter's progress lines, deprecation warnings and "torchvision is not installed" notes off."""
    logs = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript")]
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with redirect_stdout(io.StringIO()):
                yield
    finally:
        for log, level in zip(logs, levels, strict=True):
            log.setLevel(level)


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    samples: list[Sample],
    *,
    fps: float,
    joint_names: list[str] | None = None,
    fp16: bool = False,
    opset: int | None = None,
    tolerance: float | None = None,
) -> dict[str, Any]:
    """Export, check, compare with PyTorch on `samples`, then write OUT; returns what was measured."""
    try:
        import onnx
    except ImportError:
        raise PolicyError("export-policy needs onnx, onnxscript and onnxruntime", INSTALL) from None
    if not samples:
        raise ValueError("export_onnx needs samples to compare onnxruntime with PyTorch on")
    checkpoint, out = Path(checkpoint), Path(out)
    if out.suffix.lower() != ".onnx":
        raise ConfigError(f"{out} does not end in .onnx", "name the output file OUT.onnx")
    loaded = load_policy(checkpoint)
    precision = "fp16" if fp16 else "fp32"
    tolerance = TOLERANCE[precision] if tolerance is None else tolerance
    m, meta = loaded.config.model, loaded.meta
    cameras = [str(c) for c in meta["cameras"]]
    names = [str(n) for n in meta.get("joint_names") or joint_names or range(int(meta["n_joints"]))]
    graph = ExportGraph(loaded.model, loaded.stats, fp16)
    example = (
        torch.zeros(1, int(meta["n_joints"])),
        *(torch.zeros(1, m.image_height, m.image_width, 3, dtype=torch.uint8) for _ in cameras),
    )
    graph.eval()
    with torch.no_grad():
        graph(*example)  # fills the model's image-position cache: a constant in the graph, not a side effect
    tmp = out.with_name(out.stem + ".partial.onnx")
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        with torch.no_grad(), quiet_exporter():
            torch.onnx.export(
                graph,
                example,
                str(tmp),
                dynamo=True,
                external_data=False,  # one file: the paper model's ~200 MB is far below protobuf's 2 GB
                input_names=[QPOS, *(image_input(c) for c in cameras)],
                output_names=[ACTIONS],
                opset_version=opset,
                verbose=False,
            )
        model = onnx.load(str(tmp))
        props = {
            # the checkpoint's own meta travels too (val_loss, n_joints, what later versions add), so an
            # export answers `policy.meta[...]` like its checkpoint; its camera list becomes a size map
            **{k: v for k, v in meta.items() if k != "cameras"},
            "joint_names": names,
            "cameras": {c: [m.image_height, m.image_width] for c in cameras},
            "chunk_size": m.chunk_size,
            "fps": fps,
            "report_sha256": meta.get("report_sha256"),
            "precision": precision,
            "config": config_to_dict(loaded.config),
            "checkpoint": checkpoint.name,
            "step": meta.get("step"),
        }
        onnx.helper.set_model_props(model, metadata_props(props))
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, str(tmp))
        export_s = time.monotonic() - t0
        reference = TorchPolicy(load_policy(checkpoint), "cpu", "fp32")
        exported = OnnxPolicy(tmp, "cpu")
        diff, diff_raw = max_difference(exported, reference, samples, loaded.stats.action_std)
        if not diff <= tolerance:  # NaN refuses too
            raise PolicyError(
                f"the ONNX model's actions differ from PyTorch's by up to {diff:.3g} joint std "
                f"({diff_raw:.3g} raw units) on {len(samples)} training samples, over the tolerance "
                f"{tolerance:g}: {out} not written",
                "try another --opset, or export without --fp16; report it if fp32 at the default opset fails",
            )
        model.metadata_props.add(key="verified_max_diff", value=json.dumps(diff))
        onnx.save(model, str(tmp))
        os.replace(tmp, out)
    except ModuleNotFoundError as e:  # torch.onnx's dynamo exporter imports onnxscript when called
        raise PolicyError(f"export-policy needs {e.name}", INSTALL) from None
    finally:
        tmp.unlink(missing_ok=True)
    return {
        "out": str(out),
        "precision": precision,
        "opset": next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
        "max_diff_std": diff,
        "max_diff_raw": diff_raw,
        "tolerance": tolerance,
        "samples": len(samples),
        "export_s": round(export_s, 1),
        "bytes": out.stat().st_size,
    }
