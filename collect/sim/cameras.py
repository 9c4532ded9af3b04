"""Cameras rendered from the simulation: each tick renders the scene's current state.

A `SimCamera` is a camera of the rig (the `Camera` protocol the recorder knows) whose frames are
made by the sim hardware at each tick, not by a capture thread: `capture(t)` renders through a
`mujoco.Renderer` (one per image size, shared by the cameras of that size) and stamps the frame
with the simulated time and the camera's own counter. Shadows and reflections are off unless the
rig asks for them (software rendering is ~4x faster without).

Planted faults act here, in simulated time: `drop` spans deliver nothing while the counter runs on
(the next frame's counter jumps), `freeze` spans deliver new counters with the last image.
"""

from __future__ import annotations

import math
from typing import Any

from demoforge.collect.cameras.base import STALL_PERIODS, CameraHealth, Frame
from demoforge.schemas.rig import Camera as CameraConfig


def intrinsics(fovy_deg: float, width: int, height: int) -> dict[str, Any]:
    """Pinhole intrinsics of a MuJoCo camera: fovy is vertical, pixels are square."""
    fy = (height / 2) / math.tan(math.radians(fovy_deg) / 2)
    return {"fx": fy, "fy": fy, "ppx": width / 2, "ppy": height / 2, "model": "pinhole", "coeffs": [0.0] * 5}


class SimCamera:
    """One rendered camera; `source` is the MuJoCo camera's name."""

    def __init__(
        self, cfg: CameraConfig, renderer: Any, mj: Any, model: Any, flags: tuple[bool, bool] = (False, False)
    ) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.source = str(cfg.source)
        self.fps = float(cfg.fps)
        self.renderer = renderer
        self.mj = mj
        self.cam_id = mj.mj_name2id(model, mj.mjtObj.mjOBJ_CAMERA, self.source)
        self.fovy = float(model.cam_fovy[self.cam_id])
        self.index = -1
        self.frame: Frame | None = None
        self.drop: list[tuple[float, float]] = []  # [start, end) in simulated time
        self.freeze: list[tuple[float, float]] = []
        self._flags = flags  # shadows, reflections

    def capture(self, data: Any, t: float) -> None:
        """Render the scene as it is now, stamped `t` (s, simulated)."""
        self.index += 1
        if any(a <= t < b for a, b in self.drop):
            return
        if self.frame is not None and any(a <= t < b for a, b in self.freeze):
            self.frame = Frame(self.frame.image, t, self.index)
            return
        self.renderer.update_scene(data, camera=self.cam_id)
        _scene_flags(self.mj, self.renderer, self._flags)
        self.frame = Frame(self.renderer.render(), t, self.index)

    # -- the Camera protocol --------------------------------------------------------------------------

    def start(self) -> None:
        """Nothing to start: frames are rendered by the tick."""

    def latest(self) -> Frame | None:
        return self.frame

    def health(self) -> CameraHealth:
        return CameraHealth(self.name, f"sim {self.source}", self.fps, self.index + 1, 0.0, STALL_PERIODS)

    def stop(self) -> None:
        """Nothing to release: the hardware closes the renderers."""

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "sim",
            "source": self.source,
            "serial": f"mujoco:{self.source}",
            "width": self.cfg.width,
            "height": self.cfg.height,
            "fps": self.fps,
            "intrinsics": intrinsics(self.fovy, self.cfg.width, self.cfg.height),
        }


def _scene_flags(mj: Any, renderer: Any, flags: tuple[bool, bool]) -> None:
    scene_flags = renderer.scene.flags
    scene_flags[mj.mjtRndFlag.mjRND_SHADOW] = flags[0]
    scene_flags[mj.mjtRndFlag.mjRND_REFLECTION] = flags[1]


def open_cameras(
    cfgs: tuple[CameraConfig, ...], mj: Any, model: Any, *, shadows: bool, reflections: bool
) -> tuple[dict[str, SimCamera], list[Any]]:
    """Cameras of the rig, and the renderers they share (one per image size) to close later."""
    from demoforge.collect.errors import HardwareError

    renderers: dict[tuple[int, int], Any] = {}
    cams: dict[str, SimCamera] = {}
    try:
        for cfg in cfgs:
            if mj.mj_name2id(model, mj.mjtObj.mjOBJ_CAMERA, str(cfg.source)) < 0:
                names = [model.camera(i).name for i in range(model.ncam)]
                raise HardwareError(
                    f"camera {cfg.name}: the simulation has no camera {cfg.source!r}",
                    f"set source to one of: {', '.join(names)}",
                )
            size = (cfg.height, cfg.width)
            if size not in renderers:
                renderers[size] = mj.Renderer(model, height=cfg.height, width=cfg.width)
            cams[cfg.name] = SimCamera(cfg, renderers[size], mj, model, (shadows, reflections))
    except ValueError as e:  # the model's offscreen buffer is smaller than the frame
        for r in renderers.values():
            r.close()
        raise HardwareError(f"cannot render {cfg.name} at {cfg.width}x{cfg.height}: {e}", "use 640x480 or less") from None
    except BaseException:
        for r in renderers.values():
            r.close()
        raise
    return cams, list(renderers.values())

