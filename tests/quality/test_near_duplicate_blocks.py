"""The near-duplicate check compares episodes in blocks sorted by length (memory O(block x N), each
block against only the episodes of similar length): it finds exactly the pairs an all-pairs comparison
finds, whatever the block size, also for copies whose original lies blocks away."""

from __future__ import annotations

import numpy as np
import pytest

from demoforge.quality import Thresholds
from demoforge.quality import checks_dataset as D

N = 40


def _summaries() -> list[D.EpisodeSummary]:
    rng = np.random.default_rng(0)
    # lengths on the 5 % boundary (100 / 95 / 105), equal ones, and far apart ones
    lengths = [100, 95, 105, 100, 300, 100, 94, 106, *rng.integers(90, 120, N - 8).tolist()]
    out = []
    for i in range(N):
        trace = rng.uniform(-1, 1, (D.TRACE_POINTS, 4)).astype(np.float32)
        out.append(
            D.EpisodeSummary(f"episode_{i}.hdf5", True, int(lengths[i]), 2.0, trace=trace, digest=f"d{i}")
        )
    for copy, of in ((1, 0), (2, 0), (3, 0), (4, 0), (6, 0), (7, 3), (12, 3), (13, 12), (39, 5), (30, 9)):
        out[copy].trace, out[copy].digest = out[of].trace, out[of].digest
    out[25].trace = out[20].trace + np.float32(0.001)  # a replay: close, not identical
    return out


def _all_pairs(x: np.ndarray, lengths: np.ndarray, rad: float) -> dict[int, list[int]]:
    """The plain definition: every pair, one at a time."""
    out: dict[int, list[int]] = {}
    for b in range(len(x)):
        for a in range(b):
            similar = abs(lengths[a] - lengths[b]) <= 0.05 * max(lengths[a], lengths[b])
            if similar and np.sqrt(np.mean((x[a] - x[b]) ** 2)) < rad:
                out.setdefault(b, []).append(a)
    return out


@pytest.mark.parametrize("block", [1, 3, 7, 256])
def test_blocks_find_what_all_pairs_find(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    monkeypatch.setattr(D, "DUPLICATE_BLOCK", block)
    s = _summaries()
    x = np.stack([np.asarray(e.trace, dtype=np.float64).ravel() for e in s])
    lengths = np.array([e.length for e in s])
    rad = Thresholds().near_duplicate_rad
    expected = _all_pairs(x, lengths, rad)
    assert set(expected) >= {1, 2, 3, 7, 12, 13, 25, 30, 39} and 4 not in expected
    found = D._close_earlier([e.trace for e in s], lengths, rad)
    assert {b: a.tolist() for b, a in found.items()} == expected
    flagged = [f for f, _ in D.check_near_duplicate(s, Thresholds())]
    assert flagged == [f"episode_{b}.hdf5" for b in sorted(expected)]
