"""Simulated rigs on gym-aloha / MuJoCo (the `sim` extra), through the same recorder as real rigs.

    scene.py              gym-aloha's model and task: reset with a seed, step one control period, reward
    ik.py                 damped least-squares IK for one arm's tool point (mj_jac)
    scripted_operator.py  the person on the leaders: task waypoints -> smooth joint trajectories
    operator_faults.py    planted faults in simulated time (pauses, slow / hesitant operator, bump, miss)
    cameras.py            cameras rendered each tick with mujoco.Renderer, intrinsics from fovy
    hardware.py           SimHardware: the control loop's hardware seam (emulated leaders, simulated
                          followers, rendered cameras, the stepped clock)

Nothing here imports MuJoCo or gym-aloha at module import: `scene.import_sim()` does, when a
simulated rig is opened, so the core install (and `demoforge check`) never needs them.
"""

import os
import sys


def prefer_headless_gl() -> None:
    """Default MuJoCo to EGL (a GPU's, or Mesa's in software) on Linux without a display.

    MuJoCo and dm_control fix their GL backend when first imported, and their default (GLFW) cannot
    render without a display; so this runs when this package is imported, before anything of ours
    imports MuJoCo. An explicit MUJOCO_GL (egl, osmesa, glfw) always wins.
    """
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        os.environ.setdefault("MUJOCO_GL", "egl")


prefer_headless_gl()
