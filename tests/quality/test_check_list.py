"""The check list is the one place each check is declared: ids, severities, docs and tables follow it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from demoforge.cli import main
from demoforge.quality import CHECK_IDS, CHECKS, check_dataset, write_report_html
from demoforge.quality.checks_doc import DESIGN_IDS, render, threshold_reasons
from demoforge.quality.report_html import render_html
from demoforge.quality.thresholds import Thresholds
from tests import factories as F

DOC = Path(__file__).resolve().parents[2] / "docs" / "quality-checks.md"
DESIGN_WARNINGS = {"speed_outlier", "start_pose", "tracking_error", "action_spike", "camera_settings"}


def test_ids_match_the_design_brief() -> None:
    assert len(set(CHECK_IDS)) == len(CHECK_IDS)
    assert set(DESIGN_IDS) <= set(CHECK_IDS)
    severity = {c.id: c.severity for c in CHECKS}
    for cid in DESIGN_IDS:
        assert severity[cid] == ("warning" if cid in DESIGN_WARNINGS else "error"), cid
    added = set(CHECK_IDS) - set(DESIGN_IDS)
    assert added == {
        "camera_rate",
        "idle",
        "dead_joint",
        "stall",
        "short_episode",
        "near_duplicate",
        "format",  # LeRobot datasets: their tables, videos and stats agree (issue 21)
    }


# The check ids of report.json as the design brief fixes them ("Machine-readable outputs"), copied here
# so that this test needs nothing outside the repository: an id renamed or dropped breaks readers.
BRIEF_ERRORS = (
    "integrity", "control_rate", "frame_drop", "stale_frame", "frozen_frame", "dark_frame",
    "camera_sync", "pause", "length_outlier", "joint_limit", "success_label",
)  # fmt: skip
BRIEF_WARNINGS = ("speed_outlier", "start_pose", "tracking_error", "action_spike", "camera_settings")


def test_the_briefs_ids_and_severities_are_kept() -> None:
    assert sorted(DESIGN_IDS) == sorted(BRIEF_ERRORS + BRIEF_WARNINGS)
    assert set(BRIEF_WARNINGS) == DESIGN_WARNINGS
    severity = {c.id: c.severity for c in CHECKS}
    assert {cid: severity.get(cid) for cid in BRIEF_ERRORS} == dict.fromkeys(BRIEF_ERRORS, "error")
    assert {cid: severity.get(cid) for cid in BRIEF_WARNINGS} == dict.fromkeys(BRIEF_WARNINGS, "warning")


def test_docs_are_generated_from_the_list() -> None:
    assert DOC.read_text() == render(), "run: python -m demoforge.quality.checks_doc > docs/quality-checks.md"
    for c in CHECKS:
        assert f"## `{c.id}` ({c.severity}, {c.scope})" in DOC.read_text()


def test_every_threshold_is_documented_and_used_by_a_check() -> None:
    reasons = threshold_reasons()
    used = {t for c in CHECKS for t in c.thresholds}
    for f in dataclasses.fields(Thresholds):
        assert reasons.get(f.name), f"{f.name} has no reason comment"
        assert f.name in used, f"{f.name} is tuned by no check in the list"


@pytest.fixture(scope="module")
def plain_aloha(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plain")
    for i in range(3):
        F.write_plain_aloha(folder / f"episode_{i}.hdf5", 100, seed=i)
    F.write_dataset(folder / "ours", [F.clean_recording(100)])  # one of ours: other checks skipped
    (folder / "ours" / "episode_0.hdf5").rename(folder / "episode_3.hdf5")
    return folder


def test_report_html_with_skipped_checks_in_several_episodes(plain_aloha: Path) -> None:
    # the first version crashed here (TypeError counting skipped checks) once two episodes skipped some
    report = check_dataset(plain_aloha)
    assert sum(bool(e.skipped) for e in report.episodes) >= 2
    html = render_html(report)
    write_report_html(plain_aloha, report)
    for c in CHECKS:
        assert f"<td><b>{c.id}</b></td>" in html
    n_skipping = sum("control_rate" in e.skipped for e in report.episodes)
    row = html[html.index("<td><b>control_rate</b></td>") :]
    row = row[: row.index("</tr>")]
    assert f"<span>{n_skipping}</span>" in row and "no /timestamps dataset" in row


def test_cli_summary_table_follows_the_list(plain_aloha: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(plain_aloha), "--unattended", "--allow-unlabelled"]) == 0
    out = capsys.readouterr().out
    assert "episodes per check" in out and "control_rate" in out  # skipped on the plain files
    data = json.loads((plain_aloha / "quality" / "report.json").read_text())
    for row in data["episodes"]:
        assert set(row["skipped"]) <= set(CHECK_IDS)
        assert all(f["check"] in CHECK_IDS for f in row["findings"])
