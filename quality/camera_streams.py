"""One camera's frames as the camera made them: which ticks got a new frame, its period, what was lost.

Judged from the camera's side where the file has it: the device's own counter (`device_index`) and
clock (`device_time`), then the recorded `frame_index` when it is the camera's counter (not for
OpenCV, whose counter is the reader's own count of frames it received), and the host's capture
times last. Host capture times include late deliveries (a frame reaching the host 20 ms late, the
next one on time); a late frame is not a lost one, so a slip in host time counts as a loss only when
the following frames do not make up for it.

What the loop may skip is normal: it takes the latest frame at each tick, so between two ticks it
skips every frame but the last. At equal loop and camera rates the two clocks alias (one frame used
twice, then one skipped); a camera faster than the loop skips by design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from demoforge.quality.episode import Episode
from demoforge.quality.findings import CheckSkipped
from demoforge.quality.thresholds import Thresholds
from demoforge.schemas import episode_layout as L

PERIOD_WINDOW = 8  # events each side in the rolling median of the camera period
COMPENSATION_EVENTS = 2  # a host-time slip undone within this many frames was a late delivery


@dataclass
class CameraStream:
    """The frames of one camera over an episode; per-event arrays are aligned with `events`."""

    cam: str
    events: np.ndarray  # (K,) ticks that got a new frame (the first tick with a frame included)
    missing: np.ndarray  # (T,) bool: ticks without any frame (counter -1, time NaN)
    period: np.ndarray  # (K,) s, the camera's measured period around each event
    period_bound: np.ndarray  # (K,) s, the longer of that and the period a little later: for limits
    lost: np.ndarray  # (K,) frames the camera never delivered just before each event
    source: str  # what the losses are judged from, for messages
    exact: bool  # `lost` counted by the camera's own counter (else estimated from times)
    measurable_rate: bool  # whether `period` is the camera's rate (not the loop's sampling of it)
    counter: np.ndarray | None  # (T,) the counter that defines new frames, if any
    host_time: np.ndarray | None  # (T,) host capture times, if recorded
    _latest: np.ndarray | None = None  # (T,) index of the latest event at each tick, computed once

    def period_at_ticks(self, length: int, bound: bool = False) -> np.ndarray:
        """(T,) the measured period in force at each tick (that of the latest event); `bound`: the
        longer of it and the period a little later (limits that must not trip as a camera slows)."""
        if not len(self.events):
            return np.full(length, np.nan)
        if self._latest is None:
            self._latest = np.clip(np.searchsorted(self.events, np.arange(length), side="right") - 1, 0, None)
        return (self.period_bound if bound else self.period)[self._latest]


def _has_frame(*arrays: np.ndarray | None) -> np.ndarray:
    """Ticks with a frame: the recorder writes counter -1 and time NaN when the camera had none yet."""
    n = next(len(a) for a in arrays if a is not None)
    ok = np.ones(n, dtype=bool)
    for a in arrays:
        if a is None:
            continue
        ok &= np.isfinite(a) if a.dtype.kind == "f" else a >= 0
    return ok


def _rolling_median(x: np.ndarray, w: int) -> np.ndarray:
    """Median of x[k - w .. k + w] (edges reflected); NaN entries count as the overall median."""
    good = np.isfinite(x)
    if not good.any():
        return x.copy()
    mid = float(np.median(x[good]))
    x = np.where(good, x, mid)
    if len(x) <= 2 * w + 1:
        return np.full(len(x), mid)
    blocks = np.median(x[: len(x) // (2 * w) * 2 * w].reshape(-1, 2 * w), axis=1)
    if np.ptp(blocks) <= 0.05 * mid:  # a steady camera (the usual case): one median will do
        return np.full(len(x), mid)
    padded = np.concatenate((x[w:0:-1], x, x[-2 : -w - 2 : -1]))  # reflected edges (np.pad is slow)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * w + 1)
    return np.partition(windows, w, axis=1)[:, w]  # the middle of 2w + 1 values, without a full sort


def _fill(p: np.ndarray, fallback: float) -> np.ndarray:
    good = np.isfinite(p) & (p > 0)
    if not good.any():
        return np.full(len(p), fallback)
    idx = np.where(good, np.arange(len(p)), 0)
    np.maximum.accumulate(idx, out=idx)  # carry the last good value forward ...
    out = p[idx]
    first = int(np.argmax(good))
    out[:first] = p[first]  # ... and the first good value backward
    return out


def camera_stream(ep: Episode, cam: str, th: Thresholds) -> CameraStream:
    """The camera's stream (computed once per episode and camera)."""
    cache = ep.streams
    if cam not in cache:
        cache[cam] = _build(ep, cam, th)
    return cache[cam]


