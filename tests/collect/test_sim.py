"""Simulated rigs (gym-aloha): through the real recorder into valid episodes, with planted faults."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("gym_aloha")
pytest.importorskip("mujoco")

from demoforge.cli import main
from demoforge.collect.loop_timing import SteppedClock
from demoforge.collect.rigs import RIGS_DIR, resolve_rig
from demoforge.collect.sim.cameras import intrinsics
from demoforge.collect.sim.hardware import SimHardware
from demoforge.collect.sim.scene import TASKS
from demoforge.collect.teleop import LeaderFollowerMap
from demoforge.quality import check_dataset
from demoforge.schemas import episode_layout as L
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.rig import SIM_TASKS, parse_rig
from tests.schemas.test_act_loader_compat import act_read


def small_sim_rig(
    folder: Path, task: str = "transfer-cube", cameras: int = 1, size: tuple[int, int] = (24, 32)
) -> Path:
    """The shipped sim rig with its first `cameras` cameras at a tiny size (height, width)."""
    text = (RIGS_DIR / f"sim-{task}.toml").read_text()
    head, *cams = text.split("[[cameras]]")
    cams = [
        c.replace("width = 640", f"width = {size[1]}").replace("height = 480", f"height = {size[0]}")
        for c in cams
    ]
    path = folder / "sim.toml"
    path.write_text(head + "".join("[[cameras]]" + c for c in cams[:cameras]))
    return path


def test_shipped_sim_rigs_name_the_scene_tasks() -> None:
    assert set(SIM_TASKS) == set(TASKS)
    for name in ("sim-transfer-cube", "sim-insertion"):
        rig = resolve_rig(name)
        assert rig.simulation is not None and rig.sim
        assert [c.name for c in rig.cameras] == ["cam_high", "cam_left_wrist", "cam_right_wrist"]
        assert rig.recording.episode_time * rig.fps == 400


@pytest.mark.parametrize(
    ("patch", "pattern"),
    [
        ({"simulation": {"task": "stack"}}, "'stack' is not one of"),
        ({"simulation": {"task": "insertion", "seed": -1}}, "must be >= 0"),
        ({"simulation": {"task": "insertion", "render": True}}, "unknown key"),
        ({"simulation": None}, "'sim' camera on a physical rig"),
    ],
)
def test_simulation_table_errors(patch: dict, pattern: str) -> None:
    import tomllib

    data = tomllib.loads((RIGS_DIR / "sim-insertion.toml").read_text())
    for k, v in patch.items():
        if v is None:
            data.pop(k)
        else:
            data[k] = v
    with pytest.raises(ConfigError, match=pattern) as info:
        parse_rig(data, "sim.toml")
    assert info.value.hint


def test_stepped_clock_reads_simulated_time() -> None:
    t = [0.0]
    clock = SteppedClock(lambda: t[0])
    assert clock.wait() == (0.0, 0.0)
    t[0] = 0.02
    assert clock.wait() == (0.02, 0.02) and clock.overruns == 0


def test_intrinsics_from_vertical_field_of_view() -> None:
    k = intrinsics(90.0, 640, 480)
    assert k["fy"] == pytest.approx(240.0) and k["fx"] == k["fy"] and (k["ppx"], k["ppy"]) == (320, 240)


def test_camera_infos_carry_intrinsics_of_each_mujoco_camera() -> None:
    rig = resolve_rig("sim-transfer-cube")
    with SimHardware(rig, leader="direct") as hw:
        infos = {c.name: c for c in hw.camera_infos()}
    assert [c.serial for c in infos.values()] == ["mujoco:top", "mujoco:left_wrist", "mujoco:right_wrist"]
    high, wrist = infos["cam_high"].intrinsics, infos["cam_left_wrist"].intrinsics
    assert high["fy"] == pytest.approx(240 / np.tan(np.radians(78) / 2))  # the top camera's fovy 78
    assert wrist["fy"] == pytest.approx(240 / np.tan(np.radians(20) / 2))  # the wrist cameras' fovy 20


def test_emulated_leader_gives_the_direct_trajectory() -> None:
    """The benchmark's direct leader reads exactly what the emulated buses read, tick for tick."""
    rig = dataclasses.replace(resolve_rig("sim-insertion"), cameras=())
    runs = {}
    for mode in ("emulated", "direct"):
        with SimHardware(rig, leader=mode) as hw:
            teleop = LeaderFollowerMap(rig)
            teleop.reset(hw.read_followers()[0])
            hw.reset_now(7)
            leader, action = [], []
            for _ in range(150):  # through the approach and the grasp
                leader.append(hw.read_leaders())
                action.append(teleop(leader[-1]))
                hw.write_and_read_followers(action[-1])
            runs[mode] = np.array(leader), np.array(action)
    np.testing.assert_array_equal(runs["emulated"][0], runs["direct"][0])
    np.testing.assert_array_equal(runs["emulated"][1], runs["direct"][1])
    assert np.ptp(runs["direct"][0], axis=0).max() > 0.3  # the operator did move


