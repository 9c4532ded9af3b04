"""ACT speed at the paper's configuration: one chunk's inference (batch 1) and one training step.

Prints one JSON line. Usage:
    python benchmarks/bench_act.py [--height 240] [--width 320] [--cameras 3] [--batch 8] [--device cpu]
                                   [--reps 10] [--warmup 3] [--precision fp32|auto|bf16] [--no-fold]
                                   [--freeze-stem] [--compare | --compare-optimizer] [--peer [--rounds 3]]
                                   [--preset paper|cpu]
The model: ResNet-18, 14 joints, chunk 100, hidden 512, feed-forward 3200, 4 encoder layers, 1 decoder
layer, 4 CVAE layers, latent 32 (the `paper` preset at the given image size). Figures are medians over
`--reps` after `--warmup` repetitions. Inference runs as `demoforge deploy` runs it (torch_policy.TorchPolicy:
frozen batch norm folded into the convolutions, channels_last, torch.inference_mode); a training step
is forward + backward + gradient clip + AdamW step at `--batch`, random inputs, the whole backbone
training (as `train` does by default, and as ACT and LeRobot do). `--precision` is `train.precision`:
"auto" = bf16 autocast where the CPU computes it (AVX512-BF16, AMX) or on a GPU. The load average
before and after is printed: the machine may be shared.

`--freeze-stem` keeps conv1 and layer1 fixed (`train.freeze_stem`, this project's option).

`--backend onnx` (issue 24) times one chunk at batch 1 through onnxruntime against PyTorch fp32 in the
same run, interleaved: the checkpoint is saved, exported with `export-policy`'s code (checked against
PyTorch first), and both are called through `load_policy(...).predict_chunk` at the network's image size.
`onnx_ms / torch_fp32_ms` is the ratio (goal <= 0.7); torch in bf16 (what `precision = "auto"` picks on
AVX512-BF16 CPUs) is timed beside them for reference, and `--onnx-fp16` adds an fp16 export.

`--compare` also times the same network the plain way (NCHW tensors, batch norm as a separate pass,
torch.no_grad, torch's default AdamW instead of the fused one: policy/optim.py), alternating repetition
by repetition with ours so that both see the same machine load. `--preset cpu` times the `cpu` preset's
network instead (the learning curve's; give its --height 120 --width 160). `--compare-optimizer` times
the training step of the same network with torch's default AdamW beside ours (`optimizer_ratio`).

`--peer` runs LeRobot's own ACT beside ours, through the shared peer script
(`peer_lerobot_act_bench.py`, in the LeRobot venv that `peer_lerobot_setup.sh` builds) with the same
height, width, cameras, batch and threads: `--rounds` rounds, each one ours then LeRobot's, so both
see the same load; `peer_*` figures and the ratios ours / LeRobot (median over rounds) come out beside
ours. LeRobot runs its default number format, fp32 (`use_amp = False`, lerobot 0.4.4
configs/policies.py:65; its trainer's Accelerator sets no mixed precision, scripts/lerobot_train.py:183).

Also printed: the network's GFLOP per chunk (inference at batch 1) and per training step, counted by
torch.utils.flop_counter (2 FLOP per multiply-add, matrix products and convolutions only), and in fp32
the fraction of the CPU's fp32 peak that the measured times reach. The peak is an estimate from
lscpu: usable cores x clock x fp32 FLOP per cycle for the widest vector ISA the CPU reports, with the
assumption printed (`peak_assumption`); `--ghz` and `--flop-per-cycle` override the guesses.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from demoforge.policy.act import ACT, act_loss, count_parameters
from demoforge.policy.backbone import fold_frozen_batchnorm, freeze_stem_and_layer1
from demoforge.policy.config import make_config
from demoforge.policy.optim import has_fused_adamw, make_optimizer
from demoforge.policy.precision import autocast, use_bf16
from demoforge.policy.threads import usable_cores

ROOT = Path(__file__).resolve().parents[1]
JOINTS = 14
PEER_SCRIPT = "peer_lerobot_act_bench.py"


def timed(fns: list[Callable[[], None]], reps: int, warmup: int, sync: Callable[[], None]) -> list[float]:
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


# -- the CPU's fp32 peak ---------------------------------------------------------------------------------


def lscpu() -> dict[str, str]:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def cpu_peak_gflops(ghz: float | None, flop_per_cycle: int | None) -> tuple[float | None, str]:
    """(fp32 peak GFLOP/s of the usable cores, the assumption it rests on)."""
    info = lscpu()
    flags = set(info.get("Flags", "").split())
    vendor = info.get("Vendor ID", "")
    cores = usable_cores()
    if ghz is None:
        if info.get("CPU max MHz"):
            ghz, clock = float(info["CPU max MHz"]) / 1000, "lscpu's CPU max MHz"
        elif info.get("BogoMIPS"):  # 2 x the TSC clock on x86; no turbo counted
            ghz, clock = float(info["BogoMIPS"]) / 2000, "BogoMIPS / 2 (the TSC clock; lscpu gives no MHz)"
        else:
            return None, "lscpu gives no clock: pass --ghz"
    else:
        clock = "--ghz"
    if flop_per_cycle is None:
        if "avx512f" in flags and "Intel" in vendor:
            flop_per_cycle, isa = 64, "AVX-512 on Intel: 2 FMA units x 16 fp32 lanes x 2"
        elif "avx512f" in flags:
            flop_per_cycle, isa = 32, "AVX-512 on AMD Zen 4: 2 FMA pipes x 256 bits (8 fp32 lanes) x 2"
        elif "avx2" in flags and "fma" in flags:
            flop_per_cycle, isa = 32, "AVX2 + FMA: 2 FMA units x 8 fp32 lanes x 2"
        else:
            flop_per_cycle, isa = 8, "SSE: 4 fp32 lanes x (1 add + 1 mul)"
    else:
        isa = "--flop-per-cycle"
    peak = cores * ghz * flop_per_cycle
    return peak, f"{cores} cores x {ghz:.2f} GHz ({clock}) x {flop_per_cycle} FLOP/cycle ({isa})"


def gflop(fn: Callable[[], Any]) -> float:
    """FLOPs of one call, as torch's flop counter counts them (matrix products, convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


