"""Planted faults in a simulated episode, in simulated time since the scene's reset.

The operator's faults warp the scripted operator's clock: a pause stops it, a slow operator runs
it at `SLOW_RATE`, a hesitant one stops and goes (`HESITATE_STOP_S` still, `HESITATE_GO_S` moving),
each stop long enough for the pause check. A miss moves the grasp `MISS_M` sideways so the grasp
fails. A bump pushes the left forearm past its limit with `BUMP_TORQUE`. Camera drops and freezes
are applied by the cameras (see cameras.py) over the spans given here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from demoforge.collect.virtual_faults import PlannedFault

SLOW_RATE = 0.3  # a slow operator moves at 0.3x: the dataset's speed-outlier check sees < median / 2
HESITATE_STOP_S, HESITATE_GO_S = 0.8, 0.4  # stops longer than the pause check's 0.5 s
MISS_M = 0.045  # the right hand grasps this far to the side of the object: the fingers close on air
BUMP_TORQUE = 80.0  # N m on the forearm roll (kp 10, friction 30 N m): past its +-2.0 rad rig limit
BUMP_JOINT = "vx300s_left/forearm_roll"


@dataclass
class EpisodeFaults:
    """The faults of one episode, each with its span [start, end) in s since the reset."""

    faults: list[PlannedFault] = field(default_factory=list)

    def span(self, f: PlannedFault) -> tuple[float, float]:
        return f.start, f.start + f.duration

    def active(self, kind: str, t: float, target: str = "") -> bool:
        return any(
            f.kind == kind and (not target or f.target == target) and f.start <= t < f.start + f.duration
            for f in self.faults
        )

    @property
    def miss(self) -> float:
        return MISS_M if any(f.kind == "miss" for f in self.faults) else 0.0

    def operator_rate(self, t: float) -> float:
        """How fast the operator's script advances at time t (1 = as planned)."""
        if self.active("pause", t):
            return 0.0
        for f in self.faults:
            if f.kind == "hesitant" and f.start <= t < f.start + f.duration:
                phase = (t - f.start) % (HESITATE_STOP_S + HESITATE_GO_S)
                return 0.0 if phase < HESITATE_STOP_S else 1.0
        return SLOW_RATE if self.active("slow", t) else 1.0

    def camera_spans(self, kind: str, camera: str) -> list[tuple[float, float]]:
        return [self.span(f) for f in self.faults if f.kind == kind and f.target == camera]
