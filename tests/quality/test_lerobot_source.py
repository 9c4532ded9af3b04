"""`check` on a LeRobot v3.0 dataset written by LeRobot's own writer (tests/data/lerobot_v30).

The dataset and the defects planted in it come from tests/data/make_lerobot_fixtures.py (run in the
peer venv); tests/data/lerobot_v30_planted.json lists them: episode -> (defect, first tick, end tick).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("av")

from demoforge.cli import main
from demoforge.quality import Report, Thresholds, check_dataset
from demoforge.quality.findings import Finding
from demoforge.schemas.splits import Splits

DATA = Path(__file__).parents[1] / "data"
SOURCE = DATA / "lerobot_v30"
PLANTED = {int(k): tuple(v) for k, v in json.loads((DATA / "lerobot_v30_planted.json").read_text()).items()}
FPS = 30.0
# defect -> (check id, severity, the span is the planted one (else the whole episode))
EXPECT = {
    "pause": ("pause", "error", True),
    "idle": ("idle", "warning", True),
    "frozen_frame": ("frozen_frame", "error", True),
    "dark_frame": ("dark_frame", "error", True),
    "length_outlier": ("length_outlier", "error", False),
    "action_spike": ("action_spike", "warning", True),
    "dead_joint": ("dead_joint", "error", False),
    "near_duplicate": ("near_duplicate", "error", False),
    "timestamp": ("format", "error", False),
}
TOL_S = 1.5 / FPS  # a span may be off by a tick at each edge


@pytest.fixture(scope="module")
def report() -> Report:
    return check_dataset(SOURCE, Thresholds())


def _found(findings: list[Finding], check: str, severity: str, span: tuple[float, float] | None) -> bool:
    return any(
        f.check == check
        and f.severity == severity
        and (span is None or (abs(f.start_s - span[0]) <= TOL_S and abs(f.end_s - span[1]) <= TOL_S))
        for f in findings
    )


@pytest.mark.parametrize("index", sorted(PLANTED))
def test_every_planted_defect_is_found_with_its_span(report: Report, index: int) -> None:
    defect, a, b = PLANTED[index]
    check, severity, spanned = EXPECT[defect]
    e = report.episodes[index]
    assert e.episode_index == index and e.file == f"episode_{index}"
    span = (a / FPS, b / FPS) if spanned else None
    assert _found(e.findings, check, severity, span), [(f.check, f.start_s, f.end_s) for f in e.findings]


def test_the_timestamp_defect_names_its_first_tick(report: Report) -> None:
    _, a, _ = PLANTED[14]
    (f,) = [f for f in report.episodes[14].findings if f.check == "format"]
    assert f.detail["ticks"][0] == a and "0.0001 s" in f.message


def test_clean_episodes_have_no_errors(report: Report) -> None:
    for e in report.episodes:
        if e.episode_index in PLANTED:
            continue
        assert e.verdict == "pass", (e.file, [(f.check, f.message) for f in e.findings])
    # a defect causes its own finding, not errors of unrelated checks
    for index, (defect, _, _) in PLANTED.items():
        check = EXPECT[defect][0]
        others = {f.check for f in report.episodes[index].findings if f.severity == "error"} - {check}
        assert others <= {"length_outlier", "pause"}, (index, others)  # an idle start is long, a pause too


def test_what_the_format_never_recorded_is_not_checked_with_the_reason(report: Report) -> None:
    skipped = report.episodes[0].skipped
    for check in ("control_rate", "frame_drop", "camera_sync", "stale_frame", "camera_rate"):
        assert skipped[check].startswith("not checked: LeRobot's timestamp is frame_index / fps")
    assert "joint limits" in skipped["joint_limit"]
    assert "next.success" in skipped["success_label"]
    assert "format" not in skipped


def test_check_cli_writes_the_report_elsewhere_and_names_episodes_by_index(tmp_path: Path) -> None:
    data = tmp_path / "ds"
    shutil.copytree(SOURCE, data)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    out = tmp_path / "out"
    assert main(["check", str(data), "--out", str(out), "--unattended"]) == 0
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before  # the dataset is only read
    rows = json.loads((out / "quality" / "report.json").read_text())["episodes"]
    assert [r["episode_index"] for r in rows] == list(range(15))
    assert rows[9]["file"] == "episode_9" and rows[9]["verdict"] == "fail"
    assert (out / "quality" / "report.html").is_file()
    csv = (out / "quality" / "episodes.csv").read_text().splitlines()
    assert csv[0].split(",")[0] == "episode" and [r.split(",")[0] for r in csv[1:4]] == ["0", "1", "2"]

    assert main(["split", str(data), "--out", str(out), "--val", "0.2"]) == 0
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before
    splits = Splits.load(out)
    failing = {f"episode_{i}" for i, (d, _, _) in PLANTED.items() if EXPECT[d][1] == "error"}
    assert set(splits.excluded) == failing
    kept = splits.train + splits.val
    assert sorted(kept, key=lambda n: int(n.split("_")[1])) == [
        f"episode_{i}" for i in range(15) if f"episode_{i}" not in failing
    ]
    assert splits.trim["episode_6"][0][0] == 0.0  # the idle start is trimmed

    (data / "meta" / "info.json").touch()  # metadata touched: fine; a data file changed: the split refuses
    with (data / "data" / "chunk-000" / "file-000.parquet").open("ab") as fh:
        fh.write(b"\0")
    assert main(["split", str(data), "--out", str(out)]) == 2


def test_a_v21_dataset_reads_and_checks_the_same(tmp_path: Path) -> None:
    from tests.data.lerobot_v21 import write_v21

    root = write_v21(tmp_path / "v21", [0, 1, 5, 8])  # clean, clean, pause, dark top camera
    report = check_dataset(root, Thresholds())
    assert [e.episode_index for e in report.episodes] == [0, 1, 2, 3]
    assert [e.verdict for e in report.episodes] == ["pass", "pass", "fail", "fail"]
    _, a, b = PLANTED[5]
    assert _found(report.episodes[2].findings, "pause", "error", (a / FPS, b / FPS))
    _, a, b = PLANTED[8]
    assert _found(report.episodes[3].findings, "dark_frame", "error", (a / FPS, b / FPS))
    assert not [
        f for e in report.episodes for f in e.findings if f.check == "format" and f.severity == "error"
    ]


def test_a_repo_id_resolves_to_the_local_hugging_face_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(home))
    for var in ("HF_LEROBOT_HOME", "HF_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["inspect", "someone/nothing_here"]) == 2  # never downloads: says where it looked
    err = capsys.readouterr().err
    assert str(home / "lerobot" / "someone" / "nothing_here") in err and "huggingface-cli download" in err
    snapshot = home / "hub" / "datasets--someone--planted" / "snapshots" / "0123abc"
    shutil.copytree(SOURCE, snapshot)  # as `huggingface-cli download` leaves it
    assert main(["inspect", "someone/planted"]) == 0
    assert "total recorded time: 57.0 s" in capsys.readouterr().out  # 1710 ticks at 30 fps
    shutil.copytree(SOURCE, home / "lerobot" / "someone" / "planted")  # as LeRobot leaves it: preferred
    assert main(["check", "someone/planted", "--out", str(tmp_path / "q"), "--unattended"]) == 0
    report = json.loads((tmp_path / "q" / "quality" / "report.json").read_text())
    assert report["dataset"] == str(home / "lerobot" / "someone" / "planted")


def test_accept_on_a_lerobot_episode_writes_beside_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "ds", tmp_path / "out"
    shutil.copytree(SOURCE, data)
    assert main(["check", str(data), "--out", str(out), "--unattended"]) == 0
    args = ["accept", str(data), "5", "--check", "pause", "--reason", "a planned wait", "--out", str(out)]
    assert main(args) == 0
    assert json.loads((out / "overrides.json").read_text())["episode_5"]["accept"] == ["pause"]
    assert main(["split", str(data), "--out", str(out)]) == 0
    splits = Splits.load(out)
    assert "episode_5" in splits.train + splits.val and "episode_5" in splits.overrides
    assert main(["accept", str(data), "99", "--check", "pause", "--reason", "x", "--out", str(out)]) == 2
    assert main(["label", str(data), "3", "success"]) == 2  # LeRobot data are not rewritten
    assert "next.success" in capsys.readouterr().err
