"""The control loop's clocks, and the statistics of how well it kept time.

A clock is a seam of the loop (the rig's hardware chooses it): `DeadlineClock` for anything
physical, `SteppedClock` for a simulation, where a tick advances the physics one control period
and runs as fast as the machine allows, its times being simulated time.

Deadlines:
The loop never sleeps `1/fps` (that drifts by the work done each tick): tick k starts at
`t0 + k / fps`. It sleeps until shortly before the deadline and spins the last stretch, because
Linux wakes a sleeping thread up to ~1 ms late under load. A tick that starts more than one
period late is an overrun: it is counted, and the schedule skips the missed deadlines instead of
bursting to catch up (commands bunched together would jerk the followers).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

SPIN_S = 0.0015  # the last stretch before a deadline is spun, not slept
GIL_SWITCH_S = 0.0005  # how long another thread may hold the GIL before the control thread gets it back


def prefer_control_thread() -> None:
    """Shorten the GIL switch interval so the control thread regains the GIL within ~0.5 ms, not 5 ms."""
    sys.setswitchinterval(GIL_SWITCH_S)


class Clock(Protocol):
    """When ticks start. `wait()` returns (deadline, actual start) in the clock's own seconds."""

    overruns: int  # ticks that started more than one period late
    skipped: int  # deadlines given up after overruns

    def wait(self) -> tuple[float, float]: ...


class SteppedClock:
    """Simulated time: a tick starts as soon as the previous one ended, at the simulation's time.

    `now` reads the simulation's clock, which the hardware advances by one control period per
    tick; every tick therefore starts exactly on its deadline (a clean episode shows a perfect
    rate, whatever the machine's speed) and nothing ever overruns.
    """

    def __init__(self, now: Callable[[], float]) -> None:
        self.now = now
        self.overruns = 0
        self.skipped = 0

    def wait(self) -> tuple[float, float]:
        t = self.now()
        return t, t


class DeadlineClock:
    """Yields tick start times on a fixed grid: `t0 + k * period`."""

    def __init__(self, fps: float, clock: Any = time.monotonic) -> None:
        self.period = 1.0 / fps
        self.clock = clock
        self.t0 = clock()
        self.k = 0  # index of the next deadline
        self.overruns = 0
        self.skipped = 0  # deadlines given up after overruns

    def next_deadline(self) -> float:
        return self.t0 + self.k * self.period

    def wait(self) -> tuple[float, float]:
        """Block until the next deadline; return (deadline, actual start). Counts and absorbs overruns."""
        deadline = self.next_deadline()
        now = self.clock()
        if now - deadline >= self.period:
            # Resume on the next deadline still ahead: running the stale one now would be late too.
            missed = int((now - deadline) / self.period) + 1
            self.overruns += 1
            self.skipped += missed
            self.k += missed
            deadline = self.next_deadline()
        remaining = deadline - now
        if remaining > SPIN_S:
            time.sleep(remaining - SPIN_S)
        while (now := self.clock()) < deadline:
            pass
        self.k += 1
        return deadline, now


@dataclass
class LoopStats:
    """Per-tick timing of one episode; summarized into the episode's `loop_stats` attribute."""

    fps: float
    starts: list[float] = field(default_factory=list)  # actual tick starts, s
    errors: list[float] = field(default_factory=list)  # start - deadline, s
    work: list[float] = field(default_factory=list)  # time spent in the tick's I/O, s
    overruns: int = 0
    skipped: int = 0

    def add(self, deadline: float, start: float, work_s: float) -> None:
        self.starts.append(start)
        self.errors.append(start - deadline)
        self.work.append(work_s)

    def achieved_hz(self) -> float:
        if len(self.starts) < 2:
            return 0.0
        return (len(self.starts) - 1) / (self.starts[-1] - self.starts[0])

    def summary(self) -> dict[str, Any]:
        err = np.abs(np.asarray(self.errors)) * 1e3 if self.errors else np.zeros(1)
        work = np.asarray(self.work) * 1e3 if self.work else np.zeros(1)
        periods = np.diff(self.starts) * 1e3 if len(self.starts) > 1 else np.zeros(1)
        return {
            "target_hz": self.fps,
            "achieved_hz": round(self.achieved_hz(), 3),
            "ticks": len(self.starts),
            "period_error_ms": {
                "p50": round(float(np.percentile(err, 50)), 4),
                "p99": round(float(np.percentile(err, 99)), 4),
                "max": round(float(err.max()), 4),
            },
            "period_ms": {"min": round(float(periods.min()), 4), "max": round(float(periods.max()), 4)},
            "work_ms": {
                "p50": round(float(np.percentile(work, 50)), 4),
                "p99": round(float(np.percentile(work, 99)), 4),
                "max": round(float(work.max()), 4),
            },
            "overruns": self.overruns,
            "skipped_ticks": self.skipped,
        }

    def recent(self, n: int = 50) -> tuple[float, float]:
        """(rate Hz, p99 |period error| ms) over the last n ticks, for the live display."""
        s = self.starts[-n:]
        rate = (len(s) - 1) / (s[-1] - s[0]) if len(s) > 1 and s[-1] > s[0] else 0.0
        e = np.abs(np.asarray(self.errors[-n:])) * 1e3 if self.errors else np.zeros(1)
        return rate, float(np.percentile(e, 99))
