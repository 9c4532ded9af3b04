"""Inline SVG plots for report.html: trajectories a person can read, frame intervals, dataset histograms.

Paths use integer pixels with relative steps ("l3 -2 4 0 ..."): a 14-joint episode with follower,
command and leader stays ~30 KB, which is what keeps a 500-episode report under its size budget.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from demoforge.quality.assets import EpisodeAssets, Histogram

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
SIGNALS = (("follower", ""), ("command", "5 3"), ("leader", "1 2"))  # name, stroke-dasharray
PLOT_W, LEFT, RIGHT = 760, 44, 8
ALOHA_GRIPPERS = (6, 13)  # unnamed 14-joint ALOHA episodes: each arm's 7th joint is its gripper


def _e(x: object) -> str:
    return html.escape(str(x))


@dataclass(frozen=True)
class Panel:
    title: str
    unit: str
    joints: tuple[int, ...]


@dataclass(frozen=True)
class Span:
    start_s: float
    end_s: float
    label: str  # shown on the plot ("#2", "trimmed")
    title: str  # tooltip
    kind: str  # "error", "warning" or "trim"


def panels(names: Sequence[str]) -> list[Panel]:
    """Joints by arm in radians, then the grippers on their own 0..1 axis."""
    n = len(names)
    grip = [j for j, s in enumerate(names) if "gripper" in s.lower()]
    unnamed_aloha = n == 14 and all(s == f"joint_{j}" for j, s in enumerate(names))
    if not grip and unnamed_aloha:
        grip = list(ALOHA_GRIPPERS)
    rest = [j for j in range(n) if j not in grip]
    arms: dict[str, list[int]] = {}
    for j in rest:
        prefix = names[j].split("_", 1)[0] if "_" in names[j] else ""
        if unnamed_aloha:
            prefix = "left" if j < ALOHA_GRIPPERS[0] else "right"
        arms.setdefault(prefix if prefix in ("left", "right") else "", []).append(j)
    out = [Panel(f"{arm} arm" if arm else "joints", "rad", tuple(js)) for arm, js in arms.items()]
    if grip:
        out.append(Panel("grippers", "0 closed .. 1 open", tuple(grip)))
    return out


def _path(xs: np.ndarray, ys: np.ndarray) -> str:
    xi, yi = np.rint(xs).astype(int), np.rint(ys).astype(int)
    dx, dy = np.diff(xi), np.diff(yi)
    steps = " ".join(f"{a} {b}" for a, b in zip(dx.tolist(), dy.tolist(), strict=True))
    return f"M{xi[0]} {yi[0]}l{steps}"


def _nice_step(span: float) -> float:
    for s in (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300):
        if span / s <= 10:
            return s
    return 600.0


def trajectory_svg(a: EpisodeAssets, duration: float, spans: list[Span]) -> str:
    """Stacked panels sharing a time axis; incidents shaded and numbered, trimmed spans hatched."""
    if a.qpos.size == 0 or duration <= 0:
        return ""
    ps = panels(
        a.joint_names[: a.qpos.shape[1]] + [f"joint_{j}" for j in range(len(a.joint_names), a.qpos.shape[1])]
    )
    heights = [70 if p.unit != "rad" else 150 for p in ps]
    top_pad, gap, axis = 14, 16, 18
    total_h = top_pad + sum(heights) + gap * (len(ps) - 1) + axis
    sx = (PLOT_W - LEFT - RIGHT) / duration
    parts = [
        f'<svg class="traj" width="{PLOT_W}" height="{total_h}" viewBox="0 0 {PLOT_W} {total_h}" role="img">',
        '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="3" height="6" fill="#8884"/></pattern></defs>',
    ]
    label_end = 0.0  # labels that would overprint the previous one are left to the tooltip
    for s in sorted(spans, key=lambda s: s.start_s):
        x0 = LEFT + s.start_s * sx
        w = max((s.end_s - s.start_s) * sx, 2.0)
        fill = {"error": "#cf222e2e", "warning": "#d4a72c38", "trim": "url(#hatch)"}[s.kind]
        parts.append(
            f'<rect x="{x0:.0f}" y="{top_pad - 2}" width="{w:.0f}" height="{total_h - top_pad - axis + 2}" '
            f'fill="{fill}"><title>{_e(s.title)}</title></rect>'
        )
        if x0 >= label_end:
            parts.append(
                f'<text x="{x0 + 1:.0f}" y="{top_pad - 4}" font-size="10" fill="#444">{_e(s.label)}</text>'
            )
            label_end = x0 + 6.5 * len(s.label) + 3
    xs = LEFT + a.times.astype(float) * sx
    y0 = top_pad
    signals = [(a.qpos, *SIGNALS[0]), (a.action, *SIGNALS[1]), (a.leader, *SIGNALS[2])]
    for p, h in zip(ps, heights, strict=True):
        cols = list(p.joints)
        vals = np.concatenate([s[:, cols].ravel() for s, _, _ in signals if s is not None and s.size])
        lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
        if p.unit != "rad":
            lo, hi = min(lo, 0.0), max(hi, 1.0)
        hi = hi if hi > lo else lo + 1.0
        sy = (h - 4) / (hi - lo)
        parts.append(
            f'<rect x="{LEFT}" y="{y0}" width="{PLOT_W - LEFT - RIGHT}" height="{h}" fill="none" '
            'stroke="#ddd"/>'
            f'<text x="{LEFT - 3}" y="{y0 + 9}" font-size="9" text-anchor="end">{hi:.2f}</text>'
            f'<text x="{LEFT - 3}" y="{y0 + h}" font-size="9" text-anchor="end">{lo:.2f}</text>'
            f'<text x="{LEFT + 4}" y="{y0 + 10}" font-size="10" fill="#555">'
            f"{_e(p.title)} ({_e(p.unit)})</text>"
        )
        for k, j in enumerate(cols):
            color = PALETTE[k % len(PALETTE)]
            for sig, name, dash in signals:
                if sig is None or sig.shape[0] != len(xs) or j >= sig.shape[1]:
                    continue
                ys = y0 + h - 2 - (sig[:, j] - lo) * sy
                style = f' stroke-dasharray="{dash}"' if dash else ""
                parts.append(
                    f'<path class="s-{name}" d="{_path(xs, ys)}" fill="none" stroke="{color}"{style}/>'
                )
        y0 += h + gap
    step = _nice_step(duration)
    for t in np.arange(0.0, duration + 1e-9, step):
        x = LEFT + t * sx
        parts.append(
            f'<line x1="{x:.0f}" x2="{x:.0f}" y1="{y0 - gap}" y2="{y0 - gap + 4}" stroke="#999"/>'
            f'<text x="{x:.0f}" y="{y0 - gap + 14}" font-size="9" text-anchor="middle">{t:g}</text>'
        )
    parts.append(
        f'<text x="{PLOT_W - RIGHT}" y="{total_h - 2}" font-size="9" text-anchor="end">s</text></svg>'
    )
    return "".join(parts)


def legend_html(a: EpisodeAssets) -> str:
    """Joint names by colour per panel, and which line is follower, command and leader."""
    names = a.joint_names[: a.qpos.shape[1]]
    rows = []
    for p in panels(names):
        items = "".join(
            f'<span class="lg"><i style="background:{PALETTE[k % len(PALETTE)]}"></i>{_e(names[j])}</span>'
            for k, j in enumerate(p.joints)
            if j < len(names)
        )
        rows.append(f"<div><b>{_e(p.title)}</b> {items}</div>")
    present = [n for (n, _), s in zip(SIGNALS, (a.qpos, a.action, a.leader), strict=True) if s is not None]
    styles = "".join(
        f'<span class="lg"><svg width="26" height="8"><line x1="0" y1="4" x2="26" y2="4" stroke="#333" '
        f'stroke-width="1.5"{f" stroke-dasharray={chr(34)}{d}{chr(34)}" if d else ""}/></svg>{n}</span>'
        for n, d in SIGNALS
        if n in present
    )
    return f'<div class="legend">{"".join(rows)}<div>{styles}</div></div>'


def interval_svg(cam: str, hist: Histogram) -> str:
    """Frame intervals of one camera: the nominal period marked, the overflow bin apart and counted."""
    w, h, left, n = 250, 96, 6, len(hist.counts)
    main = n - 1
    top = max(max(hist.counts), 1)
    bw = (w - left - 40) / main
    base = h - 18

    def bar_h(c: int) -> float:  # square root: one late frame among hundreds stays visible
        return 0.0 if c == 0 else max(2.0, (c / top) ** 0.5 * (h - 46))

    parts = [
        f'<svg width="{w}" height="{h}" role="img"><text x="{left}" y="11" font-size="11">{_e(cam)}: '
        "interval between frames</text>"
    ]
    for i, c in enumerate(hist.counts[:main]):
        parts.append(
            f'<rect x="{left + i * bw:.1f}" y="{base - bar_h(c):.1f}" width="{bw - 1:.1f}" '
            f'height="{bar_h(c):.1f}" fill="#1f77b4"><title>{hist.edges_ms[i]:.0f}-'
            f"{hist.edges_ms[i + 1]:.0f} ms: {c}</title></rect>"
        )
    ox = left + main * bw + 10
    c = hist.counts[-1]
    parts.append(
        f'<rect x="{ox:.1f}" y="{base - bar_h(c):.1f}" width="22" height="{bar_h(c):.1f}" fill="#cf222e">'
        f"<title>over {hist.edges_ms[-1]:.0f} ms: {c}</title></rect>"
        f'<text x="{ox + 11:.1f}" y="{base - bar_h(c) - 2:.1f}" font-size="9" text-anchor="middle">{c}</text>'
        f'<text x="{ox + 11:.1f}" y="{h - 6}" font-size="9" text-anchor="middle">'
        f"&gt;{hist.edges_ms[-1]:.0f}</text>"
    )
    nx = left + hist.nominal_ms / hist.edges_ms[-1] * main * bw
    parts.append(
        f'<line x1="{nx:.1f}" x2="{nx:.1f}" y1="16" y2="{base}" stroke="#2ca02c" stroke-dasharray="3 2"/>'
        f'<text x="{nx + 2:.1f}" y="24" font-size="9" fill="#2ca02c">nominal {hist.nominal_ms:.0f} ms</text>'
        f'<line x1="{left}" x2="{left + main * bw:.1f}" y1="{base}" y2="{base}" stroke="#999"/>'
        f'<text x="{left}" y="{h - 6}" font-size="9">0</text>'
        f'<text x="{left + main * bw:.1f}" y="{h - 6}" font-size="9" text-anchor="end">'
        f"{hist.edges_ms[-1]:.0f} ms</text></svg>"
    )
    return "".join(parts)


def dataset_histogram_svg(
    title: str, values: Sequence[float], unit: str, marks: Sequence[tuple[float, str]] = (), bins: int = 20
) -> str:
    """A histogram over episodes, with reference lines (median, thresholds) labelled."""
    w, h, left, right = 300, 120, 8, 8
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return ""
    lo, hi = float(v.min()), float(v.max())
    pad = (hi - lo) * 0.05 or max(abs(hi) * 0.05, 0.5)
    lo, hi = lo - pad, hi + pad
    outside = [f"{label} = {m:.3g}" for m, label in marks if not lo <= m <= hi]
    marks = [(m, label) for m, label in marks if lo <= m <= hi]
    # limits far beyond every episode: said under the title instead of squashing the bars
    note = f"{', '.join(outside)}: beyond every episode" if outside else ""
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    top = max(int(counts.max()), 1)
    base, sx = h - 20, (w - left - right) / (hi - lo)
    bw = (w - left - right) / bins
    parts = [
        f'<svg width="{w}" height="{h}" role="img"><text x="{left}" y="11" font-size="11">{_e(title)}</text>'
        f'<text x="{left}" y="22" font-size="9" fill="#777">{_e(note)}</text>'
    ]
    for i, c in enumerate(counts.tolist()):
        bh = 0 if c == 0 else max(2.0, c / top * (h - 48))
        parts.append(
            f'<rect x="{left + i * bw:.1f}" y="{base - bh:.1f}" width="{bw - 1:.1f}" height="{bh:.1f}" '
            f'fill="#1f77b4"><title>{edges[i]:.3g}-{edges[i + 1]:.3g} {_e(unit)}: {c} episodes</title></rect>'
        )
    for k, (m, label) in enumerate(marks):
        x = left + (m - lo) * sx
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="16" y2="{base}" stroke="#cf222e" stroke-dasharray="3 2"/>'
            f'<text x="{x + 2:.1f}" y="{32 + 10 * k}" font-size="9" fill="#cf222e">{_e(label)}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{w - right}" y1="{base}" y2="{base}" stroke="#999"/>'
        f'<text x="{left}" y="{h - 6}" font-size="9">{lo:.3g}</text>'
        f'<text x="{w - right}" y="{h - 6}" font-size="9" text-anchor="end">{hi:.3g} {_e(unit)}</text></svg>'
    )
    return "".join(parts)
