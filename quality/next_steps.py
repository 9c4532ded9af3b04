"""Why episodes fail and what to do next: incidents grouped by cause across the dataset, each with
one next step a curator can run (a command, a setting, or the episodes to re-record).

The checks' messages already say how to fix the thing itself ("check its USB link"); this module adds
what only the dataset knows: which episodes share the cause, and the command that gets them back
(`demoforge label`, `demoforge accept`, a threshold) or the list to re-record.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demoforge.quality.findings import ERROR, Finding, Severity
from demoforge.quality.incidents import (
    CAMERA_CHECKS,
    JOINT_CHECKS,
    Incident,
    group_incidents,
    incident_cameras,
)
from demoforge.quality.runner import EpisodeResult, Report
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas.curation import load_overrides
from demoforge.schemas.episode_layout import episode_index_of
from demoforge.schemas.errors import ConfigError

# Root causes a person may judge harmless for one episode: `demoforge accept` keeps it in training.
ACCEPTABLE = frozenset({"pause", "length_outlier", "joint_limit", "stall"})
MAX_LISTED = 12  # episodes named in one sentence before "and N more"


@dataclass
class Cause:
    """One root cause (a check, and the camera / joint / kind it concerns) across episodes."""

    check: str
    subject: str  # camera, joint or kind of the root finding ("" when the check has no subject)
    severity: Severity
    episodes: list[str] = field(default_factory=list)  # files, in dataset order
    incidents: list[tuple[str, Incident]] = field(default_factory=list)
    consequences: dict[str, int] = field(default_factory=dict)  # check id -> findings it explains
    example: str = ""  # one root finding's message
    mild_root: bool = False  # the root itself is only a warning: what it caused is what excludes
    seconds: float = 0.0  # recorded time of its episodes
    gain_s: float = 0.0  # usable time won back by fixing it: episodes excluded by this cause alone
    step: str = ""  # the next step; `backticks` mark commands and settings


@dataclass
class Summary:
    """The top of the report: usable time, failures by cause, warnings by cause, overrides in force."""

    recorded_s: float
    usable_s: float  # episodes kept (passing or accepted by an override), minus trimmed spans
    kept: int
    total: int
    failures: list[Cause]
    warnings: list[Cause]
    overrides: dict[str, dict[str, Any]]
    overrides_problem: str = ""  # a malformed overrides.json, said instead of crashing the report


SEVERAL_CAMERAS = "several cameras at once"


def subject_of(findings: list[Finding], inc: Incident) -> str:
    """What an incident's root is about, so that causes group per camera, per joint or per kind."""
    f = findings[inc.root]
    if f.check in CAMERA_CHECKS:
        cams = incident_cameras(findings, inc)
        if f.check != "camera_sync" and len(cams) > 1:
            return SEVERAL_CAMERAS
        return " / ".join(cams)
    if f.check in JOINT_CHECKS and isinstance(f.detail.get("joint"), str):
        return str(f.detail["joint"])
    if f.check == "success_label":
        label = f.detail.get("success", -1)
        return {0: "labelled failure", -1: "never labelled"}.get(label, "") if isinstance(label, int) else ""
    if f.check == "integrity":
        return "cut off" if f.detail.get("cut_off") else "not closed" if "complete" in f.detail else "damaged"
    kind = f.detail.get("kind")
    return str(kind) if isinstance(kind, str) else ""


def episodes_text(files: list[str]) -> str:
    nums = [str(episode_index_of(f)) for f in files]
    more = f" and {len(nums) - MAX_LISTED} more" if len(nums) > MAX_LISTED else ""
    return ", ".join(nums[:MAX_LISTED]) + more


def _fix(message: str) -> str:
    """The advice part of a check's message ("what; fix")."""
    return message.split("; ", 1)[1] if "; " in message else ""


def _accept(folder: str, c: Cause) -> str:
    checks = " ".join(f"--check {k}" for k in dict.fromkeys([c.check, *c.consequences]))
    n = episode_index_of(c.episodes[0])
    return f'`demoforge accept {folder} {n} {checks} --reason "..."`'


