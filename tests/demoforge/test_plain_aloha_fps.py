"""Plain ALOHA files (no fps attribute): `--fps` on check, inspect and export; check and inspect agree."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest

from demoforge.cli import main
from tests import factories as F

TICKS = 120


def _plain(folder: Path) -> Path:
    F.write_dataset(folder, [F.clean_recording(TICKS, seed=i) for i in range(4)])
    for p in folder.glob("*.hdf5"):
        with h5py.File(p, "a") as f:  # as ALOHA writes them: no rate, no tick times
            del f.attrs["fps"]
            del f["timestamps"]
    return folder


@pytest.mark.parametrize("fps", [None, 25.0])
def test_check_and_inspect_agree_on_the_duration(
    tmp_path: Path, fps: float | None, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _plain(tmp_path / "ds")
    flag = [] if fps is None else ["--fps", str(fps)]
    assert main(["check", str(folder), "--unattended", "--allow-unlabelled", *flag]) == 0
    rows = json.loads((folder / "quality" / "report.json").read_text())["episodes"]
    want = TICKS / (fps or 50.0)
    assert {r["duration_s"] for r in rows} == {want}
    capsys.readouterr()
    assert main(["inspect", str(folder / "episode_0.hdf5"), *flag]) == 0
    out = capsys.readouterr().out
    assert f"{want:.2f} s" in out and "assumed" in out


def test_export_uses_the_rate_the_check_assumed_or_fps(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    folder = _plain(tmp_path / "ds")
    assert main(["check", str(folder), "--unattended", "--allow-unlabelled", "--fps", "25"]) == 0
    assert main(["split", str(folder), "--val", "0.25"]) == 0
    out = tmp_path / "aloha"
    assert main(["export", str(folder), "--to", "aloha", str(out), "--unattended"]) == 0
    with h5py.File(out / "episode_0.hdf5") as f:
        assert f.attrs["fps"] == 25.0
    out2 = tmp_path / "aloha2"
    assert main(["export", str(folder), "--to", "aloha", str(out2), "--unattended", "--fps", "30"]) == 0
    with h5py.File(out2 / "episode_0.hdf5") as f:
        assert f.attrs["fps"] == 30.0


def test_fps_must_be_positive(tmp_path: Path) -> None:
    folder = _plain(tmp_path / "ds")
    assert main(["check", str(folder), "--fps", "0"]) == 2
    assert main(["inspect", str(folder), "--fps", "-1"]) == 2
