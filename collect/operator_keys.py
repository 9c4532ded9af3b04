"""Single key presses from the terminal, without Enter, read on a background thread.

The stop key (`STOP_KEYS`: h, or Esc) is acted on by the reading thread itself: it sets `stop`, an
Event the control loop checks every tick (`ControlLoop.halt_flag`), so the followers hold from the
next tick whatever the main thread is doing. While the keys are read, Ctrl-C is the stop key too (a
SIGINT handler sets `stop`); a second Ctrl-C while stopped raises KeyboardInterrupt (the program
ends, the followers left holding: see `collect.hardware`). Esc is also the first byte of the arrow
keys' sequences (a stop nobody meant: safe), and tmux or screen may pass it on up to their
`escape-time` late: `h` is the one to teach.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import signal
import sys
import termios
import threading
import tty
from typing import Any

STOP_KEYS = ("h", "\x1b")  # hold where you are (the display calls it "h")


class TerminalKeys:
    """Puts the terminal in cbreak mode while active; `poll()` returns the next key or None."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdin
        self.stop = threading.Event()  # set by the stop key (or Ctrl-C); cleared by whoever resumes
        self._keys: queue.Queue[str] = queue.Queue()
        self._done = threading.Event()
        self._saved: list[Any] | None = None
        self._sigint: Any = None
        self._thread = threading.Thread(target=self._read, name="keys", daemon=True)

    def __enter__(self) -> TerminalKeys:
        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)  # (TCSAFLUSH: keys typed before this are dropped)
        if threading.current_thread() is threading.main_thread():
            self._sigint = signal.signal(signal.SIGINT, self._on_sigint)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)  # it wakes every 0.1 s: the stream may be closed after this
        if self._sigint is not None:
            signal.signal(signal.SIGINT, self._sigint)
            self._sigint = None
        if self._saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)

    def _on_sigint(self, signum: int, frame: object) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt("a second Ctrl-C while the followers hold")
        self.stop.set()
        self._keys.put(STOP_KEYS[0])

    def _read(self) -> None:
        fd = self.stream.fileno()
        while not self._done.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                data = os.read(fd, 1)
                if not data:  # the terminal went away: nothing more will come
                    return
                ch = data.decode(errors="ignore").lower()
                if ch in STOP_KEYS:
                    self.stop.set()  # before anything else: the control loop holds from its next tick
                if ch:
                    self._keys.put(ch)

    def poll(self) -> str | None:
        try:
            return self._keys.get_nowait()
        except queue.Empty:
            return None
