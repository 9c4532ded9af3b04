"""Load demoforge files and exports with other projects' own loading code; compare with what h5py reads.

Runs in the separate environment scripts/verify_loaders.sh builds (LeRobot from PyPI, torch), never in
demoforge's own: it imports nothing of demoforge. The ACT and act-plus-plus loaders are imported from
checkouts of their repositories given on the command line (their `utils.py`, unmodified).
Prints one JSON document: per loader and input, what loaded, the largest differences, or the error.

    python scripts/verify_loaders.py --recorded-jpeg DIR --recorded-raw DIR --lerobot OUT \
        --aloha-raw OUT --aloha-raw-unequal OUT --aloha-jpeg OUT --act REPO --act-plus-plus REPO
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np

CHUNK = 100  # ACT's action chunk: what its loaders and LeRobot's delta_timestamps ask for


def source_frame(path: Path, cam: str, t: int) -> np.ndarray:
    """The RGB frame at tick t as h5py + OpenCV read it, following the file's stated JPEG convention."""
    with h5py.File(path, "r") as f:
        row = f[f"/observations/images/{cam}"][t]
        order = f.attrs.get(
            "jpeg_channel_order", "true-colour" if "schema_version" in f.attrs else "rgb-as-bgr"
        )
    if row.ndim == 3:
        return row
    img = cv2.imdecode(row, cv2.IMREAD_COLOR)
    return img if order == "rgb-as-bgr" else img[..., ::-1]


def source_rows(path: Path, name: str) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return np.asarray(f[name][()])


def cameras(path: Path) -> list[str]:
    with h5py.File(path, "r") as f:
        return sorted(f["/observations/images"].keys())


def episodes(folder: Path) -> list[Path]:
    return sorted(folder.glob("episode_*.hdf5"), key=lambda p: int(p.stem.split("_")[1]))


