"""splits.json: passing episodes only, deterministic, stratified on request, verified against files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demoforge.quality import check_dataset, make_splits, write_report_json
from demoforge.quality.split import _allocate
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import Splits, verify_split
from tests import factories as F


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("split")
    recs = [F.clean_recording(50, seed=i) for i in range(12)]
    for i, r in enumerate(recs):
        r.operator = "ana" if i % 3 else "ben"
    F.plant_pause(recs[2], 15, 45)
    recs[5].success = 0
    F.write_dataset(folder, recs)
    write_report_json(folder, check_dataset(folder))
    return folder


def test_passing_only_with_reasons(dataset: Path) -> None:
    s = make_splits(dataset, val=0.2, holdout=2, seed=1)
    assert s.excluded == {"episode_2.hdf5": ["pause"], "episode_5.hdf5": ["success_label"]}
    everything = s.train + s.val + s.holdout
    assert len(everything) == len(set(everything)) == 10
    assert len(s.holdout) == 2 and len(s.val) == 2
    assert Splits.load(dataset) == s
    assert verify_split(dataset) == s


def test_deterministic_and_seeded(dataset: Path) -> None:
    a = make_splits(dataset, val=0.3, seed=7)
    b = make_splits(dataset, val=0.3, seed=7)
    assert a == b
    others = {tuple(make_splits(dataset, val=0.3, seed=s).val) for s in range(6)}
    assert len(others) > 1


def test_stratified(dataset: Path) -> None:
    s = make_splits(dataset, val=0.5, seed=3, stratify_by="operator")
    ben = {f"episode_{i}.hdf5" for i in range(12) if i % 3 == 0} - {"episode_2.hdf5", "episode_5.hdf5"}
    assert len(set(s.val) & ben) == 2  # half of ben's 4 passing episodes, half of ana's 6
    assert len(set(s.val) - ben) == 3
    with pytest.raises(ConfigError, match="operator"):
        make_splits(dataset, stratify_by="no_such_attr")


@pytest.mark.parametrize(
    ("kw", "match"), [({"val": 1.5}, "--val"), ({"holdout": -1}, "--holdout"), ({"holdout": 11}, "pass")]
)
def test_bad_arguments(dataset: Path, kw: dict[str, float], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make_splits(dataset, **kw)  # type: ignore[arg-type]


def test_verify_split_refuses_changed_files_and_reports(tmp_path: Path) -> None:
    F.write_dataset(tmp_path, [F.clean_recording(50, seed=i) for i in range(4)])
    write_report_json(tmp_path, check_dataset(tmp_path))
    s = make_splits(tmp_path, val=0.25)
    verify_split(tmp_path)
    victim = tmp_path / s.train[0]
    st_ = victim.stat()
    os.utime(victim, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))
    with pytest.raises(ConfigError, match="changed since"):
        verify_split(tmp_path)
    with pytest.raises(ConfigError, match="changed since"):
        make_splits(tmp_path)  # a stale report is not cut either
    write_report_json(tmp_path, check_dataset(tmp_path))  # re-check: new report, old split
    with pytest.raises(ConfigError, match="another quality report"):
        verify_split(tmp_path)
    make_splits(tmp_path)
    verify_split(tmp_path)
    (tmp_path / "episode_9.hdf5").write_bytes(b"x")
    with pytest.raises(ConfigError, match="not in"):
        make_splits(tmp_path)


def test_no_report(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="demoforge check"):
        make_splits(tmp_path)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 50), st.dictionaries(st.text(max_size=3), st.integers(0, 30), max_size=5))
def test_allocate_is_exact_and_bounded(total: int, sizes: dict[str, int]) -> None:
    total = min(total, sum(sizes.values()))
    out = _allocate(total, sizes)
    assert sum(out.values()) == total
    assert all(0 <= out[k] <= sizes[k] for k in sizes)
