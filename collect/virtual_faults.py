"""Planned faults for recordings on the virtual rig: the defects the quality checks exist to catch.

`demoforge record --rig virtual --inject SPEC` plants them at known times, so a dataset recorded
through the real loop carries real pauses, dropped or frozen frames and unplugged devices.

SPEC is `KIND[.TARGET]@EPISODE:START[+DURATION]`, times in seconds of episode time:

    pause@1:1.5+1.2           the operator holds the leaders still in episode_1 from 1.5 s for 1.2 s
    drop.cam_high@2:2+0.3     cam_high drops 0.3 s of frames in episode_2 (the counter jumps)
    freeze.cam_wrist@3:1+0.5  the image stops changing while the counter runs on
    black.cam_high@3:0.5+0.2  all-black frames (lens cap, exposure failure)
    stall.cam_high@4:1        the camera stops delivering: the episode stops, the rest is kept
    gone.follower_left.2@4:1  motor 2 on the bus `emulator:follower_left` stops answering

A camera fault without a target hits the rig's first camera.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from demoforge.schemas.errors import ConfigError

CAMERA_FAULTS = ("drop", "freeze", "black", "stall")
KINDS = ("pause", *CAMERA_FAULTS, "gone")
_SPEC = re.compile(
    r"^(?P<kind>[a-z]+)(?:\.(?P<target>[A-Za-z0-9_]+(?:\.[0-9]+)?))?@(?P<ep>[0-9]+):(?P<start>[0-9.]+)"
    r"(?:\+(?P<dur>[0-9.]+))?$"
)
EXAMPLE = "e.g. pause@1:1.5+1.2 or drop.cam_high@2:2+0.3"


@dataclass(frozen=True)
class PlannedFault:
    kind: str
    episode: int  # the episode file number, episode_<i>.hdf5
    start: float  # s of episode time
    duration: float = 0.0
    target: str = ""  # camera name, or "<bus>.<motor id>" for `gone`

    def describe(self) -> str:
        what = f"{self.kind}{'.' + self.target if self.target else ''}"
        return f"{what} at {self.start:g} s" + (f" for {self.duration:g} s" if self.duration else "")


def parse_fault(spec: str) -> PlannedFault:
    """Parse one `--inject` SPEC (see the module docstring)."""
    m = _SPEC.match(spec.strip())
    if m is None:
        raise ConfigError(f"--inject {spec!r}: not KIND[.TARGET]@EPISODE:START[+DURATION]", EXAMPLE)
    kind, target = m["kind"], m["target"] or ""
    if kind not in KINDS:
        raise ConfigError(f"--inject {spec!r}: unknown fault {kind!r}", f"use one of: {', '.join(KINDS)}")
    try:
        start = float(m["start"])
        duration = float(m["dur"]) if m["dur"] else 0.0
    except ValueError:
        raise ConfigError(f"--inject {spec!r}: START and DURATION must be numbers", EXAMPLE) from None
    if kind in ("pause", "drop", "freeze", "black") and duration <= 0:
        raise ConfigError(f"--inject {spec!r}: {kind} needs a duration", f"add +SECONDS, {EXAMPLE}")
    if kind == "pause" and target:
        raise ConfigError(f"--inject {spec!r}: pause takes no target", "write pause@EPISODE:START+SECONDS")
    if kind == "gone" and not re.fullmatch(r"[A-Za-z0-9_]+\.[0-9]+", target):
        raise ConfigError(f"--inject {spec!r}: gone needs BUS.MOTOR_ID", "e.g. gone.follower_left.2@4:1")
    return PlannedFault(kind, int(m["ep"]), start, duration, target)


class FaultInjector:
    """Applies planned faults to a running virtual rig, each once, when its episode time comes."""

    def __init__(self, faults: list[PlannedFault]) -> None:
        self.faults = list(faults)
        self.applied: list[tuple[int, PlannedFault]] = []

    def validate(self, hw: Any) -> None:
        """Fail before recording when a fault names a camera or bus this rig does not have."""
        if self.faults and hw.chains is None:
            raise ConfigError("--inject needs a virtual rig (emulated buses)", "use --rig virtual")
        for f in self.faults:
            if f.kind in CAMERA_FAULTS:
                cam = self._camera(hw, f)
                if not hasattr(cam, "faults"):
                    raise ConfigError(
                        f"--inject {f.describe()}: camera {cam.name} is not synthetic",
                        "camera faults need the virtual rig's synthetic cameras",
                    )
            elif f.kind == "gone":
                bus = "emulator:" + f.target.rsplit(".", 1)[0]
                if bus not in hw.chains.paths:
                    raise ConfigError(
                        f"--inject {f.describe()}: no bus {bus}",
                        f"buses: {', '.join(p.split(':', 1)[1] for p in hw.chains.paths)}",
                    )

    def _camera(self, hw: Any, f: PlannedFault) -> Any:
        if not hw.cameras:
            raise ConfigError(f"--inject {f.describe()}: the rig has no camera", "remove the camera fault")
        name = f.target or next(iter(hw.cameras))
        if name not in hw.cameras:
            raise ConfigError(
                f"--inject {f.describe()}: no camera {name!r}", f"cameras: {', '.join(hw.cameras)}"
            )
        return hw.cameras[name]

    def step(self, hw: Any, episode: int, t: float) -> None:
        """Apply the faults of `episode` whose start time `t` has reached."""
        for f in self.faults:
            if f.episode == episode and t >= f.start and (episode, f) not in self.applied:
                self.applied.append((episode, f))
                self._apply(hw, f)

    def _apply(self, hw: Any, f: PlannedFault) -> None:
        from demoforge.collect.cameras import SyntheticFaults

        if f.kind == "pause":
            for arm in hw.rig.arms:
                if arm.leader.port in hw.chains.paths:
                    hw.chains.pause_operator(arm.leader.port, f.duration)
        elif f.kind == "gone":
            bus, motor = f.target.rsplit(".", 1)
            hw.chains.inject("emulator:" + bus, int(motor), "gone")
        else:
            cam = self._camera(hw, f)
            frame = cam.latest()
            first = (frame.index if frame is not None else 0) + 1
            span = range(first, first + max(1, round(f.duration * cam.fps)))
            cam.faults = SyntheticFaults(
                drop=(span,) if f.kind == "drop" else (),
                freeze=(span,) if f.kind == "freeze" else (),
                black=(span,) if f.kind == "black" else (),
                stall_from=first if f.kind == "stall" else None,
            )
