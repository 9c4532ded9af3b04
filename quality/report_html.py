"""`quality/report.html`: one self-contained page (inline SVG and JPEG, a few lines of JS for sorting).

Only flagged episodes get plots and thumbnails, so a 500-episode report stays a few MB.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from pathlib import Path

import numpy as np

from demoforge.quality.assets import EpisodeAssets
from demoforge.quality.checks import CHECKS
from demoforge.quality.findings import ERROR, Finding
from demoforge.quality.runner import EpisodeResult, Report
from demoforge.schemas.dataset import REPORT_HTML

MAX_DETAILED = 150  # flagged episodes with plots (errors first); the rest are rows in the table only
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)

CSS = " ".join(
    [
        "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}",
        "table{border-collapse:collapse;margin:.5em 0}",
        "td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}",
        'th.sort{cursor:pointer;user-select:none}th.sort:after{content:" \\2195";color:#aaa}',
        ".pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}",
        ".error{color:#cf222e}.warning{color:#9a6700}",
        ".ep{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0}.ep h3{margin:.2em 0}",
        ".thumbs{display:flex;flex-wrap:wrap;gap:6px}",
        ".thumbs figure{margin:0;font-size:11px;text-align:center}",
        ".plots{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}",
        "svg{background:#fafafa;border:1px solid #eee}.muted{color:#777}",
    ]
)

# Click a header to sort by it (numeric when both cells parse as numbers); data-v overrides the text.
JS = """
function cellv(r,i){var c=r.cells[i];return c.dataset.v||c.textContent;}
document.querySelectorAll('table.sortable th.sort').forEach(function(th){
 th.addEventListener('click',function(){
  var t=th.closest('table'),b=t.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th);
  var asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';
  var rows=Array.prototype.slice.call(b.rows);
  rows.sort(function(x,y){var a=cellv(x,i),c=cellv(y,i),na=parseFloat(a),nc=parseFloat(c);
   var r=(!isNaN(na)&&!isNaN(nc))?na-nc:a.localeCompare(c);return asc?r:-r;});
  rows.forEach(function(r){b.appendChild(r);});});});
"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _anchor(file: str) -> str:
    return "ep-" + file.replace(".", "-")


def _trajectory_svg(a: EpisodeAssets, findings: list[Finding], duration: float) -> str:
    w, h, pad = 720, 180, 4
    if a.qpos.size == 0 or duration <= 0:
        return ""
    lo, hi = float(np.min(a.qpos)), float(np.max(a.qpos))
    hi = hi if hi > lo else lo + 1.0
    sx = (w - 2 * pad) / duration
    sy = (h - 2 * pad) / (hi - lo)
    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img">']
    for f in findings:
        x0 = pad + f.start_s * sx
        width = max((f.end_s - f.start_s) * sx, 2.0)
        color = "#cf222e" if f.severity == ERROR else "#d4a72c"
        parts.append(
            f'<rect x="{x0:.1f}" y="0" width="{width:.1f}" height="{h}" fill="{color}" opacity="0.18">'
            f"<title>{_e(f.check)} {f.start_s:.2f}-{f.end_s:.2f} s</title></rect>"
        )
    xs = pad + a.times * sx
    for j in range(a.qpos.shape[1]):
        ys = h - pad - (a.qpos[:, j] - lo) * sy
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        name = a.joint_names[j] if j < len(a.joint_names) else f"joint_{j}"
        parts.append(
            f'<polyline fill="none" stroke="{PALETTE[j % len(PALETTE)]}" stroke-width="1" points="{pts}">'
            f"<title>{_e(name)}</title></polyline>"
        )
    parts.append(
        f'<text x="{pad}" y="12" font-size="10">{hi:.2f}</text>'
        f'<text x="{pad}" y="{h - 6}" font-size="10">{lo:.2f}</text>'
        f'<text x="{w - 60}" y="{h - 6}" font-size="10">{duration:.1f} s</text></svg>'
    )
    return "".join(parts)


def _histogram_svg(cam: str, edges: list[float], counts: list[int]) -> str:
    w, h, n = 240, 90, len(counts)
    top = max(max(counts), 1)
    bw = (w - 10) / n
    bars = "".join(
        f'<rect x="{5 + i * bw:.1f}" y="{h - 15 - c / top * (h - 30):.1f}" width="{bw - 1:.1f}" '
        f'height="{c / top * (h - 30):.1f}" fill="{"#cf222e" if i == n - 1 else "#1f77b4"}">'
        f"<title>{min(edges[i], edges[-1]):.0f}{'+' if i == n - 1 else ''} ms: {c}</title></rect>"
        for i, c in enumerate(counts)
    )
    return (
        f'<svg width="{w}" height="{h}" role="img"><text x="5" y="12" font-size="11">{_e(cam)}: frame '
        f'interval (ms)</text>{bars}<text x="5" y="{h - 2}" font-size="10">0</text>'
        f'<text x="{w - 40}" y="{h - 2}" font-size="10">{edges[-1]:.0f}+</text></svg>'
    )


def _findings_table(e: EpisodeResult) -> str:
    rows = "".join(
        f'<tr><td class="{f.severity}">{_e(f.check)}</td><td class="{f.severity}">{f.severity}</td>'
        f"<td>{f.start_s:.2f}-{f.end_s:.2f} s{' (trimmed)' if f.detail.get('trim') else ''}</td>"
        f"<td>{_e(f.message)}</td></tr>"
        for f in e.findings
    )
    return f"<table><tr><th>check</th><th>severity</th><th>span</th><th>message</th></tr>{rows}</table>"


