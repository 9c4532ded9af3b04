"""Damped least-squares inverse kinematics for one ViperX arm of the scene, on a scratch MjData.

The target is a pose of the arm's tool point (between the fingertips): position and rotation. Each
iteration takes the 6x6 Jacobian of the arm's joints at that point (`mj_jac`) and moves the joints
by J^T (J J^T + lambda^2 I)^-1 e, clipped to the joint range. Warm-started from the previous
solution, a few iterations per control tick follow a smooth Cartesian path exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TOOL_OFFSET = np.array(
    [0.13, 0.0, 0.0]
)  # tool point in the gripper_link frame: between the finger pads (tips at 0.154)
DAMPING = 0.02
ROT_WEIGHT = 0.3  # m per rad: how much a rotation error counts against a position error
# Near wrist_angle = 0 the forearm-roll and wrist-rotate axes line up and plain DLS drifts along
# that null space, winding the two (weak, kp 10-20) joints in opposite directions; a light pull
# towards zero roll keeps the leader's wrist where a person would hold it.
REST_WEIGHT = np.array([0.0, 0.0, 0.0, 0.05, 0.0, 0.05])


class ArmIK:
    """IK for the arm whose bodies are prefixed `vx300s_<side>/`; joint values (6,) in rad."""

    def __init__(self, mj: Any, model: Any, side: str) -> None:
        self.mj, self.model = mj, model
        self.data = mj.MjData(model)
        self.body = mj.mj_name2id(model, mj.mjtObj.mjOBJ_BODY, f"vx300s_{side}/gripper_link")
        names = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
        jids = [mj.mj_name2id(model, mj.mjtObj.mjOBJ_JOINT, f"vx300s_{side}/{n}") for n in names]
        self.qadr = np.array([model.jnt_qposadr[j] for j in jids])
        self.dadr = np.array([model.jnt_dofadr[j] for j in jids])
        self.low = np.array([model.jnt_range[j][0] for j in jids])
        self.high = np.array([model.jnt_range[j][1] for j in jids])
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def _fk(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self.data
        d.qpos[self.qadr] = q
        self.mj.mj_kinematics(self.model, d)
        R = d.xmat[self.body].reshape(3, 3)
        return d.xpos[self.body] + R @ TOOL_OFFSET, R.copy()

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tool point position (3,) and gripper rotation (3, 3) for joint values q."""
        return self._fk(np.asarray(q, np.float64))

    def solve(self, q0: np.ndarray, pos: np.ndarray, rot: np.ndarray, iters: int = 12) -> np.ndarray:
        """Joint values reaching (pos, rot), starting from q0."""
        mj, d = self.mj, self.data
        q = np.array(q0, np.float64)
        err = np.zeros(6)
        quat_t, quat_c, quat_e = np.zeros(4), np.zeros(4), np.zeros(4)
        mj.mju_mat2Quat(quat_t, np.ascontiguousarray(rot).ravel())
        for _ in range(iters):
            p, R = self._fk(q)
            err[:3] = pos - p
            mj.mju_mat2Quat(quat_c, R.ravel())
            mj.mju_negQuat(quat_e, quat_c)
            mj.mju_mulQuat(quat_e, quat_t, quat_e)  # rotation from current to target, world frame
            mj.mju_quat2Vel(err[3:], quat_e, 1.0)
            err[3:] *= ROT_WEIGHT
            if np.linalg.norm(err) < 1e-5:
                break
            mj.mj_comPos(self.model, d)
            mj.mj_jac(self.model, d, self._jacp, self._jacr, p, self.body)
            J = np.vstack([self._jacp[:, self.dadr], ROT_WEIGHT * self._jacr[:, self.dadr]])
            W = REST_WEIGHT**2
            H = J.T @ J + DAMPING**2 * np.eye(6) + np.diag(W)
            dq = np.linalg.solve(H, J.T @ err - W * q)
            q = np.clip(q + dq, self.low, self.high)
        return q
