"""Every check, declared once: id, severity, scope, function and what it finds.

The check ids of report.json, the runner's order, the report's per-check table, the command line's
summary and docs/quality-checks.md all come from `CHECKS`. A new check is one function and one line
here. `severity` is the most a check can say: an `error` check excludes an episode (some of its
findings may be milder warnings, e.g. a joint a hair past its limit for a moment); a `warning` check
never excludes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from demoforge.quality.checks_camera import check_dark_frame, check_frozen_frame
from demoforge.quality.checks_camera_timing import (
    check_camera_rate,
    check_camera_sync,
    check_frame_drop,
    check_stale_frame,
)
from demoforge.quality.checks_dataset import (
    DatasetCheck,
    check_camera_settings,
    check_length_outlier,
    check_near_duplicate,
    check_speed_outlier,
    check_start_pose,
)
from demoforge.quality.checks_format import check_format
from demoforge.quality.checks_integrity import check_integrity, check_short_episode, check_success_label
from demoforge.quality.checks_motion import (
    check_dead_joint,
    check_joint_limit,
    check_stall,
    check_tracking_error,
)
from demoforge.quality.checks_operator import check_action_spike, check_idle, check_pause
from demoforge.quality.checks_timing import check_control_rate
from demoforge.quality.episode import Episode
from demoforge.quality.findings import ERROR, WARNING, Finding, Severity
from demoforge.quality.thresholds import Thresholds

EpisodeCheck = Callable[[Episode, Thresholds], list[Finding]]


@dataclass(frozen=True)
class Check:
    id: str  # as report.json and splits.json carry it
    severity: Severity  # the most it reports: error checks can exclude an episode
    scope: Literal["episode", "dataset"]  # one episode at a time, or each episode against the others
    run: EpisodeCheck | DatasetCheck
    finds: str  # what it finds and what to do, for docs/quality-checks.md
    thresholds: tuple[str, ...] = ()  # the Thresholds fields that tune it


def _e(id: str, sev: Severity, run: EpisodeCheck, finds: str, *th: str) -> Check:
    return Check(id, sev, "episode", run, finds, th)


def _d(id: str, sev: Severity, run: DatasetCheck, finds: str, *th: str) -> Check:
    return Check(id, sev, "dataset", run, finds, th)


# In the order of the report: integrity first, the episode's own checks, then the dataset's.
# fmt: off
CHECKS: list[Check] = [
    _e("integrity", ERROR, check_integrity,
       "The file is whole: opens, has the ALOHA datasets with one row per tick, no NaN/Inf, every JPEG "
       "decodes, the recorder closed it. Restore or recover (`demoforge recover`) or re-record.",
       "merge_gap_s"),
    _e("format", ERROR, check_format,
       "A LeRobot dataset's files agree: timestamps are frame_index / fps within LeRobot's 1e-4 s, each "
       "video holds one frame per table row, frame_index / index / episode_index / task_index match "
       "the episodes and tasks tables, info.json's totals and meta/stats.json match the data. "
       "Re-convert or repair the dataset."),
    _e("control_rate", ERROR, check_control_rate,
       "Tick timestamps: monotonic, the rate over sliding windows above the floor, no stall longer "
       "than `max_stall_s` (errors); shorter stalls, jitter and overruns are warnings.",
       "nominal_fps", "min_rate_fraction", "rate_window_s", "max_stall_s", "max_control_gap_periods",
       "max_jitter_ms", "overrun_periods", "max_overrun_fraction"),
    _e("frame_drop", ERROR, check_frame_drop,
       "Frames the camera never delivered, judged from the camera's own counter and clock where the "
       "file has them (device_index / device_time), else from host capture times, where a late "
       "delivery is not a loss; what the loop skips by sampling (equal rates alias) is normal. Bursts "
       "of lost frames and ticks without any frame are errors; a single missing frame is not reported "
       "(it cannot be told from a late frame the loop skipped). OpenCV's counter counts the frames "
       "it read, so for OpenCV cameras losses are estimated from capture times.",
       "drop_gap_periods", "drop_min_frames", "rate_slack"),
    _e("camera_rate", WARNING, check_camera_rate,
       "A camera delivering well below its configured fps for a sustained time, named with the likely "
       "cause (auto exposure in a dim scene, USB bandwidth); no frame is lost, it runs slower.",
       "camera_rate_tolerance", "camera_rate_min_s"),
    _e("stale_frame", ERROR, check_stale_frame,
       "A frame older than a few camera periods (measured) when the tick used it: the camera thread "
       "fell behind.",
       "stale_periods"),
    _e("frozen_frame", ERROR, check_frozen_frame,
       "Identical image content while the camera's counter advances: a driver repeating its buffer.",
       "frozen_min_frames"),
    _e("dark_frame", ERROR, check_dark_frame,
       "Black or saturated frames: a run of frames is an error (lens cap, light, exposure), one or two "
       "a warning (a hand or a flash passing).",
       "image_samples", "dark_max_mean", "saturated_min_mean", "dark_min_frames"),
    _e("camera_sync", ERROR, check_camera_sync,
       "Cameras whose frames used at one tick were captured too far apart, for longer than aliasing or "
       "one late delivery lasts.",
       "max_camera_skew_periods", "sync_min_periods"),
    _e("idle", WARNING, check_idle,
       "The operator standing still at the start of an episode, or at the end for longer than the "
       "hold a policy must learn to do once the task is done; `split` trims it from training (at "
       "the end, only what goes beyond that hold) so ACT does not learn to wait (an episode where "
       "nothing moves is a `pause`).",
       "pause_motion_rad", "idle_min_s", "idle_end_keep_s"),
    _e("pause", ERROR, check_pause,
       "The operator (leader readings, else the command) not moving mid-episode for over 0.5 s, or "
       "never moving at all; the follower's servo dither does not hide it. Trimmed instead with "
       "`trim_pauses`.",
       "pause_motion_rad", "pause_min_s", "trim_pauses"),
    _e("joint_limit", ERROR, check_joint_limit,
       "Follower position or command past the rig's joint limits: a hair for a moment is a warning, "
       "beyond the tolerance or for long an error. The limits are the episode's `joint_limits` "
       "attribute, or, for datasets that record none (LeRobot, plain ALOHA files), `check --rig RIG` "
       "(rad) or `--limits FILE` (`joint = [low, high]` in the dataset's units, docs/lerobot.md), "
       "matched by joint name; those win over the attribute, and joints they do not name are reported "
       "as not checked.",
       "joint_limit_noise", "joint_limit_tolerance", "joint_limit_max_s", "joint_limits"),
    _e("dead_joint", ERROR, check_dead_joint,
       "A follower joint that never moves although commanded (error: dead motor, cable, torque off), "
       "or a leader/command dimension that never moves (warning: dead encoder or cable).",
       "dead_joint_range"),
    _e("stall", ERROR, check_stall,
       "A follower joint stuck behind its moving command with its effort at its limit: it pushed "
       "against an obstacle (grippers excluded: squeezing is what they do).",
       "stall_offset_rad", "stall_effort_ratio", "stall_min_s"),
    _e("success_label", ERROR, check_success_label,
       "The operator's label must say success (1); unlabelled (-1) fails unless allowed.",
       "allow_unlabelled"),
    _e("short_episode", WARNING, check_short_episode,
       "An episode shorter than ACT's action chunk (100 ticks): its training samples are mostly padding.",
       "min_episode_ticks"),
    _e("tracking_error", WARNING, check_tracking_error,
       "A steady follower-minus-command offset: calibration drift. A gripper held open by an object "
       "it grasps is told apart (judged only where the command is open). Not run on simulated "
       "followers (root attribute `sim`): there is no calibration to drift.",
       "tracking_offset_rad", "tracking_max_lag_ticks"),
    _e("action_spike", WARNING, check_action_spike,
       "A leader reading or command jumping faster than a hand moves: an encoder glitch or loose "
       "cable. Reports how often the teleop clamp fired there when the file records it.",
       "action_spike_rad_s"),
    _d("length_outlier", ERROR, check_length_outlier,
       "An episode much shorter or longer than the median of its task's episodes: aborted or padded.",
       "length_outlier_factor", "min_episodes_for_outliers"),
    _d("near_duplicate", ERROR, check_near_duplicate,
       "An episode repeating an earlier one's commands from the same scene (first frames pixel-for-pixel "
       "equal; different scenes are never duplicates): an error for identical data, a copied file (the "
       "later copy is excluded, so it cannot sit in both train and val); a warning otherwise (a replay, "
       "a scripted operator repeating itself).",
       "near_duplicate_rad"),
    _d("speed_outlier", WARNING, check_speed_outlier,
       "Mean joint speed far from the median of its task's episodes: a rushed or hesitant operator.",
       "speed_outlier_factor", "min_episodes_for_outliers"),
    _d("start_pose", WARNING, check_start_pose,
       "An episode starting far from the usual start pose (each joint in its own unit, angles with "
       "wrap-around); one dataset finding instead when the dataset has no common start pose.",
       "start_pose_rad", "start_pose_spread_fraction"),
    _d("camera_settings", WARNING, check_camera_settings,
       "Camera settings or intrinsics differing from the dataset's usual ones: another camera or "
       "configuration changes what the policy sees.",
       "min_episodes_for_outliers"),
]
# fmt: on

CHECK_IDS: tuple[str, ...] = tuple(c.id for c in CHECKS)
SEVERITY: dict[str, Severity] = {c.id: c.severity for c in CHECKS}
EPISODE_CHECKS: list[Check] = [c for c in CHECKS if c.scope == "episode"]
DATASET_CHECKS: list[Check] = [c for c in CHECKS if c.scope == "dataset"]