def _build(ep: Episode, cam: str, th: Thresholds) -> CameraStream:
    fidx = ep.raw(L.frame_index_path(cam))
    ft = ep.raw(L.frame_time_path(cam))
    if fidx is None and ft is None:
        raise CheckSkipped("no frame_index or frame_time datasets")
    missing = ~_has_frame(fidx, ft)
    # the device's clock and counter are trusted only where they cover every tick that has a frame
    # (a device may give none for some frames: fill values NaN / -1)
    didx = ep.optional(L.device_index_path(cam))
    dtime = ep.optional(L.device_time_path(cam))
    if didx is not None and not (didx[~missing] >= 0).all():
        didx = None
    if dtime is not None and not np.isfinite(dtime[~missing]).all():
        dtime = None
    reader_count = ep.camera_type(cam) == "opencv"  # OpenCV counts the frames it read, not the camera's
    counter = didx if didx is not None else fidx if fidx is not None and not reader_count else None
    reads = fidx if reader_count and didx is None else None
    time = dtime if dtime is not None else ft
    host = dtime is None
    key = counter if counter is not None else reads if reads is not None else time
    assert key is not None
    valid = np.flatnonzero(~missing)
    if not len(valid):
        return CameraStream(
            cam, valid, missing, np.zeros(0), np.zeros(0), np.zeros(0, int), "", True, False, key, ft
        )
    events = np.concatenate((valid[:1], valid[1:][key[valid[1:]] != key[valid[:-1]]]))

    nominal_fps = ep.camera_fps(cam)
    count = counter if counter is not None else reads
    dtau = np.diff(time[events]) if time is not None else np.full(len(events) - 1, np.nan)
    if count is not None:
        dcount = np.diff(count[events]).astype(float)
        per = np.where(dcount > 0, dtau / np.where(dcount > 0, dcount, 1), np.nan)
        measurable = time is not None
    elif nominal_fps <= ep.fps * (1 + th.rate_slack):
        per, measurable = dtau, True  # the loop sees every frame of a camera no faster than itself
    else:  # a faster camera is sampled by the loop: only the nominal rate can count its frames
        per = dtau / np.maximum(1, np.round(dtau * nominal_fps))
        measurable = False
    per = _fill(_rolling_median(np.concatenate(([np.nan], per)), PERIOD_WINDOW), 1.0 / nominal_fps)
    # the period a little later: where the rate changes (auto exposure) the gaps follow the new
    # period before the centred median does; a lost frame leaves the later period as it was
    later = np.concatenate((per[PERIOD_WINDOW:], np.full(min(PERIOD_WINDOW, len(per)), per[-1])))
    longer, shorter = np.maximum(per, later), np.minimum(per, later)

    # frames the loop may skip before event k: all but the last that arrived during the tick before it
    tick_dt = ep.times[events] - ep.times[np.maximum(events - 1, 0)]
    skip_allow = np.maximum(0, np.ceil(tick_dt / shorter * (1 + th.rate_slack)) - 1).astype(np.int64)
    lost = np.zeros(len(events), dtype=np.int64)
    # frames missed while the tick had no frame at all are that finding's, not counted again as lost
    gone = np.diff(np.concatenate(([0], np.cumsum(missing)))[events]) > 0
    if counter is not None:
        jump = np.diff(counter[events])
        lost[1:] = np.maximum(0, jump - 1 - skip_allow[1:]) * ~gone
        lost[1:][jump < 0] = max(1, th.drop_min_frames)  # the counter restarted: the camera reconnected
        source = "the device frame counter" if didx is not None else "the camera's frame counter"
        return CameraStream(cam, events, missing, per, longer, lost, source, True, measurable, key, ft)
    if time is None:
        raise CheckSkipped("no capture times and no camera counter")
    # frames of camera time between events: a gap of drop_gap_periods or more is one more frame
    slots = np.floor(dtau / longer[1:] - th.drop_gap_periods + 2).astype(np.int64)
    # frames the host received (skipped by the loop or not) when the reader counts them
    expected = np.diff(reads[events]) if reads is not None else 1 + skip_allow[1:]
    slip = slots - expected
    if host:  # a late delivery slips +1 and the next frame -1: only unreturned slips are losses
        back = np.zeros(len(slip), dtype=np.int64)
        for h in range(1, COMPENSATION_EVENTS + 1):
            back[:-h] += np.minimum(slip[h:], 0)
        slip = slip + back
    lost[1:] = np.maximum(0, slip) * ~gone
    source = "the device clock" if not host else "host capture times"
    return CameraStream(cam, events, missing, per, longer, lost, source, False, measurable, key, ft)
