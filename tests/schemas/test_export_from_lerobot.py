"""`export --to lerobot` from a LeRobot source: excluded episodes dropped, trims cut, renumbered, videos
cut, stats recomputed; read back by our reader (and by LeRobot itself where the peer venv exists)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("av")

from demoforge.cli import main
from demoforge.quality import Thresholds, check_dataset
from demoforge.schemas.lerobot_reader import LeRobotSource
from demoforge.schemas.splits import Splits

ROOT = Path(__file__).parents[2]
SOURCE = ROOT / "tests" / "data" / "lerobot_v30"
PEER = Path(os.environ.get("PEER_VENV", "/tmp/peer-lerobot-venv")) / "bin" / "python"


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("export")
    src, reports, out = tmp / "src", tmp / "reports", tmp / "out"
    shutil.copytree(SOURCE, src)
    assert main(["check", str(src), "--out", str(reports), "--unattended"]) == 0
    assert main(["split", str(src), "--out", str(reports), "--val", "0.2"]) == 0
    args = [
        "export",
        str(src),
        "--to",
        "lerobot",
        str(out),
        "--split",
        "train,val",
        "--reports",
        str(reports),
    ]
    assert main([*args, "--unattended"]) == 0
    return src, reports, out


def test_the_export_holds_the_kept_ticks_of_the_split(exported: tuple[Path, Path, Path]) -> None:
    src, reports, out = exported
    splits = Splits.load(reports)
    clips = json.loads((out / "meta" / "demoforge_source.json").read_text())["episodes"]
    assert [c["file"] for c in clips] == splits.train + splits.val  # excluded episodes dropped
    new = LeRobotSource(out)
    old = LeRobotSource(src)
    assert sorted(new.episodes) == list(range(len(clips)))  # renumbered
    for i, clip in enumerate(clips):
        with new.open(i) as e, old.open(int(clip["file"].split("_")[1])) as s:
            a, b = clip["start"], clip["stop"]
            assert e.length == b - a
            assert np.array_equal(e.qpos, s.qpos[a:b]) and np.array_equal(e.action, s.action[a:b])
            assert np.array_equal(e.columns["frame_index"], np.arange(b - a))
            for cam in e.cameras:  # videos cut at the new boundaries (re-encoded: lossy)
                diff = np.abs(e.frames(cam).astype(int) - s.frames(cam)[a:b].astype(int)).mean(axis=(1, 2, 3))
                assert diff.max() < 8.0, (i, cam, diff.max())
    idle = clips[[c["file"] for c in clips].index("episode_6")]
    assert idle["start"] > 0  # its idle start was trimmed


def test_the_export_passes_its_own_format_check(exported: tuple[Path, Path, Path]) -> None:
    _, _, out = exported
    report = check_dataset(out, Thresholds())
    assert not [f for f in report.dataset_findings if f.check == "format"]  # stats recomputed, totals right
    assert not [f for e in report.episodes for f in e.findings if f.check == "format"]


@pytest.mark.skipif(not PEER.exists(), reason="LeRobot's peer venv is not on this machine (CI)")
def test_lerobot_itself_loads_the_export(exported: tuple[Path, Path, Path]) -> None:
    src, _, out = exported
    script = ROOT / "scripts" / "verify_lerobot_export.py"
    run = subprocess.run(
        [str(PEER), str(script), str(out), "--source", str(src)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["episodes"] == len(
        json.loads((out / "meta" / "demoforge_source.json").read_text())["episodes"]
    )
