"""The dataset folder: `dataset.json` (manifest) and `splits.json` (curated splits).

A dataset is a folder of `episode_<i>.hdf5` files plus these two JSON documents. Both are
written atomically (temporary file + rename) so a crash never leaves half a manifest.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from demoforge.schemas.episode_layout import SCHEMA_VERSION, episode_name, episode_number
from demoforge.schemas.errors import ConfigError, EpisodeError

MANIFEST = "dataset.json"
SPLITS = "splits.json"
REPORT_JSON = "quality/report.json"
REPORT_HTML = "quality/report.html"
# Discarded episodes are kept, never deleted, under names no `*.hdf5` glob matches: act-plus-plus walks
# the whole dataset folder for `*.hdf5` and would otherwise train on them.
DISCARDED = "discarded"
DISCARDED_SUFFIX = ".discarded"
_DISCARDED_RE = re.compile(r"^(episode_(?:0|[1-9][0-9]*))\.[0-9]{8}T[0-9]{6}(?:-[0-9]+)?\.hdf5\.discarded$")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file in the same folder and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; these documents are read by other users' tools
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist", f"create the {what} first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a valid {what} ({e})", f"delete it and recreate the {what}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a valid {what} (top level is not an object)", f"recreate the {what}")
    return data


def episode_files(folder: str | Path) -> list[Path]:
    """The episode files of a dataset folder, in episode order (episode_2 before episode_10)."""
    d = Path(folder)
    if not d.is_dir():
        raise EpisodeError(
            f"{d} is not a folder", "pass the dataset folder that holds episode_<i>.hdf5 files"
        )
    found = [(n, p) for p in d.iterdir() if (n := episode_number(p.name)) is not None and p.is_file()]
    return [p for _, p in sorted(found)]


def dataset_episodes(folder: str | Path) -> list[Path]:
    """`episode_files`, for commands that need at least one: an empty folder is the user's error."""
    files = episode_files(folder)
    if not files:
        raise EpisodeError(
            f"{folder} holds no episode_<i>.hdf5 files",
            "pass the dataset folder that holds them (`demoforge record` writes them)",
        )
    return files


def next_episode_index(folder: str | Path) -> int:
    """One past the highest episode number on disk: numbering never skips back or overwrites."""
    files = episode_files(folder) if Path(folder).is_dir() else []
    nums = [episode_number(p.name) for p in files]
    return max((n for n in nums if n is not None), default=-1) + 1


def discard_episode(path: str | Path) -> Path:
    """Move an episode to `<dataset>/discarded/episode_<i>.<UTC time>.hdf5.discarded`: its index is free."""
    path = Path(path)
    folder = path.parent / DISCARDED
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = folder / f"{path.stem}.{stamp}{path.suffix}{DISCARDED_SUFFIX}"
    n = 1
    while target.exists():  # two discards within one second
        target = folder / f"{path.stem}.{stamp}-{n}{path.suffix}{DISCARDED_SUFFIX}"
        n += 1
    os.replace(path, target)
    return target


def discarded_episodes(folder: str | Path) -> list[Path]:
    """The discarded episodes kept in a dataset folder, oldest first."""
    d = Path(folder) / DISCARDED
    return (
        sorted(p for p in d.glob(f"*{DISCARDED_SUFFIX}") if _DISCARDED_RE.match(p.name)) if d.is_dir() else []
    )


def restore_episode(discarded: str | Path) -> Path:
    """Bring a discarded episode back into its dataset as the next free `episode_<i>.hdf5`."""
    discarded = Path(discarded)
    if not _DISCARDED_RE.match(discarded.name) or discarded.parent.name != DISCARDED:
        raise EpisodeError(
            f"{discarded} is not a discarded episode",
            f"pass a file from a dataset's {DISCARDED}/ folder (episode_<i>.<time>.hdf5{DISCARDED_SUFFIX})",
        )
    if not discarded.is_file():
        raise EpisodeError(f"{discarded} does not exist", f"list the dataset's {DISCARDED}/ folder")
    dataset = discarded.parent.parent
    target = dataset / episode_name(next_episode_index(dataset))
    os.replace(discarded, target)
    return target


@dataclass
class EpisodeEntry:
    """One episode as the manifest lists it."""

    file: str
    length: int
    success: int
    complete: bool
    started_at: str = ""
    task: str = ""


_ENTRY_TYPES: dict[str, tuple[type, ...]] = {
    "file": (str,),
    "length": (int,),
    "success": (int,),
    "complete": (bool,),
    "started_at": (str,),
    "task": (str,),
}


