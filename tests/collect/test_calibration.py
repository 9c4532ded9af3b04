"""Calibration: file round trip, unit conversions, and the unattended flow on a virtual rig."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from demoforge.collect import calibration as cal
from demoforge.collect.calibration_flow import calibrate_arm
from demoforge.collect.virtual_rig import start_virtual_chains
from demoforge.schemas.errors import ConfigError
from tests.collect.test_arm import aloha_rig

motor_cals = st.builds(
    cal.MotorCalibration,
    zero=st.integers(0, 4095),
    direction=st.sampled_from([1, -1]),
    open=st.none() | st.integers(-2000, 2000),
    range=st.tuples(st.integers(0, 2000), st.integers(2000, 4095)),
).filter(lambda m: m.open != m.zero)


@given(st.lists(motor_cals, min_size=1, max_size=9), st.data())
def test_ticks_joint_round_trip(motors: list[cal.MotorCalibration], data: st.DataObject) -> None:
    motors = [
        m if m.open is None else cal.MotorCalibration(m.zero, m.direction, m.zero + m.open) for m in motors
    ]
    motors = [m for m in motors if m.open != m.zero] or [cal.MotorCalibration(2048)]
    conv = cal.Converter.of(motors)
    ticks = np.array(data.draw(st.lists(st.integers(0, 4095), min_size=len(motors), max_size=len(motors))))
    # ticks survive exactly, within one turn (the reading is taken within half a turn of zero)
    assert np.array_equal(conv.to_ticks(conv.to_joint(ticks)) % 4096, ticks)
    assert np.all(np.abs(conv.to_joint(ticks) * conv.scale) <= 2048)
    joint = conv.to_joint(ticks) + np.array(
        data.draw(st.lists(st.floats(-0.4, 0.4), min_size=len(motors), max_size=len(motors)))
    ) / np.abs(conv.scale)
    assert np.all(np.abs(conv.to_joint(conv.to_ticks(joint)) - joint) <= 0.5 / np.abs(conv.scale) + 1e-12)


@given(st.floats(-3.0, 3.0), st.sampled_from([1, -1]))
def test_revolute_and_gripper_units(q: float, direction: int) -> None:
    revolute = cal.MotorCalibration(zero=2048, direction=direction)
    gripper = cal.MotorCalibration(zero=1500, open=2500)
    conv = cal.Converter.of([revolute, gripper])
    ticks = conv.to_ticks(np.array([q, 0.25]))
    assert ticks[1] == 1750  # a quarter of the way from closed to open
    assert abs((ticks[0] - 2048) * direction * 2 * np.pi / 4096 - q) <= np.pi / 4096
    assert conv.to_joint(np.array([2048 + direction * 1024, 2500])).tolist() == pytest.approx(
        [np.pi / 2, 1.0]
    )


def test_file_round_trip_and_damage(tmp_path: Path) -> None:
    rig = aloha_rig(tmp_path)
    arm = rig.arms[0]
    calib = cal.identity(arm)
    path = rig.calibration_path(arm)
    cal.save(calib, path)
    assert cal.load(path, arm) == calib == cal.for_arm(rig, arm)
    assert calib.follower[3].direction == -1  # the shoulder's shadow
    path.write_text(path.read_text().replace('"9"', '"19"'))
    with pytest.raises(ConfigError, match="no calibration for leader motor 9"):
        cal.load(path, arm)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        cal.for_arm(rig, arm)


def test_unattended_calibration_of_a_virtual_arm(tmp_path: Path) -> None:
    rig = aloha_rig(tmp_path, arms=("left",))
    arm = rig.arms[0]
    lines: list[str] = []
    with start_virtual_chains(rig, mode="thread", operator=False) as chains:
        result = calibrate_arm(rig, arm, ask=None, poser=chains.place_pose, range_s=0.3, say=lines.append)
    assert cal.load(rig.calibration_path(arm), arm) == result
    # Directions are measured between the zero and the direction pose: shadows are reverse-mounted.
    assert result.leader[3].direction == -1 and result.leader[5].direction == -1
    assert result.follower[2].direction == 1 and result.follower[3].direction == -1
    assert result.leader[9].open is not None and result.follower[9].open is not None
    assert lines[-1].startswith("wrote ")
