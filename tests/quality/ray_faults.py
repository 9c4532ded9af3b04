"""Per-episode check functions that fail on purpose, for the engine tests (shipped to Ray by value).

Each wraps the real `check_episode`: the scheduling is what is under test, and the faults are real
ones (a process killed by SIGKILL, a process that segfaults, an exception from inside an open reader).
"""

from __future__ import annotations

import ctypes
import os
import signal
from pathlib import Path

from demoforge.quality import Thresholds, check_episode
from demoforge.quality.runner import EpisodeResult
from demoforge.schemas.episode_source import EpisodeRef, open_episode


def killed_once(marker: Path, victim: str, ref: EpisodeRef, th: Thresholds) -> EpisodeResult:
    """The first process to check `victim` is killed (SIGKILL) mid-check; `marker` records that it was."""
    if ref.name == victim and not marker.exists():
        with open_episode(ref):  # mid-run: the episode is open when its worker dies
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
    return check_episode(ref, th)


def hangs_once_interrupted(marker: Path, ref: EpisodeRef, th: Thresholds) -> EpisodeResult:
    """Once `marker` exists (the driver was interrupted), every episode hangs its process until killed."""
    if marker.exists():
        signal.pause()
    return check_episode(ref, th)


def reader_raises(victim: str, ref: EpisodeRef, th: Thresholds) -> EpisodeResult:
    """Reading `victim` raises an exception nothing expects, every time."""
    if ref.name == victim:
        with open_episode(ref) as r:
            raise RuntimeError(f"reader blew up at tick {r.length // 2}")
    return check_episode(ref, th)


def reader_segfaults(victim: str, ref: EpisodeRef, th: Thresholds) -> EpisodeResult:
    """Reading `victim` kills its process with SIGSEGV, every time (a crashing native decoder)."""
    if ref.name == victim:
        with open_episode(ref):
            ctypes.string_at(0)  # reads address 0: SIGSEGV
    return check_episode(ref, th)
