"""Running a trained policy on a rig: the control loop's goal source, with inference off its thread.

Each tick the control loop asks `PolicyGoals.goal(obs)`, which never blocks: it hands the newest
observation to the inference thread when that thread is idle (and the schedule wants a chunk), takes
any chunk that has finished, and answers from the action schedule (ensemble.py). When inference is
slower than a tick (a CPU at 50 Hz), the loop keeps executing the chunks it has while the next one is
computed; a finished chunk is used from the current tick on, the ticks it took already behind it.
In simulation the clock is stepped (time stands still between ticks), so a background inference would
be "late" by however many ticks the host ran meanwhile, and results would depend on the host's speed:
there the policy runs synchronously (`synchronous=True`), as ACT's own simulated evaluation does.
Each inference's latency is recorded with the tick its chunk began to be used
(`/policy/inference_latency` through `Tick.scalars`, NaN elsewhere). The policy is anything
`load_policy` returns (api.py): a checkpoint in PyTorch or an ONNX export in onnxruntime, the same path.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from demoforge.collect.control_loop import Observation
from demoforge.policy.api import Policy
from demoforge.policy.config import EnsembleConfig
from demoforge.policy.ensemble import ActionSchedule, make_schedule
from demoforge.schemas import episode_layout as L


class PolicyGoals:
    """GoalSource for the control loop: a policy with an action schedule, inference on its own thread."""

    records: tuple[str, ...] = (L.INFERENCE_LATENCY,)

    def __init__(
        self, policy: Policy, ensemble: EnsembleConfig | None = None, *, synchronous: bool = False
    ) -> None:
        self.policy = policy
        self.synchronous = synchronous
        self.ensemble = ensemble or policy.config.ensemble
        self.schedule: ActionSchedule = make_schedule(self.ensemble)
        self.hold: np.ndarray | None = None
        self.latency: dict[int, float] = {}  # loop tick -> s, for the ticks where a new chunk began
        self._new_latency: float | None = None
        self.latencies_all: list[float] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._request: tuple[int, int, np.ndarray, dict[str, np.ndarray]] | None = None
        self._result: tuple[int, int, np.ndarray, float] | None = None
        self._busy = False
        self._generation = 0  # bumped by start(): a chunk computed for an earlier run is dropped
        self._stop = False
        self._thread = threading.Thread(target=self._work, name="policy-inference", daemon=True)
        self._thread.start()

    # -- the control thread ------------------------------------------------------------------------

    def start(self, qpos: np.ndarray) -> None:
        with self._lock:
            self._generation += 1
            self._result = None
            self.schedule = make_schedule(self.ensemble)
            self.hold = np.asarray(qpos, np.float64).copy()
            self.latency = {}

    def goal(self, obs: Observation) -> np.ndarray:
        if self.error is not None:
            raise self.error  # the loop stops and holds the followers
        self._new_latency = None
        if not obs.engaged:  # going to the start pose: want where the arm is, start afresh once there
            self.start(obs.qpos)
            return obs.qpos
        with self._lock:
            result, self._result = self._result, None
            if result is not None and result[0] == self._generation:
                _, t0, chunk, latency = result
                self.schedule.add(t0, chunk)
                self.latency[obs.tick] = self._new_latency = latency
            frames = {c: f.image for c, f in obs.frames.items() if f is not None}
            ready = all(c in frames for c in self.policy.cameras)
            if ready and self.synchronous and self.schedule.wants_inference(obs.tick):
                start = time.perf_counter()
                self.schedule.add(obs.tick, self.policy.predict_chunk(frames, obs.qpos))
                self.latency[obs.tick] = self._new_latency = time.perf_counter() - start
                self.latencies_all.append(self._new_latency)
            elif (
                ready
                and not self.synchronous
                and not self._busy
                and self._request is None
                and self.schedule.wants_inference(obs.tick)
            ):
                self._request = (self._generation, obs.tick, obs.qpos.copy(), frames)
                self._busy = True
                self._wake.notify()
        action = self.schedule.action(obs.tick)
        if action is None:
            return self.hold if self.hold is not None else obs.qpos
        self.hold = action
        return action

    # -- the inference thread ----------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                self._wake.wait_for(lambda: self._request is not None or self._stop)
                if self._stop:
                    return
                assert self._request is not None
                gen, t0, qpos, frames = self._request
                self._request = None
            try:
                start = time.perf_counter()
                chunk = self.policy.predict_chunk(frames, qpos)
                latency = time.perf_counter() - start
            except BaseException as e:  # surfaced on the control thread at its next tick
                self.error = e
                return
            with self._lock:
                self._result = (gen, t0, chunk, latency)
                self._busy = False
                self.latencies_all.append(latency)

    def close(self) -> None:
        with self._lock:
            self._stop = True
            self._wake.notify()
        self._thread.join(timeout=5)

    def scalars(self) -> dict[str, float]:
        """The latency of the inference whose chunk began at the tick just asked for, if one did."""
        return {} if self._new_latency is None else {L.INFERENCE_LATENCY: self._new_latency}


def latency_summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    a = np.asarray(values) * 1000
    return {
        "count": len(a),
        "median_ms": float(np.median(a)),
        "p95_ms": float(np.percentile(a, 95)),
        "max_ms": float(a.max()),
    }
