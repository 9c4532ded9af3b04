"""SimHardware: the hardware seam of the control loop with gym-aloha's simulated followers.

The leaders are the rig's emulated Dynamixel leader arms, read through dynamixel-sdk exactly as on
a real rig; the hand moving them is the scripted operator, evaluated in simulated time and pushed
into the emulated motors each tick. The followers are the simulated ViperX pair: a tick's goal is
the action of one control period of physics. The cameras are rendered from the scene. The control
loop runs on a `SteppedClock` reading the simulation's time, so the recorded timestamps, frame
times and loop statistics are simulated time, however fast the machine renders.

A tick (`write_and_read_followers`) reads the state the goal was decided on (recorded as qpos at
that tick, like a real rig that reads its followers right after commanding them), renders the
cameras at that state, then steps the physics under the goal; the reward after that step is the
tick's `/reward`.

Episodes: `begin_episode` parks the scene on the episode's reset (the objects at gym-aloha's poses
for seed + index, the arms at the start pose; reset again every tick, whatever the followers are sent);
the episode itself starts at its first recorded tick (`start_recording`, called by the control loop on
its thread): one more reset, and the operator's new plan from its time 0. So an episode starts from
exactly the fresh reset of its seed, however many ticks passed between `begin_episode` and the
recording (the recorder's file opening; a policy's inference speed) and whatever the goal source sent
meanwhile. `end_episode` has the operator put the leaders back at the start pose, as a person does
while the recorder drives the followers there.

Any source of follower goals works the same way (the leader map for teleop, waypoints, a policy):
`write_and_read_followers` takes joint goals, whoever made them; `begin_episode` places the objects
and `success(tick_extras())` labels a rollout by the task's top reward at its last step.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from demoforge.collect import calibration as cal
from demoforge.collect.arm import ArmBus
from demoforge.collect.errors import HardwareError
from demoforge.collect.loop_timing import Clock, SteppedClock
from demoforge.collect.sim.cameras import SimCamera, open_cameras
from demoforge.collect.sim.operator_faults import BUMP_JOINT, BUMP_TORQUE, EpisodeFaults
from demoforge.collect.virtual_faults import PlannedFault
from demoforge.collect.virtual_rig import VirtualChains, start_virtual_chains
from demoforge.schemas import episode_layout as L
from demoforge.schemas.errors import ConfigError, UserError
from demoforge.schemas.rig import Rig

SIM_FAULTS = ("pause", "slow", "hesitant", "drop", "freeze", "limit", "miss", "short", "long")


@dataclass(frozen=True)
class _LeaderBus:
    port: str
    joints: slice  # this arm's joints in the rig's joint vector
    joint_of_motor: np.ndarray  # (M,) index into the joint vector, per motor (shadows included)
    conv: cal.Converter  # (M,) ticks <-> joint units
    ids: tuple[int, ...]  # (M,) motor ids


class LeaderHand:
    """Joint values -> the emulated leader motors' mechanical ticks, per leader port."""

    def __init__(self, rig: Rig) -> None:
        self.buses: list[_LeaderBus] = []
        k = 0
        for arm in rig.arms:
            motors = cal.motor_ids(arm, "leader")
            side = cal.identity(arm).leader  # emulated leaders are built with the identity calibration
            self.buses.append(
                _LeaderBus(
                    arm.leader.port,
                    slice(k, k + len(arm.joints)),
                    np.array([k + arm.joints.index(j) for j, _, _ in motors]),
                    cal.Converter.of([side[i] for _, i, _ in motors]),
                    tuple(i for _, i, _ in motors),
                )
            )
            k += len(arm.joints)

    def ticks(self, q: np.ndarray) -> list[tuple[str, dict[int, float]]]:
        """Per port, where a hand holding the leader at joint values q puts each motor."""
        out = []
        for b in self.buses:
            t = b.conv.zero + q[b.joint_of_motor] * b.conv.scale
            out.append((b.port, dict(zip(b.ids, t.tolist(), strict=True))))
        return out

    def quantize(self, q: np.ndarray) -> np.ndarray:
        """What reading the leaders back gives for joint values q: whole ticks of each first motor."""
        out = np.array(q, np.float64)
        for b in self.buses:
            first = np.unique(b.joint_of_motor, return_index=True)[1]
            z, s = b.conv.zero[first], b.conv.scale[first]
            out[b.joints] = (np.rint(z + q[b.joints] * s) - z) / s
        return out


