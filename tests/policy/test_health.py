"""Training-health advice from metrics rows."""

from __future__ import annotations

from typing import Any

from demoforge.policy.health import advise


def rows(kl: float, l1: list[float], val: list[tuple[int, float]] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    out = [
        {"split": "train", "step": 10 * (i + 1), "loss": v + kl, "l1": v, "kl": kl} for i, v in enumerate(l1)
    ]
    out += [{"split": "val", "step": s, "loss": v} for s, v in val]
    return sorted(out, key=lambda r: r["step"])


FALLING = [1.0 / (1 + i) for i in range(20)]


def test_healthy_training_gets_no_advice() -> None:
    assert advise(rows(2.0, FALLING, [(50, 0.5), (100, 0.3), (150, 0.2), (200, 0.19)]), 200) == {}


def test_kl_outside_its_usual_range() -> None:
    high = advise(rows(12.0, FALLING), 200)
    assert set(high) == {"kl_high"} and "raise train.beta" in high["kl_high"]
    low = advise(rows(0.01, FALLING), 200)
    assert set(low) == {"kl_low"} and "lower train.beta" in low["kl_low"]
    assert advise(rows(0.01, FALLING[:12]), 1000) == {}  # early: the KL has not settled yet


def test_loss_not_falling() -> None:
    assert "not_falling" in advise(rows(1.0, [0.8] * 20), 200)


def test_validation_diverging_names_the_kept_checkpoint() -> None:
    text = advise(rows(1.0, FALLING, [(50, 0.5), (100, 0.2), (150, 0.4), (200, 0.5)]), 200)["overfitting"]
    assert "step 100" in text and "best.pt" in text and "while the training loss still falls" in text


def timed(step_s: list[float]) -> list[dict[str, Any]]:
    return [
        {"split": "train", "step": 10 * (i + 1), "loss": 1.0, "l1": 1.0, "kl": 2.0, "step_s": t}
        for i, t in enumerate(step_s)
    ]


def test_steps_far_slower_than_the_runs_own_best_are_named() -> None:
    # contention simulated by injecting the measured step times, not by loading the machine
    calm = advise(timed([0.30, 0.25, 0.26, 0.27]), 10_000)
    assert "slow_steps" not in calm
    busy = advise(timed([0.30, 0.25, 0.26, 7.0]), 10_000)
    assert "28x this run's fastest" in busy["slow_steps"] and "taskset" in busy["slow_steps"]


def test_a_budget_too_short_for_the_presets_steps_is_named_while_training() -> None:
    rows = timed([0.5, 0.5])  # 2 steps/s at step 20
    # 600 s left: ~1,220 steps in all, below the 3,000 the preset needs
    short = advise(rows, 20_000, min_steps=3_000, budget_left_s=600.0)
    assert "will stop near step 1,220" in short["too_few_steps"]
    assert "too_few_steps" not in advise(rows, 20_000, min_steps=3_000, budget_left_s=6_000.0)
    # no budget: the run ends at its steps; fewer than the preset needs is named as well
    assert "too_few_steps" in advise(rows, 1_000, min_steps=3_000)
    assert "too_few_steps" not in advise(rows, 20_000, min_steps=3_000)
