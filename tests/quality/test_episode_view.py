"""`demoforge view --save`: episodes, findings and trims in a .rrd, read back with Rerun's own reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demoforge.cli import main
from tests import factories as F

pytest.importorskip("rerun", reason="the viewer needs the `view` extra (rerun-sdk)")
from rerun.chunk import RrdReader


def read_rrd(path: Path) -> tuple[dict[str, int], list[str]]:
    """Rows per entity path, and every text logged (findings, trims), as Rerun reads the file."""
    rows: dict[str, int] = {}
    texts: list[str] = []
    for chunk in RrdReader(path).stream().to_chunks():
        rows[chunk.entity_path] = rows.get(chunk.entity_path, 0) + chunk.num_rows
        batch = chunk.to_record_batch()
        if "TextLog:text" in batch.schema.names:
            texts += [t for row in batch.column("TextLog:text").to_pylist() for t in row]
    return rows, texts


def test_dataset_with_findings_and_trims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = [F.clean_recording(120, seed=i) for i in range(3)]
    F.plant_frozen(recs[1], "cam_high", 30, 60)
    ds = tmp_path / "ds"
    F.write_dataset(ds, recs)
    assert main(["check", str(ds), "--unattended"]) == 0
    assert main(["split", str(ds), "--val", "0.5"]) == 0
    splits = json.loads((ds / "splits.json").read_text())
    splits["trim"] = {"episode_0.hdf5": [[0.0, 0.5]]}  # as split writes an idle start
    (ds / "splits.json").write_text(json.dumps(splits))
    out = tmp_path / "ds.rrd"
    assert main(["view", str(ds), "--save", str(out)]) == 0
    assert "3 episode(s), 360 ticks" in capsys.readouterr().out
    rows, texts = read_rrd(out)
    assert rows["/cameras/cam_high"] == 360 and rows["/joints/joint_0/follower"] == 360
    assert rows["/joints/joint_0/command"] == rows["/joints/joint_0/leader"] == 360
    assert any(t.startswith("episode_1.hdf5") and "frozen" in t.lower() for t in texts), texts
    assert rows["/findings/frozen_frame"] >= 1
    assert "episode_0.hdf5 0.00-0.50 s left out of training" in texts


def test_an_eval_folder_shows_its_rollouts(tmp_path: Path) -> None:
    F.write_dataset(tmp_path / "eval" / "rollouts", [F.clean_recording(30, seed=i) for i in range(2)])
    (tmp_path / "eval" / "eval.json").write_text("{}")
    out = tmp_path / "eval.rrd"
    assert main(["view", str(tmp_path / "eval"), "--save", str(out)]) == 0
    rows, _ = read_rrd(out)
    assert rows["/cameras/cam_high"] == 60


def test_one_episode_and_a_bad_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    F.write_dataset(tmp_path / "ds", [F.clean_recording(40, seed=0)])
    out = tmp_path / "one.rrd"
    assert main(["view", str(tmp_path / "ds" / "episode_0.hdf5"), "--save", str(out)]) == 0
    rows, _ = read_rrd(out)
    assert rows["/cameras/cam_high"] == 40
    assert main(["view", str(tmp_path / "nope"), "--save", str(out)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_no_display_is_one_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    F.write_dataset(tmp_path / "ds", [F.clean_recording(20, seed=0)])
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err
    assert "no display here" in err and "--save FILE.rrd" in err and "Traceback" not in err
