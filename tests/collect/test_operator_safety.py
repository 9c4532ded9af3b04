"""Issue 19, the operator's side, on the emulator: each unsafe situation is set up and the program refuses
or handles it, judged by what the followers were sent and did (real dynamixel-sdk, protocol-level
emulator; the stop key typed into a pseudo-terminal read by the real `TerminalKeys`)."""

from __future__ import annotations

import os
import pty
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from demoforge.cli import main
from demoforge.collect import calibration as cal
from demoforge.collect.arm import ArmBus
from demoforge.collect.control_loop import ControlLoop
from demoforge.collect.dynamixel import control_table as ct
from demoforge.collect.errors import HardwareError
from demoforge.collect.hardware import RigHardware
from demoforge.collect.operator_keys import TerminalKeys
from demoforge.collect.recorder import Recorder, RecordOptions
from demoforge.collect.teleop import LeaderFollowerMap, outside_limits, unwrap
from demoforge.collect.virtual_rig import start_virtual_chains
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.rig import Rig, load_rig
from tests.collect.test_recorder import SpyHardware
from tests.collect.virtual_rig import small_virtual_rig
from tests.polling import poll

FOLLOWER, LEADER = "emulator:follower_left", "emulator:leader_left"
SHOULDER = 1  # joint index of left_shoulder in the small virtual rig (limits [-1.8, 1.2])


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return small_virtual_rig(tmp_path, arms=1, cameras=1)


@pytest.fixture
def terminal() -> Iterator[tuple[int, Any]]:
    """(master fd to type into, the slave side as a terminal stream for TerminalKeys)."""
    master, slave = pty.openpty()
    stream = os.fdopen(slave, "rb", buffering=0)
    try:
        yield master, stream
    finally:
        stream.close()
        os.close(master)


def follower_positions(hw: RigHardware) -> np.ndarray:
    """The followers' present joint positions, read straight from the emulated motors."""
    assert hw.chains is not None
    c = cal.for_arm(hw.rig, hw.rig.arms[0]).follower
    out = []
    for j in hw.rig.arms[0].joints:
        i = j.follower_ids[0]
        out.append((hw.chains.state(FOLLOWER, i)["present_position"] - c[i].zero) / c[i].ticks_per_unit())
    return np.array(out)


def tick_until(loop: ControlLoop, predicate: Any, timeout_s: float = 30.0) -> bool:
    """Wait on the loop's ticks until `predicate` holds (a spinning wait would starve the bus threads)."""
    deadline = time.monotonic() + timeout_s
    while not predicate() and loop.running and time.monotonic() < deadline:
        loop.wait_ticks(1)
    return bool(predicate())


def steps_ok(sent: list[np.ndarray], rig: Rig) -> bool:
    step = LeaderFollowerMap(rig).step
    return bool(np.all(np.abs(np.diff(np.stack(sent), axis=0)) <= step + 1e-6))  # float32 log


# --- item 2: the first goal comes from the measured position -----------------------------------------


def test_2_the_lead_limit_holds_when_the_follower_is_far_from_the_last_goal(rig: Rig) -> None:
    """The issue's case: a shoulder measured at -2.6 with a last goal clipped to -1.8 got a first goal
    0.71 rad away (the step limit applied last). Now the lead limit always holds."""
    m = LeaderFollowerMap(rig)
    measured = np.array([0.0, -2.6, 0.0])
    m.last = np.array([0.0, -1.8, 0.0])  # where the old reset put it
    goal = m(np.array([0.0, -1.0, 0.0]), measured)
    assert abs(goal[SHOULDER] - measured[SHOULDER]) <= rig.safety.max_lead + 1e-12
    assert outside_limits(rig, measured) == (SHOULDER, pytest.approx(0.8))  # such a start is refused


class StartsAt(RigHardware):
    """The left follower's shoulder is where a person left it, torque off, when the rig opens; the
    followers' registers are kept as they were at close (torque, goal, position)."""

    shoulder = -2.0

    def _refuse_outside_limits(self) -> None:
        assert self.chains is not None
        arm = self.rig.arms[0]
        self.chains.place_pose(arm, {"waist": 0.0, "shoulder": self.shoulder, "gripper": 0.0})
        super()._refuse_outside_limits()

    def close(self, rest: bool | None = None) -> None:
        if self.chains is not None:
            self.at_close = {i: self.chains.state(FOLLOWER, i) for i in (1, 2, 3, 4)}
        super().close(rest)


