"""The scripted operator: a person solving the task on the leader arms, as joint values per tick.

Per arm, a plan is a list of segments: by time `t_end` (s since the episode's reset) reach a tool
pose and a gripper opening. A segment's target is computed from the scene when the segment begins
(the person looks at where the objects are), or every tick for `track` segments (a small
closed-loop alignment, used to line the peg up with the socket). The pose is interpolated in
Cartesian space from the previous target with a smooth-step profile and solved with damped
least-squares IK, warm-started from the previous tick, so the leader moves along a smooth joint
trajectory starting at the start pose (whose forward kinematics give the first pose).

The gripper replayed is the commanded one: a gripper closed on an object measures ~0.6 open, and
replaying that would let go of the object.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from demoforge.collect.sim.ik import TOOL_OFFSET, ArmIK
from demoforge.collect.sim.scene import SimScene

Pose = tuple[np.ndarray, np.ndarray]  # tool position (3,), rotation (3, 3)
OPEN, CLOSED = 1.0, 0.0


@dataclass(frozen=True)
class Segment:
    t_end: float  # s since reset: the target is reached at this time
    target: Callable[[SimScene], Pose] | None  # None: stay where the previous segment ended
    gripper: float  # commanded opening, reached linearly over the segment
    track: bool = False  # re-evaluate the target every tick (closed loop)


def rot(approach: np.ndarray, fingers: np.ndarray) -> np.ndarray:
    """Gripper rotation: x along the approach direction, y along the finger travel."""
    x = approach / np.linalg.norm(approach)
    y = fingers - x * (fingers @ x)
    y /= np.linalg.norm(y)
    return np.column_stack([x, y, np.cross(x, y)])


def tilted(side: str, degrees: float) -> np.ndarray:
    """Pointing at the other arm, pitched `degrees` down, fingers closing along world y."""
    a = np.radians(degrees)
    sign = 1.0 if side == "left" else -1.0
    return rot(np.array([sign * np.cos(a), 0.0, -np.sin(a)]), np.array([0.0, sign, 0.0]))


def smoothstep(s: float) -> float:
    s = min(max(s, 0.0), 1.0)
    return s * s * (3 - 2 * s)


def slerp_rot(R0: np.ndarray, R1: np.ndarray, s: float) -> np.ndarray:
    """Rotation a fraction s of the way from R0 to R1 (about the fixed axis between them)."""
    Rd = R1 @ R0.T
    angle = np.arccos(np.clip((np.trace(Rd) - 1) / 2, -1.0, 1.0))
    if angle < 1e-9:
        return R1.copy()
    axis = np.array([Rd[2, 1] - Rd[1, 2], Rd[0, 2] - Rd[2, 0], Rd[1, 0] - Rd[0, 1]]) / (2 * np.sin(angle))
    if np.sin(angle) < 1e-6:  # 180 degrees: the axis is the eigenvector of Rd with eigenvalue 1
        w, v = np.linalg.eigh((Rd + Rd.T) / 2)
        axis = v[:, np.argmax(w)]
    K = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    th = s * angle
    return (np.eye(3) + np.sin(th) * K + (1 - np.cos(th)) * K @ K) @ R0


class ArmScript:
    """Follows one arm's segments; `at(t)` gives (6 joint values, gripper) at script time t."""

    def __init__(self, ik: ArmIK, q_start: np.ndarray, gripper_start: float, plan: list[Segment]) -> None:
        self.ik = ik
        self.plan = plan
        self.q = np.array(q_start, np.float64)
        self.pose0: Pose = ik.forward(self.q)  # where the current segment started
        self.target: Pose = self.pose0
        self.g0 = self.g = gripper_start
        self.t0 = 0.0
        self.k = -1  # current segment

    def at(self, t: float, scene: SimScene) -> tuple[np.ndarray, float]:
        while self.k + 1 < len(self.plan) and (self.k < 0 or t >= self.plan[self.k].t_end):
            self._begin(self.k + 1, max(t, self.plan[self.k].t_end if self.k >= 0 else 0.0), scene)
        seg = self.plan[self.k]
        if seg.track and seg.target is not None:
            self.target = seg.target(scene)
        s = (t - self.t0) / max(seg.t_end - self.t0, 1e-9)
        p = self.pose0[0] + smoothstep(s) * (self.target[0] - self.pose0[0])
        R = slerp_rot(self.pose0[1], self.target[1], smoothstep(s))
        self.q = self.ik.solve(self.q, p, R)
        g = self.g0 + min(max(s, 0.0), 1.0) * (seg.gripper - self.g0)
        return self.q.copy(), g

    def _begin(self, k: int, t: float, scene: SimScene) -> None:
        if self.k >= 0:
            self.pose0, self.g0 = self.target, self.plan[self.k].gripper
        self.k, self.t0 = k, t
        seg = self.plan[k]
        self.target = seg.target(scene) if seg.target is not None else self.pose0


# -- the tasks --------------------------------------------------------------------------------------


def _at(body: str, offset: tuple[float, float, float], R: np.ndarray) -> Callable[[SimScene], Pose]:
    return lambda scene: (scene.body_pose(body)[0] + np.asarray(offset), R)


