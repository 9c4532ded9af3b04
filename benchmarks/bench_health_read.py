"""What the once-a-second temperature/voltage reading costs one tick: the recorder's follower sync read
(present current, velocity, position: 10 bytes a motor) against the same read run on to Present Input
Voltage and Temperature (21 bytes a motor), 9 XM540-W270 on an emulated line (its own process).

Prints one JSON object. Usage: python benchmarks/bench_health_read.py [--line 1M] [--reads 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.collect.dynamixel.bus import MotorBus
from demoforge.collect.dynamixel.emulator import LINES, ChainSpec, Emulator, MotorSpec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--line", choices=list(LINES), default="1M", help="emulated line timing (default: 1M)")
    ap.add_argument("--reads", type=int, default=300, help="sync reads per kind and round (default: 300)")
    args = ap.parse_args()
    ids = range(1, 10)
    with Emulator("process") as emu:
        spec = ChainSpec(
            tuple(MotorSpec(i, "xm540-w270") for i in ids), line_bps=LINES[args.line], return_delay=0
        )
        bus = MotorBus(emu.add_chain("c", spec), {i: "xm540-w270" for i in ids}, timeout_ms=30.0)
        times: dict[str, list[float]] = {"state": [], "state_and_health": []}
        with bus:
            for _ in range(2):  # two alternating rounds: drift in the machine's load hits both kinds
                for kind, read in (
                    ("state", bus.sync_read_state),
                    ("state_and_health", bus.sync_read_health),
                ):
                    for _ in range(args.reads):
                        t = time.perf_counter()
                        read()
                        times[kind].append((time.perf_counter() - t) * 1e3)
    result = {
        k: {"p50_ms": round(statistics.median(v), 3), "p99_ms": round(sorted(v)[int(0.99 * len(v))], 3)}
        for k, v in times.items()
    }
    print(
        json.dumps(
            {
                "benchmark": "health_read",
                "machine": {"cpus": os.cpu_count(), "load_avg_1min": round(os.getloadavg()[0], 2)},
                "motors": len(ids),
                "line": args.line,
                "reads_per_kind": 2 * args.reads,
                "results": result,
                "extra_ms_once_a_second": round(
                    result["state_and_health"]["p50_ms"] - result["state"]["p50_ms"], 3
                ),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
