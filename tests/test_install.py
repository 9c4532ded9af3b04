"""The installed distribution, imported from outside the repository: one top-level package, `demoforge`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import importlib.metadata, importlib.util, json
import demoforge.collect.recorder, demoforge.quality.runner, demoforge.schemas.episode_reader
import demoforge.policy
from demoforge.collect.rigs import RIGS_DIR
print(json.dumps({
    "generic": [n for n in ("collect", "quality", "policy", "schemas") if importlib.util.find_spec(n)],
    "top_level": importlib.metadata.distribution("demoforge").read_text("top_level.txt").split(),
    "rigs": sorted(p.name for p in RIGS_DIR.glob("*.toml")),
}))
"""


def test_installed_distribution_is_namespaced(tmp_path: Path) -> None:
    # -I: neither the working directory nor PYTHONPATH is on sys.path, only what pip installed
    out = subprocess.run(
        [sys.executable, "-I", "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    import json

    found = json.loads(out)
    assert found["generic"] == [], f"generic top-level modules installed: {found['generic']}"
    assert found["top_level"] == ["demoforge"]
    assert "virtual.toml" in found["rigs"]  # package data travels with demoforge.collect
