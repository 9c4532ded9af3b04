"""OpenCVCamera on real video files written with cv2.VideoWriter (MJPG .avi): no mocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest

from demoforge.collect.cameras import Frame, OpenCVCamera, decode_index, open_camera
from demoforge.collect.cameras.opencv import is_device
from demoforge.collect.cameras.synthetic import SyntheticCamera
from demoforge.collect.errors import HardwareError
from demoforge.schemas.rig import CameraConfig

W, H, FPS = 160, 120, 30


def write_video(
    path: Path, n: int, render: Callable[[int], np.ndarray], fps: float = FPS, size: tuple[int, int] = (W, H)
) -> Path:
    """An MJPG .avi of `n` RGB frames from `render(i)` (written as BGR, as OpenCV expects)."""
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    assert out.isOpened()
    for i in range(n):
        out.write(cv2.cvtColor(render(i), cv2.COLOR_RGB2BGR))
    out.release()
    return path


def red_patch(i: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[40:80, 40:120] = (255, 0, 0)  # pure red in RGB
    return img


@pytest.fixture(scope="module")
def moving_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    synth = SyntheticCamera("gen", W, H, FPS)
    return write_video(tmp_path_factory.mktemp("video") / "moving.avi", 45, synth.render)


def drain(cam: OpenCVCamera, timeout: float = 5.0) -> list[Frame]:
    """Every distinct frame until the file ends."""
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


def test_red_stays_red(tmp_path: Path) -> None:
    path = write_video(tmp_path / "red.avi", 5, red_patch)
    with OpenCVCamera("cam_high", str(path), W, H, FPS, real_time=False) as cam:
        f = cam.latest()
        assert f is not None
        r, g, b = f.image[60, 80].astype(int)
        assert r > 200 and g < 50 and b < 50  # BGR was converted to RGB
        assert f.image[5, 5].max() < 30


def test_file_plays_at_its_rate_with_file_counter_and_clock(moving_video: Path) -> None:
    cam = OpenCVCamera("cam_high", str(moving_video), W, H, FPS)
    cam.start()
    frames = drain(cam)
    cam.stop()
    indices = [f.index for f in frames]
    assert indices[0] == 0 and indices[-1] == 44
    assert len(frames) >= 40  # real-time pacing: a waiting consumer sees (almost) every frame
    span = frames[-1].capture_time - frames[0].capture_time
    assert span == pytest.approx(44 / FPS, rel=0.15)
    for f in frames:
        assert decode_index(f.image) == f.index  # the counter survives MJPG
        # the file's presentation time; frame 0's is 0, which is no valid clock reading
        assert f.device_time == (None if f.index == 0 else pytest.approx(f.index / FPS, abs=1e-3))
        assert f.device_index is None  # OpenCV has no device frame counter


def test_fast_mode_reads_flat_out_and_then_reports_the_end(moving_video: Path) -> None:
    cam = OpenCVCamera("cam_high", str(moving_video), W, H, FPS, real_time=False, stall_periods=3)
    t = time.monotonic()
    cam.start()
    frames = drain(cam)
    assert frames[-1].index == 44
    assert time.monotonic() - t < 44 / FPS  # faster than real time
    tick = threading.Event()
    end = time.monotonic() + 2
    while not cam.health().stalled and time.monotonic() < end:
        tick.wait(0.005)
    health = cam.health()
    assert health.ended and health.stalled
    with pytest.raises(
        HardwareError, match=r"cam_high \(opencv .*moving.avi\) delivered no frame for .* \(its file ended\)"
    ):
        health.raise_if_bad()
    cam.stop()


@pytest.mark.parametrize(
    ("width", "height", "fps", "expect"),
    [
        (320, 240, FPS, r"delivers 160x120 at 30 fps, the rig asks for 320x240 at 30 fps"),
        (W, H, 15, r"delivers 160x120 at 30 fps, the rig asks for 160x120 at 15 fps"),
    ],
)
def test_size_and_rate_are_verified(
    moving_video: Path, width: int, height: int, fps: float, expect: str
) -> None:
    cfg = CameraConfig(
        name="cam_low", type="opencv", width=width, height=height, fps=fps, source=str(moving_video)
    )
    cam = open_camera(cfg)
    with pytest.raises(HardwareError, match=rf"cam_low \(opencv .*\) {expect}") as err:
        cam.start()
    assert "width = 160, height = 120, fps = 30" in err.value.hint
    assert cam.latest() is None


def test_missing_file_and_unopenable_device(tmp_path: Path) -> None:
    with pytest.raises(HardwareError, match=r"video file .*nope.avi does not exist"):
        OpenCVCamera("cam_high", str(tmp_path / "nope.avi"), W, H, FPS).start()
    with pytest.raises(HardwareError, match=r"cam_high \(opencv /dev/video99\) cannot be opened") as err:
        OpenCVCamera("cam_high", "/dev/video99", W, H, FPS).start()
    assert "demoforge devices" in err.value.hint


def test_device_or_file() -> None:
    assert is_device(0) and is_device("2") and is_device("/dev/video2")
    assert not is_device("clips/episode.avi")
