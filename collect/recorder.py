"""The episode lifecycle around the control loop: start pose, wait, record, label, reset, repeat.

Attended (a terminal): the operator starts an episode with a key or a gripper squeeze on the
leader, stops it with a key or lets the time run out, then keeps it (labelled success or failure),
discards it, or re-records it. Unattended (`--unattended`, or standard input not a terminal):
episodes start once the followers reach the start pose, run `episode_time` seconds, are kept with
the label given on the command line, and follow each other after `reset_time`.

The stop key (an operator with a `stop` Event, `operator_keys.TerminalKeys`): the control loop holds
the followers from its next tick; an episode being recorded ends there (saved, as with SPACE), and
the recorder waits for the operator's choice (`operator_stop.hold_menu`: continue, or rest and quit).
Attended, the followers rest at the end only when the operator confirms it (`operator_stop`).

Numbering never skips or overwrites: the next index is one past the highest file on disk, and a
discarded episode is moved to `DIR/discarded/` under a name no `*.hdf5` glob finds (nothing recorded is
deleted; `demoforge restore` brings it back) so its index is reused.
"""

from __future__ import annotations

import functools
import gc
import getpass
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from demoforge.collect import calibration as cal
from demoforge.collect.cameras.exposure import TIMEOUT_S as EXPOSURE_TIMEOUT_S
from demoforge.collect.cameras.exposure import wait_for_exposure
from demoforge.collect.control_loop import (
    ControlLoop,
    EpisodeInProgress,
    GoalSource,
    HoldGoals,
    LeaderGoals,
)
from demoforge.collect.episode_sink import EpisodeSink
from demoforge.collect.errors import HardwareError
from demoforge.collect.hardware import Hardware, open_hardware
from demoforge.collect.loop_timing import LoopStats
from demoforge.collect.operator_stop import RestAndQuit, ask_rest, hold_menu, keys_only
from demoforge.collect.session_tally import SessionTally
from demoforge.collect.teleop import disagreement
from demoforge.collect.virtual_faults import FaultInjector, PlannedFault, append_truth, fault_truth
from demoforge.schemas.dataset import (
    EpisodeEntry,
    Manifest,
    discard_episode,
    episode_entry,
    next_episode_index,
)
from demoforge.schemas.episode_layout import CLAMPED, EpisodeAttrs, episode_name
from demoforge.schemas.episode_writer import EpisodeWriter
from demoforge.schemas.errors import UserError
from demoforge.schemas.rig import Rig

ENGAGE_TIMEOUT_S = 10.0  # unattended: how long the leaders get to agree with the followers
SQUEEZE_CLOSED, SQUEEZE_OPEN = 0.25, 0.6  # leader gripper (0 closed .. 1 open): closed then reopened = start


@dataclass(frozen=True)
class RecordOptions:
    dataset: Path
    episodes: int = 1
    task: str = ""
    operator: str = ""
    episode_time: float | None = None  # s; None = the rig's recording.episode_time
    reset_time: float | None = None
    unattended: bool = True
    label: int = -1  # success label of unattended episodes: 1, 0 or -1 (unlabeled)
    compress: bool | None = None
    line: str = "ideal"  # emulated bus timing for virtual rigs
    faults: tuple[PlannedFault, ...] = ()  # virtual rigs: defects planted at known times
    view: Any = None  # a collect.live_view.LiveView (`--view`): fed from the writer thread, never the loop


class Operator(Protocol):
    """Where the recorder's decisions come from: keys on a terminal, or fixed answers when unattended."""

    def poll(self) -> str | None: ...  # a key pressed since the last call, or None


@dataclass
class RecordedEpisode:
    """What one recorded episode became."""

    path: Path | None  # None when discarded
    entry: EpisodeEntry | None
    stats: dict[str, Any]  # the episode's loop_stats
    close_s: float  # time from the last tick to the file closed
    dropped: dict[str, int]  # camera frames skipped by the counter, per camera
    kept: bool
    backlog_max: int = 0  # most ticks waiting in the writer at once


