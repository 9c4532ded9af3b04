"""Incidents: the findings of one episode that are consequences of one event, under their root cause.

A camera that stalls for 0.15 s shows up as its frame_drop, its lag behind the other cameras
(camera_sync) and the old frames the loop kept using (stale_frame): three findings, one event, one
fix. Two findings belong to one incident when their spans overlap (within `SLACK_S`) and they concern
the same thing: a camera, a joint, the control loop (which every camera's timing depends on), or a
file corrupt there (everything read from a corrupt span is suspect). The same camera check firing on
several cameras at one moment is one incident too: the host or the recorder stalled, not each camera.
A few whole-episode findings are known consequences of another (a file cut off by a crash is also too
short). The finding whose check comes first in `CAUSE_ORDER` names the incident's root cause.

Pure functions over findings: the report, report.json and the console summary all group the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from demoforge.quality.findings import ERROR, Finding, Severity

SLACK_S = 0.1  # spans this close count as one event (a drop ends a tick before the stale frames do)
# A control-loop finding explains camera gaps only when it is a moment (a stall, a burst of overruns);
# overruns scattered over the whole episode would otherwise swallow every unrelated camera incident.
LOOP_MOMENT_S = 1.0
SPREAD_FRACTION = 0.5  # an incident over more of the episode than this is about the episode, not a moment

# Most fundamental first: a loop stall explains camera gaps; a lost frame explains the stale frame
# used in its place and the lag behind the other cameras; a spike explains the limit it crossed.
CAUSE_ORDER = (
    "integrity",
    "control_rate",
    "frame_drop",
    "camera_rate",
    "frozen_frame",
    "stale_frame",
    "camera_sync",
    "dark_frame",
    "dead_joint",
    "stall",
    "action_spike",
    "tracking_error",
    "joint_limit",
    "idle",
    "pause",
    "short_episode",
    "length_outlier",
    "speed_outlier",
    "near_duplicate",
    "start_pose",
    "camera_settings",
    "success_label",
)
CAMERA_CHECKS = frozenset(
    {"frame_drop", "camera_rate", "frozen_frame", "stale_frame", "camera_sync", "dark_frame"}
)
JOINT_CHECKS = frozenset({"dead_joint", "stall", "action_spike", "tracking_error", "joint_limit"})
# Whole-episode findings that follow from another whole-episode finding: (cause, consequence).
WHOLE_CONSEQUENCES = frozenset(
    {
        ("integrity", "length_outlier"),
        ("integrity", "short_episode"),
        ("short_episode", "length_outlier"),
        ("control_rate", "speed_outlier"),
    }
)


@dataclass(frozen=True)
class Incident:
    """One cause: its root finding, the findings it explains, and the span they cover together."""

    number: int  # 1, 2, ... in order of time within the episode
    root: int  # index of the root-cause finding in the episode's findings
    consequences: tuple[int, ...]  # indices of the findings it explains, in order of time
    start_s: float
    end_s: float
    severity: Severity  # the worst of its findings: an error incident excludes the episode
    whole: bool  # about the whole episode (a label, an outlier), not a moment in it

    @property
    def members(self) -> tuple[int, ...]:
        return (self.root, *self.consequences)

    def is_moment(self, duration_s: float) -> bool:
        """A moment worth a shaded span and frames, not the whole episode or most of it (overruns)."""
        return not self.whole and self.end_s - self.start_s <= SPREAD_FRACTION * duration_s


def incident_id(file: str, number: int) -> str:
    """The `incident` value report.json carries: unique across the report, e.g. "episode_3#2"."""
    return f"{file.rsplit('.', 1)[0]}#{number}"


def is_whole(f: Finding, duration_s: float) -> bool:
    """A finding about the whole episode: it starts at 0 and ends at the episode's end."""
    return f.start_s <= 1e-6 and f.end_s >= duration_s - 1e-6 and "ticks" not in f.detail


