"""Serve a LeRobot ACT checkpoint's action chunks over stdin/stdout: LeRobot's policy in our rollouts.

Run in the peer venv (LeRobot 0.4.4: ../shared/peers/peer_lerobot_setup.sh), started by
benchmarks/peer_policy.py, not by hand:

    /tmp/peer-lerobot-venv/bin/python scripts/peer_lerobot_policy.py PRETRAINED_MODEL [--threads 1]

PRETRAINED_MODEL is a folder `lerobot_train` wrote (OUT/checkpoints/last/pretrained_model). Loaded as
LeRobot 0.4.4's scripts/lerobot_eval.py does it (lines 528-545: `make_policy`, which calls the policy
class's `from_pretrained`, policies/factory.py:513; `make_pre_post_processors(..., pretrained_path=)`,
the normalizer and unnormalizer with the training data's statistics). Its rollout runs preprocessor,
`select_action`, postprocessor (lines 173-178); here `predict_action_chunk` takes `select_action`'s place
so that the whole chunk comes back and the caller's temporal ensembling is the same for every policy
it compares.

Messages are length-prefixed (4 bytes, little-endian) both ways. First the server says hello: JSON
{"chunk_size", "cameras": {name: [H, W]}, "state_dim", "action_dim", "runtime"}. Then per request: an
.npz with `qpos` (state_dim,) float32 and one (H, W, 3) uint8 RGB array per camera, named by the camera;
the answer an .npy (chunk_size, action_dim) float32. End of input ends the server.
Uses nothing of demoforge (the peer venv does not have it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import sys
from typing import BinaryIO

import numpy as np
import torch

PREFIX = "observation.images."


def read_msg(f: BinaryIO) -> bytes | None:
    head = f.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack("<I", head)
    return f.read(n)


def write_msg(f: BinaryIO, data: bytes) -> None:
    f.write(struct.pack("<I", len(data)) + data)
    f.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pretrained", help="the pretrained_model folder lerobot_train wrote")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    # The messages own file descriptor 1; anything else printed (LeRobot prints "Loading weights from
    # local directory" to stdout) goes to stderr instead of corrupting them.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)

    import lerobot
    from lerobot.policies.act.modeling_act import ACTPolicy
    from lerobot.policies.factory import make_pre_post_processors

    policy = ACTPolicy.from_pretrained(a.pretrained)
    policy.eval()
    pre, post = make_pre_post_processors(policy.config, pretrained_path=a.pretrained)
    cfg = policy.config
    cams = {
        k[len(PREFIX) :]: list(ft.shape[1:]) for k, ft in cfg.input_features.items() if k.startswith(PREFIX)
    }
    hello = {
        "chunk_size": cfg.chunk_size,
        "cameras": cams,
        "state_dim": cfg.robot_state_feature.shape[0],
        "action_dim": cfg.action_feature.shape[0],
        "runtime": f"lerobot {lerobot.__version__} ACTPolicy, torch {torch.__version__} cpu fp32, "
        f"{a.threads} thread(s), peer process",
    }
    write_msg(out, json.dumps(hello).encode())
    while (msg := read_msg(sys.stdin.buffer)) is not None:
        arrs = np.load(io.BytesIO(msg))
        obs = {"observation.state": torch.from_numpy(arrs["qpos"].astype(np.float32))[None]}
        for cam in cams:
            img = torch.from_numpy(np.ascontiguousarray(arrs[cam])).permute(2, 0, 1).float() / 255
            obs[PREFIX + cam] = img[None]
        with torch.inference_mode():
            chunk = post(policy.predict_action_chunk(pre(obs)))  # (1, k, A) in the data's units
        buf = io.BytesIO()
        np.save(buf, chunk[0].float().numpy().astype(np.float32))
        write_msg(out, buf.getvalue())


if __name__ == "__main__":
    main()