def _entry(folder: Path, i: int, row: object, bad: Any) -> EpisodeEntry:
    """One row of `episodes`: an object (version 1 on) or a plain file name (the earliest manifests)."""
    if isinstance(row, str):
        if episode_number(row) is None:
            raise bad(f"episodes[{i}]", "an episode_<i>.hdf5 file name", row)
        try:
            return episode_entry(folder / row)
        except EpisodeError:  # missing or damaged: listed, with what is known (check reports the file)
            return EpisodeEntry(row, 0, -1, False)
    if not isinstance(row, dict):
        raise bad(f"episodes[{i}]", "an object or a file name", row)
    values: dict[str, Any] = {}
    for key, types in _ENTRY_TYPES.items():
        if key not in row:
            if key in ("file", "length", "success", "complete"):
                raise bad(f"episodes[{i}].{key}", f"present ({types[0].__name__})", None)
            continue
        v = row[key]
        if not isinstance(v, types) or (types == (int,) and isinstance(v, bool)):
            raise bad(f"episodes[{i}].{key}", f"a {types[0].__name__}", v)
        values[key] = v
    return EpisodeEntry(**values)  # keys a later version adds are ignored, not an error


def episode_entry(path: Path) -> EpisodeEntry:
    """The manifest's row for an episode file, read from the file itself."""
    from demoforge.schemas.episode_reader import EpisodeReader  # the reader imports nothing of this module

    with EpisodeReader(path) as ep:
        return EpisodeEntry(
            path.name,
            ep.length,
            ep.success,
            ep.complete,
            str(ep.attrs.get("started_at", "")),
            str(ep.attrs.get("task", "")),
        )


@dataclass
class Manifest:
    """`dataset.json`: name, rig snapshot, schema version and the episode index."""

    name: str
    rig: dict[str, Any] = field(default_factory=dict)
    episodes: list[EpisodeEntry] = field(default_factory=list)
    created: str = field(default_factory=utc_now)
    schema_version: int = SCHEMA_VERSION
    # simulated rigs, one row per `record` session: {"started_at", "seed", "first_episode"}; the scene of
    # episode_<i> is the one gym-aloha samples for seed + i (`record --seed S` recreates a session)
    sessions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, folder: str | Path) -> Manifest:
        """Every manifest this project has written: schema_version 1 and 2 (episodes as objects), and the
        early form with `"schema_version": "1.0"` and episodes as plain file names (their rows are read
        from the files). A field that cannot be read is an error naming it."""
        path = Path(folder) / MANIFEST
        data = read_json(path, "dataset manifest")

        def bad(field_name: str, expected: str, got: object) -> ConfigError:
            return ConfigError(
                f"{path}: field {field_name!r} should be {expected}, got {json.dumps(got)[:60]}",
                "correct that field (each episode file holds the same facts; check, split and train "
                "read the files, not the manifest)",
            )

        name = data.get("name", Path(folder).name)
        if not isinstance(name, str):
            raise bad("name", "a string", name)
        rig = data.get("rig", {})
        if not isinstance(rig, dict):
            raise bad("rig", "an object", rig)
        version = data.get("schema_version", SCHEMA_VERSION)
        try:  # an int from version 1 on; "1.0" in the earliest manifests
            version = int(float(version)) if isinstance(version, (int, float, str)) else None
        except ValueError:
            version = None
        if version is None or isinstance(data.get("schema_version"), bool):
            raise bad("schema_version", "a number", data.get("schema_version"))
        rows = data.get("episodes", [])
        if not isinstance(rows, list):
            raise bad("episodes", "a list", rows)
        eps = [_entry(Path(folder), i, row, bad) for i, row in enumerate(rows)]
        sessions = data.get("sessions", [])
        if not isinstance(sessions, list) or not all(isinstance(x, dict) for x in sessions):
            raise bad("sessions", "a list of objects", sessions)
        return cls(
            name=name,
            rig=rig,
            episodes=eps,
            created=str(data.get("created", "")),
            schema_version=version,
            sessions=sessions,
        )

    @classmethod
    def load_or_create(cls, folder: str | Path, name: str, rig: dict[str, Any]) -> Manifest:
        return cls.load(folder) if (Path(folder) / MANIFEST).exists() else cls(name=name, rig=rig)

    def upsert(self, entry: EpisodeEntry) -> None:
        self.episodes = [e for e in self.episodes if e.file != entry.file] + [entry]
        self.episodes.sort(key=lambda e: episode_number(e.file) or 0)

    def save(self, folder: str | Path) -> None:
        write_json_atomic(Path(folder) / MANIFEST, asdict(self))


__all__ = [
    "DISCARDED",
    "MANIFEST",
    "REPORT_HTML",
    "REPORT_JSON",
    "SPLITS",
    "EpisodeEntry",
    "Manifest",
    "dataset_episodes",
    "discard_episode",
    "discarded_episodes",
    "episode_entry",
    "episode_files",
    "episode_name",
    "next_episode_index",
    "restore_episode",
    "utc_now",
    "write_json_atomic",
]
