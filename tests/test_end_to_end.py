"""Every stage that exists, on the virtual rig, through the command line: record -> check -> split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demoforge.cli import main
from demoforge.schemas.episode_writer import finish_episode
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import Splits, verify_split
from tests.collect.virtual_rig import record_args, small_virtual_rig


def test_record_check_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_virtual_rig(tmp_path, arms=2, cameras=2)
    ds = tmp_path / "ds"
    assert (
        main(record_args(tmp_path, ds, "--label", "success", episodes=4, episode_time=1.2, reset_time=0.1))
        == 0
    )
    # one more, labelled a failure: check must exclude it
    assert main(record_args(tmp_path, ds, "--label", "failure", episodes=1, episode_time=1.2)) == 0
    assert main(["check", str(ds), "--unattended"]) == 0
    report = json.loads((ds / "quality" / "report.json").read_text())
    episodes = {e["file"]: e for e in report["episodes"]}
    assert sorted(episodes) == [f"episode_{i}.hdf5" for i in range(5)]
    errors = {f: [x["check"] for x in e["findings"] if x["severity"] == "error"] for f, e in episodes.items()}
    assert errors["episode_4.hdf5"] == ["success_label"]
    # The scripted operator never pauses nor leaves the limits, and every episode closed cleanly.
    # (A loaded machine may still drop a camera frame: that is the check working, not failing.)
    for name in [f"episode_{i}.hdf5" for i in range(4)]:
        assert not set(errors[name]) & {
            "pause",
            "joint_limit",
            "integrity",
            "success_label",
            "length_outlier",
        }
    passing = sorted(f for f, e in episodes.items() if e["verdict"] == "pass")
    assert len(passing) >= 3, errors
    assert (ds / "quality" / "report.html").stat().st_size > 1000

    assert main(["split", str(ds), "--val", "0.25", "--seed", "1"]) == 0
    splits = Splits.load(ds)
    assert sorted(splits.train + splits.val) == passing
    assert len(splits.val) == 1 and splits.excluded["episode_4.hdf5"] == ["success_label"]
    assert set(splits.excluded) == set(episodes) - set(passing)
    verify_split(ds)  # what the trainer does before reading anything

    finish_episode(ds / "episode_0.hdf5", success=0)  # the data changed after the split was cut
    with pytest.raises(ConfigError):
        verify_split(ds)
    capsys.readouterr()
