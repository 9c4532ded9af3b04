"""A small virtual rig for recorder tests: 2 arms x 3 joints (4 motors each), 2 tiny synthetic cameras."""

from __future__ import annotations

from pathlib import Path

from demoforge.schemas.rig import Rig, load_rig

ARM = """
[[arms]]
name = "{side}"
leader = {{ port = "emulator:leader_{side}", timeout_ms = 30.0 }}
follower = {{ port = "emulator:follower_{side}", timeout_ms = 30.0 }}

[[arms.joints]]
name = "waist"
leader_ids = [1]
follower_ids = [1]
leader_model = "xm430-w350"
follower_model = "xm540-w270"
limits = [-3.0, 3.0]

[[arms.joints]]
name = "shoulder"
leader_ids = [2, 3]
follower_ids = [2, 3]
leader_model = "xm430-w350"
follower_model = "xm540-w270"
limits = [-1.8, 1.2]
start = -0.5

[[arms.joints]]
name = "gripper"
leader_ids = [4]
follower_ids = [4]
leader_model = "xl430-w250"
follower_model = "xm430-w350"
limits = [0.0, 1.0]
kind = "gripper"
"""

CAMERA = """
[[cameras]]
name = "{name}"
type = "synthetic"
width = 96
height = 72
fps = 30
"""


def small_virtual_rig(folder: Path, *, arms: int = 2, cameras: int = 2, fps: int = 50) -> Rig:
    sides = ["left", "right", "third", "fourth"][:arms]
    text = f'name = "test-virtual"\nfps = {fps}\n\n[recording]\nflush_interval = 0.5\n'
    text += "".join(ARM.format(side=s) for s in sides)
    text += "".join(CAMERA.format(name=n) for n in ["cam_high", "cam_wrist", "cam_low"][:cameras])
    path = folder / "rig.toml"
    path.write_text(text)
    return load_rig(path)


def record_args(
    folder: Path,
    dataset: Path,
    *extra: str,
    episodes: int | None = None,
    episode_time: float | None = None,
    reset_time: float | None = None,
    unattended: bool = True,
) -> list[str]:
    """`demoforge record` arguments for the rig `small_virtual_rig` wrote to `folder` (None: the default)."""
    args = ["record", "--rig", str(folder / "rig.toml"), "--dataset", str(dataset)]
    for flag, value in (
        ("--episodes", episodes),
        ("--episode-time", episode_time),
        ("--reset-time", reset_time),
    ):
        if value is not None:
            args += [flag, f"{value:g}"]
    return args + (["--unattended"] if unattended else []) + list(extra)
