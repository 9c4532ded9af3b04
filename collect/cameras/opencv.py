"""A camera read through OpenCV: a USB (UVC) device by index or /dev/videoN path, or a video file.

USB cameras silently fall back to another mode when the one asked for is not supported (a YUYV
camera at 640x480 often delivers 10 fps instead of 30), so the pixel format, size and rate are read
back and a mismatch is an error naming what the camera delivers. The pixel format matters beyond
the one camera: uncompressed YUYV at 640x480 and 30 fps is 147 Mbit/s, and a USB 2 bus carries
about 190 Mbit/s of camera video, so a silent MJPG -> YUYV fallback on two of ALOHA's three
cameras stalls them all. Video files stand in for devices in tests;
they are paced at their own rate (real time) or read as fast as possible.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from demoforge.collect.cameras.base import STALL_PERIODS, CaptureThread, EndOfStream, Frame
from demoforge.collect.errors import HardwareError

FPS_TOLERANCE = 0.5  # fps; drivers report 29.97 for 30
USB2_VIDEO_MBIT_S = 190.0  # isochronous bandwidth a USB 2 bus gives cameras, roughly (of 480 raw)
UNCOMPRESSED_BYTES_PER_PIXEL = {"YUYV": 2, "YUY2": 2, "UYVY": 2, "RGB3": 3, "BGR3": 3, "GREY": 1}


def pixel_format_problem(
    name: str, source: str, asked: str, got: str, width: int, height: int, fps: float
) -> HardwareError | None:
    """The error for a camera delivering another pixel format than the rig asks for, or None."""
    if got.upper() == asked.upper():
        return None
    why = ""
    per_pixel = UNCOMPRESSED_BYTES_PER_PIXEL.get(got.upper())
    if per_pixel is not None:
        mbit = width * height * per_pixel * fps * 8 / 1e6
        why = (
            f": uncompressed {width}x{height} at {fps:g} fps is {mbit:.0f} Mbit/s, and a USB 2 bus carries "
            f"about {USB2_VIDEO_MBIT_S:.0f} Mbit/s of video, so it starves the cameras sharing its bus"
        )
    return HardwareError(
        f"{name} ({source}) delivers {got} frames, not the {asked} the rig asks for (the driver fell "
        f"back silently){why}",
        f"check that the camera offers {asked} at {width}x{height} and {fps:g} fps (`v4l2-ctl "
        "--list-formats-ext`); if it is alone on its USB bus and YUYV is what you want, set "
        f'fourcc = "{got}" for [[cameras]] {name!r}',
    )


def is_device(source: int | str) -> bool:
    """True for a device index or /dev/video path, False for a video file."""
    return isinstance(source, int) or str(source).isdigit() or str(source).startswith("/dev/")


def fourcc_str(code: float) -> str:
    c = int(code)
    return "".join(chr((c >> (8 * k)) & 0xFF) for k in range(4)).strip("\x00") or "?"


class OpenCVCamera(CaptureThread):
    """A UVC device or a video file; frames are converted from OpenCV's BGR to RGB."""

    kind = "opencv"
    device_clock = True  # V4L2 buffer times (a file's presentation times); no device frame counter

    def __init__(
        self,
        name: str,
        source: int | str,
        width: int,
        height: int,
        fps: float,
        *,
        fourcc: str = "MJPG",
        real_time: bool = True,
        stall_periods: float = STALL_PERIODS,
    ) -> None:
        super().__init__(name, width, height, fps, stall_periods=stall_periods)
        self.src: int | str = int(source) if str(source).isdigit() else source
        self.fourcc = fourcc
        self.real_time = real_time  # video files only: pace at the file's rate, else read flat out
        self.device = is_device(self.src)
        self.source = f"opencv {self.src}"
        self._cap: cv2.VideoCapture | None = None
        self._count = 0
        self._t0 = 0.0
        self._failures = 0
        self._last_msec = 0.0  # the last valid CAP_PROP_POS_MSEC

    def _open(self) -> None:
        if not self.device and not Path(str(self.src)).is_file():
            raise HardwareError(
                f"{self.name}: video file {self.src} does not exist",
                "check the camera's `source` path in the rig",
            )
        backend = cv2.CAP_V4L2 if self.device and os.name == "posix" else cv2.CAP_ANY
        cap = cv2.VideoCapture(self.src, backend)
        if not cap.isOpened():
            hint = (
                (
                    "check that it is plugged in and not used by another program (`demoforge devices` "
                    "lists the cameras that open)"
                )
                if self.device
                else "check that it is a readable video file"
            )
            raise HardwareError(f"{self.name} ({self.source}) cannot be opened", hint)
        if self.device:
            # order matters for V4L2: the pixel format first, then the size, then the rate
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self.fourcc))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_FPS, self.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep the driver from queueing stale frames
            cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, 1000)  # an unplugged camera fails a grab in 1 s, not 10
        try:
            self._verify(cap)
        except HardwareError:
            cap.release()
            raise
        self._cap = cap
        self._count = 0
        self._failures = 0
        self._last_msec = 0.0
        self._t0 = time.monotonic()

    def _verify(self, cap: cv2.VideoCapture) -> None:
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = cap.get(cv2.CAP_PROP_FPS)  # 0 when the driver does not say
        fourcc = fourcc_str(cap.get(cv2.CAP_PROP_FOURCC))
        if self.device:
            problem = pixel_format_problem(
                self.name, self.source, self.fourcc, fourcc, self.width, self.height, self.fps
            )
            if problem is not None:
                raise problem
        size_ok = (w, h) == (self.width, self.height)
        fps_ok = fps <= 0 or abs(fps - self.fps) <= FPS_TOLERANCE
        if size_ok and fps_ok:
            return
        got = f"{w}x{h} at {fps:g} fps" + (f" ({fourcc})" if self.device else "")
        want = f"{self.width}x{self.height} at {self.fps:g} fps" + (
            f" ({self.fourcc})" if self.device else ""
        )
        if self.device:
            hint = (
                f"pick a mode the camera supports (list them with `v4l2-ctl -d {self._dev_path()} "
                f"--list-formats-ext`) and set width, height and fps of [[cameras]] {self.name!r} to it"
            )
        else:
            hint = (
                f"set width = {w}, height = {h}, fps = {fps:g} for [[cameras]] {self.name!r} in the rig, "
                "or re-encode the file"
            )
        raise HardwareError(f"{self.name} ({self.source}) delivers {got}, the rig asks for {want}", hint)

    def info(self) -> dict[str, Any]:
        return super().info() | {"fourcc": self.fourcc if self.device else ""}

    def _dev_path(self) -> str:
        return f"/dev/video{self.src}" if isinstance(self.src, int) else str(self.src)

    def _close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _grab(self) -> Frame | None:
        cap = self._cap
        assert cap is not None
        if not self.device and self.real_time:
            wait = self._t0 + self._count / self.fps - time.monotonic()  # deadline of the next frame
            if wait > 0 and (self._stop.wait(min(wait, 0.1)) or wait > 0.1):
                return None
        if not cap.grab():
            if not self.device:
                raise EndOfStream
            self._failures += 1
            if self._failures >= 3:  # each failed grab has waited the 1 s read timeout
                raise HardwareError(f"the device stopped delivering frames ({self._dev_path()} unplugged?)")
            return None
        t = time.monotonic()  # arrival: after the grab, before the (slow) JPEG decode
        ok, bgr = cap.retrieve()
        if not ok or bgr is None:
            return None
        self._failures = 0
        if bgr.shape[:2] != (self.height, self.width):  # some drivers report one size and send another
            raise HardwareError(
                f"it delivers {bgr.shape[1]}x{bgr.shape[0]} frames, the rig asks for "
                f"{self.width}x{self.height}"
            )
        # V4L2: the kernel's buffer timestamp; a file: its presentation time. Backends that have none
        # report 0 or repeat a value: only a non-zero, increasing time is the device's clock.
        msec = cap.get(cv2.CAP_PROP_POS_MSEC)
        device_time = None
        if msec > self._last_msec:
            device_time, self._last_msec = msec / 1000.0, msec
        index = self._count if self.device else int(cap.get(cv2.CAP_PROP_POS_FRAMES)) - 1
        self._count += 1
        rgb: np.ndarray = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return Frame(rgb, t, index, device_time)
