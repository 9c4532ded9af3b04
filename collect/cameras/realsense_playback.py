"""Make RealSense playback files without a camera, for tests, benchmarks and the virtual rig.

Frames are pushed through pyrealsense2's software device while its recorder writes a ROS 2 bag
(`.db3`, an SQLite file). The recorder stamps each message with the wall time at which it arrived,
and playback paces itself by those stamps, so a file recorded as fast as we can render would play
in a few milliseconds. We therefore rewrite the stamps to the frames' own timestamps afterwards
(n/fps, with gaps where frames were dropped): the file then plays at the camera's rate.
"""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from demoforge.collect.cameras.realsense import import_rs
from demoforge.collect.cameras.synthetic import SyntheticCamera

SERIAL = "DF0000000001"  # the serial number the playback device reports
START_MS = 1.0  # device time of frame 0; > 0 keeps frames after the file's static messages (stamped 0)
INTRINSICS = {"fx_per_width": 0.95, "coeffs": [0.05, -0.02, 0.0, 0.0, 0.0]}  # a plausible D405-like lens


def pattern_renderer(pattern: str, width: int, height: int) -> Callable[[int], np.ndarray]:
    """A named test pattern: "moving" (the synthetic camera's image, counter encoded), "red", "black"."""
    if pattern == "moving":
        return SyntheticCamera("playback", width, height, 30.0).render
    img = np.zeros((height, width, 3), np.uint8)
    if pattern == "red":
        img[..., 0] = 255
    elif pattern != "black":
        raise ValueError(f"unknown pattern {pattern!r}: use 'moving', 'red', 'black' or a function")
    return lambda index: img


def make_playback_file(
    path: str | Path,
    width: int,
    height: int,
    fps: int,
    n_frames: int,
    pattern: str | Callable[[int], np.ndarray] = "moving",
    *,
    drop: Iterable[int] = (),
    serial: str = SERIAL,
) -> Path:
    """Record `n_frames` colour frames (rgb8) into a `.db3` that plays at `fps` through `rs.pipeline`.

    pattern: a name for `pattern_renderer` or a function frame_number -> (H, W, 3) uint8 RGB image.
    drop: frame numbers left out, so the played stream's counter and timestamps jump over them.
    """
    rs = import_rs()
    path = Path(path)
    if path.suffix != ".db3":
        raise ValueError(f"{path}: pyrealsense2's recorder writes ROS 2 bags and needs a .db3 name")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    dropped = set(drop)
    render = pattern if callable(pattern) else pattern_renderer(pattern, width, height)

    dev = rs.software_device()
    dev.register_info(rs.camera_info.name, "demoforge synthetic RealSense")
    dev.register_info(rs.camera_info.serial_number, serial)
    sensor = dev.add_sensor("Color")
    intr = rs.intrinsics()
    intr.width, intr.height = width, height
    intr.fx = intr.fy = INTRINSICS["fx_per_width"] * width  # type: ignore[operator]
    intr.ppx, intr.ppy = (width - 1) / 2, (height - 1) / 2
    intr.model = rs.distortion.brown_conrady
    intr.coeffs = INTRINSICS["coeffs"]
    stream = rs.video_stream()
    stream.type, stream.index, stream.uid = rs.stream.color, 0, 0
    stream.width, stream.height, stream.fps = width, height, fps
    stream.bpp, stream.fmt, stream.intrinsics = 3, rs.format.rgb8, intr
    profile = sensor.add_video_stream(stream).as_video_stream_profile()

    recorder = rs.recorder(str(path), dev)
    sensor.open(profile)
    queue = rs.frame_queue(1)
    sensor.start(queue)
    recorded: list[int] = []
    for i in range(n_frames):
        if i in dropped:
            continue
        image = np.ascontiguousarray(render(i), dtype=np.uint8)
        if image.shape != (height, width, 3):
            raise ValueError(f"pattern gave an image of shape {image.shape}, expected {(height, width, 3)}")
        frame = rs.software_video_frame()
        frame.pixels, frame.stride, frame.bpp = image, width * 3, 3
        frame.timestamp = START_MS + 1000.0 * i / fps
        frame.domain = rs.timestamp_domain.hardware_clock
        frame.frame_number = i
        frame.profile = profile
        sensor.on_video_frame(frame)
        queue.wait_for_frame()  # one frame in flight: the recorder has written it when it arrives
        recorded.append(i)
    sensor.stop()
    sensor.close()
    del recorder, queue, sensor, dev, profile
    gc.collect()  # the bag is finalized only when the recorder is destroyed
    _retime(path, [int((START_MS + 1000.0 * i / fps) * 1e6) for i in recorded])
    return path


def _retime(path: Path, stamps_ns: list[int]) -> None:
    """Give the k-th recorded frame's messages (image, metadata, camera info) the stamp stamps_ns[k]."""
    with sqlite3.connect(path) as db:
        image_topics = [t for (t,) in db.execute("SELECT id FROM topics WHERE name LIKE '%/image/data%'")]
        if not image_topics:
            raise RuntimeError(f"{path}: no image topic: pyrealsense2's bag layout changed")
        marks = ",".join("?" * len(image_topics))
        old = [
            t
            for (t,) in db.execute(
                f"SELECT timestamp FROM messages WHERE topic_id IN ({marks}) ORDER BY id", image_topics
            )
        ]
        if len(old) != len(stamps_ns) or len(set(old)) != len(old) or min(old, default=1) <= 0:
            raise RuntimeError(f"{path}: expected {len(stamps_ns)} distinct frame stamps, found {len(old)}")
        # shift everything out of the way first, so an old stamp never collides with a new one
        big = max(max(old), max(stamps_ns)) + 1
        db.execute("UPDATE messages SET timestamp = timestamp + ? WHERE timestamp > 0", (big,))
        db.executemany(
            "UPDATE messages SET timestamp = ? WHERE timestamp = ?",
            [(new, o + big) for new, o in zip(stamps_ns, old, strict=True)],
        )
