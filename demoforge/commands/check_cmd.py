"""`demoforge check DIR`: run the quality checks, write quality/report.json + report.html, summarize."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import Task as ProgressTask
from rich.table import Table
from rich.text import Text

from demoforge.quality import (
    CHECKS,
    ERROR,
    EpisodeResult,
    Report,
    Thresholds,
    check_dataset,
    load_thresholds,
    report_to_json,
    write_report_html,
    write_report_json,
)
from demoforge.quality.episode_table import write_episodes_csv
from demoforge.quality.incidents import group_incidents
from demoforge.quality.next_steps import summarize
from demoforge.schemas import episode_layout as L
from demoforge.schemas.episode_source import EpisodeRef, list_episodes, open_episode, resolve_dataset
from demoforge.schemas.errors import ConfigError, EpisodeError
from demoforge.schemas.joint_limits import JointLimits, load_limits, rig_limits, units_mismatch
from demoforge.schemas.writable import require_writable

NAME = "check"
HELP = "check every episode of a dataset; write quality/report.json, report.html and episodes.csv"
EXAMPLES = """examples:
  demoforge check data/pick_cube                       # summary table, report.json, report.html
  demoforge check data/pick_cube --jobs 4 --config thresholds.toml
  demoforge check data/sim_insertion --allow-unlabelled --json > report.json
  demoforge check data/pick_cube --fail-on error      # in CI: exit 1 when an episode fails
  demoforge check /shared/droid --engine ray --address auto   # on an existing Ray cluster (docs/scale.md)
  demoforge check ~/lerobot/aloha_sim_insertion_human --out checked/insertion   # a LeRobot dataset
  demoforge check ~/lerobot/koch_pick --limits koch_limits.toml   # joint limits in the dataset's units
  demoforge check /mnt/shared/pick_cube --out checked/pick_cube  # a dataset you may not write to
