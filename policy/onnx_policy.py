"""An exported policy (`demoforge export-policy`) run by onnxruntime: no torch on the robot computer.

The file's graph and metadata (written by export.py; the names are defined here, once):

    inputs   qpos              (1, J) float32, raw joint units
             image_<camera>    (1, H, W, 3) uint8 RGB at the network's size, one per camera
    output   actions           (1, k, J) float32, raw joint units (normalization in and out is in the graph)
    metadata_props  demoforge_format, joint_names, cameras ({name: [H, W]}), chunk_size, fps,
                    report_sha256, precision, config (the checkpoint's settings), checkpoint, step,
                    verified_max_diff, and the rest of the checkpoint's meta (n_joints, val_loss, ...)

Execution providers, where this onnxruntime build has them: TensorRT, then CUDA, then the CPU for
device "auto" or "cuda"; the CPU alone for "cpu". TensorRT builds its engine when the session starts
(minutes on a Jetson); it is cached beside the .onnx file (`<name>.trt/`), so later starts take seconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.policy.api import Policy
from demoforge.policy.config import config_from_dict
from demoforge.policy.errors import PolicyError
from demoforge.policy.threads import usable_cores
from demoforge.schemas.errors import ConfigError

FORMAT = "1"
QPOS, ACTIONS = "qpos", "actions"
INSTALL = "install the edge extra: pip install 'demoforge[edge]' (onnx + onnxruntime)"


def image_input(camera: str) -> str:
    """The graph input that takes this camera's frame."""
    return f"image_{camera}"


def metadata_props(meta: dict[str, Any]) -> dict[str, str]:
    """The run's metadata as ONNX metadata_props (strings; JSON where not a plain number or text)."""
    return {"demoforge_format": FORMAT, **{k: json.dumps(v) for k, v in meta.items()}}


def read_metadata(props: dict[str, str], path: Path) -> dict[str, Any]:
    """metadata_props back into values; ConfigError for a file export-policy did not write."""
    if props.get("demoforge_format") != FORMAT:
        raise ConfigError(
            f"{path} is not a policy exported by demoforge (format {FORMAT})",
            "export it with `demoforge export-policy RUN/best.pt --to onnx OUT.onnx`",
        )
    return {k: json.loads(v) for k, v in props.items() if k != "demoforge_format"}


def providers(device: str, precision: str, cache_dir: Path) -> list[str | tuple[str, dict[str, Any]]]:
    """onnxruntime execution providers for `device`, best first, among those this build has."""
    import onnxruntime as ort

    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device not in ("auto", "cuda") and not device.startswith("cuda:"):
        raise PolicyError(
            f"device {device!r} is not one an ONNX policy runs on", "use auto, cpu, cuda or cuda:N"
        )
    index = int(device.split(":")[1]) if ":" in device else 0
    have = set(ort.get_available_providers())
    out: list[str | tuple[str, dict[str, Any]]] = []
    if "TensorrtExecutionProvider" in have:
        # options as the onnxruntime TensorRT EP documents them
        # (onnxruntime.ai/docs/execution-providers/TensorRT-ExecutionProvider.html, "Configurations")
        trt = {
            "device_id": index,
            "trt_fp16_enable": precision == "fp16",
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(cache_dir),
        }
        out.append(("TensorrtExecutionProvider", trt))
    if "CUDAExecutionProvider" in have:
        out.append(("CUDAExecutionProvider", {"device_id": index}))
    if device != "auto" and not out:
        raise PolicyError(
            f"this onnxruntime has no CUDA or TensorRT provider (it has {', '.join(sorted(have))})",
            "install onnxruntime-gpu (on a Jetson: the JetPack build), or pass --device cpu",
        )
    return [*out, "CPUExecutionProvider"]


class OnnxPolicy(Policy):
    def __init__(
        self, path: str | Path, device: str = "auto", precision: str = "auto", *, threads: int | None = None
    ) -> None:
        try:
            import onnx
            import onnxruntime as ort
        except ImportError:
            raise PolicyError(f"{path} needs onnx and onnxruntime to run", INSTALL) from None
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"policy file {path} does not exist", "pass an .onnx file from export-policy")
        try:
            model = onnx.load(str(path))
        except Exception as e:  # protobuf raises its own types for a damaged or foreign file
            raise ConfigError(f"{path} cannot be read as an ONNX model ({e})", "export it again") from None
        self.meta = read_metadata({p.key: p.value for p in model.metadata_props}, path)
        self.precision = exported = str(self.meta["precision"])
        precision = exported if precision == "auto" else precision
        tensorrt = device != "cpu" and "TensorrtExecutionProvider" in ort.get_available_providers()
        if precision not in ("fp32", "fp16") or (precision != exported and not tensorrt):
            raise PolicyError(
                f"{path} was exported in {exported}: it does not run in {precision!r} here",
                "use --precision auto, or export again (`demoforge export-policy ... --fp16` for fp16)"
                + ("" if tensorrt else "; only TensorRT computes an fp32 export in fp16"),
            )
        opts = ort.SessionOptions()
        # every graph optimization onnxruntime has (constant folding, Conv+Add+Relu and attention fusions)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or usable_cores()
        opts.inter_op_num_threads = 1  # the graph is one chain: parallelism is inside each operator
        opts.log_severity_level = 3  # errors only: an fp16 graph on the CPU warns for every unfolded node
        chosen = providers(device, precision, path.with_suffix(".trt"))
        try:
            self.session = ort.InferenceSession(str(path), opts, providers=chosen)
        except Exception as e:  # onnxruntime raises its own types for a graph it cannot run
            raise ConfigError(f"{path} cannot be run by onnxruntime ({e})", "export it again") from None
        self.path = path
        self.config = config_from_dict(self.meta["config"])
        self.cameras = {str(c): (int(h), int(w)) for c, (h, w) in self.meta["cameras"].items()}
        self.joint_names = [str(n) for n in self.meta["joint_names"]]
        self.n_joints = len(self.joint_names)
        self.chunk_size = int(self.meta["chunk_size"])
        self.fps = float(self.meta["fps"])
        self.runtime = f"onnxruntime {self.session.get_providers()[0]} {precision}"

    @property
    def providers(self) -> list[str]:
        """The execution providers the session runs on, in the order onnxruntime tries them."""
        return list(self.session.get_providers())

    def _infer(self, frames: list[np.ndarray], qpos: np.ndarray) -> np.ndarray:
        feed = {image_input(c): f[None] for c, f in zip(self.cameras, frames, strict=True)}
        feed[QPOS] = qpos[None]
        (actions,) = self.session.run([ACTIONS], feed)
        return np.asarray(actions[0])  # (k, J)
