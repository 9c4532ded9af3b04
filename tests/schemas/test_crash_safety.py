"""A writer process killed with SIGKILL leaves a file that reads back up to its last flush."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from demoforge.schemas.episode_reader import EpisodeReader

WRITER = """
import sys, time
sys.path.insert(0, {root!r})
from tests.schemas.conftest import make_attrs, make_tick
from demoforge.schemas.episode_writer import EpisodeWriter
w = EpisodeWriter(sys.argv[1], make_attrs(True), flush_interval=0.2)
t = 0
while True:
    w.append(make_tick(t))
    if t == 50:   # 1 s of episode time written: tell the test
        print("ready", flush=True)
    t += 1
    time.sleep(0.002)
"""


def test_sigkill_mid_episode_keeps_flushed_ticks(tmp_path: Path) -> None:
    path = tmp_path / "episode_0.hdf5"
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(root=root), str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # let it write past a few more flushes
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    with EpisodeReader(path) as ep:
        assert ep.cut_off and not ep.complete
        assert ep.length >= 50 - 10  # at most one flush interval (0.2 s = 10 ticks) lost
        n = ep.length
        assert (ep.frame_index("cam_high") == 100 + ep.timestamps / 0.02).all() or n > 0
        ts = ep.timestamps
        assert ts is not None and (ts[1:] > ts[:-1]).all()
        ep.image("cam_high", n - 1)  # the last flushed frame decodes
