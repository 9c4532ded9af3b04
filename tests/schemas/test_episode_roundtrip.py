from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.episode_writer import EpisodeWriter
from demoforge.schemas.errors import EpisodeError
from tests.schemas.conftest import CAMS, frame, make_attrs, make_tick, write_episode


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path: Path, compress: bool) -> None:
    path = write_episode(tmp_path / "episode_0.hdf5", n=40, compress=compress)
    with EpisodeReader(path) as ep:
        assert ep.length == 40 and ep.n_joints == 3
        assert ep.complete and not ep.cut_off and ep.success == 1
        assert ep.missing == []
        assert ep.joint_names == ["j0", "j1", "j2"]
        assert ep.fps == 50.0
        assert ep.compressed is compress
        assert set(ep.cameras) == set(CAMS)
        assert ep.loop_stats == {"achieved_hz": 50.0, "overruns": 0}
        np.testing.assert_allclose(ep.duration, 40 * 0.02)
        for t in (0, 17, 39):
            want = make_tick(t)
            np.testing.assert_array_equal(ep.qpos[t], want.qpos)
            np.testing.assert_array_equal(ep.action[t], want.action)
            np.testing.assert_array_equal(ep.leader_qpos[t], want.leader_qpos)
            assert ep.timestamps[t] == pytest.approx(t * 0.02)
            for cam in CAMS:
                img = ep.image(cam, t)
                assert img.shape == (*CAMS[cam], 3) and img.dtype == np.uint8
                err = np.abs(img.astype(int) - frame(cam, t).astype(int)).mean()
                assert err == 0 if not compress else err < 6
                assert ep.frame_index(cam)[t] == 100 + t
                assert ep.frame_time(cam)[t] == pytest.approx(t * 0.02 - 0.004)
        assert ep.images("cam_high", [1, 2, 3]).shape == (3, *CAMS["cam_high"], 3)


def test_jpeg_colours_are_true_and_lengths_recorded(tmp_path: Path) -> None:
    path = write_episode(tmp_path / "episode_0.hdf5", n=5, compress=True)
    with EpisodeReader(path) as ep:
        img = ep.image("cam_wrist", 0)
        assert img[..., 2].mean() > 150 > img[..., 1].mean() - 100  # blue channel stays blue
        lengths = ep.jpeg_lengths("cam_high")
        assert lengths is not None and lengths.shape == (5,) and (lengths > 0).all()
    with h5py.File(path) as f:
        row = f[L.image_path("cam_high")][0]
        assert row.shape == (int(f[L.IMAGES]["cam_high"].shape[1]),)
        assert f[L.COMPRESS_LEN].shape == (2, 5)


def test_episode_is_never_overwritten(episode: Path) -> None:
    with pytest.raises(EpisodeError, match="already exists"):
        EpisodeWriter(episode, make_attrs(True), CAMS)


def test_abort_keeps_data_and_marks_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "episode_0.hdf5"
    with pytest.raises(RuntimeError), EpisodeWriter(path, make_attrs(True), CAMS) as w:
        for t in range(7):
            w.append(make_tick(t))
        raise RuntimeError("camera unplugged")
    with EpisodeReader(path) as ep:
        assert ep.length == 7 and not ep.complete and ep.success == -1


def test_raw_frame_of_wrong_size_is_a_clear_error(tmp_path: Path) -> None:
    w = EpisodeWriter(tmp_path / "episode_0.hdf5", make_attrs(False), CAMS)
    tick = make_tick(0)
    tick.images["cam_high"] = np.zeros((10, 10, 3), np.uint8)
    w.append(tick)
    with pytest.raises(EpisodeError, match=r"cam_high.*expected"):
        w.flush()
