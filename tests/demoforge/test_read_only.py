"""Folders one may not write (a shared dataset, a read-only mount): one message, exit 2, nothing touched.

The folders are read-only for root too (tests/read_only.py: a read-only bind mount or chattr +i).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from demoforge.cli import main
from tests import factories as F
from tests.read_only import read_only


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` by relative path, with a hash of its bytes and its mtime."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() + f":{p.stat().st_mtime_ns}"
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checked and split dataset under `shared/ds`; each test mounts `shared` read-only."""
    root = tmp_path_factory.mktemp("shared")
    F.write_dataset(root / "ds", [F.clean_recording(40, seed=i) for i in range(4)])
    assert main(["check", str(root / "ds"), "--unattended"]) == 0
    assert main(["split", str(root / "ds"), "--val", "0.34"]) == 0
    return root


def one_message(err: str, *needles: str) -> None:
    assert "Traceback" not in err, err
    assert err.startswith("error:"), err
    for n in needles:
        assert n in err, err


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["check", "{ds}", "--unattended"], ["cannot be written", "--out DIR"]),
        (["check", "{ds}", "--json"], ["cannot be written", "--out DIR"]),
        (["check", "{ds}", "--out", "{root}/elsewhere"], ["cannot be written", "another --out"]),
        (["split", "{ds}"], ["cannot write", "splits.json"]),
        (["label", "{ds}", "1", "success"], ["cannot be written", "copy the dataset"]),
        (["accept", "{ds}", "1", "--check", "pause", "--reason", "x"], ["cannot write", "overrides.json"]),
        (["export", "{ds}", "--to", "aloha", "{root}/out"], ["cannot be written", "another OUT"]),
        (
            ["record", "--rig", "virtual", "--dataset", "{root}/new", "--unattended"],
            ["cannot be written", "--dataset"],
        ),
    ],
    ids=["check", "check-json", "check-out", "split", "label", "accept", "export", "record"],
)
def test_read_only_folder_is_one_message(
    shared: Path, argv: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    before = tree_digest(shared)
    args = [a.format(ds=shared / "ds", root=shared) for a in argv]
    with read_only(shared):
        assert main(args) == 2
    one_message(capsys.readouterr().err, *needles)
    assert tree_digest(shared) == before


def test_train_out_read_only(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        assert main(["train", str(shared / "ds"), "--out", str(locked / "run"), "--preset", "tiny"]) == 2
    one_message(capsys.readouterr().err, "run folder", "cannot be written", "--out RUN")
    assert not (locked / "run").exists()


def test_recover_read_only_cut_off_episode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    F.write_dataset(tmp_path / "ds", [F.clean_recording(40, seed=0)])
    F.write_cut_off(tmp_path / "ds" / "episode_1.hdf5")
    before = tree_digest(tmp_path / "ds")
    with read_only(tmp_path / "ds"):
        assert main(["recover", str(tmp_path / "ds")]) == 2
    one_message(capsys.readouterr().err, "cannot write", "read-only file system")
    assert tree_digest(tmp_path / "ds") == before


def test_recover_intact_read_only_dataset_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    F.write_dataset(tmp_path / "ds", [F.clean_recording(40, seed=0)])
    with read_only(tmp_path / "ds"):
        assert main(["recover", str(tmp_path / "ds")]) == 0
    assert "1 intact, 0 recovered, 0 unrecoverable" in capsys.readouterr().out


def test_check_out_reads_only(shared: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = tree_digest(shared)
    out = tmp_path / "reports"
    with read_only(shared):
        assert main(["check", str(shared / "ds"), "--out", str(out), "--unattended"]) == 0
    assert tree_digest(shared) == before
    assert sorted(p.name for p in (out / "quality").iterdir()) == [
        "episodes.csv",
        "report.html",
        "report.json",
    ]
    assert len(json.loads((out / "quality" / "report.json").read_text())["episodes"]) == 4
    assert f"wrote {out / 'quality' / 'report.json'}" in capsys.readouterr().out.replace("\n", "")
