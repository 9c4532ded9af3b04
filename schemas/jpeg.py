"""JPEG payloads as the episode file stores them: standard JPEG (true colours), RGB in and out."""

from __future__ import annotations

import cv2
import numpy as np


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    """Encode an (H, W, 3) uint8 RGB frame; returns the bytes as a 1-D uint8 array.

    OpenCV expects BGR, so the channels are swapped first: the file then shows true colours in any
    viewer, and `cv2.imdecode` (what ACT's loader calls) returns BGR as it always does.
    cv2.imencode releases the GIL, so encoder threads run in parallel with the control loop.
    """
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], (cv2.IMWRITE_JPEG_QUALITY, int(quality)))
    if not ok:  # pragma: no cover - OpenCV only fails on invalid input shapes
        raise ValueError(f"JPEG encoding failed for a frame of shape {rgb.shape}")
    return np.asarray(buf, dtype=np.uint8).reshape(-1)


_REDUCED = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def decode_jpeg(payload: np.ndarray, reduce: int = 1) -> np.ndarray | None:
    """Decode a (possibly zero-padded) JPEG row to (H, W, 3) uint8 RGB; None when it is not a JPEG.

    `reduce` 2, 4 or 8 decodes at that fraction of the size: libjpeg then skips most of the inverse
    DCT (1/4 scale costs ~1/6 of a full decode), which is what sampled checks and thumbnails want.
    """
    data = np.ascontiguousarray(payload, dtype=np.uint8).reshape(-1)
    if data.size < 4 or data[0] != 0xFF or data[1] != 0xD8:
        return None
    if reduce not in _REDUCED:
        raise ValueError(f"reduce must be 1, 2, 4 or 8, not {reduce}")
    bgr = cv2.imdecode(data, _REDUCED[reduce])
    if bgr is None:
        return None
    return np.ascontiguousarray(bgr[..., ::-1])
