"""`check --rig RIG` / `--limits FILE`: joint limits for datasets that record none (LeRobot, plain ALOHA)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demoforge.cli import main
from demoforge.quality import Thresholds, check_episode
from demoforge.schemas.episode_source import list_episodes
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.joint_limits import load_limits, parse_limits, units_mismatch
from tests import factories as F

DATA = Path(__file__).parents[1] / "data"
SOURCE = DATA / "lerobot_v30"
PLANTED = {int(k): tuple(v) for k, v in json.loads((DATA / "lerobot_v30_planted.json").read_text()).items()}
FPS = 30.0
# The fixture's joints (rad) stay within +-1.3; episode 10's leader glitch throws `shoulder` to 0.82
# for one tick while episode 0 keeps it under 0.46. `gripper` is left out: it is "not checked".
LIMITS = """
waist = [-2.0, 2.0]
shoulder = [-1.0, 0.5]
elbow = [-2.0, 2.0]
forearm_roll = [-2.0, 2.0]
wrist_angle = [-2.0, 2.0]
wrist_rotate = [-2.0, 2.0]
"""


def _limits_file(tmp_path: Path, text: str = LIMITS) -> Path:
    p = tmp_path / "limits.toml"
    p.write_text(text)
    return p


def _episode(index: int, th: Thresholds):  # type: ignore[no-untyped-def]
    pytest.importorskip("pyarrow")
    pytest.importorskip("av")
    return check_episode(list_episodes(SOURCE)[index], th)


def test_a_limits_file_finds_the_leader_glitch_with_its_span(tmp_path: Path) -> None:
    th = Thresholds(joint_limits=load_limits(_limits_file(tmp_path)))
    e = _episode(10, th)
    _, a, b = PLANTED[10]
    hits = [f for f in e.findings if f.check == "joint_limit"]
    assert [(f.severity, f.detail["joint"], f.detail["signal"]) for f in hits] == [
        ("error", "shoulder", "action")
    ]
    assert abs(hits[0].start_s - a / FPS) <= 1.5 / FPS and abs(hits[0].end_s - b / FPS) <= 1.5 / FPS
    assert e.skipped["joint_limit"].startswith("not checked on gripper")


def test_a_clean_episode_gets_no_joint_limit_finding(tmp_path: Path) -> None:
    e = _episode(0, Thresholds(joint_limits=load_limits(_limits_file(tmp_path))))
    assert not [f for f in e.findings if f.check == "joint_limit"]
    assert "gripper" in e.skipped["joint_limit"]  # the joint the file leaves out is said, not passed


def test_without_limits_a_lerobot_episode_says_how_to_check_them() -> None:
    e = _episode(0, Thresholds())
    assert "--rig" in e.skipped["joint_limit"] and "--limits" in e.skipped["joint_limit"]


def test_check_cli_with_limits_writes_the_findings(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    pytest.importorskip("av")
    out = tmp_path / "out"
    rc = main(
        ["check", str(SOURCE), "--out", str(out), "--limits", str(_limits_file(tmp_path)), "--unattended"]
    )
    assert rc == 0
    report = json.loads((out / "quality" / "report.json").read_text())
    assert any(f["check"] == "joint_limit" for f in report["episodes"][10]["findings"])
    assert report["thresholds"]["joint_limits"]["source"].endswith("limits.toml")
    assert "limits.toml: waist [-2, 2], shoulder [-1, 0.5]" in (out / "quality" / "report.html").read_text()


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["--limits", "ELBOW"], "has no joint named elbow_flex"),  # a joint the dataset lacks
        (["--rig", "koch"], "rig koch has 6 joints"),  # a rig of another robot
        (["--limits", "MISSING"], "does not exist"),
    ],
)
def test_limits_that_do_not_fit_the_dataset_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expect: str
) -> None:
    pytest.importorskip("pyarrow")
    files = {"ELBOW": _limits_file(tmp_path, "elbow_flex = [-1.0, 1.0]\n"), "MISSING": tmp_path / "nope.toml"}
    args = [str(files.get(a, a)) for a in args]
    assert main(["check", str(SOURCE), "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err
    assert not (tmp_path / "out" / "quality").exists()


def test_a_rig_fits_plain_aloha_files_by_joint_order(tmp_path: Path) -> None:
    F.write_plain_aloha(tmp_path / "episode_0.hdf5", 60)
    assert main(["check", str(tmp_path), "--rig", "aloha", "--allow-unlabelled", "--unattended"]) == 0
    e = json.loads((tmp_path / "quality" / "report.json").read_text())["episodes"][0]
    assert "joint_limit" not in e["skipped"]


def test_a_rig_in_rad_against_degrees_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    F.write_plain_aloha(tmp_path / "episode_0.hdf5", 60)
    with h5py.File(tmp_path / "episode_0.hdf5", "r+") as f:  # as a recorder in degrees would write it
        for name in ("observations/qpos", "action"):
            f[name][...] = np.degrees(f[name][...]) + 90.0
    assert main(["check", str(tmp_path), "--rig", "aloha"]) == 2
    err = capsys.readouterr().err
    assert "far beyond 2 turns" in err and "--limits" in err


def test_units_mismatch_needs_data_far_beyond_a_turn() -> None:
    limits = np.array([[-math.pi, math.pi], [0.0, 1.0]])
    rad = np.array([[0.5, 0.2], [-3.0, 0.9]])
    assert units_mismatch(limits, rad, ["a", "b"], "rig x") is None
    assert "b reaches 100.1" in (units_mismatch(limits, rad * [1, 111.2], ["a", "b"], "rig x") or "")
    assert units_mismatch(limits * 60, rad * 57, ["a", "b"], "f") is None  # limits in degrees too


# -- the limits file's parser ---------------------------------------------------------------------

_number = st.floats(-1e6, 1e6, allow_nan=False)
_bad_value = st.one_of(
    st.text(max_size=5),
    st.booleans(),
    _number,
    st.lists(_number, max_size=1),
    st.lists(_number, min_size=3, max_size=4),
    st.lists(st.one_of(st.text(max_size=3), st.booleans()), min_size=2, max_size=2),
    st.tuples(_number, _number).filter(lambda t: t[0] > t[1]).map(list),  # low > high
    st.dictionaries(st.just("pos"), st.lists(_number, min_size=2, max_size=2), min_size=1),
)


@settings(max_examples=150, deadline=None)
@given(
    good=st.dictionaries(
        st.text("abcdefgh_", min_size=1, max_size=8),
        st.tuples(_number, _number).map(sorted),
        max_size=4,
    ),
    bad_key=st.text("xyz", min_size=1, max_size=6),
    bad=_bad_value,
)
def test_every_bad_entry_is_one_config_error_naming_it(
    good: dict[str, list[float]], bad_key: str, bad: object
) -> None:
    with pytest.raises(ConfigError) as e:
        parse_limits({**good, bad_key: bad}, "lim.toml")
    assert e.value.message.startswith(f"lim.toml: {bad_key}:") and e.value.hint


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdefgh_.", min_size=1, max_size=8), st.tuples(_number, _number).map(sorted), min_size=1
    )
)
def test_good_files_parse_to_what_they_say(table: dict[str, list[float]]) -> None:
    lim = parse_limits(dict(table), "lim.toml")
    assert {j.names[0]: [j.low, j.high] for j in lim.joints} == table and not lim.from_rig


def test_an_empty_limits_file_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyarrow")
    assert (
        main(["check", str(SOURCE), "--out", str(tmp_path), "--limits", str(_limits_file(tmp_path, ""))]) == 2
    )
    assert "names no joint" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("shoulder = [0.5, -0.5]\n", "low 0.5 is above high -0.5"),
        ('shoulder = "wide"\n', "expected [low, high]"),
        ("shoulder.pos = [0, 1]\n", "is a table"),
        ("shoulder = [0, nan]\n", "two finite numbers"),
        ("shoulder = [0, \n", "not valid TOML"),
    ],
)
def test_bad_limits_files_exit_2_at_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, key: str
) -> None:
    pytest.importorskip("pyarrow")
    assert (
        main(["check", str(SOURCE), "--out", str(tmp_path), "--limits", str(_limits_file(tmp_path, text))])
        == 2
    )
    err = capsys.readouterr().err
    assert key in err and "Traceback" not in err
