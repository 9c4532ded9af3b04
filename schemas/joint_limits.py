"""Joint limits given to `check --rig RIG` or `--limits FILE`, for datasets that record none (LeRobot,
plain ALOHA files): read, matched to the dataset's joints by name, sanity-checked against its units.

A limits file is TOML, one key per joint, in the dataset's own units (docs/lerobot.md)::

    # joint name (as in the dataset's features' `names`) = [low, high]
    shoulder_pan = [-90.0, 90.0]
    gripper = [0.0, 100.0]

A rig's limits are in rad (grippers 0..1, `schemas/rig.py`); a rig matches a dataset joint by its full
name (`left_waist`) or, for a one-arm rig, by the bare joint name (`waist`). LeRobot >= 0.2 names its
motor features `<motor>.pos` (robots/koch_follower/koch_follower.py:67); the suffix is ignored. A
dataset whose joints have no names (plain ALOHA files: `joint_0` ...) takes a rig's joints in order
when their counts agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from demoforge.schemas.errors import ConfigError
from demoforge.schemas.rig import Rig
from demoforge.schemas.toml_config import fail, read_toml

# No revolute joint recorded in rad goes past 2 turns; values beyond this against limits within one
# turn mean the data are in degrees or LeRobot's -100..100 / 0..100 range (docs/lerobot.md).
UNITS_RAD_MAX = 4 * math.pi


@dataclass(frozen=True)
class JointLimit:
    names: tuple[str, ...]  # the names it answers to: the first is shown
    low: float
    high: float


@dataclass(frozen=True)
class JointLimits:
    joints: tuple[JointLimit, ...]
    source: str  # "rig koch" or the limits file's path, as messages show it
    from_rig: bool

    def __str__(self) -> str:  # as reports show it beside the thresholds
        return f"{self.source}: " + ", ".join(f"{j.names[0]} [{j.low:g}, {j.high:g}]" for j in self.joints)

    def match(self, dataset_names: list[str]) -> tuple[np.ndarray, list[str], list[str]]:
        """(J, 2) limits in the dataset's joint order (NaN rows for joints these limits do not name),
        the dataset joints left unnamed, and the limits' joints the dataset lacks."""
        by_name = {n: lim for lim in self.joints for n in lim.names}
        if self.from_rig and dataset_names == [f"joint_{i}" for i in range(len(self.joints))]:
            # the readers' names for joints a file never named (plain ALOHA): a rig of that many
            # joints is taken in its own order, as its recorder writes them
            by_name = {f"joint_{i}": lim for i, lim in enumerate(self.joints)}
        out = np.full((len(dataset_names), 2), np.nan)
        used: set[int] = set()
        unnamed = []
        for j, name in enumerate(dataset_names):
            lim = by_name.get(name) or by_name.get(name.removesuffix(".pos"))
            if lim is None:
                unnamed.append(name)
                continue
            out[j] = lim.low, lim.high
            used.add(id(lim))
        absent = [lim.names[0] for lim in self.joints if id(lim) not in used]
        return out, unnamed, absent

    def fit(self, dataset_names: list[str], where: str) -> np.ndarray:
        """The matched limits; a file naming joints `where` lacks, or a rig whose joints differ from
        the dataset's, is a ConfigError."""
        limits, unnamed, absent = self.match(dataset_names)
        theirs = ", ".join(dataset_names)
        if self.from_rig and (unnamed or absent):
            ours = ", ".join(lim.names[0] for lim in self.joints)
            raise ConfigError(
                f"--rig: {self.source} has {len(self.joints)} joints ({ours}) but {where} has "
                f"{len(dataset_names)} ({theirs}); "
                + (
                    f"the rig names none of {', '.join(unnamed)}"
                    if unnamed
                    else f"{where} lacks {', '.join(absent)}"
                ),
                "pass the rig the dataset was recorded with, or a --limits FILE naming the dataset's joints",
            )
        if absent:
            raise ConfigError(
                f"--limits {self.source}: {where} has no joint named {', '.join(absent)} "
                f"(its joints: {theirs})",
                "name the dataset's joints as its features' `names` spell them, or remove those lines",
            )
        return limits


def units_mismatch(limits: np.ndarray, x: np.ndarray, names: list[str], source: str) -> str | None:
    """Why `limits` cannot be in the units of `x` (T, J), or None: limits within a turn against data
    far beyond two turns (a rig in rad against a LeRobot dataset in degrees or -100..100)."""
    known = ~np.isnan(limits[:, 0])
    if not known.any() or np.abs(limits[known]).max() > 2 * math.pi:
        return None
    peak = np.nanmax(np.abs(x), axis=0) if len(x) else np.zeros(len(names))
    far = [j for j in np.flatnonzero(known) if peak[j] > UNITS_RAD_MAX]
    if not far:
        return None
    j = far[0]
    return (
        f"{names[j]} reaches {peak[j]:.1f}, far beyond 2 turns in rad, while the limits of {source} are "
        f"within [-2π, 2π]: the dataset is in other units (LeRobot robots record degrees or a "
        f"-100..100 range); pass --limits FILE in the dataset's units"
    )


def rig_limits(rig: Rig, name: str) -> JointLimits:
    one_arm = len(rig.arms) == 1
    joints = tuple(
        JointLimit((f"{arm.name}_{j.name}", j.name) if one_arm else (f"{arm.name}_{j.name}",), *j.limits)
        for arm in rig.arms
        for j in arm.joints
    )
    return JointLimits(joints, f"rig {name}", from_rig=True)


def parse_limits(data: dict[str, Any], source: str) -> JointLimits:
    """A limits file's table: each key a joint, each value [low, high] with low <= high."""
    if not data:
        raise fail(
            source, "the top level", "names no joint", "add a line `joint_name = [low, high]` per joint"
        )
    joints = []
    for key, v in data.items():
        shape = f'write `"{key}" = [low, high]` with two numbers, low <= high, in the dataset\'s units'
        if isinstance(v, dict):  # `shoulder_pan.pos = [...]` is a dotted key: a table in TOML
            raise fail(
                source, key, "is a table, not [low, high]", f'quote a dotted name: "{key}.pos" = [low, high]'
            )
        if not isinstance(v, list) or len(v) != 2:
            raise fail(source, key, f"expected [low, high], got {v!r}", shape)
        if any(isinstance(b, bool) or not isinstance(b, int | float) or not math.isfinite(b) for b in v):
            raise fail(source, key, f"expected two finite numbers, got {v!r}", shape)
        low, high = float(v[0]), float(v[1])
        if low > high:
            raise fail(source, key, f"low {low:g} is above high {high:g}", "swap them: [low, high]")
        joints.append(JointLimit((key,), low, high))
    return JointLimits(tuple(joints), source, from_rig=False)


def load_limits(path: str | Path) -> JointLimits:
    """Read and validate a limits TOML file (module docstring); every mistake is one ConfigError."""
    return parse_limits(read_toml(path, "limits file"), str(path))
