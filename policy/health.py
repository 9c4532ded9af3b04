"""Training health: what the loss curves say, in the words a practitioner would use.

`advise(rows)` reads the metrics rows written so far (train and val) and returns advice by kind
(kl_high, kl_low, not_falling, overfitting).
It runs while training (shown under the progress bar) and once at the end (kept in run.json).
"""

from __future__ import annotations

from typing import Any

import numpy as np

KL_LOW, KL_HIGH = 0.5, 5.0  # nats, summed over the latent: where the CVAE's KL usually settles in ACT
DIVERGE = 1.2  # val loss this much above its best, for the last evaluations, while train still falls
WINDOW = 5  # metrics rows averaged per comparison


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def advise(rows: list[dict[str, Any]], total_steps: int) -> dict[str, str]:
    """Advice from the metrics so far, by kind; empty while there is too little to judge."""
    train = [r for r in rows if r.get("split") == "train"]
    val = [r for r in rows if r.get("split") == "val"]
    out: dict[str, str] = {}
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
