"""Shipped rigs, and resolving `--rig NAME_OR_PATH` to a validated `Rig`."""

from __future__ import annotations

from pathlib import Path

from demoforge.schemas.errors import ConfigError
from demoforge.schemas.rig import Rig, load_rig

RIGS_DIR = Path(__file__).parent


def shipped_rigs() -> list[str]:
    return sorted(p.stem for p in RIGS_DIR.glob("*.toml"))


def resolve_rig(name_or_path: str | Path) -> Rig:
    """A shipped rig by name (`virtual`, `aloha`, `koch`) or a rig TOML file by path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or "/" in str(name_or_path):
        return load_rig(p)
    shipped = RIGS_DIR / f"{name_or_path}.toml"
    if shipped.exists():
        return load_rig(shipped)
    raise ConfigError(
        f"no rig named {name_or_path!r}",
        f"pass a rig TOML file, or one of the shipped rigs: {', '.join(shipped_rigs())}",
    )
