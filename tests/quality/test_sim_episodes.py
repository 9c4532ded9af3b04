"""Simulated followers: checks about real hardware (calibration drift) are not run, and say why."""

from __future__ import annotations

from pathlib import Path

import h5py

from demoforge.quality import Thresholds, check_dataset
from tests import factories as F


def test_tracking_error_not_run_on_a_simulated_follower(tmp_path: Path) -> None:
    recs = [F.clean_recording(120, seed=i) for i in range(2)]
    for r in recs:
        F.plant_tracking_offset(r, 0)
    F.write_dataset(tmp_path, recs)
    with h5py.File(tmp_path / "episode_1.hdf5", "r+") as f:
        f.attrs["sim"] = True
    report = check_dataset(tmp_path, Thresholds())
    real, sim = report.episodes
    assert any(f.check == "tracking_error" for f in real.findings)  # the same offset on a real arm
    assert not any(f.check == "tracking_error" for f in sim.findings)
    assert sim.skipped["tracking_error"] == "the follower is simulated (no calibration to drift)"
