"""`export --to aloha`: episode_0..N-1 in the ALOHA layout, read the way ACT and act-plus-plus read them."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from demoforge.cli import main
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.export_aloha import export_aloha
from tests.schemas.conftest import CAMS, frame
from tests.schemas.export_fixtures import TRAIN_CLIPS, curate, curated_dataset, write_true_colour_episode


@pytest.fixture(scope="module")
def jpeg_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return curated_dataset(tmp_path_factory.mktemp("aloha") / "ds", compress=True)


def _act_reads(path: Path, t: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """ACT utils.py: qpos and action rows, images; cv2.imdecode of the padded row when `compress`."""
    with h5py.File(path, "r") as root:
        compressed = root.attrs.get("compress", False)
        qpos = root["/observations/qpos"][t]
        action = root["/action"][()]
        images = {cam: root[f"/observations/images/{cam}"][t] for cam in CAMS}
    if compressed:
        images = {cam: cv2.imdecode(row, 1) for cam, row in images.items()}
    return qpos, action, images


@pytest.mark.parametrize("jpeg", [False, True])
def test_export_renumbers_the_split_and_keeps_rows_and_frames(
    jpeg_dataset: Path, tmp_path: Path, jpeg: bool
) -> None:
    files = export_aloha(jpeg_dataset, tmp_path / "out", ["train"], jpeg=jpeg)
    assert [f.name for f in files] == [f"episode_{i}.hdf5" for i in range(len(TRAIN_CLIPS))]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [f.name for f in files] + ["demoforge_source.json"]
    )
    for f, (name, start, n) in zip(files, TRAIN_CLIPS, strict=True):
        with EpisodeReader(jpeg_dataset / name) as src:
            for t in (0, n - 1):
                qpos, action, images = _act_reads(f, t)
                np.testing.assert_array_equal(qpos, src.qpos[start + t])
                np.testing.assert_array_equal(action, src.action[start : start + n])
                for cam in CAMS:
                    want = src.image(cam, start + t)
                    assert images[cam].shape == want.shape
                    # raw: the decoded RGB itself; JPEG: the stored bytes copied, so exactly the same decode
                    np.testing.assert_array_equal(images[cam], want)
            if jpeg:
                with h5py.File(f, "r") as h:
                    assert h.attrs[L.JPEG_CHANNEL_ORDER] == L.JPEG_ALOHA
                    assert h[L.COMPRESS_LEN].shape == (len(CAMS), n)
        with h5py.File(f, "r") as h:
            assert h.attrs["sim"] == np.False_ and h.attrs["source"] == f"{name} ticks {start}:{start + n}"
            np.testing.assert_allclose(h[L.TIMESTAMPS][0], 0.0)


def test_raw_source_to_aloha_jpeg_is_encoded_in_the_aloha_convention(tmp_path: Path) -> None:
    ds = curated_dataset(tmp_path / "raw", compress=False)
    (f, *_) = export_aloha(ds, tmp_path / "out", ["val"], jpeg=True)
    _, _, images = _act_reads(f, 3)
    with EpisodeReader(ds / "episode_3.hdf5") as src:
        for cam in CAMS:
            assert np.abs(images[cam].astype(int) - src.image(cam, 3).astype(int)).mean() < 6
    with EpisodeReader(f) as back:  # and our reader reads the export
        assert back.jpeg_channel_order == L.JPEG_ALOHA and back.length == 24


def test_same_length_cuts_to_the_shortest(jpeg_dataset: Path, tmp_path: Path) -> None:
    files = export_aloha(jpeg_dataset, tmp_path / "out", ["train", "val"], same_length=True)
    lengths = {h5py.File(f, "r")["/action"].shape[0] for f in files}
    assert lengths == {min(n for _, _, n in TRAIN_CLIPS)}
    doc = json.loads((tmp_path / "out/demoforge_source.json").read_text())
    assert [e["split"] for e in doc["episodes"]] == ["train"] * 4 + ["val"]


def test_cli_notes_unequal_lengths(
    jpeg_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", str(jpeg_dataset), "--to", "aloha", str(tmp_path / "a"), "--unattended"]) == 0
    assert "the original ACT loader does not" in " ".join(capsys.readouterr().out.split())
    assert (
        main(["export", str(jpeg_dataset), "--to", "aloha", str(tmp_path / "b"), "--same-length", "--jpeg"])
        == 0
    )
    assert "lengths differ" not in capsys.readouterr().out


def test_early_true_colour_source_is_re_encoded_in_the_aloha_convention(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    write_true_colour_episode(ds / "episode_0.hdf5", 6, keep_attr=False)
    curate(ds, train=["episode_0.hdf5"])
    (f,) = export_aloha(ds, tmp_path / "out", ["train"], jpeg=True)
    _, _, images = _act_reads(f, 4)
    for cam in CAMS:
        assert np.abs(images[cam].astype(int) - frame(cam, 4).astype(int)).mean() < 6
