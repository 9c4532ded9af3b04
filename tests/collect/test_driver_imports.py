"""Driver packages stay below the rig level: collect/dynamixel/ and collect/cameras/ import nothing of
collect/'s rig-level modules (calibration, arm, hardware, recorder, the virtual rig ...), only their own
package, `collect.errors` and the data contract in `schemas/`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

COLLECT = Path(__file__).resolve().parents[2] / "collect"
DRIVER_PACKAGES = ("dynamixel", "cameras")
ALLOWED_FROM_COLLECT = {"errors"}  # the package's error type, shared by drivers and rig alike


def imported_modules(source: str, package: list[str]) -> list[str]:
    """Absolute module names a module of `package` imports (relative imports resolved)."""
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            out += [module] + [f"{module}.{a.name}" for a in node.names]  # `from pkg import module`
    return out


def rig_level(module: str) -> bool:
    parts = module.split(".")
    if parts[:2] == ["demoforge", "collect"] or parts[:1] == ["collect"]:
        rest = parts[2:] if parts[0] == "demoforge" else parts[1:]
        return bool(rest) and rest[0] not in (*DRIVER_PACKAGES, *ALLOWED_FROM_COLLECT)
    return False


@pytest.mark.parametrize("package", DRIVER_PACKAGES)
def test_driver_packages_do_not_import_the_rig_level(package: str) -> None:
    files = sorted((COLLECT / package).glob("*.py"))
    assert files
    package = ["demoforge", "collect", package]
    bad = {f.name: [m for m in imported_modules(f.read_text(), package) if rig_level(m)] for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_rule_sees_every_import_form() -> None:
    src = (
        "from demoforge.collect import calibration\nimport demoforge.collect.arm\nfrom .. import hardware\n"
        "from ..errors import HardwareError\nfrom . import bus\nfrom demoforge.schemas.rig import Rig\n"
    )
    found = [m for m in imported_modules(src, ["demoforge", "collect", "dynamixel"]) if rig_level(m)]
    assert found == ["demoforge.collect.calibration", "demoforge.collect.arm", "demoforge.collect.hardware"]
