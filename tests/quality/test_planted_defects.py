"""Every defect planted at a known span is found with that span; clean episodes have no findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from demoforge.quality import EpisodeResult, Report, Thresholds, check_dataset
from tests import factories as F
from tests.quality.conftest import errors, has_span, planted

N_CLEAN = 5
LENGTH = 100


@dataclass(frozen=True)
class Case:
    name: str
    plant: Callable[[F.Recording], None]
    check: str
    ticks: tuple[int, int] | None  # None: the whole episode
    side_effects: frozenset[str] = frozenset()  # other errors the same fault rightly causes
    severity: str = "error"


def _set(**kw: object) -> Callable[[F.Recording], None]:
    def plant(r: F.Recording) -> None:
        for k, v in kw.items():
            setattr(r, k, v)

    return plant


def _shift_all(joint: int, by: float) -> Callable[[F.Recording], None]:
    def plant(r: F.Recording) -> None:
        for arr in (r.qpos, r.action, r.leader):
            arr[:, joint] += by

    return plant


def _faster(r: F.Recording) -> None:
    fast = F.clean_recording(LENGTH, amplitude=1.5, seed=99)
    r.qpos[:], r.action[:], r.leader[:] = fast.qpos, fast.action, fast.leader


CASES = [
    Case("pause", lambda r: F.plant_pause(r, 40, 70), "pause", (39, 70)),
    Case(
        "frame_drop",
        lambda r: F.plant_frame_drop(r, "cam_high", 30, 40),
        "frame_drop",
        (30, 40),
        frozenset({"stale_frame", "camera_sync"}),
    ),
    Case(
        "stale",
        lambda r: F.plant_stale(r, "cam_left_wrist", 30, 45),
        "stale_frame",
        (30, 45),
        frozenset({"frame_drop", "camera_sync"}),
    ),
    Case("frozen", lambda r: F.plant_frozen(r, "cam_right_wrist", 20, 30), "frozen_frame", (20, 30)),
    Case("black", lambda r: F.plant_dark(r, "cam_left_wrist", 50, 80), "dark_frame", (50, 80)),
    Case("saturated", lambda r: F.plant_dark(r, "cam_high", 7, 12, "saturated"), "dark_frame", (7, 12)),
    Case(
        "desync",
        lambda r: F.plant_desync(r, "cam_right_wrist", 60, 75),
        "camera_sync",
        (60, 75),
        frozenset({"frame_drop"}),
    ),
    Case(
        "control_gap",
        lambda r: F.plant_control_gap(r, 50),
        "control_rate",
        (49, 51),
        frozenset({"frame_drop"}),
    ),
    Case("slow_rate", F.plant_slow_rate, "control_rate", None),
    Case("joint_limit", lambda r: F.plant_joint_limit(r, 2, 60, 70), "joint_limit", (60, 70)),
    Case("nan", lambda r: F.plant_nan(r, 20, 30), "integrity", (20, 30)),
    Case("failed", _set(success=0), "success_label", None),
    Case("unlabelled", _set(success=-1), "success_label", None),
    Case("incomplete", _set(complete=False), "integrity", None),
    Case(
        "action_spike", lambda r: F.plant_action_spike(r, 1, 50), "action_spike", (49, 52), severity="warning"
    ),
    Case("tracking", lambda r: F.plant_tracking_offset(r, 3), "tracking_error", None, severity="warning"),
    Case("start_pose", _shift_all(0, 0.5), "start_pose", (0, 50), severity="warning"),
    Case("speed", _faster, "speed_outlier", None, severity="warning"),
    Case(
        "camera_serial",
        _set(serials={"cam_high": "OTHER", "cam_left_wrist": "SN1", "cam_right_wrist": "SN2"}),
        "camera_settings",
        None,
        severity="warning",
    ),
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Report, dict[str, F.Recording]]:
    folder = tmp_path_factory.mktemp("planted")
    recs: dict[str, F.Recording] = {}
    for i in range(N_CLEAN):
        recs[f"clean{i}"] = F.clean_recording(LENGTH, seed=i)
    for k, case in enumerate(CASES):
        r = F.clean_recording(LENGTH, seed=100 + k)
        case.plant(r)
        recs[case.name] = r
    short = F.clean_recording(40, seed=50)
    recs["short"] = short
    F.write_dataset(folder, list(recs.values()))
    report = check_dataset(folder, Thresholds(), jobs=2)
    return folder, report, recs


def _result(dataset: tuple[Path, Report, dict[str, F.Recording]], name: str) -> EpisodeResult:
    _, report, recs = dataset
    return report.episodes[list(recs).index(name)]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_planted_defect_found_with_its_span(
    dataset: tuple[Path, Report, dict[str, F.Recording]], case: Case
) -> None:
    r = dataset[2][case.name]
    res = _result(dataset, case.name)
    span = planted(r, *case.ticks) if case.ticks else (0.0, res.duration_s)
    if case.check == "start_pose":
        span = (0.0, 1.0)  # a start-pose finding points at the first second
    assert has_span(res.findings, case.check, span), [(f.check, f.start_s, f.end_s) for f in res.findings]
    assert {f.severity for f in res.findings if f.check == case.check} == {case.severity}
    expected = {case.check} if case.severity == "error" else set()
    assert errors(res.findings) - expected - case.side_effects == set(), "unexpected errors"
    assert res.verdict == ("fail" if case.severity == "error" else "pass")


def test_joint_limit_names_the_joint(dataset: tuple[Path, Report, dict[str, F.Recording]]) -> None:
    found = [f for f in _result(dataset, "joint_limit").findings if f.check == "joint_limit"]
    assert {f.detail["joint"] for f in found} == {"joint_2"}
    assert {f.detail["signal"] for f in found} == {"qpos", "action"}


def test_length_outlier(dataset: tuple[Path, Report, dict[str, F.Recording]]) -> None:
    res = _result(dataset, "short")
    assert errors(res.findings) == {"length_outlier"}
    assert has_span(res.findings, "length_outlier", (0.0, res.duration_s))
    assert any(f.check == "length_outlier" for f in dataset[1].dataset_findings)


def test_clean_episodes_have_no_findings(dataset: tuple[Path, Report, dict[str, F.Recording]]) -> None:
    for i in range(N_CLEAN):
        res = _result(dataset, f"clean{i}")
        assert res.verdict == "pass"
        assert res.findings == [], [(f.check, f.message) for f in res.findings]
        assert res.skipped == {}
        assert res.rate_hz == pytest.approx(50.0, rel=0.01)


def test_unlabelled_allowed(tmp_path: Path) -> None:
    r = F.clean_recording(100)
    r.success = -1
    F.write_dataset(tmp_path, [r])
    from demoforge.quality import check_episode

    assert "success_label" in errors(check_episode(tmp_path / "episode_0.hdf5", Thresholds()).findings)
    allowed = check_episode(tmp_path / "episode_0.hdf5", Thresholds(allow_unlabelled=True))
    assert allowed.findings == []


def test_stillness_at_the_edges_is_idle_not_pause(tmp_path: Path) -> None:
    r = F.clean_recording(250)
    F.plant_pause(r, 1, 40)  # the operator settles in: still from tick 0
    for arr in (r.qpos, r.action, r.leader):
        arr[120:] = arr[119]  # ... and waits 2.6 s for the stop pedal
    F.write_dataset(tmp_path, [r])
    from demoforge.quality import check_episode

    res = check_episode(tmp_path / "episode_0.hdf5", Thresholds())
    assert res.verdict == "pass" and {f.check for f in res.findings} == {"idle"}
    assert has_span(res.findings, "idle", planted(r, 0, 40))
    # the first second of the wait stays in training (the hold a policy must learn), the rest is idle
    assert has_span(res.findings, "idle", planted(r, 119 + 50, 250))
    assert all(f.detail["trim"] for f in res.findings)


@pytest.mark.parametrize("still_ticks", [60, 74])  # 1.2 s and 1.48 s: under the 1 s kept + 0.5 s idle
def test_a_short_hold_at_the_end_is_kept_for_training(tmp_path: Path, still_ticks: int) -> None:
    r = F.clean_recording(250)
    for arr in (r.qpos, r.action, r.leader):
        arr[250 - still_ticks :] = arr[249 - still_ticks]  # the task done, the arms held to the end
    F.write_dataset(tmp_path, [r])
    from demoforge.quality import check_episode

    res = check_episode(tmp_path / "episode_0.hdf5", Thresholds())
    assert [f for f in res.findings if f.check == "idle"] == []


@pytest.mark.parametrize("cam_fps", [30.0, 60.0])
def test_cameras_at_their_own_rate_are_clean_and_drops_still_found(tmp_path: Path, cam_fps: float) -> None:
    recs = [F.clean_recording(150, seed=i, cam_fps=cam_fps) for i in range(3)]
    F.plant_frame_drop(recs[2], "cam_high", 60, 80)
    F.write_dataset(tmp_path, recs)
    report = check_dataset(tmp_path)
    for res in report.episodes[:2]:
        assert res.findings == [], [(f.check, f.message) for f in res.findings]
    found = [f for f in report.episodes[2].findings if f.check == "frame_drop"]
    assert found and found[0].detail["camera"] == "cam_high"
    assert abs(found[0].start_s - recs[2].ts[60]) < 0.05 and abs(found[0].end_s - recs[2].ts[80]) < 0.05


def test_ticks_without_a_frame(tmp_path: Path) -> None:
    r = F.clean_recording(100)
    F.plant_no_frame(r, "cam_high", 0, 3)  # not started yet
    F.plant_no_frame(r, "cam_high", 50, 56)  # unplugged for a moment
    F.write_dataset(tmp_path, [r])
    found = [f for f in check_dataset(tmp_path).episodes[0].findings]
    assert {f.check for f in found} == {"frame_drop"}
    assert has_span(found, "frame_drop", planted(r, 0, 3)) and has_span(
        found, "frame_drop", planted(r, 50, 56)
    )
    assert all(f.detail.get("missing") for f in found)


def test_an_episode_where_nothing_moves_is_a_pause(tmp_path: Path) -> None:
    r = F.clean_recording(100)
    for arr in (r.qpos, r.action, r.leader):
        arr[:] = arr[0]
    F.write_dataset(tmp_path, [r])
    from demoforge.quality import check_episode

    res = check_episode(tmp_path / "episode_0.hdf5", Thresholds())
    assert errors(res.findings) == {"pause"} and not [f for f in res.findings if f.check == "idle"]
    assert has_span(res.findings, "pause", (0.0, res.duration_s))
