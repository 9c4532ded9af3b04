"""The generic TOML -> frozen dataclass loader (used by the rig, the thresholds and the training config)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demoforge.schemas.errors import ConfigError
from demoforge.schemas.toml_config import POSITIVE, derived_default, from_table, load_config, one_of


@dataclass(frozen=True)
class Optim:
    lr: float = field(default=1e-5, metadata=POSITIVE)
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass(frozen=True)
class Model:
    layers: int = field(default=4, metadata=POSITIVE)
    kind: str = field(default="act", metadata=one_of("act", "diffusion"))
    decoder_layers: int = field(default=1, metadata=derived_default(lambda m: m["layers"] // 4 or 1))


@dataclass(frozen=True)
class Train:
    name: str
    cameras: tuple[str, ...] = ()
    seed: int | str = 0
    model: Model = field(default_factory=Model)
    optim: Optim = field(default_factory=Optim)
    stages: tuple[Optim, ...] = ()
    flag: bool = False

    def __post_init__(self) -> None:
        if self.name == "forbidden":
            raise ValueError("name 'forbidden' is reserved")


def test_nested_tables_defaults_and_derived_defaults(tmp_path: Path) -> None:
    p = tmp_path / "train.toml"
    p.write_text('name = "x"\ncameras = ["top"]\n[model]\nlayers = 8\n[[stages]]\nlr = 1\n[[stages]]\n')
    cfg = load_config(Train, p, "training config")
    assert cfg == Train("x", ("top",), 0, Model(8, "act", 2), Optim(), (Optim(lr=1.0), Optim()))
    assert isinstance(cfg.stages[0].lr, float)  # an integer where a float is expected is that float
    assert from_table(Train, {"name": "y", "model": {"decoder_layers": 3}}, "t").model.decoder_layers == 3


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        ({"nmae": "x"}, "nmae", "did you mean `name`"),
        ({}, "name", "missing"),
        ({"name": 3}, "name", "expected a string"),
        ({"name": "x", "model": {"layers": 0}}, "model.layers", "must be > 0"),
        ({"name": "x", "model": {"layers": 2.5}}, "model.layers", "expected an integer"),
        ({"name": "x", "model": {"kind": "rnn"}}, "model.kind", "is not one of"),
        ({"name": "x", "model": 3}, "model", "expected a table"),
        ({"name": "x", "optim": {"betas": [0.9]}}, "optim.betas", "expected 2 values"),
        ({"name": "x", "optim": {"lr": math.inf}}, "optim.lr", "not finite"),
        ({"name": "x", "stages": [{"lr": -1.0}]}, "stages[0].lr", "must be > 0"),
        ({"name": "x", "seed": 1.5}, "seed", "expected an integer or a string"),
        ({"name": "x", "flag": 1}, "flag", "true or false"),
        ({"name": "forbidden"}, "the top level", "reserved"),
    ],
)
def test_each_mistake_names_file_key_and_fix(table: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        from_table(Train, table, "train.toml")
    assert exc.value.message.startswith(f"train.toml: {key}: ") and words in str(exc.value)
    assert exc.value.hint


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"training config .* does not exist"):
        load_config(Train, tmp_path / "none.toml", "training config")
    (tmp_path / "bad.toml").write_text("name = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(Train, tmp_path / "bad.toml", "training config")


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["name", "cameras", "seed", "model", "optim", "stages", "flag", "x"]), values
    )
)
def test_any_table_gives_a_config_or_a_config_error(table: dict[str, object]) -> None:
    try:
        from_table(Train, table, "fuzz.toml")
    except ConfigError as e:
        assert e.message.startswith("fuzz.toml: ") and e.hint
