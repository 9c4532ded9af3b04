"""Trims to ticks: an exported clip holds exactly the ticks outside every trimmed span."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demoforge.schemas.errors import ConfigError
from demoforge.schemas.export_clips import parse_splits, tick_ranges
from demoforge.schemas.splits import Splits

spans = st.lists(
    st.tuples(st.floats(0, 3, allow_nan=False), st.floats(0.001, 1, allow_nan=False)).map(
        lambda p: (p[0], p[0] + p[1])
    ),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 150), jitter=st.floats(0, 0.004), trims=spans, seed=st.integers(0, 2**16))
def test_clips_keep_exactly_the_untrimmed_ticks(
    n: int, jitter: float, trims: list[tuple[float, float]], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    times = np.arange(n) / 50 + rng.uniform(0, jitter, n)  # recorded tick times drift a little
    times[0] = 0.0
    times = np.maximum.accumulate(times)
    splits = Splits([], [], [], {}, 0, "", trim={"episode_0.hdf5": trims})
    kept = tick_ranges(times, splits.kept_spans("episode_0.hdf5", float(times[-1]) + 0.02))
    covered = [t for a, b in kept for t in range(a, b)]
    assert covered == sorted(set(covered))  # in order, no tick twice
    trimmed = {t for t in range(n) if any(a <= times[t] < b for a, b in trims)}
    assert set(covered) == set(range(n)) - trimmed
    assert all(b > a for a, b in kept)


@pytest.mark.parametrize(
    ("text", "names"),
    [("train", ["train"]), ("val, holdout", ["val", "holdout"]), ("all", ["train", "val", "holdout"])],
)
def test_parse_splits(text: str, names: list[str]) -> None:
    assert parse_splits(text) == names


@pytest.mark.parametrize("text", ["", "test", "train,tset", ","])
def test_parse_splits_refuses_unknown_names(text: str) -> None:
    with pytest.raises(ConfigError, match="unknown split"):
        parse_splits(text)
