"""benchmarks/failed_scenes.py: which scenes two evaluations both failed, against chance."""

from __future__ import annotations

import json
import subprocess
import sys
from math import comb
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "failed_scenes.py"


def eval_dir(root: Path, name: str, failed: set[int], n: int = 10) -> Path:
    d = root / name
    d.mkdir()
    rollouts = [{"scene_seed": 100 + i, "success_reached": i not in failed} for i in range(n)]
    (d / "eval.json").write_text(json.dumps({"schema_version": 2, "rollouts": rollouts}))
    return d


def run(*args: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_the_overlap_and_its_chance_are_counted(tmp_path: Path) -> None:
    a, b = eval_dir(tmp_path, "a", {0, 1, 2}), eval_dir(tmp_path, "b", {2, 3})
    out = run(a, b)
    assert out.returncode == 0, out.stderr
    pair = json.loads(out.stdout)["pairs"][0]
    assert pair["both_failed"] == [102] and pair["overlap"] == 1
    assert pair["expected_if_independent"] == 0.6  # 3 * 2 / 10
    # P(overlap >= 1) = 1 - P(none of b's 2 among a's 3) = 1 - C(7, 2) / C(10, 2)
    assert pair["p_at_least"] == round(1 - comb(7, 2) / comb(10, 2), 4)


def test_different_scenes_or_a_file_that_is_no_eval_is_one_message(tmp_path: Path) -> None:
    a, b = eval_dir(tmp_path, "a", {0}), eval_dir(tmp_path, "b", {0}, n=9)
    out = run(a, b)
    assert out.returncode == 2 and "different scenes" in out.stderr and "Traceback" not in out.stderr
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "eval.json").write_text("{}")
    out = run(a, tmp_path / "c")
    assert out.returncode == 2 and "not an eval.json" in out.stderr and "Traceback" not in out.stderr
