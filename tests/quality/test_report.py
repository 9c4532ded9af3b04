"""report.json follows the design brief's format exactly; report.html is self-contained and light."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demoforge.quality import (
    CHECK_IDS,
    Report,
    Thresholds,
    check_dataset,
    report_html,
    report_to_json,
    write_report_html,
    write_report_json,
)
from demoforge.quality.findings import Finding
from demoforge.quality.report_html import render_html
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.splits import load_report
from tests import factories as F


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report]:
    folder = tmp_path_factory.mktemp("report")
    recs = [F.clean_recording(100, seed=i) for i in range(4)]
    F.plant_pause(recs[1], 30, 60)
    F.plant_dark(recs[2], "cam_high", 20, 40)
    F.write_dataset(folder, recs)
    F.truncate(folder / "episode_3.hdf5", 0.5)
    report = check_dataset(folder)
    write_report_json(folder, report)
    write_report_html(folder, report)
    return folder, report


def test_report_json_format(checked: tuple[Path, Report]) -> None:
    folder, _ = checked
    path = folder / "quality" / "report.json"
    assert path.stat().st_mode & 0o044 == 0o044  # readable by the trainer running as another user
    data = json.loads(path.read_text())
    assert set(data) == {"schema_version", "dataset", "created", "thresholds", "episodes", "dataset_findings"}
    assert data["schema_version"] == 2 and data["dataset"] == str(folder)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", data["created"])
    assert data["thresholds"]["pause_min_s"] == 0.5
    assert [e["file"] for e in data["episodes"]] == [f"episode_{i}.hdf5" for i in range(4)]
    for row in data["episodes"]:
        assert {"file", "verdict", "length", "duration_s", "findings", "skipped"} <= set(row)
        assert row["verdict"] in ("pass", "fail")
        assert set(row["fingerprint"]) == {"size", "mtime_ns"}
        for f in row["findings"]:
            assert set(f) == {"check", "severity", "start_s", "end_s", "message", "detail", "incident"}
            assert f["incident"].startswith(row["file"].removesuffix(".hdf5") + "#")
            assert f["check"] in CHECK_IDS and f["severity"] in ("error", "warning")
            assert 0 <= f["start_s"] <= f["end_s"] <= row["duration_s"] + 1e-6
        for cid in row["skipped"]:
            assert cid in CHECK_IDS
    verdicts = [e["verdict"] for e in data["episodes"]]
    assert verdicts == ["pass", "fail", "fail", "fail"]
    assert [f["check"] for f in data["episodes"][1]["findings"]] == ["pause"]
    assert data["episodes"][0]["attrs"]["task"] == "pick"


def test_whole_episode_finding_spans_the_duration(checked: tuple[Path, Report]) -> None:
    _, report = checked
    ep = report.episodes[0]
    f = Finding("success_label", "error", 0.0, ep.duration_s, "x")
    assert f.to_json()["end_s"] == round(ep.duration_s, 4)


def test_report_round_trips_through_json(checked: tuple[Path, Report]) -> None:
    folder, report = checked
    data = load_report(folder)
    assert data == json.loads(json.dumps(report_to_json(report)))
    for row, res in zip(data["episodes"], report.episodes, strict=True):
        assert [Finding.from_json(f).check for f in row["findings"]] == [f.check for f in res.findings]


def test_load_reads_version_1_reports_without_incidents(tmp_path: Path) -> None:
    (tmp_path / "quality").mkdir()
    row = {"file": "episode_0.hdf5", "verdict": "fail", "findings": [{"check": "pause", "severity": "error"}]}
    (tmp_path / "quality" / "report.json").write_text(json.dumps({"schema_version": 1, "episodes": [row]}))
    assert load_report(tmp_path)["episodes"][0]["findings"][0]["check"] == "pause"


@pytest.mark.parametrize(
    "broken",
    [
        '{"schema_version": 3, "episodes": []}',
        '{"schema_version": 1}',
        "[]",
        "{not json",
        '{"schema_version": 1, "episodes": [{"file": "episode_0.hdf5", "verdict": "maybe"}]}',
    ],
)
def test_load_rejects_malformed_reports(tmp_path: Path, broken: str) -> None:
    (tmp_path / "quality").mkdir()
    (tmp_path / "quality" / "report.json").write_text(broken)
    with pytest.raises(ConfigError):
        load_report(tmp_path)


def test_html_self_contained(checked: tuple[Path, Report]) -> None:
    folder, _ = checked
    html = (folder / "quality" / "report.html").read_text()
    assert html.startswith("<!doctype html>")
    assert "http://" not in html and "https://" not in html and "<script src" not in html
    assert html.count('class="ep"') == 3  # the flagged episodes only
    assert 'id="ep-episode_1-hdf5"' in html and 'id="ep-episode_0-hdf5"' not in html
    assert "data:image/jpeg;base64," in html and 'class="s-follower"' in html
    assert "interval between frames" in html
    assert html.count("<rect") > 10  # shaded spans and histogram bars
    assert 'class="sortable"' in html


def test_html_stays_light_for_many_episodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recs = [F.clean_recording(60, seed=i) for i in range(40)]
    for r in recs[::2]:
        F.plant_pause(r, 20, 50)
    F.write_dataset(tmp_path, recs)
    report = check_dataset(tmp_path, jobs=2)
    size = write_report_html(tmp_path, report).stat().st_size
    assert size < 40 * 60_000 + 200_000  # a flagged episode's plots and frames: ~45 KB
    # however many episodes are flagged, their sections stop at the page budget, and the page says so
    monkeypatch.setattr(report_html, "PAGE_BUDGET", size // 2)
    half = render_html(report)
    assert len(half) <= size // 2 and "more flagged episodes are rows in the table" in half


def test_parallel_equals_serial(tmp_path: Path) -> None:
    recs = [F.clean_recording(60, seed=i) for i in range(5)]
    F.plant_pause(recs[1], 20, 45)
    F.plant_tracking_offset(recs[3], 0)
    F.write_dataset(tmp_path, recs)
    one, two = (
        report_to_json(check_dataset(tmp_path, jobs=1)),
        report_to_json(check_dataset(tmp_path, jobs=2)),
    )
    assert one["episodes"] == two["episodes"] and one["dataset_findings"] == two["dataset_findings"]


def test_dataset_flagged_episode_gets_plots(tmp_path: Path) -> None:
    recs = [F.clean_recording(60, seed=i) for i in range(4)]
    recs.append(F.clean_recording(20, seed=9))  # only the dataset's length check flags it
    F.write_dataset(tmp_path, recs)
    report = check_dataset(tmp_path, Thresholds(min_episode_ticks=10))
    short = report.episodes[4]
    assert [f.check for f in short.findings] == ["length_outlier"]
    assert short.assets is not None and short.assets.qpos.shape == (20, 6)
    assert short.assets.frames == []  # a whole-episode finding has no moment to show
    assert all(e.assets is None for e in report.episodes[:4])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
rows = st.fixed_dictionaries(
    {
        "file": st.one_of(st.text(max_size=12), st.integers()),
        "verdict": st.sampled_from(["pass", "fail", "x"]),
    },
    optional={
        "findings": st.one_of(
            json_values,
            st.lists(
                st.fixed_dictionaries({"check": st.sampled_from(["pause", 3]), "severity": st.just("error")})
            ),
        )
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        json_values,
        st.fixed_dictionaries({"schema_version": st.sampled_from([1, 2]), "episodes": st.lists(rows)}),
    )
)
def test_load_report_any_json(tmp_path: Path, doc: object) -> None:
    (tmp_path / "quality").mkdir(exist_ok=True)
    (tmp_path / "quality" / "report.json").write_text(json.dumps(doc))
    try:
        data = load_report(tmp_path)
    except ConfigError as e:
        assert "report.json" in e.message
        return
    assert all(r["verdict"] in ("pass", "fail") and isinstance(r["file"], str) for r in data["episodes"])
    assert all(isinstance(f["check"], str) for r in data["episodes"] for f in r["findings"])
