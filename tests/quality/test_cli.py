"""`demoforge check` and `demoforge split` through demoforge.cli.main: outputs, exit codes, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from demoforge.cli import main
from tests import factories as F


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    recs = [F.clean_recording(50, seed=i) for i in range(4)]
    F.plant_frozen(recs[3], "cam_high", 10, 20)
    F.write_dataset(tmp_path / "ds", recs)
    return tmp_path / "ds"


def test_check_then_split(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(dataset), "--jobs", "2", "--unattended"]) == 0
    out = capsys.readouterr()
    assert "episode_3.hdf5" in out.out and "frozen_frame" in out.out and "3 pass, 1 fail" in out.out
    assert "checked 4/4" in out.err
    assert (dataset / "quality" / "report.json").is_file() and (dataset / "quality" / "report.html").is_file()
    assert main(["split", str(dataset), "--val", "0.34", "--seed", "2"]) == 0
    splits = json.loads((dataset / "splits.json").read_text())
    assert splits["excluded"] == {"episode_3.hdf5": ["frozen_frame"]}
    assert len(splits["val"]) == 1 and len(splits["train"]) == 2
    assert "excluded episode_3.hdf5: frozen_frame" in capsys.readouterr().out


def test_check_json_and_all_failing_still_exit_0(dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = dataset.parent / "strict.toml"
    cfg.write_text("dark_max_mean = 250.0\n")  # everything fails: verdicts are data, not errors
    assert main(["check", str(dataset), "--json", "--config", str(cfg)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["thresholds"]["dark_max_mean"] == 250.0
    assert {e["verdict"] for e in data["episodes"]} == {"fail"}


def test_large_dataset_table_is_summarized(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = [F.clean_recording(100, seed=i) for i in range(8)]
    recs[4].success = 0
    F.write_dataset(tmp_path, recs)
    assert main(["check", str(tmp_path), "--max-rows", "3", "--unattended"]) == 0
    out = capsys.readouterr().out
    assert "episode_4.hdf5" in out and "episode_0.hdf5" not in out
    assert "7 more episodes not shown (7 without findings)" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["check", "{tmp}/missing"], "is not a folder"),
        (["check", "{tmp}/empty"], "holds no episode"),
        (["check", "{ds}", "--config", "{tmp}/bad.toml"], "bad.toml: pause: unknown key"),
        (["check", "{ds}", "--config", "{tmp}/nope.toml"], "does not exist"),
        (["check", "{ds}", "--jobs", "0"], "--jobs"),
        (["split", "{ds}"], "run `demoforge check` first"),
        (["split", "{tmp}/missing"], "does not exist"),
    ],
)
def test_user_errors_exit_2_with_one_message(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.toml").write_text("pause = 1\n")
    args = [a.format(tmp=tmp_path, ds=dataset) for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert err.startswith("error:")
