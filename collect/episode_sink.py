"""EpisodeSink: takes ticks from the control thread and writes them, off the control thread.

The control thread only enqueues a `Tick` holding references to the camera frames (no copy, no
encoding). This is the only place frames are JPEG-encoded: the writer stores what it is given. A
writer thread starts each tick's JPEG encodes on a small thread pool (OpenCV releases
the GIL while encoding, so encoders run on the other core) and appends finished ticks, in order, to
the `EpisodeWriter`, which flushes at least every `flush_interval`. Why threads and not a writer
process: a process would need every raw frame (2.7 MB a tick for 3 cameras at 640x480) pickled
through a pipe by the recording process, GIL-holding work the threads avoid; the figures that show
the control loop keeps time with this design are in benchmarks/RESULTS.md (bench_record.py).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.schemas.episode_writer import EpisodeWriter, Tick
from demoforge.schemas.jpeg import encode_jpeg

_STOP = object()


class EpisodeSink:
    """A writer thread (plus JPEG encoder threads) in front of one `EpisodeWriter`."""

    def __init__(
        self,
        writer: EpisodeWriter,
        *,
        jpeg_quality: int = 90,
        encoders: int = 2,
        observer: Callable[[Tick], None] | None = None,
    ) -> None:
        self.writer = writer
        self.observer = observer  # sees each tick on the writer thread (the live view); must not block
        compress = writer.attrs.compress  # the file decides what it stores
        self.jpeg_quality = jpeg_quality
        self._q: queue.Queue[Any] = queue.Queue()
        self._pool = ThreadPoolExecutor(encoders, thread_name_prefix="jpeg") if compress else None
        self._in_flight = 0  # ticks taken from the queue, not yet appended
        self.error: BaseException | None = None  # a write failure, surfaced to the control loop
        self.max_backlog = 0
        self.last: Tick | None = None  # the newest tick handed over (the recorder labels from it)
        self._thread = threading.Thread(target=self._run, name="episode-writer", daemon=True)
        self._thread.start()

    @property
    def backlog(self) -> int:
        """Ticks handed over and not yet in the file's buffers."""
        return self._q.qsize() + self._in_flight

    def put(self, tick: Tick) -> None:
        """Hand over one tick (O(1) on the control thread)."""
        self._q.put(tick)
        self.last = tick
        b = self.backlog
        if b > self.max_backlog:
            self.max_backlog = b

    def _encode(self, tick: Tick) -> tuple[Tick, dict[str, Future[np.ndarray]]]:
        assert self._pool is not None
        return tick, {
            cam: self._pool.submit(encode_jpeg, s.image, self.jpeg_quality)
            for cam, s in tick.frames.items()
            if s.image is not None
        }

    def _run(self) -> None:
        pending: deque[tuple[Tick, dict[str, Future[np.ndarray]]]] = deque()
        stopping = False
        try:
            while not stopping or pending:
                # Take everything waiting and start its encoding, then finish the oldest tick.
                while not stopping:
                    try:
                        item = self._q.get(block=not pending)
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                        break
                    self._in_flight += 1
                    if self.observer is not None:
                        self.observer(item)
                    if self._pool is None:
                        self.writer.append(item)
                        self._in_flight -= 1
                    else:
                        pending.append(self._encode(item))
                if pending:
                    tick, futures = pending.popleft()
                    tick.frames = {
                        cam: replace(s, image=None, jpeg=futures[cam].result()) if cam in futures else s
                        for cam, s in tick.frames.items()
                    }
                    self.writer.append(tick)
                    self._in_flight -= 1
        except BaseException as e:  # disk full, bad frame: the control loop stops the episode
            self.error = e
            for _, futures in pending:
                for f in futures.values():
                    f.cancel()

    def close(
        self, *, success: int | None, loop_stats: dict[str, Any] | None, complete: bool = True
    ) -> tuple[Path, float]:
        """Drain, close the file; returns (path, seconds the close took after the last tick)."""
        t0 = time.monotonic()
        self._q.put(_STOP)
        self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self.error is not None:
            self.writer.close(success=success, loop_stats=loop_stats, complete=False)
            raise self.error
        path = self.writer.close(success=success, loop_stats=loop_stats, complete=complete)
        return path, time.monotonic() - t0

    def abort(self, loop_stats: dict[str, Any] | None = None) -> Path:
        """Keep what was recorded (`complete` false), whatever went wrong."""
        self._q.put(_STOP)
        self._thread.join(timeout=10)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        try:
            return self.writer.close(loop_stats=loop_stats, complete=False)
        except Exception:  # the caller is raising the real error; the SWMR file stays readable up to
            return self.writer.path  # its last flush, and `demoforge recover` completes it
