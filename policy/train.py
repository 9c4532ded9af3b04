"""Training: `train(dataset, run, cfg)` writes a run folder.

    RUN/config.toml   the resolved config
    RUN/metrics.jsonl one row per log interval ({"split": "train", ...}) and per validation ("val")
    RUN/best.pt       lowest validation loss so far
    RUN/last.pt       every `save_every` steps and at the end, with the optimizer: `--resume` starts here
    RUN/loss.png      the curves
    RUN/run.json      episodes trained and validated on, the split's report hash, config, machine, wall time,
                      the health advice

Multi-GPU: `torchrun --nproc_per_node N -m demoforge train ...` (the same command); each process takes
its share of every batch order (DistributedSampler), gradients are averaged by DDP, rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset

from demoforge.policy.act import ACT, act_loss, count_parameters
from demoforge.policy.backbone import freeze_stem_and_layer1, load_imagenet
from demoforge.policy.budget import Budget
from demoforge.policy.checkpoint import load_checkpoint, save_checkpoint
from demoforge.policy.config import Config, config_from_dict, config_to_dict, config_to_toml
from demoforge.policy.config import validate as validate_config
from demoforge.policy.data import ChunkDataset, TrainingData, load_training_data
from demoforge.policy.errors import PolicyError
from demoforge.policy.health import advise
from demoforge.policy.loss_plot import plot_losses
from demoforge.policy.optim import make_optimizer
from demoforge.policy.precision import autocast, use_bf16
from demoforge.policy.threads import usable_cores, use_cores
from demoforge.schemas.errors import ConfigError


@dataclass
class Dist:
    """Who this process is under torchrun (rank 0 of 1 without it)."""

    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed() -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = torch.cuda.is_available()
    if world == 1:
        return Dist(device=torch.device("cuda" if cuda else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo")
    return Dist(dist.get_rank(), world, torch.device(f"cuda:{local}" if cuda else "cpu"))


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _batches(
    loader: DataLoader, sampler: DistributedSampler[Any], epoch: int
) -> Iterator[dict[str, torch.Tensor]]:
    """Endless batches, a new shuffle each pass."""
    while True:
        sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def _reduce(values: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.world > 1:
        dist.all_reduce(values)
        values /= d.world
    return values


class Console:
    """A rich progress bar on a terminal; plain lines otherwise (unattended, logs, torchrun)."""

    def __init__(self, total: int, start: int, enabled: bool, live: bool) -> None:
        self.enabled, self.live, self.progress = enabled, live and enabled, None
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[stats]}"),
            )
            self.task = self.progress.add_task("train", total=total, completed=start, stats="")
            self.progress.start()

    def update(self, step: int, stats: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=step, stats=stats)
        elif self.enabled:
            print(f"step {step}  {stats}", flush=True)

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, markup=False, highlight=False)
        elif self.enabled:
            print(text, flush=True)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def machine(d: Dist) -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(d.device) if d.device.type == "cuda" else None
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "usable_cores": usable_cores(),
        "torch_threads": torch.get_num_threads(),
        "device": str(d.device),
        "gpu": gpu,
        "processes": d.world,
    }


@torch.no_grad()
def validate(model: torch.nn.Module, loader: DataLoader, cfg: Config, d: Dist, amp: Any) -> dict[str, float]:
    """Mean loss over a fixed subset of val samples, with fixed CVAE noise: comparable between calls."""
    model.eval()
    sums = torch.zeros(4, device=d.device)  # loss, l1, kl, batches
    with torch.random.fork_rng(devices=[d.device] if d.device.type == "cuda" else []):
        torch.manual_seed(cfg.train.seed)
        for batch in loader:
            b = _to(batch, d.device)
            with amp():
                pred, mu, logvar = model(b["images"], b["qpos"], b["actions"], b["is_pad"])
                losses = act_loss(
                    pred.float(), b["actions"], b["is_pad"], mu.float(), logvar.float(), cfg.train.beta
                )
            sums += torch.stack([losses["loss"], losses["l1"], losses["kl"], torch.ones((), device=d.device)])
    model.train()
    if d.world > 1:
        dist.all_reduce(sums)
    n = max(float(sums[3]), 1.0)
    return {"loss": float(sums[0]) / n, "l1": float(sums[1]) / n, "kl": float(sums[2]) / n}


def _val_loader(ds: ChunkDataset, cfg: Config, d: Dist, workers: int) -> DataLoader:
    g = torch.Generator().manual_seed(cfg.train.seed)
    n = min(len(ds), cfg.train.val_batches * cfg.train.batch_size * d.world)
    subset = Subset(ds, torch.randperm(len(ds), generator=g)[:n].tolist())
    sampler: DistributedSampler[Any] = DistributedSampler(subset, d.world, d.rank, shuffle=False)
    return DataLoader(subset, cfg.train.batch_size, sampler=sampler, num_workers=workers)


def _read_metrics(path: Path, upto: int) -> list[dict[str, Any]]:
    """Rows of a previous session up to the step last.pt holds (later ones were lost with the kill)."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["step"] <= upto]


