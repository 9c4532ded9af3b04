"""Cameras rendered from the simulation: each tick renders the scene's current state.

A `SimCamera` is a camera of the rig (the `Camera` protocol the recorder knows) whose frames are
made by the sim hardware at each tick, not by a capture thread: `capture(t)` renders through a
`mujoco.Renderer` (one per image size, shared by the cameras of that size) and stamps the frame
with the simulated time and the camera's own counter. Renderers are made on first use, on the
thread that renders (the control thread): an EGL context is current in one thread only. Shadows
and reflections are off unless the rig asks for them (software rendering is ~4x faster without).

Frames carry a little read noise (`NOISE_STD` grey levels), as every real sensor does: a renderer
repeats a still scene bit for bit, which is exactly what the frozen-frame check looks for. The noise
restarts with each episode (`ReadNoise.restart`, from the episode's scene seed): an episode's frames
depend on its scene and its ticks, not on how many frames were rendered before it (parked ticks: more
the faster a policy infers or the recorder opens its file).

Planted faults act here, in simulated time: `drop` spans deliver nothing while the counter runs on
(the next frame's counter jumps), `freeze` spans deliver new counters with the last image.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np

from demoforge.collect.cameras.base import STALL_PERIODS, CameraHealth, Frame
from demoforge.schemas.rig import CameraConfig

NOISE_STD = 1.5  # grey levels of sensor read noise
NOISE_PATTERNS = 6  # precomputed per image size; consecutive frames never share one


class ReadNoise:
    """Adds one of a few precomputed noise patterns to each frame (two saturating adds: ~0.5 ms)."""

    def __init__(self, height: int, width: int, seed: int) -> None:
        self.seed = seed
        rng = np.random.default_rng(seed)
        n = np.rint(rng.normal(0.0, NOISE_STD, (NOISE_PATTERNS, height, width, 3)))
        self.up = np.clip(n, 0, 255).astype(np.uint8)
        self.down = np.clip(-n, 0, 255).astype(np.uint8)
        self.rng = rng
        self.k = 0

    def restart(self, episode_seed: int) -> None:
        """The pattern sequence of an episode: the same for the same scene seed, whatever ran before
        (the patterns themselves stay: drawing them again costs ~0.1 s per camera)."""
        self.rng = np.random.default_rng((self.seed, episode_seed))
        self.k = 0

    def __call__(self, img: np.ndarray) -> np.ndarray:
        import cv2

        self.k = (self.k + 1 + int(self.rng.integers(NOISE_PATTERNS - 1))) % NOISE_PATTERNS
        return cv2.subtract(cv2.add(img, self.up[self.k]), self.down[self.k])


def intrinsics(fovy_deg: float, width: int, height: int) -> dict[str, Any]:
    """Pinhole intrinsics of a MuJoCo camera: fovy is vertical, pixels are square."""
    fy = (height / 2) / math.tan(math.radians(fovy_deg) / 2)
    return {"fx": fy, "fy": fy, "ppx": width / 2, "ppy": height / 2, "model": "pinhole", "coeffs": [0.0] * 5}


class SimCamera:
    """One rendered camera; `source` is the MuJoCo camera's name."""

    device_clock = False  # the simulated time is the tick's clock: nothing more to store
    device_counter = False

    def __init__(
        self,
        cfg: CameraConfig,
        renderers: Renderers,
        mj: Any,
        model: Any,
        flags: tuple[bool, bool] = (False, False),
    ) -> None:
        self.name = cfg.name
        self.cfg = cfg
        self.source = str(cfg.source)
        self.fps = float(cfg.fps)
        self.renderers = renderers
        self.mj = mj
        self.cam_id = mj.mj_name2id(model, mj.mjtObj.mjOBJ_CAMERA, self.source)
        self.fovy = float(model.cam_fovy[self.cam_id])
        self.index = -1
        self.frame: Frame | None = None
        self.drop: list[tuple[float, float]] = []  # [start, end) in simulated time
        self.freeze: list[tuple[float, float]] = []
        self._flags = flags  # shadows, reflections
        self.noise = ReadNoise(cfg.height, cfg.width, seed=self.cam_id)

    def capture(self, data: Any, t: float) -> None:
        """Render the scene as it is now, stamped `t` (s, simulated)."""
        self.index += 1
        if any(a <= t < b for a, b in self.drop):
            return
        if self.frame is not None and any(a <= t < b for a, b in self.freeze):
            self.frame = Frame(self.frame.image, t, self.index)
            return
        renderer = self.renderers.get(self.cfg.height, self.cfg.width)
        renderer.update_scene(data, camera=self.cam_id)
        flags = renderer.scene.flags
        flags[self.mj.mjtRndFlag.mjRND_SHADOW], flags[self.mj.mjtRndFlag.mjRND_REFLECTION] = self._flags
        self.frame = Frame(self.noise(renderer.render()), t, self.index)

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


class Renderers:
    """One `mujoco.Renderer` per image size, made on first use by the rendering thread."""

    def __init__(self, mj: Any, model: Any) -> None:
        self.mj, self.model = mj, model
        self._by_size: dict[tuple[int, int], Any] = {}

    def get(self, height: int, width: int) -> Any:
        r = self._by_size.get((height, width))
        if r is None:
            r = self._by_size[(height, width)] = self.mj.Renderer(self.model, height=height, width=width)
        return r

    def close(self) -> None:
        for r in self._by_size.values():
            with contextlib.suppress(Exception):  # the context may be current in a finished thread
                r.close()
        self._by_size = {}


def open_cameras(
    cfgs: tuple[CameraConfig, ...], mj: Any, model: Any, *, shadows: bool, reflections: bool
) -> tuple[dict[str, SimCamera], Renderers]:
    """The rig's cameras, checked against the model (camera names, the offscreen buffer's size)."""
    from demoforge.collect.errors import HardwareError

    renderers = Renderers(mj, model)
    names = [model.camera(i).name for i in range(model.ncam)]
    max_w, max_h = model.vis.global_.offwidth, model.vis.global_.offheight
    cams: dict[str, SimCamera] = {}
    for cfg in cfgs:
        if str(cfg.source) not in names:
            raise HardwareError(
                f"camera {cfg.name}: the simulation has no camera {cfg.source!r}",
                f"set its source to one of: {', '.join(names)}",
            )
        if cfg.width > max_w or cfg.height > max_h:
            raise HardwareError(
                f"camera {cfg.name}: {cfg.width}x{cfg.height} exceeds the model's offscreen buffer "
                f"({max_w}x{max_h})",
                f"set width <= {max_w} and height <= {max_h}",
            )
        cams[cfg.name] = SimCamera(cfg, renderers, mj, model, (shadows, reflections))
    return cams, renderers
