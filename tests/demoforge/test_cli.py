from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from demoforge.cli import main
from tests.schemas.conftest import write_episode


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")  # rich wraps cells to the terminal width


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "inspect" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and "demoforge" in capsys.readouterr().out


def test_inspect_episode_and_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_episode(tmp_path / "episode_0.hdf5", n=10)
    write_episode(tmp_path / "episode_1.hdf5", n=12, success=-1)
    assert main(["inspect", str(tmp_path / "episode_0.hdf5")]) == 0
    out = capsys.readouterr().out
    assert "/observations/qpos" in out and "(10, 3)" in out and "complete" in out
    assert main(["inspect", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "episode_1.hdf5" in out and "unlabeled" in out


def test_inspect_damaged_file_in_dataset_is_a_row_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_episode(tmp_path / "episode_0.hdf5", n=10)
    (tmp_path / "episode_1.hdf5").write_bytes(b"\x89HDF garbage")
    assert main(["inspect", str(tmp_path)]) == 0
    assert "not a readable HDF5 file" in capsys.readouterr().out


def test_user_error_is_one_message_and_exit_2(tmp_path: Path) -> None:
    # Through a real process: no traceback reaches the user.
    bad = tmp_path / "episode_0.hdf5"
    bad.write_bytes(b"nope")
    proc = subprocess.run(
        [sys.executable, "-m", "demoforge", "inspect", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "fix:" in proc.stderr and str(bad) in proc.stderr.replace("\n", "")
