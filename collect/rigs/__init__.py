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
    # a folder named like a shipped rig (a dataset called `aloha`) is not a rig file
    if p.suffix == ".toml" or p.is_file() or "/" in str(name_or_path):
        return load_rig(p)
    shipped = RIGS_DIR / f"{name_or_path}.toml"
    if shipped.exists():
        return load_rig(shipped)
    raise ConfigError(
        f"no rig named {name_or_path!r}",
        f"pass a rig TOML file, or one of the shipped rigs: {', '.join(shipped_rigs())}",
    )


def write_rig_copy(
    name: str, path: str | Path, *, camera_size: tuple[int, int] | None = None, cameras: int | None = None
) -> Path:
    """Copy shipped rig `name` to `path` (for a run to keep what it used), optionally with every
    camera at `camera_size` (height, width) and only its first `cameras` cameras; the copy is
    validated by loading it."""
    src = RIGS_DIR / f"{name}.toml"
    if not src.exists():
        resolve_rig(name)  # raises the one message for an unknown name
    lines = src.read_text().splitlines()
    if camera_size is not None:
        h, w = camera_size
        # shipped rigs keep each camera's size on its own `width = ` / `height = ` line
        lines = [
            f"width = {w}"
            if ln.startswith("width = ")
            else f"height = {h}"
            if ln.startswith("height = ")
            else ln
            for ln in lines
        ]
    head, *cams = "\n".join(lines).split("[[cameras]]")  # camera tables come last in shipped rigs
    text = head + "".join("[[cameras]]" + c for c in cams[:cameras])
    out = Path(path)
    out.write_text(f"# {name} as this run used it\n" + text.rstrip() + "\n")
    rig = load_rig(out)
    assert cameras is None or len(rig.cameras) == min(cameras, len(cams)), out
    assert camera_size is None or all((c.height, c.width) == camera_size for c in rig.cameras), out
    return out