def next_step(c: Cause, folder: str, th: Thresholds) -> str:
    """The one thing to do about a cause, with the exact command where there is one."""
    eps = episodes_text(c.episodes)
    d = shlex.quote(folder)
    first = episode_index_of(c.episodes[0])
    if c.check == "success_label" and c.subject == "never labelled":
        nums = " ".join(str(episode_index_of(f)) for f in c.episodes)
        loop = f"`for i in {nums}; do demoforge label {d} $i success; done`"
        every = f"; to label all {len(c.episodes)} as successes: {loop}" if len(c.episodes) > 1 else ""
        return (
            f"watch and label: `demoforge label {d} {first} success` (or `failure`){every}; then run "
            f"`demoforge check {d}` again. If every recording of this dataset is a success: "
            f"`demoforge check {d} --allow-unlabelled`"
        )
    if c.check == "success_label":
        return (
            "nothing: failed demonstrations stay out of training. If one is mislabelled, "
            f"`demoforge label {d} {first} success`"
        )
    if c.check == "integrity" and c.subject == "cut off":
        return f"`demoforge recover {d}` keeps what was flushed before the crash; or re-record episodes {eps}"
    if c.severity != ERROR:
        return _fix(c.example) or "look at them; warnings never exclude an episode"
    if c.check == "near_duplicate":
        return (
            f"move episodes {eps} out of the dataset folder: each repeats an earlier episode (a copied "
            "file, a replayed recording, a scripted operator repeating itself), which would otherwise "
            "sit in train and val at once"
        )
    if c.subject == SEVERAL_CAMERAS:
        return (
            f"re-record episodes {eps} (several cameras lost frames at the same moment: the recording host "
            "or its USB bus stalled, not one camera; close other load on the host first)"
        )
    fix = _fix(c.example)
    if c.check in ACCEPTABLE:
        text = (
            f"if episode {first} is fine as it is{' (a deliberate wait)' if c.check == 'pause' else ''}, "
            f"keep it: {_accept(d, c)}; "
            f"otherwise re-record episodes {eps}"
        )
        if c.check == "pause" and "trim_pauses" in {f.name for f in dataclasses.fields(th)}:
            text += "; or set `trim_pauses = true` in a thresholds TOML to train without the pauses"
        return text + (f" ({fix})" if fix else "")
    if c.mild_root:  # e.g. a short loop stall, harmless itself, that made the cameras lose frames
        caused = ", ".join(c.consequences) or "errors"
        return f"re-record episodes {eps}: {c.check} is harmless alone, but here it caused {caused}"
    return f"re-record episodes {eps}" + (f" ({fix})" if fix else "")


def trimmed_s(e: EpisodeResult) -> float:
    """Seconds of the episode marked for trimming (findings with detail trim = true), overlaps merged."""
    spans = sorted((f.start_s, f.end_s) for f in e.findings if f.detail.get("trim") is True)
    total, end = 0.0, 0.0
    for a, b in spans:
        a = max(a, end)
        if b > a:
            total += b - a
            end = b
    return total


def kept_by_split(e: EpisodeResult, overrides: dict[str, dict[str, Any]]) -> bool:
    """As `demoforge split` decides: no error, or every error check accepted (integrity never is)."""
    accepted = set(overrides.get(e.file, {}).get("accept", [])) - {"integrity"}
    return all(f.check in accepted for f in e.findings if f.severity == ERROR)


def _one_step_each(findings: list[Finding], incidents: list[Incident]) -> list[Incident]:
    """The incidents an episode is listed under, so that it gets one piece of advice, not two that
    contradict: a damaged or cut-off file only under `integrity` (what else was found in it does not
    matter, it is re-recorded or recovered); an episode failing for another reason not under its missing
    label (labelling it would not make it usable)."""
    errors = {findings[i.root].check for i in incidents if i.severity == ERROR}
    if "integrity" in errors:
        drop = errors - {"integrity"}
    elif errors - {"success_label"}:
        drop = {"success_label"}
    else:
        return incidents
    return [i for i in incidents if not (i.severity == ERROR and findings[i.root].check in drop)]


def summarize(report: Report) -> Summary:
    """Usable time and causes, honouring the dataset's overrides.json when it has one."""
    try:
        overrides = load_overrides(report.dataset) if Path(report.dataset).is_dir() else {}
        problem = ""
    except ConfigError as err:
        overrides, problem = {}, f"{err.message} ({err.hint})"
    causes: dict[tuple[str, str, str], Cause] = {}
    for e in report.episodes:
        excluding: set[tuple[str, str, str]] = set()
        incidents = group_incidents(e.findings, e.duration_s)
        shown = _one_step_each(e.findings, incidents)
        for inc in shown:
            root = e.findings[inc.root]
            key = (inc.severity, root.check, subject_of(e.findings, inc))
            c = causes.setdefault(
                key,
                Cause(
                    root.check, key[2], inc.severity, example=root.message, mild_root=root.severity != ERROR
                ),
            )
            if e.file not in c.episodes:
                c.episodes.append(e.file)
                c.seconds += e.duration_s
            c.incidents.append((e.file, inc))
            for i in inc.consequences:
                k = e.findings[i].check
                c.consequences[k] = c.consequences.get(k, 0) + 1
            if inc.severity == ERROR:
                excluding.add(key)
        alone = len(shown) == len(incidents)  # gain: fixing this one cause alone makes it usable
        if alone and len(excluding) == 1 and not kept_by_split(e, overrides):
            causes[excluding.pop()].gain_s += e.duration_s - trimmed_s(e)
    for c in causes.values():
        c.step = next_step(c, report.dataset, report.thresholds)
    # what wins back the most training time first
    order = sorted(causes.values(), key=lambda c: (-c.gain_s, -len(c.episodes), c.check, c.subject))
    kept = [e for e in report.episodes if kept_by_split(e, overrides)]
    return Summary(
        recorded_s=sum(e.duration_s for e in report.episodes),
        usable_s=sum(e.duration_s - trimmed_s(e) for e in kept),
        kept=len(kept),
        total=len(report.episodes),
        failures=[c for c in order if c.severity == ERROR],
        warnings=[c for c in order if c.severity != ERROR],
        overrides={k: v for k, v in overrides.items() if any(e.file == k for e in report.episodes)},
        overrides_problem=problem,
    )
