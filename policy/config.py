"""Every setting of the policy in frozen dataclasses: default and reason beside each field.

A config TOML holds any subset of the three tables, on top of a preset:

    [model]
    chunk_size = 50
    [train]
    steps = 20000
    [ensemble]
    mode = "temporal"

Presets: `tiny` (seconds, for tests), `cpu` (small images and model: trainable on a laptop CPU),
`paper` (the ACT paper's configuration). Types, unknown keys and per-field rules are checked by the
house loader (schemas/toml_config.py); rules across fields by `validate`. No torch here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demoforge.schemas.errors import ConfigError
from demoforge.schemas.toml_config import from_table, one_of, read_toml


@dataclass(frozen=True)
class ModelConfig:
    """The ACT network. Defaults are the original's, except where a reason says otherwise.

    The original's settings: act README.md:76-77 (kl_weight 10, chunk_size 100, hidden_dim 512, batch 8,
    dim_feedforward 3200, lr 1e-5), imitate_episodes.py:51-56 (lr_backbone 1e-5, resnet18, 4 encoder
    layers, 8 heads), detr/main.py:17,43 (weight decay 1e-4, dropout 0.1).
    """

    # ResNet depth per camera: "resnet18" as in the paper; "resnet34" for more visual capacity.
    backbone: str = field(default="resnet18", metadata=one_of("resnet18", "resnet34"))
    # Channels of the first ResNet stage. 64 is ResNet's own (and what ImageNet weights need); the tiny
    # preset shrinks it so tests run in seconds.
    backbone_width: int = 64
    # Actions predicted per inference, k. 100 ticks = 2 s at 50 Hz: the paper's best on its tasks.
    chunk_size: int = 100
    # Transformer width: the paper's 512.
    hidden: int = 512
    # Attention heads: the paper's 8 (64 channels per head).
    heads: int = 8
    # Feed-forward width: the paper's 3200.
    ff: int = 3200
    # Observation encoder layers: the paper's 4.
    enc_layers: int = 4
    # Decoder layers. The original code built 7 (act: imitate_episodes.py:55) but used the first layer's
    # output (detr_vae.py:131 takes `[0]` of the decoder's stacked intermediate outputs), so layers 2-7
    # never influenced an action (nor got a gradient); LeRobot defaults to 1 for this reason
    # (configuration_act.py:109-112). 1 gives
    # the same network at a seventh of the decoder's cost; more is an experiment, not a reproduction.
    dec_layers: int = 1
    # Layers of the CVAE encoder over [CLS, qpos, actions]: the paper's 4.
    vae_layers: int = 4
    # Size of the style latent z: the paper's 32.
    latent: int = 32
    # Dropout in the transformer: the paper's 0.1.
    dropout: float = 0.1
    # Image size the network sees (height, width). The dataset's frames are decoded at the nearest
    # reduced JPEG scale at or above it, then resized. 480x640 is the ALOHA cameras' native size.
    image_height: int = 480
    image_width: int = 640
    # Cameras used, in this order; empty = every camera of the first training episode.
    cameras: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainConfig:
    """Optimization, validation and data loading."""

    # Optimizer steps. The paper trained ~2000 epochs of 50 episodes (~100k steps at batch 8).
    steps: int = 100_000
    # Samples per step (per process under DDP): the paper's 8.
    batch_size: int = 8
    # AdamW learning rate for everything but the backbone: the paper's 1e-5.
    lr: float = 1e-5
    # Backbone learning rate, its own AdamW parameter group as in the original (act: detr/main.py:80-88,
    # imitate_episodes.py:51 lr_backbone = 1e-5) and LeRobot (configuration_act.py:129
    # optimizer_lr_backbone = 1e-5). Separate so pretrained features can get a smaller one.
    backbone_lr: float = 1e-5
    # AdamW weight decay: the paper's 1e-4.
    weight_decay: float = 1e-4
    # Weight of the KL term, beta: the paper's 10. Too low and z carries the actions (z = 0 at inference
    # then misleads the decoder); too high and z is ignored (the policy averages demonstrations).
    beta: float = 10.0
    # Optimizer steps below which a run's success rate says nothing about the method. Training under a
    # time budget that will end below it says so while it trains; `demo` then reports "too few steps
    # for a result". The paper preset: a tenth of the paper's ~100k steps (no measurement of fewer).
    min_steps: int = 10_000
    # Gradient norm clip: 10 keeps an occasional bad batch from undoing training; rarely active.
    grad_clip: float = 10.0
    # Validation every this many steps (and at the end): checkpoint selection needs a few dozen points.
    val_every: int = 2000
    # Batches per validation: bounded so validation costs a few percent of training time.
    val_batches: int = 50
    # Steps between metrics lines / progress updates.
    log_every: int = 100
    # last.pt is written every this many steps: a kill loses at most these steps.
    save_every: int = 1000
    # DataLoader worker processes decoding JPEG; 0 decodes in the training process (tests).
    workers: int = 2
    # Seed of the model's initialization and of the sampling order.
    seed: int = 0
    # Number format: "auto" = bfloat16 autocast on GPUs and on CPUs that compute it natively
    # (AVX512-BF16, AMX: 0.60x the fp32 step time, benchmarks/RESULTS.md "ACT speed"), fp32 elsewhere
    # (emulated bf16 is slower than fp32);
    # "bf16" / "fp32" force it. Weights and optimizer state stay fp32 either way (policy/precision.py).
    precision: str = field(default="auto", metadata=one_of("auto", "bf16", "fp32"))
    # A local ImageNet ResNet checkpoint (torchvision's keys); empty = random init. Random init trains,
    # but needs more data and steps to see well; the paper started from ImageNet weights.
    backbone_weights: str = ""
    # With backbone_weights: keep conv1 and layer1 as loaded and train layer2-4. This project's option,
    # off by default: the original trains the whole backbone (its freezing loop is commented out, act:
    # detr/models/backbone.py:64-66), and so does LeRobot (policies/act/modeling_act.py:71-90). Saves
    # their backward pass (benchmarks/RESULTS.md, "ACT speed"); ignored for a random init, which must learn.
    freeze_stem: bool = False


@dataclass(frozen=True)
class EnsembleConfig:
    """How chunks become one action per tick at deployment."""

    # "temporal": every overlapping chunk's prediction for this tick, averaged with weights
    # w_i = exp(-m * i); "chunk": execute each chunk's first `execute_every` actions, then infer again.
    mode: str = field(default="temporal", metadata=one_of("temporal", "chunk"))
    # m of the weights: the paper's 0.01 (weights fall slowly: ~0.37 after 100 predictions).
    m: float = 0.01
    # Which prediction gets i = 0 (the highest weight). "oldest" is what the original code does;
    # "newest" is how several write-ups describe it. Older predictions were made further ahead in time.
    highest: str = field(default="oldest", metadata=one_of("oldest", "newest"))
    # Chunk mode: actions executed from each chunk before the next one is used (<= chunk_size).
    execute_every: int = 100


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Seconds on a CPU: tests and smoke runs. Not meant to learn anything useful.
    "tiny": {
        "model": dict(
            backbone_width=8,
            chunk_size=10,
            hidden=32,
            heads=2,
            ff=64,
            enc_layers=1,
            vae_layers=1,
            latent=4,
            dropout=0.0,
            image_height=24,
            image_width=32,
        ),
        "train": dict(
            steps=30,
            batch_size=4,
            lr=3e-3,
            backbone_lr=3e-3,
            val_every=10,
            val_batches=2,
            log_every=5,
            save_every=10,
            workers=0,
            min_steps=1_000_000,  # never learns the task: no tiny run is a result
        ),
        "ensemble": dict(execute_every=10),
    },
    # A laptop CPU, from scratch (no ImageNet weights): 120x160 images (1/4 scale: the cheapest JPEG
    # decode) through a half-width ResNet-18 (a quarter of its FLOPs: the backbone is ~90 % of a
    # step), half-width transformer, chunk 50 (1 s). lr 1e-4: a from-scratch network at the paper's
    # fine-tuning rate of 1e-5 learns too slowly for a CPU's hours. With ImageNet weights set
    # backbone_width = 64 (the weights' own width).
    "cpu": {
        "model": dict(
            backbone_width=32, chunk_size=50, hidden=256, heads=8, ff=1024, image_height=120, image_width=160
        ),
        "train": dict(
            steps=20_000,
            lr=1e-4,
            backbone_lr=1e-4,
            val_every=250,
            val_batches=10,
            log_every=50,
            save_every=250,
            # below the fewest steps measured to give a result (benchmarks/RESULTS.md): the demo's 2,846
            # steps held the transfer in 3 of 5 rollouts, the learning curve's 3,000 in 80 % of 50
            min_steps=2_000,
        ),
        "ensemble": dict(execute_every=50),
    },
    # The paper: every default above.
    "paper": {},
}


def _merge(base: dict[str, dict[str, Any]], over: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    out = {k: dict(v) for k, v in base.items()}
    for table, values in over.items():
        if table not in ("model", "train", "ensemble"):
            raise ConfigError(f"{source}: unknown table [{table}]", "use [model], [train] and [ensemble]")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: {table} is not a table", f"write it as [{table}]")
        out.setdefault(table, {}).update(values)
    return out


def make_config(preset: str = "paper", overrides: dict[str, Any] | None = None, source: str = "") -> Config:
    """A preset with TOML-shaped overrides applied, validated."""
    if preset not in PRESETS:
        raise ConfigError(f"no preset {preset!r}", f"use one of: {', '.join(PRESETS)}")
    source = source or f"preset {preset}"
    cfg = from_table(Config, _merge(PRESETS[preset], overrides or {}, source), source)
    validate(cfg, source)
    return cfg


def load_config(path: str | Path | None, preset: str = "paper") -> Config:
    """The preset, overridden by the TOML file at `path` (if any)."""
    if path is None:
        return make_config(preset)
    return make_config(preset, read_toml(path, "training config"), str(path))


def validate(cfg: Config, source: str) -> None:
    m, t, e = cfg.model, cfg.train, cfg.ensemble

    def bad(key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{source}: {key} {problem}", fix)

    if m.hidden % m.heads:
        raise bad("model.hidden", f"= {m.hidden} is not a multiple of heads = {m.heads}", "change either")
    for key in (
        "chunk_size",
        "hidden",
        "heads",
        "ff",
        "enc_layers",
        "dec_layers",
        "vae_layers",
        "latent",
        "image_height",
        "image_width",
        "backbone_width",
    ):
        if getattr(m, key) < 1:
            raise bad(f"model.{key}", "must be at least 1", "give a positive integer")
    if m.image_height < 16 or m.image_width < 16:
        raise bad("model.image_height/width", "below 16 pixels", "the backbone downsamples 32x; use >= 32")
    if not 0 <= m.dropout < 1:
        raise bad("model.dropout", f"= {m.dropout} is not in [0, 1)", "use e.g. 0.1")
    for key in ("steps", "batch_size", "val_every", "val_batches", "log_every", "save_every", "min_steps"):
        if getattr(t, key) < 1:
            raise bad(f"train.{key}", "must be at least 1", "give a positive integer")
    if t.workers < 0:
        raise bad("train.workers", "is negative", "use 0 or more")
    if not 1 <= e.execute_every <= m.chunk_size:
        raise bad("ensemble.execute_every", f"= {e.execute_every} is not in 1..chunk_size", "lower it")
    if e.m < 0:
        raise bad("ensemble.m", "is negative", "use e.g. 0.01")


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Plain dicts, lists and numbers: what the checkpoint and run.json store."""
    d = dataclasses.asdict(cfg)
    d["model"]["cameras"] = list(cfg.model.cameras)
    return d


def config_from_dict(d: dict[str, Any]) -> Config:
    """The inverse of `config_to_dict` (a checkpoint's config)."""
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    d.get("train", {}).pop("cpu_bf16", None)  # checkpoints before `precision` (an fp32/bf16 choice)
    return make_config("paper", d, "checkpoint config")


def config_to_toml(cfg: Config) -> str:
    """The resolved config as TOML (what RUN/config.toml holds)."""
    lines: list[str] = []
    for table, values in config_to_dict(cfg).items():
        lines.append(f"[{table}]")
        for k, v in values.items():
            if isinstance(v, bool):
                lines.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, str):
                lines.append(f'{k} = "{v}"')
            elif isinstance(v, list):
                lines.append(f"{k} = [{', '.join(repr(str(x)).replace(chr(39), chr(34)) for x in v)}]")
            else:
                lines.append(f"{k} = {v!r}")
        lines.append("")
    return "\n".join(lines)