def _episode_section(e: EpisodeResult) -> str:
    parts = [
        f'<div class="ep" id="{_anchor(e.file)}"><h3>{_e(e.file)} <span class="{e.verdict}">{e.verdict}'
        f'</span> <span class="muted">{e.length} ticks, {e.duration_s:.2f} s</span></h3>',
        _findings_table(e),
    ]
    a = e.assets
    if a is not None:
        parts.append('<div class="plots">' + _trajectory_svg(a, e.findings, e.duration_s))
        parts += [_histogram_svg(cam, edges, counts) for cam, (edges, counts) in a.histograms.items()]
        parts.append("</div>")
        if a.thumbs:
            figs = "".join(
                f'<figure><img alt="{_e(t.cam)} tick {t.tick}" src="data:image/jpeg;base64,{t.jpeg_b64}">'
                f"<figcaption>{_e(t.cam)} {t.time_s:.2f} s<br>"
                f"{_e(e.findings[t.finding].check)}</figcaption></figure>"
                for t in a.thumbs
            )
            parts.append(f'<div class="thumbs">{figs}</div>')
    if e.skipped:
        parts.append(
            '<p class="muted">not checked: '
            + "; ".join(f"{_e(k)} ({_e(v)})" for k, v in sorted(e.skipped.items()))
            + "</p>"
        )
    return "".join(parts) + "</div>"


def render_html(report: Report) -> str:
    eps = report.episodes
    n_fail = sum(e.verdict == "fail" for e in eps)
    err: Counter[str] = Counter()
    warn: Counter[str] = Counter()
    skip: Counter[str] = Counter()
    for e in eps:
        err.update({f.check for f in e.findings if f.severity == ERROR})
        warn.update({f.check for f in e.findings if f.severity != ERROR})
        skip.update(e.skipped.keys())  # count episodes per skipped check (the values are reasons)
    checks = "".join(
        f'<tr><td title="{_e(c.finds)}">{c.id}</td><td class="{c.severity}">{c.severity}</td>'
        f"<td>{err[c.id] or ''}</td><td>{warn[c.id] or ''}</td><td>{skip[c.id] or ''}</td></tr>"
        for c in CHECKS
    )
    flagged = sorted((e for e in eps if e.findings), key=lambda e: e.verdict != "fail")
    detailed = {e.file for e in flagged[:MAX_DETAILED]}
    rows = []
    for e in eps:
        n_err = sum(f.severity == ERROR for f in e.findings)
        ids = ", ".join(dict.fromkeys(f.check for f in e.findings))
        name = f'<a href="#{_anchor(e.file)}">{_e(e.file)}</a>' if e.file in detailed else _e(e.file)
        rate = "" if e.rate_hz is None else f"{e.rate_hz:.1f}"
        clamped = "" if e.clamped_ticks is None else str(e.clamped_ticks)
        rows.append(
            f'<tr><td data-v="{e.file.split("_")[-1].split(".")[0]}">{name}</td>'
            f'<td class="{e.verdict}">{e.verdict}</td><td>{e.length}</td><td>{e.duration_s:.2f}</td>'
            f"<td>{rate}</td><td>{clamped}</td><td>{n_err}</td><td>{len(e.findings) - n_err}</td>"
            f"<td>{_e(ids)}</td></tr>"
        )
    ds_findings = "".join(
        f'<li class="{f.severity}">{_e(f.check)}: {_e(f.message)}</li>' for f in report.dataset_findings
    )
    more = len(flagged) - len(detailed)
    body = [
        f"<h1>Quality report: {_e(report.dataset)}</h1>",
        f'<p class="muted">created {_e(report.created)} by <code>demoforge check</code></p>',
        f"<p><b>{len(eps)}</b> episodes, <span class=pass>{len(eps) - n_fail} pass</span>, "
        f"<span class=fail>{n_fail} fail</span>, {sum(e.duration_s for e in eps) / 60:.1f} min recorded.</p>",
        "<h2>Checks</h2><table><tr><th>check</th><th>severity</th><th>episodes with errors</th>"
        "<th>with warnings</th>"
        f"<th>skipped</th></tr>{checks}</table>",
        f"<h2>Dataset findings</h2><ul>{ds_findings or '<li>none</li>'}</ul>",
        '<h2>Episodes</h2><p class="muted">click a column to sort</p><table class="sortable"><thead><tr>'
        + "".join(
            f'<th class="sort">{c}</th>'
            for c in (
                "episode",
                "verdict",
                "length",
                "duration s",
                "rate Hz",
                "clamped ticks",
                "errors",
                "warnings",
                "findings",
            )
        )
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>",
        "<h2>Flagged episodes</h2>",
        *(_episode_section(e) for e in flagged[:MAX_DETAILED]),
        f'<p class="muted">{more} more flagged episodes are listed in the table and in report.json.</p>'
        if more > 0
        else "",
        f"<details><summary>thresholds</summary><pre>{_e(json.dumps(report.thresholds.to_json(), indent=1))}"
        "</pre></details>",
    ]
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>quality: {_e(report.dataset)}'
        f"</title><style>{CSS}</style></head><body>{''.join(body)}<script>{JS}</script></body></html>\n"
    )


def write_report_html(folder: str | Path, report: Report) -> Path:
    path = Path(folder) / REPORT_HTML
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(path)
    return path
