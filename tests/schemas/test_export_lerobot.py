"""`export --to lerobot`: the LeRobot v3.0 layout, read back with pandas, pyarrow and PyAV, is the source."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av  # the `export` extra: `make setup` installs it
import numpy as np
import pandas as pd
import pytest

from demoforge.cli import main
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.episode_writer import EpisodeWriter
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.export_lerobot import export_lerobot
from tests.schemas.conftest import make_attrs, make_tick, write_episode
from tests.schemas.export_fixtures import TRAIN_CLIPS, curate, curated_dataset


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("lerobot")
    ds = curated_dataset(root / "ds")
    return ds, export_lerobot(ds, root / "out", ["train"])


def test_layout_and_info(exported: tuple[Path, Path]) -> None:
    _, out = exported
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "data/chunk-000/file-000.parquet",
        "meta/demoforge_source.json",
        "meta/episodes/chunk-000/file-000.parquet",
        "meta/info.json",
        "meta/stats.json",
        "meta/tasks.parquet",
        "videos/observation.images.cam_high/chunk-000/file-000.mp4",
        "videos/observation.images.cam_wrist/chunk-000/file-000.mp4",
    ]
    info = json.loads((out / "meta/info.json").read_text())
    total = sum(n for _, _, n in TRAIN_CLIPS)
    assert info["codebase_version"] == "v3.0" and info["fps"] == 50
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (4, total, 1)
    assert info["splits"] == {"train": "0:4"}
    assert info["features"]["observation.state"] == {
        "dtype": "float32",
        "shape": [3],
        "names": ["j0", "j1", "j2"],
    }
    video = info["features"]["observation.images.cam_high"]
    assert video["dtype"] == "video" and video["shape"] == [24, 32, 3]
    assert video["info"]["video.codec"] == "h264" and video["info"]["video.fps"] == 50
    assert info["features"]["index"] == {"dtype": "int64", "shape": [1], "names": None}


def test_data_rows_equal_the_source_with_trims_applied(exported: tuple[Path, Path]) -> None:
    ds, out = exported
    data = pd.read_parquet(out / "data/chunk-000/file-000.parquet")
    assert list(data["index"]) == list(range(len(data)))
    for e, (name, start, n) in enumerate(TRAIN_CLIPS):
        rows = data[data["episode_index"] == e]
        assert list(rows["frame_index"]) == list(range(n))
        np.testing.assert_allclose(rows["timestamp"], np.arange(n) / 50, atol=1e-6)
        with EpisodeReader(ds / name) as ep:
            for column, source in (
                ("observation.state", ep.qpos),
                ("observation.velocity", ep.qvel),
                ("observation.effort", ep.effort),
                ("action", ep.action),
            ):
                assert source is not None
                np.testing.assert_array_equal(np.stack(rows[column].to_numpy()), source[start : start + n])
    episodes = pd.read_parquet(out / "meta/episodes/chunk-000/file-000.parquet")
    assert list(episodes["length"]) == [n for _, _, n in TRAIN_CLIPS]
    assert list(episodes["dataset_to_index"]) == list(np.cumsum([n for _, _, n in TRAIN_CLIPS]))
    np.testing.assert_allclose(
        episodes["videos/observation.images.cam_wrist/from_timestamp"], episodes["dataset_from_index"] / 50
    )
    assert list(episodes["tasks"].map(list)) == [["unit"]] * 4
    tasks = pd.read_parquet(out / "meta/tasks.parquet")
    assert tasks.loc["unit", "task_index"] == 0
    sources = json.loads((out / "meta/demoforge_source.json").read_text())["episodes"]
    assert [(c["file"], c["start"], c["stop"] - c["start"]) for c in sources] == TRAIN_CLIPS


def test_video_frames_equal_the_source_at_their_timestamps(exported: tuple[Path, Path]) -> None:
    ds, out = exported
    expected = []
    for name, start, n in TRAIN_CLIPS:
        with EpisodeReader(ds / name) as ep:
            expected += [ep.image("cam_high", t) for t in range(start, start + n)]
    with av.open(str(out / "videos/observation.images.cam_high/chunk-000/file-000.mp4")) as f:
        stream = f.streams.video[0]
        frames = [(fr.pts * stream.time_base, fr.to_ndarray(format="rgb24")) for fr in f.decode(stream)]
    assert len(frames) == len(expected)
    for i, (pts, rgb) in enumerate(frames):
        assert abs(float(pts) - float(Fraction(i, 50))) < 1e-4  # LeRobot's lookup tolerance
        err = np.abs(rgb.astype(int) - expected[i].astype(int)).mean()
        assert err < 8, (i, err)
        assert np.abs(rgb[..., ::-1].astype(int) - expected[i].astype(int)).mean() > 2 * err + 10


def test_stats_cover_every_feature(exported: tuple[Path, Path]) -> None:
    _, out = exported
    stats = json.loads((out / "meta/stats.json").read_text())
    data = pd.read_parquet(out / "data/chunk-000/file-000.parquet")
    state = np.stack(data["observation.state"].to_numpy())
    np.testing.assert_allclose(stats["observation.state"]["mean"], state.mean(axis=0), rtol=1e-6)
    assert stats["observation.state"]["count"] == [len(data)]
    assert set(stats["action"]) == {"min", "max", "mean", "std", "count", "q01", "q10", "q50", "q90", "q99"}
    assert np.asarray(stats["observation.images.cam_wrist"]["mean"]).shape == (3, 1, 1)
    blue = np.asarray(stats["observation.images.cam_wrist"]["mean"])[2, 0, 0]
    assert abs(blue - 200 / 255) < 0.05  # the wrist frames' blue channel is 200: not swapped


def test_val_split_only_and_existing_output_refused(exported: tuple[Path, Path], tmp_path: Path) -> None:
    ds, out = exported
    val = export_lerobot(ds, tmp_path / "val", ["val"])
    info = json.loads((val / "meta/info.json").read_text())
    assert (info["total_episodes"], info["total_frames"], info["splits"]) == (1, 24, {"val": "0:1"})
    with pytest.raises(ConfigError, match="not empty"):
        export_lerobot(ds, out, ["train"])


def test_cli_export_and_its_errors(
    exported: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds, _ = exported
    assert (
        main(["export", str(ds), "--to", "lerobot", str(tmp_path / "all"), "--split", "all", "--unattended"])
        == 0
    )
    assert json.loads((tmp_path / "all/meta/info.json").read_text())["splits"] == {
        "train": "0:4",
        "val": "4:5",
    }
    assert main(["export", str(ds), "--to", "lerobot", str(tmp_path / "x"), "--split", "test"]) == 2
    assert "unknown split test" in capsys.readouterr().err
    (ds / "splits.json").rename(ds / "splits.json.bak")
    try:
        assert main(["export", str(ds), "--to", "lerobot", str(tmp_path / "y")]) == 2
        assert "no splits.json" in capsys.readouterr().err
    finally:
        (ds / "splits.json.bak").rename(ds / "splits.json")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_episodes_of_another_setup_are_refused_and_nothing_is_left(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    ds.mkdir()
    write_episode(ds / "episode_0.hdf5", n=8)
    w = EpisodeWriter(ds / "episode_1.hdf5", make_attrs(compress=True, n_joints=4))
    for t in range(8):
        w.append(make_tick(t, n_joints=4))
    w.close(success=1)
    curate(ds, train=["episode_0.hdf5", "episode_1.hdf5"])
    with pytest.raises(ConfigError, match="joint_names"):
        export_lerobot(ds, tmp_path / "out", ["train"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no output, no staging folder


def test_videos_start_a_new_file_past_the_size_limit(exported: tuple[Path, Path], tmp_path: Path) -> None:
    ds, _ = exported
    out = export_lerobot(ds, tmp_path / "out", ["train"], video_file_mb=1e-4)  # every episode its own file
    episodes = pd.read_parquet(out / "meta/episodes/chunk-000/file-000.parquet")
    key = "videos/observation.images.cam_high"
    assert list(episodes[f"{key}/file_index"]) == [0, 1, 2, 3]
    assert list(episodes[f"{key}/from_timestamp"]) == [0.0] * 4
    np.testing.assert_allclose(episodes[f"{key}/to_timestamp"], [n / 50 for _, _, n in TRAIN_CLIPS])
    for i, (_, _, n) in enumerate(TRAIN_CLIPS):
        with av.open(str(out / f"videos/observation.images.cam_high/chunk-000/file-{i:03d}.mp4")) as f:
            assert sum(1 for _ in f.decode(video=0)) == n
    assert not (out / "videos/observation.images.cam_high/chunk-000/file-004.mp4").exists()
