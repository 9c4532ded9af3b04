"""open_camera, list_cameras, and the core importing without pyrealsense2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from demoforge.collect.cameras import (
    OpenCVCamera,
    RealSenseCamera,
    SyntheticCamera,
    list_cameras,
    open_camera,
)
from demoforge.collect.cameras.devices import opencv_devices, realsense_devices
from demoforge.collect.cameras.realsense_playback import SERIAL, make_playback_file
from demoforge.collect.errors import HardwareError
from demoforge.schemas.rig import CameraConfig, load_rig

ROOT = Path(__file__).resolve().parents[2]


def test_open_camera_picks_the_type() -> None:
    def cfg(kind: str, **kw: object) -> CameraConfig:
        return CameraConfig(name="cam", type=kind, width=640, height=480, fps=30, **kw)  # type: ignore[arg-type]

    assert isinstance(open_camera(cfg("synthetic")), SyntheticCamera)
    cam = open_camera(cfg("opencv", source="/dev/video2"))
    assert isinstance(cam, OpenCVCamera) and cam.source == "opencv /dev/video2"
    assert isinstance(open_camera(cfg("realsense", serial="123")), RealSenseCamera)
    with pytest.raises(HardwareError, match="unknown type 'kinect'"):
        open_camera(cfg("kinect"))


def test_virtual_rig_cameras_stream() -> None:
    rig = load_rig(ROOT / "collect" / "rigs" / "virtual.toml")
    cams = [open_camera(c) for c in rig.cameras]
    try:
        for cam in cams:
            cam.start()
        for cam, c in zip(cams, rig.cameras, strict=True):
            frame = cam.latest()
            assert frame is not None and frame.image.shape == (c.height, c.width, 3)
            assert cam.health().ok
            assert cam.info() == {
                "name": c.name,
                "type": "synthetic",
                "source": "synthetic",
                "width": c.width,
                "height": c.height,
                "fps": c.fps,
            }
    finally:
        for cam in cams:
            cam.stop()


def test_realsense_devices_lists_serial_and_color_modes(tmp_path: Path) -> None:
    rs = pytest.importorskip("pyrealsense2")
    path = make_playback_file(tmp_path / "cam.db3", 128, 96, 15, 2)
    found = realsense_devices([rs.context().load_device(str(path))])  # a playback device as a camera
    assert [d["serial"] for d in found] == [SERIAL]
    assert {"width": 128, "height": 96, "fps": 15, "format": "rgb8"} in found[0]["color_modes"]


def test_list_cameras_is_json_ready() -> None:
    found = list_cameras()  # the test machine has no cameras: an empty list or an explanation
    json.dumps(found)
    assert all(d["type"] in ("realsense", "opencv", "error") for d in found)
    assert opencv_devices(["/dev/video99"]) == []


def test_core_imports_and_lists_without_pyrealsense2() -> None:
    code = """
import sys
sys.modules["pyrealsense2"] = None  # as if the realsense extra were not installed
from demoforge.collect.cameras import RealSenseCamera, SyntheticCamera, list_cameras
from demoforge.collect.errors import HardwareError
with SyntheticCamera("c", 128, 96, 50.0) as cam:
    assert cam.latest() is not None
try:
    RealSenseCamera("cam_high", "123", 640, 480, 30).start()
except HardwareError as e:
    assert "demoforge[realsense]" in e.hint, e.hint
else:
    raise AssertionError("no error")
found = list_cameras()
assert found[0]["type"] == "error" and "pyrealsense2" in found[0]["message"], found
assert "pyrealsense2" not in [m for m in sys.modules if sys.modules[m] is not None]
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