exit codes: 0 a report was written (verdicts are data, even if every episode fails), 1 with --fail-on
when an episode has a finding at that level (the report is still written), 2 bad input (path, config).
the checks and their thresholds: docs/quality-checks.md.
"""
FAILED_EXIT = 1  # --fail-on tripped; 2 is reserved for user errors (bad path, bad config)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dir", type=Path, help="dataset folder: episode_<i>.hdf5 files, or a LeRobot v3.0/v2.1 dataset"
    )
    p.add_argument(
        "--out",
        type=Path,
        help="write quality/report.json, report.html and episodes.csv under this folder instead of DIR "
        "(a read-only or shared dataset, a Hugging Face cache: DIR is then only read)",
    )
    p.add_argument(
        "--config", type=Path, help="thresholds TOML overriding the defaults (see quality/thresholds.py)"
    )
    p.add_argument(
        "--fps",
        type=float,
        help="rate of episode files without an fps attribute (plain ALOHA files; default 50, ALOHA's rate)",
    )
    limits = p.add_mutually_exclusive_group()
    limits.add_argument(
        "--rig",
        help="joint limits from a rig (a shipped rig name or a rig TOML file), in rad, matched by joint "
        "name: for datasets that record none (LeRobot, plain ALOHA files)",
    )
    limits.add_argument(
        "--limits",
        type=Path,
        metavar="FILE",
        help="joint limits TOML, `joint = [low, high]` per line in the dataset's units (docs/lerobot.md)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        help="episodes checked in parallel processes (default 1; with --engine ray and no --address: "
        "the local Ray instance's CPUs, default all of this machine's)",
    )
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: processes on this machine (default); ray: one Ray task per episode, on this machine or "
        "the cluster at --address (needs the `scale` extra; see docs/scale.md)",
    )
    p.add_argument(
        "--address",
        help="with --engine ray: an existing Ray cluster (HEAD_IP:6379, or `auto`); the dataset must lie "
        "on a path every node sees",
    )
    p.add_argument("--json", action="store_true", help="print report.json to stdout instead of the table")
    p.add_argument("--allow-unlabelled", action="store_true", help="do not fail episodes with success = -1")
    p.add_argument(
        "--unattended", action="store_true", help="plain progress lines, no bar (implied without a TTY)"
    )
    p.add_argument("--max-rows", type=int, default=40, help="episodes shown in the table before summarizing")
    p.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        help="exit 1 when any episode has a finding of this severity or worse (for CI pipelines)",
    )


def run(args: argparse.Namespace) -> int:
    folder: Path = resolve_dataset(args.dir)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs} must be at least 1", "use e.g. --jobs 4")
    if args.address and args.engine != "ray":
        raise ConfigError(f"--address {args.address} needs --engine ray", "add --engine ray")
    th = load_thresholds(args.config)
    if args.allow_unlabelled:
        th = dataclasses.replace(th, allow_unlabelled=True)
    if args.fps is not None:
        if not args.fps > 0:
            raise ConfigError(f"--fps {args.fps} is not a positive rate", "use e.g. --fps 50")
        th = dataclasses.replace(th, nominal_fps=args.fps)
    files = list_episodes(folder)  # raises for a missing or empty folder
    if args.rig or args.limits:
        th = dataclasses.replace(th, joint_limits=_given_limits(args, files[0]))
    out = args.out or folder
    require_writable(  # before checking: a dataset one may not write is one message, not a traceback
        out / "quality",
        "the report folder",
        f"check it with `--out DIR` (report.json, report.html and episodes.csv go to DIR/quality; "
        f"{folder} is only read)"
        if args.out is None
        else "choose another --out folder",
    )
    console = Console(stderr=args.json)
    report = _run_with_progress(folder, th, args, len(files), console)
    json_path = write_report_json(out, report)
    html_path = write_report_html(out, report)
    csv_path = write_episodes_csv(out, report, summarize(report).overrides)
    if args.json:
        json.dump(report_to_json(report), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print_summary(console, report, args.max_rows)
        console.print(f"wrote {escape(str(json_path))}, {escape(str(html_path))} and {escape(str(csv_path))}")
    return _exit_code(report, args.fail_on, console)


def _given_limits(args: argparse.Namespace, first: EpisodeRef) -> JointLimits:
    """`--rig` / `--limits`, fitted to the dataset's joints (its first episode) and its units."""
    if args.rig:
        from demoforge.collect.rigs import resolve_rig  # the rig files, not the drivers

        given = rig_limits(resolve_rig(args.rig), args.rig)
    else:
        given = load_limits(args.limits)
    try:
        with open_episode(first) as reader:
            names = list(reader.joint_names)
            data = [reader.array(n) for n in (L.QPOS, L.ACTION)]
    except EpisodeError:
        return given  # an unreadable first episode: its integrity finding says so, the others are fitted
    limits = given.fit(names, f"{first.name} of {args.dir}")
    for x in data:
        why = units_mismatch(limits, x, names, given.source)
        if why:
            raise ConfigError(
                f"{first.name} of {args.dir}: {why}", "write a limits file in the dataset's units"
            )
    return given


def _exit_code(report: Report, fail_on: str | None, console: Console) -> int:
    if fail_on is None:
        return 0
    levels = {ERROR} if fail_on == ERROR else {ERROR, "warning"}
    failed = [e.file for e in report.episodes if any(f.severity in levels for f in e.findings)]
    if not failed:
        return 0
    console.print(
        f"--fail-on {fail_on}: {len(failed)} episode(s) have {fail_on}s or worse "
        f"({', '.join(failed[:5])}{' ...' if len(failed) > 5 else ''}); exit {FAILED_EXIT}"
    )
    return FAILED_EXIT


