"""Issue 13 on the emulator: each unsafe situation of a first real rig is set up, and the program refuses
or handles it safely, with the message a user needs. Real dynamixel-sdk, protocol-level emulator."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from demoforge.cli import main
from demoforge.collect import calibration as cal
from demoforge.collect import hardware as hardware_mod
from demoforge.collect import recorder as recorder_mod
from demoforge.collect.arm import ArmBus
from demoforge.collect.calibration_flow import calibrate_arm, direction_pose
from demoforge.collect.cameras.base import Frame
from demoforge.collect.cameras.exposure import wait_for_exposure
from demoforge.collect.cameras.opencv import OpenCVCamera, pixel_format_problem
from demoforge.collect.control_loop import ControlLoop
from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.dynamixel.bus import MotorBus
from demoforge.collect.dynamixel.motor_settings import BLOCK_SIZE, MotorSettings
from demoforge.collect.dynamixel.usb_adapter import UDEV_RULE
from demoforge.collect.errors import HardwareError
from demoforge.collect.hardware import RigHardware
from demoforge.collect.motor_report import inspect_rig
from demoforge.collect.recorder import Recorder, RecordOptions
from demoforge.collect.teleop import LeaderFollowerMap, speed_limits
from demoforge.collect.virtual_rig import VirtualChains
from demoforge.schemas.rig import Rig, load_rig
from tests.collect.emulated_aloha import LEFT_F, LEFT_L, calibrate, open_side
from tests.collect.test_arm import _real_rig_dict
from tests.collect.test_recorder import SpyHardware
from tests.collect.virtual_rig import record_args, small_virtual_rig
from tests.polling import poll

# --- 1. directions: measured at calibration, checked at every open --------------------------------------


def test_1_drive_mode_changed_since_calibration_refuses_to_open(rig: Rig, chains: VirtualChains) -> None:
    calibrate(rig, chains)
    chains.set_register(LEFT_F, 4, "drive_mode", 1)  # a vendor tool or a factory reset changed it
    with pytest.raises(HardwareError) as err:
        open_side(rig, "follower")
    assert (
        "follower motor 4 on emulator:left_follower (joint 'elbow'): Drive Mode is 1 (reverse), "
        "calibration recorded 0 (normal)" in err.value.message
    )
    assert "demoforge calibrate" in err.value.hint and "drive the arm the wrong way" in err.value.hint


def test_1_vendor_drive_modes_are_measured_so_the_follower_never_mirrors(
    rig: Rig, chains: VirtualChains
) -> None:
    # A vendor's Drive Mode choices (Interbotix reverses some ViperX motors): here the follower's waist,
    # its elbow and the elbow's shadow turn the other way.
    for i in (1, 4, 5):
        chains.set_register(LEFT_F, i, "drive_mode", 1)
    result = calibrate(rig, chains)
    assert [result.follower[i].direction for i in (1, 4, 5)] == [-1, -1, 1]
    assert [result.leader[i].direction for i in (1, 4, 5)] == [1, 1, -1]
    pose = {
        "waist": 0.7,
        "shoulder": -0.4,
        "elbow": 0.9,
        "forearm_roll": 0.2,
        "wrist_angle": -0.5,
        "wrist_rotate": 1.0,
        "gripper": 0.5,
    }
    chains.place_pose(rig.arms[0], pose)
    with open_side(rig, "leader") as leader, open_side(rig, "follower") as follower:
        want = np.array(list(pose.values()))
        np.testing.assert_allclose(leader.read()[0], want, atol=0.01)
        np.testing.assert_allclose(follower.read()[0], want, atol=0.01)  # the same way, not mirrored
        follower.set_modes()
        follower.torque(True)
        goal = want + np.array([-0.3, 0.2, -0.3, 0, 0, 0, 0])
        follower.write(goal)
        assert poll(lambda: np.allclose(follower.read()[0], goal, atol=0.02))
        currents = [abs(chains.state(LEFT_F, i)["present_current"]) for i in (4, 5)]
        assert max(currents) < 50  # elbow and its shadow agree: no fight


def test_1_calibration_refuses_a_joint_that_did_not_move(rig: Rig, chains: VirtualChains) -> None:
    def lazy_person(arm: Any, pose: dict[str, float]) -> None:
        chains.place_pose(arm, pose | {"elbow": 0.0})  # forgot the elbow in the direction pose

    with pytest.raises(
        HardwareError, match=r"motor 4 on emulator:left_leader \(joint 'elbow'\) moved 0 ticks"
    ):
        calibrate_arm(rig, rig.arms[0], ask=None, poser=lazy_person, range_s=0, say=lambda _: None)
    assert not rig.calibration_path(rig.arms[0]).exists()


def test_1_leader_operating_mode_changed_since_calibration_refuses(rig: Rig, chains: VirtualChains) -> None:
    calibrate(rig, chains)
    chains.set_register(LEFT_L, 2, "operating_mode", ct.MODE_EXTENDED_POSITION)
    with pytest.raises(
        HardwareError, match="Operating Mode is extended_position, calibration recorded position"
    ):
        open_side(rig, "leader")


# --- 2. shadows: Secondary ID detected and used; never two goals --------------------------------------


def test_2_shadow_following_by_secondary_id_gets_no_goal_of_its_own(rig: Rig, chains: VirtualChains) -> None:
    chains.set_register(LEFT_F, 3, "drive_mode", 1)  # Interbotix: the reverse-mounted shadow, reversed
    chains.set_register(LEFT_F, 3, "secondary_id", 2)  # ... and obeying motor 2's goals
    result = calibrate(rig, chains)
    assert result.follower[3].follows == 2 and result.follower[5].follows is None
    with open_side(rig, "follower") as follower:
        assert 3 not in follower._sent_ids and 5 in follower._sent_ids
        follower.set_modes()
        follower.torque(True)
        goal = np.array([0.0, 0.5, 0.3, 0.0, 0.0, 0.0, 0.5])
        follower.write(goal)
        assert chains.state(LEFT_F, 3)["goal_position"] == chains.state(LEFT_F, 2)["goal_position"]
        assert poll(lambda: abs(follower.read()[0][1] - 0.5) < 0.02)
        assert max(abs(chains.state(LEFT_F, i)["present_current"]) for i in (2, 3)) < 50


def test_2_secondary_id_on_a_shadow_turning_the_other_way_is_refused(rig: Rig, chains: VirtualChains) -> None:
    chains.set_register(LEFT_F, 5, "secondary_id", 4)  # obeys the elbow's goals, but Drive Mode 0
    with pytest.raises(HardwareError) as err:
        calibrate(rig, chains)
    assert (
        "follower motor 5 on emulator:left_follower obeys motor 4's goals (Secondary ID 4) "
        "but turns the other way" in err.value.message
    )
    assert "Drive Mode to reverse (1)" in err.value.hint and "Secondary ID to 255" in err.value.hint


def test_2_secondary_id_set_after_calibration_refuses_to_open(rig: Rig, chains: VirtualChains) -> None:
    calibrate(rig, chains)
    chains.set_register(LEFT_F, 3, "secondary_id", 2)
    with pytest.raises(
        HardwareError,
        match=r"motor 3 .*Secondary ID is 2 \(follows motor 2\), calibration recorded 255 \(off\)",
    ):
        open_side(rig, "follower")


# --- 3. speed limit, measured-position step limit, no jump at engagement -----------------------------------


def test_3_speed_limit_from_the_motor_model_and_lead_over_the_measured_position(rig: Rig) -> None:
    limits = speed_limits(rig)
    assert limits[1] == pytest.approx(0.7 * 30 * 2 * np.pi / 60)  # XM540-W270 shoulder: 2.2 rad/s
    m = LeaderFollowerMap(rig)
    assert m.step[1] == pytest.approx(limits[1] / 50) and m.step[1] < 0.05  # not the old 0.15 rad a tick
    m.reset(np.zeros(7))
    measured = np.zeros(7)  # a follower that is blocked: it does not move
    far = np.array([1.5, 1.0, 1.0, 0, 0, 0, 0.0])
    goals = [m(far, measured) for _ in range(50)]
    assert np.all(np.abs(np.diff(goals, axis=0)) <= m.step + 1e-12)
    assert np.all(np.abs(goals[-1][:6] - measured[:6]) <= rig.safety.max_lead + 1e-12)  # never runs away


def _one_arm_rig(tmp_path: Path, safety: str) -> Rig:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    path = tmp_path / "rig.toml"
    text = path.read_text().replace("[recording]", f"[safety]\n{safety}\n\n[recording]")
    path.write_text(text)
    return load_rig(path)


def test_3_leader_far_from_the_follower_teleop_does_not_engage(tmp_path: Path) -> None:
    rig = _one_arm_rig(tmp_path, "leaders_to_start = false")
    with RigHardware(rig) as hw:
        loop = ControlLoop(hw)
        loop.start()
        try:
            loop.move_to(rig.start_pose)
            assert poll(lambda: not loop.moving, 5.0)
            loop.wait_ticks(25)
            assert not loop.engaged and loop.mismatch is not None  # the scripted leader is elsewhere
            joint, off = loop.mismatch
            assert joint in rig.joint_names and off > rig.safety.engage_tolerance
            np.testing.assert_allclose(loop.qpos, rig.start_pose, atol=0.03)  # followers hold the pose
        finally:
            loop.stop()


def test_3_leaders_brought_to_the_start_pose_then_teleop_engages_without_a_jump(tmp_path: Path) -> None:
    rig = _one_arm_rig(tmp_path, "leaders_to_start = true")
    hw = SpyHardware(rig).open()
    try:
        loop = ControlLoop(hw)
        loop.start()
        try:
            loop.move_to(rig.start_pose)
            assert poll(lambda: loop.engaged, 5.0)
            loop.wait_ticks(50)
        finally:
            loop.stop()
        sent = np.stack(hw.sent[0])
        step = LeaderFollowerMap(rig).step
        assert np.all(
            np.abs(np.diff(sent, axis=0)) <= step + 1e-6
        )  # every tick within the speed limit (float32 log)
        assert not loop.leaders_driven  # the operator has the leaders again
        assert all(hw.chains.state("emulator:leader_left", i)["torque_enable"] == 0 for i in (1, 2, 3, 4))
    finally:
        hw.close()


def test_3_unattended_recording_refuses_when_the_leader_never_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _one_arm_rig(tmp_path, "leaders_to_start = false")
    monkeypatch.setattr(recorder_mod, "ENGAGE_TIMEOUT_S", 0.3)
    assert main(record_args(tmp_path, tmp_path / "ds", episode_time=0.3)) == 2
    err = capsys.readouterr().err
    assert (
        "did not come to the followers' start pose" in err and "teleop would make the followers jump" in err
    )


class BlockedShoulder(RigHardware):
    """The left follower's shoulder cannot move past ±100 ticks (something is in the way)."""

    def open(self) -> BlockedShoulder:
        super().open()
        assert self.chains is not None
        for i in (2, 3):
            self.chains.set_stops("emulator:follower_left", i, 2048 - 100, 2048 + 100)
        return self

    def rest(self, timeout_s: float = 5.0) -> list[str]:
        assert self.chains is not None
        self.blocked = self.chains.state("emulator:follower_left", 2)
        return super().rest(0.5)


