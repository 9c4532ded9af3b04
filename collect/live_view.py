"""`record --view`, `deploy --view`, `teleop --view`: what the cameras see and the joints do, live in Rerun.

The control thread never calls the viewer. While recording, the episode's writer thread offers each
tick (`for_episode`: a counter, and one `put_nowait` into a one-slot queue for every `every`-th tick);
teleop samples the loop's state from its main thread. A thread of this class's own logs to Rerun, so
a slow or closed viewer fills the slot and later samples are skipped (counted), never waited for.
Entity layout: schemas/view_layout.py.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_writer import Tick
from demoforge.schemas.errors import UserError
from demoforge.schemas.rig import Rig
from demoforge.schemas.view_layout import APP_ID, blueprint, import_rerun, log_tick, spawn_viewer

RATE_HZ = 10.0  # samples per second sent to the viewer: enough to see a camera go dark or a joint lag
MAX_WIDTH = 320  # frames shrunk to this width in the viewer thread (OpenCV releases the GIL meanwhile)


def _small(img: np.ndarray) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    if w <= MAX_WIDTH:
        return img
    return cv2.resize(img, (MAX_WIDTH, round(h * MAX_WIDTH / w)), interpolation=cv2.INTER_AREA)


class _Sample:
    __slots__ = ("command", "episode", "follower", "images", "latency_ms", "leader", "tick", "time_s")

    def __init__(
        self,
        episode: int,
        tick: int,
        time_s: float,
        follower: np.ndarray,
        command: np.ndarray,
        leader: np.ndarray | None,
        images: Mapping[str, np.ndarray],
        latency_ms: float | None = None,
    ) -> None:
        self.episode, self.tick, self.time_s = episode, tick, time_s
        self.follower, self.command, self.leader = follower, command, leader
        self.images, self.latency_ms = images, latency_ms


class LiveView:
    """A Rerun viewer fed at `RATE_HZ` off the control thread; `save` writes an .rrd instead."""

    def __init__(self, rig: Rig, *, save: Path | None = None, rate_hz: float = RATE_HZ) -> None:
        self.rr = import_rerun()
        self.rec = self.rr.RecordingStream(APP_ID)
        if save is not None:
            self.rec.save(str(save))
        else:
            try:
                spawn_viewer(self.rec)
            except UserError as e:
                raise UserError(e.message, "write the live view to a file: --view FILE.rrd") from None
        self.rec.send_blueprint(blueprint(self.rr, [c.name for c in rig.cameras], rig.joint_names))
        self.every = max(1, round(rig.fps / rate_hz))
        self.joint_names = rig.joint_names
        self.sent = 0
        self.skipped = 0  # samples dropped because the viewer thread was still busy
        self._q: queue.Queue[_Sample | None] = queue.Queue(maxsize=1)
        self._last: tuple[int, int, float] | None = None  # (episode, tick, time) of the previous sample
        self._thread = threading.Thread(target=self._run, name="live-view", daemon=True)
        self._thread.start()

    def __enter__(self) -> LiveView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def offer(self, sample: _Sample) -> None:
        """Hand one sample over, or skip it when the viewer thread is busy (never blocks)."""
        try:
            self._q.put_nowait(sample)
        except queue.Full:
            self.skipped += 1

    def for_episode(self, episode: int) -> Callable[[Tick], None]:
        """The writer thread's hook for one episode: every `every`-th tick goes to the viewer."""
        count = itertools.count()

        def observe(tick: Tick) -> None:
            n = next(count)
            if n % self.every:
                return
            # the images now: the writer replaces them by their JPEG bytes once encoded
            images = {c: s.image for c, s in tick.frames.items() if s.image is not None}
            latency = tick.scalars.get(L.INFERENCE_LATENCY)
            self.offer(
                _Sample(
                    episode, n, tick.timestamp, tick.qpos, tick.action, tick.leader_qpos, images,
                    None if latency is None else 1000.0 * float(latency),
                )
            )  # fmt: skip

        return observe

    def sample_loop(self, loop: Any, tick: int, time_s: float) -> None:
        """Teleop (no episode being written): the loop's newest state, from the caller's thread."""
        command = loop.map.last if loop.map.last is not None else loop.qpos
        images = {c: f.image for c, f in loop.frames.items() if getattr(f, "image", None) is not None}
        self.offer(_Sample(0, tick, time_s, loop.qpos.copy(), np.array(command), loop.leader.copy(), images))

    def _run(self) -> None:
        rr = self.rr
        while (s := self._q.get()) is not None:
            rec = self.rec
            log_tick(
                rec,
                rr,
                episode=s.episode,
                tick=s.tick,
                time_s=s.time_s,
                joint_names=self.joint_names,
                follower=s.follower,
                command=s.command,
                leader=s.leader,
                images={c: _small(img) for c, img in s.images.items()},
            )
            last = self._last
            if last is not None and last[0] == s.episode and s.time_s > last[2]:
                rec.log("loop/rate_hz", rr.Scalars((s.tick - last[1]) / (s.time_s - last[2])))
            if s.latency_ms is not None:
                rec.log("loop/inference_ms", rr.Scalars(s.latency_ms))
            self._last = (s.episode, s.tick, s.time_s)
            self.sent += 1

    def close(self) -> None:
        self._q.put(None)  # after the last sample (the slot frees as soon as the thread takes it)
        self._thread.join(timeout=30)
        with contextlib.suppress(RuntimeError):  # a viewer closed by the operator: nothing left to send
            self.rec.flush()
        self.rec.disconnect()
