"""A synthetic camera for the virtual rig: frames at the configured rate, no hardware.

Each frame is a pre-rendered texture rolled sideways (cheap: one numpy copy per frame), a white square
that moves across it, and the frame counter written as a row of black/white bit blocks in the top
left corner, so a test can read back which frame it holds with `decode_index`. Faults can be
injected by frame counter to exercise the quality checks and stall detection.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from demoforge.collect.cameras.base import STALL_PERIODS, CaptureThread, Frame
from demoforge.schemas.errors import ConfigError

INDEX_BITS = 24  # the counter wraps after 2**24 frames (6 days at 30 fps)
BIT_BLOCK = 4  # px per bit block side; the strip is INDEX_BITS * BIT_BLOCK wide


@dataclass(frozen=True)
class SyntheticFaults:
    """Faults by frame counter, e.g. `SyntheticFaults(drop=(range(10, 13),), stall_from=60)`."""

    drop: tuple[range, ...] = ()  # counters never delivered: the next frame's counter jumps
    freeze: tuple[range, ...] = ()  # the image stays that of the frame before; the counter advances
    black: tuple[range, ...] = ()  # all-black images (lens cap, exposure failure)
    stall_from: int | None = None  # from this counter on nothing is delivered (cable pulled)

    def __post_init__(self) -> None:
        for name in ("drop", "freeze", "black"):
            for r in getattr(self, name):
                if not isinstance(r, range) or r.step != 1:
                    raise ValueError(f"SyntheticFaults.{name} takes contiguous ranges, got {r!r}")


def _hit(ranges: tuple[range, ...], i: int) -> bool:
    return any(i in r for r in ranges)


def encode_index(image: np.ndarray, index: int) -> None:
    """Write `index` into the top-left bit strip of `image` (H, W, 3), in place."""
    bits = (index >> np.arange(INDEX_BITS - 1, -1, -1)) & 1  # (INDEX_BITS,) most significant first
    strip = np.repeat(bits.astype(np.uint8) * 255, BIT_BLOCK)  # (INDEX_BITS * BIT_BLOCK,)
    image[:BIT_BLOCK, : strip.size] = strip[None, :, None]


def decode_index(image: np.ndarray) -> int:
    """Read back the counter written by `encode_index` (robust to JPEG noise: thresholds block means)."""
    strip = image[:BIT_BLOCK, : INDEX_BITS * BIT_BLOCK].astype(np.float32).mean(axis=(0, 2))
    bits = strip.reshape(INDEX_BITS, BIT_BLOCK).mean(axis=1) > 127
    return int(sum(int(b) << (INDEX_BITS - 1 - k) for k, b in enumerate(bits)))


def _texture(height: int, width: int, seed: int) -> np.ndarray:
    """A colourful, non-repeating pattern twice as wide as the frame, so rolling it shows motion."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 2, 2 * width, dtype=np.float32)[None, :]
    r = 0.5 + 0.5 * np.sin(2 * math.pi * (3 * x + rng.uniform()))
    g = 0.5 + 0.5 * np.sin(2 * math.pi * (2 * y + x + rng.uniform()))
    b = 0.3 + 0.4 * y
    tex = np.stack(np.broadcast_arrays(r, g, b), axis=-1) * 200  # (H, 2W, 3); leaves room for noise
    tex += rng.integers(0, 40, tex.shape)  # texture for JPEG and frozen-frame checks to see
    return tex.astype(np.uint8)


class SyntheticCamera(CaptureThread):
    """Frames at `fps` on a deadline-driven thread; the counter follows time, so lateness shows as a jump."""

    kind = "synthetic"
    device_clock = True  # it models a device: its clock is the frame's deadline, its counter the index
    device_counter = True

    def __init__(
        self,
        name: str,
        width: int,
        height: int,
        fps: float,
        *,
        faults: SyntheticFaults | None = None,
        seed: int = 0,
        stall_periods: float = STALL_PERIODS,
    ) -> None:
        super().__init__(name, width, height, fps, stall_periods=stall_periods)
        if width < INDEX_BITS * BIT_BLOCK or height < 2 * BIT_BLOCK:
            raise ConfigError(
                f"synthetic camera {name}: {width}x{height} is too small to carry its frame counter",
                f"set width >= {INDEX_BITS * BIT_BLOCK} and height >= {2 * BIT_BLOCK}",
            )
        self.faults = faults or SyntheticFaults()  # read every frame: may be replaced while running
        self.source = "synthetic"
        self._texture = _texture(height, width, seed)
        self._t0 = 0.0
        self._next = 0  # counter of the next deadline
        self._last_image: np.ndarray | None = None

    def _open(self) -> None:
        self._t0 = time.monotonic()
        self._next = 0
        self._last_image = None

    def _close(self) -> None:
        pass

    def render(self, index: int) -> np.ndarray:
        """The image for counter `index` (without faults): (H, W, 3) uint8 RGB."""
        h, w = self.height, self.width
        shift = (index * 4) % w  # 4 px per frame: 120 px/s at 30 fps
        img = self._texture[:, shift : shift + w].copy()
        side = max(8, h // 8)  # the moving element: a white square bouncing left-right
        span = w - side
        phase = (index * 6) % (2 * span) if span > 0 else 0
        x = phase if phase < span else 2 * span - phase
        y = (h - side) // 2
        img[y : y + side, x : x + side] = 255
        encode_index(img, index % (1 << INDEX_BITS))
        return img

    def _grab(self) -> Frame | None:
        deadline = self._t0 + self._next / self.fps
        wait = deadline - time.monotonic()
        # sleep until the deadline (never sleep(1/fps): that drifts by the render time);
        # wake every 0.1 s to look at the stop flag
        if wait > 0 and (self._stop.wait(min(wait, 0.1)) or wait > 0.1):
            return None
        index = self._next
        # late by more than a period: skip to the current deadline, as a real sensor drops frames
        self._next = max(index + 1, math.floor((time.monotonic() - self._t0) * self.fps) + 1)
        f = self.faults
        if (f.stall_from is not None and index >= f.stall_from) or _hit(f.drop, index):
            return None
        if _hit(f.freeze, index) and self._last_image is not None:
            image = self._last_image
        elif _hit(f.black, index):
            image = np.zeros((self.height, self.width, 3), np.uint8)
        else:
            image = self.render(index)
        self._last_image = image
        return Frame(image, time.monotonic(), index, device_time=index / self.fps, device_index=index)
