"""RigHardware: every device of a rig opened together (buses, cameras, and the emulator for a virtual rig).

The control loop talks to this and nothing below it: one `read_leaders()`, one
`write_and_read_followers()` and one `latest_frames()` per tick, joint vectors ordered as
`Rig.joint_names`. Every check of the motors happens in `open` (see `arm.ArmBus.open`), never per tick.

Closing is a safe shutdown: followers whose bus still works go to the rest pose at the speed limit
and then turn torque off; leaders turn torque off. A follower whose own bus failed is left holding
(torque off would drop it, and nothing can be sent to it). While open, SIGTERM (`kill`, a service
manager stopping the program) is turned into KeyboardInterrupt, so the shutdown runs then too.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from demoforge.collect import calibration as cal
from demoforge.collect.arm import ArmBus
from demoforge.collect.cameras import Camera, Frame, open_camera
from demoforge.collect.errors import HardwareError
from demoforge.collect.loop_timing import DeadlineClock
from demoforge.collect.teleop import LeaderFollowerMap, disagreement, ramp
from demoforge.collect.virtual_rig import VirtualChains, start_virtual_chains
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_layout import CameraInfo
from demoforge.schemas.errors import UserError
from demoforge.schemas.rig import Rig


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
        k = 0
        for arm in rig.arms:
            self._slices.append(slice(k, k + len(arm.joints)))
            k += len(arm.joints)
        self.n_joints = k
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
                    arm, "follower", calibration, gripper_current_ma=self.rig.safety.gripper_current_ma
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

    # -- per tick ----------------------------------------------------------------------------------

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

        def arm(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            self.followers[i].write(goal[self._slices[i]])
            return self.followers[i].read()

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
