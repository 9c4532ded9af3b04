"""Exit codes that tell a script the truth: `recover` that recovered nothing, `devices` with a dead port."""

from __future__ import annotations

from pathlib import Path

import pytest

from demoforge.cli import main
from tests import factories as F
from tests.collect.virtual_rig import small_virtual_rig


def test_recover_unrecoverable_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    F.write_dataset(tmp_path, [F.clean_recording(30, seed=0)])
    damaged = b"\x89HDF\r\n\x1a\n" + bytes(300)
    (tmp_path / "episode_1.hdf5").write_bytes(damaged)
    assert main(["recover", str(tmp_path)]) == 1
    assert "1 intact, 0 recovered, 1 unrecoverable" in capsys.readouterr().out
    assert (tmp_path / "episode_1.hdf5").read_bytes() == damaged  # left as it was


def test_recover_of_intact_and_cut_off_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    F.write_dataset(tmp_path, [F.clean_recording(30, seed=0)])
    F.write_cut_off(tmp_path / "episode_1.hdf5")
    assert main(["recover", str(tmp_path)]) == 0
    assert "1 intact, 1 recovered, 0 unrecoverable" in capsys.readouterr().out


def test_devices_rig_with_a_port_that_cannot_open_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    rig = tmp_path / "rig.toml"
    rig.write_text(rig.read_text().replace("emulator:follower_left", str(tmp_path / "no-such-tty")))
    assert main(["devices", "--rig", str(rig), "--no-cameras"]) == 1
    out = capsys.readouterr().out
    assert "cannot" in out and "follower" in out


def test_a_folder_named_like_a_shipped_rig_is_not_a_rig_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demoforge.collect.rigs import resolve_rig

    monkeypatch.chdir(tmp_path)
    (tmp_path / "virtual").mkdir()  # e.g. a dataset recorded with --dataset virtual
    assert resolve_rig("virtual").name == "virtual"


def test_refused_record_leaves_no_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    rig = tmp_path / "rig.toml"
    rig.write_text(rig.read_text().replace("emulator:follower_left", str(tmp_path / "no-such-tty")))
    (tmp_path / "rig.left.calib.json").write_text("{}")
    ds = tmp_path / "aloha"
    assert main(["record", "--rig", str(rig), "--dataset", str(ds), "--unattended"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not ds.exists()
