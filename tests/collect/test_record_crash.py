"""SIGKILL a recording process mid-episode: earlier episodes intact, the cut one recovered (<= ~1 s lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from demoforge.cli import main
from demoforge.schemas.dataset import Manifest
from demoforge.schemas.episode_reader import EpisodeReader
from tests.collect.virtual_rig import record_args, small_virtual_rig

ROOT = Path(__file__).resolve().parents[2]


def test_sigkill_mid_episode_then_recover(tmp_path: Path) -> None:
    small_virtual_rig(tmp_path, arms=1, cameras=2)
    ds = tmp_path / "ds"
    cmd = [
        sys.executable,
        "-m",
        "demoforge",
        *record_args(tmp_path, ds, episodes=3, episode_time=2, reset_time=0.2),
    ]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert proc.stdout is not None
    started = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, f"recorder exited early with {proc.poll()}"
        if line.startswith("recording episode 1"):
            started = time.monotonic()
            break
    assert started is not None
    time.sleep(1.3)
    elapsed = time.monotonic() - started
    os.killpg(proc.pid, signal.SIGKILL)  # the recorder and its emulator process, as a power cut would
    proc.wait()

    with EpisodeReader(ds / "episode_0.hdf5") as ep:
        assert ep.complete and ep.length == 100
    assert not (ds / "episode_2.hdf5").exists()
    assert main(["recover", str(ds)]) == 0
    with EpisodeReader(ds / "episode_1.hdf5") as ep:
        assert not ep.complete and not ep.cut_off
        expected = elapsed * 50
        assert expected - 50 <= ep.length <= expected + 5, (ep.length, expected)
        assert ep.loop_stats.get("recovered") is True
        for cam in ep.cameras:
            ep.image(cam, ep.length - 1)
    with EpisodeReader(ds / "episode_0.hdf5") as ep:  # recover never touches intact episodes
        assert ep.complete and ep.length == 100
    assert [(e.file, e.complete) for e in Manifest.load(ds).episodes] == [
        ("episode_0.hdf5", True),
        ("episode_1.hdf5", False),
    ]
    assert main(["recover", str(ds)]) == 0  # idempotent
