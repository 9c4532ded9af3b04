"""Planned faults for recordings on the virtual and simulated rigs: the defects the quality checks
exist to catch, with their ground truth.

`demoforge record --rig virtual --inject SPEC` plants them at known times, so a dataset recorded
through the real loop carries real pauses, dropped or frozen frames and unplugged devices. After
each episode the truth goes to `faults.json` beside the episodes (never into the episode files):
file, kind, target, the check id the validator should raise, and start/end in episode seconds.

SPEC is `KIND[.TARGET]@EPISODE:START[+DURATION]`, times in seconds of episode time:

    pause@1:1.5+1.2           the operator holds the leaders still in episode_1 from 1.5 s for 1.2 s
    drop.cam_high@2:2+0.3     cam_high drops 0.3 s of frames in episode_2 (the counter jumps)
    freeze.cam_wrist@3:1+0.5  the image stops changing while the counter runs on
    black.cam_high@3:0.5+0.2  all-black frames (lens cap, exposure failure)
    stall.cam_high@4:1        the camera stops delivering: the episode stops, the rest is kept
    gone.follower_left.2@4:1  motor 2 on the bus `emulator:follower_left` stops answering
    short@5:3                 episode_5 is cut short: it ends after 3 s (any rig)
    long@6:20                 episode_6 is dragged out to 20 s (any rig)

Simulated rigs (sim-*) take pause, drop, freeze, short, long and these, timed from the scene's
reset (a few ticks before the first recorded tick; faults.json holds the exact episode times):

    slow@1:0+8                the operator moves at 0.3x speed (a slow operator)
    hesitant@1:2+3            stop-and-go: 0.8 s still, 0.4 s moving, over 3 s
    limit@2:3+0.3             a bump pushes the left forearm roll past its joint limit
    miss@3:0                  the operator misses the grasp on purpose (a failure label)

A camera fault without a target hits the rig's first camera.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from demoforge.schemas.errors import ConfigError

CAMERA_FAULTS = ("drop", "freeze", "black", "stall")
LENGTH_FAULTS = ("short", "long")  # the recorder records START seconds instead of the episode time
SIM_ONLY = ("slow", "hesitant", "limit", "miss")
KINDS = ("pause", *CAMERA_FAULTS, "gone", *LENGTH_FAULTS, *SIM_ONLY)
# The check of `demoforge check` each kind must raise (quality/findings.py names them).
CHECK_OF = {
    "pause": "pause",
    "hesitant": "pause",
    "slow": "speed_outlier",
    "drop": "frame_drop",
    "freeze": "frozen_frame",
    "black": "dark_frame",
    "stall": "integrity",  # the episode stops and is kept incomplete
    "gone": "integrity",
    "limit": "joint_limit",
    "short": "length_outlier",
    "long": "length_outlier",
    "miss": "success_label",
}
WHOLE_EPISODE = ("slow", "miss", "short", "long", "stall", "gone")  # findings about the whole episode
FAULTS_FILE = "faults.json"
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
    if kind in ("pause", "drop", "freeze", "black", "slow", "hesitant", "limit") and duration <= 0:
        raise ConfigError(f"--inject {spec!r}: {kind} needs a duration", f"add +SECONDS, {EXAMPLE}")
    if kind in ("pause", *LENGTH_FAULTS, *SIM_ONLY) and target:
        raise ConfigError(f"--inject {spec!r}: {kind} takes no target", f"write {kind}@EPISODE:START...")
    if kind in LENGTH_FAULTS and (start <= 0 or duration):
        raise ConfigError(f"--inject {spec!r}: {kind} takes the new length", f"e.g. {kind}@3:4 (4 s long)")
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
        first_cam = next((c.name for c in hw.rig.cameras), "")
        self.faults = [
            replace(f, target=first_cam) if f.kind in CAMERA_FAULTS and not f.target else f
            for f in self.faults
        ]
        if hasattr(hw, "validate_faults"):  # a simulation schedules its faults itself, in sim time
            hw.validate_faults(self.faults)
            return
        if any(f.kind in SIM_ONLY for f in self.faults):
            kinds = ", ".join(sorted({f.kind for f in self.faults if f.kind in SIM_ONLY}))
            raise ConfigError(
                f"--inject {kinds}: only simulated rigs have these faults", "use --rig sim-transfer-cube"
            )
        if any(f.kind not in LENGTH_FAULTS for f in self.faults) and getattr(hw, "chains", None) is None:
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

    def for_episode(self, episode: int) -> list[PlannedFault]:
        return [f for f in self.faults if f.episode == episode]

    def episode_ticks(self, episode: int, ticks: int, fps: float) -> int:
        """Ticks to record: the episode time's, unless the episode is cut short or dragged out."""
        for f in self.for_episode(episode):
            if f.kind in LENGTH_FAULTS:
                ticks = max(1, round(f.start * fps))
        return ticks

    def step(self, hw: Any, episode: int, t: float) -> None:
        """Apply the faults of `episode` whose start time `t` has reached."""
        if hasattr(hw, "validate_faults"):
            return  # scheduled by the simulation
        for f in self.faults:
            if f.kind in LENGTH_FAULTS:
                continue
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


def fault_truth(
    file: str, f: PlannedFault, start_s: float, end_s: float, duration_s: float
) -> dict[str, Any]:
    """One `faults.json` entry; faults about the whole episode span it from 0 to its duration."""
    if f.kind in WHOLE_EPISODE:
        start_s, end_s = 0.0, duration_s
    return {
        "file": file,
        "kind": f.kind,
        "target": f.target,
        "check": CHECK_OF[f.kind],
        "start_s": round(max(0.0, start_s), 4),
        "end_s": round(min(max(end_s, start_s), duration_s), 4),
    }


def append_truth(dataset: Path, entries: list[dict[str, Any]]) -> Path:
    """Add entries to `faults.json` in the dataset folder (replacing older ones of the same files)."""
    path = dataset / FAULTS_FILE
    doc: dict[str, Any] = {"schema_version": 1, "faults": []}
    if path.exists():
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            raise ConfigError(
                f"{path} is damaged", "move it away; it is rewritten from the next episode on"
            ) from None
    files = {e["file"] for e in entries}
    doc["faults"] = [e for e in doc.get("faults", []) if e.get("file") not in files] + entries
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(path)
    return path
