"""Issue 19, operator side, for `deploy`: the rig's identity checked against the checkpoint's, and the
stop key holding a policy-driven follower (virtual rig: real dynamixel-sdk against the emulator; the
keys typed into a pseudo-terminal read by the real `TerminalKeys`)."""

from __future__ import annotations

import os
import pty
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import demoforge.collect.hardware as hardware_mod
from demoforge.cli import main
from demoforge.collect import calibration as cal
from demoforge.collect.teleop import LeaderFollowerMap
from demoforge.policy.act import ACT
from demoforge.policy.api import load_policy
from demoforge.policy.checkpoint import save_checkpoint
from demoforge.policy.config import make_config
from demoforge.policy.data import Stats
from demoforge.policy.errors import PolicyError
from demoforge.schemas.rig import Rig, load_rig
from tests.collect.test_recorder import SpyHardware
from tests.collect.virtual_rig import small_virtual_rig
from tests.polling import poll


def checkpoint(path: Path, rig: Rig, rig_meta: dict[str, Any] | None) -> Path:
    """An untrained tiny policy for `rig` whose actions stay near its start pose; `rig_meta` as
    `train` records it (None: a checkpoint from before it did)."""
    torch.manual_seed(0)
    cfg = make_config("tiny")
    n = len(rig.joint_names)
    z, one = np.zeros(n, np.float32), np.ones(n, np.float32)
    stats = Stats(z, one, np.asarray(rig.start_pose, np.float32), one * 0.01)
    meta: dict[str, Any] = {"cameras": [c.name for c in rig.cameras], "n_joints": n, "step": 0}
    meta["joint_names"] = rig.joint_names
    if rig_meta is not None:
        meta["rig"] = rig_meta
    save_checkpoint(path, ACT(cfg.model, n, len(rig.cameras)), cfg, stats, meta)
    return path


def identity_of(rig: Rig) -> dict[str, Any]:
    return {"joint_limits": [list(v) for v in rig.joint_limits], "calibration": cal.fingerprint(rig)}


def test_a_policy_from_another_calibration_limits_or_joints_is_refused(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    policy = load_policy(checkpoint(tmp_path / "ok.pt", rig, identity_of(rig)))
    assert policy.check_rig(rig) == []

    other_cal = identity_of(rig) | {"calibration": {"left": "0123456789abcdef"}}
    policy = load_policy(checkpoint(tmp_path / "cal.pt", rig, other_cal))
    with pytest.raises(PolicyError, match="arm\\(s\\) left of rig test-virtual are calibrated differently"):
        policy.check_rig(rig)
    assert policy.check_rig(rig, accept_calibration=True) == []

    limits = identity_of(rig)
    limits["joint_limits"][1] = [-1.0, 1.0]
    policy = load_policy(checkpoint(tmp_path / "limits.pt", rig, limits))
    with pytest.raises(PolicyError, match=r"joint left_shoulder has limits \[-1.8, 1.2\]"):
        policy.check_rig(rig)

    text = (tmp_path / "rig.toml").read_text().replace('name = "shoulder"', 'name = "elbow"')
    (tmp_path / "other.toml").write_text(text)
    other = load_rig(tmp_path / "other.toml")
    policy = load_policy(checkpoint(tmp_path / "names.pt", rig, identity_of(rig)))
    with pytest.raises(
        PolicyError, match="joint 1 of rig test-virtual is left_elbow, the policy was trained"
    ):
        policy.check_rig(other)


def test_an_old_checkpoint_loads_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    old = checkpoint(tmp_path / "old.pt", rig, None)
    [note] = load_policy(old).check_rig(rig)
    assert "does not record the joint limits and calibration" in note
    args = ["deploy", "--rig", str(tmp_path / "rig.toml"), "--checkpoint", str(old), "--seconds", "0.2"]
    assert main(args) == 0
    assert "note: policy" in capsys.readouterr().out


class TickingSpy(SpyHardware):
    """SpyHardware that wakes waiters after every tick's follower write."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticked = threading.Condition()

    def write_and_read_followers(self, goal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = super().write_and_read_followers(goal)
        with self.ticked:
            self.ticked.notify_all()
        return out

    def wait(self, predicate: Any, timeout_s: float = 30.0) -> bool:
        with self.ticked:
            return self.ticked.wait_for(predicate, timeout_s)


def test_deploy_on_a_terminal_starts_on_space_and_the_stop_key_holds_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    path = tmp_path / "rig.toml"
    path.write_text(path.read_text().replace("start = -0.5", "start = -0.5\nrest = 0.3"))  # rest elsewhere
    rig = load_rig(path)
    ckpt = checkpoint(tmp_path / "best.pt", rig, identity_of(rig))
    spies: list[TickingSpy] = []

    def open_spy(rig: Rig, *, line: str = "ideal") -> TickingSpy:
        spies.append(TickingSpy(rig, line=line))
        return spies[-1]

    monkeypatch.setattr(hardware_mod, "open_hardware", open_spy)
    master, slave = pty.openpty()
    stream = os.fdopen(slave, "rb", buffering=0)
    monkeypatch.setattr(sys, "stdin", stream)  # a terminal: deploy is attended
    marks: dict[str, int] = {}

    def person() -> None:  # waits on the ticks (no spinning: it would starve the bus threads)
        if poll(lambda: bool(spies), 30.0):
            spy = spies[0]
            if spy.wait(lambda: any(t.name == "keys" for t in threading.enumerate())):
                os.write(master, b" ")  # start the policy
                n = len(spy.sent[0])
                if spy.wait(lambda: len(spy.sent[0]) > n + 60):
                    marks["h"] = len(spy.sent[0])
                    os.write(master, b"h")  # stop
                    if spy.wait(lambda: len(spy.sent[0]) > marks["h"] + 60):
                        marks["r"] = len(spy.sent[0])
        os.write(master, b"ry")  # rest, confirmed (also answers the question a fault would ask)

    operator = threading.Thread(target=person)
    operator.start()
    try:
        args = ["deploy", "--rig", str(tmp_path / "rig.toml"), "--checkpoint", str(ckpt), "--seconds", "60"]
        assert main(args) == 0
    finally:
        operator.join()
        stream.close()
        os.close(master)
    out = capsys.readouterr().out
    assert "SPACE starts the policy" in out and "STOPPED: the followers hold where they are" in out
    sent = spies[0].sent[0]
    window = sent[marks["h"] : marks["r"]]
    # the hold: from some tick after the key on, one goal every tick until the rest was asked for
    start = next(k for k in range(len(window)) if all(np.array_equal(g, window[k]) for g in window[k:]))
    assert len(window) - start >= 30
    rest = sent[marks["r"] :]
    first = next(k for k, g in enumerate(rest) if not np.array_equal(g, window[-1]))
    step = LeaderFollowerMap(rig).step
    assert np.all(
        np.abs(np.diff(np.stack(rest[first:]), axis=0)) <= step + 1e-6
    )  # the rest, at the speed limit
    np.testing.assert_allclose(rest[-1], rig.rest_pose, atol=0.01)
