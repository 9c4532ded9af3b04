"""Train LeRobot's ACT with LeRobot's own trainer on a demoforge LeRobot export: the peer of our training.

Run in the peer venv (LeRobot 0.4.4: ../shared/peers/peer_lerobot_setup.sh), not in CI; its trainer also
needs `pip install termcolor gymnasium` there (imported by lerobot/scripts/lerobot_train.py and
lerobot/envs/factory.py, which the setup script does not install):

    /tmp/peer-lerobot-venv/bin/python scripts/peer_lerobot_train.py EXPORT OUT --steps N
        [--camera cam_high] [--batch 8] [--workers 2] [--seed 0] [--save-every N] [--resume-from CKPT]

EXPORT is `demoforge export DIR --to lerobot EXPORT` (the split's episodes, trims applied). The run is
`lerobot.scripts.lerobot_train.train` itself (LeRobot's data loader, normalization, AdamW with the
backbone's own parameter group, gradient clipping, checkpoints in OUT/checkpoints/<step>/pretrained_model),
with the ACT settings of demoforge's `cpu` preset (policy/config.py) so that the two trainers see the
same problem: chunk 50, d_model 256, 8 heads, feed-forward 1024, 4 encoder / 1 decoder / 4 VAE-encoder
layers, latent 32, dropout 0.1, KL weight 10, lr 1e-4 (backbone 1e-4), weight decay 1e-4, clip 10,
resnet18 from random weights (nothing can be downloaded here). What differs and cannot be set in
LeRobot: its resnet18 is torchvision's (64 channels in the stem, ours is 32 wide in the `cpu` preset) and
it normalizes images with ImageNet's statistics (`dataset.use_imagenet_stats`, default true:
configs/default.py:35, applied in datasets/factory.py:128).

One thing is replaced: video decoding. LeRobot decodes with torchcodec or torchvision's VideoReader
(datasets/video_utils.py:117-154, `decode_video_frames`), and the peer venv has neither
(../shared/peers/README.md), so `decode_video_frames` is swapped for a PyAV
decoder that decodes each video once, before the data loader's workers fork (they share the frames).
That makes LeRobot's data loading cheaper than it is for its users, never dearer: a fair peer for speed.
--resume-from OLD_OUT/checkpoints/<step> continues an earlier run of this script to --steps, in OUT: LeRobot's
own resume (lerobot_train.py's `cfg.resume`: the checkpoint's weights, its optimizer, step and RNG state
through `load_training_state`, utils/train_utils.py); ACT's preset has no learning-rate schedule
(policies/act/configuration_act.py:160), so the continued run is the longer run but for the order in
which batches are drawn after the resume.
The last line of stdout is JSON: steps, wall seconds of `train`, seconds per step, the checkpoint.
Uses nothing of demoforge (the peer venv does not have it).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av
import numpy as np
import torch

_FRAMES: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # video path -> (frames (N, H, W, 3) uint8, pts s)


def decode_all(path: Path) -> None:
    frames, pts = [], []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        for f in c.decode(s):
            frames.append(f.to_ndarray(format="rgb24"))
            pts.append(float(f.pts * s.time_base))
    _FRAMES[str(path)] = (np.stack(frames), np.asarray(pts))


def decode_video_frames(video_path, timestamps, tolerance_s, backend=None):
    """LeRobot's decode_video_frames contract: (len(timestamps), 3, H, W) float32 in [0, 1], or an error."""
    from lerobot.datasets.video_utils import FrameTimestampError

    key = str(video_path)
    if key not in _FRAMES:
        decode_all(Path(key))
    frames, pts = _FRAMES[key]
    idx = np.clip(np.searchsorted(pts, timestamps), 1, len(pts) - 1)
    idx = np.where(np.abs(pts[idx - 1] - timestamps) <= np.abs(pts[idx] - timestamps), idx - 1, idx)
    off = np.abs(pts[idx] - np.asarray(timestamps))
    if np.any(off > tolerance_s):
        raise FrameTimestampError(f"{video_path}: no frame within {tolerance_s} s of {timestamps}")
    return torch.from_numpy(frames[idx]).permute(0, 3, 1, 2).float() / 255


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", type=Path)
    ap.add_argument("out", type=Path, help="a new folder (LeRobot refuses an existing one)")
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--camera", default="cam_high", help="the camera the policy sees (comma-separated)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-every", type=int, help="checkpoint every N steps (default: only the last)")
    ap.add_argument(
        "--resume-from", type=Path, help="OLD_OUT/checkpoints/<step>: continue that run to --steps"
    )
    a = ap.parse_args()
    before, start = {}, 0  # the continued run's summary and its last step
    if a.resume_from:
        before = json.loads((a.resume_from.parents[1] / "peer_run.json").read_text())
        start = int(json.loads((a.resume_from / "training_state" / "training_step.json").read_text())["step"])

    import lerobot.datasets.lerobot_dataset as lds
    from lerobot.configs.default import DatasetConfig, WandBConfig
    from lerobot.configs.train import TrainPipelineConfig
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.scripts.lerobot_train import train

    info = json.loads((a.export / "meta" / "info.json").read_text())
    feats = info["features"]
    t = time.monotonic()
    for key in (k for k, v in feats.items() if v["dtype"] == "video"):
        for p in sorted((a.export / "videos" / key).rglob("*.mp4")):
            decode_all(p)
    decode_s = time.monotonic() - t
    lds.decode_video_frames = decode_video_frames  # the name lerobot_dataset.py calls (line 1064 in 0.4.4)

    def feature(key: str, kind: FeatureType) -> PolicyFeature:
        shape = feats[key]["shape"]
        if kind is FeatureType.VISUAL:  # info.json gives (H, W, 3); LeRobot's policies take (3, H, W)
            shape = [shape[2], shape[0], shape[1]]
        return PolicyFeature(type=kind, shape=tuple(shape))

    inputs = {"observation.state": feature("observation.state", FeatureType.STATE)}
    for cam in a.camera.split(","):
        inputs[f"observation.images.{cam}"] = feature(f"observation.images.{cam}", FeatureType.VISUAL)
    policy = ACTConfig(
        input_features=inputs,
        output_features={"action": feature("action", FeatureType.ACTION)},
        device="cpu",
        push_to_hub=False,
        chunk_size=50,
        n_action_steps=50,
        dim_model=256,
        n_heads=8,
        dim_feedforward=1024,
        n_encoder_layers=4,
        n_decoder_layers=1,
        n_vae_encoder_layers=4,
        latent_dim=32,
        dropout=0.1,
        kl_weight=10.0,
        vision_backbone="resnet18",
        pretrained_backbone_weights=None,
        optimizer_lr=1e-4,
        optimizer_lr_backbone=1e-4,
        optimizer_weight_decay=1e-4,
    )
    cfg = TrainPipelineConfig(
        dataset=DatasetConfig(repo_id="demoforge/export", root=str(a.export), video_backend="pyav"),
        policy=policy,
        output_dir=a.out,
        seed=a.seed,
        num_workers=a.workers,
        batch_size=a.batch,
        steps=a.steps,
        eval_freq=0,
        log_freq=50,
        save_freq=a.save_every or a.steps,
        wandb=WandBConfig(enable=False),
    )
    if a.resume_from:
        # TrainPipelineConfig.validate (configs/train.py:89-106) finds the checkpoint through
        # --config_path on the command line, and sets no optimizer preset when resuming (:134)
        config_path = a.resume_from / "pretrained_model" / "train_config.json"
        sys.argv = [sys.argv[0], f"--config_path={config_path}"]
        cfg.resume = True
        cfg.optimizer = policy.get_optimizer_preset()
        cfg.scheduler = policy.get_scheduler_preset()
    t = time.monotonic()
    train(cfg)
    wall = time.monotonic() - t
    ckpt = a.out / "checkpoints" / "last" / "pretrained_model"
    summary = {
        "steps": a.steps,
        # with --resume-from: the earlier run's wall time and this one's
        "train_wall_s": round(wall + before.get("train_wall_s", 0.0), 1),
        "s_per_step": round(wall / (a.steps - start), 4),  # of the steps this process trained
        **(
            {"resumed_from": {"step": start, "checkpoint": str(a.resume_from), "wall_s": round(wall, 1)}}
            if start
            else {}
        ),
        "decode_s": round(decode_s, 1),
        "torch_threads": torch.get_num_threads(),
        "checkpoint": str(ckpt),
        "lerobot": __import__("lerobot").__version__,
        "torch": torch.__version__,
    }
    (a.out / "peer_run.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
