"""`quality/report.html`: one self-contained page a curator acts on (inline SVG and JPEG, a little JS).

Top to bottom: why episodes fail and what to do next (causes, commands), what each check means with
its counts and thresholds, the dataset at a glance (histograms, first frames), the episode table,
then each flagged episode: its incidents, plots and the frames at each incident. Detailed sections
stop where the page reaches PAGE_BUDGET bytes, so a 500-episode report stays under 5 MB.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path

from demoforge.quality.check_catalog import CheckInfo, check_catalog, threshold_items
from demoforge.quality.contact_sheet import contact_sheet_html
from demoforge.quality.episode_table import EPISODES_CSV, episode_table
from demoforge.quality.findings import ERROR, Finding
from demoforge.quality.incidents import Incident, group_incidents, incident_cameras
from demoforge.quality.next_steps import Cause, Summary, summarize
from demoforge.quality.report_plots import (
    Span,
    dataset_histogram_svg,
    interval_svg,
    legend_html,
    trajectory_svg,
)
from demoforge.quality.runner import EpisodeResult, Report
from demoforge.schemas.dataset import REPORT_HTML
from demoforge.schemas.episode_layout import episode_index_of

PAGE_BUDGET = 4_500_000  # bytes of the whole page; flagged episodes beyond it are table rows only
OPEN_SECTIONS = 6  # flagged episodes shown unfolded; the rest open with a click
SHEET_OPEN_MAX = 64  # episodes: larger contact sheets start folded (they would push the table far down)

CSS = " ".join(
    [
        "body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1250px}",
        "h2{margin-top:1.4em;border-bottom:1px solid #ddd}",
        "table{border-collapse:collapse;margin:.5em 0}",
        "td,th{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}",
        "td.n,th.n{text-align:right}",
        'th.sort{cursor:pointer;user-select:none}th.sort:after{content:" \\2195";color:#aaa}',
        ".pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}",
        ".error{color:#cf222e}.warning{color:#9a6700}.muted{color:#777}.zero{color:#bbb}",
        "code{background:#f3f3f3;padding:1px 4px;border-radius:3px;font-size:12.5px}",
        ".big{font-size:20px;margin:.3em 0}",
        ".bar{height:10px;background:#f0d0d0;border-radius:5px;max-width:600px}",
        ".bar span{display:block;height:10px;background:#2da44e;border-radius:5px}",
        ".causes td:nth-child(4){max-width:560px}",
        ".ep{border:1px solid #ccc;border-radius:6px;padding:.3em 1em;margin:1em 0}",
        ".ep summary{cursor:pointer;font-size:16px;font-weight:600;padding:.3em 0}",
        ".badge{display:inline-block;border-radius:10px;padding:0 8px;margin:2px 4px 2px 0;font-size:12px}",
        ".badge.error{background:#ffebe9;border:1px solid #cf222e}",
        ".badge.warning{background:#fff8c5;border:1px solid #d4a72c;color:#6a4f00}",
        "ol.inc>li{margin:.3em 0}ul.cons{margin:.1em 0;color:#555}",
        ".plots{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}",
        ".legend{font-size:12px;max-width:760px}.legend div{margin:2px 0}",
        ".lg{display:inline-flex;align-items:center;gap:3px;margin-right:10px}",
        ".lg i{display:inline-block;width:12px;height:3px}",
        "svg{background:#fcfcfc;border:1px solid #eee}",
        ".frames{display:flex;flex-wrap:wrap;gap:8px}.frames figure{margin:0;font-size:12px}",
        "img.zoom{width:240px;cursor:zoom-in;border:1px solid #ccc}",
        ".sheet{display:inline-block;margin:0 12px 12px 0;font-size:12px}",
        ".sheetgrid{position:relative}.sheetgrid img{display:block}",
        ".sheetgrid a{position:absolute;box-sizing:border-box}.sheetgrid a.fail{border:2px solid #cf222e}",
        ".sheetgrid a:hover{outline:2px solid #0969da}",
        "#lb{display:none;position:fixed;inset:0;background:#000c;align-items:center;justify-content:center;"
        "flex-direction:column;z-index:9;cursor:zoom-out;color:#fff}",
        "#lb img{max-width:94vw;max-height:88vh;width:640px}",
    ]
)

# Sortable tables (numeric when both cells parse; data-v overrides the text) and the frame lightbox.
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
var lb=document.getElementById('lb');
document.addEventListener('click',function(ev){var t=ev.target;
 if(t.classList&&t.classList.contains('zoom')){lb.querySelector('img').src=t.src;
  lb.querySelector('p').textContent=t.alt;lb.style.display='flex';}
 else if(lb.contains(t)){lb.style.display='none';}});
"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _code(text: str) -> str:
    """Escape, then `backticks` -> <code> (the next steps mark commands and settings that way)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(text))


