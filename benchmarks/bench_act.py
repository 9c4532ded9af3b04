"""ACT speed at the paper's configuration: one chunk's inference (batch 1) and one training step.

Prints one JSON line. Usage:
    python benchmarks/bench_act.py [--height 240] [--width 320] [--cameras 3] [--batch 8] [--device cpu]
                                   [--reps 10] [--warmup 3] [--bf16] [--no-fold]
The model: ResNet-18, 14 joints, chunk 100, hidden 512, feed-forward 3200, 4 encoder layers, 1 decoder
layer, 4 CVAE layers, latent 32 (the `paper` preset at the given image size). Figures are medians over
`--reps` after `--warmup` repetitions. Inference runs as `demoforge deploy` runs it (runner.Policy:
frozen batch norm folded into the convolutions, channels_last, torch.inference_mode); a training step
is forward + backward + AdamW step at `--batch`, random inputs. `--bf16` autocasts to bfloat16 (CPU with
AVX512-BF16 or a GPU). The load average before and after is printed: the machine may be shared.

Training keeps conv1 and layer1 fixed, as the original ACT did with its ImageNet weights (`train`
does the same when given --backbone-weights); `--train-stem` trains them too.

`--backend onnx` (issue 24) times one chunk at batch 1 through onnxruntime against PyTorch fp32 in the
same run, interleaved: the checkpoint is saved, exported with `export-policy`'s code (checked against
PyTorch first), and both are called through `load_policy(...).predict_chunk` at the network's image size.
`onnx_ms / torch_fp32_ms` is the ratio (goal <= 0.7); torch in bf16 (what `precision = "auto"` picks on
AVX512-BF16 CPUs) is timed beside them for reference, and `--onnx-fp16` adds an fp16 export.

`--compare` also times the same network the plain way (NCHW tensors, batch norm as a separate pass,
torch.no_grad), alternating repetition by repetition with ours so that both see the same machine load:
`plain_*` and the ratios `infer_ratio` / `train_ratio` (ours / plain) come out beside the figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from demoforge.policy.act import ACT, act_loss, count_parameters
from demoforge.policy.backbone import fold_frozen_batchnorm, freeze_stem_and_layer1
from demoforge.policy.config import make_config
from demoforge.policy.precision import autocast

JOINTS = 14


def timed(fns, reps: int, warmup: int, sync) -> list[float]:  # type: ignore[no-untyped-def]
    """Median ms of each function, repetitions interleaved (the same load for each)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    sync()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for fn, ts in zip(fns, times, strict=True):
            t = time.perf_counter()
            fn()
            sync()
            ts.append(time.perf_counter() - t)
    return [statistics.median(ts) * 1000 for ts in times]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--bf16", action="store_true", help="autocast to bfloat16")
    p.add_argument(
        "--no-fold", action="store_true", help="inference without folding batch norm (for comparison)"
    )
    p.add_argument("--skip-train", action="store_true")
    p.add_argument(
        "--train-stem",
        action="store_true",
        help="also train conv1 and layer1 (the original ACT keeps them as loaded from ImageNet: our default)",
    )
    p.add_argument("--compare", action="store_true", help="also time the plain way, interleaved")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, = cores)")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="onnx: onnxruntime vs torch")
    p.add_argument("--onnx-fp16", action="store_true", help="with --backend onnx: also an fp16 export")
    p.add_argument(
        "--ort-levels",
        default="",
        help="with --backend onnx: also time the fp32 export at these onnxruntime graph optimization "
        "levels, e.g. basic,extended (load_policy uses all)",
    )
    a = p.parse_args()
    if a.backend == "onnx":
        onnx_backend(a)
        return
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    amp = lambda: autocast(dev, a.bf16)  # noqa: E731  (what train, eval and deploy use)
    cfg = make_config("paper", {"model": {"image_height": a.height, "image_width": a.width}})
    torch.manual_seed(0)
    load0 = os.getloadavg()

    model = ACT(cfg.model, JOINTS, a.cameras).to(dev)
    plain = copy.deepcopy(model) if a.compare else None
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if not a.train_stem:  # as `train` does with ImageNet weights (the paper's setup)
        freeze_stem_and_layer1(model.backbone)
        if plain is not None:
            freeze_stem_and_layer1(plain.backbone)
    params, params_no_backbone = count_parameters(model)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (a.batch, a.cameras, 3, a.height, a.width), generator=g, dtype=torch.uint8)
    images = images.to(dev)
    qpos = torch.randn(a.batch, JOINTS, generator=g).to(dev)
    actions = torch.randn(a.batch, cfg.model.chunk_size, JOINTS, generator=g).to(dev)
    is_pad = torch.zeros(a.batch, cfg.model.chunk_size, dtype=torch.bool, device=dev)

    nets = [model] if plain is None else [model, plain]
    train_ms: list[float | None] = [None, None]
    if not a.skip_train:

        def step_of(net: ACT):  # type: ignore[no-untyped-def]
            opt = torch.optim.AdamW(
                [p for p in net.parameters() if p.requires_grad], lr=1e-5, weight_decay=1e-4
            )
            net.train()

            def step() -> None:
                with amp():
                    pred, mu, logvar = net(images, qpos, actions, is_pad)
                    assert mu is not None and logvar is not None
                    loss = act_loss(pred.float(), actions, is_pad, mu.float(), logvar.float(), 10.0)["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
                opt.step()

            return step

        train_ms = [*timed([step_of(n) for n in nets], max(3, a.reps // 2), max(1, a.warmup - 1), sync), None]

    for net in nets:
        net.eval()
    if not a.no_fold:
        fold_frozen_batchnorm(model.backbone)

    def infer() -> None:
        with amp():
            model.predict(images[:1], qpos[:1])

    def infer_plain() -> None:
        assert plain is not None
        with amp(), torch.no_grad():
            plain(images[:1], qpos[:1])

    infer_ms = [*timed([infer] if plain is None else [infer, infer_plain], a.reps, a.warmup, sync), None]
    extra = {}
    if plain is not None:
        extra = {
            "plain_infer_ms": round(infer_ms[1], 2),
            "plain_train_step_ms": round(train_ms[1], 1) if train_ms[1] is not None else None,
            "infer_ratio": round(infer_ms[0] / infer_ms[1], 3),
            "train_ratio": round(train_ms[0] / train_ms[1], 3) if train_ms[0] and train_ms[1] else None,
        }
    print(
        json.dumps(
            {
                "infer_ms": round(infer_ms[0], 2),
                "train_step_ms": round(train_ms[0], 1) if train_ms[0] is not None else None,
                **extra,
                "params": params,
                "params_no_backbone": params_no_backbone,
                "height": a.height,
                "width": a.width,
                "cameras": a.cameras,
                "batch": a.batch,
                "device": str(dev),
                "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
                "bf16": a.bf16,
                "folded_bn": not a.no_fold,
                "stem_trained": a.train_stem,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "cpu": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "loadavg_before": [round(x, 2) for x in load0],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


def ort_session_run(path: Path, level: str, threads: int, sample: Any) -> Callable[[], object]:
    """A session.run of the export at one graph optimization level (inputs already at the network's size)."""
    import numpy as np
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = {
        "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[level]
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feed = {f"image_{c}": img[None] for c, img in sample.images.items()}
    feed["qpos"] = np.asarray(sample.qpos, np.float32)[None]
    return lambda: session.run(None, feed)


def onnx_backend(a: argparse.Namespace) -> None:
    """One chunk at batch 1: onnxruntime (CPU provider) against PyTorch fp32 (and bf16), interleaved."""
    import tempfile

    import numpy as np

    from demoforge.policy import load_policy
    from demoforge.policy.checkpoint import load_policy as load_trained
    from demoforge.policy.checkpoint import save_checkpoint
    from demoforge.policy.data import Stats
    from demoforge.policy.export import export_onnx, random_samples

    threads = a.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    cfg = make_config("paper", {"model": {"image_height": a.height, "image_width": a.width}})
    torch.manual_seed(0)
    cams = [f"cam_{i}" for i in range(a.cameras)]
    load0 = os.getloadavg()
    z, one = np.zeros(JOINTS, np.float32), np.ones(JOINTS, np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "best.pt"
        meta = {"cameras": cams, "n_joints": JOINTS, "step": 0}
        save_checkpoint(ckpt, ACT(cfg.model, JOINTS, a.cameras), cfg, Stats(z, one, z, one), meta)
        samples = random_samples(load_trained(ckpt), n=2)
        exports = {"onnx": export_onnx(ckpt, Path(tmp) / "p.onnx", samples, fps=50.0)}
        if a.onnx_fp16:
            exports["onnx_fp16"] = export_onnx(ckpt, Path(tmp) / "h.onnx", samples, fps=50.0, fp16=True)
        policies = {
            "torch_fp32": load_policy(ckpt, a.device, "fp32", threads=threads),
            "torch_bf16": load_policy(ckpt, a.device, "bf16", threads=threads),
            **{k: load_policy(Path(e["out"]), a.device, threads=threads) for k, e in exports.items()},
        }
        s = samples[0]
        fns = [lambda p=p: p.predict_chunk(s.images, s.qpos) for p in policies.values()]
        names = list(policies)
        for level in filter(None, a.ort_levels.split(",")):
            fns.append(ort_session_run(Path(exports["onnx"]["out"]), level, threads, s))
            names.append(f"onnx_{level}")
        sync = torch.cuda.synchronize if torch.device(a.device).type == "cuda" else (lambda: None)
        ms = dict(zip(names, timed(fns, a.reps, a.warmup, sync), strict=True))
    print(
        json.dumps(
            {
                "backend": "onnx",
                **{f"{k}_ms": round(v, 2) for k, v in ms.items()},
                "onnx_over_torch_fp32": round(ms["onnx"] / ms["torch_fp32"], 3),
                "runtimes": {k: p.runtime for k, p in policies.items()},
                "export_max_diff_std": {k: e["max_diff_std"] for k, e in exports.items()},
                "height": a.height,
                "width": a.width,
                "cameras": a.cameras,
                "batch": 1,
                "threads": threads,
                "torch": torch.__version__,
                "onnxruntime": __import__("onnxruntime").__version__,
                "cpu": platform.processor() or platform.machine(),
                "cpus": os.cpu_count(),
                "loadavg_before": [round(x, 2) for x in load0],
                "loadavg_after": [round(x, 2) for x in os.getloadavg()],
            }
        )
    )


if __name__ == "__main__":
    main()
