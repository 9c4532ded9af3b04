"""calibrate, devices and teleop through the command line, on the virtual rig."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from demoforge.cli import main
from demoforge.collect.operator_display import LiveDisplay
from demoforge.collect.recorder import Recorder, RecordOptions
from tests.collect.test_recorder import Keys
from tests.collect.virtual_rig import record_args, small_virtual_rig


def test_calibrate_unattended_writes_the_file_next_to_the_rig(tmp_path: Path) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    rig = tmp_path / "rig.toml"
    assert main(["calibrate", "--rig", str(rig), "--unattended", "--range-seconds", "0.5"]) == 0
    calib = json.loads((tmp_path / "rig.left.calib.json").read_text())
    assert calib  # and recording picks it up
    assert main(record_args(tmp_path, tmp_path / "ds", episode_time=0.3)) == 0


def test_calibrate_unknown_arm_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    assert main(["calibrate", "--rig", str(tmp_path / "rig.toml"), "--arm", "nope", "--unattended"]) == 2
    assert "no arm 'nope'" in capsys.readouterr().err


def test_devices_lists_without_hardware(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--baud", "1000000"]) == 0
    out = capsys.readouterr().out
    assert "serial ports" in out and "cameras" in out


def test_teleop_runs_for_a_fixed_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    assert main(["teleop", "--rig", str(tmp_path / "rig.toml"), "--seconds", "1.2"]) == 0
    assert "Hz" in capsys.readouterr().out


def test_record_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--rig", "nosuch", "--dataset", str(tmp_path / "ds")]) == 2
    assert "no rig named 'nosuch'" in capsys.readouterr().err
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    assert main(record_args(tmp_path, tmp_path / "ds", episode_time=-1, unattended=False)) == 2
    assert "--episode-time must be positive" in capsys.readouterr().err


def test_live_display_shows_loop_cameras_and_phase(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=2)
    out = io.StringIO()
    keys = Keys([("waiting", " "), ("keep?", "s"), ("ending", "y")])
    opts = RecordOptions(
        dataset=tmp_path / "ds", episodes=1, episode_time=0.6, reset_time=0.0, unattended=False
    )
    display = LiveDisplay(Console(file=out, force_terminal=True, width=120))
    rec = Recorder(rig, opts, operator=keys, display=display)
    keys.recorder = rec
    with display:
        [result] = rec.run()
        panel = Console(file=io.StringIO(), width=120)
        panel.print(display.render(rec))
    assert result.kept
    text = out.getvalue()
    for word in ("demoforge record", "loop", "Hz", "cam_high", "cam_wrist", "overruns"):
        assert word in text, word


def test_devices_rig_reports_motors_next_to_the_rig(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    assert main(["devices", "--rig", str(tmp_path / "rig.toml"), "--no-cameras"]) == 0
    out = capsys.readouterr().out
    assert "latency timer 1 ms" in out and "emulator:follower_left" in out and "shoulder" in out
    assert main(["devices", "--reboot"]) == 2
    assert "--reboot needs --rig" in capsys.readouterr().err
