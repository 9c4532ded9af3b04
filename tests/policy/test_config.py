"""Training config: presets, TOML over a preset, one clear error per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from demoforge.cli import main
from demoforge.policy.config import config_to_toml, load_config, make_config
from demoforge.schemas.errors import ConfigError


def test_presets_and_the_resolved_toml_round_trip(tmp_path: Path) -> None:
    paper = make_config("paper")
    assert (paper.model.chunk_size, paper.model.hidden, paper.model.ff, paper.model.dec_layers) == (
        100,
        512,
        3200,
        1,
    )
    assert paper.train.lr == 1e-5 and paper.train.beta == 10.0 and paper.ensemble.highest == "oldest"
    cpu = make_config("cpu")
    (tmp_path / "c.toml").write_text(config_to_toml(cpu))
    assert load_config(tmp_path / "c.toml", "tiny") == cpu


def test_a_toml_file_overrides_its_preset(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[model]\nchunk_size = 20\ncameras = ["top"]\n[ensemble]\nmode = "chunk"\n'
    )
    cfg = load_config(tmp_path / "c.toml", "tiny")
    assert cfg.model.chunk_size == 20 and cfg.model.cameras == ("top",) and cfg.model.hidden == 32
    assert cfg.ensemble.mode == "chunk"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[model]\nhidden = 'x'\n", "model.hidden"),
        ("[model]\nhiden = 3\n", "did you mean `hidden`"),
        ("[ensemble]\nmode = 'avg'\n", "ensemble.mode"),
        ("[model]\nhidden = 33\n", "multiple of heads"),
        ("[optim]\nlr = 1\n", "unknown table"),
        ("[model\n", "not valid TOML"),
        ("[ensemble]\nexecute_every = 500\n", "execute_every"),
    ],
)
def test_config_mistakes_are_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "c.toml", "tiny")


def test_train_with_a_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text("[train]\nsteps = -1\n")
    assert (
        main(["train", str(tmp_path), "--out", str(tmp_path / "run"), "--config", str(tmp_path / "c.toml")])
        == 2
    )
    assert "train.steps" in capsys.readouterr().err
