"""Screenshots of report.html for docs/report.md, taken in headless Chromium.

    python scripts/report_screenshots.py                 # records, checks, shoots into docs/img/
    python scripts/report_screenshots.py --keep /tmp/shots   # keep the datasets to look at them

Two datasets: the virtual rig recorded with planted faults (an operator pause, a camera stall, a
frozen camera, as `make demo` plants them, plus one episode whose label is taken back), and a plain
ALOHA dataset as the original recorder wrote it (no timestamps, counters or labels). Needs Debian's
`chromium` (`apt-get install -y chromium`); run from the repository root with PYTHONPATH set to it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INJECT = ["pause@1:1.0+1.2", "drop.cam_high@3:2.0+0.1", "freeze.cam_left_wrist@4:1.5+0.6"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
MAX_PNG_BYTES = 400_000


def demoforge(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "demoforge.cli", *args], check=True, cwd=ROOT)


def record_virtual(folder: Path) -> None:
    """8 episodes on the virtual rig with the demo's planted faults; a loaded host may make the
    emulated bus miss a reply, so one failed recording is retried into a fresh folder."""
    for attempt in range(2):
        shutil.rmtree(folder, ignore_errors=True)
        try:
            demoforge(
                "record", "--rig", "virtual", "--dataset", str(folder), "--episodes", "8",
                "--episode-time", "4", "--reset-time", "0.5", "--label", "success",
                "--task", "virtual demo", "--unattended",
                *(x for i in INJECT for x in ("--inject", i)),
            )  # fmt: skip
            break
        except subprocess.CalledProcessError:
            if attempt:
                raise
    demoforge("label", str(folder), "6", "unlabeled")  # the curator has not watched this one yet


def write_plain_aloha(folder: Path) -> None:
    from tests.factories import write_plain_aloha as write

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(6):
        write(folder / f"episode_{i}.hdf5", 400 if i != 4 else 150, seed=i, size=(240, 320))


def shoot(html: Path, png: Path, section: str = "", size: tuple[int, int] = (1400, 2400)) -> int:
    """Screenshot `html` (or one episode section of it, moved to the top of a copy of the page),
    posterized so that the PNG stays small."""
    if section:  # a copy: the page itself stays as `check` wrote it
        page = html.read_text(encoding="utf-8")
        lift = (
            f"<script>var s=document.getElementById({section!r});s.open=true;"
            "document.body.prepend(s);</script>"
        )
        html = html.with_name(f"{html.stem}-{section}.html")
        html.write_text(page.replace("</body>", lift + "</body>"), encoding="utf-8")
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        subprocess.run(
            [
                "chromium",
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={size[0]},{size[1]}",
                "--virtual-time-budget=3000",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    img = cv2.imread(str(png))
    for levels in (32, 16, 8):  # fewer colour levels until the PNG fits; text stays sharp
        step = 256 // levels
        small = (img // step * step + step // 2).astype(np.uint8)
        cv2.imwrite(str(png), small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if png.stat().st_size <= MAX_PNG_BYTES:
            break
    return png.stat().st_size


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="where the PNGs go")
    p.add_argument("--keep", type=Path, help="record into this folder and keep it (default: a temp dir)")
    args = p.parse_args()
    if shutil.which("chromium") is None:
        print("chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 2
    work = args.keep or Path(tempfile.mkdtemp(prefix="report-shots-"))
    virtual, aloha = work / "virtual", work / "aloha"
    record_virtual(virtual)
    write_plain_aloha(aloha)
    for d in (virtual, aloha):
        demoforge("check", str(d), "--unattended")
    args.out.mkdir(parents=True, exist_ok=True)
    shots = [
        (virtual, "report-virtual-top.png", ""),
        (virtual, "report-virtual-episode.png", "ep-episode_3-hdf5"),
        (aloha, "report-aloha-top.png", ""),
        (aloha, "report-aloha-episode.png", "ep-episode_4-hdf5"),
    ]
    for folder, name, section in shots:
        size = shoot(
            folder / "quality" / "report.html", args.out / name, section, (1400, 1400 if section else 2400)
        )
        print(f"{args.out / name}: {size / 1000:.0f} KB")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