def test_3_blocked_follower_goal_stays_near_it_and_unattended_start_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)  # shoulder start pose: -0.5 rad = -326 ticks
    monkeypatch.setattr(recorder_mod, "ENGAGE_TIMEOUT_S", 0.5)
    hw = BlockedShoulder(rig)
    with pytest.raises(HardwareError, match=r"did not reach the start pose \(left_shoulder is 0\.3\d off\)"):
        Recorder(rig, RecordOptions(dataset=tmp_path / "ds", episode_time=0.3), hardware=hw).run()
    lead_ticks = rig.safety.max_lead / ct.RAD_PER_TICK
    state = hw.blocked
    assert abs(state["goal_position"] - state["present_position"]) <= lead_ticks + 2  # not run away


# --- 4. the USB adapter's latency timer ---------------------------------------------------------------


def test_4_slow_adapter_is_refused_at_open_with_the_udev_rule(rig: Rig, chains: VirtualChains) -> None:
    chains.set_latency_timer(LEFT_F, 16)  # a stock FTDI adapter
    with pytest.raises(HardwareError) as err:
        open_side(rig, "follower")
    assert "emulator:left_follower: the USB adapter's latency timer is 16 ms" in err.value.message
    assert UDEV_RULE in err.value.hint and "latency_timer" in err.value.hint
    [_, follower_report] = inspect_rig(rig)
    assert follower_report.latency_timer_ms == 16 and not follower_report.latency_ok
    chains.set_latency_timer(LEFT_F, 1)  # the udev rule applied
    open_side(rig, "follower").close()


