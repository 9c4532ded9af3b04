"""Where episodes come from: our HDF5 folders (and plain ALOHA files) or a LeRobot dataset.

Commands list a folder's episodes as `EpisodeRef`s and open each with `open_episode`; what they get
back has `EpisodeReader`'s interface whichever the format. A ref is small and picklable, so the
local pool and Ray hand refs to the same functions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from demoforge.schemas import lerobot_layout
from demoforge.schemas.dataset import dataset_episodes
from demoforge.schemas.episode_layout import episode_index_of
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import EpisodeError
from demoforge.schemas.lerobot_reader import LeRobotEpisodeReader, LeRobotSource, is_lerobot

AnyEpisodeReader = EpisodeReader | LeRobotEpisodeReader


@dataclass(frozen=True)
class EpisodeRef:
    """One episode: its name in reports and splits, and where it is read from."""

    name: str  # episode_3.hdf5 for our files, episode_3 for a LeRobot dataset's episode 3
    path: Path  # the HDF5 file, or the LeRobot dataset's root folder
    episode_index: int | None = None  # LeRobot's episode_index; None for HDF5 files

    @property
    def is_lerobot(self) -> bool:
        return self.episode_index is not None


@lru_cache(maxsize=4)
def lerobot_source(root: str) -> LeRobotSource:
    """The dataset's metadata, read once per process (workers open many episodes of one dataset)."""
    return LeRobotSource(root)


def list_episodes(folder: str | Path) -> list[EpisodeRef]:
    """The episodes of a dataset folder, in episode order; an empty or unreadable one is an EpisodeError."""
    folder = Path(folder)
    if folder.is_dir() and is_lerobot(folder):
        lerobot_source.cache_clear()  # a fresh look: the dataset may have changed since
        src = lerobot_source(str(folder))
        return [EpisodeRef(n, folder, i) for n, i in zip(src.names(), sorted(src.episodes), strict=True)]
    return [EpisodeRef(p.name, p) for p in dataset_episodes(folder)]


def open_episode(ref: EpisodeRef) -> AnyEpisodeReader:
    """An open reader for `ref` (use as a context manager); EpisodeError when it cannot be read."""
    if ref.episode_index is None:
        return EpisodeReader(ref.path)
    return lerobot_source(str(ref.path)).open(ref.episode_index)


def open_named(folder: str | Path, name: str, default_fps: float | None = None) -> AnyEpisodeReader:
    """The episode a report or split calls `name` in dataset `folder` (episode_3.hdf5, or episode_3 of a
    LeRobot dataset). `default_fps`: the rate of an HDF5 file without an fps attribute."""
    folder = Path(folder)
    if folder.is_dir() and is_lerobot(folder):
        index = episode_index_of(name)
        if index is None or name != lerobot_layout.episode_name(index):
            raise EpisodeError(
                f"{folder}: {name!r} is not a LeRobot episode name", "expected episode_<index>"
            )
        return lerobot_source(str(folder)).open(index)
    return EpisodeReader(folder / name, default_fps=default_fps)


def hf_cache_places(repo_id: str) -> list[Path]:
    """Where a LeRobot dataset `org/name` lies when it was downloaded before, newest snapshot first.

    LeRobot keeps datasets in $HF_LEROBOT_HOME/<repo_id>, by default $HF_HOME/lerobot
    (lerobot/utils/constants.py:66-67), HF_HOME being ~/.cache/huggingface unless set
    (huggingface_hub/constants.py:129-134); `huggingface-cli download --repo-type dataset` keeps
    snapshots in $HF_HUB_CACHE (default $HF_HOME/hub) as datasets--<org>--<name>/snapshots/<revision>.
    """
    home = Path(
        os.environ.get("HF_HOME")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    ).expanduser()
    lerobot_home = Path(os.environ.get("HF_LEROBOT_HOME") or home / "lerobot").expanduser()
    hub = Path(os.environ.get("HF_HUB_CACHE") or home / "hub").expanduser()
    snapshots = hub / f"datasets--{repo_id.replace('/', '--')}" / "snapshots"
    found = (
        sorted(snapshots.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        if snapshots.is_dir()
        else []
    )
    return [lerobot_home / repo_id, *found] if found else [lerobot_home / repo_id, snapshots]


def resolve_dataset(arg: Path) -> Path:
    """A dataset folder as given, or a Hub repo id (`lerobot/aloha_sim_insertion_human`) found in the local
    Hugging Face cache. Never downloads: no network access is attempted."""
    if arg.exists() or arg.is_absolute() or len(arg.parts) != 2 or str(arg).startswith("."):
        return arg
    places = hf_cache_places(str(arg))
    for place in places:
        if is_lerobot(place):
            return place
    raise EpisodeError(
        f"{arg} is neither a folder nor a dataset in the local Hugging Face cache "
        f"(looked in {', '.join(str(p) for p in places)})",
        f"download it first (`huggingface-cli download --repo-type dataset {arg}`) or pass its folder",
    )


def source_of(folder: str | Path) -> LeRobotSource | None:
    """The LeRobot dataset at `folder`, None for an HDF5 folder."""
    folder = Path(folder)
    return lerobot_source(str(folder)) if folder.is_dir() and is_lerobot(folder) else None


__all__ = ["EpisodeError", "EpisodeRef", "list_episodes", "open_episode", "source_of"]
