"""`record --view` / `teleop --view`: samples reach Rerun from off the control thread, and a viewer
that stops taking them never holds up the writer or a tick."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from demoforge.cli import main
from demoforge.collect.live_view import LiveView
from demoforge.collect.recorder import Recorder, RecordOptions
from tests.collect.virtual_rig import record_args, small_virtual_rig
from tests.quality.test_episode_view import read_rrd

pytest.importorskip("rerun", reason="the viewer needs the `view` extra (rerun-sdk)")


def test_record_view_writes_cameras_joints_and_rate(tmp_path: Path) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=2)
    rrd = tmp_path / "live.rrd"
    assert main(record_args(tmp_path, tmp_path / "ds", "--view", str(rrd), episode_time=1.0)) == 0
    rows, _ = read_rrd(rrd)
    n = rows["/joints/left_shoulder/follower"]  # one row per sample
    assert 1 <= n <= 10  # every 5th of the 50 ticks at most (10 samples/s), fewer when the viewer lagged
    assert rows["/joints/left_shoulder/command"] == rows["/joints/left_shoulder/leader"] == n
    for cam in ("cam_high", "cam_wrist"):  # a tick without a new frame of a camera carries none
        assert 1 <= rows[f"/cameras/{cam}"] <= n


def test_teleop_view_writes_samples(tmp_path: Path) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=1)
    rrd = tmp_path / "teleop.rrd"
    args = ["teleop", "--rig", str(tmp_path / "rig.toml"), "--seconds", "1", "--view", str(rrd)]
    assert main(args) == 0
    rows, _ = read_rrd(rrd)
    assert rows["/cameras/cam_high"] >= 1 and rows["/joints/left_shoulder/follower"] >= 1


class StuckViewer:
    """A Rerun stream whose every log blocks until released: a viewer that stopped reading."""

    def __init__(self, real: object) -> None:
        self.real = real
        self.release = threading.Event()
        self.calls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.real, name)

    def log(self, *a: object, **k: object) -> None:
        self.calls += 1
        self.release.wait()


def test_a_stuck_viewer_never_holds_up_the_recording(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    view = LiveView(rig, save=tmp_path / "stuck.rrd")
    stuck = StuckViewer(view.rec)
    view.rec = stuck
    opts = RecordOptions(dataset=tmp_path / "ds", episodes=1, episode_time=1.0, reset_time=0.0, view=view)
    try:
        [result] = Recorder(rig, opts).run()  # would never return if the writer waited for the viewer
    finally:
        stuck.release.set()
        view.close()
    assert result.stats["ticks"] == 50
    assert stuck.calls >= 1 and view.skipped >= 1  # the viewer took one sample and then had no room