def test_2_a_follower_far_outside_its_limits_is_refused_before_torque(rig: Rig) -> None:
    hw = StartsAt(rig)
    hw.shoulder = -2.6
    with pytest.raises(HardwareError) as err:
        Recorder(rig, RecordOptions(dataset=Path(rig.source).parent / "ds"), hardware=hw).run()
    assert (
        "follower joint left_shoulder reads -2.60, 0.80 outside its limits [-1.8, 1.2]" in err.value.message
    )
    assert "move that joint inside its limits by hand" in err.value.hint
    # nothing moved: torque never went on, the shoulder is where it was left
    assert all(s["torque_enable"] == 0 for s in hw.at_close.values())
    shoulder_ticks = hw.at_close[2]["present_position"] - ct.CENTER_TICK
    assert shoulder_ticks * ct.RAD_PER_TICK == pytest.approx(-2.6, abs=0.01)


def test_2_a_follower_just_outside_its_limits_comes_in_without_a_jump(rig: Rig) -> None:
    class Spy(StartsAt, SpyHardware):
        pass

    hw = Spy(rig).open()  # shoulder at -2.0: 0.2 below its limit, within the lead
    try:
        loop = ControlLoop(hw)
        loop.start()
        try:
            loop.move_to(rig.start_pose)
            assert tick_until(loop, lambda: not loop.moving or loop.fault is not None)
            assert loop.fault is None, loop.fault
        finally:
            loop.stop()
        sent = hw.sent[0]
        lo, hi = rig.joint_limits[SHOULDER]
        assert abs(sent[0][SHOULDER] - (-2.0)) <= rig.safety.max_lead + 0.01  # the first goal
        assert all(lo <= g[SHOULDER] <= hi for g in sent)  # no goal outside the limits
        assert steps_ok(sent, rig)  # then at the speed limit
    finally:
        hw.close()


# --- item 3: the stop key ------------------------------------------------------------------------------


def test_3_stop_key_holds_the_followers_where_they_are_until_resume(rig: Rig, terminal: Any) -> None:
    master, stream = terminal
    hw = SpyHardware(rig).open()
    try:
        with TerminalKeys(stream) as keys:
            loop = ControlLoop(hw, halt_flag=keys.stop)
            loop.start()
            try:
                loop.move_to(rig.start_pose)
                assert tick_until(loop, lambda: loop.engaged)  # teleop: the scripted leader moves them
                loop.wait_ticks(25)
                os.write(master, b"h")  # the operator's stop key
                assert tick_until(loop, lambda: loop.halted)
                n_stop = len(hw.sent[0])
                loop.wait_ticks(25)  # the arm comes to rest at the goal it was given
                settled = follower_positions(hw)
                loop.wait_ticks(50)  # the leader keeps moving meanwhile
                held = hw.sent[0][n_stop:]
                after = follower_positions(hw)
                assert keys.poll() == "h"
                loop.resume()
                assert not loop.halt_flag.is_set() and not loop.engaged  # re-engages only when they agree
            finally:
                loop.stop()
        assert all(np.array_equal(g, held[0]) for g in held)  # one goal, every tick: the stop position
        np.testing.assert_allclose(after[:2], settled[:2], atol=2 * ct.RAD_PER_TICK)  # nothing moves
        first = next(k for k, g in enumerate(hw.sent[0]) if np.array_equal(g, held[0]))
        assert steps_ok(hw.sent[0][:first], rig)  # teleop at the speed limit until the stop
        # the hold's goal is where the follower was measured: within the lead of the goal before it
        lead = LeaderFollowerMap(rig).lead
        assert np.all(np.abs(held[0] - hw.sent[0][first - 1]) <= lead + 1e-6)
    finally:
        hw.close()