def _write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def train(
    dataset: str | Path,
    run: str | Path,
    cfg: Config,
    *,
    resume: bool = False,
    cache: bool = False,
    live: bool | None = None,
    steps: int | None = None,
    budget_s: float | None = None,
    max_budget_s: float | None = None,
    reports: str | Path | None = None,
) -> dict[str, Any]:
    """Train ACT on the dataset's split; returns the run summary (what run.json holds).

    reports: where `check --out` / `split --out` wrote the report and splits.json (default: dataset).

    budget_s: stop (validate, save, summarize) once the run's wall time reaches it, even before
    `train.steps`; a resumed run counts the time already spent. Single process only (DDP ranks
    would disagree on when to stop).

    max_budget_s: when budget_s would end the run below `train.min_steps` and the measured step rate
    reaches them by this wall time, train on to exactly `min_steps` (said while training; run.json's
    `budget.stretched`). See policy/budget.py."""
    dataset, run = Path(dataset), Path(run)
    d = setup_distributed()
    try:
        return _train(
            dataset,
            run,
            cfg,
            d,
            resume=resume,
            cache=cache,
            live=sys.stdout.isatty() if live is None else live,
            steps=steps,
            budget_s=budget_s,
            max_budget_s=max_budget_s,
            reports=reports,
        )
    finally:
        if d.world > 1:
            dist.destroy_process_group()


