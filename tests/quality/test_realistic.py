"""Episodes with real hardware's timing and motion: clean ones pass with no error, each defect is found.

Built by tests/realistic_episodes.py: free-running camera clocks (0.1 % drift), late deliveries,
equal loop and camera rates (aliasing), auto-exposure slowdowns; human tremor, servo dither, gripper
saturation and held objects.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from demoforge.cli import main
from demoforge.quality import (
    CHECKS,
    EpisodeResult,
    Report,
    Thresholds,
    check_dataset,
    check_episode,
    make_splits,
    write_report_json,
)
from demoforge.quality.checks_dataset import EpisodeSummary, check_start_pose
from demoforge.schemas.splits import Splits
from tests import factories as F
from tests import realistic_episodes as R
from tests.quality.conftest import errors, has_span, planted

SECONDS = 5.0
LOOSE_S = 0.15  # a human's pause has no sharp edge: spans within ~7 ticks
OPENCV = {c: R.CameraTiming(kind="opencv") for c in R.CAMS}


def _koch(**kw: object) -> dict[str, R.CameraTiming]:
    return {c: R.CameraTiming(kind="opencv", **kw) for c in R.CAMS}  # type: ignore[arg-type]


CLEAN_SETUPS: dict[str, dict[str, object]] = {
    "aloha_realsense_50hz": {"seed": 0},
    "aloha_realsense_50hz_b": {"seed": 1},
    "realsense_60fps_50hz": {"seed": 2, "cameras": {c: R.CameraTiming(fps=60.0) for c in R.CAMS}},
    "koch_opencv_30_30": {"seed": 3, "loop_hz": 30.0, "cameras": OPENCV},
    "koch_opencv_30_30_b": {"seed": 4, "loop_hz": 30.0, "cameras": OPENCV},
    "koch_v4l2_times": {"seed": 5, "loop_hz": 30.0, "cameras": _koch(v4l2_times=True)},
    "auto_exposure": {
        "seed": 6,
        "loop_hz": 30.0,
        "cameras": {
            c: R.CameraTiming(kind="opencv", slow_from_s=2.0 if c == "cam_high" else None) for c in R.CAMS
        },
    },
    "auto_exposure_realsense_10fps": {
        "seed": 8,
        "cameras": {
            c: R.CameraTiming(slow_from_s=2.0, slow_fps=10.0) if c == "cam_high" else R.CameraTiming()
            for c in R.CAMS
        },
    },
    "long_hold": {"seed": 7, "carry": 0.6},  # the gripper holds the object for most of the episode
    # nothing in the gripper: squeezed shut, leader and follower read a hair past their calibrated zero
    "gripper_saturated": {"seed": 9, "object_held": False},
}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, dict[str, R.Truth]]:
    folder = tmp_path_factory.mktemp("realistic_clean")
    built = {name: R.realistic_recording(SECONDS, **kw) for name, kw in CLEAN_SETUPS.items()}  # type: ignore[arg-type]
    F.write_dataset(folder, [r for r, _ in built.values()])
    return check_dataset(folder, jobs=2), {name: t for name, (_, t) in built.items()}


def _clean(clean: tuple[Report, dict[str, R.Truth]], name: str) -> EpisodeResult:
    return clean[0].episodes[list(CLEAN_SETUPS).index(name)]


@pytest.mark.parametrize("name", list(CLEAN_SETUPS))
def test_clean_realistic_episode_passes_without_errors(
    clean: tuple[Report, dict[str, R.Truth]], name: str
) -> None:
    res = _clean(clean, name)
    assert res.verdict == "pass" and errors(res.findings) == set(), [
        (f.check, f.message) for f in res.findings
    ]
    # camera_settings: the rigs in this dataset differ on purpose; camera_rate: see below
    assert {f.check for f in res.findings} <= {"camera_settings", "camera_rate"}, [
        (f.check, f.message) for f in res.findings
    ]


def test_auto_exposure_is_named_not_counted_as_lost_frames(clean: tuple[Report, dict[str, R.Truth]]) -> None:
    found = [f for f in _clean(clean, "auto_exposure").findings if f.check == "camera_rate"]
    assert len(found) == 1 and found[0].detail["camera"] == "cam_high"
    assert found[0].detail["measured_fps"] == pytest.approx(15.0, rel=0.03)
    assert abs(found[0].start_s - 2.0) < 0.2 and abs(found[0].end_s - SECONDS) < 0.05
    assert "auto exposure" in found[0].message


def test_held_object_is_not_a_calibration_error(clean: tuple[Report, dict[str, R.Truth]]) -> None:
    g0, g1 = clean[1]["long_hold"].grasp
    assert (g1 - g0) > 0.5 * SECONDS * 50  # held for most of the episode: a plain median would flag it
    assert not [f for f in _clean(clean, "long_hold").findings if f.check == "tracking_error"]


def test_warning_checks_never_emit_errors(clean: tuple[Report, dict[str, R.Truth]]) -> None:
    severity = {c.id: c.severity for c in CHECKS}
    for e in clean[0].episodes:
        for f in e.findings:
            assert f.check in severity and (severity[f.check] == "error" or f.severity == "warning")


# -- defects -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Defect:
    name: str
    build: Callable[[], tuple[F.Recording, tuple[int, int] | None]]  # recording, planted ticks (None: whole)
    check: str
    severity: str
    tol_s: float = 0.045
    side_effects: frozenset[str] = frozenset()  # other errors the same fault rightly causes


def _onset(r: F.Recording) -> int:
    """Ticks before the operator's hand leaves its start pose on its own (reaction, slow first mm)."""
    return int(np.argmax((np.abs(r.leader - r.leader[0]) > Thresholds().pause_motion_rad).any(axis=1)))


