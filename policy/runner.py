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
(`/policy/inference_latency` through `Tick.scalars`, NaN elsewhere).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from demoforge.collect.calibration import fingerprint
from demoforge.collect.control_loop import Observation
from demoforge.policy.backbone import fold_frozen_batchnorm
from demoforge.policy.checkpoint import LoadedPolicy, load_policy
from demoforge.policy.config import EnsembleConfig
from demoforge.policy.ensemble import ActionSchedule, make_schedule
from demoforge.policy.errors import PolicyError
from demoforge.policy.precision import autocast, use_bf16
from demoforge.policy.threads import use_cores
from demoforge.schemas import episode_layout as L
from demoforge.schemas.rig import Rig

LIMIT_TOLERANCE = 1e-4  # rad: limits that differ by less are the same (float32 in the episode files)


class Policy:
    """A checkpoint ready to act: raw qpos and RGB frames in, a chunk of raw actions out."""

    def __init__(self, loaded: LoadedPolicy, device: str = "cpu", precision: str = "auto") -> None:
        self.path = loaded.path
        self.model, self.cfg, self.stats, self.meta = loaded.model, loaded.config, loaded.stats, loaded.meta
        self.device = torch.device(device)
        # bfloat16 autocast where native: GPUs, CPUs with AVX512-BF16/AMX (precision.py)
        self.bf16 = use_bf16(self.device, precision)
        self.cameras: list[str] = list(self.meta["cameras"])
        self.n_joints = int(self.meta["n_joints"])
        self.size = (self.cfg.model.image_height, self.cfg.model.image_width)
        fold_frozen_batchnorm(self.model.backbone)  # one conv instead of conv + scale/shift pass
        self.model.to(self.device).to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", precision: str = "auto") -> Policy:
        return cls(load_policy(path, device), device, precision)

    def ensemble_config(self, overrides: dict[str, Any] | None = None) -> EnsembleConfig:
        """The checkpoint's [ensemble] settings with `overrides` applied (validated like a config file)."""
        from demoforge.policy.config import config_to_dict, make_config

        d = config_to_dict(self.cfg)
        d["ensemble"].update(overrides or {})
        return make_config("paper", d, "ensemble settings").ensemble

    def check_rig(self, rig: Rig, *, accept_calibration: bool = False) -> list[str]:
        """PolicyError unless the rig has the joints, joint limits, calibration and cameras the policy
        was trained on (a policy from another rig or calibration would command other poses). Returns
        notes on what could not be compared (checkpoints written before the rig was recorded in them)."""
        if len(rig.joint_names) != self.n_joints:
            raise PolicyError(
                f"the policy drives {self.n_joints} joints, rig {rig.name} has {len(rig.joint_names)}",
                "deploy on the rig (or a rig like the one) the training episodes came from",
            )
        trained = list(self.meta.get("joint_names") or [])
        if trained and trained != rig.joint_names:
            k = next(i for i, (a, b) in enumerate(zip(trained, rig.joint_names, strict=True)) if a != b)
            raise PolicyError(
                f"joint {k} of rig {rig.name} is {rig.joint_names[k]}, the policy was trained with "
                f"{trained[k]} there",
                "deploy on the rig the training episodes came from (same arms, same joint order)",
            )
        missing = [c for c in self.cameras if c not in {c.name for c in rig.cameras}]
        if missing:
            raise PolicyError(
                f"rig {rig.name} lacks camera(s) {', '.join(missing)} the policy needs",
                "name the rig's cameras as in the training episodes",
            )
        identity = self.meta.get("rig")
        if not isinstance(identity, dict):
            return [
                f"checkpoint {self.path} does not record the joint limits and calibration it was trained "
                "with (written by an older demoforge): only joint names and cameras were compared"
            ]
        notes = []
        limits = identity.get("joint_limits")
        if limits is not None:
            here = np.asarray(rig.joint_limits, float)
            diff = np.abs(np.asarray(limits, float) - here).max(axis=1)
            if np.any(diff > LIMIT_TOLERANCE):
                k = int(np.argmax(diff))
                raise PolicyError(
                    f"joint {rig.joint_names[k]} has limits {list(rig.joint_limits[k])} on rig {rig.name}, "
                    f"the policy was trained with {limits[k]}",
                    "deploy with the rig file the episodes were recorded with",
                )
        recorded = identity.get("calibration")
        if recorded is None:
            notes.append(f"checkpoint {self.path}: its dataset recorded no calibration to compare")
        elif not accept_calibration:
            here_cal = fingerprint(rig)
            changed = sorted(a for a in set(recorded) | set(here_cal) if recorded.get(a) != here_cal.get(a))
            if changed:
                raise PolicyError(
                    f"arm(s) {', '.join(changed)} of rig {rig.name} are calibrated differently from the "
                    "episodes the policy was trained on: the same joint values would be other poses",
                    "deploy with the calibration the episodes were recorded with; if the arm was "
                    "recalibrated on purpose and its poses still match, pass --accept-calibration",
                )
        return notes

    def __call__(self, qpos: np.ndarray, frames: dict[str, np.ndarray]) -> np.ndarray:
        """(J,) raw qpos, camera -> (H, W, 3) uint8 RGB -> (k, J) raw actions."""
        h, w = self.size
        imgs = []
        for cam in self.cameras:
            img = frames[cam]
            if img.shape[:2] != (h, w):
                img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
            imgs.append(img.transpose(2, 0, 1))
        images = torch.from_numpy(np.stack(imgs)[None]).to(self.device)  # (1, N, 3, H, W) uint8
        s = self.stats
        q = torch.from_numpy(((qpos - s.qpos_mean) / s.qpos_std).astype(np.float32))[None].to(self.device)
        with autocast(self.device, self.bf16):
            chunk = self.model.predict(images, q)[0].float().cpu().numpy()  # (k, J) normalized
        return chunk * s.action_std + s.action_mean


class PolicyGoals:
    """GoalSource for the control loop: a policy with an action schedule, inference on its own thread."""

    records: tuple[str, ...] = (L.INFERENCE_LATENCY,)

    def __init__(
        self, policy: Policy, ensemble: EnsembleConfig | None = None, *, synchronous: bool = False
    ) -> None:
        # Leave a core to the control loop: torch's worker threads spin while they wait for work, and on
        # a 2-core machine two of them starve the control thread (and, measured with bench_act.py on a
        # loaded machine, made inference itself 20x slower than one thread: benchmarks/RESULTS.md).
        use_cores(leave=1)
        self.policy = policy
        self.synchronous = synchronous
        self.ensemble = ensemble or policy.cfg.ensemble
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
                self.schedule.add(obs.tick, self.policy(obs.qpos, frames))
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
                chunk = self.policy(qpos, frames)
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
