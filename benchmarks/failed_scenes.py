"""Do two policies fail on the same scenes? Prints JSON: each evaluation's failed scenes, and each pair's
overlap against what independent failures would give.

    .venv/bin/python benchmarks/failed_scenes.py EVAL_DIR EVAL_DIR [...] [--count success_reached]

EVAL_DIR is a `demoforge eval` output folder (its eval.json lists each rollout's `scene_seed` and
counts); every folder must hold the same scenes. A large overlap says the scenes are hard (cube
positions the demonstrations cover thinly, say): more or wider demonstrations would help. An overlap
near chance says each policy fails at random, scene by scene: training, not data coverage.
`p_at_least` is the hypergeometric probability of an overlap at least this large if each policy's
failures were a random draw of that many scenes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from math import comb
from pathlib import Path


def failed(eval_dir: Path, count: str) -> tuple[list[int], set[int]]:
    """All scene seeds evaluated, and those that failed by `count`."""
    path = eval_dir / "eval.json"
    try:
        rollouts = json.loads(path.read_text())["rollouts"]
        scenes = [int(r["scene_seed"]) for r in rollouts]
        return scenes, {int(r["scene_seed"]) for r in rollouts if not r[count]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"{path}: not an eval.json with per-rollout scene_seed and {count} ({e})", file=sys.stderr)
        print("  pass folders written by `demoforge eval` (schema_version 2)", file=sys.stderr)
        sys.exit(2)


def p_at_least(overlap: int, a: int, b: int, n: int) -> float:
    """P(|A & B| >= overlap) for A, B random subsets of sizes a, b of n items (hypergeometric)."""
    return sum(comb(a, k) * comb(n - a, b - k) for k in range(overlap, min(a, b) + 1)) / comb(n, b)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("evals", type=Path, nargs="+")
    p.add_argument(
        "--count",
        choices=("success_reached", "success_lerobot", "success_held"),
        default="success_reached",
        help="which success counts as not failed (default: reached, the ACT paper's count)",
    )
    a = p.parse_args()
    runs = {str(e): failed(e, a.count) for e in a.evals}
    scenes = {tuple(sorted(s)) for s, _ in runs.values()}
    if len(scenes) != 1:
        print("the evaluations ran different scenes: evaluate them on the same seeds", file=sys.stderr)
        sys.exit(2)
    n = len(next(iter(scenes)))
    pairs = []
    for (x, (_, fx)), (y, (_, fy)) in itertools.combinations(runs.items(), 2):
        both = fx & fy
        pairs.append(
            {
                "a": x,
                "b": y,
                "both_failed": sorted(both),
                "overlap": len(both),
                "expected_if_independent": round(len(fx) * len(fy) / n, 2),
                "p_at_least": round(p_at_least(len(both), len(fx), len(fy), n), 4),
            }
        )
    out = {
        "count": a.count,
        "scenes": n,
        "failed": {k: sorted(f) for k, (_, f) in runs.items()},
        "pairs": pairs,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
