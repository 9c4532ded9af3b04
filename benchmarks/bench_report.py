"""Size of report.html for a 500-episode dataset and the time headless Chromium takes to load it; JSON.

    .venv/bin/python benchmarks/bench_report.py                    # 500 episodes, 3 cameras 480x640
    .venv/bin/python benchmarks/bench_report.py --episodes 200 --keep /tmp/bench_report

Writing and checking 500 full episodes would take gigabytes and minutes that say nothing about the
page, so --distinct real episodes (3 cameras at 480x640 JPEG, 14 joints; a quarter with planted faults:
a pause, a camera stall, black frames, a joint past its limit) are written and checked, and their
results are repeated under 500 episode names before the page is rendered. Everything the page holds
per episode (plots, frames at incidents, first frames) is real output of the check.

Load time: the page is opened from disk in headless Chromium (`--dump-dom`) with a script that
records `loadEventEnd` of the navigation (parse, layout, image decode of what is visible, scripts).
`chromium_wall_s` is the whole browser run, start-up included, for scale.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.quality import check_dataset
from demoforge.quality.report_html import render_html
from demoforge.schemas.episode_layout import episode_name
from tests import factories as F

SIZE = (480, 640)
TIMING = (
    "<script>addEventListener('load',function(){setTimeout(function(){"
    "var n=performance.getEntriesByType('navigation')[0];"
    "document.body.setAttribute('data-load-ms',String(n.loadEventEnd));"
    "document.body.setAttribute('data-dcl-ms',String(n.domContentLoadedEventEnd));},0);});</script>"
)


def build(folder: Path, distinct: int, ticks: int) -> None:
    pool = F.JpegPool(SIZE, n=12)
    recs = []
    for i in range(distinct):
        r = F.clean_recording(ticks, 14, seed=i, size=SIZE)
        fault = i % 4
        if fault == 1:
            F.plant_pause(r, ticks // 3, ticks // 3 + 50)
        elif fault == 2:
            F.plant_frame_drop(r, "cam_high", ticks // 2, ticks // 2 + 8)
        elif fault == 3 and i % 8 == 3:
            F.plant_dark(r, "cam_left_wrist", 20, 60)
        elif fault == 3:
            F.plant_joint_limit(r, 2, ticks // 4, ticks // 4 + 10)
        recs.append(r)
    F.write_dataset(folder, recs, pool=pool)


def load_ms(page: Path) -> tuple[float, float, float]:
    """(loadEventEnd ms, DOMContentLoaded ms, whole chromium run s) for a copy of `page` with TIMING."""
    timed = page.with_name("timed.html")
    timed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", TIMING + "</body>"), encoding="utf-8"
    )
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                f"--user-data-dir={profile}", "--window-size=1400,2400", "--virtual-time-budget=10000",
                "--dump-dom", timed.as_uri(),
            ],
            capture_output=True, text=True, check=True, timeout=300,
        )  # fmt: skip
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    load = re.search(r'data-load-ms="([\d.]+)"', out.stdout)
    dcl = re.search(r'data-dcl-ms="([\d.]+)"', out.stdout)
    if not load or not dcl:
        raise SystemExit("the page did not report its load time (chromium output lacks data-load-ms)")
    return float(load.group(1)), float(dcl.group(1)), wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=500)
    p.add_argument("--distinct", type=int, default=24, help="real episodes written and checked")
    p.add_argument("--ticks", type=int, default=400)
    p.add_argument("--keep", type=Path, help="keep the dataset and page here")
    args = p.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_report-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        build(folder, args.distinct, args.ticks)
        report = check_dataset(folder, jobs=min(2, os.cpu_count() or 1))
        base = report.episodes
        report.episodes = []
        for i in range(args.episodes):
            e = copy.copy(base[i % len(base)])
            e.file = episode_name(i)
            report.episodes.append(e)
        t0 = time.perf_counter()
        page_text = render_html(report)
        render_s = time.perf_counter() - t0
        page = folder / "quality" / "report.html"
        page.parent.mkdir(exist_ok=True)
        page.write_text(page_text, encoding="utf-8")
        load, dcl, wall = load_ms(page)
        flagged = sum(bool(e.findings) for e in report.episodes)
        detailed = page_text.count('<details class="ep"')
        print(
            json.dumps(
                {
                    "episodes": args.episodes,
                    "flagged": flagged,
                    "detailed_sections": detailed,
                    "size_mb": round(len(page_text.encode()) / 1e6, 3),
                    "render_s": round(render_s, 3),
                    "chromium_load_event_ms": round(load, 1),
                    "chromium_dom_content_loaded_ms": round(dcl, 1),
                    "chromium_wall_s": round(wall, 2),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                },
                indent=1,
            )
        )
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
