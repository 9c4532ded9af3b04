"""Tiny curated datasets for the policy tests: factory episodes, then the real `check` and `split`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from demoforge.cli import main
from tests.factories import clean_recording, write_dataset


def make_split_dataset(folder: Path, n: int = 5, length: int = 40, val: float = 0.2) -> Path:
    """n clean episodes (6 joints, 3 cameras, 32x40 JPEG), checked and split with the CLI.

    Amplitudes differ per episode, so statistics over different episode sets differ.
    """
    write_dataset(folder, [clean_recording(length, seed=i, amplitude=0.4 + 0.05 * i) for i in range(n)])
    assert main(["check", str(folder)]) == 0
    assert main(["split", str(folder), "--val", str(val)]) == 0
    return folder


@pytest.fixture(scope="session")
def split_dataset_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_split_dataset(tmp_path_factory.mktemp("policy") / "data")


@pytest.fixture
def split_dataset(split_dataset_master: Path, tmp_path: Path) -> Path:
    """A private copy (tests may change it); copy2 keeps mtimes, so the split still verifies."""
    dst = tmp_path / "data"
    shutil.copytree(split_dataset_master, dst, copy_function=shutil.copy2)
    return dst
