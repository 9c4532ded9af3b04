"""An Intel RealSense colour stream through pyrealsense2's pipeline, from a device or a playback file.

pyrealsense2 is an optional dependency (the `realsense` extra; it needs the system's libusb-1.0),
so it is imported only when a RealSense camera is opened or listed. A playback file (`.db3`, as
written by `realsense_playback.make_playback_file` or the RealSense Viewer) plays through the very
same pipeline code, which is how the tests drive this module without a camera.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.collect.cameras.base import STALL_PERIODS, CaptureThread, EndOfStream, Frame
from demoforge.collect.errors import HardwareError

PLAYBACK_SUFFIXES = (".db3", ".bag")


def import_rs() -> Any:
    """pyrealsense2, or a HardwareError saying how to install it."""
    try:
        import pyrealsense2 as rs
    except ImportError as e:
        raise HardwareError(
            f"pyrealsense2 cannot be imported ({e})",
            "install the extra: pip install 'demoforge[realsense]' (it needs the system's libusb-1.0: "
            "apt install libusb-1.0-0)",
        ) from None
    return rs


def is_playback(serial: str) -> bool:
    return serial.endswith(PLAYBACK_SUFFIXES) or "/" in serial


def color_modes(device: Any) -> list[dict[str, Any]]:
    """The colour stream modes a device (or playback file) offers: width, height, fps, format."""
    rs = import_rs()
    modes = set()
    for sensor in device.query_sensors():
        for p in sensor.get_stream_profiles():
            if p.stream_type() == rs.stream.color and p.is_video_stream_profile():
                v = p.as_video_stream_profile()
                modes.add((v.width(), v.height(), p.fps(), str(p.format()).split(".")[-1]))
    return [{"width": w, "height": h, "fps": f, "format": fmt} for w, h, f, fmt in sorted(modes)]


def _intrinsics_dict(intr: Any) -> dict[str, Any]:
    return {
        "width": intr.width,
        "height": intr.height,
        "fx": intr.fx,
        "fy": intr.fy,
        "ppx": intr.ppx,
        "ppy": intr.ppy,
        "model": str(intr.model).split(".")[-1],
        "coeffs": [float(c) for c in intr.coeffs],
    }


class RealSenseCamera(CaptureThread):
    """The colour stream of a RealSense selected by serial ("" = the only one) or a playback file path."""

    kind = "realsense"
    device_clock = True
    device_counter = True

    def __init__(
        self,
        name: str,
        serial: str,
        width: int,
        height: int,
        fps: float,
        *,
        real_time: bool = True,
        repeat: bool = False,
        stall_periods: float = STALL_PERIODS,
    ) -> None:
        super().__init__(name, width, height, fps, stall_periods=stall_periods)
        self.serial = serial
        self.playback = is_playback(serial)
        self.real_time = real_time  # playback only: False plays as fast as it can (and may skip frames)
        self.repeat = repeat  # playback only: loop the file
        self.source = f"realsense {serial or '(first found)'}"
        self.intrinsics: dict[str, Any] = {}  # fx, fy, ppx, ppy, model, coeffs of the colour stream
        self.device_serial = ""
        self.global_time = False  # device timestamps mapped to the host clock by librealsense
        self._pipe: Any = None
        self._playback: Any = None
        self._device_domains: tuple[Any, ...] = ()  # timestamp domains that are the camera's clock

    def _select(self, rs: Any, cfg: Any) -> None:
        if self.playback:
            if not Path(self.serial).is_file():
                raise HardwareError(
                    f"{self.name}: RealSense playback file {self.serial} does not exist",
                    "check the camera's `serial` in the rig (a serial number or a .db3 file)",
                )
            cfg.enable_device_from_file(self.serial, repeat_playback=self.repeat)
            return
        serials = [d.get_info(rs.camera_info.serial_number) for d in rs.context().query_devices()]
        if not serials:
            raise HardwareError(
                f"{self.name}: no RealSense camera is connected",
                "plug it into a USB 3 port; `demoforge devices` lists what is found",
            )
        if self.serial and self.serial not in serials:
            raise HardwareError(
                f"{self.name}: RealSense {self.serial} is not connected (found: {', '.join(serials)})",
                "fix the camera's `serial` in the rig or plug the camera in",
            )
        if not self.serial and len(serials) > 1:
            raise HardwareError(
                f"{self.name}: {len(serials)} RealSense cameras are connected ({', '.join(serials)})",
                "set `serial` for this camera in the rig",
            )
        cfg.enable_device(self.serial or serials[0])

    def _modes_text(self, rs: Any) -> str:
        try:
            ctx = rs.context()
            if self.playback:
                dev = ctx.load_device(self.serial)
            else:
                dev = next(
                    d
                    for d in ctx.query_devices()
                    if not self.serial or d.get_info(rs.camera_info.serial_number) == self.serial
                )
            modes = color_modes(dev)
        except Exception:  # only used to improve an error message
            return "list them with `demoforge devices`"
        shown = sorted({f"{m['width']}x{m['height']}@{m['fps']}" for m in modes if m["format"] == "rgb8"})
        return "it offers " + (", ".join(shown) or "no rgb8 colour stream")

    def _open(self) -> None:
        rs = import_rs()
        cfg = rs.config()
        self._select(rs, cfg)
        cfg.enable_stream(rs.stream.color, self.width, self.height, rs.format.rgb8, round(self.fps))
        pipe = rs.pipeline()
        try:
            profile = pipe.start(cfg)
        except RuntimeError as e:
            raise HardwareError(
                f"{self.name} ({self.source}) cannot stream colour {self.width}x{self.height} at "
                f"{self.fps:g} fps (rgb8): {e}",
                f"set width, height and fps of [[cameras]] {self.name!r} to a supported mode; "
                + self._modes_text(rs),
            ) from None
        dev = profile.get_device()
        self.device_serial = dev.get_info(rs.camera_info.serial_number)
        if self.playback:
            self._playback = dev.as_playback()
            self._playback.set_real_time(self.real_time)
        else:
            # global time: librealsense maps the camera clock onto the host clock, so device_time
            # drifts with neither clock (cameras started at different times stay comparable)
            for sensor in dev.query_sensors():
                if sensor.supports(rs.option.global_time_enabled):
                    sensor.set_option(rs.option.global_time_enabled, 1)
                    self.global_time = True
        # hardware clock: the frame's metadata timestamp; global time: the same, mapped onto the host
        # clock. system_time means the device sent no timestamp metadata (librealsense stamped arrival).
        self._device_domains = (rs.timestamp_domain.hardware_clock, rs.timestamp_domain.global_time)
        video = profile.get_stream(rs.stream.color).as_video_stream_profile()
        self.intrinsics = _intrinsics_dict(video.get_intrinsics())
        self._pipe = pipe

    def info(self) -> dict[str, Any]:
        return super().info() | {
            "serial": self.device_serial,
            "intrinsics": self.intrinsics,
            "global_time": self.global_time,
        }

    def _close(self) -> None:
        if self._pipe is not None:
            with contextlib.suppress(RuntimeError):  # already stopped (device gone): nothing to release
                self._pipe.stop()
            self._pipe = None
            self._playback = None

    def _grab(self) -> Frame | None:
        ok, frames = self._pipe.try_wait_for_frames(100)  # ms; short so stop() is seen
        if not ok:
            if self._playback is not None and str(self._playback.current_status()).endswith("stopped"):
                raise EndOfStream
            return None
        t = time.monotonic()  # host arrival time
        color = frames.get_color_frame()
        if not color:
            return None
        # copy: the frame's buffer goes back to librealsense's pool when `frames` is released
        image = np.array(np.asanyarray(color.get_data()), copy=True)  # (H, W, 3) uint8 RGB
        number = int(color.get_frame_number())
        on_device = color.get_frame_timestamp_domain() in self._device_domains
        device_time = color.get_timestamp() / 1000.0 if on_device else None
        return Frame(image, t, number, device_time=device_time, device_index=number)