def cameras_of(f: Finding) -> set[str]:
    cams: Any = f.detail.get("cameras", [])
    out = {str(c) for c in cams} if isinstance(cams, list) else set()
    if isinstance(f.detail.get("camera"), str):
        out.add(f.detail["camera"])
    return out


def incident_cameras(findings: list[Finding], inc: Incident) -> list[str]:
    """The cameras the root's check names across the incident (several: a stall of the whole host)."""
    root = findings[inc.root]
    cams = {c for i in inc.members if findings[i].check == root.check for c in cameras_of(findings[i])}
    return sorted(cams)


def joint_of(f: Finding) -> str | None:
    j = f.detail.get("joint")
    return str(j) if isinstance(j, str | int) else None


def _rank(f: Finding) -> int:
    return CAUSE_ORDER.index(f.check) if f.check in CAUSE_ORDER else len(CAUSE_ORDER)


def _overlap(a: Finding, b: Finding) -> bool:
    return a.start_s <= b.end_s + SLACK_S and b.start_s <= a.end_s + SLACK_S


def _related(a: Finding, b: Finding, whole_a: bool, whole_b: bool) -> bool:
    """Whether one event plausibly explains both findings."""
    if whole_a or whole_b:
        if whole_a and whole_b:
            return (a.check, b.check) in WHOLE_CONSEQUENCES or (b.check, a.check) in WHOLE_CONSEQUENCES
        # a steady calibration offset (whole episode) explains the moments a joint crosses its limit
        pair = {a.check, b.check}
        return (
            pair == {"tracking_error", "joint_limit"}
            and joint_of(a) is not None
            and joint_of(a) == joint_of(b)
        )
    if not _overlap(a, b):
        return False
    if a.check == "integrity" or b.check == "integrity":
        return True  # values read from a corrupt span trip other checks
    if a.check == b.check:
        if a.check in CAMERA_CHECKS:
            return True  # several cameras losing frames at one moment: the host stalled, not a camera
        return joint_of(a) is not None and joint_of(a) == joint_of(b)
    camera_like = CAMERA_CHECKS | {"control_rate"}
    if a.check in camera_like and b.check in camera_like:
        # a control-loop stall shows as a gap in every camera; otherwise the camera must be the same
        if "control_rate" in (a.check, b.check):
            loop = a if a.check == "control_rate" else b
            return loop.end_s - loop.start_s <= LOOP_MOMENT_S
        return (cameras_of(a) & cameras_of(b)) != set()
    if a.check in JOINT_CHECKS and b.check in JOINT_CHECKS:
        return joint_of(a) is not None and joint_of(a) == joint_of(b)
    return False


def group_incidents(findings: list[Finding], duration_s: float) -> list[Incident]:
    """Group one episode's findings into incidents; every finding lands in exactly one."""
    n = len(findings)
    whole = [is_whole(f, duration_s) for f in findings]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if find(i) != find(j) and _related(findings[i], findings[j], whole[i], whole[j]):
                parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    drafts = []
    for members in groups.values():
        root = min(members, key=lambda i: (_rank(findings[i]), findings[i].start_s, i))
        rest = sorted((i for i in members if i != root), key=lambda i: (findings[i].start_s, i))
        fs = [findings[i] for i in members]
        sev: Severity = ERROR if any(f.severity == ERROR for f in fs) else fs[0].severity
        drafts.append(
            (
                min(f.start_s for f in fs),
                root,
                tuple(rest),
                max(f.end_s for f in fs),
                sev,
                all(whole[i] for i in members),
            )
        )
    drafts.sort(key=lambda d: (d[5], d[0], d[1]))  # moments in time order, then whole-episode ones
    return [
        Incident(k, root, rest, start, end, sev, w)
        for k, (start, root, rest, end, sev, w) in enumerate(drafts, start=1)
    ]


def incident_of_findings(incidents: list[Incident], n: int) -> list[int]:
    """For each of `n` findings, the number of the incident it belongs to."""
    out = [0] * n
    for inc in incidents:
        for i in inc.members:
            out[i] = inc.number
    return out
