"""`train` on a LeRobot dataset through its split (tests/data/lerobot_v30, written by LeRobot itself)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("av")

from demoforge.cli import main
from demoforge.policy.config import make_config
from demoforge.policy.data import load_training_data
from demoforge.policy.train import train
from demoforge.schemas.lerobot_reader import LeRobotSource
from demoforge.schemas.splits import Splits

SOURCE = Path(__file__).parents[1] / "data" / "lerobot_v30"


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("lerobot_train")
    src, reports = tmp / "src", tmp / "reports"
    shutil.copytree(SOURCE, src)
    assert main(["check", str(src), "--out", str(reports), "--unattended"]) == 0
    assert main(["split", str(src), "--out", str(reports), "--val", "0.2"]) == 0
    return src, reports


def test_samples_follow_the_split_its_trims_and_lerobots_alignment(curated: tuple[Path, Path]) -> None:
    src, reports = curated
    cfg = make_config("tiny", {"model": {"image_height": 32, "image_width": 32}})
    data = load_training_data(src, cfg, reports=reports)
    splits = Splits.load(reports)
    assert [e.name for e in data.train.episodes] == splits.train
    assert data.cameras == ("top", "wrist") and data.n_joints == 7
    idle = next(e for e in data.train.episodes + data.val.episodes if e.name == "episode_6")
    assert idle.kept[0][0] > 0  # the idle start is left out
    assert all(e.action_offset == 0 for e in data.train.episodes)  # observed before acting
    sample = data.train[0]
    e, t, _ = (int(x) for x in data.train.index[0])
    with LeRobotSource(src).open(int(data.train.episodes[e].name.split("_")[1])) as r:
        want = (r.action[t] - data.stats.action_mean) / data.stats.action_std
        # a sample's frame (seeked alone) is the frame the whole-episode decode gives at that tick
        ticks = range(0, r.length, 7)
        alone = [r.image("top", k, reduce=2) for k in ticks]
        assert all(np.array_equal(a, r.frames("top", 2)[k]) for a, k in zip(alone, ticks, strict=True))
    assert np.allclose(sample["actions"][0].numpy(), want, atol=1e-5)
    assert sample["images"].shape == (2, 3, 32, 32)


def test_train_runs_on_a_lerobot_split(curated: tuple[Path, Path], tmp_path: Path) -> None:
    src, reports = curated
    cfg = make_config("tiny", {"train": {"steps": 4, "val_every": 4, "log_every": 2, "save_every": 4}})
    summary = train(src, tmp_path / "run", cfg, live=False, reports=reports)
    assert summary["status"] == "done"
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["train_episodes"] == Splits.load(reports).train
