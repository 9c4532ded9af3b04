"""The hardware seam of the control loop, and RigHardware: every device of a rig opened together.

The control loop and the recorder talk to a `Hardware` and nothing below it: one `read_leaders()`,
one `write_and_read_followers()` and one `latest_frames()` per tick, joint vectors ordered as
`Rig.joint_names`. `RigHardware` is real buses and cameras (or the virtual rig's emulated ones);
`demoforge.collect.sim.hardware.SimHardware` is a simulated follower pair with rendered cameras.
`open_hardware(rig)` picks the one the rig describes.

RigHardware: every check of the motors happens in `open` (see `arm.ArmBus.open`), never per tick.

Holding where the followers are (goal = present position, torque on, no further goals) is one API for
every reason: a follower's own checks (effort above a joint's limit, a motor near its temperature
limit) hold it from the control thread; a stop key or a watchdog on another thread calls
`request_hold(reason)` and the next tick holds them; `request_resume()` lets them take goals again.
Each tick records whether they held (`/observations/held`), and the reasons reach the operator through
`take_events` (the control loop's warnings).

Closing is a safe shutdown: followers whose bus still works go to the rest pose at the speed limit
and then turn torque off; leaders turn torque off. A follower whose own bus failed is left holding
(torque off would drop it, and nothing can be sent to it); so is a follower holding (see above).
While open, SIGTERM (`kill`, a service manager stopping the program) is turned into
KeyboardInterrupt, so the shutdown runs then too.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import numpy as np

from demoforge.collect import calibration as cal
from demoforge.collect.arm import ArmBus
from demoforge.collect.cameras import Camera, Frame, open_camera
from demoforge.collect.errors import HardwareError
from demoforge.collect.loop_timing import Clock, DeadlineClock
from demoforge.collect.teleop import LeaderFollowerMap, disagreement, ramp, speed_limits
from demoforge.collect.virtual_rig import VirtualChains, start_virtual_chains
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_layout import CameraInfo
from demoforge.schemas.errors import UserError
from demoforge.schemas.rig import Rig


class Hardware(Protocol):
    """What the control loop and the recorder need from a rig's devices."""

    rig: Rig
    n_joints: int
    cameras: dict[str, Camera]

    def open(self) -> Any: ...
    def close(self) -> None: ...
    def make_clock(self) -> Clock: ...  # the clock the control loop runs on
    def read_leaders(self) -> np.ndarray: ...  # (J,)
    def write_and_read_followers(self, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    def read_followers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
    def latest_frames(self) -> dict[str, Frame | None]: ...
    def check_cameras(self) -> None: ...
    def camera_infos(self) -> list[CameraInfo]: ...
    def device_datasets(self) -> list[str]: ...  # optional per-camera datasets the cameras fill
    def hold_followers(self, reason: UserError) -> None: ...
    def tick_extras(self) -> dict[str, float]: ...  # optional per-tick datasets (sim: the reward)
    def begin_episode(self, index: int, ticks: int, faults: list[Any] | None = None) -> None: ...
    def end_episode(self) -> None: ...  # the recording of the episode stopped
    # the episode's success label from its last tick's extras; None: the rig has no opinion
    def success(self, extras: dict[str, float]) -> int | None: ...


def open_hardware(rig: Rig, *, line: str = "ideal") -> Hardware:
    """The hardware a rig describes: a simulation for a `[simulation]` table, else buses and cameras."""
    if rig.simulation is not None:
        from demoforge.collect.sim.hardware import SimHardware

        return SimHardware(rig)
    return RigHardware(rig, line=line)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def is_emulated(rig: Rig) -> bool:
    return any(getattr(a, s).port.startswith("emulator:") for a in rig.arms for s in ("leader", "follower"))


class RigHardware:
    """Opens and closes a rig's devices; on any failure while opening, closes what was opened."""

    def __init__(
        self,
        rig: Rig,
        *,
        line: str = "ideal",
        camera_factory: Callable[[Any], Camera] = open_camera,
        parallel_buses: bool | None = None,
    ) -> None:
        self.rig = rig
        self.line = line  # emulated bus timing: "ideal", "1M" or "4M"
        self.camera_factory = camera_factory
        self.chains: VirtualChains | None = None
        self.leaders: list[ArmBus] = []
        self.followers: list[ArmBus] = []
        self.cameras: dict[str, Camera] = {}
        self.notes: list[str] = []  # what the checks at open found that does not stop the run
        self.shutdown_problems: list[str] = []  # what `rest` could not do at close
        self._sigterm: Any = None  # the SIGTERM handler to restore at close
        self._slices: list[slice] = []
        # ("hold", reason) or ("resume", ""), set from any thread, applied by the next tick (`request_hold`)
        self._hold_request: tuple[str, str] | None = None
        k = 0
        for arm in rig.arms:
            self._slices.append(slice(k, k + len(arm.joints)))
            k += len(arm.joints)
        self.n_joints = k
        self._speeds = speed_limits(rig)  # (J,) rad/s (grippers: strokes/s): Profile Velocity at open
        # One worker per arm: serial lines wait in parallel (bench_bus: 4 arms at 1 Mbit/s take 19 ms a
        # tick one after another, 6 ms side by side). A single arm gains nothing from a thread hop.
        if parallel_buses is None:
            parallel_buses = len(rig.arms) > 1
        self._pool = ThreadPoolExecutor(len(rig.arms), thread_name_prefix="bus") if parallel_buses else None

    def open(self) -> RigHardware:
        if threading.current_thread() is threading.main_thread():
            self._sigterm = signal.signal(signal.SIGTERM, _interrupt)
        try:
            if is_emulated(self.rig):
                self.chains = start_virtual_chains(self.rig, line=self.line, operator=True)
            for arm in self.rig.arms:
                calibration = cal.for_arm(self.rig, arm)
                self.leaders.append(ArmBus(arm, "leader", calibration).open())
                follower = ArmBus(
                    arm,
                    "follower",
                    calibration,
                    gripper_current_ma=self.rig.safety.gripper_current_ma,
                    speed_limits=self._speeds[self._slices[len(self.followers)]],
                    effort_hold_ticks=self.rig.safety.effort_hold_ticks,
                ).open()
                self.followers.append(follower)
                follower.set_modes()
                follower.torque(True)
                self.notes += follower.notes
            for cfg in self.rig.cameras:
                cam = self.camera_factory(cfg)
                self.cameras[cfg.name] = cam
                cam.start()
        except BaseException:
            self.close()
            raise
        return self

    def make_clock(self) -> Clock:
        return DeadlineClock(self.rig.fps)

    def begin_episode(self, index: int, ticks: int, faults: list[Any] | None = None) -> None:
        """Nothing to set up: a person resets a real scene (planted faults go through the injector)."""

    def end_episode(self) -> None:
        """Nothing to do: a person puts the leaders back."""

    def success(self, extras: dict[str, float]) -> int | None:
        return None  # a person labels real episodes

    # -- per tick ----------------------------------------------------------------------------------

    def tick_extras(self) -> dict[str, float]:
        """Per tick: whether any follower was holding where it was (`hold_here`) instead of taking goals."""
        return {L.HELD: float(any(f.held_here is not None for f in self.followers))}

    # -- holding where the arm is (a stop key, an effort limit, a hot motor) ---------------------------

    def request_hold(self, reason: str) -> None:
        """From any thread (a stop key, a policy watchdog): the next control tick, instead of sending its
        goal, holds every follower where it is (`hold_here`), within one period. The buses are used
        only from the control thread, so this is the way to hold while the control loop runs."""
        self._hold_request = ("hold", reason)

    def request_resume(self) -> None:
        """From any thread: the next control tick lets the followers take goals again (`resume_followers`);
        the goal source should restart from the measured position."""
        self._hold_request = ("resume", "")

    def hold_here(self, reason: str) -> None:
        """Every follower holds where it is now (goal = present position, torque on) and takes no goals
        until `resume_followers`; a follower that already holds keeps its first reason. Bus I/O on the
        calling thread: only while the control loop is not running (else `request_hold`)."""
        for follower in self.followers:
            if follower.fault is None and follower.held_here is None:
                follower.hold_here(reason)

    def holding(self) -> list[str]:
        """Why each holding follower holds (empty: none holds)."""
        return [f.held_here for f in self.followers if f.held_here is not None]

    def resume_followers(self) -> None:
        """Followers take goals again; the goal source must restart from their measured position."""
        for follower in self.followers:
            follower.resume()

    def take_events(self) -> list[str]:
        """Holds and motor warnings since the last call (effort, temperature, voltage), for the operator."""
        return [e for f in self.followers for e in f.take_events()]

    def motor_health(self) -> str:
        """One line: the hottest follower motor and the input voltage range, per arm ('' before a reading)."""
        parts = [f"{f.name} {line}" for f in self.followers if (line := f.health.summary(f.bus.ids))]
        return "; ".join(parts)

    def _each_arm(self, fn: Callable[[int], Any]) -> list[Any]:
        if self._pool is None:
            return [fn(i) for i in range(len(self._slices))]
        return [f.result() for f in [self._pool.submit(fn, i) for i in range(len(self._slices))]]

    def read_leaders(self) -> np.ndarray:
        out = np.empty(self.n_joints)
        for sl, (qpos, _, _) in zip(
            self._slices, self._each_arm(lambda i: self.leaders[i].read()), strict=True
        ):
            out[sl] = qpos
        return out

    def write_and_read_followers(self, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Send the goals, then read the followers' state: one worker per arm does both."""

        request, self._hold_request = self._hold_request, None  # taken once: a request is one event

        def arm(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            follower = self.followers[i]
            if request is not None and request[0] == "hold":
                if follower.held_here is None:
                    follower.hold_here(request[1])  # instead of this tick's goal
            elif request is not None:
                follower.resume()
            follower.write(goal[self._slices[i]])
            return follower.read()

        qpos, qvel, effort = (np.empty(self.n_joints) for _ in range(3))
        for sl, (q, v, e) in zip(self._slices, self._each_arm(arm), strict=True):
            qpos[sl], qvel[sl], effort[sl] = q, v, e
        return qpos, qvel, effort

    def read_followers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        qpos, qvel, effort = (np.empty(self.n_joints) for _ in range(3))
        for sl, (q, v, e) in zip(
            self._slices, self._each_arm(lambda i: self.followers[i].read()), strict=True
        ):
            qpos[sl], qvel[sl], effort[sl] = q, v, e
        return qpos, qvel, effort

    # -- the leaders to the start pose (as ALOHA does), outside recording -----------------------------

    def can_drive_leaders(self) -> bool:
        return all(bus.drivable() for bus in self.leaders)

    def drive_leaders(self, on: bool) -> None:
        """Leader torque on (holding where they are; then `write_leaders`) or off (for the operator)."""
        for bus in self.leaders:
            bus.torque(on)

    def write_leaders(self, goal: np.ndarray) -> None:
        self._each_arm(lambda i: self.leaders[i].write(goal[self._slices[i]]))

    def latest_frames(self) -> dict[str, Frame | None]:
        return {name: cam.latest() for name, cam in self.cameras.items()}

    def check_cameras(self) -> None:
        """Raise a HardwareError naming the first camera that stalled or failed."""
        for cam in self.cameras.values():
            cam.health().raise_if_bad()

    def device_datasets(self) -> list[str]:
        """The optional per-camera datasets this rig's cameras fill (device clock and counter)."""
        out = []
        for name, cam in self.cameras.items():
            if cam.device_clock:
                out.append(L.device_time_path(name))
            if cam.device_counter:
                out.append(L.device_index_path(name))
        return out

    def camera_infos(self) -> list[CameraInfo]:
        out = []
        for cfg in self.rig.cameras:
            info = self.cameras[cfg.name].info() if cfg.name in self.cameras else {}
            out.append(
                CameraInfo(
                    name=cfg.name,
                    type=cfg.type,
                    serial=str(info.get("serial", cfg.serial)),
                    width=cfg.width,
                    height=cfg.height,
                    fps=float(info.get("fps", cfg.fps)),
                    intrinsics=dict(info.get("intrinsics") or {}),
                )
            )
        return out

    # -- safety ------------------------------------------------------------------------------------

    def hold_followers(self, reason: UserError) -> None:
        """Send the followers nothing more (they keep their last goal, torque on), e.g. before handing
        the arms to someone. The control loop does not call this on a fault: a follower whose bus
        raised is already held by its `ArmBus`, and the others stay usable for the safe shutdown in
        `close`."""
        fault = reason if isinstance(reason, HardwareError) else HardwareError(reason.message, reason.hint)
        for bus in self.followers:
            bus.hold(fault)

    def rest(self, timeout_s: float = 5.0) -> list[str]:
        """Followers whose bus works to the rest pose at the speed limit, then torque off; leaders torque
        off. Returns what could not be done (one line per arm), for the operator."""
        problems: list[str] = []
        if not self.rig.safety.rest_on_exit:
            return problems
        step = LeaderFollowerMap(self.rig).step
        pose = np.asarray(self.rig.rest_pose)
        clock = DeadlineClock(self.rig.fps)
        for i, follower in enumerate(self.followers):
            if follower.fault is not None:
                problems.append(f"{follower.name}: left holding its pose ({follower.fault.message})")
                continue
            if follower.held_here is not None:  # a safety hold: torque off would drop it where it stopped
                problems.append(f"{follower.name}: left holding where it stopped ({follower.held_here})")
                continue
            sl = self._slices[i]
            try:
                qpos = follower.read()[0]
                for waypoint in ramp(qpos, pose[sl], step[sl]):
                    clock.wait()
                    follower.write(waypoint)
                deadline = time.monotonic() + timeout_s
                while disagreement(follower.read()[0], pose[sl], 0.05) and time.monotonic() < deadline:
                    clock.wait()
                follower.torque(False)
            except HardwareError as e:
                problems.append(f"{follower.name}: {e.message}")
        for leader in self.leaders:
            if leader.fault is None:
                with contextlib.suppress(HardwareError):
                    leader.torque(False)
        return problems

    def close(self) -> None:
        """Stop cameras, rest the followers and turn torque off (`rest`), release the buses, stop the
        emulator."""
        for cam in self.cameras.values():
            with contextlib.suppress(Exception):
                cam.stop()
        with contextlib.suppress(Exception):
            self.shutdown_problems = self.rest()
        for bus in self.leaders + self.followers:
            with contextlib.suppress(Exception):
                bus.close()
        if self.chains is not None:
            with contextlib.suppress(Exception):
                self.chains.stop()
        self.cameras, self.leaders, self.followers, self.chains = {}, [], [], None
        if self._sigterm is not None:
            signal.signal(signal.SIGTERM, self._sigterm)
            self._sigterm = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def __enter__(self) -> RigHardware:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
