"""`record --seed`: each session on a simulated rig records its own scenes, and says which."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demoforge.cli import main

pytest.importorskip("gym_aloha", reason="simulated rigs need the `sim` extra")

FAST = [
    "--rig",
    "sim-transfer-cube",
    "--episodes",
    "1",
    "--episode-time",
    "0.2",
    "--unattended",
    "--no-render",
]


def sessions(ds: Path) -> list[dict[str, object]]:
    return list(json.loads((ds / "dataset.json").read_text())["sessions"])


def test_sessions_get_fresh_seeds_unless_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "ds"
    assert main(["record", "--dataset", str(ds), *FAST]) == 0
    assert main(["record", "--dataset", str(ds), *FAST]) == 0  # a second session into the same dataset
    assert main(["record", "--dataset", str(ds), *FAST, "--seed", "7"]) == 0
    first, second, third = sessions(ds)
    assert first["seed"] != second["seed"] and third["seed"] == 7
    assert [s["first_episode"] for s in (first, second, third)] == [0, 1, 2]
    manifest = json.loads((ds / "dataset.json").read_text())
    assert manifest["rig"]["simulation"]["seed"] == first["seed"]  # the rig the first session ran
    out = capsys.readouterr().out
    assert f"scene seed {first['seed']} (record these scenes again with --seed {first['seed']})" in out


def test_seed_on_a_physical_rig_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "--rig", "virtual", "--dataset", str(tmp_path / "v"), "--seed", "3"]) == 2
    assert "not simulated" in capsys.readouterr().err
    assert not (tmp_path / "v").exists()
