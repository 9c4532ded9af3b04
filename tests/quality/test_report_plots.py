"""Plots a person reads: arms and grippers on their own axes, legend names, overflow and nominal marks."""

from __future__ import annotations

import re

import numpy as np

from demoforge.quality.assets import EpisodeAssets, Histogram
from demoforge.quality.report_plots import Span, interval_svg, legend_html, panels, trajectory_svg

ALOHA_NAMES = [
    f"{arm}_{j}"
    for arm in ("left", "right")
    for j in ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")
]


def test_arms_and_grippers_get_their_own_panels() -> None:
    ps = panels(ALOHA_NAMES)
    assert [(p.title, p.unit) for p in ps] == [
        ("left arm", "rad"),
        ("right arm", "rad"),
        ("grippers", "0 closed .. 1 open"),
    ]
    assert ps[2].joints == (6, 13) and ps[0].joints == tuple(range(6))
    unnamed = panels([f"joint_{j}" for j in range(14)])  # a plain ALOHA file: ALOHA's joint order
    assert [p.joints for p in unnamed] == [tuple(range(6)), tuple(range(7, 13)), (6, 13)]
    assert [p.title for p in panels(["a", "b", "c"])] == ["joints"]


def assets(with_leader: bool = True) -> EpisodeAssets:
    t = np.linspace(0, 4, 100, dtype=np.float32)
    q = np.stack([np.sin(t + k) for k in range(14)], axis=1).astype(np.float32)
    return EpisodeAssets(ALOHA_NAMES, t, q, q + 0.01, q - 0.01 if with_leader else None)


def test_trajectory_overlays_follower_command_leader_and_marks_spans() -> None:
    spans = [Span(1.0, 1.5, "#1", "pause msg", "error"), Span(0.0, 0.4, "trimmed", "idle", "trim")]
    svg = trajectory_svg(assets(), 4.0, spans)
    for name in ("follower", "command", "leader"):
        assert svg.count(f'class="s-{name}"') == 14
    assert "url(#hatch)" in svg and ">#1</text>" in svg and ">trimmed</text>" in svg
    assert "grippers (0 closed .. 1 open)" in svg
    legend = legend_html(assets(with_leader=False))
    assert all(n in legend for n in ALOHA_NAMES) and "command" in legend and "leader" not in legend


def test_interval_histogram_shows_overflow_and_nominal_period() -> None:
    counts = [0] * 24 + [3]
    counts[6] = 400
    svg = interval_svg("cam_high", Histogram(np.linspace(0, 133.3, 25).round(2).tolist(), counts, 33.3))
    assert "nominal 33 ms" in svg and "over 133 ms: 3" in svg
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill="#cf222e"', svg)]
    assert heights and heights[0] >= 2.0  # 3 late frames among 400 stay visible