def test_an_ended_episode_leaves_nothing_that_blocks_the_start_pose() -> None:
    """A policy can end an episode with a gripper shut on the cube or an arm pressed on the table;
    the next episode must still start (eval rolls out many in a row): the scene resets as gym-aloha's."""
    rig = dataclasses.replace(resolve_rig("sim-transfer-cube"), cameras=())
    with SimHardware(rig, leader="direct") as hw:
        start = hw.read_followers()[0]
        hw.reset_now(3)
        shut = start.copy()
        shut[[6, 13]] = -1.0  # both grippers squeezed past closed, the arms pushed down
        shut[[1, 8]] += 0.6
        for _ in range(100):
            hw.read_leaders()
            hw.write_and_read_followers(shut)
        assert np.abs(hw.read_followers()[0] - start).max() > 0.3
        hw.end_episode()
        for _ in range(20):  # whatever the followers are sent until the next episode begins
            hw.read_leaders()
            np.testing.assert_allclose(hw.read_followers()[0], start, atol=1e-6)
            hw.write_and_read_followers(shut)
        hw.reset_now(4)  # what begin_episode does on the control thread
        hw.read_leaders()
        hw.write_and_read_followers(shut)
        assert np.abs(hw.read_followers()[0] - start).max() > 1e-3  # the next episode moves again


def test_an_episode_renders_the_same_frames_however_many_ticks_ran_before_it(tmp_path: Path) -> None:
    """Parked ticks before an episode (more the faster a policy infers) leave no trace in its frames:
    not in the scene, not in the cameras' read noise (eval compares rollouts pixel for pixel)."""
    rig = resolve_rig(small_sim_rig(tmp_path, cameras=2, size=(48, 64)))
    firsts = []
    for parked in (0, 1, 2, 3, 7):
        with SimHardware(rig, leader="direct") as hw:
            for _ in range(parked):  # ticks rendered before the episode starts
                hw.read_leaders()
                hw.write_and_read_followers(hw.read_followers()[0])
            hw.reset_now(5)  # what start_recording does at the episode's first recorded tick
            frames = []
            for _ in range(3):
                hw.read_leaders()
                hw.write_and_read_followers(hw.read_followers()[0])
                frames.append([f.image.copy() for f in hw.latest_frames().values()])
            firsts.append(np.array(frames))
    for parked, got in zip((1, 2, 3, 7), firsts[1:], strict=True):
        np.testing.assert_array_equal(got, firsts[0], err_msg=f"after {parked} parked ticks")
    assert not np.array_equal(firsts[0][0], firsts[0][1])  # the read noise still changes every frame


def test_sim_episode_through_the_recorder(tmp_path: Path) -> None:
    rig = small_sim_rig(tmp_path, cameras=1)
    ds = tmp_path / "ds"
    assert main(["record", "--rig", str(rig), "--dataset", str(ds), "--unattended", "--seed", "0"]) == 0
    path = ds / "episode_0.hdf5"
    with h5py.File(path) as f:
        reward = f[L.REWARD][:]
        assert reward.shape == (400,) and reward[-1] == 4 and f.attrs["success"] == 1
        assert reward[:50].max() == 0  # stages counted from the start: touched, lifted, transferred
        ts = f[L.TIMESTAMPS][:]
        np.testing.assert_allclose(np.diff(ts), 0.02, atol=1e-9)  # simulated time: a perfect 50 Hz
        assert json.loads(f.attrs["loop_stats"])["achieved_hz"] == pytest.approx(50.0)
        np.testing.assert_allclose(f[L.frame_time_path("cam_high")][:], ts, atol=1e-9)
        assert (np.diff(f[L.frame_index_path("cam_high")][:]) == 1).all()
        [cam] = json.loads(f.attrs["cameras"])
        assert cam["type"] == "sim" and cam["intrinsics"]["ppx"] == 16
    is_sim, qpos, images, action = act_read(path, 10, ["cam_high"])
    assert is_sim and qpos.shape == (14,) and action.shape == (390, 14)
    assert images["cam_high"].shape == (24, 32, 3)
    report = check_dataset(ds)
    [ep] = report.episodes
    assert not [f for f in ep.findings if f.severity == "error"], ep.findings


