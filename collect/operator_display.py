"""What the operator sees while recording: a live rich panel, or plain lines when unattended.

The panel shows the episode, the phase and time left, the loop rate and jitter, overruns, per-camera
frame rate and dropped frames, the writer's backlog, and the last warnings. It is refreshed from
the recorder's thread a few times a second; the control thread never waits for it.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

REFRESH_S = 0.25


def _fmt_stats(stats: dict[str, Any]) -> str:
    err = stats.get("period_error_ms", {})
    return (
        f"{stats.get('ticks', 0)} ticks at {stats.get('achieved_hz', 0):.2f} Hz, period error p50 "
        f"{err.get('p50', 0):.3f} / p99 {err.get('p99', 0):.3f} / max {err.get('max', 0):.3f} ms, "
        f"overruns {stats.get('overruns', 0)}"
    )


def _tally(rec: Any) -> str:
    """kept / discarded / re-recorded (collect/session_tally.py); a recorder without one (a test's
    stand-in) counts the kept results."""
    tally = getattr(rec, "tally", None)
    if tally is not None:
        return str(tally.line())
    return f"{sum(bool(getattr(r, 'kept', True)) for r in rec.results)} kept of {rec.opt.episodes}"


class PlainDisplay:
    """Unattended: one line per phase change and per episode, nothing redrawn."""

    def __init__(self, out: TextIO | None = None) -> None:
        # sys.stdout when the display is made, not when this module was imported (it may be replaced)
        self.out = out if out is not None else sys.stdout

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def phase(self, rec: Any, phase: str) -> None:
        if phase.startswith("recording"):
            print(f"{phase} ({rec.episode_time:g} s)", file=self.out, flush=True)

    def note(self, text: str) -> None:
        """Something the checks found that does not stop the run (clamped limits, exposure)."""
        print(f"note: {text}", file=self.out, flush=True)

    def refresh(self, rec: Any) -> None:
        pass

    def episode_done(self, rec: Any, result: Any) -> None:
        if result.path is None:
            print("episode discarded", file=self.out, flush=True)
            return
        drops = ", ".join(f"{c} {n}" for c, n in result.dropped.items() if n) or "none"
        print(
            f"saved {result.path} ({_fmt_stats(result.stats)}; dropped frames: {drops}; "
            f"closed in {result.close_s:.2f} s)",
            file=self.out,
            flush=True,
        )


class LiveDisplay:
    """Attended: a panel redrawn in place."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self._last = 0.0
        self._saved: list[str] = []

    def __enter__(self) -> LiveDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def phase(self, rec: Any, phase: str) -> None:
        self._last = 0.0
        self.refresh(rec)

    def note(self, text: str) -> None:
        self.console.print(f"[yellow]note:[/] {text}")

    def episode_done(self, rec: Any, result: Any) -> None:
        self._saved.append(f"{result.path.name}: {_fmt_stats(result.stats)}" if result.path else "discarded")
        self._saved = self._saved[-3:]

    def refresh(self, rec: Any) -> None:
        now = time.monotonic()
        if now - self._last < REFRESH_S:
            return
        self._last = now
        self.live.update(self.render(rec))

    def render(self, rec: Any) -> Panel:
        loop = rec.loop
        rate, p99 = loop.recent.recent(50) if loop is not None else (0.0, 0.0)
        left = max(0.0, rec.phase_end - time.monotonic())
        head = Table.grid(padding=(0, 2))
        head.add_row(
            "[bold]episode[/]",
            f"{rec.episode_index}  ({_tally(rec)})",
            "[bold]phase[/]",
            escape(rec.phase),
            "[bold]left[/]",
            f"{left:5.1f} s",
        )
        target = rec.rig.fps
        rate_style = "green" if rate >= 0.95 * target else "red"
        overruns = loop.clock.overruns if loop is not None else 0
        head.add_row(
            "[bold]loop[/]",
            f"[{rate_style}]{rate:5.1f} Hz[/] (target {target:g})",
            "[bold]jitter p99[/]",
            f"{p99:.2f} ms",
            "[bold]overruns[/]",
            f"[{'red' if overruns else 'green'}]{overruns}[/]",
        )
        health = getattr(getattr(rec, "hw", None), "motor_health", None)  # rigs with motors: heat, voltage
        motors = health() if health is not None else ""
        if motors:
            head.add_row("[bold]motors[/]", escape(motors), "", "", "", "")
        cams = Table("camera", "fps", "dropped", "backlog", box=None, padding=(0, 2))
        recording = rec.in_progress if rec.phase.startswith("recording") else None
        elapsed = max(1e-6, (recording.ticks / target)) if recording is not None else 0.0
        for cfg in rec.rig.cameras:
            if recording is not None:
                fps = recording.new_frames.get(cfg.name, 0) / elapsed if elapsed else 0.0
                dropped = recording.dropped.get(cfg.name, 0)
                cams.add_row(
                    cfg.name,
                    f"{fps:5.1f} / {cfg.fps:g}",
                    f"[{'red' if dropped else 'green'}]{dropped}[/]",
                    str(recording.sink.backlog),
                )
            else:
                cams.add_row(cfg.name, f"- / {cfg.fps:g}", "-", "-")
        warnings = list(loop.warnings) if loop is not None else []
        parts: list[Any] = [head, cams]
        if warnings:
            parts.append("[yellow]" + "\n".join(escape(w) for w in warnings[-3:]) + "[/]")
        if self._saved:
            parts.append("[dim]" + "\n".join(escape(s) for s in self._saved) + "[/]")
        return Panel(
            Group(*parts), title=f"demoforge record · {escape(rec.rig.name)} → {escape(str(rec.opt.dataset))}"
        )