class Operator:
    """A display that types keys into the terminal when the recorder shows a phase (or after n ticks)."""

    def __init__(self, master: int, hw: SpyHardware) -> None:
        self.master, self.hw = master, hw
        self.marks: dict[str, int] = {}  # phase -> goals sent when it showed
        self.stopped = False
        self.refreshes_stopped = 0

    def phase(self, rec: Recorder, phase: str) -> None:
        self.marks.setdefault(phase.split(":")[0].split(" ")[0], len(self.hw.sent[0]))
        if phase.startswith("waiting"):
            os.write(self.master, b" ")
        elif phase.startswith("rest?"):
            os.write(self.master, b"y")

    def refresh(self, rec: Recorder) -> None:
        progress = rec.in_progress
        if not self.stopped and progress is not None and progress.ticks >= 20:
            self.stopped = True
            os.write(self.master, b"h")
        elif rec.phase.startswith("STOPPED"):
            self.refreshes_stopped += 1
            if self.refreshes_stopped == 10:  # 50 ticks holding, then rest
                os.write(self.master, b"r")

    def episode_done(self, rec: Recorder, result: Any) -> None:
        pass


def test_3_stop_key_while_recording_ends_the_episode_holds_then_rests_on_confirmation(
    rig: Rig, terminal: Any
) -> None:
    master, stream = terminal
    hw = SpyHardware(rig)
    opts = RecordOptions(
        dataset=Path(rig.source).parent / "ds", episodes=1, episode_time=5.0, reset_time=0.0, unattended=False
    )
    with TerminalKeys(stream) as keys:
        operator = Operator(master, hw)
        recorder = Recorder(rig, opts, operator=keys, display=operator, hardware=hw)
        operator.hw = hw
        recorder.run()
    sent = hw.sent[0]
    held = sent[operator.marks["STOPPED"] : operator.marks["rest?"]]
    assert len(held) >= 40 and all(np.array_equal(g, held[0]) for g in held)  # no motion after the key
    with EpisodeReader(Path(rig.source).parent / "ds" / "episode_0.hdf5") as ep:
        assert ep.length < 2.0 * rig.fps  # the episode ended at the stop, not after its 5 s
    # rest was confirmed: the followers went there at the speed limit, then torque off
    after = sent[operator.marks["rest?"] :]
    first = next(k for k, g in enumerate(after) if not np.array_equal(g, held[0]))
    rest = after[first:]  # goals after the hold: the confirmed rest
    assert steps_ok(rest, rig)
    assert np.all(np.abs(rest[0] - held[0]) <= LeaderFollowerMap(rig).step + 0.01)  # from where it was
    np.testing.assert_allclose(rest[-1], rig.rest_pose, atol=0.01)
    assert hw.shutdown_problems == []


class HoldSpy(SpyHardware):
    """Keeps what `close` was asked, and the left follower's motors just before and after the hold."""

    def close(self, rest: bool | None = None) -> None:
        self.rest_asked = rest
        super().close(rest)

    def _hold_all(self, why: str) -> list[str]:
        assert self.chains is not None
        self.before = {i: self.chains.state(FOLLOWER, i) for i in (1, 2, 4)}
        out = super()._hold_all(why)
        self.after = {i: self.chains.state(FOLLOWER, i) for i in (1, 2, 4)}
        return out


def still(hw: RigHardware, ids: tuple[int, ...] = (1, 2, 4), reads: int = 5) -> bool:
    """The left follower's motors `ids` are at their goals and unmoved over `reads` reads 20 ms apart."""
    assert hw.chains is not None
    chains = hw.chains
    first = [chains.state(FOLLOWER, i) for i in ids]
    if any(abs(s["present_position"] - s["goal_position"]) > 2 for s in first):
        return False
    for _ in range(reads - 1):
        time.sleep(0.02)
        now = [chains.state(FOLLOWER, i)["present_position"] for i in ids]
        if any(abs(p - s["present_position"]) > 1 for p, s in zip(now, first, strict=True)):
            return False
    return True