def test_planted_faults_are_in_faults_json_the_data_and_the_report(tmp_path: Path) -> None:
    rig = small_sim_rig(tmp_path, cameras=1)
    ds = tmp_path / "ds"
    inject = [
        "pause@1:1+1",
        "drop.cam_high@1:3+0.3",
        "limit@1:4.5+0.3",
        "freeze.cam_high@2:1+0.5",
        "hesitant@2:2.5+2",
        "miss@3:0",
        "short@4:2",
        "long@5:13",
        "slow@6:0+6",
    ]
    args = [
        "record",
        "--rig",
        str(rig),
        "--dataset",
        str(ds),
        "--unattended",
        "--episodes",
        "7",
        "--seed",
        "0",
    ]
    args += ["--episode-time", "6"] + [a for spec in inject for a in ("--inject", spec)]
    assert main(args) == 0
    truth = json.loads((ds / "faults.json").read_text())["faults"]
    assert sorted(t["kind"] for t in truth) == sorted(s.split("@")[0].split(".")[0] for s in inject)
    by_file = {e.file: e for e in check_dataset(ds).episodes}
    assert not [f for f in by_file["episode_0.hdf5"].findings if f.severity == "error"]
    for t in truth:
        found = [
            f
            for f in by_file[t["file"]].findings
            if f.check == t["check"] and f.start_s <= t["end_s"] + 0.2 and f.end_s >= t["start_s"] - 0.2
        ]
        assert found, (t, by_file[t["file"]].findings)
    # and in the data itself
    with h5py.File(ds / "episode_1.hdf5") as f:
        jumps = np.diff(f[L.frame_index_path("cam_high")][:])
        assert jumps.max() >= 10  # 0.3 s of frames dropped at 50 fps
        assert np.abs(f[L.QPOS][:, 3]).max() > 2.02  # the bumped forearm roll (rig limit 2.0)
    with h5py.File(ds / "episode_3.hdf5") as f:
        assert f.attrs["success"] == 0 and f[L.REWARD][-1] < 4
    with h5py.File(ds / "episode_4.hdf5") as f5, h5py.File(ds / "episode_5.hdf5") as f6:
        assert len(f5[L.TIMESTAMPS]) == 100 and len(f6[L.TIMESTAMPS]) == 650


def test_no_render_and_sim_faults_on_other_rigs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ds = tmp_path / "physics"
    args = [
        "record",
        "--rig",
        "sim-insertion",
        "--dataset",
        str(ds),
        "--no-render",
        "--unattended",
        "--seed",
        "0",
    ]
    assert main([*args, "--episode-time", "0.5"]) == 0
    with h5py.File(ds / "episode_0.hdf5") as f:
        assert len(f[L.IMAGES]) == 0 and f[L.REWARD].shape == (25,) and f.attrs["success"] == 0
    args = ["record", "--rig", "virtual", "--dataset", str(tmp_path / "v"), "--no-render", "--unattended"]
    assert main(args) == 2
    assert "not simulated" in capsys.readouterr().err
    rig = small_sim_rig(tmp_path)
    args = ["record", "--rig", str(rig), "--dataset", str(tmp_path / "s"), "--unattended"]
    assert main([*args, "--inject", "gone.follower_left.2@0:1"]) == 2
    assert "not a fault of simulated rigs" in capsys.readouterr().err
    assert main([*args, "--inject", "drop.cam_nope@0:1+1"]) == 2
    assert "no camera 'cam_nope'" in capsys.readouterr().err
