"""What the Rerun viewer shows, one place for the live view (collect/live_view.py) and the recorded one
(quality/episode_view.py): entity paths and how one tick is logged.

    cameras/<cam>                  the RGB frame used at the tick
    joints/<joint>/{follower,command,leader}   three lines per joint on one plot
    loop/rate_hz, loop/inference_ms           live: the loop's rate; a policy's inference latency
    findings/<check>               quality findings as text events at their start, with their span
    trims                          spans `split` leaves out of training

Timelines: `tick` (the episode's tick), `time` (seconds: episode time, or for a dataset the episodes
one after another) and `episode` (the file number). rerun-sdk is the optional `view` extra.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from demoforge.schemas.errors import ConfigError

APP_ID = "demoforge"


def import_rerun() -> Any:
    """`rerun`, or one message saying how to get it."""
    try:
        import rerun
    except ImportError:
        raise ConfigError(
            "the viewer needs rerun-sdk", "pip install 'demoforge[view]' (about 170 MB)"
        ) from None
    return rerun


def spawn_viewer(rec: Any) -> None:
    """Start a Rerun viewer and stream to it; one message when there is none to start."""
    import os
    import shutil
    import sys
    from pathlib import Path

    from demoforge.schemas.errors import UserError

    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        raise UserError("cannot start the Rerun viewer: no display here (DISPLAY is not set)", "FILE.rrd")
    here = str(Path(sys.executable).parent)  # the `rerun` binary rerun-sdk installs beside python
    if shutil.which("rerun") is None and (Path(here) / "rerun").exists():
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")  # an unactivated venv
    try:
        rec.spawn()
    except Exception as e:  # no viewer binary, no display: a file always works
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"cannot start the Rerun viewer ({first})", "write a file instead: FILE.rrd"
        ) from None


def blueprint(rr: Any, cameras: Sequence[str], joint_names: Sequence[str]) -> Any:
    """The layout a person reads: the cameras in a row, then one plot per joint with its follower,
    command and leader lines together, and the findings and trims as a log."""
    rrb = rr.blueprint
    return rrb.Blueprint(
        rrb.Vertical(
            rrb.Horizontal(*(rrb.Spatial2DView(origin=f"cameras/{c}", name=c) for c in cameras)),
            rrb.Grid(*(rrb.TimeSeriesView(origin=f"joints/{j}", name=j) for j in joint_names)),
            rrb.Horizontal(
                rrb.TextLogView(origin="/", contents=["findings/**", "trims"], name="findings and trims"),
                rrb.TimeSeriesView(origin="loop", name="loop rate / inference"),
            ),
            row_shares=[2, 4, 1],
        ),
        collapse_panels=True,
    )


def joint_paths(joint: str) -> dict[str, str]:
    return {role: f"joints/{joint}/{role}" for role in ("follower", "command", "leader")}


def log_tick(
    rec: Any,
    rr: Any,
    *,
    episode: int,
    tick: int,
    time_s: float,
    joint_names: Sequence[str],
    follower: np.ndarray,
    command: np.ndarray,
    leader: np.ndarray | None,
    images: Mapping[str, np.ndarray],
    jpeg_quality: int | None = None,
) -> None:
    """One tick: the frames of every camera and the three joint values of every joint."""
    rec.set_time("episode", sequence=episode)
    rec.set_time("tick", sequence=tick)
    rec.set_time("time", duration=time_s)
    for cam, img in images.items():  # JPEG: a recorded dataset's .rrd stays a fraction of raw frames
        image = rr.Image(img)
        rec.log(
            f"cameras/{cam}", image if jpeg_quality is None else image.compress(jpeg_quality=jpeg_quality)
        )
    for j, name in enumerate(joint_names):
        paths = joint_paths(name)
        rec.log(paths["follower"], rr.Scalars(float(follower[j])))
        rec.log(paths["command"], rr.Scalars(float(command[j])))
        if leader is not None:
            rec.log(paths["leader"], rr.Scalars(float(leader[j])))
