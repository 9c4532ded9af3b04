"""The 50 Hz control loop: its own thread, on deadlines, teleoperating whenever the rig is open.

Each tick: read leaders -> ask the goal source for a goal -> safety clamps -> write followers -> read
followers -> take the newest frame of every camera -> hand the tick to the recording sink, if one is
attached. The goal source is a seam (`GoalSource`): the leaders (teleop, the default) or a policy
(`demoforge deploy`); whatever it wants passes the same engagement gate and safety clamps.
Recording is attached and detached by the recorder between ticks; teleop never stops in between, so the
reset phase keeps the leader live. A device fault stops the loop with the followers holding, and
is reported through `fault` (the recorder names the device to the operator).

Teleop engages only when leader and follower agree: `move_to` brings the followers to a pose at the
speed limit, each tick's goal guarded against the measured position like a teleop goal (and, with
`safety.leaders_to_start`, ramps the leaders there too, torque on, as ALOHA does; their torque goes
off when they arrive); then the followers hold until every leader joint is within
`safety.engage_tolerance` of its follower (`engaged`). Until then `mismatch` names the joint that
is furthest off, for the operator. No jump: the follower never chases a leader that is elsewhere.
The driven leaders are guarded like the followers: their goal moves at the speed limit and never
leads their measured position by more than `max_lead` (a hand holding one back, then slipping,
does not let it snap). Leader readings are unwrapped across ±π (`teleop.unwrap`).

The stop key: `halt_flag` is an Event set by whoever reads the keys (`operator_keys.TerminalKeys`, on
its own thread) or by `halt()`; the tick only checks it. From the first tick that sees it the
followers hold where they were measured (goal = that position, torque on), the goal source is not
asked, and nothing moves until `resume()`: then the goal restarts from the measured position and
teleop engages again only when the leaders agree (a policy restarts from where the arms are).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from demoforge.collect.cameras import Frame
from demoforge.collect.episode_sink import EpisodeSink
from demoforge.collect.errors import HardwareError, StorageError
from demoforge.collect.hardware import Hardware
from demoforge.collect.loop_timing import LoopStats, prefer_control_thread
from demoforge.collect.teleop import LeaderFollowerMap, disagreement, unwrap
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_writer import CameraSample, Tick

LEADER_SETTLE_S = 2.0  # beyond the time the ramp needs, the most the driven leaders get before torque off
CAMERA_CHECK_EVERY = 5  # ticks between camera health checks (a stall is 5 frame periods: > 5 ticks)


@dataclass
class EpisodeInProgress:
    """An episode being recorded: where ticks go and how the loop kept time meanwhile."""

    sink: EpisodeSink
    stats: LoopStats
    limit: int = 1 << 62  # ticks to record at most
    t0: float = -1.0  # host time of the first recorded tick
    ticks: int = 0
    last_index: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)  # camera frames skipped by the counter
    new_frames: dict[str, int] = field(default_factory=dict)  # distinct frames used


@dataclass(frozen=True)
class Observation:
    """What a goal source sees at the start of a tick."""

    tick: int  # the loop's tick counter
    recording_tick: int | None  # this tick's row in the episode being recorded; None when not recording
    leader: np.ndarray  # (J,) this tick's leader reading
    qpos: np.ndarray  # (J,) the followers as read at the end of the previous tick
    frames: dict[str, Any]  # camera -> newest Frame (or None) taken at the previous tick
    engaged: bool  # False while the followers go to the start pose or wait for this source to agree


class GoalSource(Protocol):
    """Where follower goals come from. `goal` runs on the control thread once per tick: it must return
    at once (a policy computes off this thread and answers from what it already has)."""

    records: tuple[str, ...]  # layout paths of the optional per-tick datasets `scalars` fills

    def start(self, qpos: np.ndarray) -> None: ...  # taking over with the followers at qpos
    def goal(self, obs: Observation) -> np.ndarray: ...  # (J,) desired follower positions
    def scalars(self) -> dict[str, float]: ...  # values recorded with the tick just asked for


class LeaderGoals:
    """Teleoperation: the followers go where the leaders are."""

    records: tuple[str, ...] = ()

    def start(self, qpos: np.ndarray) -> None:
        pass

    def goal(self, obs: Observation) -> np.ndarray:
        return obs.leader

    def scalars(self) -> dict[str, float]:
        return {}


class HoldGoals:
    """The followers stay where they were when it took over (before an attended `deploy` starts)."""

    records: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.pose: np.ndarray | None = None

    def start(self, qpos: np.ndarray) -> None:
        self.pose = np.asarray(qpos, np.float64).copy()

    def goal(self, obs: Observation) -> np.ndarray:
        if not obs.engaged or self.pose is None:  # going to the start pose: where they are
            self.pose = np.asarray(obs.qpos, np.float64).copy()
        return self.pose

    def scalars(self) -> dict[str, float]:
        return {}


class ControlLoop:
    """Runs the control thread; the recorder attaches an `EpisodeInProgress` for the length of an episode."""

    def __init__(
        self, hw: Hardware, source: GoalSource | None = None, halt_flag: threading.Event | None = None
    ) -> None:
        self.hw = hw
        self.rig = hw.rig
        self.map = LeaderFollowerMap(self.rig)
        self.clock = hw.make_clock()  # deadlines for physical rigs, stepped for a simulation
        self.recent = LoopStats(self.rig.fps)  # the last few seconds, for the display
        self.fault: BaseException | None = None
        self.leader = np.zeros(hw.n_joints)
        self.qpos = np.zeros(hw.n_joints)
        self.warnings: deque[str] = deque(maxlen=5)
        self.frames: dict[str, Any] = {}  # the newest frames as of the last tick, for the goal source
        self.source: GoalSource = source or LeaderGoals()
        self._target: np.ndarray | None = None  # the pose the followers go to before teleop engages
        self._leader_target: np.ndarray | None = None  # where the driven leaders go (start pose)
        self._leader_goal: np.ndarray | None = None  # the last goal sent to the driven leaders
        self._leader_ticks_left = 0  # the leader drive's budget: its ramp, then LEADER_SETTLE_S
        self._revolute = np.array([j.kind != "gripper" for a in self.rig.arms for j in a.joints])
        self.engaged = False
        self.leaders_driven = False  # torque on the leaders (start-pose phase only)
        # set by the stop key (off this thread); the tick only reads it
        self.halt_flag = halt_flag if halt_flag is not None else threading.Event()
        self.halted = False  # the followers hold where they are (the stop key), until resume()
        self._held: np.ndarray | None = None  # the hold's goal: the followers' position at the stop
        self.mismatch: tuple[str, float] | None = None  # (joint, difference) while not engaged
        self._recording: EpisodeInProgress | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tick = threading.Condition()
        self.ticks = 0
        self._frames_per_tick = {c.name: max(1, math.ceil(c.fps / self.rig.fps)) for c in self.rig.cameras}
        self._thread = threading.Thread(target=self._run, name="control-loop", daemon=True)

    # -- control from the recorder's thread ----------------------------------------------------------

    def start(self) -> None:
        prefer_control_thread()
        qpos, _, _ = self.hw.read_followers()
        self.qpos = qpos
        self.leader = unwrap(None, self.hw.read_leaders(), self._revolute)
        self.map.reset(qpos)  # the first goal comes from the measured position
        self.clock = self.hw.make_clock()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def move_to(self, pose: list[float]) -> float:
        """Drive the followers (and the leaders, if the rig says so) to `pose` at the speed limit from
        where they are measured, disengaging teleop until the leaders agree again. Returns the
        seconds the followers need at the speed limit."""
        target = np.asarray(pose, float)
        # hardware without leaders to drive (a simulation's scripted leader) has no `can_drive_leaders`
        can_drive = getattr(self.hw, "can_drive_leaders", None)
        drive_leaders = self.rig.safety.leaders_to_start and can_drive is not None and can_drive()
        with self._lock:
            self._target = np.clip(target, self.map.low, self.map.high)
            self._leader_target = self._target.copy() if drive_leaders else None
            self._leader_goal = None
            ramp_ticks = float(np.max(np.abs(self._target - self.leader) / self.map.step, initial=0.0))
            self._leader_ticks_left = math.ceil(ramp_ticks + LEADER_SETTLE_S * self.rig.fps)
            self.engaged = False
            # seconds the followers need at the speed limit (what a caller may wait, plus margin)
            return float(np.max(np.abs(self._target - self.qpos) / self.map.step, initial=0.0)) / self.rig.fps

    @property
    def moving(self) -> bool:
        """The followers' goal has not reached the `move_to` pose yet (or the leaders are on their way)."""
        target, last = self._target, self.map.last
        return self._leader_target is not None or (
            target is not None and (last is None or not np.array_equal(last, target))
        )

    def set_source(self, source: GoalSource) -> None:
        """Hand the followers to another goal source from the next tick on. They hold until its goal
        agrees with them, as teleop engages (a policy's does at once: it starts from where they are)."""
        with self._lock:
            source.start(self.qpos.copy())
            self.source = source
            self.engaged = False

    def halt(self) -> None:
        """The stop key: from the next tick the followers hold where they are (see the module docstring)."""
        self.halt_flag.set()

    def resume(self) -> None:
        """After a halt: goals restart from the measured position; teleop re-engages when the leaders
        agree with the followers, a goal source restarts from where they are."""
        with self._lock:
            self.map.reset(self.qpos)
            self.source.start(self.qpos.copy())
            self.engaged = False
            self._held = None
            self.halted = False
            self._leader_goal = None  # a leader drive that was under way restarts from the leaders' reading
            self.halt_flag.clear()
        request_resume = getattr(self.hw, "request_resume", None)  # a follower's own hold (effort, heat)
        if request_resume is not None:
            request_resume()

    def hardware_holding(self) -> list[str]:
        """Why followers hold on their own (effort, heat: `RigHardware.holding`); empty when none does."""
        holding = getattr(self.hw, "holding", None)
        return list(holding()) if holding is not None else []

    def attach(self, rec: EpisodeInProgress) -> None:
        with self._lock:
            rec.stats = LoopStats(self.rig.fps)
            self._overruns0 = self.clock.overruns
            self._skipped0 = self.clock.skipped
            self._recording = rec

    def detach(self) -> EpisodeInProgress | None:
        with self._lock:
            rec, self._recording = self._recording, None
        self.wait_ticks(1)  # the tick in flight may still be recording: let it finish
        if rec is not None:
            rec.stats.overruns = self.clock.overruns - self._overruns0
            rec.stats.skipped = self.clock.skipped - self._skipped0
        return rec

    def wait_ticks(self, n: int, timeout: float = 5.0) -> bool:
        """Block until n more ticks ran (or the loop stopped)."""
        target = self.ticks + n
        with self._tick:
            return self._tick.wait_for(lambda: self.ticks >= target or not self.running, timeout)

    # -- the control thread --------------------------------------------------------------------------

    def _run(self) -> None:
        hw = self.hw
        try:
            while not self._stop.is_set():
                deadline, start = self.clock.wait()
                t_work = time.monotonic()  # work is host time whatever the clock (sim time may not pass)
                rec = self._recording  # taken at the tick's start: a tick is recorded whole or not at all
                if rec is not None and rec.ticks >= rec.limit:
                    rec = None
                if rec is not None and rec.ticks == 0:
                    self._start_recording()
                leader = unwrap(self.leader, hw.read_leaders(), self._revolute)
                obs = Observation(
                    self.ticks,
                    rec.ticks if rec is not None else None,
                    leader,
                    self.qpos,
                    self.frames,
                    self.engaged,
                )
                with self._lock:
                    if self.halt_flag.is_set():  # the stop key: hold where they are
                        goal, scalars = self._hold(), {}
                    else:
                        goal = self._goal(self.source.goal(obs), leader)
                        scalars = self.source.scalars()
                qpos, qvel, effort = hw.write_and_read_followers(goal)
                take_events = getattr(hw, "take_events", None)  # a rig's motors' holds and warnings
                if take_events is not None:
                    self.warnings.extend(take_events())
                frames = hw.latest_frames()
                if self.ticks % CAMERA_CHECK_EVERY == 0:
                    hw.check_cameras()
                if rec is not None:
                    self._record(rec, start, leader, goal, qpos, qvel, effort, frames, scalars)
                self.leader, self.qpos, self.frames = leader, qpos, frames
                work = time.monotonic() - t_work
                self.recent.add(deadline, start, work)
                if rec is not None:
                    rec.stats.add(deadline, start, work)
                if len(self.recent.starts) > 500:
                    self.recent = LoopStats(
                        self.rig.fps,
                        self.recent.starts[-250:],
                        self.recent.errors[-250:],
                        self.recent.work[-250:],
                    )
                with self._tick:
                    self.ticks += 1
                    self._tick.notify_all()
        # The followers hold their last goal; a bus that failed holds itself (`ArmBus.hold`), the others
        # stay usable for the safe shutdown at close.
        except (HardwareError, StorageError) as e:
            self.fault = e
        except BaseException as e:  # a bug: keep the followers safe, let the recorder re-raise it
            self.fault = e
        finally:
            with self._tick:
                self._tick.notify_all()

    def _hold(self) -> np.ndarray:
        """The stop key's goal: the followers' position measured when it was first seen, every tick."""
        if self._held is None:
            self._held = self.qpos.copy()
            self.halted = True
            self.engaged = False
        self.map.follow(self._held)
        return self._held

    def _start_recording(self) -> None:
        """The first tick of an episode. Hardware that starts its episodes here (a simulation: a fresh
        reset of the episode's scene, `SimHardware.start_recording`, which renders it too) does; then
        the goal source and the step clamp start afresh from the followers and frames as they are, so
        what ran before the recording (a policy acting while the recorder opened the file: more ticks
        the faster it infers) leaves no trace in the episode. Real rigs have no such call: their
        recording starts where the arms are."""
        start = getattr(self.hw, "start_recording", None)
        if start is None:
            return
        start()
        # the first goal is decided on the reset's state and frames, not on the last parked tick's
        self.qpos, _, _ = self.hw.read_followers()
        self.frames = self.hw.latest_frames()
        with self._lock:
            self.map.reset(self.qpos)
            self.source.start(self.qpos.copy())

    def _goal(self, wanted: np.ndarray, leader: np.ndarray) -> np.ndarray:
        """This tick's follower goal: toward the `move_to` pose, holding until `wanted` (the leaders'
        reading in teleop) agrees with the followers, then `wanted` through the safety clamps."""
        if self.engaged:
            return self.map(wanted, self.qpos)
        assert self.map.last is not None
        # toward the pose (or holding), at the speed limit and never far ahead of the follower
        held = self.map.guard(self.map.last if self._target is None else self._target, self.qpos)
        self.map.follow(held)
        if self._leader_target is not None:  # only before teleop engages, never while recording
            self._drive_leaders(leader)
        if self.moving:
            return held
        off = disagreement(wanted, held, self.rig.safety.engage_tolerance)
        self.mismatch = (self.rig.joint_names[off[0]], off[1]) if off else None
        if off:
            return held
        self.engaged = True
        self._target = None
        return held

    def _drive_leaders(self, leader: np.ndarray) -> None:
        """One tick of the leaders' drive to the start pose: at the speed limit, at most `lead` ahead
        of their measured position; torque off when they arrived or their time is up (a hand holds one)."""
        hw: Any = self.hw  # leader driving is optional: only hardware with `can_drive_leaders` is asked
        target = self._leader_target
        assert target is not None
        arrived = disagreement(leader, target, self.rig.safety.engage_tolerance / 3) is None
        self._leader_ticks_left -= 1
        if arrived or self._leader_ticks_left <= 0:
            if self.leaders_driven:
                hw.drive_leaders(False)  # arrived (or held back by a hand): the operator takes over
                self.leaders_driven = False
            self._leader_target = None
            return
        if not self.leaders_driven:
            hw.drive_leaders(True)  # goal = present position first: nothing jumps
            self.leaders_driven = True
        last = leader if self._leader_goal is None else self._leader_goal
        goal = np.clip(target, last - self.map.step, last + self.map.step)
        goal = np.clip(goal, leader - self.map.lead, leader + self.map.lead)
        self._leader_goal = goal
        hw.write_leaders(goal)

    def _record(
        self,
        rec: EpisodeInProgress,
        start: float,
        leader: np.ndarray,
        goal: np.ndarray,
        qpos: np.ndarray,
        qvel: np.ndarray,
        effort: np.ndarray,
        frames: dict[str, Frame | None],
        scalars: dict[str, float],
    ) -> None:
        if rec.sink.error is not None:
            raise StorageError(
                f"writing {rec.sink.writer.path} failed: {rec.sink.error}",
                "check free disk space and that the folder is writable",
            )
        if rec.t0 < 0:
            rec.t0 = start
        samples: dict[str, CameraSample] = {}
        for cam, frame in frames.items():
            if frame is None:
                continue
            samples[cam] = CameraSample(
                capture_time=frame.capture_time - rec.t0,
                index=frame.index,
                image=frame.image,
                device_time=frame.device_time,
                device_index=frame.device_index,
            )
            last = rec.last_index.get(cam)
            if last is None or frame.index != last:
                rec.new_frames[cam] = rec.new_frames.get(cam, 0) + 1
                # a camera faster than the loop skips frames between ticks by design
                lost = frame.index - last - self._frames_per_tick[cam] if last is not None else 0
                if lost > 0:
                    rec.dropped[cam] = rec.dropped.get(cam, 0) + lost
                    self.warnings.append(f"{cam}: {lost} frame(s) dropped at t={start - rec.t0:.2f}s")
                rec.last_index[cam] = frame.index
        rec.sink.put(
            Tick(
                timestamp=start - rec.t0,
                qpos=qpos,
                qvel=qvel,
                effort=effort,
                action=goal,
                leader_qpos=leader,
                frames=samples,
                scalars={L.CLAMPED: float(self.map.clamped), **self.hw.tick_extras(), **scalars},
            )
        )
        rec.ticks += 1
