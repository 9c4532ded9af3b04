"""Every quality threshold in one frozen dataclass: default and reason beside each field.

A thresholds TOML holds any subset of these keys at the top level (or under `[thresholds]`):

    min_rate_fraction = 0.85
    pause_min_s = 1.0
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from demoforge.schemas import episode_layout as L
from demoforge.schemas.joint_limits import JointLimits
from demoforge.schemas.toml_config import INTERNAL, from_table, read_toml


@dataclass(frozen=True)
class Thresholds:
    """Quality thresholds. Each field: its default, then why that default."""

    # -- control rate ------------------------------------------------------------------------------
    # Rate assumed when an episode has no `fps` attribute: ALOHA records at 50 Hz (`check --fps` sets it).
    nominal_fps: float = L.ALOHA_FPS
    # A rate below 0.9 x fps (45 Hz at 50 Hz) sustained over `rate_window_s` is an error: ACT's
    # 100-action chunks would then span a different time than at deployment.
    min_rate_fraction: float = 0.9
    # The rate is judged over 2 s windows: one late tick or a 100 ms hiccup leaves a 2 s window at
    # 95 of 100 ticks (above the floor); a sustained slowdown or a long stall does not.
    rate_window_s: float = 2.0
    # A single stall longer than 0.15 s is an error: 7 ticks at 50 Hz, a visible jump in the commands
    # the policy learns from. Shorter hiccups happen on every real host (USB retries, page faults).
    max_stall_s: float = 0.15
    # A tick period over 5 periods (0.1 s at 50 Hz) but under `max_stall_s` is a warning.
    max_control_gap_periods: float = 5.0
    # p95 of |period - median period| above 4 ms (20 % at 50 Hz) is a warning: not on deadlines. (p95:
    # a loop on deadlines still overruns a few ms now and then, a loop on sleep() jitters all along.)
    max_jitter_ms: float = 4.0
    # A tick period over 1.5 nominal periods counts as an overrun ...
    overrun_periods: float = 1.5
    # ... and more than 1 % of ticks overrunning is a warning (the host is too loaded).
    max_overrun_fraction: float = 0.01
    # -- cameras -----------------------------------------------------------------------------------
    # A gap of 1.5 camera periods or more between two frames of the camera's own clock (or counter)
    # is a missing frame. Judged from the camera's side: device time and counter where the file has
    # them, the host's capture times otherwise (where one late delivery is not a loss).
    drop_gap_periods: float = 1.5
    # A burst of 2 or more lost frames is an error (the loop saw one image for 3+ camera periods). A
    # single missing frame is not reported: a frame delivered late and skipped by the loop (the next
    # one arrived within the same tick) looks the same in the recording, and either is harmless.
    drop_min_frames: int = 2
    # Slack on the ratio of camera to loop rate when deciding how many frames the loop may skip
    # between two ticks: free-running clocks differ by ~0.1 % and ticks jitter by a few %. At equal
    # rates one frame used twice and the next skipped is aliasing, not a loss.
    rate_slack: float = 0.05
    # A camera more than 10 % below its configured fps for over `camera_rate_min_s` is named
    # (warning, check `camera_rate`): auto exposure in a dim scene halves a webcam's rate.
    camera_rate_tolerance: float = 0.1
    # ... sustained at least 1 s: auto exposure settles within a few frames, a short dip is noise.
    camera_rate_min_s: float = 1.0
    # A frame captured more than 3 camera periods before the tick that used it = stale.
    stale_periods: float = 3.0
    # Identical content over 3 counter advances = frozen: sensor noise makes two real frames differ,
    # a stuck driver repeats its last buffer.
    frozen_min_frames: int = 3
    # Frames decoded per camera for the black/saturated check: the smallest JPEG (a uniform frame
    # compresses best), then evenly spaced ticks. Every JPEG under 70 % of the median size is decoded
    # as well, so JPEG sizes screen all frames; decoding them all would cost ~10x reading the rest.
    image_samples: int = 1
    # Mean pixel value (0-255) at or below this = black frame (lens cap, lights off).
    dark_max_mean: float = 12.0
    # Mean pixel value at or above this = saturated frame (exposure blown out).
    saturated_min_mean: float = 245.0
    # Black or saturated for 3 frames in a row is an error; fewer is a warning: a hand passing in front
    # of a wrist camera or a flash darkens one or two frames, three in a row is the camera or the light.
    dark_min_frames: int = 3
    # Cameras' capture times at one tick further apart than this many periods of the slower camera
    # = out of sync. Free-running cameras' latest frames differ by up to one period (33 ms at 30 fps);
    # 1.5 periods means one of them lags.
    max_camera_skew_periods: float = 1.5
    # ... for longer than 2 periods of the slower camera: aliasing (a frame used twice) and one late
    # delivery last a single tick, a lagging camera lasts.
    sync_min_periods: float = 2.0
    # -- motion ------------------------------------------------------------------------------------
    # The operator (leader readings, else the command) "moves" when a joint's smoothed position
    # ranges over more than 0.02 rad (1.1 deg) in the window: above hand tremor held still (~0.005 rad)
    # and encoder steps (0.0015 rad), below any deliberate motion.
    pause_motion_rad: float = 0.02
    # The operator not moving for longer than this mid-episode = pause (error: ACT learns to stall).
    pause_min_s: float = 0.5
    # Trim mid-episode pauses in `split` (warning) instead of excluding the episode (error).
    trim_pauses: bool = False
    # Standing still at the start (or at the end, beyond `idle_end_keep_s`) for longer than 0.5 s is
    # `idle` (a warning; `split` trims it: ACT would learn to wait, "the robot never starts"). A
    # reaction time plus the slow first hundredth of a radian of a stroke take 0.3-0.45 s in every
    # demonstration: that is not idling.
    idle_min_s: float = 0.5
    # Of the stillness at the end, the first this many seconds stay in training (only what is idle
    # beyond it is `idle`, and trimmed): a policy that never saw the task done and the arms held
    # undoes it (with the whole end trimmed, ACT at 60 minutes held 36 % of cube transfers at the
    # last tick; with it kept, 80 %: benchmarks/RESULTS.md). ACT samples every tick (tonyzhaozh/act
    # utils.py, EpisodicDataset: `start_ts = np.random.choice(episode_len)`).
    idle_end_keep_s: float = 1.0
    # Readings up to 0.01 past a joint limit are encoder noise at the limit (gripper closed on
    # itself), not reported.
    joint_limit_noise: float = 0.01
    # Beyond the limit by more than 0.05 rad (3 deg; grippers: 5 % of their travel) is an error: more
    # than a hand-set calibration is off by. Less than that is a warning ...
    joint_limit_tolerance: float = 0.05
    # ... unless it lasts over 2 s: then the calibration or the rig's limits are wrong (error).
    joint_limit_max_s: float = 2.0
    # A leader reading or command moving faster than 15 rad/s between two ticks = spike (warning): no
    # hand moves a joint that fast (0.3 rad in one 50 Hz tick); an encoder glitch or a loose cable does.
    action_spike_rad_s: float = 15.0
    # Median follower-minus-command offset above this = calibration drift (warning).
    tracking_offset_rad: float = 0.05
    # The follower trails its command; the best lag up to this many ticks is compared.
    tracking_max_lag_ticks: int = 5
    # A joint whose readings range over less than 0.002 rad in a whole episode never moved: about one
    # encoder step (0.0015 rad), which any joint of an arm held by a hand exceeds.
    dead_joint_range: float = 0.002
    # Stall against an obstacle: a non-gripper follower joint more than 0.1 rad behind a moving
    # command, not moving, ...
    stall_offset_rad: float = 0.1
    # ... with its effort at its episode maximum (within 10 %) and that maximum over 3x the joint's
    # median effort: the motor is at its current limit, pushing on something ...
    stall_effort_ratio: float = 3.0
    # ... for at least 0.2 s (a brief bump on contact is normal).
    stall_min_s: float = 0.2
    # Findings of one check closer than this merge into one span (one message per incident).
    merge_gap_s: float = 0.1
    # -- labels ------------------------------------------------------------------------------------
    # success = -1 (never labelled) is an error unless allowed: unlabelled may hide failures.
    allow_unlabelled: bool = False
    # -- episode length ----------------------------------------------------------------------------
    # Episodes shorter than ACT's action chunk (k = 100 ticks) get a warning: every training sample
    # of such an episode is mostly padding, so it teaches little of the chunk's horizon.
    min_episode_ticks: int = 100
    # -- dataset outliers --------------------------------------------------------------------------
    # Length outside [median / 2, 2 x median] of its task's episodes = error: an aborted or padded
    # demonstration. Tasks (the `task` attribute) are compared separately.
    length_outlier_factor: float = 2.0
    # Mean joint speed outside [median / 2, 2 x median] of its task's episodes = warning: a rushed or
    # hesitant operator.
    speed_outlier_factor: float = 2.0
    # A start joint further than 0.3 rad (grippers: 0.3 of their travel) from the dataset's usual
    # start = warning: the scene or the arms were not reset.
    start_pose_rad: float = 0.3
    # When more than 30 % of episodes are off the usual start, the dataset has no common start pose:
    # one dataset finding replaces a warning on each episode.
    start_pose_spread_fraction: float = 0.3
    # Two episodes whose commands differ by less than 0.005 rad RMS (resampled to one length) are
    # near-duplicates (a copied file, a replayed recording, a scripted operator given two nearly equal
    # scenes): two human demonstrations never do.
    near_duplicate_rad: float = 0.005
    # With fewer readable episodes there is no median worth comparing to: outlier checks skip.
    min_episodes_for_outliers: int = 3
    # Limits for datasets that record none (LeRobot, plain ALOHA files): set by `check --rig` or
    # `--limits`, never read from a thresholds file; the report keeps them with the thresholds.
    joint_limits: JointLimits | None = field(default=None, metadata=INTERNAL)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.type in ("float", "int") and not (
                isinstance(v, int | float) and math.isfinite(v) and v >= 0
            ):
                raise ValueError(f"{f.name} must be a finite number >= 0, got {v!r}")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def thresholds_from_mapping(data: dict[str, Any], source: str) -> Thresholds:
    """Build Thresholds from a parsed TOML/JSON mapping; ConfigError names `source` and the bad key."""
    if isinstance(data.get("thresholds"), dict) and len(data) == 1:
        data = data["thresholds"]
    return from_table(Thresholds, data, source)


def load_thresholds(path: str | Path | None) -> Thresholds:
    """Defaults, overridden by the keys of a thresholds TOML file when one is given."""
    if path is None:
        return Thresholds()
    return thresholds_from_mapping(read_toml(path, "thresholds file"), str(path))
