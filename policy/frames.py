"""The one resize between a camera frame and the network's input size: training, deploy and load_policy.

OpenCV's area interpolation: the average over each output pixel's footprint, so a 480x640 frame shrunk
to 240x320 loses no detail to aliasing (bilinear would sample every other pixel). No torch here: an
ONNX policy on a robot computer resizes with the same code the training data went through.
"""

from __future__ import annotations

import cv2
import numpy as np


def resize_frame(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 RGB -> (height, width, 3) uint8 at size = (height, width); as it is if it fits."""
    if img.shape[:2] == size:
        return img
    return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
