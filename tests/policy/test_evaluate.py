"""Success counts of a rollout's reward, and eval.json of both versions."""

from __future__ import annotations

import numpy as np

from demoforge.policy.evaluate import SUCCESS_KEYS, success_counts, success_of, summarize


def reward(ticks: int, **at: int) -> np.ndarray:
    """Per-tick reward: 0, then each `t<tick>=value` from that tick on."""
    r = np.zeros(ticks)
    for key, v in sorted(at.items(), key=lambda kv: int(kv[0][1:])):
        r[int(key[1:]) :] = v
    return r


def test_reached_lerobot_and_held_are_three_different_counts() -> None:
    # top reward at tick 350, dropped at 380: the ACT paper counts it (max over the episode), LeRobot's
    # 300 ticks end before it, and it is not held at the last tick
    assert success_of(reward(400, t350=4, t380=2)) == {
        "success_reached": True,
        "success_lerobot": False,
        "success_held": False,
    }
    assert success_of(reward(400, t100=4)) == dict.fromkeys(SUCCESS_KEYS, True)
    assert success_of(reward(400, t100=4, t200=3)) == {
        "success_reached": True,
        "success_lerobot": True,
        "success_held": False,
    }
    assert success_of(reward(400, t100=3)) == dict.fromkeys(SUCCESS_KEYS, False)
    assert success_of(np.zeros(0)) == dict.fromkeys(SUCCESS_KEYS, False)


def test_summary_rates_and_reading_a_version_1_eval_json() -> None:
    no_jumps = {"jump_at_boundary": None, "jump_inside": None}
    rows = [
        {"max_reward": 4.0, **success_of(reward(400, t350=4, t380=2)), **no_jumps},
        {"max_reward": 4.0, **success_of(reward(400, t100=4)), **no_jumps},
    ]
    s = summarize(rows)
    assert s["schema_version"] == 2
    assert (s["success_reached"], s["success_lerobot"], s["success_held"]) == (1.0, 0.5, 0.5)
    assert success_counts(s) == {"success_reached": 1.0, "success_lerobot": 0.5, "success_held": 0.5}
    old = {"episodes": 2, "success_lerobot": 0.5, "success_strict": 0.25}  # eval.json before version 2
    assert success_counts(old) == {"success_reached": None, "success_lerobot": 0.5, "success_held": 0.25}
