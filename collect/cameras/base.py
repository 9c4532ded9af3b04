"""The camera interface: a `Frame`, the `Camera` protocol, and the capture thread every camera runs.

A camera runs its own thread that keeps only the newest frame. The recorder's control thread calls
`latest()` once per tick (never blocks) and `health()` to learn whether the camera has stalled::

    cam = open_camera(cfg)
    cam.start()                      # blocks until the first frame, or raises HardwareError
    frame = cam.latest()             # the newest Frame; None only before start()
    cam.health().raise_if_bad()      # HardwareError if stalled (> stall_periods without a frame) or failed
    cam.stop()
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np

from demoforge.collect.errors import HardwareError

STALL_PERIODS = 5.0  # a camera that delivers nothing for this many frame periods has stalled
FIRST_FRAME_TIMEOUT = 5.0  # s start() waits for the first frame (a RealSense needs ~1-2 s to stream)


@dataclass(frozen=True)
class Frame:
    """One captured image with its timing; never modified after capture."""

    image: np.ndarray  # (H, W, 3) uint8 RGB
    capture_time: float  # host time.monotonic() when the frame reached us, s
    index: int  # the frame counter as the driver reports it (ours for OpenCV); gaps mean dropped frames
    device_time: float | None = None  # s on the camera's own clock; None when it has none for this frame
    device_index: int | None = None  # the device's own frame counter; None when the driver has none


@dataclass(frozen=True)
class CameraHealth:
    """A snapshot of a camera's delivery, from `Camera.health()`."""

    name: str
    source: str  # "opencv /dev/video2", "realsense 123456789", "synthetic"
    fps: float  # the rate the rig asks for
    frames: int  # frames delivered since start()
    age: float  # s since the newest frame arrived (since start() while none has)
    stall_periods: float
    ended: bool = False  # a video or playback file reached its end
    error: str = ""  # why the capture thread failed; "" while it runs

    @property
    def periods(self) -> float:
        """Frame periods without a new frame."""
        return self.age * self.fps

    @property
    def stalled(self) -> bool:
        return self.periods > self.stall_periods

    @property
    def ok(self) -> bool:
        return not self.error and not self.stalled

    def raise_if_bad(self) -> None:
        """Raise a HardwareError naming the camera if it failed or stalled."""
        who = f"{self.name} ({self.source})"
        if self.error:
            raise HardwareError(
                f"{who} failed: {self.error}", "check its cable and that no other program uses it"
            )
        if self.stalled:
            why, hint = (
                (" (its file ended)", "use a longer file, or end the episode before the file does")
                if self.ended
                else ("", "check the cable and USB bandwidth (one camera per USB controller at 640x480 MJPG)")
            )
            raise HardwareError(
                f"{who} delivered no frame for {self.age:.2f} s ({self.periods:.0f} periods){why}", hint
            )


@runtime_checkable
class Camera(Protocol):
    """What the recorder needs from a camera. `name` is the rig's camera name."""

    name: str
    device_clock: bool  # frames may carry `device_time` (the episode then has DEVICE_TIME/<cam>)
    device_counter: bool  # frames carry `device_index` (the episode then has DEVICE_INDEX/<cam>)

    def start(self) -> None: ...  # open the device, start the thread, wait for the first frame

    def latest(self) -> Frame | None: ...  # the newest frame; never blocks

    def health(self) -> CameraHealth: ...

    def stop(self) -> None: ...  # idempotent; releases the device

    def info(self) -> dict[str, Any]: ...  # type, source, size, fps (+ serial, intrinsics) for the episode


class EndOfStream(Exception):
    """Raised by `CaptureThread._grab` when a file source has no more frames."""


@dataclass
class _Slot:
    frame: Frame | None = None
    frames: int = 0
    error: str = ""
    ended: bool = False
    since: float = field(default_factory=time.monotonic)  # start() time, for the age before a frame


