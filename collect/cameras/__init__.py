"""Cameras: one `Camera` protocol; RealSense, OpenCV (USB or video file) and synthetic cameras.

Each camera captures on its own thread and keeps only the newest `Frame` (RGB image, host capture
time, the camera's frame counter, the camera's own clock). pyrealsense2 is imported only when a
RealSense camera is opened or listed.
"""

from demoforge.collect.cameras.base import STALL_PERIODS, Camera, CameraHealth, Frame
from demoforge.collect.cameras.devices import list_cameras, open_camera
from demoforge.collect.cameras.opencv import OpenCVCamera
from demoforge.collect.cameras.realsense import RealSenseCamera
from demoforge.collect.cameras.synthetic import SyntheticCamera, SyntheticFaults, decode_index

__all__ = [
    "STALL_PERIODS",
    "Camera",
    "CameraHealth",
    "Frame",
    "OpenCVCamera",
    "RealSenseCamera",
    "SyntheticCamera",
    "SyntheticFaults",
    "decode_index",
    "list_cameras",
    "open_camera",
]
