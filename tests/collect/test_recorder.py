"""The recorder on the virtual rig: real dynamixel-sdk against the emulator, synthetic cameras, real HDF5."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from demoforge.collect.arm import ArmBus
from demoforge.collect.cameras import SyntheticFaults
from demoforge.collect.errors import HardwareError, StorageError
from demoforge.collect.hardware import RigHardware
from demoforge.collect.recorder import Recorder, RecordOptions
from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import Manifest, discarded_episodes
from demoforge.schemas.episode_reader import EpisodeReader
from tests.collect.virtual_rig import small_virtual_rig


class SpyArm:
    """Delegates to a real ArmBus and logs what was sent and read, tick by tick."""

    def __init__(self, bus: ArmBus, log: list[np.ndarray]) -> None:
        self.bus, self.log = bus, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    def write(self, goal: np.ndarray) -> None:
        self.bus.write(goal)
        self.log.append(np.array(goal, dtype=np.float32))

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = self.bus.read()
        self.log.append(np.array(out[0], dtype=np.float32))
        return out


class SpyHardware(RigHardware):
    def open(self) -> SpyHardware:
        super().open()
        self.sent: list[list[np.ndarray]] = [[] for _ in self.followers]
        self.read: list[list[np.ndarray]] = [[] for _ in self.leaders]
        self.leaders = [_ReadSpy(b, log) for b, log in zip(self.leaders, self.read, strict=True)]  # type: ignore[misc]
        self.followers = [_WriteSpy(b, log) for b, log in zip(self.followers, self.sent, strict=True)]  # type: ignore[misc]
        return self


class _ReadSpy(SpyArm):
    def write(self, goal: np.ndarray) -> None:  # leaders are driven to the start pose: not a reading
        self.bus.write(goal)


class _WriteSpy(SpyArm):
    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.bus.read()


def offset_of(rows: np.ndarray, log: list[np.ndarray]) -> int:
    for k in range(len(log) - len(rows) + 1):
        if np.array_equal(log[k], rows[0]) and np.array_equal(log[k + 1], rows[1]):
            return k
    raise AssertionError("the recorded rows are not a run of what the hardware saw")


def test_recorded_action_is_what_was_sent_and_leader_what_was_read(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path)
    hw = SpyHardware(rig)
    opts = RecordOptions(dataset=tmp_path / "ds", episodes=1, episode_time=1.5, reset_time=0.1, label=1)
    [result] = Recorder(rig, opts, hardware=hw).run()
    assert result.path is not None
    with EpisodeReader(result.path) as ep:
        assert ep.length == 75 and ep.complete and ep.success == 1
        action, leader = ep.action, ep.leader_qpos
        assert leader is not None
        for arm, sl in enumerate((slice(0, 3), slice(3, 6))):
            sent = hw.sent[arm]
            k = offset_of(action[:, sl], sent)
            np.testing.assert_array_equal(action[:, sl], np.stack(sent[k : k + ep.length]))
            read = hw.read[arm]
            k = offset_of(leader[:, sl], read)
            np.testing.assert_array_equal(leader[:, sl], np.stack(read[k : k + ep.length]))
        # the operator moved the leader, and the followers followed
        assert np.ptp(leader[:, 0]) > 0.01
        assert np.abs(ep.qpos[-1, :2] - ep.action[-1, :2]).max() < 0.2
        stats = ep.loop_stats
        assert stats["ticks"] == 75 and stats["target_hz"] == 50
        for cam in ep.cameras:
            ft = ep.frame_time(cam)
            assert ft is not None and (np.diff(ep.frame_index(cam)) >= 0).all()
            age = ep.timestamps - ft  # frames are taken after the bus I/O, within the tick
            assert (age > -0.02).all() and (age[5:] < 0.1).all()
            # the synthetic camera models a device: its own counter and clock are recorded too
            np.testing.assert_array_equal(ep.optional(L.device_index_path(cam)), ep.frame_index(cam))
            np.testing.assert_allclose(ep.optional(L.device_time_path(cam)), ep.frame_index(cam) / 30.0)
        clamped = ep.optional(L.CLAMPED)
        assert clamped is not None and set(np.unique(clamped)) <= {0, 1}
        unclamped = clamped == 0  # where no clamp fired, the command is the leader's reading
        np.testing.assert_array_equal(action[unclamped], leader[unclamped])


def test_numbering_continues_and_manifest_lists_episodes(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    ds = tmp_path / "ds"
    for _ in range(2):
        opts = RecordOptions(dataset=ds, episodes=1, episode_time=0.4, reset_time=0.0)
        Recorder(rig, opts).run()
    manifest = Manifest.load(ds)
    assert [e.file for e in manifest.episodes] == ["episode_0.hdf5", "episode_1.hdf5"]
    assert all(e.length == 20 and e.complete and e.success == -1 for e in manifest.episodes)
    assert manifest.rig["name"] == "test-virtual"


class Keys:
    """An operator pressing keys depending on the phase the recorder shows."""

    def __init__(self, rec_phase_keys: list[tuple[str, str]]) -> None:
        self.script = list(rec_phase_keys)
        self.recorder: Recorder | None = None

    def poll(self) -> str | None:
        assert self.recorder is not None
        if self.script and self.recorder.phase.startswith(self.script[0][0]):
            return self.script.pop(0)[1]
        return None


def test_attended_discard_then_keep_reuses_the_index(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    ds = tmp_path / "ds"
    keys = Keys([("waiting", " "), ("keep?", "d"), ("waiting", " "), ("keep?", "s"), ("ending", "y")])
    opts = RecordOptions(dataset=ds, episodes=1, episode_time=0.3, reset_time=0.0, unattended=False)
    rec = Recorder(rig, opts, operator=keys)
    keys.recorder = rec
    results = rec.run()
    assert [r.kept for r in results] == [False, True]
    assert sorted(p.name for p in ds.glob("*.hdf5")) == ["episode_0.hdf5"]
    # nothing recorded is deleted, and no loader that walks the folder for *.hdf5 finds the discarded one
    assert [p.name for p in ds.rglob("*.hdf5")] == ["episode_0.hdf5"]
    (kept_aside,) = discarded_episodes(ds)
    with EpisodeReader(kept_aside) as ep:
        assert ep.length > 0
    with EpisodeReader(ds / "episode_0.hdf5") as ep:
        assert ep.success == 1


def test_gripper_squeeze_starts_an_episode(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    keys = Keys(
        [("keep?", "f"), ("ending", "y")]
    )  # no key to start: the scripted operator squeezes every 4 s
    opts = RecordOptions(
        dataset=tmp_path / "ds", episodes=1, episode_time=0.2, reset_time=0.0, unattended=False
    )
    rec = Recorder(rig, opts, operator=keys)
    keys.recorder = rec
    [result] = rec.run()
    assert result.kept
    with EpisodeReader(tmp_path / "ds" / "episode_0.hdf5") as ep:
        assert ep.success == 0


class FaultAt:
    """A display that injects a fault once the episode has recorded `after` ticks."""

    def __init__(self, after: int, inject: Any) -> None:
        self.after, self.inject, self.done = after, inject, False

    def phase(self, rec: Recorder, phase: str) -> None:
        pass

    def episode_done(self, rec: Recorder, result: Any) -> None:
        pass

    def refresh(self, rec: Recorder) -> None:
        r = rec.in_progress
        recording = rec.phase.startswith("recording")
        if not self.done and recording and rec.episode_index == 1 and r is not None and r.ticks >= self.after:
            self.done = True
            self.inject(rec)


@pytest.mark.parametrize("device", ["camera", "motor"])
def test_unplugged_device_stops_safely_and_keeps_what_was_recorded(tmp_path: Path, device: str) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=2)
    ds = tmp_path / "ds"

    def unplug(rec: Recorder) -> None:
        if device == "camera":
            cam = rec.hw.cameras["cam_wrist"]
            cam.faults = SyntheticFaults(stall_from=cam.latest().index + 1)  # type: ignore[attr-defined]
        else:
            assert rec.hw.chains is not None
            rec.hw.chains.inject("emulator:follower_left", 2, "gone")

    opts = RecordOptions(dataset=ds, episodes=3, episode_time=1.0, reset_time=0.0)
    rec = Recorder(rig, opts, display=FaultAt(20, unplug))
    with pytest.raises(HardwareError) as info:
        rec.run()
    msg = info.value.message
    assert (
        ("cam_wrist" in msg and "no frame" in msg)
        if device == "camera"
        else ("motor 2" in msg and "follower_left" in msg)
    )
    with EpisodeReader(ds / "episode_0.hdf5") as ep:
        assert ep.complete and ep.length == 50
    with EpisodeReader(ds / "episode_1.hdf5") as ep:
        assert not ep.complete and 20 <= ep.length < 50
    assert [e.file for e in Manifest.load(ds).episodes] == ["episode_0.hdf5", "episode_1.hdf5"]


def test_a_failing_disk_is_a_storage_error_and_earlier_episodes_stay(tmp_path: Path) -> None:
    rig = small_virtual_rig(tmp_path, arms=1, cameras=1)
    ds = tmp_path / "ds"

    def disk_full(rec: Recorder) -> None:
        assert rec.in_progress is not None
        writer = rec.in_progress.sink.writer

        def no_space() -> None:
            raise OSError(28, "No space left on device")

        writer._write = no_space  # type: ignore[method-assign]  # the disk, not our code, fails

    opts = RecordOptions(dataset=ds, episodes=3, episode_time=1.0, reset_time=0.0)
    with pytest.raises(StorageError) as info:
        Recorder(rig, opts, display=FaultAt(20, disk_full)).run()
    assert not isinstance(info.value, HardwareError)
    assert "episode_1.hdf5" in info.value.message and "No space left" in info.value.message
    assert "disk space" in info.value.hint
    with EpisodeReader(ds / "episode_0.hdf5") as ep:
        assert ep.complete and ep.length == 50
