"""Damaged, half-written and plain ALOHA files become findings or skipped checks, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demoforge.quality import CHECK_IDS, Thresholds, check_dataset, check_episode
from tests import factories as F
from tests.quality.conftest import errors


def _one(tmp_path: Path, **kw: object) -> Path:
    return F.write_dataset(tmp_path, [F.clean_recording(60, **kw)])[0]  # type: ignore[arg-type]


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.3, 0.6, 0.95])
def test_truncated_file_is_an_integrity_finding(tmp_path: Path, fraction: float) -> None:
    path = _one(tmp_path)
    F.truncate(path, fraction)
    res = check_episode(path, Thresholds())
    assert res.verdict == "fail"
    assert "integrity" in errors(res.findings)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "episode_0.hdf5"
    path.write_bytes(b"not an hdf5 file at all" * 100)
    res = check_episode(path, Thresholds())
    assert [f.check for f in res.findings] == ["integrity"]
    assert "episode_0.hdf5" in res.findings[0].message and "re-record" in res.findings[0].message
    assert set(res.skipped) == set(CHECK_IDS) - {"integrity"}


def test_cut_off_writer(tmp_path: Path) -> None:
    path = F.write_cut_off(tmp_path / "episode_0.hdf5")
    res = check_episode(path, Thresholds())
    integrity = [f for f in res.findings if f.check == "integrity"]
    assert integrity and "demoforge recover" in integrity[0].message
    assert res.length > 0  # what was flushed is still checked


def test_corrupt_jpeg_row_is_an_integrity_finding(tmp_path: Path) -> None:
    import h5py

    path = _one(tmp_path)
    with h5py.File(path, "r+") as f:
        lens = f["/compress_len"][0]
        t = int(lens.argmin())  # the frame the dark-frame check samples first
        f["/observations/images/cam_high"][t, :50] = 7
    res = check_episode(path, Thresholds())
    hits = [f for f in res.findings if f.check == "integrity"]
    assert hits and hits[0].detail == {"ticks": [t, t + 1], "camera": "cam_high"}


def test_mixed_dataset_still_reports_every_episode(tmp_path: Path) -> None:
    paths = F.write_dataset(tmp_path, [F.clean_recording(60, seed=i) for i in range(4)])
    F.truncate(paths[1], 0.4)
    report = check_dataset(tmp_path, jobs=2)
    assert [e.verdict for e in report.episodes] == ["pass", "fail", "pass", "pass"]
    assert report.episodes[1].skipped["length_outlier"].startswith("episode unreadable")


def test_plain_aloha_checked_with_what_it_has(tmp_path: Path) -> None:
    for i in range(3):
        F.write_plain_aloha(tmp_path / f"episode_{i}.hdf5", 80, seed=i)
    report = check_dataset(tmp_path, Thresholds(allow_unlabelled=True))
    for e in report.episodes:
        assert e.verdict == "pass", [(f.check, f.message) for f in e.findings]
        for cid in (
            "control_rate",
            "frame_drop",
            "stale_frame",
            "frozen_frame",
            "camera_sync",
            "joint_limit",
        ):
            assert cid in e.skipped, cid
        assert "timestamps" in e.skipped["control_rate"]
        assert "joint_limits" in e.skipped["joint_limit"]
        for ran in ("integrity", "pause", "dark_frame", "success_label", "length_outlier"):
            assert ran not in e.skipped


def test_plain_aloha_defects_still_found(tmp_path: Path) -> None:
    F.write_plain_aloha(tmp_path / "episode_0.hdf5", 80)
    res = check_episode(tmp_path / "episode_0.hdf5", Thresholds())
    assert errors(res.findings) == {"success_label"}  # the original recorder never labelled


def test_empty_episode(tmp_path: Path) -> None:
    r = F.clean_recording(1)
    path = F.write_dataset(tmp_path, [r])[0]
    res = check_episode(path, Thresholds())  # one tick: most checks cannot say anything, none may crash
    assert res.length == 1


def test_raw_image_episodes(tmp_path: Path) -> None:
    recs = [F.clean_recording(100, seed=i) for i in range(3)]
    F.plant_frozen(recs[1], "cam_high", 20, 30)
    F.plant_dark(recs[2], "cam_left_wrist", 30, 70)  # covers the middle tick, the one raw frames sample
    F.write_dataset(tmp_path, recs, compress=False)
    report = check_dataset(tmp_path)
    assert report.episodes[0].findings == []
    assert errors(report.episodes[1].findings) == {"frozen_frame"}
    assert errors(report.episodes[2].findings) == {"dark_frame"}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = F.write_dataset(tmp_path_factory.mktemp("pristine"), [F.clean_recording(60)])[0]
    return path.read_bytes()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.floats(0, 1, exclude_max=True), junk=st.binary(min_size=1, max_size=512))
def test_random_damage_never_crashes(tmp_path: Path, pristine: bytes, offset: float, junk: bytes) -> None:
    i = int(offset * len(pristine))
    path = tmp_path / "episode_0.hdf5"
    path.write_bytes(pristine[:i] + junk + pristine[i + len(junk) :])
    res = check_episode(path, Thresholds())
    assert res.verdict in ("pass", "fail")
    assert all(f.check in CHECK_IDS for f in res.findings)
