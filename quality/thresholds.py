"""Every quality threshold in one frozen dataclass: default and reason beside each field.

A thresholds TOML holds any subset of these keys at the top level (or under `[thresholds]`):

    min_rate_fraction = 0.85
    pause_min_s = 1.0
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demoforge.schemas.toml_config import from_table, read_toml


@dataclass(frozen=True)
class Thresholds:
    """Quality thresholds. Each field: its default, then why that default."""

    # -- control rate ------------------------------------------------------------------------------
    # Rate assumed when an episode has no `fps` attribute: ALOHA records at 50 Hz.
    nominal_fps: float = 50.0
    # Achieved rate below 0.9 x fps (45 Hz at 50 Hz) is an error: ACT's 100-action chunks would then
    # span a different time than at deployment.
    min_rate_fraction: float = 0.9
    # One tick period longer than 5 periods (0.1 s at 50 Hz) is an error: the arm moved unobserved.
    max_control_gap_periods: float = 5.0
    # p99 of |period - median period| above 4 ms (20 % at 50 Hz) is a warning: not on deadlines.
    max_jitter_ms: float = 4.0
    # A tick period over 1.5 nominal periods counts as an overrun ...
    overrun_periods: float = 1.5
    # ... and more than 1 % of ticks overrunning is a warning (the host is too loaded).
    max_overrun_fraction: float = 0.01
    # -- cameras -----------------------------------------------------------------------------------
    # Frame-counter or capture-time gap beyond 1.5 camera periods between new frames = a drop.
    drop_gap_periods: float = 1.5
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
    # Cameras' capture times at one tick further apart than this many periods of the slower camera
    # = out of sync. Free-running cameras' latest frames differ by up to one period (33 ms at 30 fps);
    # 1.5 periods means one of them lags.
    max_camera_skew_periods: float = 1.5
    # -- motion ------------------------------------------------------------------------------------
    # A joint "moves" when its range over the window exceeds 0.01 rad (0.6 deg: above encoder
    # noise, below any deliberate motion).
    pause_motion_rad: float = 0.01
    # No joint of leader or follower moving for longer than this = pause (error).
    pause_min_s: float = 0.5
    # Stillness touching the first or last tick is the operator settling in or reaching for the
    # stop pedal, not a pause in the demonstration; set true to count it.
    pause_count_edges: bool = False
    # Rad (or gripper units) beyond the rig's joint limits before it counts: encoder resolution.
    joint_limit_tolerance: float = 0.02
    # A command jump between two ticks above 0.3 rad (15 rad/s at 50 Hz) = spike (warning).
    action_spike_rad: float = 0.3
    # Median follower-minus-command offset above this = calibration drift (warning).
    tracking_offset_rad: float = 0.05
    # The follower trails its command; the best lag up to this many ticks is compared.
    tracking_max_lag_ticks: int = 5
    # Findings of one check closer than this merge into one span (one message per incident).
    merge_gap_s: float = 0.1
    # -- labels ------------------------------------------------------------------------------------
    # success = -1 (never labelled) is an error unless allowed: unlabelled may hide failures.
    allow_unlabelled: bool = False
    # -- dataset outliers --------------------------------------------------------------------------
    # Length outside [median / 2, 2 x median] = error: an aborted or padded demonstration.
    length_outlier_factor: float = 2.0
    # Mean joint speed outside [median / 2, 2 x median] = warning: a rushed or hesitant operator.
    speed_outlier_factor: float = 2.0
    # A start joint further than this from the dataset's median start = warning: scene not reset.
    start_pose_rad: float = 0.3
    # With fewer readable episodes there is no median worth comparing to: outlier checks skip.
    min_episodes_for_outliers: int = 3

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
