"""A file `demoforge record` writes, decoded exactly as act-plus-plus does, shows true colours."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np

from demoforge.cli import main
from demoforge.collect.cameras.synthetic import SyntheticCamera
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_reader import EpisodeReader
from tests.collect.virtual_rig import record_args, small_virtual_rig


def test_act_plus_plus_decode_of_a_recorded_episode_gives_rgb(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    ds = tmp_path / "ds"
    assert main(record_args(tmp_path, ds, "--label", "success", episodes=1, episode_time=0.3)) == 0
    path = ds / "episode_0.hdf5"
    cam = rig.cameras[0]
    source = SyntheticCamera(cam.name, cam.width, cam.height, cam.fps)  # renders what the rig's camera did
    with h5py.File(path, "r") as root:  # act-plus-plus utils.py EpisodicDataset.__getitem__
        compressed = root.attrs.get("compress", False)
        rows = root[f"/observations/images/{cam.name}"][()]
        counters = root[L.frame_index_path(cam.name)][()]
    assert compressed
    with EpisodeReader(path) as ep:
        ours = ep.images(cam.name)
    for t in (0, len(rows) // 2, len(rows) - 1):
        decoded = np.array(cv2.imdecode(rows[t], 1))  # the padded row, as act-plus-plus passes it
        truth = source.render(int(counters[t])).astype(int)
        assert np.abs(decoded.astype(int) - truth).mean() < 12  # JPEG noise on a 96x72 noisy texture
        assert np.abs(decoded[..., ::-1].astype(int) - truth).mean() > 25  # a swap would show
        assert np.abs(ours[t].astype(int) - decoded.astype(int)).max() == 0
