"""Training data: only the verified split, trims left out, statistics from train episodes only."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from demoforge.cli import main
from demoforge.policy.config import make_config
from demoforge.policy.data import load_training_data
from demoforge.schemas.errors import ConfigError
from tests.factories import clean_dataset


def test_train_without_a_split_exits_2_naming_the_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_dataset(tmp_path / "data", n=2, length=20)
    assert main(["train", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--preset", "tiny"]) == 2
    err = capsys.readouterr().err
    assert "splits.json" in err
    assert f"demoforge check {tmp_path / 'data'}" in err.replace("\n", "")
    assert "demoforge split" in err
    assert not (tmp_path / "run").exists()


def test_a_changed_episode_makes_the_split_refused(split_dataset: Path) -> None:
    ep = split_dataset / "episode_1.hdf5"
    st = ep.stat()
    os.utime(ep, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    with pytest.raises(ConfigError, match="changed since"):
        load_training_data(split_dataset, make_config("tiny"))


def test_only_train_and_val_episodes_and_stats_from_train_only(split_dataset: Path) -> None:
    splits = json.loads((split_dataset / "splits.json").read_text())
    data = load_training_data(split_dataset, make_config("tiny"))
    assert [e.path.name for e in data.train.episodes] == splits["train"]
    assert [e.path.name for e in data.val.episodes] == splits["val"]
    q, a = [], []
    for name in splits["train"]:
        with h5py.File(split_dataset / name) as f:
            q.append(f["observations/qpos"][()])
            a.append(f["action"][()])
    np.testing.assert_allclose(data.stats.qpos_mean, np.concatenate(q).mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(data.stats.action_std, np.concatenate(a).std(0), rtol=1e-4)
    with h5py.File(split_dataset / splits["val"][0]) as f:
        all_q = np.concatenate([*q, f["observations/qpos"][()]])
    assert not np.allclose(data.stats.qpos_std, all_q.std(0), rtol=1e-3)  # val would have changed them


def test_trimmed_spans_are_never_sampled(split_dataset: Path) -> None:
    splits = json.loads((split_dataset / "splits.json").read_text())
    name = splits["train"][0]
    splits["trim"] = {name: [[0.0, 0.09], [0.29, 0.49]]}  # ticks 0-4 and 15-24 of 40 (50 Hz)
    (split_dataset / "splits.json").write_text(json.dumps(splits))
    cfg = make_config("tiny")  # chunk 10
    data = load_training_data(split_dataset, cfg)
    e = [ep.path.name for ep in data.train.episodes].index(name)
    assert data.train.episodes[e].kept == ((5, 15), (25, 40))
    rows = data.train.index[data.train.index[:, 0] == e]
    ticks = set(rows[:, 1].tolist())
    assert ticks == set(range(5, 14)) | set(range(25, 39))  # the last tick of a span has no next action
    i = int(np.flatnonzero((data.train.index[:, 0] == e) & (data.train.index[:, 1] == 10))[0])
    sample = data.train[i]
    # observation at 10: actions 11..14 are kept, 15.. are trimmed -> padding
    assert sample["is_pad"].tolist() == [False] * 4 + [True] * 6
    with h5py.File(split_dataset / name) as f:
        raw = f["action"][11:15]
    s = data.stats
    np.testing.assert_allclose(sample["actions"][:4].numpy(), (raw - s.action_mean) / s.action_std, rtol=1e-5)
    assert sample["images"].shape == (3, 3, 24, 32)


def test_cache_gives_the_same_samples(split_dataset: Path) -> None:
    cfg = make_config("tiny")
    lazy = load_training_data(split_dataset, cfg)
    cached = load_training_data(split_dataset, cfg, cache=True)
    for i in (0, 17, len(lazy.train) - 1):
        a, b = lazy.train[i], cached.train[i]
        assert all(bool((a[k] == b[k]).all()) for k in a)
