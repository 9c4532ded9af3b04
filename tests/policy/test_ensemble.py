"""Temporal ensembling and chunk execution against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from demoforge.policy.ensemble import ChunkExecution, TemporalEnsemble, ensemble_weights


def test_weights_match_a_hand_computation() -> None:
    e = [1.0, math.exp(-0.5), math.exp(-1.0)]
    np.testing.assert_allclose(ensemble_weights(3, 0.5, "oldest"), np.array(e) / sum(e))
    np.testing.assert_allclose(ensemble_weights(3, 0.5, "newest"), np.array(e[::-1]) / sum(e))
    np.testing.assert_allclose(ensemble_weights(4, 0.0), [0.25] * 4)


@pytest.mark.parametrize("highest", ["oldest", "newest"])
def test_ensemble_averages_every_chunk_covering_the_tick(highest: str) -> None:
    ens = TemporalEnsemble(m=0.5, highest=highest)
    k = 4
    # chunk from tick t0 predicts value 10 * t0 + i for tick t0 + i (one joint)
    for t0 in range(3):
        ens.add(t0, (10 * t0 + np.arange(k, dtype=float))[:, None])
    # tick 2 is covered by chunks 0 (index 2), 1 (index 1), 2 (index 0): values 2, 11, 20, oldest first
    w = [1.0, math.exp(-0.5), math.exp(-1.0)]
    if highest == "newest":
        w = w[::-1]
    expected = (w[0] * 2 + w[1] * 11 + w[2] * 20) / sum(w)
    a = ens.action(2)
    assert a is not None
    assert a[0] == pytest.approx(expected)
    # tick 4: chunk 0 (covers 0..3) has expired; chunks 1 (index 3) and 2 (index 2)
    w2 = [1.0, math.exp(-0.5)] if highest == "oldest" else [math.exp(-0.5), 1.0]
    a4 = ens.action(4)
    assert a4 is not None and a4[0] == pytest.approx((w2[0] * 13 + w2[1] * 22) / sum(w2))
    assert len(ens.chunks) == 2


def test_ensemble_before_any_chunk_and_late_chunks() -> None:
    ens = TemporalEnsemble(m=0.01)
    assert ens.action(0) is None
    ens.add(5, np.arange(3, dtype=float)[:, None])  # predicted from tick 5's observation
    assert ens.action(4) is None  # nothing covers tick 4
    a = ens.action(7)  # inference took 2 ticks: the chunk is used from its index 2
    assert a is not None and a[0] == 2.0
    assert ens.action(8) is None  # expired, nothing newer


def test_chunk_execution_every_n_and_holds_when_late() -> None:
    ex = ChunkExecution(every=3)
    asked = [t for t in range(10) if ex.wants_inference(t)]
    assert asked == [0, 3, 6, 9]
    ex = ChunkExecution(every=3)
    ex.add(0, np.arange(4, dtype=float)[:, None])
    got = [ex.action(t) for t in range(6)]
    assert [float(g[0]) for g in got if g is not None] == [0, 1, 2, 3, 3, 3]  # past the end: hold
    ex.add(3, (100 + np.arange(4, dtype=float))[:, None])
    a = ex.action(5)
    assert a is not None and a[0] == 102.0  # the newest chunk, from the current tick on