# --- 5. the motors' own settings: limits, homing offset, one-turn positions ---------------------------------


def test_5_motor_limits_narrower_than_the_rig_clamp_goals_instead_of_refusing(
    rig: Rig, chains: VirtualChains
) -> None:
    chains.set_register(LEFT_F, 1, "max_position_limit", 2048 + 300)  # the waist stops at +0.46 rad
    with open_side(rig, "follower") as follower:
        assert any("joint 'waist'" in n and "clamped" in n for n in follower.notes)
        follower.set_modes()
        follower.torque(True)
        follower.write(np.array([1.0, 0, 0, 0, 0, 0, 0.5]))  # beyond the motor's limit
        assert chains.state(LEFT_F, 1)["goal_position"] == 2348  # sent clamped, so it was not refused
        assert poll(lambda: abs(follower.read()[0][0] - 300 * ct.RAD_PER_TICK) < 0.01)
        [_, report] = inspect_rig(rig)  # `devices` while the bus is in use: refused, naming the holder
        assert report.error.startswith(f"serial port {LEFT_F} is in use by process {os.getpid()}")
    [_, report] = inspect_rig(rig)
    assert "limits narrower than the rig's (goals are clamped)" in report.motors[0].mismatches


def test_5_calibration_without_motor_settings_refuses_to_open(rig: Rig, chains: VirtualChains) -> None:
    old = calibrate(rig, chains)  # as a version-1 file would load: no motor settings to compare
    stripped = {i: replace(m, settings=None) for i, m in old.follower.items()}
    cal.save(replace(old, follower=stripped), rig.calibration_path(rig.arms[0]))
    with pytest.raises(HardwareError, match="the calibration file has no motor settings to check"):
        open_side(rig, "follower")


