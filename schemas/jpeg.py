"""JPEG payloads as the episode file stores them: the ALOHA channel convention, RGB in and out.

ALOHA's recorder hands RGB arrays straight to `cv2.imencode`, which takes them for BGR; every loader
built for those files (act-plus-plus, LeRobot's old ALOHA converter) decodes with `cv2.imdecode` and
gets RGB back. We write the same way so those loaders see true colours; a generic image viewer shows
such a JPEG with red and blue swapped. Early demoforge files were true-colour JPEG: the root attribute
`jpeg_channel_order` (episode_layout.JPEG_CHANNEL_ORDER) says which one a file holds, and
`decode_jpeg` returns RGB for both.
"""

from __future__ import annotations

import cv2
import numpy as np

from demoforge.schemas.episode_layout import JPEG_ALOHA, JPEG_CHANNEL_ORDERS, JPEG_TRUE_COLOUR

CHANNEL_ORDER = JPEG_ALOHA  # what encode_jpeg writes; the writer stores it in the file's root attributes


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    """Encode an (H, W, 3) uint8 RGB frame in the ALOHA convention; returns the bytes as 1-D uint8.

    cv2.imencode releases the GIL, so encoder threads run in parallel with the control loop.
    """
    ok, buf = cv2.imencode(".jpg", rgb, (cv2.IMWRITE_JPEG_QUALITY, int(quality)))
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input shapes
        raise ValueError(f"JPEG encoding failed for a frame of shape {rgb.shape}")
    return np.asarray(buf, dtype=np.uint8).reshape(-1)


_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def decode_jpeg(payload: np.ndarray, reduce: int = 1, order: str = CHANNEL_ORDER) -> np.ndarray | None:
    """Decode a (possibly zero-padded) JPEG row to (H, W, 3) uint8 RGB; None when it is not a JPEG.

    `order` is the file's channel convention (JPEG_ALOHA or JPEG_TRUE_COLOUR). `reduce` 2, 4 or 8
    decodes at that fraction of the size: libjpeg then skips most of the inverse DCT (1/4 scale costs
    ~1/6 of a full decode), which is what sampled checks and thumbnails want.
    """
    data = np.ascontiguousarray(payload, dtype=np.uint8).reshape(-1)
    if data.size < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    if reduce not in _REDUCED:
        raise ValueError(f"reduce must be 1, 2, 4 or 8, not {reduce}")
    if order not in JPEG_CHANNEL_ORDERS:
        raise ValueError(f"unknown JPEG channel order {order!r}; expected one of {JPEG_CHANNEL_ORDERS}")
    img = cv2.imdecode(data, _REDUCED[reduce])
    if img is None:
        return None
    # OpenCV hands back the channels in the order they went in: RGB for ALOHA files, BGR for true colour
    return np.ascontiguousarray(img[..., ::-1]) if order == JPEG_TRUE_COLOUR else img
