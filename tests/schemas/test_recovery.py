"""`recover` beside the reader: a cut-off episode comes back with exactly the writer's layout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import EpisodeEntry, Manifest
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.episode_recovery import recover_dataset, recover_episode
from tests.schemas.conftest import write_episode

# Writes 23 ticks (optional datasets included, and a root attribute of newer software), flushes, and
# dies without closing: the SWMR flag stays.
WRITER = """
import os, sys
sys.path.insert(0, {root!r})
from demoforge.schemas.episode_layout import EpisodeAttrs
from tests.schemas.test_recovery import write
to_hdf5 = EpisodeAttrs.to_hdf5
EpisodeAttrs.to_hdf5 = lambda self: to_hdf5(self) | {{"from_the_future": "kept"}}
w = write(sys.argv[1], {compress})
w.flush()
os._exit(0)
"""
OPTIONAL = [L.CLAMPED, L.REWARD, L.device_time_path("cam_high"), L.device_index_path("cam_high")]


def write(path: str, compress: bool):  # type: ignore[no-untyped-def]
    """The episode the killed writer leaves (also written whole, to compare with)."""
    from dataclasses import replace

    from demoforge.schemas.episode_writer import EpisodeWriter
    from tests.schemas.conftest import make_attrs, make_tick

    w = EpisodeWriter(path, make_attrs(compress), optional=OPTIONAL, flush_interval=0.1)
    for t in range(23):
        tick = make_tick(t, compress=compress)
        if t % 5:
            s = tick.frames["cam_high"]
            tick.frames["cam_high"] = replace(s, device_time=1000.0 + t / 50, device_index=7 * t)
        if compress and t == 4:
            del tick.frames["cam_wrist"]  # a tick without that camera's frame
        tick.scalars = {L.CLAMPED: float(t % 3 == 0), L.REWARD: t * 0.5}
        w.append(tick)
    return w


def cut_off(path: Path, compress: bool) -> Path:
    root = str(Path(__file__).resolve().parents[2])
    subprocess.run([sys.executable, "-c", WRITER.format(root=root, compress=compress), str(path)], check=True)
    return path


def datasets(path: Path) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__("/" + n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def test_recovered_file_holds_what_was_flushed_in_the_writers_layout(tmp_path: Path) -> None:
    for compress in (True, False):
        path = cut_off(tmp_path / f"episode_{int(compress)}.hdf5", compress)
        with EpisodeReader(path) as ep:
            assert ep.cut_off
        whole = tmp_path / f"whole_{int(compress)}.hdf5"
        write(str(whole), compress).close()
        r = recover_episode(path)
        assert (r.status, r.ticks, r.dropped_rows) == ("recovered", 23, 0)
        got, want = datasets(path), datasets(whole)
        assert got.keys() == want.keys()
        for name in want:
            np.testing.assert_array_equal(got[name], want[name], err_msg=name)
        with EpisodeReader(path) as ep:
            assert not ep.cut_off and not ep.complete and ep.loop_stats["recovered"] is True
            assert ep.attrs["task"] == "unit" and ep.attrs["from_the_future"] == "kept"
            assert ep.optional(L.REWARD) is not None and L.INFERENCE_LATENCY in ep.optional_missing
        assert recover_episode(path).status == "intact"  # idempotent; intact files are never rewritten


def test_dataset_recovery_updates_the_manifest_and_reports_garbage(tmp_path: Path) -> None:
    write_episode(tmp_path / "episode_0.hdf5", n=10)
    cut_off(tmp_path / "episode_1.hdf5", True)
    (tmp_path / "episode_2.hdf5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(300))
    Manifest("t", episodes=[EpisodeEntry("episode_1.hdf5", 0, -1, False)]).save(tmp_path)
    results = {r.file: r for r in recover_dataset(tmp_path)}
    assert results["episode_0.hdf5"].status == "intact"
    assert results["episode_1.hdf5"].status == "recovered"
    assert results["episode_2.hdf5"].status.startswith("unrecoverable: not a readable HDF5 file")
    entry = next(e for e in Manifest.load(tmp_path).episodes if e.file == "episode_1.hdf5")
    assert entry.length == 23 and not entry.complete and entry.task == "unit"
