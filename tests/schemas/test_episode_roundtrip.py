from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.episode_writer import CameraSample, EpisodeWriter
from demoforge.schemas.errors import EpisodeError
from tests.schemas.conftest import CAMS, frame, make_attrs, make_tick, write_episode


@pytest.mark.parametrize("compress", [False, True])
def test_round_trip(tmp_path: Path, compress: bool) -> None:
    path = write_episode(tmp_path / "episode_0.hdf5", n=40, compress=compress)
    with EpisodeReader(path) as ep:
        assert ep.length == 40 and ep.n_joints == 3
        assert ep.complete and not ep.cut_off and ep.success == 1
        assert ep.missing == ep.optional_missing  # every core dataset is there
        assert set(ep.optional_missing) == {
            *L.TICK_SCALARS,
            *(p for c in CAMS for p in (L.device_time_path(c), L.device_index_path(c))),
        }
        assert ep.optional(L.REWARD) is None
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
        EpisodeWriter(episode, make_attrs(True))


def test_abort_keeps_data_and_marks_incomplete(tmp_path: Path) -> None:
    path = tmp_path / "episode_0.hdf5"
    with pytest.raises(RuntimeError), EpisodeWriter(path, make_attrs(True)) as w:
        for t in range(7):
            w.append(make_tick(t))
        raise RuntimeError("camera unplugged")
    with EpisodeReader(path) as ep:
        assert ep.length == 7 and not ep.complete and ep.success == -1


def test_raw_frame_of_wrong_size_is_a_clear_error(tmp_path: Path) -> None:
    w = EpisodeWriter(tmp_path / "episode_0.hdf5", make_attrs(False))
    tick = make_tick(0, compress=False)
    tick.frames["cam_high"] = CameraSample(0.0, 0, image=np.zeros((10, 10, 3), np.uint8))
    w.append(tick)
    with pytest.raises(EpisodeError, match=r"cam_high.*expected"):
        w.flush()


def test_optional_datasets_round_trip_with_fill_values(tmp_path: Path) -> None:
    path = tmp_path / "episode_0.hdf5"
    optional = [L.CLAMPED, L.REWARD, L.device_time_path("cam_high"), L.device_index_path("cam_high")]
    w = EpisodeWriter(path, make_attrs(True), optional=optional, flush_interval=0.1)
    for t in range(12):
        tick = make_tick(t)
        if t != 3:  # tick 3: the camera had no frame yet; its device values are the fill values
            s = tick.frames["cam_high"]
            tick.frames["cam_high"] = replace(
                s, device_time=5.0 + t / 30, device_index=None if t == 7 else 900 + t
            )
        else:
            del tick.frames["cam_high"]
        tick.scalars = {L.CLAMPED: float(t % 4 == 0)} | ({L.REWARD: t / 10} if t > 5 else {})
        w.append(tick)
    w.close()
    with EpisodeReader(path) as ep:
        clamped, reward = ep.optional(L.CLAMPED), ep.optional(L.REWARD)
        dtime, didx = (
            ep.optional(L.device_time_path("cam_high")),
            ep.optional(L.device_index_path("cam_high")),
        )
        assert clamped is not None and reward is not None and dtime is not None and didx is not None
        assert clamped.dtype == np.uint8 and clamped.tolist() == [int(t % 4 == 0) for t in range(12)]
        assert reward.dtype == np.float32 and np.isnan(reward[:6]).all()
        np.testing.assert_allclose(reward[6:], np.arange(6, 12) / 10, rtol=1e-6)
        assert np.isnan(dtime[3]) and dtime[4] == pytest.approx(5.0 + 4 / 30)
        assert didx[3] == -1 and didx[7] == -1 and didx[8] == 908
        assert ep.frame_index("cam_high")[3] == -1  # the core counter agrees: no frame at tick 3
        assert set(ep.optional_missing) == {
            L.INFERENCE_LATENCY,
            L.HELD,
            L.device_time_path("cam_wrist"),
            L.device_index_path("cam_wrist"),
        }
        assert ep.optional(L.INFERENCE_LATENCY) is None


def test_writer_refuses_what_its_attributes_do_not_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an optional dataset"):
        EpisodeWriter(tmp_path / "episode_0.hdf5", make_attrs(True), optional=["/observations/foo"])
    w = EpisodeWriter(tmp_path / "episode_1.hdf5", make_attrs(True))
    w.append(make_tick(0, compress=False))  # RGB images into a JPEG episode: the sink did not encode
    with pytest.raises(ValueError, match="not encoded"):
        w.flush()
    w = EpisodeWriter(tmp_path / "episode_2.hdf5", make_attrs(False))
    w.append(make_tick(0, compress=True))
    with pytest.raises(ValueError, match="JPEG bytes"):
        w.flush()


def test_compress_len_rows_follow_the_cameras_attribute(tmp_path: Path) -> None:
    attrs = make_attrs(True)
    attrs.cameras.reverse()  # cam_wrist first: not the alphabetical order HDF5 lists the images in
    w = EpisodeWriter(tmp_path / "episode_0.hdf5", attrs)
    for t in range(5):
        w.append(make_tick(t))
    w.close()
    with h5py.File(tmp_path / "episode_0.hdf5") as f:
        assert f[L.COMPRESS_LEN][0, 0] == len(make_tick(0).frames["cam_wrist"].jpeg)  # type: ignore[arg-type]
    with EpisodeReader(tmp_path / "episode_0.hdf5") as ep:
        for cam in CAMS:
            lengths = ep.jpeg_lengths(cam)
            assert lengths is not None
            assert lengths.tolist() == [len(make_tick(t).frames[cam].jpeg) for t in range(5)]  # type: ignore[arg-type]
