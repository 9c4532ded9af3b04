"""Recording on the virtual rig: 4 arms x 9 motors, 3 synthetic cameras at 640x480, JPEG on, 50 Hz.

Prints one JSON object. Usage: python benchmarks/bench_record.py [--seconds 60] [--camera-fps 30 60] [--view]
`--view` also feeds a live Rerun view (`record --view`) written to an .rrd in the temporary folder: the
period error and overruns then show what the viewer costs the control loop (it should cost it nothing).
Figures per camera rate: achieved rate, |period error| p50 / p99 / max, overruns, writer backlog
(max ticks waiting), CPU use of the recorder process and of the emulator process, episode close time,
and the motor checks that ran (temperature/voltage readings, effort checks: on by default).
The emulated buses run on an ideal line (no wire delay) in their own process, as `record --rig virtual`.
The stop key's flag is checked every tick, as in an attended run (an operator whose Event nobody sets).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.collect.dynamixel.motor_health import HEALTH_EVERY_S
from demoforge.collect.hardware import RigHardware
from demoforge.collect.recorder import Recorder, RecordOptions
from demoforge.collect.rigs import RIGS_DIR
from demoforge.schemas.rig import load_rig


def four_arm_rig(folder: Path, camera_fps: int) -> Path:
    """The shipped virtual rig (2 ALOHA-like arm pairs) with two more pairs and the camera rate changed."""
    text = (RIGS_DIR / "virtual.toml").read_text()
    head, _, rest = text.partition("[[arms]]")
    arms_text, _, cams = ("[[arms]]" + rest).partition("[[cameras]]")
    extra = arms_text.replace('"left"', '"third"').replace("_left", "_third").replace('"right"', '"fourth"')
    extra = extra.replace("_right", "_fourth")
    cams = "[[cameras]]" + cams.replace("fps = 30", f"fps = {camera_fps}")
    path = folder / f"virtual4_{camera_fps}.toml"
    path.write_text(head + arms_text + extra + cams)
    return path


class IdleOperator:
    """An operator at the keys who presses nothing: the control loop checks its stop flag every tick."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def poll(self) -> str | None:
        return None


class CountingHardware(RigHardware):
    """The virtual rig's hardware, counting the followers' temperature/voltage readings before close."""

    health_readings = 0

    def close(self, rest: bool | None = None) -> None:
        self.health_readings = sum(f.health.readings for f in self.followers)
        super().close(rest)


def cpu_seconds(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def run(camera_fps: int, seconds: float, folder: Path, view: bool = False) -> dict[str, object]:
    rig = load_rig(four_arm_rig(folder, camera_fps))
    live = None
    if view:
        from demoforge.collect.live_view import LiveView

        live = LiveView(rig, save=folder / f"view_{camera_fps}.rrd")
    opts = RecordOptions(
        dataset=folder / f"ds_{camera_fps}",
        episodes=1,
        episode_time=seconds,
        reset_time=0.0,
        label=1,
        view=live,
    )
    cpu0, kids0, t0 = (
        cpu_seconds(resource.RUSAGE_SELF),
        cpu_seconds(resource.RUSAGE_CHILDREN),
        time.monotonic(),
    )
    hw = CountingHardware(rig)
    [result] = Recorder(rig, opts, operator=IdleOperator(), hardware=hw).run()
    wall = time.monotonic() - t0
    if live is not None:
        live.close()
    cpu, kids = cpu_seconds(resource.RUSAGE_SELF) - cpu0, cpu_seconds(resource.RUSAGE_CHILDREN) - kids0
    assert result.path is not None
    stats = dict(result.stats)
    return {
        "arms": len(rig.arms),
        "motors": sum(len(j.follower_ids) + len(j.leader_ids) for a in rig.arms for j in a.joints),
        "cameras": f"{len(rig.cameras)} x 640x480 @ {camera_fps} fps, JPEG q{rig.recording.jpeg_quality}",
        "achieved_hz": stats["achieved_hz"],
        "period_error_ms": stats["period_error_ms"],
        "tick_work_ms": stats["work_ms"],
        "overruns": stats["overruns"],
        "dropped_camera_frames": result.dropped,
        "writer_backlog_max_ticks": result.backlog_max,
        "close_s": round(result.close_s, 3),
        "recorder_cpu_cores": round(cpu / wall, 3),
        "emulator_cpu_cores": round(kids / wall, 3),
        "file_MB": round(result.path.stat().st_size / 1e6, 1),
        "motor_checks": {
            "effort_hold_ticks": rig.safety.effort_hold_ticks,
            "health_every_s": HEALTH_EVERY_S,
            "health_readings": hw.health_readings,  # all followers, the whole run (teleop included)
        },
        **({} if live is None else {"view_samples_sent": live.sent, "view_samples_skipped": live.skipped}),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0, help="episode length (default: 60)")
    ap.add_argument("--camera-fps", type=int, nargs="+", default=[30, 60])
    ap.add_argument("--dir", type=Path, default=None, help="where to write (default: a temporary folder)")
    ap.add_argument("--view", action="store_true", help="with a live Rerun view written to an .rrd")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        results = {
            f"cameras_{fps}fps": run(fps, args.seconds, Path(tmp), args.view) for fps in args.camera_fps
        }
    print(
        json.dumps(
            {
                "benchmark": "record",
                "machine": {
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                },
                "episode_s": args.seconds,
                "view": args.view,
                "target_hz": 50,
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
