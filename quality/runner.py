"""Run every check over a dataset folder: episodes in parallel processes, then the dataset checks."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from demoforge.quality.assets import EpisodeAssets, first_frames, gather_assets
from demoforge.quality.checks import CHECK_IDS, DATASET_CHECKS, EPISODE_CHECKS, EpisodeCheck
from demoforge.quality.checks_dataset import TRACE_POINTS, DatasetCheck, EpisodeSummary
from demoforge.quality.checks_format import source_findings
from demoforge.quality.checks_motion import mean_speed
from demoforge.quality.checks_operator import clamped_ticks
from demoforge.quality.episode import Episode
from demoforge.quality.findings import ERROR, CheckSkipped, Finding
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L
from demoforge.schemas.dataset import utc_now
from demoforge.schemas.episode_source import AnyEpisodeReader, EpisodeRef, list_episodes, open_episode
from demoforge.schemas.errors import EpisodeError
from demoforge.schemas.splits import file_fingerprint

_JSON_ATTRS = {"joint_names", "joint_limits", "cameras", "loop_stats"}  # structures, not stratification keys


@dataclass
class EpisodeResult:
    """One episode's outcome: the report row plus what the dataset checks and the HTML need."""

    file: str
    fingerprint: dict[str, int]  # size + mtime_ns: cheap proof the file did not change since the check
    length: int
    duration_s: float
    rate_hz: float | None
    findings: list[Finding]
    skipped: dict[str, str]
    attrs: dict[str, Any]  # scalar root attributes (task, operator, ...): what `split --stratify-by` reads
    summary: EpisodeSummary
    assets: EpisodeAssets | None = None
    clamped_ticks: int | None = None  # ticks where the teleop clamp fired (None: not recorded)
    first_frames: dict[str, np.ndarray] = field(default_factory=dict)  # cam -> tiny RGB (contact sheet)
    episode_index: int | None = None  # LeRobot sources: the episode's episode_index

    @property
    def verdict(self) -> str:
        return "fail" if any(f.severity == ERROR for f in self.findings) else "pass"


@dataclass
class Report:
    dataset: str
    thresholds: Thresholds
    episodes: list[EpisodeResult]
    dataset_findings: list[Finding] = field(default_factory=list)
    created: str = field(default_factory=utc_now)


def _unreadable(path: Path, fp: dict[str, int], e: EpisodeError, index: int | None = None) -> EpisodeResult:
    problem = e.message.replace(str(path), path.name)
    msg = f"{problem} ({e.hint}); restore the file from a copy or re-record the episode"
    reason = "episode unreadable (see integrity)"
    return EpisodeResult(
        path.name,
        fp,
        0,
        0.0,
        None,
        [Finding("integrity", ERROR, 0.0, 0.0, msg)],
        {c: reason for c in CHECK_IDS if c != "integrity"},
        {},
        EpisodeSummary(path.name, False),
        episode_index=index,
    )


def _run_checks(
    ep: Episode, th: Thresholds, path: Path, findings: list[Finding], skipped: dict[str, str]
) -> None:
    """Each per-episode check in turn; a check that cannot run leaves its reason in `skipped`."""
    for check in EPISODE_CHECKS:
        cid = check.id
        if ep.length == 0 and cid != "integrity":
            skipped[cid] = "episode has no ticks"
            continue
        if cid in ep.not_recorded:  # the format never recorded what the check needs
            skipped[cid] = f"not checked: {ep.not_recorded[cid]}"
            continue
        try:
            findings.extend(cast(EpisodeCheck, check.run)(ep, th))
        except CheckSkipped as s:
            skipped[cid] = str(s)
        except EpisodeError as e:  # a dataset that opened but cannot be read back
            findings.append(ep.whole("integrity", e.message.replace(str(path), path.name)))
            skipped[cid] = "data unreadable (see integrity)"


def check_episode(source: str | Path | EpisodeRef, th: Thresholds) -> EpisodeResult:
    """Run every per-episode check on one episode. A damaged one yields an integrity finding, never raises."""
    ref = source if isinstance(source, EpisodeRef) else EpisodeRef(Path(source).name, Path(source))
    path = ref.path / ref.name if ref.is_lerobot else ref.path
    index = ref.episode_index
    fp = {} if ref.is_lerobot else file_fingerprint(path)
    try:
        reader = open_episode(ref)
    except EpisodeError as e:
        return _unreadable(path, fp, e, index)
    fp = _fingerprint(reader, path)
    with reader:
        try:
            ep = Episode(reader, th)
        except EpisodeError as e:
            return _unreadable(path, fp, e, index)
        findings: list[Finding] = []
        skipped: dict[str, str] = {}
        with np.errstate(all="ignore"):  # damaged files hold garbage values; the checks report them
            _run_checks(ep, th, path, findings, skipped)
        unique = {(f.check, f.start_s, f.end_s, f.message): f for f in findings}
        findings = sorted(unique.values(), key=lambda f: (f.start_s, f.check))
        # plots and thumbnails only for flagged episodes; run_dataset_checks adds them for episodes
        # that only the dataset checks flag
        try:
            assets = gather_assets(ep, findings) if ep.length and findings else None
            q, speed, trace = ep.raw(L.QPOS), mean_speed(ep), _trace(ep)
        except EpisodeError:  # already reported by the check that hit it
            assets, q, speed, trace = None, None, None, None
        firsts = first_frames(ep)
        rate = _rate(ep)
        summary = EpisodeSummary(
            path.name,
            True,
            ep.length,
            ep.duration,
            speed,
            q[0].astype(float).tolist()
            if ep.length and q is not None and L.QPOS not in ep.nonfinite
            else None,
            reader.joint_names,
            _camera_settings(reader),
            str(reader.attrs.get("task", "")),
            trace,
            firsts or None,
            _digest(ep),
        )
        attrs = {
            k: v
            for k, v in reader.attrs.items()
            if k not in _JSON_ATTRS and isinstance(v, str | int | float | bool) and len(str(v)) <= 200
        }
        clamped = clamped_ticks(ep)
        result = EpisodeResult(
            path.name, fp, ep.length, ep.duration, rate, findings, skipped, attrs, summary, assets, clamped
        )
        result.first_frames = firsts
        result.episode_index = index
        return result


