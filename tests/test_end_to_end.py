"""Every stage that exists, on the virtual rig, through the command line: record -> check -> split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demoforge.cli import main
from quality import verify_split
from schemas.dataset import Splits
from schemas.episode_writer import finish_episode
from schemas.errors import ConfigError
from tests.collect.virtual_rig import small_virtual_rig


def test_record_check_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_virtual_rig(tmp_path, arms=2, cameras=2)
    ds = tmp_path / "ds"
    rig = str(tmp_path / "rig.toml")
    assert (
        main(
            [
                "record",
                "--rig",
                rig,
                "--dataset",
                str(ds),
                "--episodes",
                "4",
                "--episode-time",
                "1.2",
                "--reset-time",
                "0.1",
                "--label",
                "success",
                "--unattended",
            ]
        )
        == 0
    )
    # one more, labelled a failure: check must exclude it
    assert (
        main(
            [
                "record",
                "--rig",
                rig,
                "--dataset",
                str(ds),
                "--episodes",
                "1",
                "--episode-time",
                "1.2",
                "--label",
                "failure",
                "--unattended",
            ]
        )
        == 0
    )
    assert main(["check", str(ds), "--unattended"]) == 0
    report = json.loads((ds / "quality" / "report.json").read_text())
    verdicts = {e["file"]: e["verdict"] for e in report["episodes"]}
    assert verdicts == {f"episode_{i}.hdf5": "pass" for i in range(4)} | {"episode_4.hdf5": "fail"}, report
    failed = next(e for e in report["episodes"] if e["file"] == "episode_4.hdf5")
    assert [f["check"] for f in failed["findings"] if f["severity"] == "error"] == ["success_label"]
    assert (ds / "quality" / "report.html").stat().st_size > 1000

    assert main(["split", str(ds), "--val", "0.25", "--seed", "1"]) == 0
    splits = Splits.load(ds)
    assert sorted(splits.train + splits.val) == [f"episode_{i}.hdf5" for i in range(4)]
    assert len(splits.val) == 1 and splits.excluded == {"episode_4.hdf5": ["success_label"]}
    verify_split(ds)  # what the trainer does before reading anything

    finish_episode(ds / "episode_0.hdf5", success=0)  # the data changed after the split was cut
    with pytest.raises(ConfigError):
        verify_split(ds)
    capsys.readouterr()