def _run_with_progress(
    folder: Path, th: Thresholds, args: argparse.Namespace, total: int, console: Console
) -> Report:
    unattended = args.unattended or not sys.stdin.isatty() or not console.is_terminal
    if unattended:
        done = 0

        def line(r: EpisodeResult) -> None:
            nonlocal done
            done += 1
            print(f"checked {done}/{total} {r.file}: {r.verdict}", file=sys.stderr, flush=True)

        return check_dataset(folder, th, progress=line, **_engine(args))
    cols = (
        TextColumn("checking"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(),
        TextColumn("{task.fields[workers]}"),
        TimeRemainingColumn(),
    )
    with Progress(*cols, console=console, transient=True) as bar:
        task = bar.add_task("check", total=total, workers="")
        return check_dataset(
            folder,
            th,
            progress=lambda r: bar.advance(task),
            workers=lambda n: bar.update(task, workers=f"{n} worker{'s' * (n != 1)} busy"),
            **_engine(args),
        )


def _engine(args: argparse.Namespace) -> dict[str, Any]:
    if args.engine == "ray":  # no --jobs: the local Ray instance gets every CPU here
        return {"engine": "ray", "address": args.address, "jobs": args.jobs}
    return {"engine": "local", "jobs": args.jobs or 1}


class _Rate(ProgressColumn):
    """Episodes per second so far (rich's own speed columns count bytes)."""

    def render(self, task: ProgressTask) -> Text:
        return Text("" if task.speed is None else f"{task.speed:.1f} episodes/s")


def _findings_cell(e: EpisodeResult) -> str:
    """One entry per incident: its root cause, then what it explains ("frame_drop (+stale_frame)")."""
    cells = []
    for inc in sorted(group_incidents(e.findings, e.duration_s), key=lambda i: i.severity != ERROR):
        root = e.findings[inc.root]
        more = ", ".join(dict.fromkeys(e.findings[i].check for i in inc.consequences))
        color = "red" if inc.severity == ERROR else "yellow"
        cells.append(f"[{color}]{root.check}[/]{f' (+{more})' if more else ''}")
    counts = Counter(cells)
    return ", ".join(f"{c}{f' x{n}' if n > 1 else ''}" for c, n in counts.items())


def _print_causes(console: Console, report: Report) -> None:
    """Why episodes fail, grouped by root cause, with the next step for each (as report.html shows)."""
    summary = summarize(report)
    console.print(
        f"usable: {summary.usable_s / 60:.2f} of {summary.recorded_s / 60:.2f} min recorded "
        f"({summary.kept} of {summary.total} episodes kept)"
    )
    for c in summary.failures:
        subject = f" {c.subject}" if c.subject else ""
        eps = ", ".join(str(e.split("_")[-1].split(".")[0]) for e in c.episodes[:12])
        console.print(
            f"[red]{escape(c.check)}{escape(subject)}[/] in episodes {eps}"
            f"{' ...' if len(c.episodes) > 12 else ''}: {escape(c.step.replace('`', ''))}"
        )


def print_summary(console: Console, report: Report, max_rows: int) -> None:
    eps = report.episodes
    n_fail = sum(e.verdict == "fail" for e in eps)
    # 500 rows scroll away: beyond max_rows show failing ones first, then those with warnings
    shown = (
        eps
        if len(eps) <= max_rows
        else sorted((e for e in eps if e.findings), key=lambda e: e.verdict != "fail")[:max_rows]
    )
    table = Table(title=f"{report.dataset}: {len(eps) - n_fail} pass, {n_fail} fail")
    for col in ("episode", "verdict", "length", "duration s", "rate Hz", "findings"):
        table.add_column(col, justify="right" if col in ("length", "duration s", "rate Hz") else "left")
    for e in shown:
        table.add_row(
            e.file,
            "[green]pass[/]" if e.verdict == "pass" else "[red]fail[/]",
            str(e.length),
            f"{e.duration_s:.2f}",
            "-" if e.rate_hz is None else f"{e.rate_hz:.1f}",
            _findings_cell(e),
        )
    console.print(table)
    if len(shown) < len(eps):
        clean = sum(not e.findings for e in eps)
        console.print(
            f"{len(eps) - len(shown)} more episodes not shown ({clean} without findings); "
            "see report.html or --json"
        )
    per = Table(title="episodes per check")
    for col in ("check", "errors", "warnings", "skipped"):
        per.add_column(col, justify="left" if col == "check" else "right")
    for c in (check.id for check in CHECKS):
        err = sum(any(f.check == c and f.severity == ERROR for f in e.findings) for e in eps)
        warn = sum(any(f.check == c and f.severity != ERROR for f in e.findings) for e in eps)
        skip = [e.skipped[c] for e in eps if c in e.skipped]
        why = f" ({escape(Counter(skip).most_common(1)[0][0])})" if skip else ""
        if err or warn or skip:
            per.add_row(c, str(err or ""), str(warn or ""), f"{len(skip)}{why}" if skip else "")
    if per.row_count:
        console.print(per)
    for f in report.dataset_findings:
        color = "red" if f.severity == ERROR else "yellow"
        console.print(f"[{color}]{escape(f.check)}[/]: {escape(f.message)}")
    _print_causes(console, report)
