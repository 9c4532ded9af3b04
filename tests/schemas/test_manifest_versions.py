"""Every dataset.json this project has written is read, and `label` works on it; a field that cannot be
read is an error naming the field.

Versions (`git log -p -- schemas/dataset.py schemas/episode_layout.py`): the earliest form, episodes as
plain names with `"schema_version": "1.0"` (the issue's report; no longer in this repository's history);
schema_version 1 (8e918b9: episodes as {file, length, success, complete, started_at, task}); 2 (1c8029d:
the same manifest, the number follows the episode layout's JPEG convention).
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demoforge.cli import main
from demoforge.schemas.dataset import Manifest
from demoforge.schemas.errors import ConfigError
from tests import factories as F


def rows(n: int) -> list[dict[str, object]]:
    return [
        {"file": f"episode_{i}.hdf5", "length": 40, "success": -1, "complete": True,
         "started_at": "2026-11-24T10:00:00Z", "task": "pick"}
        for i in range(n)
    ]  # fmt: skip


VERSIONS = {
    "1.0-plain-names": {"name": "pick", "schema_version": "1.0",
                        "episodes": ["episode_0.hdf5", "episode_1.hdf5"]},
    "1": {"name": "pick", "rig": {"name": "virtual"}, "episodes": rows(2), "created": "2026-11-24T10:00:00Z",
          "schema_version": 1},
    "2": {"name": "pick", "rig": {"name": "virtual"}, "episodes": rows(2), "created": "2026-11-25T10:00:00Z",
          "schema_version": 2},
}  # fmt: skip


@pytest.mark.parametrize("version", list(VERSIONS))
def test_label_reads_every_manifest_version(
    version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    F.write_dataset(tmp_path, [F.clean_recording(40, seed=i) for i in range(2)])
    (tmp_path / "dataset.json").write_text(json.dumps(VERSIONS[version]))
    m = Manifest.load(tmp_path)
    assert [e.file for e in m.episodes] == ["episode_0.hdf5", "episode_1.hdf5"]
    assert all(e.length == 40 for e in m.episodes)
    assert main(["label", str(tmp_path), "1", "success"]) == 0, capsys.readouterr().err
    with h5py.File(tmp_path / "episode_1.hdf5") as f:
        assert f.attrs["success"] == 1
    assert [e.success for e in Manifest.load(tmp_path).episodes][1] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["episodes"][1].update(length="abc"), "episodes[1].length"),
        (lambda d: d["episodes"][0].pop("file"), "episodes[0].file"),
        (lambda d: d.update(episodes={"a": 1}), "'episodes'"),
        (lambda d: d.update(schema_version="two"), "'schema_version'"),
        (lambda d: d["episodes"].append(7), "episodes[2]"),
    ],
)
def test_unreadable_field_is_named(
    change: object, field: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    F.write_dataset(tmp_path, [F.clean_recording(40, seed=i) for i in range(2)])
    data = json.loads(json.dumps(VERSIONS["2"]))
    change(data)  # type: ignore[operator]
    (tmp_path / "dataset.json").write_text(json.dumps(data))
    assert main(["label", str(tmp_path), "1", "success"]) == 2
    err = capsys.readouterr().err
    assert field in err and "Traceback" not in err and "argument after" not in err


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
MANIFEST_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "name": JSON,
        "rig": JSON,
        "schema_version": JSON,
        "episodes": st.lists(
            st.text(max_size=16) | st.fixed_dictionaries({}, optional={k: JSON for k in rows(1)[0]}),
            max_size=3,
        )
        | JSON,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=MANIFEST_LIKE)
def test_any_manifest_shape_loads_or_is_a_config_error(tmp_path: Path, data: dict[str, object]) -> None:
    (tmp_path / "dataset.json").write_text(json.dumps(data))
    try:
        Manifest.load(tmp_path)
    except ConfigError as e:
        assert "dataset.json" in e.message
