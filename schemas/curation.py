"""Decisions a person makes after recording: success labels and findings accepted despite the check.

Neither touches recorded data. A label rewrites only the episode's `success` attribute and its
manifest entry; an override lives in `overrides.json` beside the episodes and is honoured (and
copied into `splits.json`) by `demoforge split`. Both change what the split may contain, so a split
cut before them no longer verifies: run `check` and `split` again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py

from demoforge.schemas import episode_layout as L
from demoforge.schemas import lerobot_layout
from demoforge.schemas.dataset import MANIFEST, Manifest, read_json, write_json_atomic
from demoforge.schemas.errors import ConfigError, EpisodeError
from demoforge.schemas.lerobot_reader import is_lerobot
from demoforge.schemas.writable import require_writable

OVERRIDES = "overrides.json"
LABELS = {"success": 1, "failure": 0, "unlabeled": L.SUCCESS_UNLABELED}


def episode_path(folder: str | Path, episode: str) -> Path:
    """`episode_3.hdf5`, `3` or a path, as the file inside the dataset folder (a LeRobot dataset's
    episode 3: `folder/episode_3`, its name in reports)."""
    folder = Path(folder)
    name = Path(episode).name
    if is_lerobot(folder):
        from demoforge.schemas.episode_source import lerobot_source

        index = int(name) if name.isdigit() else L.episode_index_of(name)
        if index is None or index not in lerobot_source(str(folder)).episodes:
            raise EpisodeError(
                f"{episode} is not an episode of the LeRobot dataset {folder}",
                "name it by its episode_index, e.g. 3 or episode_3",
            )
        return folder / lerobot_layout.episode_name(index)
    if name.isdigit():
        name = L.episode_name(int(name))
    path = folder / name
    if L.episode_number(name) is None or not path.is_file():
        raise EpisodeError(
            f"{path} is not an episode of {folder}",
            "name an episode by its number or file name, e.g. 3 or episode_3.hdf5",
        )
    return path


def set_label(folder: str | Path, episode: str, label: str) -> Path:
    """Set one episode's success label (attribute and manifest); recorded data stays untouched."""
    if label not in LABELS:
        raise ConfigError(f"unknown label {label!r}", f"use one of: {', '.join(LABELS)}")
    if is_lerobot(Path(folder)):
        raise ConfigError(
            f"{folder} is a LeRobot dataset: its success labels are its next.success column",
            "demoforge does not rewrite LeRobot data; accept the finding instead (`demoforge accept`)",
        )
    path = episode_path(folder, episode)
    require_writable(
        Path(folder),
        "the dataset folder",
        "labels are written into the episode and dataset.json: copy "
        "the dataset somewhere you may write, or ask for write access",
    )
    try:
        with h5py.File(path, "r+") as f:
            f.attrs["success"] = LABELS[label]
    except OSError as e:
        raise EpisodeError(
            f"{path} cannot be opened for labelling ({e})",
            "close the recorder that writes it, or run `demoforge recover` on a cut-off episode",
        ) from None
    if (Path(folder) / MANIFEST).exists():
        manifest = Manifest.load(folder)
        for entry in manifest.episodes:
            if entry.file == path.name:
                entry.success = LABELS[label]
        manifest.save(folder)
    return path


def load_overrides(folder: str | Path) -> dict[str, dict[str, Any]]:
    """`overrides.json`: {file: {"accept": [check ids], "reason": text}}; empty when there is none."""
    path = Path(folder) / OVERRIDES
    if not path.exists():
        return {}
    data = read_json(path, "overrides file")
    fix = f'edit {path} to the form {{"episode_3.hdf5": {{"accept": ["pause"], "reason": "..."}}}}'
    out: dict[str, dict[str, Any]] = {}
    for name, o in data.items():
        if (
            L.episode_index_of(name) is None
            or not isinstance(o, dict)
            or not isinstance(o.get("accept"), list)
            or not all(isinstance(c, str) for c in o["accept"])
            or not isinstance(o.get("reason"), str)
            or not o["reason"].strip()
        ):
            raise ConfigError(
                f"{path}: entry {name!r} is not an episode with accepted checks and a reason", fix
            )
        out[name] = {"accept": sorted(set(o["accept"])), "reason": o["reason"].strip()}
    return out


def set_override(
    folder: str | Path, episode: str, accept: list[str], reason: str, out: str | Path | None = None
) -> dict[str, Any]:
    """Accept `accept` findings on one episode for a stated reason; an empty list removes the override.

    `out`: where `check --out` wrote the report (overrides.json goes beside it)."""
    path = episode_path(folder, episode)
    folder = Path(out) if out is not None else Path(folder)
    overrides = load_overrides(folder)
    if not accept:
        overrides.pop(path.name, None)
    else:
        if not reason.strip():
            raise ConfigError(
                "an override needs a reason a person wrote", 'add --reason "why this episode is fine"'
            )
        overrides[path.name] = {"accept": sorted(set(accept)), "reason": reason.strip()}
    ordered = dict(sorted(overrides.items(), key=lambda kv: L.episode_order(kv[0])))
    write_json_atomic(Path(folder) / OVERRIDES, ordered)
    return ordered.get(path.name, {})