def test_3_without_confirmation_an_attended_session_leaves_the_followers_holding(
    rig: Rig, terminal: Any
) -> None:
    master, stream = terminal

    path = Path(rig.source)
    # The rest pose out of the scripted operator's reach (its shoulder moves within -0.5 +- 0.6 rad), so
    # that wherever the operator stops, an arm sent to rest would end at least 0.9 rad from there.
    path.write_text(path.read_text().replace("start = -0.5", "start = -0.5\nrest = 1.1"))
    rig = load_rig(path)
    hw = HoldSpy(rig)

    class Answers:
        def phase(self, rec: Recorder, phase: str) -> None:
            if phase.startswith("waiting"):
                # The operator lets go of the leader, the follower comes to rest, then "q": "held where
                # it is" below then measures the hold, not how far an arm in motion travels during the
                # bus I/O around it (a stop in motion: test_3_stop_key_holds_the_followers_where_they_are).
                assert hw.chains is not None
                hw.chains.pause_operator(LEADER, 60.0)
                assert poll(lambda: still(hw), timeout_s=10.0, interval_s=0.02), "never came to rest"
                os.write(master, b"q")
            elif phase.startswith("ending"):
                os.write(master, b"n")  # do not rest

        def refresh(self, rec: Recorder) -> None:
            pass

    opts = RecordOptions(dataset=path.parent / "ds", episode_time=1.0, unattended=False)
    with TerminalKeys(stream) as keys:
        Recorder(rig, opts, operator=keys, display=Answers(), hardware=hw).run()
    assert hw.rest_asked is False
    near = 3  # ticks (0.005 rad): the emulator's settling jitter; the arm was still when stopped
    for i, state in hw.after.items():
        assert state["torque_enable"] == 1  # held, not dropped
        assert abs(state["goal_position"] - state["present_position"]) <= near  # where it is
        assert abs(state["present_position"] - hw.before[i]["present_position"]) <= near
    shoulder = (hw.after[2]["present_position"] - ct.CENTER_TICK) * ct.RAD_PER_TICK
    assert abs(shoulder - 1.1) > 0.5  # not sent to the rest pose


# --- item 8: a rest that does not arrive; a second interrupt; SIGHUP -------------------------------------


class Blocked(RigHardware):
    """The left follower's shoulder cannot move below -0.3 rad (something is in the way)."""

    def open(self) -> Blocked:
        super().open()
        assert self.chains is not None
        for i in (2, 3):  # the shoulder and its shadow
            sign = 1 if i == 2 else -1
            lo, hi = sorted((ct.CENTER_TICK + sign * (-0.3 / ct.RAD_PER_TICK), ct.CENTER_TICK + sign * 4000))
            self.chains.set_stops(FOLLOWER, i, lo, hi)
        return self


def test_8_a_rest_that_does_not_arrive_holds_and_names_the_joint(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)  # rest pose: shoulder -0.5 rad
    hw = Blocked(rig).open()
    try:
        assert hw.chains is not None
        hw.followers[0].write(np.array([0.0, 0.2, 0.0]))
        assert poll(lambda: follower_positions(hw)[SHOULDER] > 0.15, 3.0)
        problems = hw.rest(timeout_s=0.3)
        assert len(problems) == 1
        assert "did not reach the rest pose (left_shoulder is 0.2" in problems[0] and "holding" in problems[0]
        state = hw.chains.state(FOLLOWER, 2)
        assert state["torque_enable"] == 1  # not dropped
        lead_ticks = rig.safety.max_lead / ct.RAD_PER_TICK
        assert abs(state["goal_position"] - state["present_position"]) <= 3  # holds where it is
        assert abs(state["goal_position"] - state["present_position"]) < lead_ticks
    finally:
        hw.close(rest=False)


class InterruptedRest(RigHardware):
    """A second SIGTERM arrives after 5 ticks of the rest; the followers' state is kept after the hold."""

    def _rest_one(self, i: int, follower: ArmBus, timeout_s: float) -> str | None:
        real_write, n = follower.write, [0]

        def write(goal: np.ndarray) -> None:
            n[0] += 1
            if n[0] == 5:
                os.kill(os.getpid(), signal.SIGTERM)  # the handler raises KeyboardInterrupt here
            real_write(goal)

        follower.write = write  # type: ignore[method-assign]
        return super()._rest_one(i, follower, timeout_s)

    def _hold_all(self, why: str) -> list[str]:
        problems = super()._hold_all(why)
        assert self.chains is not None
        self.after = [self.chains.state(FOLLOWER, 2) for _ in range(20)]
        return problems


