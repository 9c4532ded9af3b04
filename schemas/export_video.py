"""MP4 video files for `export --to lerobot`, encoded with PyAV (FFmpeg).

Why PyAV and not OpenCV's VideoWriter: the opencv-python wheels carry an FFmpeg without an H.264 or
AV1 encoder (only MPEG-4 Part 2, `mp4v`), which browsers and the Hugging Face dataset viewer do not
play and which LeRobot's own tools never write. PyAV's wheels include libx264 and SVT-AV1.

Frame i of a file is presented at i / fps exactly (time base 1/fps, no B-frames, so no reordering or
edit list shifts a timestamp): LeRobot finds a frame by its timestamp with a 1e-4 s tolerance.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.schemas.errors import ConfigError


@dataclass(frozen=True)
class VideoCodec:
    """One encoder setting: FFmpeg encoder name, the codec name the file reports, and encoder options."""

    encoder: str
    name: str
    options: tuple[tuple[str, str], ...]


# gop 2 (a key frame every second frame), as LeRobot records: training reads frames at random, and a
# decoder must start at the key frame before the one asked for. crf 23 / 30 are the encoders' defaults.
CODECS = {
    "h264": VideoCodec("libx264", "h264", (("g", "2"), ("bf", "0"), ("crf", "23"), ("preset", "veryfast"))),
    "av1": VideoCodec("libsvtav1", "av1", (("g", "2"), ("crf", "30"), ("preset", "8"))),  # 10+: "artifacts"
}
PIX_FMT = "yuv420p"


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise ConfigError(
            "the LeRobot export needs PyAV to write its videos", "pip install 'demoforge[export]'"
        ) from None
    return av


class VideoFile:
    """Appends RGB frames to one mp4 file at a fixed rate."""

    def __init__(self, path: Path, fps: int, width: int, height: int, codec: str = "h264") -> None:
        if width % 2 or height % 2:
            raise ConfigError(
                f"{path.parent.name}: frames of {width}x{height} cannot be stored as {PIX_FMT} video",
                "record with an even width and height",
            )
        av = _av()
        spec = CODECS[codec]
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration to stderr otherwise
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._av = av
        self._container = av.open(str(path), "w")
        stream = self._container.add_stream(spec.encoder, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, PIX_FMT
        stream.time_base = Fraction(1, fps)
        stream.options = dict(spec.options)
        self._stream = stream
        self.frames = 0
        self.bytes = 0  # of the encoded packets so far (the encoder holds back a few frames)

    def add(self, rgb: np.ndarray) -> None:
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames
        for packet in self._stream.encode(frame):
            self.bytes += packet.size
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
