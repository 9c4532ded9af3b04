"""The messy dataset the Ray engine's tests and `benchmarks/bench_ray_cancel.py` check: ten files."""

from __future__ import annotations

import copy
from pathlib import Path

from tests import factories as F
from tests import realistic_episodes as R


def write_messy_dataset(folder: Path) -> None:
    """Realistic episodes with real defects, a copied file, a half-copied one and one cut off mid-write."""
    recs = [R.realistic_recording(3.0, seed=60 + i)[0] for i in range(6)]
    R.defect_pause(recs[1], 1.0, 1.0)
    R.defect_dark(recs[2], "cam_high", 40, 48)
    R.defect_dead_follower(recs[3])
    recs.append(copy.deepcopy(recs[4]))  # near_duplicate: an exact copy
    recs.append(F.clean_recording(60, seed=9))  # another rig: length and start pose outliers
    paths = F.write_dataset(folder, recs)
    F.truncate(paths[5], 0.4)
    F.write_cut_off(folder / "episode_8.hdf5")
    (folder / "episode_9.hdf5").write_bytes(b"not an hdf5 file" * 50)
