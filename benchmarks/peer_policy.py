"""LeRobot's ACT as a demoforge `Policy`: its chunks computed in the peer venv, our rollouts around them.

    policy = LeRobotPeerPolicy(pretrained_model_dir, joint_names)   # starts scripts/peer_lerobot_policy.py
    evaluate(label, rig, out, policy=policy)                          # then policy.close()

The peer process loads the checkpoint with LeRobot's own classes and normalization and answers each
observation with a whole (chunk_size, J) chunk in raw joint units; everything around it (the simulated
rig, the recorder, the temporal ensembling, the success counts) is the code that evaluates our own
checkpoints, so the two policies are scored on the same scenes in the same way. The peer interpreter is
$PEER_PYTHON, default <temp folder>/peer-lerobot-venv/bin/python (../shared/peers/peer_lerobot_setup.sh).
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demoforge.policy.api import Policy
from demoforge.policy.config import make_config
from demoforge.policy.errors import PolicyError

SERVER = Path(__file__).resolve().parents[1] / "scripts" / "peer_lerobot_policy.py"


def peer_python() -> Path:
    return Path(os.environ.get("PEER_PYTHON") or Path(tempfile.gettempdir()) / "peer-lerobot-venv/bin/python")


class LeRobotPeerPolicy(Policy):
    def __init__(
        self, pretrained: Path, joint_names: list[str], *, threads: int = 1, preset: str = "cpu"
    ) -> None:
        py = peer_python()
        if not py.exists():
            raise PolicyError(
                f"no peer interpreter at {py}",
                "build it with bash ../shared/peers/peer_lerobot_setup.sh, or set PEER_PYTHON",
            )
        self.path = Path(pretrained)
        # the peer's stderr, read back when it dies; open as long as the process (closed in close())
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._proc = subprocess.Popen(
            [str(py), str(SERVER), str(pretrained), "--threads", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        hello = json.loads(self._read())
        self.cameras = {c: (int(h), int(w)) for c, (h, w) in hello["cameras"].items()}
        self.chunk_size = int(hello["chunk_size"])
        self.n_joints = int(hello["action_dim"])
        if len(joint_names) != self.n_joints:
            raise PolicyError(
                f"the LeRobot policy acts on {self.n_joints} joints, {len(joint_names)} were named",
                "name the rig's joints in the export's order",
            )
        self.joint_names = list(joint_names)
        self.runtime = hello["runtime"]
        # The ensemble settings our own checkpoints of this preset carry: both policies ensembled alike.
        self.config = make_config(preset)
        self.meta = {
            "joint_names": self.joint_names,
            "n_joints": self.n_joints,
            "cameras": list(self.cameras),
        }

    def _infer(self, frames: list[np.ndarray], qpos: np.ndarray) -> np.ndarray:
        buf = io.BytesIO()
        arrays: dict[str, Any] = {"qpos": qpos, **dict(zip(self.cameras, frames, strict=True))}
        np.savez(buf, **arrays)
        self._write(buf.getvalue())
        chunk = np.load(io.BytesIO(self._read()))
        if chunk.shape != (self.chunk_size, self.n_joints):
            raise PolicyError(
                f"the peer answered a {chunk.shape} chunk", "check scripts/peer_lerobot_policy.py"
            )
        return chunk

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
        self._stderr.close()

    def _write(self, data: bytes) -> None:
        pipe: IO[bytes] | None = self._proc.stdin
        assert pipe is not None
        try:
            pipe.write(struct.pack("<I", len(data)) + data)
            pipe.flush()
        except BrokenPipeError:
            self._died()

    def _read(self) -> bytes:
        pipe: IO[bytes] | None = self._proc.stdout
        assert pipe is not None
        head = pipe.read(4)
        if len(head) < 4:
            self._died()
        (n,) = struct.unpack("<I", head)
        data = pipe.read(n)
        if len(data) < n:  # the peer ended mid-message
            self._died()
        return data

    def _died(self) -> None:
        self._proc.wait(timeout=30)
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace")[-2000:]
        raise PolicyError(
            f"the LeRobot peer process ended (exit {self._proc.returncode}):\n{tail}", "see above"
        )
