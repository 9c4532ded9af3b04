"""loss.png from metrics rows, drawn with OpenCV (a core dependency; matplotlib is not installed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np

W, H = 900, 520
LEFT, RIGHT, TOP, BOTTOM = 80, 20, 40, 50
SERIES = (  # (split, key, BGR colour, label)
    ("train", "l1", (200, 120, 30), "train L1"),
    ("train", "kl", (60, 170, 60), "train KL (nats)"),
    ("val", "loss", (40, 40, 220), "val loss"),
)


def _y(v: float, lo: float, hi: float) -> int:
    frac = (math.log10(v) - lo) / (hi - lo) if hi > lo else 0.5
    return int(TOP + (1 - frac) * (H - TOP - BOTTOM))


def plot_losses(rows: list[dict[str, Any]], path: str | Path, title: str = "") -> None:
    """Log-scale curves of train L1, train KL and validation loss against the step."""
    img = np.full((H, W, 3), 255, np.uint8)
    pts = {
        label: [
            (int(r["step"]), float(r[key])) for r in rows if r.get("split") == split and r.get(key, 0) > 0
        ]
        for split, key, _, label in SERIES
    }
    values = [v for series in pts.values() for _, v in series if math.isfinite(v)]
    steps = [s for series in pts.values() for s, _ in series]
    if values:
        lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
        hi = max(hi, lo + 1)
        s_max = max(max(steps), 1)
        for e in range(lo, hi + 1):  # decade grid lines
            y = _y(10.0**e, lo, hi)
            cv2.line(img, (LEFT, y), (W - RIGHT, y), (225, 225, 225), 1)
            cv2.putText(
                img, f"1e{e}", (8, y + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1, cv2.LINE_AA
            )
        for k in range(6):
            s = s_max * k // 5
            x = LEFT + int(s / s_max * (W - LEFT - RIGHT))
            cv2.putText(
                img, str(s), (x - 10, H - BOTTOM + 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1
            )
        for n, (_, _, colour, label) in enumerate(SERIES):
            series = [(s, v) for s, v in pts[label] if math.isfinite(v)]
            poly = np.array(
                [(LEFT + int(s / s_max * (W - LEFT - RIGHT)), _y(v, lo, hi)) for s, v in series], np.int32
            )
            if len(poly) > 1:
                cv2.polylines(img, [poly], False, colour, 2, cv2.LINE_AA)
            elif len(poly) == 1:
                cv2.circle(img, tuple(int(c) for c in poly[0]), 3, colour, -1)
            cv2.putText(
                img,
                label,
                (W - 220, TOP + 20 + 20 * n),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                colour,
                1,
                cv2.LINE_AA,
            )
    cv2.rectangle(img, (LEFT, TOP), (W - RIGHT, H - BOTTOM), (0, 0, 0), 1)
    cv2.putText(img, title or "loss", (LEFT, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "step", (W // 2, H - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img)
