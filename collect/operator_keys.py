"""Single key presses from the terminal, without Enter, read on a background thread."""

from __future__ import annotations

import contextlib
import os
import queue
import select
import sys
import termios
import threading
import tty
from typing import Any


class TerminalKeys:
    """Puts the terminal in cbreak mode while active; `poll()` returns the next key or None."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdin
        self._keys: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._saved: list[Any] | None = None
        self._thread = threading.Thread(target=self._read, name="keys", daemon=True)

    def __enter__(self) -> TerminalKeys:
        fd = self.stream.fileno()
        self._saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)

    def _read(self) -> None:
        fd = self.stream.fileno()
        while not self._stop.is_set():
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                ch = os.read(fd, 1).decode(errors="ignore").lower()
                if ch:
                    self._keys.put(ch)

    def poll(self) -> str | None:
        try:
            return self._keys.get_nowait()
        except queue.Empty:
            return None