def _train(
    dataset: Path,
    run: Path,
    cfg: Config,
    d: Dist,
    *,
    resume: bool,
    cache: bool,
    live: bool,
    steps: int | None,
    budget_s: float | None = None,
    max_budget_s: float | None = None,
    reports: str | Path | None = None,
) -> dict[str, Any]:
    if budget_s is not None and d.world > 1:
        raise ConfigError("a time budget needs a single training process", "drop torchrun or the budget")
    last_path, best_path = run / "last.pt", run / "best.pt"
    state: dict[str, Any] | None = None
    if resume:
        if not last_path.exists():
            raise ConfigError(
                f"{last_path} does not exist: nothing to resume", f"train without --resume into {run}"
            )
        state = load_checkpoint(last_path)
        cfg = config_from_dict(state["config"])  # the run's own config, whatever the command line says
    elif last_path.exists():
        raise ConfigError(
            f"{run} already holds a training run", "pass --resume to continue it, or another --out"
        )
    if steps is not None:  # the one setting a resumed run may change: train longer (or shorter)
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, steps=steps))
        validate_config(cfg, "--steps")
    t = cfg.train
    data: TrainingData = load_training_data(dataset, cfg, cache=cache, reports=reports)
    if state is not None and state["meta"].get("report_sha256") != data.splits.report_sha256:
        raise ConfigError(
            f"the split of {dataset} changed since {run} started",
            "start a new run (another --out) on the new split",
        )
    if d.device.type == "cpu":  # the cores this process may use, shared among the ranks on this host
        use_cores(share=int(os.environ.get("LOCAL_WORLD_SIZE", 1)))
    torch.manual_seed(t.seed + d.rank)
    model = (
        ACT(cfg.model, data.n_joints, len(data.cameras)).to(d.device).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    )
    if t.backbone_weights and state is None:
        load_imagenet(model.backbone, t.backbone_weights)
    if t.backbone_weights and t.freeze_stem:
        freeze_stem_and_layer1(model.backbone)
    opt = make_optimizer(model, t.lr, t.backbone_lr, t.weight_decay)
    step, wall0, best_val = 0, 0.0, math.inf
    rows: list[dict[str, Any]] = []
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        step, wall0 = int(state["meta"]["step"]), float(state["meta"]["wall_s"])
        best_val = float(state["meta"].get("best_val", math.inf))
        rows = _read_metrics(run / "metrics.jsonl", step)
    net: torch.nn.Module = DistributedDataParallel(model) if d.world > 1 else model
    bf16 = use_bf16(d.device, t.precision)
    amp = lambda: autocast(d.device, bf16)  # noqa: E731

    sampler: DistributedSampler[Any] = DistributedSampler(
        data.train, d.world, d.rank, shuffle=True, seed=t.seed
    )
    loader = DataLoader(
        data.train,
        t.batch_size,
        sampler=sampler,
        num_workers=0 if cache else t.workers,  # cached frames need no decoding processes
        drop_last=len(data.train) >= t.batch_size * d.world,
        persistent_workers=t.workers > 0 and not cache,
        pin_memory=d.device.type == "cuda",
    )
    val_loader = _val_loader(data.val, cfg, d, 0 if cache else t.workers)
    batches = _batches(loader, sampler, epoch=step // max(len(loader), 1))

    meta = {
        "cameras": list(data.cameras),
        "n_joints": data.n_joints,
        "report_sha256": data.splits.report_sha256,
        "joint_names": _joint_names(data),
        "rig": _rig_identity(dataset, data),  # compared by `deploy` with the rig it runs on
    }
    summary_base = {
        "dataset": str(dataset.resolve()),
        "train_episodes": data.splits.train,
        "val_episodes": data.splits.val,
        "report_sha256": data.splits.report_sha256,
        "split_seed": data.splits.seed,
        "train_samples": len(data.train),
        "val_samples": len(data.val),
        "params": count_parameters(model)[0],
        "params_no_backbone": count_parameters(model)[1],
    }
    if d.main:
        run.mkdir(parents=True, exist_ok=True)
        (run / "config.toml").write_text(config_to_toml(cfg))
    console = Console(t.steps, step, enabled=d.main, live=live)
    if d.main and state is not None:
        console.say(f"resuming {run} at step {step}")
    t0, window = time.monotonic(), torch.zeros(3, device=d.device)
    step0, budget = step, Budget(budget_s, max_budget_s, t.min_steps, t.steps)
    busy = 0.0  # seconds spent in training steps (batch + forward + backward + update) since the last log

    def budget_left() -> float | None:
        limit = budget.limit_s()
        return None if limit is None else limit - (wall0 + time.monotonic() - t0)

    n_window, shown, status, val = 0, set[str](), "done", {"loss": math.nan}

    def checkpoint(path: Path, with_optimizer: bool) -> None:
        save_checkpoint(
            path,
            model,
            cfg,
            data.stats,
            {
                **meta,
                "step": step,
                "wall_s": wall0 + time.monotonic() - t0,
                "best_val": best_val,
                "val_loss": val["loss"],
            },
            opt if with_optimizer else None,
        )

    net.train()
    try:
        while step < t.steps:
            t_step = time.monotonic()
            b = _to(next(batches), d.device)
            with amp():
                pred, mu, logvar = net(b["images"], b["qpos"], b["actions"], b["is_pad"])
                losses = act_loss(pred.float(), b["actions"], b["is_pad"], mu.float(), logvar.float(), t.beta)
            opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
            if not torch.isfinite(grad_norm):  # identical on every rank: DDP averaged the gradients
                status = f"stopped at step {step + 1}: the loss or its gradient became NaN/Inf"
                break
            opt.step()
            step += 1
            busy += time.monotonic() - t_step
            since = time.monotonic() - t0
            out_of_time = budget.done(step, wall0 + since)
            # stretch or not: judged on a logged interval's rate (the first steps are slow), or when
            # the budget is about to end the run
            judge = step % t.log_every == 0 or out_of_time
            if judge and (note := budget.consider(step, wall0 + since, since / (step - step0))):
                out_of_time = budget.done(step, wall0 + since)
                if d.main:
                    console.say(note)
            final = step == t.steps or out_of_time
            window += torch.stack([losses["loss"].detach(), losses["l1"].detach(), losses["kl"].detach()])
            n_window += 1
            if step % t.log_every == 0 or final:
                mean = _reduce(window / n_window, d).tolist()
                elapsed = time.monotonic() - t0
                step_s, busy = busy / n_window, 0.0  # validation and checkpoints excluded
                rows.append(
                    {
                        "split": "train",
                        "step": step,
                        "loss": mean[0],
                        "l1": mean[1],
                        "kl": mean[2],
                        "lr": t.lr,
                        "elapsed_s": round(wall0 + elapsed, 3),
                        "step_s": round(step_s, 6),
                    }
                )
                window.zero_()
                n_window = 0
                shown = _show(console, step, rows, cfg, shown, budget_left())
            if step % t.val_every == 0 or final:
                val = validate(net, val_loader, cfg, d, amp)
                rows.append({"split": "val", "step": step, **val})
                if d.main and val["loss"] < best_val:
                    best_val = val["loss"]
                    checkpoint(best_path, False)
                shown = _show(console, step, rows, cfg, shown, budget_left())
            if d.main and (step % t.save_every == 0 or final):
                checkpoint(last_path, True)
                _write_metrics(run / "metrics.jsonl", rows)
            if out_of_time:
                break
    finally:
        console.close()
    drift = _rank_weight_drift(model, d) if d.world > 1 else None
    summary: dict[str, Any] = {}
    if d.main:
        _write_metrics(run / "metrics.jsonl", rows)
        plot_losses(rows, run / "loss.png", title=f"{dataset.name}: {run.name}")
        best = min((r for r in rows if r["split"] == "val"), key=lambda r: r["loss"], default=None)
        summary = {
            **summary_base,
            "status": status,
            "steps": step,
            "config": config_to_dict(cfg),
            "best": {"step": best["step"], "val_loss": best["loss"]} if best else None,
            "machine": machine(d),
            **({"ranks_max_weight_diff": drift} if drift is not None else {}),
            "bf16": bf16,
            "wall_s": round(wall0 + time.monotonic() - t0, 3),
            "step_s": _median_step_s(rows),
            "min_steps": t.min_steps,
            "too_few_steps": step < t.min_steps,
            **(
                {"budget": {"soft_s": budget_s, "cap_s": budget.cap_s, "stretched": budget.stretched}}
                if budget_s is not None
                else {}
            ),
            "health": list(advise(rows, t.steps, min_steps=t.min_steps, budget_left_s=0.0).values()),
        }
        (run / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
        for line in summary["health"]:
            console.say(f"advice: {line}")
    if status != "done":
        raise PolicyError(
            f"training {status}; {last_path} and {best_path} hold the last good weights",
            "lower train.lr (x0.3) or train.grad_clip, then train again or --resume from last.pt",
        )
    return summary


def _rig_identity(dataset: Path, data: TrainingData) -> dict[str, Any]:
    """What the joint values meant when recorded: joint limits (from the episodes) and the calibration
    fingerprint per arm (from the dataset manifest; absent for sources without one, e.g. LeRobot)."""
    from demoforge.schemas.dataset import MANIFEST, Manifest

    with data.train.episodes[0].open() as r:
        limits = r.joint_limits
    calibration = None
    if (dataset / MANIFEST).exists():
        calibration = Manifest.load(dataset).rig.get("calibration")
    return {
        "joint_limits": None if limits is None else [[float(v) for v in row] for row in limits],
        "calibration": calibration,
    }


@torch.no_grad()
def _rank_weight_drift(model: torch.nn.Module, d: Dist) -> float:
    """Largest |weight - rank 0's weight| over every parameter and rank: 0 when DDP kept them equal."""
    worst = torch.zeros((), device=d.device)
    for p in model.parameters():
        ref = p.detach().clone()
        dist.broadcast(ref, 0)
        worst = torch.maximum(worst, (p.detach() - ref).abs().max().float())
    dist.all_reduce(worst, op=dist.ReduceOp.MAX)
    return float(worst)


def _joint_names(data: TrainingData) -> list[str]:
    with data.train.episodes[0].open() as r:
        return r.joint_names


def _median_step_s(rows: list[dict[str, Any]]) -> float | None:
    times = sorted(r["step_s"] for r in rows if r.get("split") == "train" and r.get("step_s"))
    return times[len(times) // 2] if times else None


def _show(
    console: Console, step: int, rows: list[dict[str, Any]], cfg: Config, shown: set[str], left: float | None
) -> set[str]:
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    parts = []
    if train:
        parts.append(f"recon {train[-1]['l1']:.4f}  KL {train[-1]['kl']:.3f}")
    if val:
        parts.append(f"val {val[-1]['loss']:.4f}")
    console.update(step, "  ".join(parts))
    advice = advise(rows, cfg.train.steps, min_steps=cfg.train.min_steps, budget_left_s=left)
    for kind, line in advice.items():
        if kind not in shown:  # each kind of advice once while training; all of it again at the end
            console.say(f"advice: {line}")
    return shown | set(advice)
