"""Bad files of every kind raise EpisodeError with a clear message; nothing else escapes, nothing hangs."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import EpisodeError
from tests.schemas.conftest import write_episode

_TEMPLATE: dict[str, bytes] = {}


def template_bytes() -> bytes:
    if "jpeg" not in _TEMPLATE:
        d = Path(tempfile.mkdtemp())
        _TEMPLATE["jpeg"] = write_episode(d / "episode_0.hdf5", n=20, compress=True).read_bytes()
        shutil.rmtree(d)
    return _TEMPLATE["jpeg"]


def read_everything(path: Path) -> None:
    with EpisodeReader(path) as ep:
        _ = (ep.qpos, ep.qvel, ep.action, ep.effort, ep.leader_qpos, ep.timestamps)
        for cam in ep.cameras:
            ep.frame_time(cam)
            ep.frame_index(cam)
            ep.image(cam, ep.length - 1) if ep.length else None
            ep.optional(L.device_time_path(cam)), ep.optional(L.device_index_path(cam))
        for name in L.TICK_SCALARS:
            ep.optional(name)


def plain_aloha(path: Path, n: int = 10, j: int = 14) -> Path:
    """An episode as ACT's record_sim_episodes.py writes it: no effort, timestamps or our attributes."""
    with h5py.File(path, "w") as root:
        root.attrs["sim"] = True
        obs = root.create_group("observations")
        obs.create_group("images").create_dataset("top", data=np.zeros((n, 8, 8, 3), np.uint8))
        obs.create_dataset("qpos", data=np.zeros((n, j)))
        obs.create_dataset("qvel", data=np.zeros((n, j)))
        root.create_dataset("action", data=np.zeros((n, j)))
    return path


def test_plain_aloha_file_reads_and_reports_missing(tmp_path: Path) -> None:
    with EpisodeReader(plain_aloha(tmp_path / "episode_0.hdf5")) as ep:
        assert ep.length == 10 and ep.n_joints == 14 and ep.cameras == ["top"] and ep.sim
        assert ep.timestamps is None and ep.effort is None and ep.leader_qpos is None
        assert (
            L.TIMESTAMPS in ep.missing and L.frame_time_path("top") in ep.missing and "attr:fps" in ep.missing
        )
        assert ep.joint_names[0] == "joint_0" and ep.fps is None
        assert ep.image("top", 3).shape == (8, 8, 3)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 0.999))
def test_truncated_file(tmp_path: Path, cut: float) -> None:
    data = template_bytes()
    path = tmp_path / "episode_0.hdf5"
    path.write_bytes(data[: int(len(data) * cut)])
    try:
        read_everything(path)
    except EpisodeError as e:
        assert str(path) in e.message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=4096))