# -- ours -----------------------------------------------------------------------------------------------


def build(a: argparse.Namespace, dev: torch.device) -> tuple[ACT, ACT | None, dict[str, torch.Tensor]]:
    """Our model (channels_last), its plain twin for --compare, and the random inputs."""
    cfg = make_config(a.preset, {"model": {"image_height": a.height, "image_width": a.width}})
    torch.manual_seed(0)
    model = ACT(cfg.model, JOINTS, a.cameras).to(dev)
    plain = copy.deepcopy(model) if a.compare else None
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    if a.freeze_stem:
        for net in (model, plain):
            if net is not None:
                freeze_stem_and_layer1(net.backbone)
    g = torch.Generator().manual_seed(0)
    k = cfg.model.chunk_size
    inputs = {
        "images": torch.randint(
            0, 256, (a.batch, a.cameras, 3, a.height, a.width), generator=g, dtype=torch.uint8
        ).to(dev),
        "qpos": torch.randn(a.batch, JOINTS, generator=g).to(dev),
        "actions": torch.randn(a.batch, k, JOINTS, generator=g).to(dev),
        "is_pad": torch.zeros(a.batch, k, dtype=torch.bool, device=dev),
    }
    return model, plain, inputs


def train_step_of(
    net: ACT, x: dict[str, torch.Tensor], amp: Callable[[], Any], plain: bool = False
) -> Callable[[], None]:
    """One step as `train` takes it: two AdamW groups (backbone, rest) at the paper's 1e-5, clip 10.

    `plain`: torch's default AdamW (one parameter at a time on a CPU), as ACT and LeRobot take it."""
    opt = make_optimizer(net, 1e-5, 1e-5, 1e-4, fused=False if plain else None)

    def step() -> None:
        net.train()
        with amp():
            pred, mu, logvar = net(x["images"], x["qpos"], x["actions"], x["is_pad"])
            assert mu is not None and logvar is not None
            loss = act_loss(pred.float(), x["actions"], x["is_pad"], mu.float(), logvar.float(), 10.0)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()

    return step


def infer_of(net: ACT, x: dict[str, torch.Tensor], amp: Callable[[], Any], plain: bool) -> Callable[[], None]:
    """One chunk at batch 1: `predict` (inference_mode) for ours, `no_grad` forward the plain way."""

    def infer() -> None:
        with amp():
            if plain:
                with torch.no_grad():
                    net(x["images"][:1], x["qpos"][:1])
            else:
                net.predict(x["images"][:1], x["qpos"][:1])

    return infer


# -- LeRobot, through the shared peer script --------------------------------------------------------------


def peer_paths(a: argparse.Namespace) -> tuple[Path, Path]:
    venv = Path(os.environ.get("PEER_VENV", Path(tempfile.gettempdir()) / "peer-lerobot-venv"))
    python = Path(a.peer_python) if a.peer_python else venv / "bin" / "python"
    script = Path(a.peer_script) if a.peer_script else ROOT.parent / "shared" / "peers" / PEER_SCRIPT
    for what, path, fix in (
        ("LeRobot's venv", python, "build it with peer_lerobot_setup.sh, or pass --peer-python"),
        ("the peer script", script, f"pass --peer-script PATH/{PEER_SCRIPT}"),
    ):
        if not path.exists():
            sys.exit(f"bench_act.py --peer: {what} {path} does not exist; {fix}")
    return python, script