class SimHardware:
    """A simulated rig (see the module docstring).

    `leader="direct"` skips the emulated buses and returns what they would read (the operator's
    joint values rounded to whole encoder ticks): the same trajectory, for benchmarks over hundreds
    of episodes (tests/collect/test_sim.py checks the two agree tick for tick).
    """

    def __init__(self, rig: Rig, *, leader: str = "emulated") -> None:
        if leader not in ("emulated", "direct"):
            raise ValueError(f"leader must be 'emulated' or 'direct', not {leader!r}")
        self.leader_mode = leader
        if rig.simulation is None:
            raise ConfigError(f"rig {rig.name} has no [simulation] table", "use a sim-* rig")
        if len(rig.joint_names) != 14:
            raise ConfigError(
                f"rig {rig.name}: a gym-aloha simulation has 14 joints (2 x 6 + grippers), the rig has "
                f"{len(rig.joint_names)}",
                "start from the shipped sim-transfer-cube rig",
            )
        self.rig = rig
        self.sim = rig.simulation
        self.n_joints = 14
        self.scene: Any = None
        self.chains: VirtualChains | None = None
        self.leaders: list[ArmBus] = []
        self.cameras: dict[str, Any] = {}
        self._renderers: Any = None
        self.hand = LeaderHand(rig)
        self.operator: Any = None
        self.faults = EpisodeFaults()
        self.episode_t0 = 0.0  # sim time of the last reset
        self._t_offset = 0.0  # sim time before the last reset: the clock never runs backwards
        self._script_t = 0.0  # the operator's own time (faults slow or stop it)
        self._extras: dict[str, float] = {L.REWARD: 0.0}
        self._pending: tuple[int, list[PlannedFault]] | None = None
        self._applied = threading.Event()
        self._park = False  # between episodes: the scene is reset every tick
        self._lock = threading.Lock()
        self._bump_dof = -1
        self.last_goal = np.asarray(rig.start_pose, np.float64)  # where the operator put the leaders
        self.timing = dict.fromkeys(("leader_s", "render_s", "physics_s", "ticks"), 0.0)  # since the reset

    # -- opening -------------------------------------------------------------------------------------

    def open(self) -> SimHardware:
        from demoforge.collect.sim.scene import SimScene

        try:
            self.scene = SimScene(self.sim.task)
            self.scene.reset(self.sim.seed)
            self.episode_t0 = 0.0
            mj, model = self.scene.mj, self.scene.model
            self._bump_dof = int(model.jnt_dofadr[mj.mj_name2id(model, mj.mjtObj.mjOBJ_JOINT, BUMP_JOINT)])
            if self.leader_mode == "emulated":
                self.chains = start_virtual_chains(self.rig, operator=False)
                self._move_leaders(self.scene.qpos())
                for arm in self.rig.arms:
                    self.leaders.append(ArmBus(arm, "leader", cal.identity(arm)).open())
            self.cameras, self._renderers = open_cameras(
                self.rig.cameras, mj, model, shadows=self.sim.shadows, reflections=self.sim.reflections
            )
        except BaseException:
            self.close()
            raise
        return self

    def close(self, rest: bool | None = None) -> None:
        """Release the leaders and the renderers (the simulated followers need no rest)."""
        for bus in self.leaders:
            with contextlib.suppress(Exception):
                bus.close()
        if self.chains is not None:
            with contextlib.suppress(Exception):
                self.chains.stop()
        if self._renderers is not None:
            self._renderers.close()
        self.leaders, self.chains, self._renderers, self.cameras = [], None, None, {}

    def __enter__(self) -> SimHardware:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def make_clock(self) -> Clock:
        return SteppedClock(self.now)

    def now(self) -> float:
        """Simulated seconds since the hardware opened (never runs backwards across resets)."""
        return round(self._t_offset + self.scene.time, 9)  # whole ticks, not float drift from 2 ms substeps

    # -- episodes ------------------------------------------------------------------------------------

    def begin_episode(self, index: int, ticks: int, faults: list[PlannedFault] | None = None) -> None:
        """Park the scene on episode `index`'s reset from the next tick on (the control thread resets it
        every tick) until its first recorded tick starts it (`start_recording`); wait for the first."""
        self._applied.clear()
        with self._lock:
            self._pending = (index, list(faults or []))
        if not self._applied.wait(timeout=60.0):
            raise HardwareError("the simulation did not reset within 60 s", "is the control loop running?")

    def start_recording(self) -> None:
        """The control loop's first recorded tick is starting (its thread, before `read_leaders`): the
        episode `begin_episode` parked on starts now, from its fresh reset, rendered (a parked tick's
        frames carry read noise that depends on how many parked ticks ran)."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self.reset_now(*pending)
            self._render()  # the frames the first goal is decided on: the fresh reset's

    def reset_now(self, index: int, faults: list[PlannedFault] | None = None) -> None:
        """Reset at once (no control loop: benchmarks and tests drive ticks themselves)."""
        from demoforge.collect.sim.scripted_operator import ScriptedOperator

        self._t_offset += self.scene.time
        self.scene.reset(self.sim.seed + index)
        self._park = False
        self.episode_t0 = self.now()
        self.faults = EpisodeFaults(list(faults or []))
        self.operator = ScriptedOperator(self.scene, miss=self.faults.miss)
        self._script_t = 0.0
        for cam in self.cameras.values():
            cam.noise.restart(self.sim.seed + index)  # the episode's frames, not the frames before it
            cam.drop = self._absolute(self.faults.camera_spans("drop", cam.name))
            cam.freeze = self._absolute(self.faults.camera_spans("freeze", cam.name))
        self._extras = {L.REWARD: 0.0}
        self.timing = dict.fromkeys(self.timing, 0.0)

    def end_episode(self) -> None:
        """The recording stopped: the operator puts the leaders back at the start pose, and until the
        next episode begins the scene is reset every tick, as gym-aloha resets between episodes: the
        followers wait at the start pose, whatever the last episode left (a gripper squeezed shut
        until its fingers jam, an arm pressed on the table by a policy) and whatever they are sent."""
        self.operator = None
        with self._lock:
            self._park = True

    def _absolute(self, spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(self.episode_t0 + a, self.episode_t0 + b) for a, b in spans]

    def fault_spans(self) -> list[tuple[PlannedFault, float, float]]:
        """This episode's faults with their spans in clock time (the recorder makes them episode time)."""
        return [(f, *self._absolute([self.faults.span(f)])[0]) for f in self.faults.faults]

    def success(self, extras: dict[str, float]) -> int | None:
        """1 when the last tick's reward is the task's top reward (not "reached once"), else 0."""
        if L.REWARD not in extras:
            return None
        return int(extras[L.REWARD] >= self.scene.spec.top_reward)

    # -- per tick ------------------------------------------------------------------------------------

    def operator_goal(self) -> np.ndarray:
        """Where the operator's hand puts the leaders now, in joint units."""
        op = self.operator  # end_episode() may clear it from the recorder's thread
        if op is None:
            return np.asarray(self.rig.start_pose, np.float64)
        return op(self._script_t)

    def advance_operator(self) -> None:
        """The operator's clock moves one control period (slower or not at all under a fault)."""
        t = self.now() - self.episode_t0
        self._script_t += self.scene.period * self.faults.operator_rate(t)

    def _move_leaders(self, q: np.ndarray) -> None:
        assert self.chains is not None
        for port, ticks in self.hand.ticks(q):
            self.chains.move(port, ticks)

    def read_leaders(self) -> np.ndarray:
        with self._lock:
            pending = self._pending
        if pending is not None:  # parked on the next episode's reset until its recording starts
            self._t_offset += self.scene.time
            self.scene.reset(self.sim.seed + pending[0])
            self.operator = None  # the leaders at the start pose until the episode starts
            self._applied.set()
        elif self._park:
            self._t_offset += self.scene.time
            self.scene.reset(self.sim.seed if self.scene.seed is None else self.scene.seed)
        t0 = time.perf_counter()
        self.last_goal = self.operator_goal()
        if self.leader_mode == "direct":
            out = self.hand.quantize(self.last_goal)
        else:
            self._move_leaders(self.last_goal)
            out = np.empty(self.n_joints)
            k = 0
            for bus in self.leaders:
                q, _, _ = bus.read()
                out[k : k + len(q)] = q
                k += len(q)
        self.timing["leader_s"] += time.perf_counter() - t0
        return out

    def write_and_read_followers(self, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        state = self.read_followers()
        t0 = time.perf_counter()
        self._render()
        t1 = time.perf_counter()
        t = self.now() - self.episode_t0
        self.scene.data.qfrc_applied[self._bump_dof] = BUMP_TORQUE if self.faults.active("limit", t) else 0.0
        reward = self.scene.step(goal)
        self.timing["render_s"] += t1 - t0
        self.timing["physics_s"] += time.perf_counter() - t1
        self.timing["ticks"] += 1
        self._extras = {L.REWARD: reward}
        if self.operator is not None:
            self.advance_operator()
        return state

    def _render(self) -> None:
        t = self.now()
        for cam in self.cameras.values():
            cam.capture(self.scene.data, t)

    def read_followers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.scene
        return s.qpos(), s.qvel(), s.effort()

    def tick_extras(self) -> dict[str, float]:
        return dict(self._extras)

    def latest_frames(self) -> dict[str, Any]:
        return {name: cam.latest() for name, cam in self.cameras.items()}

    def check_cameras(self) -> None:
        """Rendered cameras cannot stall."""

    def device_datasets(self) -> list[str]:
        return []  # rendered frames carry no device clock or counter of their own

    def camera_infos(self) -> list[L.CameraInfo]:
        out = []
        for cfg in self.rig.cameras:
            cam: SimCamera = self.cameras[cfg.name]
            info = cam.info()
            out.append(
                L.CameraInfo(
                    cfg.name, "sim", info["serial"], cfg.width, cfg.height, cfg.fps, info["intrinsics"]
                )
            )
        return out

    def hold_followers(self, reason: UserError) -> None:
        """A stopped loop stops stepping the physics: the simulated arms hold where they are."""

    def validate_faults(self, faults: list[PlannedFault]) -> None:
        for f in faults:
            if f.kind not in SIM_FAULTS:
                raise ConfigError(
                    f"--inject {f.describe()}: not a fault of simulated rigs",
                    f"use one of: {', '.join(SIM_FAULTS)}",
                )
            if f.kind in ("drop", "freeze") and f.target not in {c.name for c in self.rig.cameras}:
                raise ConfigError(
                    f"--inject {f.describe()}: no camera {f.target!r}",
                    f"name one: {', '.join(c.name for c in self.rig.cameras) or '(no cameras: --no-render)'}",
                )
