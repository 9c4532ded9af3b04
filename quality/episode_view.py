"""`demoforge view PATH`: an episode, a dataset or an evaluation's rollouts in the Rerun viewer, on one
timeline, with the quality findings and the split's trims as annotations (schemas/view_layout.py).

Episodes of a dataset follow one another on the `time` timeline; a finding is a text event at its
start (warning or error level) naming its span, a trim likewise under `trims`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from demoforge.schemas.dataset import REPORT_JSON, SPLITS, dataset_episodes
from demoforge.schemas.episode_layout import episode_number
from demoforge.schemas.episode_reader import EpisodeReader
from demoforge.schemas.errors import EpisodeError, UserError
from demoforge.schemas.view_layout import APP_ID, blueprint, import_rerun, log_tick, spawn_viewer

IMAGE_REDUCE = 2  # frames shown at half size: scrubbing stays light, and what a person checks shows
JPEG_QUALITY = 80


def episodes_of(path: Path) -> tuple[Path, list[Path]]:
    """(the dataset folder, its episode files) for an episode file, a dataset or an eval folder."""
    if path.is_file():
        return path.parent, [path]
    if (path / "eval.json").is_file() and (path / "rollouts").is_dir():
        path = path / "rollouts"
    return path, dataset_episodes(path)  # raises for a missing or empty folder


def _annotations(folder: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[list[float]]]]:
    """Findings per file from the report, trims per file from splits.json; empty where there is none."""
    import json

    findings: dict[str, list[dict[str, Any]]] = {}
    trims: dict[str, list[list[float]]] = {}
    try:
        report = json.loads((folder / REPORT_JSON).read_text())
        findings = {e["file"]: list(e.get("findings", [])) for e in report.get("episodes", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass  # no report (not checked yet) or an unreadable one: the data is shown without findings
    with contextlib.suppress(OSError, ValueError, AttributeError):  # not split yet: no trims
        trims = dict(json.loads((folder / SPLITS).read_text()).get("trim", {}))
    return findings, trims


def write_view(path: Path, rec: Any) -> dict[str, int]:
    """Log what `path` holds into the recording stream `rec`; returns ticks logged per episode file."""
    rr = import_rerun()
    folder, files = episodes_of(path)
    findings, trims = _annotations(folder)
    offset = 0.0
    logged: dict[str, int] = {}
    laid_out = False
    for f in files:
        try:
            ep = EpisodeReader(f)
        except EpisodeError as e:
            rec.set_time("time", duration=offset)
            rec.log(f"findings/integrity/{f.name}", rr.TextLog(e.message, level=rr.TextLogLevel.ERROR))
            continue
        with ep:
            n = episode_number(f.name) or 0
            names = ep.joint_names
            q, a, lead = ep.qpos, ep.action, ep.leader_qpos
            ts = ep.timestamps
            fps = ep.fps or 50.0
            times = ts if ts is not None and len(ts) == ep.length else [t / fps for t in range(ep.length)]
            cams = list(ep.image_shapes)
            if not laid_out:
                rec.send_blueprint(blueprint(rr, cams, names))
                laid_out = True
            for t in range(ep.length):
                log_tick(
                    rec,
                    rr,
                    episode=n,
                    tick=t,
                    time_s=offset + float(times[t]),
                    joint_names=names,
                    follower=q[t],
                    command=a[t],
                    leader=None if lead is None else lead[t],
                    images={c: ep.image(c, t, reduce=IMAGE_REDUCE) for c in cams},
                    jpeg_quality=JPEG_QUALITY,
                )
            for x in findings.get(f.name, []):
                level = rr.TextLogLevel.ERROR if x.get("severity") == "error" else rr.TextLogLevel.WARN
                rec.set_time("time", duration=offset + float(x.get("start_s", 0.0)))
                span = f"{x.get('start_s', 0):.2f}-{x.get('end_s', 0):.2f} s"
                rec.log(
                    f"findings/{x.get('check', '?')}",
                    rr.TextLog(f"{f.name} {span}: {x.get('message', '')}", level=level),
                )
            for a_s, b_s in trims.get(f.name, []):
                rec.set_time("time", duration=offset + float(a_s))
                rec.log("trims", rr.TextLog(f"{f.name} {a_s:.2f}-{b_s:.2f} s left out of training"))
            logged[f.name] = ep.length
            offset += float(times[-1]) + 1.0 / fps if ep.length else 0.0
    return logged


def view(path: Path, save: Path | None = None) -> dict[str, int]:
    """Open `path` in a Rerun viewer (spawned), or write it to `save` (.rrd) for another machine."""
    rr = import_rerun()
    rec = rr.RecordingStream(APP_ID, recording_id=None)
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        rec.save(str(save))
    else:
        try:
            spawn_viewer(rec)
        except UserError as e:  # no display, no viewer binary: the .rrd route always works
            raise UserError(e.message, "write a file instead: --save FILE.rrd") from None
    try:
        logged = write_view(path, rec)
        rec.flush()
    except RuntimeError as e:  # the viewer went away (closed, or it could not open a window)
        raise UserError(
            f"the Rerun viewer stopped taking data ({e})", "write a file instead: --save FILE.rrd"
        ) from None
    finally:
        rec.disconnect()
    return logged
