"""`demoforge inspect` on files without a rate, and discarded episodes: kept aside, inspected, restored."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from demoforge.cli import main
from demoforge.schemas.dataset import Manifest, discard_episode, discarded_episodes, episode_files
from tests.schemas.conftest import write_episode


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")


def _flat(out: str) -> str:
    """Rich wraps long titles: compare words, not line breaks."""
    return " ".join(out.split())


def _plain_aloha(path: Path, n: int) -> Path:
    """ACT's sim recorder: no fps, no timestamps."""
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = True
        for name in ("/observations/qpos", "/observations/qvel", "/action"):
            f[name] = np.zeros((n, 14), np.float32)
    return path


def test_inspect_says_which_rate_it_assumed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # as `check` does: ALOHA's 50 Hz for a file without an fps attribute, or --fps (issue 21)
    _plain_aloha(tmp_path / "episode_0.hdf5", 400)
    write_episode(tmp_path / "episode_1.hdf5", n=10)
    assert main(["inspect", str(tmp_path / "episode_0.hdf5")]) == 0
    out = _flat(capsys.readouterr().out)
    assert "400 ticks, 8.00 s, 50 Hz assumed: no fps attribute" in out and "400.00 s" not in out
    assert main(["inspect", str(tmp_path), "--fps", "25"]) == 0
    out = _flat(capsys.readouterr().out)
    assert "16.00" in out and "total recorded time: 16.2 s" in out


def test_discarded_episode_is_hidden_from_hdf5_globs_inspected_and_restored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, n in enumerate((8, 9, 10)):
        write_episode(tmp_path / f"episode_{i}.hdf5", n=n)
    Manifest(name="ds").save(tmp_path)
    aside = discard_episode(tmp_path / "episode_1.hdf5")
    assert aside.parent.name == "discarded" and aside.name.endswith(".hdf5.discarded")
    assert sorted(p.name for p in tmp_path.rglob("*.hdf5")) == ["episode_0.hdf5", "episode_2.hdf5"]
    assert discarded_episodes(tmp_path) == [aside]

    assert main(["inspect", str(tmp_path)]) == 0
    assert "1 discarded episodes kept in" in _flat(capsys.readouterr().out)
    assert main(["inspect", str(aside)]) == 0
    assert "(9 ticks, 0.18 s)" in _flat(capsys.readouterr().out)

    assert main(["restore", str(aside)]) == 0
    assert [p.name for p in episode_files(tmp_path)] == ["episode_0.hdf5", "episode_2.hdf5", "episode_3.hdf5"]
    assert discarded_episodes(tmp_path) == []
    entries = json.loads((tmp_path / "dataset.json").read_text())["episodes"]
    assert [(e["file"], e["length"]) for e in entries] == [("episode_3.hdf5", 9)]


def test_restore_refuses_a_kept_episode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_episode(tmp_path / "episode_0.hdf5", n=5)
    assert main(["restore", str(tmp_path / "episode_0.hdf5")]) == 2
    assert "is not a discarded episode" in capsys.readouterr().err
    assert (tmp_path / "episode_0.hdf5").exists()