def _late_start() -> tuple[F.Recording, tuple[int, int] | None]:
    r, _ = R.realistic_recording(8.0, seed=20)
    natural = _onset(r)
    a, b = R.defect_late_start(r, 2.5)
    return r, (a, b + natural)


def _early_stop() -> tuple[F.Recording, tuple[int, int] | None]:
    r, _ = R.realistic_recording(8.0, seed=21)
    a, b = R.defect_early_stop(r, 2.0)
    # the first idle_end_keep_s of the wait is the hold a policy must learn: only the rest is idle
    return r, (int(np.searchsorted(r.ts, r.ts[a] + Thresholds().idle_end_keep_s)), b)


def _pause() -> tuple[F.Recording, tuple[int, int] | None]:
    r, _ = R.realistic_recording(8.0, seed=22)
    return r, R.defect_pause(r, 2.0, 3.0)


def _glitch() -> tuple[F.Recording, tuple[int, int] | None]:
    r, _ = R.realistic_recording(SECONDS, seed=23)
    return r, R.defect_leader_glitch(r, joint=2, at_s=3.0, size=1.0)


def _gripper_hair() -> tuple[F.Recording, tuple[int, int] | None]:
    r, truth = R.realistic_recording(SECONDS, seed=24, object_held=False)
    return r, R.defect_gripper_past_zero(r, truth.grasp[0] + 10)


def _dark(n: int) -> Callable[[], tuple[F.Recording, tuple[int, int] | None]]:
    def build() -> tuple[F.Recording, tuple[int, int] | None]:
        r, _ = R.realistic_recording(SECONDS, seed=25 + n)
        return r, R.defect_dark(r, "cam_left_wrist", 120, 120 + n)

    return build


def _stall(seconds: float) -> Callable[[], tuple[F.Recording, tuple[int, int] | None]]:
    def build() -> tuple[F.Recording, tuple[int, int] | None]:
        r, _ = R.realistic_recording(SECONDS, seed=30, stall=(2.0, seconds))
        i = int(np.searchsorted(r.ts, 2.0))
        return r, (i - 1, i + 1)

    return build


def _realsense_burst() -> tuple[F.Recording, tuple[int, int] | None]:
    cams = {c: R.CameraTiming(lost=(75, 76, 77, 78) if c == "cam_high" else ()) for c in R.CAMS}
    r, _ = R.realistic_recording(SECONDS, seed=31, cameras=cams)
    shown = r.frame_src["cam_high"]
    a = int(np.flatnonzero(shown == 74)[0]) + 1  # the ticks after frame 74 arrived that still showed it
    return r, (a, int(np.flatnonzero(shown == 79)[0]))


