"""The near-duplicate check compares episodes in blocks (memory O(block x N)): the block size changes
nothing it finds, also for copies whose original lies blocks earlier."""

from __future__ import annotations

import numpy as np
import pytest

from demoforge.quality import Thresholds
from demoforge.quality import checks_dataset as D


def _summaries(n: int) -> list[D.EpisodeSummary]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        trace = rng.uniform(-1, 1, (D.TRACE_POINTS, 4)).astype(np.float32)
        out.append(D.EpisodeSummary(f"episode_{i}.hdf5", True, 100, 2.0, trace=trace, digest=f"d{i}"))
    for copy, of in ((5, 1), (12, 3), (13, 12), (19, 0)):  # within a block, across one, across several
        out[copy].trace, out[copy].digest = out[of].trace, out[of].digest
    out[8].trace = out[2].trace + np.float32(0.001)  # a replay: close, not identical
    return out


@pytest.mark.parametrize("block", [1, 2, 3, 7])
def test_blocks_find_what_one_pass_finds(monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    th = Thresholds()
    whole = D.check_near_duplicate(_summaries(20), th)
    assert sorted(f for f, _ in whole) == [
        "episode_12.hdf5",
        "episode_13.hdf5",
        "episode_19.hdf5",
        "episode_5.hdf5",
        "episode_8.hdf5",
    ]
    monkeypatch.setattr(D, "DUPLICATE_BLOCK", block)
    assert D.check_near_duplicate(_summaries(20), th) == whole
