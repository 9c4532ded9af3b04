"""SyntheticCamera: rate, identity of frames, fault injection, stall detection, the Camera protocol."""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator

import numpy as np
import pytest

from demoforge.collect.cameras import Camera, Frame, SyntheticCamera, SyntheticFaults, decode_index
from demoforge.collect.cameras.base import CaptureThread
from demoforge.collect.cameras.synthetic import encode_index
from demoforge.collect.errors import HardwareError
from tests.polling import poll

POLL_S = 0.005  # a camera publishes every 10 ms or so: polling faster would only spin


def collect(cam: CaptureThread, n: int, timeout: float = 3.0) -> list[Frame]:
    """The next `n` distinct frames the camera publishes (a fast consumer sees every one)."""
    frames: list[Frame] = []
    last = -1
    end = time.monotonic() + timeout
    while len(frames) < n and time.monotonic() < end:
        f = cam.wait_for_frame(last, timeout=end - time.monotonic())
        if f is None:
            break
        frames.append(f)
        last = f.index
    return frames


@pytest.fixture
def camera() -> Iterator[SyntheticCamera]:
    cam = SyntheticCamera("cam_high", 160, 120, 100.0)
    yield cam
    cam.stop()


def test_is_a_camera(camera: SyntheticCamera) -> None:
    assert isinstance(camera, Camera)
    assert camera.latest() is None  # nothing before start()


def test_frames_carry_counter_and_rgb_image(camera: SyntheticCamera) -> None:
    camera.start()
    frames = collect(camera, 20)
    assert len(frames) == 20
    for f in frames:
        assert f.image.shape == (120, 160, 3) and f.image.dtype == np.uint8
        assert decode_index(f.image) == f.index
        assert f.device_time == pytest.approx(f.index / 100.0)
    indices = [f.index for f in frames]
    assert indices == sorted(indices)
    # the moving element and the rolled texture make consecutive frames differ
    assert not np.array_equal(frames[0].image[8:], frames[1].image[8:])


def test_rate_follows_deadlines_without_drift(camera: SyntheticCamera) -> None:
    camera.start()
    frames = collect(camera, 40)
    span = frames[-1].capture_time - frames[0].capture_time
    # counter follows the deadlines: 39 periods of 10 ms, whatever each render costs
    assert frames[-1].index - frames[0].index == pytest.approx(span * 100.0, abs=3)
    assert camera.health().ok


def test_encode_decode_round_trip() -> None:
    img = np.zeros((8, 96, 3), np.uint8)
    for i in (0, 1, 5, 12345, (1 << 24) - 1):
        encode_index(img, i)
        assert decode_index(img) == i


def test_drop_makes_the_counter_jump() -> None:
    cam = SyntheticCamera("cam_left_wrist", 128, 96, 100.0, faults=SyntheticFaults(drop=(range(5, 8),)))
    with cam:
        frames = collect(cam, 12)
    indices = [f.index for f in frames]
    assert not {5, 6, 7} & set(indices)
    assert any(a <= 4 and b >= 8 for a, b in itertools.pairwise(indices))  # one jump


def test_freeze_repeats_the_image_while_the_counter_advances() -> None:
    cam = SyntheticCamera("cam_high", 128, 96, 100.0, faults=SyntheticFaults(freeze=(range(4, 9),)))
    with cam:
        frames = collect(cam, 12)
    frozen = [f for f in frames if f.index in range(4, 9)]
    assert len(frozen) >= 3  # a consumer may miss a frame under load, never most of them
    for f in frozen:
        assert np.array_equal(f.image, cam.render(3))
        assert decode_index(f.image) == 3  # the frozen picture still shows its own counter
    assert all(decode_index(f.image) == f.index for f in frames if f.index >= 9)


def test_black_frames() -> None:
    cam = SyntheticCamera("cam_high", 128, 96, 100.0, faults=SyntheticFaults(black=(range(2, 6),)))
    with cam:
        frames = collect(cam, 8)
    black = [f for f in frames if f.index in range(2, 6)]
    assert black and all(f.image.max() == 0 for f in black)
    assert all(f.image.mean() > 50 for f in frames if f.index not in range(2, 6))


def test_stall_is_detected_within_a_few_periods_and_names_the_camera() -> None:
    cam = SyntheticCamera("cam_left_wrist", 128, 96, 100.0, faults=SyntheticFaults(stall_from=5))
    with cam:
        assert cam.wait_for_frame(after=3) is not None
        stopped_at = cam.latest()
        assert stopped_at is not None
        assert poll(lambda: cam.health().stalled, 2.0, POLL_S)
        health = cam.health()
        # 5 periods of 10 ms, plus the polling step and scheduling slack
        assert health.age < 0.2
        assert cam.latest() is stopped_at  # the last frame stays available
        with pytest.raises(HardwareError) as err:
            health.raise_if_bad()
    msg = str(err.value)
    assert msg.startswith("cam_left_wrist (synthetic) delivered no frame for")
    assert "periods" in msg


def test_faults_can_change_while_running(camera: SyntheticCamera) -> None:
    camera.start()
    assert camera.wait_for_frame() is not None
    camera.faults = SyntheticFaults(stall_from=0)
    assert poll(lambda: camera.health().stalled, 2.0, POLL_S)
    camera.faults = SyntheticFaults()
    assert poll(lambda: camera.health().ok, 2.0, POLL_S)


def test_stop_is_prompt_and_idempotent(camera: SyntheticCamera) -> None:
    slow = SyntheticCamera("slow", 128, 96, 1.0)  # 1 s periods: stop must not wait for the deadline
    slow.start()
    t = time.monotonic()
    slow.stop()
    slow.stop()
    assert time.monotonic() - t < 0.5
    camera.stop()  # never started


def test_start_fails_clearly_when_no_frame_comes() -> None:
    cam = SyntheticCamera("cam_high", 128, 96, 50.0, faults=SyntheticFaults(stall_from=0))
    cam.first_frame_timeout = 0.2
    with pytest.raises(HardwareError, match=r"cam_high \(synthetic\) delivered no frame within 0.2 s"):
        cam.start()


def test_rejects_bad_fault_ranges() -> None:
    with pytest.raises(ValueError, match="contiguous"):
        SyntheticFaults(drop=(range(0, 10, 2),))
    assert math.isfinite(SyntheticCamera("c", 96, 8, 30.0).render(0).mean())