def _opencv_burst(v4l2_times: bool = False) -> tuple[F.Recording, tuple[int, int] | None]:
    cams = {
        c: R.CameraTiming(kind="opencv", v4l2_times=v4l2_times, lost=(75, 76, 77) if c == "cam_high" else ())
        for c in R.CAMS
    }
    r, _ = R.realistic_recording(SECONDS, seed=32, loop_hz=30.0, cameras=cams)
    shown = r.frame_src["cam_high"]
    a = int(np.flatnonzero(shown == 74)[0]) + 1
    return r, (a, int(np.flatnonzero(shown == 78)[0]))


def _dead() -> tuple[F.Recording, tuple[int, int] | None]:
    r, _ = R.realistic_recording(SECONDS, seed=33)
    R.defect_dead_follower(r, joint=9)
    return r, None


def _obstacle() -> tuple[F.Recording, tuple[int, int] | None]:
    r, _ = R.realistic_recording(SECONDS, seed=34)
    return r, R.defect_obstacle(r, joint=1, at_s=2.0, seconds=0.8)


def _calibration() -> tuple[F.Recording, tuple[int, int] | None]:
    r, _ = R.realistic_recording(SECONDS, seed=35)
    R.defect_calibration_offset(r, joint=4, offset=0.12)
    return r, None


def _short() -> tuple[F.Recording, tuple[int, int] | None]:
    r, _ = R.realistic_recording(1.5, seed=36)
    return r, None


STALE = frozenset({"stale_frame", "camera_sync"})
DEFECTS = [
    Defect("late_start", _late_start, "idle", "warning", LOOSE_S),
    Defect("early_stop", _early_stop, "idle", "warning", LOOSE_S),
    Defect("pause_with_dither", _pause, "pause", "error", LOOSE_S),
    Defect("leader_glitch", _glitch, "action_spike", "warning"),
    Defect("gripper_hair_past_zero", _gripper_hair, "joint_limit", "warning"),
    Defect("one_dark_frame", _dark(1), "dark_frame", "warning"),
    Defect("dark_run", _dark(6), "dark_frame", "error"),
    Defect("loop_hiccup_100ms", _stall(0.1), "control_rate", "warning"),
    Defect("loop_stall_300ms", _stall(0.3), "control_rate", "error"),
    # an image 4-5 periods old is also stale, and out of step with the other cameras
    Defect("realsense_lost_4", _realsense_burst, "frame_drop", "error", side_effects=STALE),
    Defect("opencv_lost_3", _opencv_burst, "frame_drop", "error", 0.07, STALE),
    Defect("v4l2_lost_3", lambda: _opencv_burst(v4l2_times=True), "frame_drop", "error", 0.07, STALE),
    Defect("dead_follower_joint", _dead, "dead_joint", "error"),
    Defect("obstacle", _obstacle, "stall", "error"),
    Defect("calibration_offset", _calibration, "tracking_error", "warning"),
    Defect("shorter_than_a_chunk", _short, "short_episode", "warning"),
]


@pytest.fixture(scope="module")
def defects(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[F.Recording, tuple[int, int] | None, EpisodeResult]]:
    folder = tmp_path_factory.mktemp("realistic_defects")
    out = {}
    for d in DEFECTS:
        r, ticks = d.build()
        path = F.write_recording(folder / f"{d.name}.hdf5", r)
        out[d.name] = (r, ticks, check_episode(path, Thresholds()))
    return out


@pytest.mark.parametrize("d", DEFECTS, ids=[d.name for d in DEFECTS])
def test_realistic_defect_found_with_its_span(
    defects: dict[str, tuple[F.Recording, tuple[int, int] | None, EpisodeResult]], d: Defect
) -> None:
    r, ticks, res = defects[d.name]
    span = planted(r, *ticks) if ticks else (0.0, res.duration_s)
    hits = [f for f in res.findings if f.check == d.check]
    if d.name == "obstacle":  # found once the follower is far enough behind: inside the planted span
        assert hits and all(span[0] <= f.start_s and abs(f.end_s - span[1]) <= d.tol_s for f in hits)
    else:
        assert has_span(res.findings, d.check, span, d.tol_s), [
            (f.check, f.start_s, f.end_s) for f in res.findings
        ]
    assert {f.severity for f in hits} == {d.severity}
    expected = {d.check} if d.severity == "error" else set()
    assert errors(res.findings) - d.side_effects == expected, [(f.check, f.message) for f in res.findings]