def _fingerprint(reader: AnyEpisodeReader, path: Path) -> dict[str, int]:
    """Size + mtime of the file the episode's rows are in (a LeRobot episode: its data parquet)."""
    data = getattr(getattr(reader, "meta", None), "data_file", None)
    return file_fingerprint(data if data is not None else path)


def _digest(ep: Episode) -> str:
    """A hash of the joint data: two episodes share it only when they are copies of each other."""
    h = hashlib.sha1(usedforsecurity=False)
    for name in (L.QPOS, L.ACTION, L.LEADER_QPOS):
        try:
            a = ep.raw(name)
        except EpisodeError:
            return ""
        if a is not None:
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _trace(ep: Episode) -> np.ndarray | None:
    """The operator's trajectory resampled to TRACE_POINTS ticks, for the near-duplicate comparison."""
    try:
        x, _ = ep.operator()
    except CheckSkipped:
        return None
    if ep.length < 2 or not np.isfinite(x).all():
        return None
    at = np.linspace(0, ep.length - 1, TRACE_POINTS)
    i0 = np.minimum(at.astype(int), ep.length - 2)
    frac = (at - i0)[:, None]
    return (x[i0] * (1 - frac) + x[i0 + 1] * frac).astype(np.float32)  # linear interpolation


def _rate(ep: Episode) -> float | None:
    if (
        ep.has_timestamps
        and L.TIMESTAMPS not in ep.nonfinite
        and ep.length > 1
        and ep.times[-1] > ep.times[0]
    ):
        return float((ep.length - 1) / (ep.times[-1] - ep.times[0]))
    hz = ep.reader.loop_stats.get("achieved_hz")
    return float(hz) if isinstance(hz, int | float) else None


def _camera_settings(reader: AnyEpisodeReader) -> dict[str, dict[str, Any]]:
    info = reader.camera_info
    out: dict[str, dict[str, Any]] = {}
    for cam in reader.cameras:
        c = {k: v for k, v in info.get(cam, {}).items() if k != "name"}
        shape = reader.image_shapes.get(cam, ())
        c["stored"] = "jpeg" if len(shape) == 1 else "x".join(map(str, shape))
        out[cam] = c
    return out


def check_dataset(
    folder: str | Path,
    thresholds: Thresholds | None = None,
    *,
    jobs: int = 1,
    progress: Callable[[EpisodeResult], None] | None = None,
) -> Report:
    """Check every episode of a dataset folder (`jobs` processes), then the dataset-level checks."""
    th = thresholds or Thresholds()
    folder = Path(folder)
    files = list_episodes(folder)
    results: dict[str, EpisodeResult] = {}
    if jobs <= 1 or len(files) == 1:
        for f in files:
            results[f.name] = r = check_episode(f, th)
            if progress:
                progress(r)
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, len(files), os.cpu_count() or 1)) as pool:
            futures = [pool.submit(check_episode, f, th) for f in files]
            for fut in as_completed(futures):
                r = fut.result()
                results[r.file] = r
                if progress:
                    progress(r)
    episodes = [results[f.name] for f in files]
    dataset_findings = run_dataset_checks(episodes, th)
    dataset_findings += source_findings(folder)
    refs = {f.name: f for f in files}
    for e in episodes:
        if e.findings and e.assets is None and e.summary.readable:
            e.assets = _assets_for(refs[e.file], e.findings, th)
    return Report(str(folder), th, episodes, dataset_findings)


def _assets_for(ref: EpisodeRef, findings: list[Finding], th: Thresholds) -> EpisodeAssets | None:
    """Reopen an episode flagged only by a dataset check to gather its plots and thumbnails."""
    try:
        with open_episode(ref) as reader:
            ep = Episode(reader, th)
            return gather_assets(ep, findings) if ep.length else None
    except EpisodeError:
        return None  # it opened a moment ago; if it changed since, the report will just lack its plots


def run_dataset_checks(episodes: list[EpisodeResult], th: Thresholds) -> list[Finding]:
    """Add each dataset check's findings to its episodes; return one summary finding per check that fired."""
    by_file = {e.file: e for e in episodes}
    summaries = [e.summary for e in episodes]
    dataset_findings: list[Finding] = []
    for check in DATASET_CHECKS:
        cid, run = check.id, cast(DatasetCheck, check.run)
        try:
            placed = run(summaries, th)
        except CheckSkipped as s:
            for e in episodes:
                e.skipped.setdefault(cid, str(s))
            continue
        dataset_findings += [f for file, f in placed if file is None]
        for file, finding in placed:
            if file is not None:
                by_file[file].findings.append(finding)
        files = sorted({f for f, _ in placed if f is not None}, key=L.episode_order)
        if files:
            sev = max((f.severity for n, f in placed if n is not None), key=lambda v: v == ERROR)
            dataset_findings.append(
                Finding(
                    cid,
                    sev,
                    0.0,
                    0.0,
                    f"{len(files)} episode(s) flagged by {cid}: "
                    f"{', '.join(files[:10])}{' ...' if len(files) > 10 else ''}",
                    {"episodes": files},
                )
            )
    return dataset_findings
