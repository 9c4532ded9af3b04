"""SimScene: gym-aloha's bimanual ViperX model and task, stepped one control period at a time.

The model, the object placement, the action mapping (grippers 0 closed .. 1 open) and the reward
are gym-aloha's own (its XML assets and task classes); this wrapper steps MuJoCo directly instead
of through gym-aloha's `env.step`, which renders three 480x640 images every step whether anyone
looks or not. gym-aloha's action space says Box(-1, 1), but its actions are absolute joint radians:
nothing here clips to it.

Joint order is the rig's: left waist..wrist_rotate, left gripper, right waist..wrist_rotate, right
gripper (gym-aloha's own order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from demoforge.collect.errors import HardwareError

N_JOINTS = 14


@dataclass(frozen=True)
class TaskSpec:
    xml: str  # file in gym_aloha's assets folder
    task_class: str  # in gym_aloha.tasks.sim
    objects: tuple[str, ...]  # free bodies, in the order of their qpos blocks
    top_reward: int  # success = this reward at the last step


TASKS = {
    "transfer_cube": TaskSpec("bimanual_viperx_transfer_cube.xml", "TransferCubeTask", ("box",), 4),
    "insertion": TaskSpec("bimanual_viperx_insertion.xml", "InsertionTask", ("peg", "socket"), 4),
}


def import_sim() -> tuple[Any, Any]:
    """(mujoco, gym_aloha) imported lazily: the core install has neither (GL default: package init)."""
    try:
        import gym_aloha
        import mujoco
    except ImportError as e:
        raise HardwareError(
            f"simulation rigs need gym-aloha and MuJoCo ({e.name} is not installed)",
            "install the extra: pip install 'demoforge[sim]'",
        ) from None
    return mujoco, gym_aloha


class SimScene:
    """One task's physics: reset with a seed, step with a (14,) action, read state and reward."""

    def __init__(self, task: str) -> None:
        if task not in TASKS:
            raise HardwareError(f"unknown simulation task {task!r}", f"use one of: {', '.join(TASKS)}")
        mujoco, _ = import_sim()
        from dm_control import mujoco as dm_mujoco
        from gym_aloha import constants
        from gym_aloha.tasks import sim as aloha_tasks

        self.mj = mujoco
        self.name = task
        self.spec = TASKS[task]
        self.constants = constants
        self.physics = dm_mujoco.Physics.from_xml_path(str(constants.ASSETS_DIR / self.spec.xml))
        self.model = self.physics.model.ptr  # the raw mujoco.MjModel / MjData, shared with dm_control
        self.data = self.physics.data.ptr
        self.task = getattr(aloha_tasks, self.spec.task_class)()
        self.n_substeps = round(constants.DT / self.model.opt.timestep)  # 10 x 2 ms per 20 ms control step
        self.period = self.n_substeps * self.model.opt.timestep
        self._arm_qadr = np.r_[0:6, 8:14]  # arm joints in qpos (fingers at 6, 7 and 14, 15)
        self._act_arm = np.r_[0:6, 8:14]  # actuators of the arm joints; 6 and 14 drive the left fingers
        self.seed: int | None = None
        self.action = np.zeros(N_JOINTS)
        self.reward = 0.0

    # -- episode -------------------------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        """Arms at gym-aloha's start pose, objects at the poses gym-aloha samples for `seed`."""
        from gym_aloha import utils

        if self.name == "transfer_cube":
            poses = utils.sample_box_pose(seed)
        else:
            poses = np.concatenate(utils.sample_insertion_pose(seed))
        mj, m, d = self.mj, self.model, self.data
        mj.mj_resetData(m, d)
        start = np.asarray(self.constants.START_ARM_POSE)
        d.qpos[:16] = start
        d.ctrl[:] = start
        d.qpos[16:] = poses
        mj.mj_forward(m, d)
        self.seed = seed
        self.action = self.start_action()
        self.reward = 0.0

    def start_action(self) -> np.ndarray:
        """The (14,) action that holds the start pose (grippers as the start pose has them)."""
        return self.qpos()

    def step(self, action: np.ndarray) -> float:
        """Advance one control period under `action`; returns gym-aloha's task reward after it."""
        self.action = np.asarray(action, np.float64)
        self.task.before_step(self.action, self.physics)
        self.mj.mj_step(self.model, self.data, nstep=self.n_substeps)
        self.reward = float(self.task.get_reward(self.physics))
        return self.reward

    # -- state ---------------------------------------------------------------------------------------

    @property
    def time(self) -> float:
        return float(self.data.time)

    def qpos(self) -> np.ndarray:
        return np.asarray(self.task.get_qpos(self.physics), np.float64)

    def qvel(self) -> np.ndarray:
        return np.asarray(self.task.get_qvel(self.physics), np.float64)

    def effort(self) -> np.ndarray:
        """Actuator force per joint (N m; grippers: N on the left finger), like a motor's present current."""
        f = self.data.actuator_force
        return np.r_[f[0:6], f[6], f[8:14], f[14]].astype(np.float64)

    def body_pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(position (3,), rotation matrix (3, 3)) of a body in the world."""
        b = self.data.body(name)
        return b.xpos.copy(), b.xmat.reshape(3, 3).copy()

    def success(self) -> bool:
        return self.reward >= self.spec.top_reward