def test_lost_frames_counted_exactly_only_from_a_real_counter(
    defects: dict[str, tuple[F.Recording, tuple[int, int] | None, EpisodeResult]],
) -> None:
    [rs] = [f for f in defects["realsense_lost_4"][2].findings if f.check == "frame_drop"]
    assert rs.detail["exact"] and rs.detail["frames_lost"] == 4 and "4 frames lost" in rs.message
    [cv] = [f for f in defects["opencv_lost_3"][2].findings if f.check == "frame_drop"]
    assert not cv.detail["exact"] and "about 3 frames" in cv.message and "OpenCV counter" in cv.message
    [v4l2] = [f for f in defects["v4l2_lost_3"][2].findings if f.check == "frame_drop"]
    assert v4l2.detail["frames_lost"] == 3 and "device clock" in v4l2.message


def test_clamp_count_is_reported(
    defects: dict[str, tuple[F.Recording, tuple[int, int] | None, EpisodeResult]],
) -> None:
    r, _, res = defects["leader_glitch"]
    assert r.clamped is not None and res.clamped_ticks == int(r.clamped.sum()) >= 1
    [spike] = [f for f in res.findings if f.check == "action_spike"]
    assert spike.detail["signal"] == "leader reading" and spike.detail["clamped_ticks"] >= 1


# -- dataset level, split and CLI ---------------------------------------------------------------------


def test_near_duplicate_excludes_an_exact_copy_and_warns_about_a_replay(tmp_path: Path) -> None:
    recs = [R.realistic_recording(3.0, seed=40 + i)[0] for i in range(3)]
    recs.append(R.near_copy(recs[1]))  # same scene (frames), commands a few encoder steps apart
    recs.append(copy.deepcopy(recs[2]))  # a copied file
    F.write_dataset(tmp_path, recs)
    report = check_dataset(tmp_path)
    assert [e.verdict for e in report.episodes] == ["pass", "pass", "pass", "pass", "fail"]
    [replay] = [f for f in report.episodes[3].findings if f.check == "near_duplicate"]
    assert replay.severity == "warning" and replay.detail["duplicate_of"] == "episode_1.hdf5"
    [dup] = [f for f in report.episodes[4].findings if f.check == "near_duplicate"]
    assert dup.severity == "error" and dup.detail["duplicate_of"] == "episode_2.hdf5"


def test_the_same_commands_in_another_scene_are_no_duplicate(tmp_path: Path) -> None:
    recs = [R.realistic_recording(3.0, seed=40 + i)[0] for i in range(3)]
    other = copy.deepcopy(recs[1])
    for src in other.frame_src.values():
        src += 1  # each camera sees another picture from the first tick: another scene
    recs.append(other)
    F.write_dataset(tmp_path, recs)
    report = check_dataset(tmp_path)
    assert not [f for e in report.episodes for f in e.findings if f.check == "near_duplicate"]