def test_8_a_second_sigterm_during_rest_holds_at_once_and_is_not_swallowed(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    hw = InterruptedRest(rig).open()
    hw.followers[0].write(np.array([0.0, 0.8, 0.0]))  # far from the rest pose (-0.5)
    assert poll(lambda: follower_positions(hw)[SHOULDER] > 0.7, 3.0)
    with pytest.raises(KeyboardInterrupt):
        hw.close()
    assert "rest interrupted" in hw.shutdown_problems[0]
    goals = {s["goal_position"] for s in hw.after}
    assert len(goals) == 1 and all(s["torque_enable"] == 1 for s in hw.after)  # one goal, held
    shoulder = (hw.after[-1]["present_position"] - ct.CENTER_TICK) * ct.RAD_PER_TICK
    assert shoulder > 0.3  # stopped on its way, not carried on to the rest pose


def test_8_sighup_is_handled_like_sigterm(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    before = signal.getsignal(signal.SIGHUP)
    hw = RigHardware(rig).open()
    try:
        with pytest.raises(KeyboardInterrupt):  # the terminal closed
            os.kill(os.getpid(), signal.SIGHUP)
            poll(lambda: False, 2.0)
    finally:
        hw.close()
    assert signal.getsignal(signal.SIGHUP) == before  # restored


# --- item 9: the leaders' drive, the ±π wrap ----------------------------------------------------------


class LeaderLog(RigHardware):
    """Logs every leader goal with the leader reading of the same tick."""

    def open(self) -> LeaderLog:
        super().open()
        self.log: list[tuple[np.ndarray, np.ndarray]] = []
        self.reading = np.zeros(self.n_joints)
        return self

    def read_leaders(self) -> np.ndarray:
        self.reading = super().read_leaders()
        return self.reading

    def write_leaders(self, goal: np.ndarray) -> None:
        self.log.append((np.array(goal), self.reading.copy()))
        super().write_leaders(goal)


def test_9_driven_leader_is_speed_and_lead_limited_against_a_slipping_hand(tmp_path: Path) -> None:
    """A hand holds the left leader's shoulder where it is for the first 40 ticks of the drive, then
    lets go: the leader's goal never ran ahead of it, so it does not snap."""
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    hw = LeaderLog(rig).open()
    try:
        assert hw.chains is not None
        loop = ControlLoop(hw)
        loop.start()
        try:
            for i in (2, 3):  # the hand closes on the shoulder and its shadow where they are
                at = hw.chains.mechanical_position(LEADER, i)
                hw.chains.set_stops(LEADER, i, at - 2, at + 2)
            # the scripted hand starts at a random point of its motion, which can be near any pose: the
            # shoulder's goal is the end of its range (limits -1.8, 1.2) farther from it, >= 1.3 rad away
            pose = list(rig.start_pose)
            pose[SHOULDER] = -1.6 if loop.leader[SHOULDER] > -0.3 else 1.0
            loop.move_to(pose)
            assert tick_until(loop, lambda: len(hw.log) >= 40 or loop.fault is not None)
            for i in (2, 3):  # ... and slips
                hw.chains.set_stops(LEADER, i, -8191, 8191)
            assert tick_until(loop, lambda: not loop.moving or loop.fault is not None)
            assert loop.fault is None, loop.fault
        finally:
            loop.stop()
    finally:
        hw.close()
    goals = np.stack([g for g, _ in hw.log])
    readings = np.stack([r for _, r in hw.log])
    m = LeaderFollowerMap(rig)
    assert np.all(np.abs(goals[:, :2] - readings[:, :2]) <= m.lead[:2] + 1e-9)  # never far ahead of it
    assert np.all(np.abs(np.diff(goals, axis=0))[:, :2] <= m.step[:2] + 1e-9)  # at the speed limit
    assert abs(readings[30, SHOULDER] - readings[0, SHOULDER]) < 0.03  # the hand did hold it


def test_9_a_leader_crossing_pi_does_not_send_its_follower_round_the_other_way(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)  # waist limits [-3, 3]
    with start_virtual_chains(rig, mode="thread", operator=False) as chains:
        leader = ArmBus(rig.arms[0], "leader", cal.for_arm(rig, rig.arms[0])).open()
        try:
            m = LeaderFollowerMap(rig)
            m.reset(np.array([2.9, 0.0, 0.0]))
            revolute = np.array([True, True, False])
            previous, goals = None, []
            for waist in np.linspace(2.9, 3.5, 25):  # past π: the motor reads -π + x
                chains.emulator.place(LEADER, {1: ct.CENTER_TICK + waist / ct.RAD_PER_TICK})
                previous = unwrap(previous, leader.read()[0], revolute)
                goals.append(m(previous, np.array([goals[-1][0] if goals else 2.9, 0.0, 0.0])))
        finally:
            leader.close()
    waist_goals = np.array([g[0] for g in goals])
    assert previous is not None and previous[0] == pytest.approx(3.5, abs=0.01)  # continuous
    assert waist_goals.min() >= 2.9 - 1e-9 and waist_goals.max() <= 3.0 + 1e-9  # stops at its limit


def test_unwrap_is_continuous_for_revolute_joints_only() -> None:
    revolute = np.array([True, False])
    out = unwrap(np.array([3.1, 0.9]), np.array([-3.1, 0.1]), revolute)
    assert out[0] == pytest.approx(2 * np.pi - 3.1) and out[1] == pytest.approx(0.1)


def test_a_leader_put_elsewhere_is_read_as_it_is_not_unwrapped() -> None:
    """Seen recording sim-insertion: a waist ended an episode at -π, the next episode's reset put its
    leader at 0, and the jump of π was taken as a crossing: 2π off for good, and the recorder refused
    to start (the leaders 6.28 from the start pose). A jump the short way round is no crossing."""
    revolute = np.array([True])
    assert unwrap(np.array([-np.pi]), np.array([0.0]), revolute)[0] == 0.0
    assert unwrap(np.array([2.0]), np.array([-1.5]), revolute)[0] == -1.5  # 2.78 rad the short way
    # the unwrapped side of π stays unwrapped while it moves on: 3.3 is -2.98 as read
    assert unwrap(np.array([3.3]), np.array([3.4 - 2 * np.pi]), revolute)[0] == pytest.approx(3.4)
    # and a reading back at 0 from there is a jump, not 2π
    assert unwrap(np.array([3.4]), np.array([0.0]), revolute)[0] == 0.0
    # an ordinary step is recorded exactly as read (previous + step rounds: -0.999 to 0 gives -3.3e-16)
    assert unwrap(np.array([0.1]), np.array([0.0]), revolute)[0] == 0.0
    assert unwrap(np.array([-0.999]), np.array([0.0]), revolute)[0] == 0.0


# --- the stop key reaches `teleop` through the command line ------------------------------------------


def test_teleop_on_a_terminal_stops_and_rests_only_when_confirmed(
    rig: Rig, terminal: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    master, stream = terminal
    monkeypatch.setattr(sys, "stdin", stream)  # a terminal: teleop is attended

    def operator() -> None:  # once teleop reads keys: stop; then rest, confirmed
        if poll(lambda: any(t.name == "keys" for t in threading.enumerate()), 30.0):
            os.write(master, b"hry")

    person = threading.Thread(target=operator)
    person.start()
    try:
        assert main(["teleop", "--rig", rig.source]) == 0
    finally:
        person.join()
    out = capsys.readouterr().out
    assert "teleop running: h = stop (hold), q = quit" in out
    assert "STOPPED: the followers hold where they are" in out and "rest? the followers will move" in out


def test_deploy_on_real_arms_needs_a_person(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    text = (tmp_path / "rig.toml").read_text().replace("emulator:", "/dev/ttyDXL_")
    (tmp_path / "rig.toml").write_text(text)
    args = ["deploy", "--rig", str(tmp_path / "rig.toml"), "--checkpoint", str(tmp_path / "best.pt")]
    assert main([*args, "--unattended"]) == 2
    err = capsys.readouterr().err
    assert "drives real arms, and nobody is at the stop key" in err and "without --unattended" in err
