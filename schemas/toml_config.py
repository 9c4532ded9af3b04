"""TOML into frozen dataclasses: the one loader of the rig, the quality thresholds and the training config.

A config is a dataclass; its fields say everything the loader needs: the type (bool, int, float, str,
a union of those, `tuple[X, ...]`, `tuple[X, Y]`, `dict[str, Any]`, a nested dataclass or a tuple of
them), the default (written once, on the field), and in `field(metadata=...)` the value rules::

    @dataclass(frozen=True)
    class Safety:
        max_step: float = field(default=0.2, metadata=POSITIVE)  # rad per tick

    safety = from_table(Safety, {"max_step": 0.1}, "rig.toml", "safety.")

Every mistake (unknown key, missing key, wrong type, a value a rule refuses, a ValueError from the
dataclass's own `__post_init__`) raises one `ConfigError` naming the file, the key and the fix.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from demoforge.schemas.errors import ConfigError

T = TypeVar("T")


class Rule(NamedTuple):
    """A check of one converted value; `problem` may name the value as {v}."""

    test: Callable[[Any], bool]
    problem: str
    fix: str


def rule(test: Callable[[Any], bool], problem: str, fix: str) -> dict[str, Any]:
    """Field metadata: the value must pass `test` (combine several with `all_of`)."""
    return {"rules": (Rule(test, problem, fix),)}


def all_of(*metadata: dict[str, Any]) -> dict[str, Any]:
    """Field metadata holding every rule of `metadata`, checked in order."""
    return {"rules": tuple(r for m in metadata for r in m.get("rules", ()))}


def one_of(*options: str) -> dict[str, Any]:
    return rule(
        lambda v: v in options,
        f"{{v!r}} is not one of {', '.join(options)}",
        f"use one of: {', '.join(options)}",
    )


POSITIVE = rule(lambda v: v > 0, "must be > 0, got {v}", "set it to a positive value")
NOT_EMPTY = rule(lambda v: len(v) > 0, "is empty", "give it a value")
INTERNAL = {"internal": True}  # set by the program, never read from the file


def derived_default(fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Field metadata: when the key is absent, the default is `fn(fields converted so far)`."""
    return {"derived": fn}


def converted(fn: Callable[[Any], Any]) -> dict[str, Any]:
    """Field metadata: the value as stored is `fn(value)` (e.g. `str.lower` for model names)."""
    return {"convert": fn}


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file is a ConfigError naming it."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{what} {p} does not exist", "check the path") from None
    except OSError as e:
        raise ConfigError(f"{what} {p} cannot be read: {e.strerror}", "check its permissions") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML: {e}", "fix the syntax at the position shown") from None


def load_config(cls: type[T], path: str | Path, what: str) -> T:
    """A dataclass from a whole TOML file (`what` names it in errors: "rig file", "thresholds file")."""
    return from_table(cls, read_toml(path, what), str(path))


def fail(source: str, key: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: {problem}", fix)


def from_table(cls: type[T], table: Any, source: str, where: str = "") -> T:
    """Build dataclass `cls` from a parsed TOML table; `where` prefixes keys in messages ("arms[0].")."""
    key = where.rstrip(".") or "the top level"
    if not isinstance(table, dict):
        raise fail(
            source, key, f"expected a table, got {type(table).__name__}", f"write [{key}] or {key} = {{...}}"
        )
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]  # type: ignore[arg-type]
    names = [f.name for f in fields]
    for k in table:
        if k not in names:
            close = difflib.get_close_matches(str(k), names, n=1)
            fix = f"did you mean `{close[0]}`?" if close else f"remove it or use one of: {', '.join(names)}"
            raise fail(source, f"{where}{k}", "unknown key", fix)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields:
        k = f"{where}{f.name}"
        if f.name not in table:
            if "derived" in f.metadata:
                values[f.name] = f.metadata["derived"](values)
            elif f.default is not dataclasses.MISSING:
                values[f.name] = f.default  # known to later derived defaults
            elif f.default_factory is dataclasses.MISSING:
                raise fail(source, k, "missing", f"add `{f.name} = ...` to {where.rstrip('.') or 'the top'}")
            continue
        v = _convert(hints[f.name], table[f.name], source, k)
        if "convert" in f.metadata:
            v = f.metadata["convert"](v)
        for r in f.metadata.get("rules", ()):
            if not r.test(v):
                raise fail(source, k, r.problem.format(v=v), r.fix)
        values[f.name] = v
    try:
        return cls(**values)
    except (ValueError, TypeError) as e:
        raise fail(source, key, str(e), "fix the value named") from None


_KIND = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _convert(tp: Any, v: Any, source: str, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return v
    if dataclasses.is_dataclass(tp):
        return from_table(tp, v, source, f"{key}.")  # type: ignore[arg-type]
    if origin in (types.UnionType, typing.Union):
        for member in args:
            try:
                return _convert(member, v, source, key)
            except ConfigError:
                continue
        kinds = " or ".join(_KIND.get(a, getattr(a, "__name__", str(a))) for a in args)
        raise fail(source, key, f"expected {kinds}, got {type(v).__name__} {v!r}", f"write {key} as {kinds}")
    if origin is tuple:
        if not isinstance(v, list):
            raise fail(source, key, f"expected a list, got {type(v).__name__}", f"write {key} = [...]")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], x, source, f"{key}[{i}]") for i, x in enumerate(v))
        if len(v) != len(args):
            shape = ", ".join(_KIND.get(a, "...") for a in args)
            raise fail(source, key, f"expected {len(args)} values, got {v!r}", f"write {key} = [{shape}]")
        return tuple(
            _convert(a, x, source, f"{key}[{i}]") for i, (a, x) in enumerate(zip(args, v, strict=True))
        )
    if origin is dict:
        if not isinstance(v, dict):
            raise fail(
                source, key, f"expected a table, got {type(v).__name__}", f"write [{key}] or {key} = {{...}}"
            )
        return dict(v)
    if tp is bool:
        if not isinstance(v, bool):
            raise fail(source, key, f"expected true or false, got {v!r}", f"write {key} = true or false")
        return v
    if tp is int or tp is float:
        ok = isinstance(v, int) if tp is int else isinstance(v, int | float)
        if isinstance(v, bool) or not ok:
            raise fail(
                source,
                key,
                f"expected {_KIND[tp]}, got {type(v).__name__} {v!r}",
                f"write {key} as {_KIND[tp]}",
            )
        if tp is float and not math.isfinite(v):
            raise fail(source, key, f"{v!r} is not finite", "use a finite number")
        return tp(v)
    if tp is str:
        if not isinstance(v, str):
            raise fail(
                source, key, f"expected a string, got {type(v).__name__} {v!r}", f'write {key} = "..."'
            )
        return v
    raise TypeError(
        f"{key}: the config loader does not handle fields of type {tp!r}"
    )  # a bug in a config class