def test_no_common_start_pose_is_one_dataset_finding(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    recs = []
    for i in range(6):
        start = R.HOME + np.where(np.arange(14) % 7 == 0, rng.uniform(-1.0, 1.0, 14), 0.0)  # waists anywhere
        recs.append(R.realistic_recording(3.0, seed=50 + i, start=start)[0])
    F.write_dataset(tmp_path, recs)
    report = check_dataset(tmp_path)
    assert not [f for e in report.episodes for f in e.findings if f.check == "start_pose"]
    [ds] = [f for f in report.dataset_findings if f.check == "start_pose"]
    assert "no common start pose" in ds.message and "waist" in ds.message


def _summary(i: int, pose: list[float]) -> EpisodeSummary:
    return EpisodeSummary(f"episode_{i}.hdf5", True, 100, 2.0, 1.0, pose, ["waist", "gripper"])


def test_start_pose_wraps_around_and_uses_each_joints_unit() -> None:
    th = Thresholds()
    around_pi = [_summary(i, [3.12 if i % 2 else -3.12, 0.9]) for i in range(8)]
    assert check_start_pose(around_pi, th) == []  # +3.12 and -3.12 rad are 0.04 apart
    around_pi.append(_summary(8, [3.12, 0.2]))  # gripper nearly closed at the start
    [(file, f)] = check_start_pose(around_pi, th)
    assert file == "episode_8.hdf5" and "gripper 0.70 from" in f.message and "rad" not in f.message


def test_length_outliers_are_judged_per_task(tmp_path: Path) -> None:
    recs = [F.clean_recording(100, seed=i) for i in range(4)] + [
        F.clean_recording(260, seed=10 + i) for i in range(4)
    ]
    for r in recs[4:]:
        r.task = "insert"
    recs.append(F.clean_recording(100, seed=20))
    recs[-1].task = "insert"  # aborted: far shorter than the other insertions
    F.write_dataset(tmp_path, recs)
    report = check_dataset(tmp_path)
    flagged = [e.file for e in report.episodes if "length_outlier" in errors(e.findings)]
    assert flagged == ["episode_8.hdf5"]
    [f] = [f for f in report.episodes[8].findings if f.check == "length_outlier"]
    assert "of task 'insert'" in f.message


def _idle_dataset(folder: Path, trim_pauses: bool = False) -> list[tuple[int, int]]:
    recs, spans = [], []
    for i in range(3):
        r, _ = R.realistic_recording(6.0, seed=60 + i)
        natural = _onset(r)
        spans.append((0, R.defect_late_start(r, 1.5)[1] + natural) if i == 0 else (0, 0))
        if i == 1:
            spans[-1] = R.defect_pause(r, 2.0, 1.0)
        recs.append(r)
    F.write_dataset(folder, recs)
    write_report_json(folder, check_dataset(folder, Thresholds(trim_pauses=trim_pauses)))
    return spans


def test_split_trims_idle_edges_and_keeps_the_episode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spans = _idle_dataset(tmp_path)
    s = make_splits(tmp_path, val=0.0)
    assert s.excluded == {"episode_1.hdf5": ["pause"]}  # a mid-episode pause still excludes by default
    assert list(s.trim) == ["episode_0.hdf5"]
    [(a, b)] = s.trim["episode_0.hdf5"]
    assert a == 0.0 and abs(b - spans[0][1] / 50) < LOOSE_S
    assert Splits.load(tmp_path).trim == s.trim
    assert main(["split", str(tmp_path), "--val", "0"]) == 0
    assert "trimmed" in capsys.readouterr().out


def test_trim_pauses_setting_trims_instead_of_excluding(tmp_path: Path) -> None:
    spans = _idle_dataset(tmp_path, trim_pauses=True)
    s = make_splits(tmp_path, val=0.0)
    assert s.excluded == {} and set(s.trim) == {"episode_0.hdf5", "episode_1.hdf5"}
    [(a, b)] = s.trim["episode_1.hdf5"]
    assert abs(a - 2.0) < LOOSE_S and abs(b - 3.0) < LOOSE_S
    assert spans[1][0] > 0


def test_fail_on_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    recs = [F.clean_recording(100, seed=i) for i in range(3)]
    F.plant_action_spike(recs[1], 2, 50)  # a warning only
    F.write_dataset(tmp_path, recs)
    assert main(["check", str(tmp_path), "--unattended", "--fail-on", "error"]) == 0
    assert main(["check", str(tmp_path), "--unattended", "--fail-on", "warning"]) == 1
    recs[2].success = 0
    F.write_dataset(tmp_path / "bad", recs)
    assert main(["check", str(tmp_path / "bad"), "--unattended"]) == 0  # verdicts are data by default
    assert main(["check", str(tmp_path / "bad"), "--unattended", "--json", "--fail-on", "error"]) == 1
    err = capsys.readouterr()
    assert "--fail-on error: 1 episode(s)" in err.err + err.out
    assert main(["check", str(tmp_path / "missing"), "--fail-on", "error"]) == 2  # bad input stays 2