class Recorder:
    """Records episodes of one rig into one dataset folder."""

    def __init__(
        self,
        rig: Rig,
        options: RecordOptions,
        *,
        operator: Operator | None = None,
        display: Any = None,
        hardware: Hardware | None = None,
        goal_source: GoalSource | None = None,
    ) -> None:
        self.rig = rig
        self.goal_source = goal_source  # drives the followers while recording; None = the leaders
        self.opt = options
        self.operator = operator
        self.display = display
        self.hw = hardware or open_hardware(rig, line=options.line)
        self.episode_time = (
            options.episode_time if options.episode_time is not None else rig.recording.episode_time
        )
        self.reset_time = options.reset_time if options.reset_time is not None else rig.recording.reset_time
        self.compress = rig.recording.compress if options.compress is None else options.compress
        self.loop: ControlLoop | None = None
        self.results: list[RecordedEpisode] = []
        self.in_progress: EpisodeInProgress | None = None  # the episode being recorded, for the display
        self.phase = "starting"
        self.phase_end = 0.0
        self.episode_index = 0
        self.quit = False
        self.rest: bool | None = None  # at the end: None = the rig's rest_on_exit (unattended)
        self.injector = FaultInjector(list(options.faults))
        self.tally = SessionTally(options.episodes)  # kept / discarded / re-recorded, for the display
        slowest = min((c.fps for c in rig.cameras), default=rig.fps)
        self._settle_ticks = math.ceil(rig.fps / slowest) + 2  # one camera period, then two ticks

    # -- the whole session ---------------------------------------------------------------------------

    def run(self) -> list[RecordedEpisode]:
        self.opt.dataset.mkdir(parents=True, exist_ok=True)
        # the calibration's fingerprint goes with the rig: `deploy` compares it with the checkpoint's
        snapshot = self.rig.snapshot() | {"calibration": cal.fingerprint(self.rig)}
        manifest = Manifest.load_or_create(self.opt.dataset, self.opt.dataset.name, snapshot)
        manifest.save(self.opt.dataset)
        self.hw.open()
        self.notes = list(getattr(self.hw, "notes", []))  # what the checks at open found
        # rendered cameras have no exposure, and make frames only when the loop ticks
        unsettled = [] if self.rig.simulation is not None else wait_for_exposure(self.hw.cameras)
        if unsettled:
            self.notes.append(
                f"auto exposure of {', '.join(unsettled)} had not settled after {EXPOSURE_TIMEOUT_S:.0f} s "
                "(brightness still changing): check the lighting, or fix the exposure in the camera settings"
            )
        for note in self.notes:
            self._note(note)
        gc.collect()
        gc.freeze()  # what exists now is long-lived: later collections skip it (they run between episodes)
        self.loop = ControlLoop(self.hw, halt_flag=getattr(self.operator, "stop", None))
        attended = self.operator is not None and not self.opt.unattended
        if attended:
            self.rest = False  # until the operator confirms a rest
        try:
            self.injector.validate(self.hw)
            self.loop.start()
            done = 0
            while done < self.opt.episodes and not self.quit:
                result = self.record_one(manifest)
                if result.kept:
                    done += 1
                if done < self.opt.episodes and not self.quit:
                    self._reset_phase()
            if attended:
                self.rest = ask_rest(self._next_key, self._set_phase)
        except RestAndQuit:
            self.rest, self.quit = True, True
        except UserError as e:  # a fault: the followers hold; attended, the operator decides
            if attended:
                self._set_phase(f"stopped by a fault: {e.message}; the followers hold where they are")
                self.rest = ask_rest(keys_only(self.operator), self._set_phase)
            raise
        finally:
            self.loop.stop()
            self.hw.close(rest=self.rest)  # followers to the rest pose and torque off, or holding
            gc.unfreeze()
            for problem in getattr(self.hw, "shutdown_problems", []):
                self._note(f"at shutdown: {problem}")
        return self.results

    def _note(self, text: str) -> None:
        """Tell the operator something that does not stop the run (displays without `note` skip it)."""
        note = getattr(self.display, "note", None)
        if note is not None:
            note(text)

    def _set_phase(self, phase: str, seconds: float = 0.0) -> None:
        self.phase = phase
        self.phase_end = time.monotonic() + seconds
        if self.display is not None:
            self.display.phase(self, phase)

    def _check_fault(self) -> None:
        assert self.loop is not None
        if self.loop.fault is not None:
            raise self.loop.fault
        if not self.loop.running:
            raise HardwareError("the control loop stopped", "see the message above")

    def _tick_wait(self, n: int = 1, *, menu: bool = True) -> str | None:
        """Let n ticks pass; refresh the display; return a key pressed meanwhile. After the stop key,
        with `menu`, wait for the operator's choice first (continue; or rest and quit: RestAndQuit)."""
        key = self._next_key(n)
        assert self.loop is not None
        if menu and self.operator is not None and self.loop.hardware_holding():
            self.loop.halt()  # a follower held on its own (effort, heat): the operator chooses, as after h
        if menu and self.loop.halt_flag.is_set():
            phase = self.phase
            hold_menu(self.loop, self._next_key, self._set_phase)
            self._set_phase(phase)
            return None
        return key

    def _next_key(self, n: int = 5) -> str | None:
        assert self.loop is not None
        self.loop.wait_ticks(n)
        self._check_fault()
        if self.display is not None:
            self.display.refresh(self)
        return self.operator.poll() if self.operator is not None else None

    # -- one episode ---------------------------------------------------------------------------------

    def record_one(self, manifest: Manifest) -> RecordedEpisode:
        assert self.loop is not None
        loop = self.loop
        self.episode_index = next_episode_index(self.opt.dataset)
        self._set_phase("start pose")
        if self.goal_source is not None:
            # restarted every episode; holds until the start pose. Attended, the followers hold there
            # until the operator starts the episode: a policy moves nothing before SPACE.
            loop.set_source(self.goal_source if self.opt.unattended else HoldGoals())
        self._wait_engaged(loop.move_to(self.rig.start_pose))
        if not self.opt.unattended:
            self._set_phase("waiting: SPACE or squeeze the leader gripper to start, q to quit")
            if not self._wait_for_start():
                self.quit = True
                return RecordedEpisode(None, None, {}, 0.0, {}, kept=False)
            if self.goal_source is not None:
                loop.set_source(self.goal_source)  # it starts from where the followers are
                self._wait_engaged(0.0)
        n_ticks = self.injector.episode_ticks(
            self.episode_index, round(self.episode_time * self.rig.fps), self.rig.fps
        )
        self.hw.begin_episode(self.episode_index, n_ticks, self.injector.for_episode(self.episode_index))
        path = self.opt.dataset / episode_name(self.episode_index)
        attrs = EpisodeAttrs(
            fps=self.rig.fps,
            joint_names=self.rig.joint_names,
            joint_limits=self.rig.joint_limits,
            cameras=self.hw.camera_infos(),
            sim=self.rig.sim,
            compress=self.compress,
            robot=self.rig.robot,
            task=self.opt.task,
            operator=self.opt.operator or _user(),
            started_at=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            software=_software(),
        )
        writer = EpisodeWriter(
            path,
            attrs,
            optional=[
                CLAMPED,
                *self.hw.tick_extras(),
                *self.hw.device_datasets(),
                *(self.goal_source or LeaderGoals()).records,
            ],
            flush_interval=self.rig.recording.flush_interval,
        )
        observer = None if self.opt.view is None else self.opt.view.for_episode(self.episode_index)
        sink = EpisodeSink(writer, jpeg_quality=self.rig.recording.jpeg_quality, observer=observer)
        rec = EpisodeInProgress(sink, LoopStats(self.rig.fps), limit=n_ticks)
        self.in_progress = rec
        # Opening the file and a garbage collection hold the GIL for up to tens of ms: do both, then
        # wait until every camera has delivered a frame captured after that, so the first tick is on its
        # deadline with fresh frames. No collection runs during the episode (per-tick objects are freed
        # by reference counting); one runs after it.
        gc.collect()
        gc.disable()
        loop.wait_ticks(self._settle_ticks)
        loop.attach(rec)
        self._set_phase(f"recording episode {self.episode_index}", self.episode_time)
        try:
            while rec.ticks < n_ticks:
                key = self._tick_wait(min(5, max(1, n_ticks - rec.ticks)), menu=False)
                self.injector.step(self.hw, self.episode_index, rec.ticks / self.rig.fps)
                if loop.halt_flag.is_set():  # the stop key: the episode ends here, the menu comes next
                    break
                if key in (" ", "\n", "\r", "q"):
                    self.quit = key == "q"
                    break
        except BaseException:
            loop.detach()
            gc.enable()
            if self.goal_source is not None:
                loop.set_source(LeaderGoals())
            sink.abort(rec.stats.summary())
            self._save_entry(manifest, path)
            self._record_truth(path, rec)  # a planted stall or unplugged motor ends here
            raise
        loop.detach()
        self.hw.end_episode()
        gc.enable()
        if self.goal_source is not None:
            loop.set_source(LeaderGoals())  # between episodes the leaders have the followers again
        stats = rec.stats.summary()
        self._set_phase("saving")
        label = self.opt.label if self.opt.unattended else -1
        own = self.hw.success(sink.last.scalars) if sink.last is not None else None
        if own is not None:  # a simulation knows: the task's top reward at the last tick
            label = own
        saved, close_s = sink.close(success=label, loop_stats=stats)
        self._record_truth(saved, rec)
        kept = True
        if not self.opt.unattended:
            try:
                kept, label = self._ask_keep(saved)
            except RestAndQuit:
                self._save_entry(manifest, saved)  # kept, unlabeled: nothing recorded is lost
                raise
        entry = self._save_entry(manifest, saved) if kept else None
        result = RecordedEpisode(
            saved if kept else None, entry, stats, close_s, dict(rec.dropped), kept, sink.max_backlog
        )
        self.results.append(result)
        if kept:
            self.tally.add("kept")
        if self.display is not None:
            self.display.episode_done(self, result)
        return result

    def _record_truth(self, path: Path, rec: EpisodeInProgress) -> None:
        """The faults planted in this episode, in episode seconds, into faults.json."""
        faults = self.injector.for_episode(self.episode_index)
        if not faults:
            return
        spans = getattr(self.hw, "fault_spans", None)
        if spans is not None:  # simulated: spans in clock time, exact
            timed = [(f, a - rec.t0, b - rec.t0) for f, a, b in spans()]
        else:  # applied by the injector at (about) their planned episode time
            timed = [(f, f.start, f.start + f.duration) for f in faults]
        duration = rec.ticks / self.rig.fps
        append_truth(self.opt.dataset, [fault_truth(path.name, f, a, b, duration) for f, a, b in timed])

    def _wait_engaged(self, move_s: float) -> None:
        """Until the followers are at the start pose and the leaders agree (teleop engages without a
        jump). Attended, the operator is shown which joint to move; unattended, nobody is there to
        match a leader or free a blocked follower: after `move_s` + `ENGAGE_TIMEOUT_S` it is an error."""
        assert self.loop is not None
        loop = self.loop
        deadline = time.monotonic() + move_s + ENGAGE_TIMEOUT_S
        while loop.moving or not loop.engaged:
            self._tick_wait()
            late = time.monotonic() > deadline
            if loop.moving:
                off = disagreement(
                    loop.qpos, np.asarray(self.rig.start_pose), self.rig.safety.engage_tolerance
                )
                if late and off is not None:
                    joint, diff = self.rig.joint_names[off[0]], off[1]
                    self._set_phase(f"the followers are not at the start pose: {joint} is {diff:.2f} off")
                    if self.opt.unattended:
                        raise HardwareError(
                            f"the followers did not reach the start pose ({joint} is {diff:.2f} off)",
                            "check that nothing blocks the arm and that the start pose is reachable",
                        )
                continue
            if loop.mismatch is None:
                continue
            joint, diff = loop.mismatch
            if self.goal_source is not None:  # a policy wants the followers where they are: one is stuck
                phase = f"waiting for the followers to settle: {joint} is {diff:.2f} from its goal"
                problem = (
                    f"the followers did not settle at the start pose ({joint} is {diff:.2f} from its "
                    "goal); the policy would start from a pose it was not trained from"
                )
                fix = (
                    "free the joint (a gripper closed on an object, an arm against something), "
                    "then start again"
                )
            else:
                phase = f"match the leader to the follower: {joint} is {diff:.2f} off"
                problem = (
                    f"the leaders did not come to the followers' start pose ({joint} is {diff:.2f} off); "
                    "teleop would make the followers jump"
                )
                fix = (
                    "move the leaders to the start pose (or enable safety.leaders_to_start in the rig, "
                    "for leaders in a position mode)"
                )
            self._set_phase(phase)
            if self.opt.unattended and late:
                raise HardwareError(problem, fix)

    def _wait_for_start(self) -> bool:
        squeezed = False
        grippers = [
            i for i, j in enumerate(j for a in self.rig.arms for j in a.joints) if j.kind == "gripper"
        ]
        while True:
            key = self._tick_wait(2)
            if key in (" ", "\n", "\r"):
                return True
            if key == "q":
                return False
            assert self.loop is not None
            if not grippers:
                continue
            closest = float(self.loop.leader[grippers].min())  # any leader gripper squeezed counts
            if closest < SQUEEZE_CLOSED:
                squeezed = True
            elif squeezed and closest > SQUEEZE_OPEN:
                return True

    def _ask_keep(self, path: Path) -> tuple[bool, int]:
        from demoforge.schemas.episode_writer import finish_episode

        self._set_phase("keep? s = success, f = failure, u = unlabeled, d = discard, r = re-record")
        while True:
            key = self._tick_wait(5)
            if key in ("s", "f", "u"):
                label = {"s": 1, "f": 0, "u": -1}[key]
                finish_episode(path, success=label)
                return True, label
            if key in ("d", "r"):
                discard_episode(path)
                self.tally.add("discarded" if key == "d" else "re-recorded")
                return False, -1

    def _save_entry(self, manifest: Manifest, path: Path) -> EpisodeEntry:
        entry = episode_entry(path)
        manifest.upsert(entry)
        manifest.save(self.opt.dataset)
        return entry

    def _reset_phase(self) -> None:
        self._set_phase("reset (leader live)", self.reset_time)
        deadline = time.monotonic() + self.reset_time
        while time.monotonic() < deadline:
            key = self._tick_wait(5)
            if key == "q":
                self.quit = True
                return
            if key in (" ", "\n", "\r"):
                return


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return ""


@functools.cache
def _software() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"demoforge {version('demoforge')}"
    except PackageNotFoundError:
        return "demoforge (source)"