def test_5_homing_offset_beyond_a_quarter_turn_refuses(rig: Rig, chains: VirtualChains) -> None:
    chains.set_register(LEFT_F, 6, "homing_offset", 1500)
    with pytest.raises(
        HardwareError, match=r"motor 6 .*Homing Offset 1500 is beyond ±1024, which the motor ignores"
    ):
        open_side(rig, "follower")


def test_5_a_turn_counted_with_torque_off_reads_the_same_joint_value(rig: Rig, chains: VirtualChains) -> None:
    with open_side(rig, "leader") as leader:
        chains.emulator.place(LEFT_L, {1: 2048 + 200})
        first = leader.read()[0][0]
        chains.emulator.place(LEFT_L, {1: 2048 + 4096 + 200})  # one more turn while unpowered
        assert leader.read()[0][0] == pytest.approx(first) == pytest.approx(200 * ct.RAD_PER_TICK)


# --- 6. gripper current limit; rebooting an overloaded motor on request ----------------------------------


def test_6_gripper_squeezing_an_object_is_current_limited(rig: Rig, chains: VirtualChains) -> None:
    chains.set_stops(LEFT_F, 9, 2048 + 500, 8191)  # an object between the fingers, half-way open
    with open_side(rig, "follower", gripper_current_ma=400) as follower:
        follower.set_modes()
        limit = round(400 / 2.69)
        assert chains.state(LEFT_F, 9)["current_limit"] == limit
        assert chains.state(LEFT_F, 9)["operating_mode"] == ct.MODE_CURRENT_POSITION
        follower.torque(True)
        follower.write(np.array([0, 0, 0, 0, 0, 0, 0.0]))  # squeeze shut
        t_end = time.monotonic() + 1.5  # longer than the emulated overload time
        while time.monotonic() < t_end:
            follower.read()
            assert abs(chains.state(LEFT_F, 9)["present_current"]) <= limit
        assert chains.state(LEFT_F, 9)["hardware_error_status"] == 0