class CaptureThread:
    """Base of every camera: owns the thread and the latest-frame slot.

    Subclasses implement `_open` (on the caller's thread, so errors reach `start()`), `_grab`
    (blocks at most ~0.1 s; returns a Frame, or None to let the loop look at the stop flag;
    raises EndOfStream at the end of a file), and `_close` (called on the capture thread as it ends).
    """

    kind = "camera"  # the rig's camera type
    device_clock = False  # see `Camera`
    device_counter = False
    source = "camera"  # set by subclasses, e.g. "opencv /dev/video2"; names the camera in errors

    def __init__(
        self,
        name: str,
        width: int,
        height: int,
        fps: float,
        *,
        stall_periods: float = STALL_PERIODS,
        first_frame_timeout: float = FIRST_FRAME_TIMEOUT,
    ) -> None:
        self.name = name
        self.width, self.height = width, height
        self.fps = float(fps)
        self.stall_periods = stall_periods
        self.first_frame_timeout = first_frame_timeout
        self._slot = _Slot()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- subclass hooks ---------------------------------------------------------------------------

    def _open(self) -> None:
        raise NotImplementedError

    def _grab(self) -> Frame | None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    # --- the Camera protocol ----------------------------------------------------------------------

    def start(self) -> None:
        """Open the device, start capturing and wait for the first frame."""
        if self._thread is not None:
            return
        self._open()
        self._stop.clear()
        self._slot = _Slot()
        self._thread = threading.Thread(target=self._run, name=f"camera-{self.name}", daemon=True)
        self._thread.start()
        with self._cond:
            self._cond.wait_for(
                lambda: self._slot.frames or self._slot.error or self._slot.ended,
                timeout=self.first_frame_timeout,
            )
        slot = self._slot
        if not slot.frames:
            self.stop()
            if slot.error:
                raise HardwareError(
                    f"{self.name} ({self.source}) failed: {slot.error}",
                    "check its cable and that no other program uses it",
                )
            raise HardwareError(
                f"{self.name} ({self.source}) delivered no frame within {self.first_frame_timeout:.1f} s "
                "of starting",
                "check that the device streams (unplug and replug it) and its settings",
            )

    def latest(self) -> Frame | None:
        return self._slot.frame

    def health(self) -> CameraHealth:
        s = self._slot
        newest = s.frame.capture_time if s.frame is not None else s.since
        return CameraHealth(
            self.name,
            self.source,
            self.fps,
            s.frames,
            time.monotonic() - newest,
            self.stall_periods,
            s.ended,
            s.error,
        )

    def stop(self) -> None:
        """Stop capturing and release the device; safe to call twice or before start()."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=3.0)  # _grab returns within ~0.1 s (V4L2: within its 1 s read timeout)

    def info(self) -> dict[str, Any]:
        """What an episode records about this camera (root attribute `cameras`); complete after start()."""
        return {
            "name": self.name,
            "type": self.kind,
            "source": self.source,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
        }

    # --- for tests and benchmarks -----------------------------------------------------------------

    def wait_for_frame(self, after: int = -1, timeout: float = 2.0) -> Frame | None:
        """Block until a frame with `index > after` is the latest one (None on timeout or failure)."""

        def ready() -> bool:
            f = self._slot.frame
            return (f is not None and f.index > after) or bool(self._slot.error) or self._slot.ended

        with self._cond:
            self._cond.wait_for(ready, timeout=timeout)
        f = self._slot.frame
        return f if f is not None and f.index > after else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the thread -------------------------------------------------------------------------------

    def _run(self) -> None:
        # the device is released by this thread, after its last _grab: closing it from stop() while
        # a native read is still blocked in it can crash the driver library
        try:
            while not self._stop.is_set():
                frame = self._grab()
                if frame is None:
                    continue
                with self._cond:
                    self._slot.frame = frame
                    self._slot.frames += 1
                    self._cond.notify_all()
        except EndOfStream:
            with self._cond:
                self._slot.ended = True
                self._cond.notify_all()
        except Exception as e:  # a device error must reach the recorder, not die with the thread
            with self._cond:
                self._slot.error = (
                    f"{type(e).__name__}: {e}" if not isinstance(e, HardwareError) else e.message
                )
                self._cond.notify_all()
        finally:
            self._close()
