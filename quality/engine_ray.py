"""`check --engine ray`: each episode's checks as a Ray task, on this machine or an existing Ray cluster.

The task is the same `check_episode(ref, thresholds)` the local pool runs; it opens the episode where it
runs (so the dataset must be on a path every node sees) and sends back the findings and the small
summary the dataset checks need. The driver keeps one `EpisodeResult` per episode and runs the dataset
checks, incidents and report once. Ray is imported only here (the optional `scale` extra).

Ray's semantics this relies on (docs.ray.io, ray-core/fault_tolerance/tasks): a task whose worker dies
is retried up to `max_retries` times; `retry_exceptions=True` retries a Python exception too, and once
retries are spent `ray.get` raises a `RayTaskError` whose `cause` is the original exception. `ray.wait`
returns the ready refs among those given (ray-core/api/doc/ray.wait); `ray.cancel(ref, force=True)`
drops a pending task and kills a running one, and cancelled tasks are not retried
(ray-core/api/doc/ray.cancel).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

from demoforge.quality.assets import EpisodeAssets
from demoforge.quality.findings import Finding
from demoforge.quality.runner import (
    EpisodeCheckFn,
    EpisodeResult,
    Progress,
    assets_for,
    crash_text,
    crashed_result,
)
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas.episode_source import EpisodeRef
from demoforge.schemas.errors import ConfigError

RETRIES = 2  # a third death of the process checking an episode makes it that episode's integrity finding
IN_FLIGHT_PER_CPU = 4  # tasks queued per cluster CPU: workers never wait, the driver holds few results
CPU_REFRESH_S = 2.0  # how often the cluster's size is asked again (nodes can join or leave mid-run)
CANCEL_RETRY_S = 1.0  # a cancelled task not ended by then is cancelled again ...
CANCEL_WAIT_S = 30.0  # ... until this long after Ctrl-C, when what still runs is reported and left


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "--engine ray needs Ray, which is not installed",
            "pip install 'demoforge[scale]' (or use the default --engine local)",
        ) from None
    return ray


def _check_one(check: EpisodeCheckFn, ref: EpisodeRef, th: Thresholds) -> EpisodeResult:
    return check(ref, th)


def _assets_one(ref: EpisodeRef, findings: list[Finding], th: Thresholds) -> EpisodeAssets | None:
    return assets_for(ref, findings, th)


class RayRun:
    """Tasks on a connected Ray: a bounded window in flight, results handed over as they come."""

    def __init__(self, ray: Any, check: EpisodeCheckFn) -> None:
        self.ray = ray
        self.check_fn = check
        opts = {"max_retries": RETRIES, "retry_exceptions": True}
        self._check = ray.remote(**opts)(_check_one)
        self._assets = ray.remote(**opts)(_assets_one)
        self.cancel_rounds = 0  # after an interrupted run: how many times its tasks had to be cancelled
        self.still_running = 0  # ... and how many still ran when it gave up

    def check(
        self,
        files: list[EpisodeRef],
        th: Thresholds,
        done: Progress,
        workers: Callable[[int], None] | None = None,
    ) -> None:
        """Check every episode; each result (or its crash, as an integrity finding) goes to `done`."""
        th_ref, fn_ref = self.ray.put(th), self.ray.put(self.check_fn)
        # closing(): an exception in `done` (Ctrl-C in a progress callback) closes the generator at once,
        # which cancels what is still in flight, instead of whenever the generator is collected
        run = self._run(self._check, ((fn_ref, ref, th_ref) for ref in files), workers)
        with contextlib.closing(run):
            for i, value, err in run:
                done(value if err is None else crashed_result(files[i], err))

    def assets(
        self, items: list[tuple[EpisodeRef, list[Finding]]], th: Thresholds
    ) -> list[EpisodeAssets | None]:
        """Plots and frames of the episodes that only the dataset checks flagged, read where they run."""
        out: list[EpisodeAssets | None] = [None] * len(items)
        th_ref = self.ray.put(th)
        run = self._run(self._assets, ((r, f, th_ref) for r, f in items), None)
        with contextlib.closing(run):
            for i, value, err in run:
                out[i] = None if err is not None else value  # a report without those plots, not a failure
        return out

    def _run(
        self, task: Any, args: Iterator[tuple[Any, ...]], workers: Callable[[int], None] | None
    ) -> Generator[tuple[int, Any, str | None], None, None]:
        """(index, value, None) or (index, None, why it failed) for each task, in completion order."""
        ray = self.ray
        pending: dict[Any, int] = {}
        started, cpus, asked = 0, self._cpus(), time.monotonic()
        more = True
        try:
            while more or pending:
                while more and len(pending) < IN_FLIGHT_PER_CPU * cpus:
                    a = next(args, None)
                    if a is None:
                        more = False
                        break
                    pending[task.remote(*a)] = started
                    started += 1
                if workers:
                    workers(min(len(pending), cpus))
                if not pending:
                    break
                ready, rest = ray.wait(list(pending), num_returns=1)
                if rest:  # collect every other result that is already there in the same round
                    more_ready, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                    ready += more_ready
                for obj in ready:
                    i = pending.pop(obj)
                    try:
                        yield i, ray.get(obj), None
                    except ray.exceptions.RayTaskError as e:  # raised on every try: the episode's crash
                        cause = e.cause if getattr(e, "cause", None) is not None else e
                        yield i, None, crash_text(cause)
                    except ray.exceptions.RayError as e:  # the worker (or its node) died on every try
                        tries = RETRIES + 1
                        yield i, None, f"the process checking it died {tries} times ({type(e).__name__})"
                if time.monotonic() - asked > CPU_REFRESH_S:
                    cpus, asked = self._cpus(), time.monotonic()
        except BaseException:  # Ctrl-C or a failing callback: nothing keeps running on the cluster
            self._cancel(list(pending))
            raise

    def _cancel(self, refs: list[Any]) -> None:
        """Cancel `refs` and wait until each has ended, cancelling again what has not.

        One cancel is not always enough: Ray can lose one that reaches a task as it is being started
        (a race of this kind: ray-project/ray#24359), and such a task then holds its CPU for good.
        `benchmarks/bench_ray_cancel.py` measures how often (RESULTS.md).
        """
        ray, deadline = self.ray, time.monotonic() + CANCEL_WAIT_S
        self.cancel_rounds = 0
        while refs and (not self.cancel_rounds or time.monotonic() < deadline):
            for obj in refs:
                ray.cancel(obj, force=True)
            self.cancel_rounds += 1
            wait = max(0.0, min(CANCEL_RETRY_S, deadline - time.monotonic()))
            _, refs = ray.wait(refs, num_returns=len(refs), timeout=wait)
        self.still_running = len(refs)
        if refs:
            logging.getLogger(__name__).warning(
                "%d Ray task(s) still running %.0f s after being cancelled", len(refs), CANCEL_WAIT_S
            )

    def _cpus(self) -> int:
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))


@contextlib.contextmanager
def session(address: str | None, jobs: int | None, check: EpisodeCheckFn) -> Iterator[RayRun]:
    """A connected Ray: the cluster at `address`, one already initialised in this process, or a local
    instance with `jobs` CPUs (default: this machine's). Only what this function started is shut down."""
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        try:
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(num_cpus=jobs or os.cpu_count() or 1, include_dashboard=False, **kw)
        except ConnectionError as e:
            raise ConfigError(
                f"cannot reach the Ray cluster at {address}: {e}",
                "start it with `ray start --head` (and `ray start --address HEAD:6379` on each worker), "
                "or leave out --address for a Ray instance on this machine",
            ) from None
        started = True
    try:
        yield RayRun(ray, check)
    finally:
        if started:
            ray.shutdown()
