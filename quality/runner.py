"""Run every check over a dataset folder: episodes in parallel, then the dataset checks on the driver.

One code path per check, two ways to schedule it: `check_episode(ref, thresholds) -> EpisodeResult` (the
findings plus the small summary the dataset checks need) is what the local process pool and Ray's tasks
(`engine_ray.py`) both call, so the findings are the same episode for episode whatever runs them.
"""

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
from demoforge.quality.findings import ERROR, CheckSkipped, Finding, PartlyChecked
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


EpisodeCheckFn = Callable[[EpisodeRef, Thresholds], EpisodeResult]  # check_episode, or a test double


def crashed_result(ref: EpisodeRef, what: str) -> EpisodeResult:
    """An episode whose check crashed (an unexpected exception, or the process checking it died every
    time it was tried): reported as its integrity finding, so no episode is ever lost from the report."""
    path = ref.path / ref.name if ref.is_lerobot else ref.path
    e = EpisodeError(f"checking {ref.name} crashed: {what}", "rerun `demoforge check` on it alone to see why")
    fp = {} if ref.is_lerobot or not path.exists() else file_fingerprint(path)
    return _unreadable(path, fp, e, ref.episode_index)


def check_or_report(ref: EpisodeRef, th: Thresholds, check: EpisodeCheckFn) -> EpisodeResult:
    """`check` for the local pool: a crash (a bug, an exotic file) becomes the episode's finding."""
    try:
        return check(ref, th)
    except Exception as e:
        return crashed_result(ref, crash_text(e))


def crash_text(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".splitlines()[0][:300]


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
        except PartlyChecked as p:
            findings.extend(p.findings)
            skipped[cid] = str(p)
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


Progress = Callable[[EpisodeResult], None]
ENGINES = ("local", "ray")


def check_dataset(
    folder: str | Path,
    thresholds: Thresholds | None = None,
    *,
    jobs: int | None = 1,
    progress: Progress | None = None,
    engine: str = "local",
    address: str | None = None,
    workers: Callable[[int], None] | None = None,
    check: EpisodeCheckFn = check_episode,
) -> Report:
    """Check every episode of a dataset folder, then the dataset-level checks once, here.

    engine "local": `jobs` processes on this machine (Ray is not imported). engine "ray": one Ray task per
    episode on the cluster at `address` (None: a local Ray instance with `jobs` CPUs); `workers` hears how
    many workers are busy. Either way `check` (`check_episode`; tests pass one that fails) does the work:
    an exception it raises (after Ray's retries) or a worker that dies every time it runs becomes the
    episode's integrity finding.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: expected one of {ENGINES}")
    th = thresholds or Thresholds()
    folder = Path(folder)
    files = list_episodes(folder)
    results: dict[str, EpisodeResult] = {}
    refs = {f.name: f for f in files}

    def done(r: EpisodeResult) -> None:
        results[r.file] = r
        if progress:
            progress(r)

    if engine == "ray":
        from demoforge.quality import engine_ray  # optional: the `scale` extra

        with engine_ray.session(address, jobs, check) as ray_run:
            ray_run.check(files, th, done, workers)
            episodes = [results[f.name] for f in files]
            dataset_findings = run_dataset_checks(episodes, th)
            flagged = [e for e in episodes if e.findings and e.assets is None and e.summary.readable]
            gathered = ray_run.assets([(refs[e.file], e.findings) for e in flagged], th)
            for e, assets in zip(flagged, gathered, strict=True):
                e.assets = assets
    else:
        _check_locally(files, th, jobs or 1, check, done)
        episodes = [results[f.name] for f in files]
        dataset_findings = run_dataset_checks(episodes, th)
        for e in episodes:
            if e.findings and e.assets is None and e.summary.readable:
                e.assets = assets_for(refs[e.file], e.findings, th)
    dataset_findings += source_findings(folder)
    return Report(str(folder), th, episodes, dataset_findings)


def _check_locally(
    files: list[EpisodeRef], th: Thresholds, jobs: int, check: EpisodeCheckFn, done: Progress
) -> None:
    if jobs <= 1 or len(files) == 1:
        for f in files:
            done(check_or_report(f, th, check))
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(files), os.cpu_count() or 1)) as pool:
        futures = [pool.submit(check_or_report, f, th, check) for f in files]
        try:
            for fut in as_completed(futures):
                done(fut.result())
        except BaseException:  # Ctrl-C: drop the queued episodes instead of checking them first
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def assets_for(ref: EpisodeRef, findings: list[Finding], th: Thresholds) -> EpisodeAssets | None:
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
