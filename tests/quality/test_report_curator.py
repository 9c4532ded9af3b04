"""What a curator acts on: incidents in report.json, causes with next steps, overrides, episodes.csv."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demoforge.cli import main
from demoforge.quality import Report, check_dataset, write_report_html
from demoforge.quality.findings import Finding
from demoforge.quality.incidents import CAUSE_ORDER
from demoforge.quality.next_steps import summarize
from demoforge.quality.report_html import render_html
from demoforge.quality.report_json import findings_json
from demoforge.schemas.curation import set_override
from tests import factories as F


@pytest.fixture(scope="module")
def stalled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    """Episode 1: cam_high stalls for 8 ticks; episode 2: a pause; episode 3: never labelled."""
    folder = tmp_path_factory.mktemp("stalled")
    recs = [F.clean_recording(100, seed=i) for i in range(5)]
    F.plant_frame_drop(recs[1], "cam_high", 40, 48)
    F.plant_pause(recs[2], 30, 70)
    recs[3].success = -1
    F.write_dataset(folder, recs)
    return folder, check_dataset(folder)


def test_a_stalled_camera_is_one_incident_in_report_json(stalled: tuple[Path, Report]) -> None:
    folder, _ = stalled
    assert main(["check", str(folder), "--unattended"]) == 0
    row = json.loads((folder / "quality" / "report.json").read_text())["episodes"][1]
    checks = {f["check"] for f in row["findings"]}
    assert {"frame_drop", "stale_frame", "camera_sync"} <= checks
    assert {f["incident"] for f in row["findings"]} == {"episode_1#1"}


def test_causes_name_the_root_and_the_exact_next_step(stalled: tuple[Path, Report]) -> None:
    folder, report = stalled
    s = summarize(report)
    by = {(c.check, c.subject): c for c in s.failures}
    stall = by[("frame_drop", "cam_high")]
    assert stall.episodes == ["episode_1.hdf5"] and len(stall.incidents) == 1
    assert set(stall.consequences) >= {"stale_frame", "camera_sync"}
    assert stall.step.startswith("re-record episodes 1")
    label = by[("success_label", "never labelled")]
    assert f"`demoforge label {folder} 3 success`" in label.step
    pause = by[("pause", "")]
    assert f"`demoforge accept {folder} 2 --check pause --reason" in pause.step
    assert s.kept == 2 and s.total == 5
    # each failing episode has one cause: fixing it wins that episode's time back
    assert label.gain_s == pytest.approx(report.episodes[3].duration_s) and stall.gain_s > 0
    assert s.usable_s == pytest.approx(sum(e.duration_s for e in report.episodes if e.verdict == "pass"))


def test_an_override_counts_the_episode_as_usable(stalled: tuple[Path, Report], tmp_path: Path) -> None:
    folder, report = stalled
    set_override(folder, "2", ["pause"], "waiting for the cube to settle")
    try:
        s = summarize(report)
        html = render_html(report)
    finally:
        set_override(folder, "2", [], "")
    assert s.kept == 3 and "episode_2.hdf5" in s.overrides
    assert "waiting for the cube to settle" in html and "after your overrides" in html


def test_a_malformed_overrides_file_is_said_not_raised(stalled: tuple[Path, Report]) -> None:
    folder, report = stalled
    (folder / "overrides.json").write_text('{"episode_2.hdf5": {"accept": "pause"}}')
    try:
        html = render_html(report)
    finally:
        (folder / "overrides.json").unlink()
    assert "overrides.json was not read" in html


def test_html_leads_with_why_and_counts_every_check(stalled: tuple[Path, Report]) -> None:
    _, report = stalled
    html = render_html(report)
    assert html.index("Why and what next") < html.index("<h2>Checks</h2>") < html.index("<h2>Episodes</h2>")
    assert "also explains" in html and "camera_sync &times;1" in html
    # every check row has explicit numbers (no empty cells) and its thresholds with values
    assert "drop_gap_periods = 1.5" in html and "pause_min_s = 0.5" in html
    assert html.count('class="badge error"') >= 1  # success_label of episode 3 as a badge
    assert "First frame of every episode" in html and html.count('class="sheet"') == 3


def test_episodes_csv_opens_in_pandas(stalled: tuple[Path, Report]) -> None:
    folder, _ = stalled
    assert main(["check", str(folder), "--unattended"]) == 0
    df = pd.read_csv(folder / "quality" / "episodes.csv")
    assert list(df["episode"]) == [0, 1, 2, 3, 4]
    assert list(df["verdict"]) == ["pass", "fail", "fail", "fail", "pass"]
    assert list(df["kept"]) == [True, False, False, False, True]
    assert "frame_drop" in df.loc[1, "error_checks"] and df.loc[1, "incidents"] == 1
    assert (df["task"] == "pick").all() and df["length_ratio"].between(0.9, 1.1).all()
    assert df.loc[0, "usable_s"] == pytest.approx(df.loc[0, "duration_s"]) and df.loc[1, "usable_s"] == 0


def test_console_groups_findings_by_incident(
    stalled: tuple[Path, Report], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = stalled
    monkeypatch.setenv("COLUMNS", "240")
    assert main(["check", str(folder), "--unattended", "--max-rows", "10"]) == 0
    out = capsys.readouterr().out
    assert "frame_drop (+" in out and "stale_frame x" not in out
    assert "usable:" in out and f"demoforge label {folder} 3 success" in " ".join(out.split())


def test_plain_aloha_report_has_gripper_axis_and_says_what_was_skipped(tmp_path: Path) -> None:
    for i in range(3):
        F.write_plain_aloha(tmp_path / f"episode_{i}.hdf5", 60, seed=i)
    report = check_dataset(tmp_path)
    html = (write_report_html(tmp_path, report)).read_text()
    assert "no frame_index or frame_time datasets" in html  # skipped, with the reason
    assert "grippers (0 closed .. 1 open)" in html  # episodes fail: never labelled, so they get plots
    assert "demoforge label" in html


detail_values = st.one_of(
    st.none(), st.integers(-2, 2), st.text(max_size=6), st.lists(st.text(max_size=4), max_size=2)
)
findings_st = st.lists(
    st.builds(
        lambda check, sev, a, d, detail: Finding(check, sev, a, a + d, "what; fix", detail),
        st.sampled_from([*CAUSE_ORDER, "something_new"]),
        st.sampled_from(["error", "warning"]),
        st.floats(0, 4),
        st.floats(0, 4),
        st.dictionaries(
            st.sampled_from(["camera", "cameras", "joint", "kind", "success", "trim", "ticks"]), detail_values
        ),
    ),
    max_size=8,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(findings_st, min_size=1, max_size=4))
def test_any_findings_render_and_group(
    stalled: tuple[Path, Report], per_episode: list[list[Finding]]
) -> None:
    _, checked = stalled
    episodes = []
    for i, fs in enumerate(per_episode):
        e = copy.copy(checked.episodes[i % len(checked.episodes)])
        e.file, e.findings, e.assets, e.first_frames = f"episode_{i}.hdf5", fs, None, {}
        episodes.append(e)
    report = Report("/nonexistent/dataset", checked.thresholds, episodes)
    html = render_html(report)
    assert html.endswith("</html>\n")
    for e in episodes:
        ids = [f["incident"] for f in findings_json(e)]
        assert all(i.startswith(e.file.removesuffix(".hdf5") + "#") for i in ids)
