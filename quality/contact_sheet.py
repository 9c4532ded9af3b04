"""Every episode's first frame per camera on one sheet: a bumped camera or a change of light between
recording days shows at a glance.

One JPEG per camera holds all episodes (500 separate images would cost ~600 bytes of header each);
an overlay grid of links names each cell and jumps to the episode.
"""

from __future__ import annotations

import html

import cv2
import numpy as np

from demoforge.quality.assets import CONTACT_WIDTH, encode_b64
from demoforge.quality.runner import EpisodeResult
from demoforge.schemas.episode_layout import episode_index_of

COLUMNS = 16
QUALITY = 70


def _cell(img: np.ndarray | None, w: int, h: int, label: str) -> np.ndarray:
    cell = np.full((h, w, 3), 235, np.uint8)
    if img is not None:
        ih, iw = img.shape[:2]
        if (iw, ih) != (w, h):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        cell[:] = img
    # the episode number, white on a dark box, top-left
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_PLAIN, 0.8, 1)
    cell[: th + 4, : tw + 4] = (cell[: th + 4, : tw + 4] * 0.3).astype(np.uint8)
    cv2.putText(cell, label, (2, th + 1), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1, cv2.LINE_AA)
    return cell


def contact_sheet_html(episodes: list[EpisodeResult], anchors: dict[str, str]) -> str:
    """One labelled mosaic per camera; `anchors` maps files with a section in the page to its id."""
    cams = list(dict.fromkeys(c for e in episodes for c in e.first_frames))
    if not cams:
        return ""
    out = []
    for cam in cams:
        shapes = [e.first_frames[cam].shape for e in episodes if cam in e.first_frames]
        h = int(np.median([s[0] for s in shapes])) if shapes else CONTACT_WIDTH * 3 // 4
        w = CONTACT_WIDTH
        cols = min(COLUMNS, len(episodes))
        rows = -(-len(episodes) // cols)
        sheet = np.full((rows * h, cols * w, 3), 255, np.uint8)
        links = []
        for k, e in enumerate(episodes):
            r, c = divmod(k, cols)
            n = episode_index_of(e.file)
            sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = _cell(e.first_frames.get(cam), w, h, str(n))
            href = f' href="#{anchors[e.file]}"' if e.file in anchors else ""
            links.append(
                f'<a{href} title="{html.escape(e.file)} ({e.verdict})" class="{e.verdict}" '
                f'style="left:{c * w}px;top:{r * h}px;width:{w}px;height:{h}px"></a>'
            )
        out.append(
            f'<figure class="sheet"><figcaption>{html.escape(cam)}</figcaption><div class="sheetgrid" '
            f'style="width:{cols * w}px;height:{rows * h}px"><img alt="first frames of {html.escape(cam)}" '
            f'src="data:image/jpeg;base64,{encode_b64(sheet, QUALITY)}">{"".join(links)}</div></figure>'
        )
    return "".join(out)
