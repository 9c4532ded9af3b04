"""The split contract in schemas/: version 1 files still read, trims, and refusing without a split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import SPLITS_SCHEMA_VERSION, Splits, verify_split


def test_version_1_splits_read_as_version_2_without_trims(tmp_path: Path) -> None:
    v1 = {
        "schema_version": 1,
        "train": ["episode_0.hdf5"],
        "val": [],
        "holdout": [],
        "excluded": {"episode_1.hdf5": ["pause"]},
        "seed": 0,
        "report_sha256": "ab",
    }
    (tmp_path / "splits.json").write_text(json.dumps(v1))
    s = Splits.load(tmp_path)
    assert s.trim == {} and s.overrides == {} and s.schema_version == 1
    s.schema_version = SPLITS_SCHEMA_VERSION
    s.trim = {"episode_0.hdf5": [(0.0, 1.5)]}
    s.save(tmp_path)
    assert Splits.load(tmp_path) == s


def test_newer_version_and_bad_trims_refused(tmp_path: Path) -> None:
    base = {"train": [], "val": [], "holdout": [], "excluded": {}, "seed": 0, "report_sha256": ""}
    (tmp_path / "splits.json").write_text(json.dumps({**base, "schema_version": 99}))
    with pytest.raises(ConfigError, match="newer"):
        Splits.load(tmp_path)
    (tmp_path / "splits.json").write_text(json.dumps({**base, "trim": {"episode_0.hdf5": [[2.0, 1.0]]}}))
    with pytest.raises(ConfigError, match="trim"):
        Splits.load(tmp_path)


def test_no_split_names_the_commands_that_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        verify_split(tmp_path)
    assert "demoforge check" in info.value.hint and "demoforge split" in info.value.hint


@given(
    st.lists(st.tuples(st.floats(0, 10), st.floats(0.01, 5)).map(lambda t: (t[0], t[0] + t[1])), max_size=5),
    st.floats(0.1, 20),
)
def test_kept_spans_are_the_complement_of_the_trims(
    trims: list[tuple[float, float]], duration: float
) -> None:
    s = Splits([], [], [], {}, 0, "", trim={"e": trims})
    kept = s.kept_spans("e", duration)
    for a, b in kept:
        assert 0 <= a < b <= duration
        assert not any(ta < (a + b) / 2 < tb for ta, tb in trims)  # a kept midpoint is never trimmed
    assert all(kept[i][1] <= kept[i + 1][0] for i in range(len(kept) - 1))
    # and nothing untrimmed is lost: kept + trimmed (clipped, overlaps merged) = the whole episode
    trimmed, end = 0.0, 0.0
    for ta, tb in sorted(trims):
        ta, tb = max(ta, end), min(tb, duration)
        if tb > ta:
            trimmed += tb - ta
            end = tb
    assert sum(b - a for a, b in kept) == pytest.approx(duration - trimmed, abs=1e-9)
