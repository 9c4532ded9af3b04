"""The original ACT loader's way of reading (utils.py EpisodicDataset) gets what we wrote."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np

from tests.schemas.conftest import CAMS, frame, make_tick, write_episode


def act_read(
    path: Path, start_ts: int, camera_names: list[str]
) -> tuple[bool, np.ndarray, dict[str, np.ndarray], np.ndarray]:
    # Mirrors ACT / act-plus-plus: root attr `sim`, qpos, action, images, `compress` + cv2.imdecode.
    with h5py.File(path, "r") as root:
        is_sim = root.attrs["sim"]
        compressed = root.attrs.get("compress", False)
        qpos = root["/observations/qpos"][start_ts]
        action = root["/action"][start_ts:]
        image_dict = {cam: root[f"/observations/images/{cam}"][start_ts] for cam in camera_names}
    if compressed:
        image_dict = {cam: cv2.imdecode(img, 1) for cam, img in image_dict.items()}
    return bool(is_sim), qpos, image_dict, action


def test_act_reads_raw_episode(tmp_path: Path) -> None:
    path = write_episode(tmp_path / "episode_0.hdf5", n=12, compress=False)
    is_sim, qpos, images, action = act_read(path, 4, list(CAMS))
    assert is_sim is False
    np.testing.assert_array_equal(qpos, make_tick(4).qpos)
    assert action.shape == (8, 3)
    np.testing.assert_array_equal(images["cam_high"], frame("cam_high", 4))


def test_act_reads_jpeg_episode(tmp_path: Path) -> None:
    path = write_episode(tmp_path / "episode_0.hdf5", n=12, compress=True)
    _, qpos, images, _ = act_read(path, 7, list(CAMS))
    np.testing.assert_array_equal(qpos, make_tick(7).qpos)
    for cam in CAMS:
        rgb = images[cam]
        assert rgb.shape == (*CAMS[cam], 3)
        # the ALOHA convention: cv2.imdecode of the padded row returns RGB, as for ALOHA's own files
        assert np.abs(rgb.astype(int) - frame(cam, 7).astype(int)).mean() < 6
        assert np.abs(rgb[..., ::-1].astype(int) - frame(cam, 7).astype(int)).mean() > 40