def run_peer(a: argparse.Namespace, python: Path, script: Path, threads: int) -> dict[str, Any]:
    """One run of LeRobot's ACT (a fresh process): its JSON line."""
    cmd = [str(python), str(script), "--height", str(a.height), "--width", str(a.width)]
    cmd += ["--cameras", str(a.cameras), "--batch", str(a.batch), "--threads", str(threads)]
    cmd += ["--warmup", str(max(1, a.warmup - 1)), "--reps-infer", str(a.reps)]
    cmd += ["--reps-train", str(a.train_reps)]
    if a.skip_train:
        cmd.append("--skip-train")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"bench_act.py --peer: {' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- main -----------------------------------------------------------------------------------------------


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument(
        "--preset", choices=("paper", "cpu"), default="paper", help="the network (cpu: the learning curve's)"
    )
    p.add_argument("--height", type=int, default=240)
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--reps", type=int, default=10, help="inference repetitions (per round with --peer)")
    p.add_argument("--train-reps", type=int, help="training-step repetitions (default: reps / 2, >= 3)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="fp32",
        help="train.precision's values",
    )
    p.add_argument("--bf16", action="store_true", help="the same as --precision bf16 (older scripts)")
    p.add_argument(
        "--no-fold", action="store_true", help="inference without folding batch norm (for comparison)"
    )
    p.add_argument("--skip-train", action="store_true")
    p.add_argument(
        "--freeze-stem", action="store_true", help="keep conv1 and layer1 fixed (this project's option)"
    )
    p.add_argument("--compare", action="store_true", help="also time the plain way, interleaved")
    p.add_argument(
        "--compare-optimizer",
        action="store_true",
        help="also time the training step with torch's default AdamW instead of the fused one, interleaved",
    )
    p.add_argument("--peer", action="store_true", help="also time LeRobot's ACT, interleaved by rounds")
    p.add_argument("--rounds", type=int, default=3, help="with --peer: rounds of ours then LeRobot's")
    p.add_argument("--peer-python", help="LeRobot venv's python (default $PEER_VENV/bin/python)")
    p.add_argument("--peer-script", help=f"path of {PEER_SCRIPT} (default ../shared/peers/ from the repo)")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: the usable cores)")
    p.add_argument("--ghz", type=float, help="clock for the fp32 peak (default: from lscpu)")
    p.add_argument("--flop-per-cycle", type=int, help="fp32 FLOP per cycle per core (default: from the ISA)")
    p.add_argument("--backend", choices=("torch", "onnx"), default="torch", help="onnx: onnxruntime vs torch")
    p.add_argument("--onnx-fp16", action="store_true", help="with --backend onnx: also an fp16 export")
    p.add_argument(
        "--ort-levels",
        default="",
        help="with --backend onnx: also time the fp32 export at these onnxruntime graph optimization "
        "levels, e.g. basic,extended (load_policy uses all)",
    )
    a = p.parse_args()
    if a.bf16:
        a.precision = "bf16"
    a.train_reps = a.train_reps or max(3, a.reps // 2)
    if a.compare and a.compare_optimizer:
        p.error("--compare and --compare-optimizer: one at a time (each times a twin beside ours)")
    if a.preset != "paper" and (a.peer or a.backend == "onnx"):
        p.error("--preset: --peer and --backend onnx time the paper network only")
    return a


def main() -> None:
    a = parse()
    if a.backend == "onnx":
        onnx_backend(a)
        return
    torch.set_num_threads(a.threads or usable_cores())
    threads = torch.get_num_threads()
    dev = torch.device(a.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    bf16 = use_bf16(dev, a.precision)
    amp = lambda: autocast(dev, bf16)  # noqa: E731  (what train, eval and deploy use)
    load0 = os.getloadavg()
    peer = peer_paths(a) if a.peer else None

    model, plain, x = build(a, dev)
    params, params_no_backbone = count_parameters(model)
    nets = [model] if plain is None else [model, plain]
    steps = [] if a.skip_train else [train_step_of(n, x, amp, plain=n is plain) for n in nets]
    twin = "plain_train_step_ms"
    if a.compare_optimizer:  # the same network and layout with torch's default AdamW: the optimizer alone
        steps.append(train_step_of(copy.deepcopy(model), x, amp, plain=True))
        twin = "unfused_train_step_ms"
    model.eval()
    train_flop = None if a.skip_train else gflop(steps[0])
    infer_flop = gflop(infer_of(model, x, amp, plain=True))  # the flop counter cannot see inference_mode
    for net in nets:
        net.eval()
    if not a.no_fold:
        fold_frozen_batchnorm(model.backbone)
    infers = [infer_of(model, x, amp, False)] + ([infer_of(plain, x, amp, True)] if plain is not None else [])

    rounds: list[dict[str, Any]] = []
    for _ in range(a.rounds if peer else 1):
        r: dict[str, Any] = {}
        if steps:
            tr = timed(steps, a.train_reps, max(1, a.warmup - 1), sync)
            r["train_step_ms"], r[twin] = tr[0], tr[1] if len(tr) > 1 else None
        inf = timed(infers, a.reps, a.warmup, sync)
        r["infer_ms"], r["plain_infer_ms"] = inf[0], inf[1] if len(inf) > 1 else None
        if peer is not None:
            p = run_peer(a, *peer, threads)
            r["peer_infer_ms"], r["peer_train_step_ms"] = p["infer_ms"], p["train_step_ms"]
            r["peer_info"] = {k: p.get(k) for k in ("lerobot_version", "torch_version", "params", "threads")}
        rounds.append({k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()})

    def med(key: str) -> float | None:
        vals = [r[key] for r in rounds if r.get(key) is not None]
        return round(statistics.median(vals), 2) if vals else None

    def ratio(ours: str, theirs: str) -> float | None:
        vals = [r[ours] / r[theirs] for r in rounds if r.get(ours) and r.get(theirs)]
        return round(statistics.median(vals), 3) if vals else None

    out: dict[str, Any] = {
        "infer_ms": round(med("infer_ms") or 0, 2),
        "train_step_ms": round(t, 1) if (t := med("train_step_ms")) else None,
    }
    if plain is not None:
        out |= {
            "plain_infer_ms": med("plain_infer_ms"),
            "plain_train_step_ms": med("plain_train_step_ms"),
            "infer_ratio": ratio("infer_ms", "plain_infer_ms"),
            "train_ratio": ratio("train_step_ms", "plain_train_step_ms"),
        }
    if a.compare_optimizer:
        out |= {
            "unfused_train_step_ms": med("unfused_train_step_ms"),
            "optimizer_ratio": ratio("train_step_ms", "unfused_train_step_ms"),
        }
    if peer is not None:
        out |= {
            "peer": "lerobot ACTPolicy (peer_lerobot_act_bench.py), fp32, whole backbone training",
            "peer_infer_ms": med("peer_infer_ms"),
            "peer_train_step_ms": med("peer_train_step_ms"),
            "infer_vs_lerobot": ratio("infer_ms", "peer_infer_ms"),
            "train_vs_lerobot": ratio("train_step_ms", "peer_train_step_ms"),
            "peer_info": rounds[0]["peer_info"],
            "rounds": [{k: v for k, v in r.items() if k != "peer_info"} for r in rounds],
        }
    peak, assumption = cpu_peak_gflops(a.ghz, a.flop_per_cycle) if dev.type == "cpu" else (None, "")
    out |= {
        "gflop_per_chunk": round(infer_flop, 2),
        "gflop_per_train_step": round(train_flop, 1) if train_flop else None,
        "cpu_fp32_peak_gflops": round(peak, 1) if peak else None,
        "peak_assumption": assumption,
    }
    if peak and not bf16:
        out["infer_fraction_of_fp32_peak"] = round(infer_flop / (out["infer_ms"] / 1000) / peak, 3)
        if train_flop and out["train_step_ms"]:
            out["train_fraction_of_fp32_peak"] = round(train_flop / (out["train_step_ms"] / 1000) / peak, 3)
    model_name = lscpu().get("Model name", platform.processor() or platform.machine())
    out |= {
        "params": params,
        "params_no_backbone": params_no_backbone,
        "preset": a.preset,
        "height": a.height,
        "width": a.width,
        "cameras": a.cameras,
        "batch": a.batch,
        "device": str(dev),
        "fused_adamw": has_fused_adamw(dev.type),
        "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "precision": a.precision,
        "bf16": bf16,
        "folded_bn": not a.no_fold,
        "stem_frozen": a.freeze_stem,
        "reps": a.reps,
        "train_reps": a.train_reps,
        "torch": torch.__version__,
        "threads": threads,
        "cpu": re.sub(r"\s+", " ", model_name),
        "cpus": os.cpu_count(),
        "usable_cores": usable_cores(),
        "loadavg_before": [round(v, 2) for v in load0],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
    }
    print(json.dumps(out))


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

    threads = a.threads or usable_cores()
    torch.set_num_threads(threads)
    cfg = make_config(a.preset, {"model": {"image_height": a.height, "image_width": a.width}})
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