def _dur(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _anchor(file: str) -> str:
    return "ep-" + file.replace(".", "-")


def _num(n: int, cls: str = "") -> str:
    return f'<td class="n {cls if n else "zero"}">{n}</td>'


def _episode_links(files: list[str], anchors: dict[str, str], accepted: set[str]) -> str:
    out = []
    for f in files:
        n = str(episode_index_of(f))
        mark = ' <span class="pass" title="accepted by an override">&#10003;</span>' if f in accepted else ""
        out.append((f'<a href="#{anchors[f]}">{n}</a>' if f in anchors else n) + mark)
    return ", ".join(out)


def _cause_rows(
    causes: list[Cause], catalog: dict[str, CheckInfo], anchors: dict[str, str], accepted: set[str]
) -> str:
    rows = []
    for c in causes:
        cons = ", ".join(f"{k} &times;{n}" for k, n in c.consequences.items())
        meaning = catalog[c.check].finds if c.check in catalog else ""
        rows.append(
            f'<tr><td><b class="{c.severity}" title="{_e(meaning)}">{_e(c.check)}</b> {_e(c.subject)}'
            f'<br><span class="muted">{len(c.incidents)} incident(s)'
            f"{f'; also explains {cons}' if cons else ''}</span></td>"
            f"<td>{_episode_links(c.episodes, anchors, accepted)}</td>"
            f'<td class="n">{_dur(c.seconds)}</td>'
            f'<td class="n pass">{f"+{_dur(c.gain_s)}" if c.gain_s else ""}</td>'
            f'<td>{_code(c.step)}<br><span class="muted">e.g. {_code(c.example)}</span></td></tr>'
        )
    head = (
        "<tr><th>cause</th><th>episodes</th><th class=n>recorded</th>"
        '<th class=n title="usable time won back by fixing this cause: episodes it alone excludes">'
        "fixing it adds</th><th>next step</th></tr>"
    )
    return f'<table class="causes">{head}{"".join(rows)}</table>'


def _why(s: Summary, catalog: dict[str, CheckInfo], anchors: dict[str, str]) -> str:
    pct = 100 * s.usable_s / s.recorded_s if s.recorded_s else 0.0
    accepted = set(s.overrides)
    parts = [
        "<h2>Why and what next</h2>",
        f'<p class="big"><b>{_dur(s.usable_s)} usable</b> of {_dur(s.recorded_s)} recorded '
        f"({s.kept} of {s.total} episodes kept{' after your overrides' if s.overrides else ''}).</p>",
        f'<div class="bar"><span style="width:{pct:.1f}%"></span></div>',
    ]
    if s.failures:
        parts.append(
            "<h3>Failures by cause</h3><p class=muted>One row per root cause, what wins back the most "
            "training time first; findings that are its consequences (a stalled camera's stale frames "
            "and lag) are counted under it, not apart.</p>"
            f"{_cause_rows(s.failures, catalog, anchors, accepted)}"
        )
    else:
        parts.append('<p class="pass">No episode fails.</p>')
    if s.overrides:
        items = "".join(
            f"<li>{_e(f)}: accepts {_e(', '.join(o['accept']))}: &ldquo;{_e(o['reason'])}&rdquo;</li>"
            for f, o in s.overrides.items()
        )
        parts.append(f"<h3>Overrides in force (overrides.json)</h3><ul>{items}</ul>")
    if s.overrides_problem:
        parts.append(f'<p class="error">overrides.json was not read: {_e(s.overrides_problem)}</p>')
    if s.warnings:
        parts.append(
            f"<details><summary><b>Warnings by cause</b> ({len(s.warnings)}; they never exclude an "
            f"episode)</summary>{_cause_rows(s.warnings, catalog, anchors, accepted)}</details>"
        )
    return "".join(parts)


def _checks_table(report: Report, catalog: list[CheckInfo]) -> str:
    eps = report.episodes
    rows = []
    for c in catalog:
        err = sum(any(f.check == c.id and f.severity == ERROR for f in e.findings) for e in eps)
        warn = sum(
            any(f.check == c.id for f in e.findings)
            and not any(f.check == c.id and f.severity == ERROR for f in e.findings)
            for e in eps
        )
        reasons = Counter(e.skipped[c.id] for e in eps if c.id in e.skipped)
        skip = sum(reasons.values())
        why = f'<br><span class="muted">{_e(reasons.most_common(1)[0][0])}</span>' if reasons else ""
        skip_cls = "" if skip else ' class="zero"'

        th_text = " ".join(
            f'<code title="{_e(why)}">{_e(item)}</code>'
            for item, why in threshold_items(report.thresholds, c.thresholds)
        )
        rows.append(
            f'<tr><td><b>{_e(c.id)}</b></td><td class="{c.severity}">{c.severity}</td>'
            f"{_num(len(eps) - err - warn - skip, 'pass')}{_num(warn, 'warning')}{_num(err, 'error')}"
            f'<td class="n"><span{skip_cls}>{skip}</span>{why}</td><td>{_code(c.finds)}</td>'
            f"<td>{th_text}</td></tr>"
        )
    head = (
        "<tr><th>check</th><th>severity</th><th class=n>pass</th><th class=n>warning</th>"
        "<th class=n>error</th><th class=n>skipped (why)</th><th>what it checks</th><th>thresholds</th></tr>"
    )
    return (
        "<h2>Checks</h2><p class=muted>Episodes per outcome. An error excludes the episode from training; "
        "a warning never does; skipped means the file lacks what the check needs. Thresholds are set "
        "in a TOML passed with <code>demoforge check DIR --config t.toml</code>.</p>"
        f"<table>{head}{''.join(rows)}</table>"
    )


def _dataset_section(report: Report, table_df: object, anchors: dict[str, str]) -> str:
    import pandas as pd

    df = table_df if isinstance(table_df, pd.DataFrame) else pd.DataFrame()
    th = report.thresholds
    plots = []
    if not df.empty:
        ok = df[df["length"] > 0]
        med = float(ok["duration_s"].median()) if len(ok) else 0.0
        f = th.length_outlier_factor
        plots.append(
            dataset_histogram_svg(
                "episode length",
                ok["duration_s"].tolist(),
                "s",
                [(med / f, f"median/{f:g}"), (med * f, f"median×{f:g}")],
            )
        )
        sp = ok["mean_speed"].dropna()
        if len(sp):
            m, g = float(sp.median()), th.speed_outlier_factor
            plots.append(
                dataset_histogram_svg(
                    "mean joint speed",
                    sp.tolist(),
                    "rad/s",
                    [(m / g, f"median/{g:g}"), (m * g, f"median×{g:g}")],
                )
            )
        dev = ok["start_pose_dev"].dropna()
        if len(dev):
            plots.append(
                dataset_histogram_svg(
                    "start pose: distance from the task's usual start",
                    dev.tolist(),
                    "rad",
                    [(th.start_pose_rad, f"start_pose_rad {th.start_pose_rad:g}")],
                )
            )
    sheet = contact_sheet_html(report.episodes, anchors)
    unfold = " open" if len(report.episodes) <= SHEET_OPEN_MAX else ""
    first_frames = (
        f"<details{unfold}><summary><b>First frame of every episode</b> ({len(report.episodes)} "
        "episodes, one sheet per camera)</summary><p class=muted>A bumped camera or a change of light "
        "between recording days stands out; failing episodes are outlined red; hover for the name, "
        f"click to jump to a flagged episode.</p>{sheet}</details>"
    )
    return f'<h2>Dataset at a glance</h2><div class="plots">{"".join(plots)}</div>' + (
        first_frames if sheet else ""
    )


def _episode_table(report: Report, anchors: dict[str, str], incidents: dict[str, list[Incident]]) -> str:
    rows = []
    for e in report.episodes:
        n_err = sum(f.severity == ERROR for f in e.findings)
        ids = ", ".join(dict.fromkeys(f.check for f in e.findings))
        name = f'<a href="#{anchors[e.file]}">{_e(e.file)}</a>' if e.file in anchors else _e(e.file)
        rate = "" if e.rate_hz is None else f"{e.rate_hz:.1f}"
        rows.append(
            f'<tr><td data-v="{episode_index_of(e.file)}">{name}</td>'
            f'<td class="{e.verdict}">{e.verdict}</td><td class=n>{e.length}</td>'
            f"<td class=n>{e.duration_s:.2f}</td>"
            f"<td class=n>{rate}</td><td class=n>{'' if e.clamped_ticks is None else e.clamped_ticks}</td>"
            f"<td class=n>{len(incidents[e.file])}</td><td class=n>{n_err}</td>"
            f"<td class=n>{len(e.findings) - n_err}</td><td>{_e(ids)}</td></tr>"
        )
    cols = (
        "episode",
        "verdict",
        "length",
        "duration s",
        "rate Hz",
        "clamped ticks",
        "incidents",
        "errors",
        "warnings",
        "checks",
    )
    return (
        '<h2>Episodes</h2><p class="muted">Click a column to sort. The same table, with task, speed, start '
        f"pose and every recorded attribute: <code>{EPISODES_CSV}</code> "
        "(<code>pandas.read_csv</code>, or any spreadsheet).</p>"
        '<table class="sortable"><thead><tr>'
        + "".join(f'<th class="sort">{c}</th>' for c in cols)
        + f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _trimmed(f: Finding) -> str:
    return " (trimmed by split)" if f.detail.get("trim") is True else ""


def _incident_item(e: EpisodeResult, inc: Incident) -> str:
    root = e.findings[inc.root]
    cams = incident_cameras(e.findings, inc)
    several = f" on {len(cams)} cameras at once" if len(cams) > 1 and root.check != "camera_sync" else ""
    cons = "".join(
        f'<li><span class="{e.findings[i].severity}">{_e(e.findings[i].check)}</span> '
        f"{e.findings[i].start_s:.2f}-{e.findings[i].end_s:.2f} s{_trimmed(e.findings[i])}: "
        f"{_code(e.findings[i].message)}</li>"
        for i in inc.consequences
    )
    return (
        f'<li><b class="{inc.severity}">#{inc.number} {_e(root.check)}{several}</b> '
        f"{inc.start_s:.2f}-{inc.end_s:.2f} s{_trimmed(root)}: {_code(root.message)}"
        + (f'<ul class="cons"><li class=muted>in the same incident:</li>{cons}</ul>' if cons else "")
        + "</li>"
    )


def _episode_section(e: EpisodeResult, incidents: list[Incident], open_: bool) -> str:
    badges = "".join(
        f'<span class="badge {inc.severity}" title="{_e(e.findings[inc.root].message)}">'
        f"{_e(e.findings[inc.root].check)}"
        f"{f' +{len(inc.consequences)}' if inc.consequences else ''}</span>"
        for inc in incidents
        if not inc.is_moment(e.duration_s)
    )
    local = [inc for inc in incidents if inc.is_moment(e.duration_s)]

    parts = [
        f'<details class="ep" id="{_anchor(e.file)}"{" open" if open_ else ""}><summary>{_e(e.file)} '
        f'<span class="{e.verdict}">{e.verdict}</span> <span class="muted">{e.length} ticks, '
        f"{e.duration_s:.2f} s, {len(incidents)} incident(s)</span> {badges}</summary>",
        f'<ol class="inc">{"".join(_incident_item(e, inc) for inc in incidents)}</ol>',
    ]
    a = e.assets
    if a is not None:
        spans = [
            Span(inc.start_s, inc.end_s, f"#{inc.number}", e.findings[inc.root].message, inc.severity)
            for inc in local
        ] + [
            Span(f.start_s, f.end_s, "trimmed", f"trimmed by split: {f.message}", "trim")
            for f in e.findings
            if f.detail.get("trim") is True
        ]
        parts.append(
            '<div class="plots"><div>'
            + trajectory_svg(a, e.duration_s, spans)
            + legend_html(a)
            + "</div><div>"
            + "".join(interval_svg(cam, h) for cam, h in a.histograms.items())
            + "</div></div>"
        )
        number = {(e.findings[i.root].check, e.findings[i.root].start_s): i.number for i in incidents}
        for fr in a.frames:
            n = number.get((fr.root_check, fr.root_start_s), "?")
            figs = "".join(
                f'<figure><img class="zoom" loading="lazy" alt="{_e(e.file)} #{n} {_e(cam)} at '
                f'{fr.time_s:.2f} s (tick {fr.tick})" src="data:image/jpeg;base64,{b64}">'
                f"<figcaption>{_e(cam)}</figcaption></figure>"
                for cam, b64 in fr.jpegs.items()
            )
            parts.append(
                f"<p><b>#{n} {_e(fr.root_check)}</b> at {fr.time_s:.2f} s (tick {fr.tick}); "
                "click a frame to enlarge</p>"
                f'<div class="frames">{figs}</div>'
            )
    if e.skipped:
        parts.append(
            '<p class="muted">not checked: '
            + "; ".join(f"{_e(k)} ({_e(v)})" for k, v in sorted(e.skipped.items()))
            + "</p>"
        )
    return "".join(parts) + "</details>"


def render_html(report: Report) -> str:
    eps = report.episodes
    incidents = {e.file: group_incidents(e.findings, e.duration_s) for e in eps}
    summary = summarize(report)
    catalog = check_catalog()
    df = episode_table(report, summary.overrides)
    flagged = sorted(
        (e for e in eps if e.findings), key=lambda e: (e.verdict != "fail", episode_index_of(e.file) or 0)
    )

    def overview(anchors: dict[str, str]) -> list[str]:
        n_fail = sum(e.verdict == "fail" for e in eps)
        return [
            f"<h1>Quality report: {_e(report.dataset)}</h1>",
            f'<p class="muted">created {_e(report.created)} by <code>demoforge check</code>; '
            f"{len(eps)} episodes, "
            f"<span class=pass>{len(eps) - n_fail} pass</span>, <span class=fail>{n_fail} fail</span></p>",
            _why(summary, {c.id: c for c in catalog}, anchors),
            _checks_table(report, catalog),
            _dataset_section(report, df, anchors),
            _episode_table(report, anchors, incidents),
        ]

    # the overview always fits; flagged episodes' sections fill what is left of the budget, and the
    # overview links only to the sections that made it
    left = PAGE_BUDGET - sum(map(len, overview({e.file: _anchor(e.file) for e in flagged})))
    sections: list[str] = []
    anchors: dict[str, str] = {}
    for e in flagged:
        sec = _episode_section(e, incidents[e.file], len(sections) < OPEN_SECTIONS)
        if len(sec) > left:
            break
        sections.append(sec)
        anchors[e.file] = _anchor(e.file)
        left -= len(sec)
    more = len(flagged) - len(sections)
    body = [
        *overview(anchors),
        "<h2>Flagged episodes</h2><p class=muted>Errors first. Shaded spans on the plots are the numbered "
        "incidents (red: excludes, yellow: warning); hatched spans are trimmed by "
        "<code>demoforge split</code>; badges name findings about the whole episode, or spread over "
        "most of it.</p>",
        *sections,
        f'<p class="muted">{more} more flagged episodes are rows in the table and in report.json '
        "(left out here to keep this page small).</p>"
        if more > 0
        else "",
        "<details><summary>thresholds in use</summary>"
        f"<pre>{_e(json.dumps(report.thresholds.to_json(), indent=1))}"
        "</pre></details>",
        '<div id="lb"><img alt=""><p></p></div>',
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