def test_garbage_bytes(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "episode_0.hdf5"
    path.write_bytes(blob)
    with pytest.raises(EpisodeError, match="not a readable HDF5 file"):
        read_everything(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(0, 10**9), junk=st.binary(min_size=1, max_size=64))
@example(offset=57397, junk=b"\x00")  # found by CI: compress_len read was unguarded
def test_corrupted_bytes_inside_file(tmp_path: Path, offset: int, junk: bytes) -> None:
    data = bytearray(template_bytes())
    at = offset % len(data)
    data[at : at + len(junk)] = junk
    path = tmp_path / "episode_0.hdf5"
    path.write_bytes(bytes(data[: len(template_bytes())]))
    try:
        read_everything(path)
    except EpisodeError as e:
        assert e.message and e.hint


MUTATIONS = {
    "missing_qpos": lambda f: f.__delitem__(L.QPOS),
    "missing_action": lambda f: f.__delitem__(L.ACTION),
    "short_action": lambda f: (
        f.__delitem__(L.ACTION),
        f.create_dataset(L.ACTION, data=np.zeros((5, 3), np.float32)),
    ),
    "int_qpos": lambda f: (f.__delitem__(L.QPOS), f.create_dataset(L.QPOS, data=np.zeros((20, 3), np.int32))),
    "string_qvel": lambda f: (f.__delitem__(L.QVEL), f.create_dataset(L.QVEL, data=np.array([b"x"] * 20))),
    "qpos_1d": lambda f: (f.__delitem__(L.QPOS), f.create_dataset(L.QPOS, data=np.zeros(20, np.float32))),
    "wrong_joint_count": lambda f: (
        f.__delitem__(L.QVEL),
        f.create_dataset(L.QVEL, data=np.zeros((20, 4), np.float32)),
    ),
    "image_float": lambda f: (
        f.__delitem__(L.image_path("cam_high")),
        f.create_dataset(L.image_path("cam_high"), data=np.zeros((20, 4, 4, 3), np.float32)),
    ),
    "image_two_channels": lambda f: (
        f.__delitem__(L.image_path("cam_high")),
        f.create_dataset(L.image_path("cam_high"), data=np.zeros((20, 4, 4, 2), np.uint8)),
    ),
    "timestamps_short": lambda f: (
        f.__delitem__(L.TIMESTAMPS),
        f.create_dataset(L.TIMESTAMPS, data=np.zeros(3)),
    ),
    "qpos_is_group": lambda f: (f.__delitem__(L.QPOS), f.create_group(L.QPOS)),
    "reward_short": lambda f: f.create_dataset(L.REWARD, data=np.zeros(7, np.float32)),
    "clamped_float": lambda f: f.create_dataset(L.CLAMPED, data=np.zeros(20, np.float32)),
    "device_index_2d": lambda f: f.create_dataset(
        L.device_index_path("cam_high"), data=np.zeros((20, 2), np.int64)
    ),
    "device_time_is_group": lambda f: f.create_group(L.device_time_path("cam_high")),
    "frame_index_float": lambda f: (
        f.__delitem__(L.frame_index_path("cam_high")),
        f.create_dataset(L.frame_index_path("cam_high"), data=np.zeros(20)),
    ),
}


@settings(
    max_examples=len(MUTATIONS) * 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=st.sampled_from(sorted(MUTATIONS)))
def test_wrong_structure(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.hdf5"
    path.write_bytes(template_bytes())
    with h5py.File(path, "r+") as f:
        MUTATIONS[name](f)
    with pytest.raises(EpisodeError) as info:
        read_everything(path)
    assert str(path) in info.value.message


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    row=st.integers(0, 19),
    col=st.integers(0, 2),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    name=st.sampled_from([L.QPOS, L.ACTION, L.QVEL, L.TIMESTAMPS]),
)
def test_non_finite_values(tmp_path: Path, row: int, col: int, bad: float, name: str) -> None:
    path = tmp_path / "episode_0.hdf5"
    path.write_bytes(template_bytes())
    with h5py.File(path, "r+") as f:
        if f[name].ndim == 1:
            f[name][row] = bad
        else:
            f[name][row, col] = bad
    with pytest.raises(EpisodeError, match=f"{name} has a non-finite value at row {row}"):
        read_everything(path)


def test_optional_datasets_with_fill_values_read_back(tmp_path: Path) -> None:
    path = tmp_path / "episode_0.hdf5"
    path.write_bytes(template_bytes())
    with h5py.File(path, "r+") as f:
        f.create_dataset(L.INFERENCE_LATENCY, data=np.full(20, np.nan, np.float32))
    with EpisodeReader(path) as ep:
        latency = ep.optional(L.INFERENCE_LATENCY)
        assert latency is not None and np.isnan(latency).all()  # NaN = no new chunk: not an error
        assert L.INFERENCE_LATENCY not in ep.missing and L.REWARD in ep.optional_missing
    with EpisodeReader(path) as ep, pytest.raises(ValueError, match="not an optional dataset"):
        ep.optional(L.QPOS)  # asking for a core dataset here is a bug in the caller


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(EpisodeError, match="does not exist"):
        EpisodeReader(tmp_path / "nope.hdf5")
    with pytest.raises(EpisodeError, match="is a folder"):
        EpisodeReader(tmp_path)


def test_corrupt_jpeg_row(tmp_path: Path) -> None:
    path = tmp_path / "episode_0.hdf5"
    path.write_bytes(template_bytes())
    with h5py.File(path, "r+") as f:
        f[L.image_path("cam_high")][3] = 7
    with EpisodeReader(path) as ep, pytest.raises(EpisodeError, match=r"cam_high\[3\] is not a valid JPEG"):
        ep.image("cam_high", 3)
