from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demoforge.collect.rigs import RIGS_DIR, resolve_rig, shipped_rigs
from demoforge.schemas.errors import ConfigError
from demoforge.schemas.rig import load_rig, parse_rig

BASE = (RIGS_DIR / "koch.toml").read_text()


def rig_text(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "rig.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("name", ["aloha", "koch", "virtual"])
def test_shipped_rigs_load(name: str) -> None:
    rig = resolve_rig(name)
    assert rig.fps == 50
    assert len(rig.joint_names) == len(rig.joint_limits) == len(rig.start_pose)
    assert name in shipped_rigs()


def test_aloha_has_14_joints_and_3_cameras() -> None:
    rig = resolve_rig("aloha")
    assert len(rig.joint_names) == 14 and len(rig.cameras) == 3
    assert sum(len(j.follower_ids) for j in rig.arms[0].joints) == 9  # shadow motors on shoulder and elbow


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ("fps = 50\n", "fps = 0\n", r"rig.toml: fps: must be > 0"),
        ("fps = 50\n", "fps = -5\n", r"fps: must be > 0"),
        ("fps = 50\n", 'fps = "fast"\n', r"fps: expected a number"),
        ("fps = 50\n", "fps = 50\nspeed = 3\n", r"speed: unknown key"),
        ("follower_ids = [2]", "follower_ids = [1]", r"duplicate motor id 1 on the follower bus"),
        (
            "width = 640\nheight = 480\nfps = 30\n\n[[cameras]]",
            "fps = 30\n\n[[cameras]]",
            r"cameras\[0\]\.width: missing",
        ),
        (
            'type = "opencv"\nsource = 0',
            'type = "kinect"\nsource = 0',
            r"cameras\[0\]\.type: 'kinect' is not one of",
        ),
        ("limits = [-1.75, 1.75]", "limits = [1.75, -1.75]", r"limits: low 1.75 is not below high -1.75"),
        ("start = 1.0", "start = 2.0", r"start: 2.0 is outside the limits"),
        ("leader_ids = [1]", "leader_ids = []", r"leader_ids: is empty"),
        (
            "baudrate = 1000000 }\nfollower",
            "baudrate = 1000000, protocol = 1.0 }\nfollower",
            r"protocol: 1.0 is not supported",
        ),
        ('port = "/dev/ttyACM1"', 'port = "/dev/ttyACM0"', r"/dev/ttyACM0 is used by main.leader and main"),
    ],
)
def test_bad_values_name_file_key_and_fix(tmp_path: Path, old: str, new: str, pattern: str) -> None:
    assert old in BASE, old
    path = rig_text(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError, match=pattern) as info:
        load_rig(path)
    assert str(path) in info.value.message and info.value.hint


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_rig(tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_rig(rig_text(tmp_path, "name = [unclosed"))
    with pytest.raises(ConfigError, match="no rig named 'nosuch'"):
        resolve_rig("nosuch")


def test_calibration_path_sits_next_to_the_rig(tmp_path: Path) -> None:
    rig = load_rig(rig_text(tmp_path, BASE))
    assert rig.calibration_path(rig.arms[0]) == tmp_path / "rig.main.calib.json"


toml_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(
    key=st.sampled_from(["name", "fps", "arms", "cameras", "safety", "recording", "sim"]), value=toml_values
)
def test_any_value_gives_a_rig_or_a_config_error(key: str, value: object) -> None:
    data = tomllib.loads(BASE)
    data[key] = value
    try:
        parse_rig(data, "fuzz.toml")
    except ConfigError as e:
        assert e.message.startswith("fuzz.toml: ") and e.hint
