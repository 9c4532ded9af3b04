from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demoforge.schemas.dataset import (
    REPORT_JSON,
    EpisodeEntry,
    Manifest,
    episode_files,
    next_episode_index,
)
from demoforge.schemas.errors import ConfigError, EpisodeError
from demoforge.schemas.splits import Splits, sha256_file


def test_episode_files_sorted_numerically_and_next_index(tmp_path: Path) -> None:
    for i in (0, 2, 10, 1):
        (tmp_path / f"episode_{i}.hdf5").touch()
    (tmp_path / "episode_01.hdf5").touch()  # zero-padded: not ours
    (tmp_path / "notes.txt").touch()
    assert [p.name for p in episode_files(tmp_path)] == [f"episode_{i}.hdf5" for i in (0, 1, 2, 10)]
    assert next_episode_index(tmp_path) == 11
    assert next_episode_index(tmp_path / "new") == 0
    with pytest.raises(EpisodeError, match="is not a folder"):
        episode_files(tmp_path / "missing")


def test_manifest_round_trip(tmp_path: Path) -> None:
    m = Manifest(name="pick", rig={"name": "virtual"})
    m.upsert(EpisodeEntry("episode_1.hdf5", 100, 1, True))
    m.upsert(EpisodeEntry("episode_0.hdf5", 90, -1, False))
    m.upsert(EpisodeEntry("episode_1.hdf5", 101, 0, True))
    m.save(tmp_path)
    back = Manifest.load(tmp_path)
    assert [e.file for e in back.episodes] == ["episode_0.hdf5", "episode_1.hdf5"]
    assert back.episodes[1].length == 101 and back.rig == {"name": "virtual"}


def test_splits_round_trip_and_report_hash(tmp_path: Path) -> None:
    report = tmp_path / REPORT_JSON
    report.parent.mkdir()
    report.write_text('{"schema_version": 1}')
    s = Splits(
        ["episode_0.hdf5"], ["episode_1.hdf5"], [], {"episode_2.hdf5": ["pause"]}, 0, sha256_file(report)
    )
    s.save(tmp_path)
    assert json.loads((tmp_path / "splits.json").read_text())["excluded"] == {"episode_2.hdf5": ["pause"]}
    back = Splits.load(tmp_path)
    assert back == s
    assert back.report_sha256 == sha256_file(report)  # verify_split compares it (tests/quality/test_split.py)


def test_splits_reject_duplicates(tmp_path: Path) -> None:
    Splits(["episode_0.hdf5"], ["episode_0.hdf5"], [], {}, 0, "x").save(tmp_path)
    with pytest.raises(ConfigError, match="more than one split"):
        Splits.load(tmp_path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_garbage_json_is_a_config_error(tmp_path: Path, blob: bytes) -> None:
    for name, load in (("splits.json", Splits.load), ("dataset.json", Manifest.load)):
        (tmp_path / name).write_bytes(blob)
        try:
            load(tmp_path)
        except ConfigError as e:
            assert name in e.message