def test_6_overloaded_gripper_is_named_and_rebooted_on_request(rig: Rig, chains: VirtualChains) -> None:
    arm = rig.arms[0]  # the gripper without a current limit: plain position mode
    unlimited = replace(arm, joints=tuple(replace(j, follower_mode="position") for j in arm.joints))
    chains.set_stops(LEFT_F, 9, 2048 + 600, 8191)  # an object between the fingers
    follower = ArmBus(unlimited, "follower", cal.for_arm(rig, arm)).open()
    try:
        follower.set_modes()
        follower.torque(True)
        follower.write(np.array([0, 0, 0, 0, 0, 0, 0.0]))
        with pytest.raises(HardwareError) as err:
            poll(lambda: follower.read() is None, 5.0)
        assert (
            "motor 9 (xm430-w350) on emulator:left_follower reports a hardware error: overload"
            in err.value.message
        )
        assert "--reboot" in err.value.hint
    finally:
        follower.close()
    with pytest.raises(HardwareError, match="reports hardware errors"):  # refused at the next open
        open_side(rig, "follower")
    chains.set_stops(LEFT_F, 9, -8191, 8191)  # the object is removed
    [_, report] = inspect_rig(rig)  # `devices --rig` without --reboot only reports
    assert report.motors[-1].errors == ["overload"] and not report.motors[-1].rebooted
    [_, report] = inspect_rig(rig, reboot=True)
    assert report.motors[-1].rebooted
    open_side(rig, "follower").close()


# --- 7. safe shutdown; calibration with a person; EEPROM only with torque off ------------------------------


class ExitSpy(RigHardware):
    """Records every follower and leader motor's torque and position right after the shutdown."""

    def rest(self, timeout_s: float = 5.0) -> list[str]:
        problems = super().rest(timeout_s)
        assert self.chains is not None
        self.after = {
            (port, i): self.chains.state(port, i)
            for port in ("emulator:follower_left", "emulator:leader_left")
            for i in (1, 2, 3, 4)
        }
        return problems


