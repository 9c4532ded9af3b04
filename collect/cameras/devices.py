"""Open a camera from its rig entry, and list the cameras attached to this machine."""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable
from typing import Any

import cv2

from demoforge.collect.cameras.base import STALL_PERIODS, Camera
from demoforge.collect.cameras.opencv import OpenCVCamera, fourcc_str
from demoforge.collect.cameras.realsense import RealSenseCamera, color_modes, import_rs
from demoforge.collect.cameras.synthetic import SyntheticCamera
from demoforge.collect.errors import HardwareError
from demoforge.schemas.rig import CameraConfig


def open_camera(cfg: CameraConfig, *, real_time: bool = True, stall_periods: float = STALL_PERIODS) -> Camera:
    """The camera a rig entry describes, not started yet (call `start()`).

    real_time: for video and playback files, pace frames at the file's rate; False reads them as
    fast as possible (tests). Devices ignore it.
    """
    if cfg.type == "synthetic":
        return SyntheticCamera(cfg.name, cfg.width, cfg.height, cfg.fps, stall_periods=stall_periods)
    if cfg.type == "opencv":
        return OpenCVCamera(
            cfg.name,
            cfg.source,
            cfg.width,
            cfg.height,
            cfg.fps,
            fourcc=cfg.fourcc,
            real_time=real_time,
            stall_periods=stall_periods,
        )
    if cfg.type == "realsense":
        return RealSenseCamera(
            cfg.name,
            cfg.serial,
            cfg.width,
            cfg.height,
            cfg.fps,
            real_time=real_time,
            stall_periods=stall_periods,
        )
    raise HardwareError(
        f"camera {cfg.name!r} has unknown type {cfg.type!r}",
        'use type = "realsense", "opencv" or "synthetic"',
    )


def realsense_devices(devices: Iterable[Any] | None = None) -> list[dict[str, Any]]:
    """RealSense `devices` (default: those connected) with serial, name and colour modes."""
    rs = import_rs()
    found = []
    for dev in devices if devices is not None else rs.context().query_devices():

        def info(key: Any, dev: Any = dev) -> str:
            return str(dev.get_info(key)) if dev.supports(key) else ""

        found.append(
            {
                "type": "realsense",
                "serial": info(rs.camera_info.serial_number),
                "name": info(rs.camera_info.name),
                "firmware": info(rs.camera_info.firmware_version),
                "usb": info(rs.camera_info.usb_type_descriptor),
                "color_modes": color_modes(dev),
            }
        )
    return found


def opencv_devices(paths: list[str] | None = None) -> list[dict[str, Any]]:
    """/dev/video* nodes that open and deliver a frame, with their current size, rate and format.

    Metadata nodes (every UVC camera has one) and cameras in use by another program do not open
    and are left out. Opening a device takes ~0.1-1 s.
    """
    if paths is None:
        paths = sorted(glob.glob("/dev/video*"), key=lambda p: int(re.sub(r"\D", "", p) or 0))
    found = []
    for path in paths:
        cap = cv2.VideoCapture(path, cv2.CAP_V4L2)
        try:
            if not cap.isOpened() or not cap.grab():
                continue
            found.append(
                {
                    "type": "opencv",
                    "source": path,
                    "index": int(re.sub(r"\D", "", path) or -1),
                    "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                    "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                    "fps": cap.get(cv2.CAP_PROP_FPS),
                    "fourcc": fourcc_str(cap.get(cv2.CAP_PROP_FOURCC)),
                }
            )
        finally:
            cap.release()
    return found


def list_cameras() -> list[dict[str, Any]]:
    """Every camera found: RealSense devices (serial, colour modes), then V4L2 devices that open.

    Without pyrealsense2 the RealSense part is skipped (one entry of type "error" says why).
    """
    found: list[dict[str, Any]] = []
    try:
        found += realsense_devices()
    except HardwareError as e:
        found.append({"type": "error", "message": e.message, "hint": e.hint})
    except RuntimeError as e:  # librealsense could not enumerate USB (permissions, no udev rules)
        found.append(
            {
                "type": "error",
                "message": f"RealSense enumeration failed: {e}",
                "hint": "install librealsense's udev rules or run with access to USB devices",
            }
        )
    return found + opencv_devices()