def load_module(repo: Path, name: str) -> Any:
    """The repository's own utils.py, imported under a name of our choosing (both projects call it utils)."""
    spec = importlib.util.spec_from_file_location(name, repo / "utils.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(repo))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(repo))
    return module


def img_err(chw_float: Any, rgb: np.ndarray) -> dict[str, float]:
    """Mean abs difference (0-255) of a loader's (C, H, W) [0, 1] image to the RGB source, and swapped."""
    got = np.clip(np.asarray(chw_float, dtype=np.float64).transpose(1, 2, 0) * 255.0, 0, 255)
    src = rgb.astype(np.float64)
    return {
        "mean_abs": float(np.abs(got - src).mean()),
        "mean_abs_if_swapped": float(np.abs(got[..., ::-1] - src).mean()),
    }


def worst(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: max(r[k] for r in rows) for k in rows[0]} if rows else {}


def attempt(fn: Any, *args: Any) -> dict[str, Any]:
    try:
        return {"ok": True, **fn(*args)}
    except BaseException as e:  # a loader's failure is the finding: record it, run the others
        if isinstance(e, KeyboardInterrupt):
            raise
        last = traceback.extract_tb(e.__traceback__)[-1]
        return {
            "ok": False,
            "error": f"{type(e).__name__}: {e}"[:400],
            "where": f"{Path(last.filename).name}:{last.lineno}",
        }


# -- ACT (tonyzhaozh/act utils.py) -----------------------------------------------------------------------


def check_act(act: Any, folder: Path) -> dict[str, Any]:
    files = episodes(folder)
    cams = cameras(files[0])
    stats = act.get_norm_stats(str(folder), len(files))  # stacks every episode: equal lengths only
    ds = act.EpisodicDataset(list(range(len(files))), str(folder), cams, stats)
    images, qpos_err, action_err = [], 0.0, 0.0
    for i, path in enumerate(files):
        length = source_rows(path, "/action").shape[0]
        for seed in (1, 2):
            np.random.seed(seed)
            start = int(np.random.choice(length))  # what __getitem__ draws after the same seed
            np.random.seed(seed)
            image_data, qpos_data, action_data, is_pad = ds[i]
            qpos = qpos_data.numpy() * stats["qpos_std"] + stats["qpos_mean"]
            qpos_err = max(
                qpos_err, float(np.abs(qpos - source_rows(path, "/observations/qpos")[start]).max())
            )
            sim = bool(h5py.File(path, "r").attrs["sim"])
            first = start if sim else max(0, start - 1)  # ACT's one-tick shift for real episodes
            src_action = source_rows(path, "/action")[first:]
            act_action = action_data.numpy()[: len(src_action)] * stats["action_std"] + stats["action_mean"]
            action_err = max(action_err, float(np.abs(act_action - src_action).max()))
            assert int((~is_pad.numpy()).sum()) == len(src_action)
            for k, cam in enumerate(cams):
                images.append(img_err(image_data[k].numpy(), source_frame(path, cam, start)))
    return {
        "episodes": len(files),
        "cameras": cams,
        "image": worst(images),
        "qpos_max_abs": qpos_err,
        "action_max_abs": action_err,
    }


# -- act-plus-plus (MarkFzp/act-plus-plus utils.py) --------------------------------------------------------


def check_act_plus_plus(app: Any, folder: Path) -> dict[str, Any]:
    paths = app.find_all_hdf5(str(folder), False)  # walks every sub-folder for *.hdf5
    paths = sorted(
        paths, key=lambda p: (Path(p).parent != folder, int(Path(p).stem.split("_")[1].split(".")[0]))
    )
    cams = cameras(Path(paths[0]))
    stats, lengths = app.get_norm_stats(paths)
    ds = app.EpisodicDataset(paths, cams, stats, list(range(len(paths))), lengths, CHUNK, "ACT")
    images, qpos_err, action_err = [], 0.0, 0.0
    starts = np.cumsum([0, *lengths])
    for e, path in enumerate(map(Path, paths)):
        for start in (0, lengths[e] // 2, lengths[e] - 1):
            image_data, qpos_data, action_data, _ = ds[int(starts[e] + start)]
            qpos = qpos_data.numpy() * stats["qpos_std"] + stats["qpos_mean"]
            qpos_err = max(
                qpos_err, float(np.abs(qpos - source_rows(path, "/observations/qpos")[start]).max())
            )
            first = max(0, start - 1)  # real episodes (sim false): the loader's one-tick shift
            src_action = source_rows(path, "/action")[first : first + CHUNK]
            got = action_data.numpy() * stats["action_std"] + stats["action_mean"]
            action_err = max(
                action_err, float(np.abs(got[: len(src_action), : src_action.shape[1]] - src_action).max())
            )
            for k, cam in enumerate(cams):
                images.append(img_err(image_data[k].numpy(), source_frame(path, cam, start)))
    found = [str(Path(p).relative_to(folder)) for p in paths]
    return {
        "episodes": len(paths),
        "found": found,
        "cameras": cams,
        "image": worst(images),
        "qpos_max_abs": qpos_err,
        "action_max_abs": action_err,
    }


# -- LeRobot (LeRobotDataset from the lerobot package) ------------------------------------------------------


def check_lerobot(root: Path) -> dict[str, Any]:
    import lerobot
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    meta = json.loads((root / "meta" / "info.json").read_text())
    fps = meta["fps"]
    source = json.loads((root / "meta" / "demoforge_source.json").read_text())
    dataset = Path(source["dataset"])
    ds = LeRobotDataset(
        "demoforge/export", root=root, delta_timestamps={"action": [i / fps for i in range(CHUNK)]}
    )
    cams = [k for k in ds.meta.video_keys]
    images, qpos_err, action_err, velocity_err = [], 0.0, 0.0, 0.0
    for clip_index, clip in enumerate(source["episodes"]):
        path = dataset / clip["file"]
        first_row = int(ds.meta.episodes[clip_index]["dataset_from_index"])
        for frame in (0, (clip["stop"] - clip["start"]) // 2, clip["stop"] - clip["start"] - 1):
            item = ds[first_row + frame]
            assert int(item["episode_index"]) == clip_index and int(item["frame_index"]) == frame
            t = clip["start"] + frame
            qpos_err = max(
                qpos_err,
                float(
                    np.abs(
                        item["observation.state"].numpy() - source_rows(path, "/observations/qpos")[t]
                    ).max()
                ),
            )
            velocity_err = max(
                velocity_err,
                float(
                    np.abs(
                        item["observation.velocity"].numpy() - source_rows(path, "/observations/qvel")[t]
                    ).max()
                ),
            )
            src_action = source_rows(path, "/action")[t : min(t + CHUNK, clip["stop"])]
            got = item["action"].numpy()[: len(src_action)]
            action_err = max(action_err, float(np.abs(got - src_action).max()))
            assert int((~item["action_is_pad"].numpy()).sum()) == len(src_action)
            for key in cams:
                images.append(
                    img_err(item[key].numpy(), source_frame(path, key.removeprefix("observation.images."), t))
                )
    return {
        "lerobot": lerobot.__version__,
        "codebase_version": meta["codebase_version"],
        "video_backend": ds.video_backend,
        "episodes": ds.num_episodes,
        "frames": ds.num_frames,
        "cameras": cams,
        "image": worst(images),
        "qpos_max_abs": qpos_err,
        "qvel_max_abs": velocity_err,
        "action_chunk_max_abs": action_err,
    }


def check_lerobot_act_training(root: Path, steps: int) -> dict[str, Any]:
    """LeRobot's own ACT policy, built from the export's metadata and statistics, takes a few steps."""
    import torch
    from lerobot.datasets.lerobot_dataset import LeRobotDataset, LeRobotDatasetMetadata
    from lerobot.policies.act.configuration_act import ACTConfig
    from lerobot.policies.factory import make_policy, make_pre_post_processors

    meta = LeRobotDatasetMetadata("demoforge/export", root=root)
    # no ImageNet weights: nothing is downloaded here; the check is that the data feeds the policy
    cfg = ACTConfig(
        pretrained_backbone_weights=None, chunk_size=20, n_action_steps=20, device="cpu", push_to_hub=False
    )
    policy = make_policy(cfg, ds_meta=meta)
    preprocess, _ = make_pre_post_processors(cfg, dataset_stats=meta.stats)
    ds = LeRobotDataset(
        "demoforge/export", root=root, delta_timestamps={"action": [i / meta.fps for i in range(20)]}
    )
    loader = torch.utils.data.DataLoader(ds, batch_size=2, shuffle=True, num_workers=0)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-5)
    losses = []
    for _, batch in zip(range(steps), loader, strict=False):
        loss, _ = policy.forward(preprocess(batch))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    assert all(np.isfinite(losses)), losses
    return {"policy": "act (lerobot.policies.act)", "steps": len(losses), "losses": losses}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--act", type=Path, help="a checkout of tonyzhaozh/act")
    p.add_argument("--act-plus-plus", type=Path, help="a checkout of MarkFzp/act-plus-plus")
    p.add_argument(
        "--train-steps", type=int, default=2, help="LeRobot ACT training steps on the export (0: skip)"
    )
    p.add_argument(
        "--lerobot", type=Path, action="append", default=[], help="an export --to lerobot (repeatable)"
    )
    for name in ("recorded-jpeg", "recorded-raw", "aloha-raw", "aloha-raw-unequal", "aloha-jpeg"):
        p.add_argument(f"--{name}", type=Path)
    a = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach for the hub
    results: dict[str, Any] = {}
    for root in a.lerobot:
        results[f"lerobot: LeRobotDataset on {root.name}"] = attempt(check_lerobot, root)
    if a.lerobot and a.train_steps:
        results[f"lerobot: ACT policy training steps on {a.lerobot[0].name}"] = attempt(
            check_lerobot_act_training, a.lerobot[0], a.train_steps
        )
    if a.act:
        act = load_module(a.act, "act_utils")
        for label, folder in (
            ("recorded, raw", a.recorded_raw),
            ("recorded, JPEG", a.recorded_jpeg),
            ("export --to aloha --raw --same-length", a.aloha_raw),
            ("export --to aloha --raw (unequal lengths)", a.aloha_raw_unequal),
            ("export --to aloha --jpeg (unequal lengths)", a.aloha_jpeg),
        ):
            if folder:
                results[f"act: {label}"] = attempt(check_act, act, folder)
    if a.act_plus_plus:
        app = load_module(a.act_plus_plus, "act_plus_plus_utils")
        for label, folder in (
            ("recorded, JPEG (with a discarded episode)", a.recorded_jpeg),
            ("recorded, raw", a.recorded_raw),
            ("export --to aloha --jpeg (unequal lengths)", a.aloha_jpeg),
            ("export --to aloha --raw (unequal lengths)", a.aloha_raw_unequal),
        ):
            if folder:
                results[f"act-plus-plus: {label}"] = attempt(check_act_plus_plus, app, folder)
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
