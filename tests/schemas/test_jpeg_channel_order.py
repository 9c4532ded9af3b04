"""The JPEG channel convention: written the ALOHA way, read back as RGB whichever way a file was written."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import EpisodeError
from demoforge.schemas.jpeg import CHANNEL_ORDER, decode_jpeg, encode_jpeg
from tests.schemas.conftest import CAMS, frame, write_episode
from tests.schemas.export_fixtures import write_true_colour_episode


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return float(np.abs(a.astype(int) - b.astype(int)).mean()) < 6


def test_writer_states_the_aloha_convention(tmp_path: Path) -> None:
    path = write_episode(tmp_path / "episode_0.hdf5", n=6, compress=True)
    with h5py.File(path, "r") as f:
        assert f.attrs[L.JPEG_CHANNEL_ORDER] == L.JPEG_ALOHA == CHANNEL_ORDER
    with EpisodeReader(path) as ep:
        assert ep.jpeg_channel_order == L.JPEG_ALOHA
        for cam in CAMS:
            assert _close(ep.image(cam, 3), frame(cam, 3))


@pytest.mark.parametrize("keep_attr", [True, False])
def test_early_true_colour_files_still_read_as_rgb(tmp_path: Path, keep_attr: bool) -> None:
    path = write_true_colour_episode(tmp_path / "episode_0.hdf5", 5, keep_attr=keep_attr)
    with EpisodeReader(path) as ep:
        assert ep.jpeg_channel_order == L.JPEG_TRUE_COLOUR
        for cam in CAMS:
            assert _close(ep.image(cam, 2), frame(cam, 2))
            assert _close(ep.image(cam, 2, reduce=2), frame(cam, 2)[::2, ::2])


def test_plain_aloha_file_without_our_attributes_reads_as_rgb(tmp_path: Path) -> None:
    # ALOHA's recorder: RGB straight into cv2.imencode, no schema_version, no convention attribute
    path = tmp_path / "episode_0.hdf5"
    rgb = frame("cam_high", 0)
    buf = cv2.imencode(".jpg", rgb)[1].reshape(-1)
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = False
        f.attrs["compress"] = True
        for name in (L.QPOS, L.QVEL, L.ACTION):
            f[name] = np.zeros((1, 14), np.float32)
        f[L.image_path("cam_high")] = buf[None, :]
        f[L.COMPRESS_LEN] = np.array([[buf.size]], np.float32)
    with EpisodeReader(path) as ep:
        assert ep.jpeg_channel_order == L.JPEG_ALOHA
        assert _close(ep.image("cam_high", 0), rgb)


def test_an_unknown_convention_is_one_clear_error(tmp_path: Path) -> None:
    path = write_episode(tmp_path / "episode_0.hdf5", n=3, compress=True)
    with h5py.File(path, "r+") as f:
        f.attrs[L.JPEG_CHANNEL_ORDER] = "bgr"
    with pytest.raises(EpisodeError, match="jpeg_channel_order"):
        EpisodeReader(path)


@settings(max_examples=30, deadline=None)
@given(
    order=st.sampled_from(L.JPEG_CHANNEL_ORDERS),
    pad=st.integers(0, 64),
    colour=st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)),
)
def test_decode_returns_rgb_for_either_order(order: str, pad: int, colour: tuple[int, int, int]) -> None:
    rgb = np.empty((16, 16, 3), np.uint8)
    rgb[...] = colour
    payload = encode_jpeg(rgb) if order == L.JPEG_ALOHA else cv2.imencode(".jpg", rgb[..., ::-1])[1]
    row = np.concatenate([np.asarray(payload, np.uint8).reshape(-1), np.zeros(pad, np.uint8)])
    out = decode_jpeg(row, order=order)
    assert out is not None
    assert np.abs(out.astype(int) - rgb.astype(int)).max() <= 3
