"""RealSenseCamera through the real pyrealsense2 pipeline, fed by playback files made without a camera."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from demoforge.collect.cameras import Frame, RealSenseCamera, decode_index, open_camera
from demoforge.collect.cameras.realsense_playback import SERIAL, make_playback_file
from demoforge.collect.errors import HardwareError
from demoforge.schemas.rig import CameraConfig

rs = pytest.importorskip("pyrealsense2")

W, H, FPS = 160, 120, 30


@pytest.fixture(scope="module")
def playback(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 frames at 30 fps with frames 10 and 11 dropped."""
    return make_playback_file(tmp_path_factory.mktemp("rs") / "moving.db3", W, H, FPS, 30, drop=(10, 11))


def drain(cam: RealSenseCamera, timeout: float = 5.0) -> list[Frame]:
    frames: list[Frame] = []
    last = -1
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        f = cam.wait_for_frame(last, timeout=end - time.monotonic())
        if f is None:
            break
        frames.append(f)
        last = f.index
    return frames


def test_playback_through_the_pipeline(playback: Path) -> None:
    cfg = CameraConfig(name="cam_high", type="realsense", width=W, height=H, fps=FPS, serial=str(playback))
    cam = open_camera(cfg)
    assert isinstance(cam, RealSenseCamera)
    cam.start()
    frames = drain(cam)
    cam.stop()
    indices = [f.index for f in frames]
    assert indices[0] == 0 and indices[-1] == 29
    assert 10 not in indices and 11 not in indices  # dropped frames show as a counter jump
    assert len(frames) >= 24  # real-time playback: a waiting consumer sees (almost) every frame
    for f in frames:
        assert f.image.shape == (H, W, 3) and f.image.dtype == np.uint8
        assert decode_index(f.image) == f.index
        assert f.device_time == pytest.approx(0.001 + f.index / FPS, abs=1e-6)  # the camera's clock
        assert f.device_index == f.index  # the frame number
    by_index = {f.index: f for f in frames}
    if 9 in by_index and 12 in by_index:  # the gap is in the host arrival times too
        assert by_index[12].capture_time - by_index[9].capture_time == pytest.approx(3 / FPS, abs=0.02)
    span = frames[-1].capture_time - frames[0].capture_time
    assert span == pytest.approx((indices[-1] - indices[0]) / FPS, rel=0.15)  # paced at 30 fps


def test_intrinsics_and_serial(playback: Path) -> None:
    with RealSenseCamera("cam_high", str(playback), W, H, FPS) as cam:
        assert cam.device_serial == SERIAL
        intr = cam.intrinsics
        info = cam.info()
    assert info["type"] == "realsense" and info["serial"] == SERIAL and info["intrinsics"] == intr
    assert (info["width"], info["height"], info["fps"]) == (W, H, FPS)
    assert intr["width"] == W and intr["height"] == H
    assert intr["fx"] == pytest.approx(0.95 * W) and intr["ppx"] == pytest.approx((W - 1) / 2)
    assert intr["model"] == "brown_conrady" and len(intr["coeffs"]) == 5


def test_red_stays_red(tmp_path: Path) -> None:
    path = make_playback_file(tmp_path / "red.db3", W, H, FPS, 3, pattern="red")
    with RealSenseCamera("cam_high", str(path), W, H, FPS) as cam:
        f = cam.latest()
        assert f is not None
        assert (f.image[..., 0] == 255).all() and (f.image[..., 1:] == 0).all()


def test_end_of_file_is_a_stall_naming_the_camera(tmp_path: Path) -> None:
    path = make_playback_file(tmp_path / "short.db3", W, H, FPS, 4)
    cam = RealSenseCamera("cam_right_wrist", str(path), W, H, FPS, stall_periods=4)
    cam.start()
    tick = threading.Event()
    end = time.monotonic() + 3
    while not cam.health().stalled and time.monotonic() < end:
        tick.wait(0.005)
    with pytest.raises(HardwareError, match=rf"cam_right_wrist \(realsense {path}\) delivered no frame for"):
        cam.health().raise_if_bad()
    assert cam.health().age < 4 / FPS + 0.3  # detected within a few periods of the last frame
    cam.stop()


def test_wrong_mode_names_what_the_file_offers(playback: Path) -> None:
    cam = RealSenseCamera("cam_high", str(playback), 640, 480, FPS)
    with pytest.raises(
        HardwareError, match=r"cam_high \(realsense .*\) cannot stream colour 640x480 at 30 fps"
    ) as e:
        cam.start()
    assert "it offers 160x120@30" in e.value.hint


def test_missing_file_and_missing_device(tmp_path: Path) -> None:
    with pytest.raises(HardwareError, match=r"playback file .*none.db3 does not exist"):
        RealSenseCamera("cam_high", str(tmp_path / "none.db3"), W, H, FPS).start()
    if len(rs.context().query_devices()) == 0:  # the test machine has no camera attached
        with pytest.raises(HardwareError, match="no RealSense camera is connected"):
            RealSenseCamera("cam_high", "123456789012", W, H, FPS).start()


def test_playback_file_is_paced_by_frame_time(tmp_path: Path) -> None:
    path = make_playback_file(tmp_path / "paced.db3", 96, 16, 50, 5, drop=(2,))
    with sqlite3.connect(path) as db:
        stamps = sorted({t for (t,) in db.execute("SELECT timestamp FROM messages WHERE timestamp > 0")})
    assert stamps == [int((1.0 + 20.0 * i) * 1e6) for i in (0, 1, 3, 4)]  # ns; frame 2 dropped
    with pytest.raises(ValueError, match=r"\.db3"):
        make_playback_file(tmp_path / "x.bag", 96, 16, 50, 1)
