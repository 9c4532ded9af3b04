"""After the fact: labels and overrides change what `split` keeps, and never the recorded data."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from demoforge.cli import main
from demoforge.quality import check_dataset, make_splits, write_report_json
from demoforge.schemas.dataset import Manifest
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import Splits
from tests import factories as F


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    recs = [F.clean_recording(50, seed=i) for i in range(4)]
    F.plant_pause(recs[1], 10, 45)
    recs[2].success = -1
    F.write_dataset(tmp_path, recs)
    Manifest(name="t", episodes=[]).save(tmp_path)
    write_report_json(tmp_path, check_dataset(tmp_path))
    return tmp_path


def _qpos(path: Path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return np.asarray(f["/observations/qpos"])


def test_label_after_the_fact_then_split_keeps_it(dataset: Path) -> None:
    assert "episode_2.hdf5" in make_splits(dataset).excluded
    before = _qpos(dataset / "episode_2.hdf5")
    assert main(["label", str(dataset), "2", "success"]) == 0
    with h5py.File(dataset / "episode_2.hdf5", "r") as f:
        assert f.attrs["success"] == 1
    assert np.array_equal(_qpos(dataset / "episode_2.hdf5"), before)
    with pytest.raises(ConfigError, match="changed since"):
        make_splits(dataset)  # the label changed the file: check again before splitting
    write_report_json(dataset, check_dataset(dataset))
    assert "episode_2.hdf5" not in make_splits(dataset).excluded


def test_override_honoured_and_recorded(dataset: Path) -> None:
    assert make_splits(dataset).excluded["episode_1.hdf5"] == ["pause"]
    reason = "operator waited for the cube to settle"
    assert main(["accept", str(dataset), "episode_1.hdf5", "--check", "pause", "--reason", reason]) == 0
    s = make_splits(dataset, val=0.0)
    assert "episode_1.hdf5" in s.train
    assert s.overrides == {"episode_1.hdf5": {"accept": ["pause"], "reason": reason}}
    assert Splits.load(dataset).overrides == s.overrides
    assert main(["accept", str(dataset), "1", "--revoke"]) == 0
    assert "episode_1.hdf5" in make_splits(dataset).excluded


def test_bad_curation_input_is_one_message(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["label", str(dataset), "9", "success"]) == 2
    assert main(["accept", str(dataset), "1", "--check", "pause"]) == 2  # no reason
    assert main(["accept", str(dataset), "1"]) == 2  # nothing to accept
    err = capsys.readouterr().err
    assert "episode_9.hdf5" in err and "reason" in err and "--check" in err
    (dataset / "overrides.json").write_text(
        json.dumps({"episode_1.hdf5": {"accept": ["integrity"], "reason": "x"}})
    )
    with pytest.raises(ConfigError, match="integrity"):
        make_splits(dataset)
