"""Training health: what the loss curves say, in the words a practitioner would use.

`advise(rows)` reads the metrics rows written so far (train and val) and returns advice by kind
(kl_high, kl_low, not_falling, overfitting; with the step times and a time budget: slow_steps,
too_few_steps).
It runs while training (shown under the progress bar) and once at the end (kept in run.json).
"""

from __future__ import annotations

from typing import Any

import numpy as np

KL_LOW, KL_HIGH = 0.5, 5.0  # nats, summed over the latent: where the CVAE's KL usually settles in ACT
DIVERGE = 1.2  # val loss this much above its best, for the last evaluations, while train still falls
WINDOW = 5  # metrics rows averaged per comparison
SLOW = 3.0  # a log interval's seconds per step this many times the run's fastest: the CPU is taken


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def projected_steps(step: int, total_steps: int, step_s: float | None, budget_left_s: float | None) -> int:
    """Steps the run will have done when it stops: at `total_steps`, or when the budget runs out."""
    if budget_left_s is None or not step_s:
        return total_steps
    return min(total_steps, step + int(max(budget_left_s, 0.0) / step_s))


def advise_speed(
    rows: list[dict[str, Any]], total_steps: int, min_steps: int, budget_left_s: float | None
) -> dict[str, str]:
    """Advice on the step rate: far below the run's own best, or too slow for `min_steps` in the budget."""
    timed = [r for r in rows if r.get("split") == "train" and r.get("step_s")]
    out: dict[str, str] = {}
    if not timed:
        return out
    now, fastest = timed[-1]["step_s"], min(r["step_s"] for r in timed)
    if len(timed) >= 2 and now > SLOW * fastest:
        out["slow_steps"] = (
            f"a step now takes {now:.2f} s, {now / fastest:.0f}x this run's fastest ({fastest:.2f} s): "
            "something else is using the CPU; stop it, or give this run fewer threads "
            "(taskset -c 0 demoforge train ...)"
        )
    step = int(timed[-1]["step"])
    will = projected_steps(step, total_steps, now, budget_left_s)
    if will < min_steps:
        ending = "stopped" if will == step else f"will stop near step {will:,}"
        out["too_few_steps"] = (
            f"at {1 / now:.1f} steps/s this run {ending}, below the {min_steps:,} steps its preset needs "
            "for a result (train.min_steps): its success rate will say nothing about the method; give it "
            "more time, a quieter machine or a GPU"
        )
    return out


def advise(
    rows: list[dict[str, Any]],
    total_steps: int,
    *,
    min_steps: int = 0,
    budget_left_s: float | None = None,
) -> dict[str, str]:
    """Advice from the metrics so far, by kind; empty while there is too little to judge."""
    train = [r for r in rows if r.get("split") == "train"]
    val = [r for r in rows if r.get("split") == "val"]
    out: dict[str, str] = advise_speed(rows, total_steps, min_steps, budget_left_s)
    if len(train) >= 2 * WINDOW:
        kl = _mean(train[-WINDOW:], "kl")
        if kl > KL_HIGH:
            out["kl_high"] = (
                f"KL is {kl:.2f} nats (> {KL_HIGH}): the latent z carries much of the action chunk, but "
                "inference runs with z = 0, so the decoder sees a code it never trained on; raise train.beta"
            )
        elif kl < KL_LOW and train[-1]["step"] > total_steps // 4:
            out["kl_low"] = (
                f"KL is {kl:.3f} nats (< {KL_LOW}): z is ignored (posterior collapse), so with varied "
                "demonstrations the policy drifts toward their mean action; if rollouts hesitate between "
                "ways of doing the task, lower train.beta"
            )
        first, last = _mean(train[:WINDOW], "l1"), _mean(train[-WINDOW:], "l1")
        if train[-1]["step"] > total_steps // 5 and last > 0.95 * first:
            out["not_falling"] = (
                f"the L1 loss is not falling ({first:.3f} -> {last:.3f}): raise train.lr (x3), check that "
                "actions vary between episodes, or that the cameras see the task"
            )
    if len(val) >= 3:
        best = min(val, key=lambda r: r["loss"])
        recent = val[-2:]
        train_falls = len(train) >= 2 * WINDOW and _mean(train[-WINDOW:], "loss") < _mean(
            train[-2 * WINDOW : -WINDOW], "loss"
        )
        if best["step"] < recent[0]["step"] and all(r["loss"] > DIVERGE * best["loss"] for r in recent):
            out["overfitting"] = (
                f"validation loss rose from {best['loss']:.3f} (step {best['step']}) "
                f"to {recent[-1]['loss']:.3f}"
                + (" while the training loss still falls" if train_falls else "")
                + f": overfitting. best.pt keeps step {best['step']} (lowest validation loss); last.pt is "
                "later and worse. More episodes, more dropout or fewer steps would help"
            )
    return out
