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
