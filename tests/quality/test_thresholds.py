"""Thresholds TOML: defaults, overrides, and one clear ConfigError for anything else."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demoforge.quality.thresholds import Thresholds, load_thresholds, thresholds_from_mapping
from demoforge.schemas.errors import ConfigError

FIELDS = {f.name: f.type for f in dataclasses.fields(Thresholds)}


def test_defaults_match_the_design_brief() -> None:
    th = load_thresholds(None)
    assert th.pause_min_s == 0.5
    assert th.drop_gap_periods == 1.5
    assert th.length_outlier_factor == 2.0
    assert th.min_rate_fraction * th.nominal_fps == pytest.approx(45.0)
    assert th.allow_unlabelled is False


def test_every_field_is_documented_where_declared() -> None:
    lines = Path("quality/thresholds.py").read_text().splitlines()
    for name in FIELDS:
        i = next(k for k, ln in enumerate(lines) if ln.strip().startswith(f"{name}:"))
        assert lines[i - 1].strip().startswith("#"), f"{name} has no comment above it"


def test_overrides_and_section(tmp_path: Path) -> None:
    p = tmp_path / "t.toml"
    p.write_text("pause_min_s = 1\nallow_unlabelled = true\n")
    th = load_thresholds(p)
    assert th.pause_min_s == 1.0 and isinstance(th.pause_min_s, float) and th.allow_unlabelled
    p.write_text("[thresholds]\nimage_samples = 3\n")
    assert load_thresholds(p).image_samples == 3


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("pause_min = 1.0", "pause_min_s"),  # unknown key suggests the close one
        ("pause_min_s = 'long'", "pause_min_s"),
        ("image_samples = 2.5", "image_samples"),
        ("allow_unlabelled = 1", "allow_unlabelled"),
        ("pause_min_s = -1.0", "pause_min_s"),
        ("pause_min_s = nan", "pause_min_s"),
        ("this is = not toml", "not valid TOML"),
    ],
)
def test_bad_files_name_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_thresholds(p)
    assert str(p) in exc.value.message and needle in str(exc.value)
    assert exc.value.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_thresholds(tmp_path / "nope.toml")


toml_values = st.one_of(
    st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5)
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*FIELDS, "bogus", "pause"]), toml_values, max_size=6))
def test_any_mapping_gives_thresholds_or_config_error(data: dict[str, object]) -> None:
    try:
        th = thresholds_from_mapping(data, "fuzz.toml")
    except ConfigError as e:
        assert "fuzz.toml" in e.message
        return
    for k, v in data.items():
        assert getattr(th, k) == v


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    p = tmp_path_factory.mktemp("fuzz") / "t.toml"
    p.write_bytes(blob)
    with contextlib.suppress(ConfigError):
        load_thresholds(p)
