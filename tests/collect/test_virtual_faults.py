"""Faults planted through the real recording loop are found by the quality checks at their times."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from demoforge.cli import main
from demoforge.collect.virtual_faults import KINDS, PlannedFault, parse_fault
from demoforge.quality import check_dataset
from demoforge.schemas.errors import ConfigError
from tests.collect.virtual_rig import record_args, small_virtual_rig


def test_parse_examples() -> None:
    assert parse_fault("pause@1:1.5+1.2") == PlannedFault("pause", 1, 1.5, 1.2)
    assert parse_fault("drop.cam_high@2:2+0.3") == PlannedFault("drop", 2, 2.0, 0.3, "cam_high")
    assert parse_fault("gone.follower_left.2@4:1") == PlannedFault("gone", 4, 1.0, 0.0, "follower_left.2")
    assert parse_fault("stall@0:0.5").target == ""


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("pause", "not KIND"),
        ("jump@1:1+1", "unknown fault 'jump'"),
        ("pause@1:1", "pause needs a duration"),
        ("pause.cam@1:1+1", "pause takes no target"),
        ("gone.follower_left@1:1", "gone needs BUS.MOTOR_ID"),
        ("drop@1:1.2.3+1", "must be numbers"),
    ],
)
def test_parse_errors(spec: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as info:
        parse_fault(spec)
    assert info.value.hint


@given(st.text(max_size=40))
def test_any_text_parses_or_is_a_config_error(spec: str) -> None:
    try:
        f = parse_fault(spec)
    except ConfigError:
        return
    assert f.kind in KINDS and f.episode >= 0 and f.start >= 0 and f.duration >= 0


def test_planted_pause_and_drop_are_found_at_their_times(tmp_path: Path) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=2)
    ds = tmp_path / "ds"
    inject = ["--inject", "pause@1:0.6+1.0", "--inject", "drop.cam_wrist@2:1.2+0.1"]
    args = record_args(
        tmp_path, ds, "--label", "success", *inject, episodes=3, episode_time=2.4, reset_time=0
    )
    assert main(args) == 0
    report = check_dataset(ds)
    by_file = {e.file: e for e in report.episodes}
    # a loaded CI machine may add a dropped frame anywhere; what must hold: no pause where none was planted
    assert not [f for f in by_file["episode_0.hdf5"].findings if f.check == "pause"]
    [pause] = [f for f in by_file["episode_1.hdf5"].findings if f.check == "pause"]
    assert pause.start_s == pytest.approx(0.6, abs=0.15) and pause.end_s == pytest.approx(1.6, abs=0.15)
    drops = [f for f in by_file["episode_2.hdf5"].findings if f.check == "frame_drop"]
    assert any(f.start_s == pytest.approx(1.2, abs=0.15) for f in drops), drops


def test_inject_on_a_rig_without_that_camera_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    args = record_args(
        tmp_path, tmp_path / "ds", "--inject", "drop.cam_nope@0:0.1+0.1", episodes=1, episode_time=0.5
    )
    assert main(args) == 2
    assert "no camera 'cam_nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("spec", "pattern"),
    [
        ("short@1:0", "takes the new length"),
        ("long@1:5+1", "takes the new length"),
        ("slow@1:0", "slow needs a duration"),
        ("miss.cam_high@1:0", "miss takes no target"),
    ],
)
def test_parse_errors_of_the_newer_kinds(spec: str, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        parse_fault(spec)


def test_faults_json_holds_truth_per_file_and_replaces_rerecorded_files(tmp_path: Path) -> None:
    import json

    from demoforge.collect.virtual_faults import append_truth, fault_truth

    pause = parse_fault("pause@1:1.5+1.2")
    miss = parse_fault("miss@2:0")
    append_truth(tmp_path, [fault_truth("episode_1.hdf5", pause, 1.56, 2.76, 8.0)])
    append_truth(tmp_path, [fault_truth("episode_2.hdf5", miss, 0.3, 0.3, 8.0)])
    append_truth(tmp_path, [fault_truth("episode_1.hdf5", pause, 1.5, 2.7, 8.0)])  # re-recorded
    doc = json.loads((tmp_path / "faults.json").read_text())
    assert doc["faults"] == [
        {
            "file": "episode_2.hdf5",
            "kind": "miss",
            "target": "",
            "check": "success_label",
            "start_s": 0.0,
            "end_s": 8.0,
        },
        {
            "file": "episode_1.hdf5",
            "kind": "pause",
            "target": "",
            "check": "pause",
            "start_s": 1.5,
            "end_s": 2.7,
        },
    ]
    (tmp_path / "faults.json").write_text("{not json")
    with pytest.raises(ConfigError, match="damaged"):
        append_truth(tmp_path, [])


def test_virtual_rig_truth_matches_the_report(tmp_path: Path) -> None:
    """faults.json on the virtual rig: each entry's check fires in that file over that span."""
    import json

    small_virtual_rig(tmp_path, arms=1, cameras=1)
    ds = tmp_path / "ds"
    inject = ["--inject", "black.cam_high@0:0.6+0.3", "--inject", "short@3:0.3", "--inject", "stall@4:0.5"]
    args = record_args(
        tmp_path, ds, "--label", "success", *inject, episodes=5, episode_time=1.2, reset_time=0
    )
    assert main(args) == 2  # the stalled camera ends the session; what was recorded is kept
    truth = json.loads((ds / "faults.json").read_text())["faults"]
    assert {(t["file"], t["check"]) for t in truth} == {
        ("episode_0.hdf5", "dark_frame"),
        ("episode_3.hdf5", "length_outlier"),
        ("episode_4.hdf5", "integrity"),
    }
    by_file = {e.file: e for e in check_dataset(ds).episodes}
    for t in truth:
        assert any(
            f.check == t["check"] and f.start_s <= t["end_s"] + 0.2 and f.end_s >= t["start_s"] - 0.2
            for f in by_file[t["file"]].findings
        ), (t, by_file[t["file"]].findings)
