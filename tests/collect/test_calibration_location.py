"""Calibrations of shipped rigs are per user (platformdirs), keyed by rig name and adapter serials;
nothing is written into the installed package."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from demoforge.cli import main
from demoforge.collect import calibration_location as where
from demoforge.collect.rigs import RIGS_DIR, resolve_rig


def package_files() -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in RIGS_DIR.parent.rglob("*") if p.is_file()}


def test_calibrating_a_shipped_rig_writes_under_the_user_config(capsys: pytest.CaptureFixture[str]) -> None:
    before = package_files()
    assert (
        main(["calibrate", "--rig", "virtual", "--arm", "left", "--unattended", "--range-seconds", "0.3"])
        == 0
    )
    assert package_files() == before  # nothing new or changed in the installed package
    config = Path(os.environ["XDG_CONFIG_HOME"])
    written = (
        config
        / "demoforge"
        / "calibration"
        / "virtual"
        / "left.port-leader_left-port-follower_left.calib.json"
    )
    assert written.is_file()
    assert f"wrote {written}" in capsys.readouterr().out
    assert main(["calibrate", "--rig", "virtual", "--show"]) == 0
    shown = capsys.readouterr().out
    assert f"left: {written} (calibrated)" in shown
    assert "right: " in shown and "(not calibrated (emulated: identity))" in shown


def test_the_file_follows_the_adapters_serial_numbers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rig = resolve_rig("koch")
    arm = rig.arms[0]
    adapters = [  # the two adapters as pyserial lists them (the rig names their /dev paths)
        SimpleNamespace(device=arm.leader.port, serial_number="FT1LEAD"),
        SimpleNamespace(device=arm.follower.port, serial_number="FT2FOLL"),
    ]
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: adapters)
    path = where.calibration_file(rig, arm)
    assert path.name == f"{arm.name}.FT1LEAD-FT2FOLL.calib.json"
    assert path.parent == where.user_calibration_dir() / "koch"
    assert RIGS_DIR not in path.parents


def test_a_rig_file_of_ones_own_keeps_its_calibration_beside_it(tmp_path: Path) -> None:
    from tests.collect.virtual_rig import small_virtual_rig

    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    assert where.calibration_file(rig, rig.arms[0]) == tmp_path / "rig.left.calib.json"