def test_7_program_exit_rests_the_followers_and_turns_torque_off(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    hw = ExitSpy(rig)
    Recorder(rig, RecordOptions(dataset=tmp_path / "ds", episode_time=0.3), hardware=hw).run()
    assert all(state["torque_enable"] == 0 for state in hw.after.values())
    shoulder = hw.after[("emulator:follower_left", 2)]["present_position"]
    assert abs((shoulder - 2048) * ct.RAD_PER_TICK - rig.rest_pose[1]) < 0.06  # at rest when let go
    assert hw.shutdown_problems == []


def test_7_a_follower_whose_bus_failed_is_left_holding_and_said_so(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=2, cameras=1)
    hw = RigHardware(rig).open()
    try:
        assert hw.chains is not None
        hw.chains.inject("emulator:follower_right", 2, "gone")
        with pytest.raises(HardwareError):
            hw.read_followers()
        problems = hw.rest()
        assert [p.split(":")[0] for p in problems] == ["right follower"] and "left holding" in problems[0]
        assert hw.chains.state("emulator:follower_left", 1)["torque_enable"] == 0
        assert hw.chains.state("emulator:follower_right", 1)["torque_enable"] == 1
    finally:
        hw.close()


def test_7_calibration_asks_before_torque_goes_off(rig: Rig, chains: VirtualChains) -> None:
    with open_side(rig, "follower") as follower:
        follower.set_modes()
        follower.torque(True)  # a follower holding itself up
    prompts: list[tuple[str, int]] = []

    def person(prompt: str) -> None:
        prompts.append((prompt, chains.state(LEFT_F, 2)["torque_enable"]))
        arm = rig.arms[0]
        if "zero pose" in prompt:
            chains.place_pose(arm, {j.name: 0.0 for j in arm.joints})
        elif "direction pose" in prompt:
            chains.place_pose(arm, {j.name: direction_pose(j) for j in arm.joints})

    calibrate_arm(rig, rig.arms[0], ask=person, range_s=0, say=lambda _: None)  # a person, no poser
    first, torque_then = prompts[0]
    assert first.startswith("Hold the 'left' follower arm") and torque_then == 1
    assert all(torque == 0 for _, torque in prompts[1:])


def test_7_unattended_calibration_of_real_arms_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from demoforge.schemas.rig import parse_rig

    real = parse_rig(_real_rig_dict(), str(tmp_path / "koch.toml"))
    with pytest.raises(HardwareError, match="needs a person"):
        calibrate_arm(real, real.arms[0], ask=None, range_s=0)
    (tmp_path / "koch.toml").write_text(
        'name = "koch"\nfps = 50\n[[arms]]\nname = "main"\nleader = { port = "/dev/ttyACM0" }\n'
        'follower = { port = "/dev/ttyACM1" }\n[[arms.joints]]\nname = "pan"\nleader_ids = [1]\n'
        'follower_ids = [1]\nleader_model = "xl330-m077"\nfollower_model = "xl430-w250"\n'
        "limits = [-3.0, 3.0]\n"
    )
    assert main(["calibrate", "--rig", str(tmp_path / "koch.toml"), "--unattended"]) == 2
    assert "needs a person" in capsys.readouterr().err
    assert not (tmp_path / "koch.main.calib.json").exists()


def test_7_eeprom_is_written_only_with_torque_off(rig: Rig, chains: VirtualChains) -> None:
    with MotorBus(LEFT_F, {1: "xm540-w270"}, timeout_ms=50.0) as bus:
        bus.torque(True)
        with pytest.raises(RuntimeError, match="EEPROM; turn torque off first"):
            bus.write(1, "operating_mode", ct.MODE_EXTENDED_POSITION)
        bus.torque(False)
        bus.write(1, "operating_mode", ct.MODE_EXTENDED_POSITION)


# --- 8. cameras: the pixel format read back; auto exposure settled before the first episode ---------------


def test_8_silent_mjpg_to_yuyv_fallback_is_named_with_the_bandwidth_reason() -> None:
    problem = pixel_format_problem("cam_high", "opencv /dev/CAM_HIGH", "MJPG", "YUYV", 640, 480, 30)
    assert problem is not None
    assert (
        "cam_high (opencv /dev/CAM_HIGH) delivers YUYV frames, not the MJPG the rig asks for"
        in problem.message
    )
    assert "147 Mbit/s" in problem.message and "USB 2 bus" in problem.message
    assert 'fourcc = "YUYV"' in problem.hint and "v4l2-ctl" in problem.hint
    assert pixel_format_problem("c", "s", "MJPG", "mjpg", 640, 480, 30) is None


def test_8_pixel_format_is_read_back_from_the_capture(tmp_path: Path) -> None:
    path = tmp_path / "mjpg.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 30, (160, 120))
    for k in range(5):
        writer.write(np.full((120, 160, 3), 40 * k, np.uint8))
    writer.release()
    cam = OpenCVCamera("cam_high", str(path), 160, 120, 30, fourcc="YUYV")
    cam.device = True  # judged as a device would be: what the capture reports is what it delivers
    cap = cv2.VideoCapture(str(path))
    try:
        with pytest.raises(HardwareError, match="delivers MJPG frames, not the YUYV the rig asks for"):
            cam._verify(cap)
    finally:
        cap.release()


class ExposingCamera:
    """A camera whose auto exposure brightens the image for `settle` frames, then holds (or never settles)."""

    def __init__(self, name: str, settle: int | None) -> None:
        self.name, self.settle, self.t0 = name, settle, time.monotonic()

    def latest(self) -> Frame:
        index = int((time.monotonic() - self.t0) * 30)
        level = 20 + 8 * min(index, self.settle) if self.settle is not None else 20 + 8 * index % 200
        return Frame(np.full((48, 64, 3), level, np.uint8), time.monotonic(), index)


def test_8_recording_waits_for_auto_exposure_to_settle() -> None:
    cams = {
        "cam_high": ExposingCamera("cam_high", settle=24),
        "cam_wrist": ExposingCamera("cam_wrist", settle=0),
    }
    assert wait_for_exposure(cams, timeout_s=5.0) == []  # type: ignore[arg-type]
    assert cams["cam_high"].latest().index >= 24 + 4  # it waited for the brightening to stop
    drifting = {"cam_low": ExposingCamera("cam_low", settle=None)}
    assert wait_for_exposure(drifting, timeout_s=0.5) == ["cam_low"]  # type: ignore[arg-type]


def test_checks_add_no_bus_transaction_per_tick(tmp_path: Path) -> None:
    """Verification happens at open: an engaged tick is one leader read, one follower write and one
    follower read per arm, as before the checks (the step limit uses the reading the loop has)."""
    rig = small_virtual_rig(tmp_path, arms=2, cameras=1)
    with RigHardware(rig) as hw:
        loop = ControlLoop(hw)
        loop.start()
        try:
            loop.move_to(rig.start_pose)
            assert poll(lambda: loop.engaged, 5.0)
            loop.wait_ticks(2)
            buses = [b.bus.stats for b in hw.leaders + hw.followers]
            tx0, ticks0 = sum(s.transactions - s.retries for s in buses), loop.ticks
            loop.wait_ticks(30)
            tx1, ticks1 = sum(s.transactions - s.retries for s in buses), loop.ticks
        finally:
            loop.stop()
    per_tick = 3 * len(rig.arms)
    assert per_tick * (ticks1 - ticks0 - 1) <= tx1 - tx0 <= per_tick * (ticks1 - ticks0 + 1)


def test_7_sigterm_still_rests_the_followers_and_turns_torque_off(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    hw = ExitSpy(rig).open()
    try:
        with pytest.raises(KeyboardInterrupt):  # what `kill PID` becomes while the rig is open
            os.kill(os.getpid(), signal.SIGTERM)
            poll(lambda: False, 2.0)
    finally:
        hw.close()
    assert all(state["torque_enable"] == 0 for state in hw.after.values())
    assert signal.getsignal(signal.SIGTERM) is not hardware_mod._interrupt  # restored


@given(st.binary(min_size=BLOCK_SIZE, max_size=BLOCK_SIZE))
def test_motor_settings_parse_any_block(block: bytes) -> None:
    """Whatever a motor (or line noise that passed the CRC) returns parses into in-range fields."""
    m = MotorSettings.from_block(block)
    assert 0 <= m.drive_mode <= 255 and 0 <= m.operating_mode <= 255
    assert -(2**31) <= m.homing_offset < 2**31 and 0 <= m.min_position < 2**32
    assert (m.follows is None) == (m.secondary_id >= 253)
    assert MotorSettings.from_json(m.to_json()) == m


class StuckGripper(RigHardware):
    """The left follower's gripper is held 0.38 short of the start pose (an object between its fingers)."""

    def open(self) -> StuckGripper:
        super().open()
        assert self.chains is not None
        gripper = cal.for_arm(self.rig, self.rig.arms[0]).follower[4]
        start = gripper.zero + self.rig.start_pose[2] * gripper.ticks_per_unit()  # the start pose, in ticks
        self.chains.set_stops("emulator:follower_left", 4, start - 400, start - 390)
        return self


class WhereTheyAre:
    """A goal source that, like a policy, wants the followers where they are until it takes over."""

    records: tuple[str, ...] = ()

    def start(self, qpos: np.ndarray) -> None:
        pass

    def goal(self, obs: Any) -> np.ndarray:
        return np.asarray(obs.qpos, float)

    def scalars(self) -> dict[str, float]:
        return {}


def test_3_a_policy_source_names_the_follower_that_cannot_settle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gripper has no lead limit, so its goal reaches the start pose while the gripper does not: the
    message is about the stuck follower, not about leaders nobody is holding."""
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    text = (tmp_path / "rig.toml").read_text().replace('kind = "gripper"', 'kind = "gripper"\nstart = 0.9')
    (tmp_path / "rig.toml").write_text(text)
    rig = load_rig(tmp_path / "rig.toml")
    monkeypatch.setattr(recorder_mod, "ENGAGE_TIMEOUT_S", 3.0)  # the free joints settle; the gripper cannot
    opts = RecordOptions(dataset=tmp_path / "ds", episode_time=0.3)
    stuck = r"did not settle at the start pose \(left_gripper is 0\.3\d from"
    with pytest.raises(HardwareError, match=stuck):
        Recorder(rig, opts, hardware=StuckGripper(rig), goal_source=WhereTheyAre()).run()