def _fixed(xyz: tuple[float, float, float], R: np.ndarray) -> Callable[[SimScene], Pose]:
    return lambda scene: (np.asarray(xyz, np.float64), R)


def transfer_cube_plan(miss: float = 0.0) -> dict[str, list[Segment]]:
    """Right hand picks the cube, lifts it to the middle, left hand takes it over (times for 8 s).

    `miss` shifts the right hand's grasp sideways by that many metres (a deliberate failed grasp).
    """
    pick = tilted("right", 60)
    take = rot(np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))  # left: horizontal, fingers vertical
    meet = (0.0, 0.5, 0.25)
    right = [
        Segment(0.3, None, OPEN),
        Segment(1.7, _at("box", (0.0, miss, 0.08), pick), OPEN),
        Segment(2.5, _at("box", (0.0, miss, 0.004), pick), OPEN),
        Segment(2.9, None, CLOSED),
        Segment(4.1, _fixed(meet, pick), CLOSED),
        Segment(5.6, None, CLOSED),
        Segment(6.0, None, OPEN),
        Segment(6.8, _fixed((0.1, 0.5, 0.25), pick), OPEN),
    ]
    left = [
        Segment(0.3, None, OPEN),
        Segment(3.6, _fixed((-0.12, 0.5, 0.23), take), OPEN),
        Segment(5.0, _at("box", (-0.02, 0.0, 0.0), take), OPEN, track=True),
        Segment(5.5, None, CLOSED),
        Segment(6.0, None, CLOSED),
        Segment(6.8, _fixed((-0.1, 0.5, 0.25), take), CLOSED),
    ]
    return {"left": left, "right": right}


def _tool(scene: SimScene, side: str) -> np.ndarray:
    p, R = scene.body_pose(f"vx300s_{side}/gripper_link")
    return p + R @ TOOL_OFFSET


class _PegIntoSocket:
    """Right tool pose putting the peg's centre `depth` m along the socket's axis from its centre.

    The socket is tracked every tick; where the hand holds the peg is observed once, when the
    segment begins (re-observing it while pushing would chase a peg slipping in the fingers). The
    peg touches the pin at depth 0.10 (pin 0.04 + peg 0.06 half-lengths): a final depth of 0.085
    keeps pressing it there through the slip of both grips (0.094 lost contact in 3.5 % of seeds).
    """

    def __init__(self, depth: float, R: np.ndarray) -> None:
        self.depth, self.R = depth, R
        self.in_hand: np.ndarray | None = None

    def __call__(self, scene: SimScene) -> Pose:
        socket, Rs = scene.body_pose("socket")
        if self.in_hand is None:
            self.in_hand = _tool(scene, "right") - scene.body_pose("peg")[0]
        return socket + self.depth * Rs[:, 0] + self.in_hand, self.R


def insertion_plan(miss: float = 0.0) -> dict[str, list[Segment]]:
    """Right hand picks the peg, left hand the socket; both lift, the peg slides into the socket."""
    pick_r, pick_l = tilted("right", 60), tilted("left", 60)
    socket_at = (-0.06, 0.5, 0.22)
    right = [
        Segment(0.3, None, OPEN),
        Segment(1.6, _at("peg", (0.0, miss, 0.08), pick_r), OPEN),
        Segment(2.4, _at("peg", (0.0, miss, 0.006), pick_r), OPEN),
        Segment(2.8, None, CLOSED),
        Segment(4.0, _fixed((0.14, 0.5, 0.23), pick_r), CLOSED),
        Segment(5.0, _PegIntoSocket(0.15, pick_r), CLOSED, track=True),
        Segment(6.6, _PegIntoSocket(0.085, pick_r), CLOSED, track=True),
    ]
    left = [
        Segment(0.3, None, OPEN),
        Segment(1.6, _at("socket", (0.0, 0.0, 0.09), pick_l), OPEN),
        Segment(2.4, _at("socket", (0.0, 0.0, 0.006), pick_l), OPEN),
        Segment(2.8, None, CLOSED),
        Segment(4.0, _fixed(socket_at, pick_l), CLOSED),
    ]
    return {"left": left, "right": right}


PLANS = {"transfer_cube": transfer_cube_plan, "insertion": insertion_plan}


class ScriptedOperator:
    """Both leader arms of one episode: `__call__(t)` -> (14,) leader joint values at script time t."""

    def __init__(self, scene: SimScene, *, miss: float = 0.0) -> None:
        self.scene = scene
        plan = PLANS[scene.name](miss=miss)
        q = scene.qpos()
        self.arms = [
            ArmScript(ArmIK(scene.mj, scene.model, side), q[k : k + 6], float(q[k + 6]), plan[side])
            for k, side in ((0, "left"), (7, "right"))
        ]

    def __call__(self, t: float) -> np.ndarray:
        out = np.empty(14)
        for arm, k in zip(self.arms, (0, 7), strict=True):
            out[k : k + 6], out[k + 6] = arm.at(t, self.scene)
        return out
