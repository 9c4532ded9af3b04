"""Recording on the simulated rig: ticks per second and where the time goes, by camera count and size.

Each configuration records one episode of sim-transfer-cube through the real recorder (emulated
leader buses, scripted operator, stepped clock, JPEG sink) and reports recorded ticks per second of
wall time (the stepped clock runs as fast as the machine allows) and the share of the control
thread's tick time spent rendering, stepping the physics (with gym-aloha's reward), moving and
reading the leaders (operator IK + the emulated Dynamixel buses), and the rest of the loop.

Prints one JSON object. Usage: python benchmarks/bench_sim.py [--seconds 4] [--gl egl]
Rendering is software (EGL + Mesa llvmpipe) on a machine without a GPU; MUJOCO_GL picks the backend.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.collect.recorder import Recorder, RecordOptions
from demoforge.collect.rigs import RIGS_DIR
from demoforge.schemas.rig import load_rig

CONFIGS = [(0, None), (1, (240, 320)), (3, (240, 320)), (1, (480, 640)), (3, (480, 640))]


def rig_file(folder: Path, cameras: int, size: tuple[int, int] | None) -> Path:
    text = (RIGS_DIR / "sim-transfer-cube.toml").read_text()
    head, *cams = text.split("[[cameras]]")
    if size is not None:
        cams = [
            c.replace("width = 640", f"width = {size[1]}").replace("height = 480", f"height = {size[0]}")
            for c in cams
        ]
    path = folder / f"sim_{cameras}_{size}.toml"
    path.write_text(head + "".join("[[cameras]]" + c for c in cams[:cameras]))
    return path


def measure(folder: Path, cameras: int, size: tuple[int, int] | None, seconds: float) -> dict[str, object]:
    rig = load_rig(rig_file(folder, cameras, size))
    rec = Recorder(rig, RecordOptions(folder / f"ds_{cameras}_{size}", episode_time=seconds, reset_time=0.1))
    wall0 = time.perf_counter()
    [result] = rec.run()
    wall = time.perf_counter() - wall0
    work = rec.in_progress.stats.work  # per recorded tick, host seconds on the control thread
    busy = sum(work)
    timing = dict(rec.hw.timing)  # since the episode's reset: a few more ticks than were recorded
    per_tick = busy / len(work)
    n = timing.pop("ticks")
    shares = {k.removesuffix("_s"): round(v / n / per_tick, 3) for k, v in timing.items()}
    shares["rest"] = round(1 - sum(shares.values()), 3)
    return {
        "cameras": cameras,
        "size": f"{size[1]}x{size[0]}" if size else "none (--no-render)",
        "ticks": len(work),
        "recorded_ticks_per_s": round(len(work) / busy, 1),
        "tick_ms_p50": result.stats["work_ms"]["p50"],
        "share": shares,
        "achieved_hz_in_sim_time": result.stats["achieved_hz"],
        "session_wall_s": round(wall, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="simulated seconds per configuration")
    args = ap.parse_args()
    os.environ.setdefault("MUJOCO_GL", "egl")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(Path(tmp), n, size, args.seconds) for n, size in CONFIGS]
    print(
        json.dumps(
            {
                "machine": f"{platform.node()} {platform.machine()}, {os.cpu_count()} cpus",
                "gl": os.environ["MUJOCO_GL"],
                "results": rows,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
