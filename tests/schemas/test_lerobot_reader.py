"""The LeRobot reader on damaged metadata and files: one EpisodeError each (exit 2 at the CLI), no crash."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("av")

from demoforge.cli import main  # noqa: E402
from demoforge.quality import Thresholds, check_dataset  # noqa: E402
from demoforge.schemas import episode_layout as L  # noqa: E402
from demoforge.schemas.errors import EpisodeError  # noqa: E402
from demoforge.schemas.lerobot_reader import LeRobotSource  # noqa: E402

SOURCE = Path(__file__).parents[1] / "data" / "lerobot_v30"
EPISODES = "meta/episodes/chunk-000/file-000.parquet"
DATA = "data/chunk-000/file-000.parquet"
TOP = "videos/observation.images.top/chunk-000/file-000.mp4"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def _copy(tmp: Path, *, full: bool = False) -> Path:
    """A copy of the dataset whose meta/ may be changed (data and videos linked unless `full`)."""
    root = tmp / "ds"
    if full:
        shutil.copytree(SOURCE, root)
        return root
    shutil.copytree(SOURCE / "meta", root / "meta")
    for sub in ("data", "videos"):
        (root / sub).symlink_to(SOURCE / sub)
    return root


def test_the_fixture_reads() -> None:
    src = LeRobotSource(SOURCE)
    assert src.version == "v3.0" and src.fps == 30 and src.cameras == ["top", "wrist"]
    assert sorted(src.episodes) == list(range(15))
    with src.open(3) as ep:
        assert ep.qpos.shape == (ep.length, 7) and ep.joint_names[-1] == "gripper"
        assert ep.attrs["task"] == "put the cube in the bin"
        assert ep.image("top", 0).shape == (64, 64, 3) and ep.image("top", 0, reduce=4).shape == (16, 16, 3)
        assert L.TIMESTAMPS in ep.missing  # the loop's times were never recorded: not faked


@FUZZ
@given(
    key=st.sampled_from(["codebase_version", "fps", "features", "data_path", "video_path", "chunks_size"]),
    value=json_values,
    drop=st.booleans(),
)
@example(key="data_path", value="", drop=False)  # found by hypothesis: was "DIR: is missing"
@example(key="video_path", value="", drop=False)  # was read as no video at all
def test_info_json_with_a_missing_or_wrong_key_is_one_error(key: str, value: Any, drop: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = _copy(Path(d))
        info = json.loads((root / "meta/info.json").read_text())
        if drop:
            info.pop(key, None)
        else:
            info[key] = value
        (root / "meta/info.json").write_text(json.dumps(info))
        try:
            src = LeRobotSource(root)
        except EpisodeError as e:
            assert "info.json" in e.message or "meta" in e.message
            return
        with src.open(0) as ep:  # what loads must read
            ep.qpos  # noqa: B018


@settings(max_examples=15, deadline=None)  # each readable example runs a whole check (video decoding)
@given(
    column=st.sampled_from(
        [
            "episode_index",
            "length",
            "data/chunk_index",
            "videos/observation.images.top/from_timestamp",
            "videos/observation.images.wrist/to_timestamp",
            "tasks",
        ]
    ),
    value=st.none() | st.integers(-3, 3) | st.floats(allow_nan=True) | st.text(max_size=3),
)
def test_an_episodes_table_with_wrong_types_is_one_error(column: str, value: Any) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = _copy(Path(d))
        t = pq.read_table(root / EPISODES)
        rows = t.to_pylist()
        rows[0][column] = value
        try:
            pq.write_table(pa.Table.from_pylist(rows), root / EPISODES)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return  # pyarrow itself refuses a column of mixed types
        with contextlib.suppress(EpisodeError):
            check_dataset(root, Thresholds())


@FUZZ
@given(keep=st.floats(0.0, 0.99))
def test_a_truncated_parquet_is_one_error(keep: float, tmp_path: Path) -> None:
    for rel in (EPISODES, "meta/tasks.parquet"):
        with tempfile.TemporaryDirectory() as d:
            root = _copy(Path(d))
            blob = (root / rel).read_bytes()
            (root / rel).write_bytes(blob[: int(len(blob) * keep)])
            with pytest.raises(EpisodeError, match="parquet"):
                LeRobotSource(root)


def test_a_truncated_data_file_fails_every_episode_with_integrity(tmp_path: Path) -> None:
    root = _copy(tmp_path, full=True)
    blob = (root / DATA).read_bytes()
    (root / DATA).write_bytes(blob[: len(blob) // 2])
    report = check_dataset(root, Thresholds())
    assert all(e.verdict == "fail" for e in report.episodes)
    for e in report.episodes:
        assert e.findings[0].check == "integrity" and "parquet" in e.findings[0].message


def test_an_mp4_shorter_than_its_table_fails_the_episodes_it_lost(tmp_path: Path) -> None:
    root = _copy(tmp_path, full=True)
    blob = (root / TOP).read_bytes()
    (root / TOP).write_bytes(blob[: int(len(blob) * 0.8)])
    report = check_dataset(root, Thresholds())
    last = report.episodes[-1]
    assert last.verdict == "fail"
    assert {f.check for f in last.findings} & {"format", "integrity"}
    assert report.episodes[0].verdict == "pass"  # its frames are whole


def test_a_video_with_fewer_frames_than_rows_is_a_format_error(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    rows = pq.read_table(root / EPISODES).to_pylist()
    rows[2]["videos/observation.images.top/to_timestamp"] -= 0.5  # a re-encode that lost 15 frames
    pq.write_table(pa.Table.from_pylist(rows), root / EPISODES)
    report = check_dataset(root, Thresholds())
    [f] = [f for f in report.episodes[2].findings if f.check == "format"]
    assert f.severity == "error" and "holds 90 frames for this episode's 105 rows" in f.message
    assert f.detail["ticks"] == [90, 105]
    assert report.episodes[1].verdict == "pass"


def test_cli_exits_2_on_a_broken_info_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _copy(tmp_path)
    (root / "meta/info.json").write_text('{"codebase_version": "v3.0", "fps": 0}')
    assert main(["check", str(root), "--unattended"]) == 2
    err = capsys.readouterr().err
    assert "info.json" in err and "fps" in err and "Traceback" not in err


def test_stats_that_do_not_describe_the_data_are_a_dataset_finding(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    stats = json.loads((root / "meta/stats.json").read_text())
    stats["action"]["max"] = list(np.asarray(stats["action"]["max"]) + 0.5)
    (root / "meta/stats.json").write_text(json.dumps(stats))
    info = json.loads((root / "meta/info.json").read_text())
    info["total_frames"] += 1
    (root / "meta/info.json").write_text(json.dumps(info))
    report = check_dataset(root, Thresholds())
    found = [f for f in report.dataset_findings if f.check == "format"]
    assert any("stats.json" in f.message and "action" in f.message for f in found)
    assert any("total_frames" in f.message for f in found)
    clean = check_dataset(SOURCE, Thresholds())
    assert not [f for f in clean.dataset_findings if f.check == "format"]
