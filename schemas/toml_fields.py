"""Validating values read from TOML: each problem becomes one ConfigError naming file, key and fix."""

from __future__ import annotations

import math
from dataclasses import MISSING, Field, fields
from typing import Any

from demoforge.schemas.errors import ConfigError


class Ctx:
    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.file}: {key}: {problem}", fix)


def check_keys(
    ctx: Ctx, where: str, table: dict[str, Any], cls: type, internal: tuple[str, ...] = ()
) -> None:
    """Unknown keys and missing required keys of a table that becomes dataclass `cls`."""
    known = {f.name for f in fields(cls)} - set(internal)
    for key in table:
        if key not in known:
            raise ctx.fail(
                f"{where}{key}", "unknown key", f"remove it or use one of: {', '.join(sorted(known))}"
            )
    for f in fields(cls):
        if f.name in known and f.name not in table and _required(f):
            raise ctx.fail(f"{where}{f.name}", "missing", f"add `{f.name} = ...` to {where or 'the top'}")


def _required(f: Field[Any]) -> bool:
    return bool(f.default is MISSING and f.default_factory is MISSING)


def num(ctx: Ctx, key: str, v: Any, *, integer: bool = False) -> Any:
    ok = isinstance(v, int) if integer else isinstance(v, int | float)
    if isinstance(v, bool) or not ok:
        kind = "an integer" if integer else "a number"
        raise ctx.fail(key, f"expected {kind}, got {type(v).__name__} {v!r}", f"write {key} as {kind}")
    if not integer and not math.isfinite(v):
        raise ctx.fail(key, f"{v!r} is not finite", "use a finite number")
    return int(v) if integer else float(v)


def text(ctx: Ctx, key: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ctx.fail(key, f"expected a string, got {type(v).__name__} {v!r}", f'write {key} = "..."')
    return v


def flag(ctx: Ctx, key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ctx.fail(key, f"expected true or false, got {v!r}", f"write {key} = true or false")
    return v


def table(ctx: Ctx, key: str, v: Any) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ctx.fail(key, f"expected a table, got {type(v).__name__}", f"write [{key}] or {key} = {{...}}")
    return v


def items(ctx: Ctx, key: str, v: Any) -> list[Any]:
    if not isinstance(v, list):
        raise ctx.fail(key, f"expected a list, got {type(v).__name__}", f"write {key} = [...]")
    return v


def positive(ctx: Ctx, key: str, v: float) -> float:
    if v <= 0:
        raise ctx.fail(key, f"must be > 0, got {v}", f"set {key} to a positive value")
    return v


def choice(ctx: Ctx, key: str, v: str, options: tuple[str, ...]) -> str:
    if v not in options:
        raise ctx.fail(key, f"{v!r} is not one of {', '.join(options)}", f"use one of: {', '.join(options)}")
    return v
