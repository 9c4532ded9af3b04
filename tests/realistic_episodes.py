"""Episodes with the timing and motion of real hardware, as messy as real recordings.

Timing: a control loop on deadlines with sub-millisecond jitter and rare overruns; free-running
cameras whose clocks differ from the host's by ~0.1 %, frames reaching the host after a USB latency
and now and then 12-25 ms late; the loop takes each camera's latest frame. Cameras are RealSense
(device clock and frame counter) or OpenCV webcams (the recorded counter is the reader's own count;
V4L2 buffer times only when asked for).
Motion: an operator moving an ALOHA-like 2 x 7 joint leader through reach / grasp / carry / release
/ return with minimum-jerk strokes, hand tremor (8-12 Hz) and slow wander, read through 12-bit
encoders; a teleop clamp on the command; followers that trail their command, dither a few encoder
steps while holding, sag under load, and grippers that stop on the grasped object with their
current at its limit (or read a hair past their calibrated zero when squeezed shut).

`realistic_recording(...)` returns a `factories.Recording` plus the `Truth` of what was planted;
the `defect_*` functions damage it the way the real fault would and return the span they damaged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tests.factories import Recording

ARM = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")
JOINTS = [f"{side}_{j}" for side in ("left", "right") for j in ARM]
ARM_LIMITS = [
    (-3.14, 3.14),
    (-1.85, 1.26),
    (-1.76, 1.6),
    (-3.14, 3.14),
    (-1.87, 2.23),
    (-3.14, 3.14),
    (0.0, 1.0),
]
LIMITS = ARM_LIMITS * 2
HOME = np.array([0.0, -0.96, 1.16, 0.0, -0.3, 0.0, 0.9] * 2)
GRIPPERS = [j for j, n in enumerate(JOINTS) if n.endswith("gripper")]
ENCODER_STEP = 2 * np.pi / 4096  # rad per step of a 12-bit Dynamixel encoder
CLAMP_STEP = 0.15  # rad per tick the teleop clamp lets through
OBJECT_WIDTH = 0.3  # normalized gripper opening at which the grasped object stops the fingers
CAMS = ("cam_high", "cam_left_wrist", "cam_right_wrist")


@dataclass
class Truth:
    """What the generator knows about the episode (for the tests' expectations)."""

    idle_start_s: float = 0.0  # the operator's reaction time before the first move
    grasp: tuple[int, int] = (0, 0)  # ticks the gripper(s) hold the object
    frames_lost: dict[str, int] = field(default_factory=dict)


@dataclass
class CameraTiming:
    fps: float = 30.0  # configured
    kind: str = "realsense"  # realsense: device clock + counter; opencv: reader count
    v4l2_times: bool = False  # opencv only: record the driver's buffer times as device_time
    late_prob: float = 0.04  # frames reaching the host 12-25 ms late
    slow_from_s: float | None = None  # auto exposure halves the rate from this time on
    slow_fps: float = 15.0
    lost: tuple[int, ...] = ()  # frame numbers the camera never delivers


# -- motion ----------------------------------------------------------------------------------------


def _min_jerk(n: int) -> np.ndarray:
    s = np.linspace(0.0, 1.0, n)
    return 10 * s**3 - 15 * s**4 + 6 * s**5


def _operator(
    t: np.ndarray, rng: np.random.Generator, truth: Truth, start: np.ndarray, carry: float
) -> np.ndarray:
    """(T, J) leader readings of a human demonstrating reach / grasp / carry / release / return."""
    n, fps = len(t), 1.0 / float(np.median(np.diff(t)))
    x = np.repeat(start[None, :], n, axis=0)
    react = rng.uniform(0.1, 0.22)  # the operator starts within a human reaction time
    truth.idle_start_s = react
    # stroke boundaries in seconds: reach, close, carry, open, return (scaled to the episode)
    total = t[-1] - react - 0.05  # the operator presses stop as the arm arrives
    rest = (1.0 - carry) / 0.7
    parts = np.array([0.28 * rest, 0.08 * rest, carry, 0.08 * rest, 0.26 * rest]) * rng.uniform(0.9, 1.1, 5)
    bounds = react + np.concatenate(([0.0], np.cumsum(parts / parts.sum() * total)))
    tick = np.searchsorted(t, bounds)
    arm = [j for j in range(len(start)) if j not in GRIPPERS]
    pose = start.copy()
    lo, hi = np.array(LIMITS)[arm, 0] + 0.15, np.array(LIMITS)[arm, 1] - 0.15  # the leader's range

    def goal(around: np.ndarray) -> np.ndarray:
        return np.clip(around + rng.uniform(-0.6, 0.6, len(arm)), lo, hi)

    targets = [
        goal(pose[arm]),  # reach
        None,  # close the gripper
        goal(pose[arm]),  # carry
        None,  # open
        start[arm] + rng.normal(0, 0.02, len(arm)),  # return near home
    ]
    grip_open, grip_closed = start[GRIPPERS], np.full(len(GRIPPERS), -0.004)  # squeezed past zero
    for k, goal in enumerate(targets):
        a, b = int(tick[k]), int(min(tick[k + 1], n))
        if b <= a:
            continue
        # each joint starts its stroke a little early or late: a hand never stops all joints at once
        for jj, j in enumerate(arm if goal is not None else GRIPPERS):
            lag = int(rng.integers(-round(0.08 * fps), round(0.08 * fps) + 1))
            a2, b2 = max(0, a + lag), min(n, b + lag)
            frm = x[a2 - 1, j] if a2 > 0 else x[0, j]
            to = goal[jj] if goal is not None else (grip_closed[jj] if k == 1 else grip_open[jj])
            x[a2:b2, j] = frm + (to - frm) * _min_jerk(b2 - a2)
            x[b2:, j] = to
    truth.grasp = (int(tick[2]), int(tick[4]))
    # slow wander and tremor (arm joints), read through the encoder
    wander = np.cumsum(rng.normal(0, 0.0015, (n, len(start))), axis=0)
    wander -= np.linspace(0, 1, n)[:, None] * wander[-1]
    f = rng.uniform(8, 12, len(start))
    tremor = 0.002 * np.sin(2 * np.pi * f * t[:, None] + rng.uniform(0, 6.3, len(start)))
    moving = np.zeros(n, dtype=bool)
    moving[int(tick[0]) : int(tick[-1])] = True  # before the first stroke the hand rests on the leader
    x[:, arm] += ((wander + tremor) * np.where(moving, 1.0, 0.2)[:, None])[:, arm]
    x[:, arm] = np.round(x[:, arm] / ENCODER_STEP) * ENCODER_STEP
    x[:, GRIPPERS] += rng.normal(0, 0.0015, (n, len(GRIPPERS)))
    return x.astype(np.float32)


def _command(leader: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The teleop clamp: each tick's command moves at most CLAMP_STEP from the previous one."""
    a = leader.copy()
    clamped = np.zeros(len(a), dtype=np.uint8)
    for i in range(1, len(a)):
        step = a[i] - a[i - 1]
        over = np.abs(step) > CLAMP_STEP
        if over.any():
            a[i] = np.where(over, a[i - 1] + np.sign(step) * CLAMP_STEP, leader[i])
            clamped[i] = 1
    return a, clamped


def _follower(
    a: np.ndarray, rng: np.random.Generator, holding: tuple[int, int], object_held: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(T, J) follower positions and present current: trailing servos with dither, sag and a grasp."""
    n = len(a)
    q = np.empty_like(a)
    q[0] = a[0]
    for i in range(1, n):
        q[i] = q[i - 1] + 0.55 * (a[i - 1] - q[i - 1])
    g0, g1 = holding
    if object_held:
        for j in GRIPPERS:  # fingers stop on the object while the command squeezes further
            q[g0:g1, j] = np.maximum(q[g0:g1, j], OBJECT_WIDTH + rng.normal(0, 0.002, g1 - g0))
        q[g0:g1, [1, 8]] -= 0.012  # shoulders sag a little under the load
    q += rng.integers(-1, 2, q.shape) * ENCODER_STEP * (rng.random(q.shape) < 0.3)  # servo dither
    err = a - q
    effort = 40 * err + rng.normal(0, 4, a.shape)
    effort[:, [1, 8]] += 120 * np.cos(q[:, [1, 8]])  # gravity on the shoulders
    for j in GRIPPERS:
        effort[:, j] = np.clip(1200 * err[:, j], -300, 300) + rng.normal(0, 3, n)  # current limit 300
    return q.astype(np.float32), effort.astype(np.float32)


# -- cameras ---------------------------------------------------------------------------------------


def _camera(
    ts: np.ndarray, cam: CameraTiming, rng: np.random.Generator, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Per tick: host capture time, recorded counter, device time, device counter, frame number shown."""
    drift = rng.uniform(-0.001, 0.001)  # the camera's crystal against the host's
    end = ts[-1] + 0.1
    born = [-0.5 + rng.uniform(0, 1 / cam.fps)]  # started before the loop (the recorder settles first)
    while born[-1] < end:
        fps = cam.slow_fps if cam.slow_from_s is not None and born[-1] >= cam.slow_from_s else cam.fps
        born.append(born[-1] + (1 + drift) / fps)
    p = np.array(born)  # host time each frame was captured
    n = np.arange(len(p))
    arrive = p + 0.008 + rng.normal(0, 0.0005, len(p))
    late = rng.random(len(p)) < cam.late_prob
    arrive[late] += rng.uniform(0.012, 0.025, late.sum())
    arrive = np.maximum.accumulate(arrive)  # USB delivers in order
    kept = ~np.isin(n, cam.lost)
    p, n, arrive = p[kept], n[kept], arrive[kept]
    used = np.searchsorted(arrive, ts, side="right") - 1  # the loop takes the latest frame
    assert used.min() >= 0
    device_time = 1000.0 + k * 17.3 + (p - p[0]) / (1 + drift)  # the camera's own clock
    if cam.kind == "realsense":
        return arrive[used], 40 + n[used], device_time[used], 40 + n[used], n[used]
    reads = np.arange(len(n))  # OpenCV counts what it read: a lost frame leaves no gap
    dtime = p[used] + 0.001 if cam.v4l2_times else None  # V4L2 stamps in the kernel, on host clock
    return arrive[used], reads[used], dtime, None, n[used]


# -- the episode -----------------------------------------------------------------------------------


def realistic_recording(
    seconds: float = 6.0,
    *,
    seed: int = 0,
    loop_hz: float = 50.0,
    cameras: dict[str, CameraTiming] | None = None,
    object_held: bool = True,
    start: np.ndarray | None = None,
    task: str = "transfer",
    carry: float = 0.3,
    stall: tuple[float, float] | None = None,
) -> tuple[Recording, Truth]:
    """One episode; `carry` is the fraction of it spent holding the object, `stall` a loop stall (at, s)."""
    rng = np.random.default_rng(seed)
    cameras = cameras if cameras is not None else {c: CameraTiming() for c in CAMS}
    n = round(seconds * loop_hz)
    ts = np.arange(n) / loop_hz + rng.normal(0, 0.0003, n)
    over = rng.random(n) < 0.005  # a rare overrun: that tick starts 3-8 ms late, the next on time
    ts[over] += rng.uniform(0.003, 0.008, over.sum())
    ts[0] = 0.0
    if stall is not None:  # the loop stalls once; the cameras run on
        ts[np.searchsorted(ts, stall[0]) :] += stall[1]
    truth = Truth()
    pose = (HOME + rng.normal(0, 0.03, len(HOME))) if start is None else start.copy()
    pose[GRIPPERS] = HOME[GRIPPERS]
    leader = _operator(ts, rng, truth, pose, carry)
    action, clamped = _command(leader)
    qpos, effort = _follower(action, rng, truth.grasp, object_held)
    rec = Recording(
        ts,
        qpos,
        action,
        leader,
        {},
        {},
        {},
        {},
        size=(24, 32),
        fps_attr=loop_hz,
        cam_fps=next(iter(cameras.values())).fps if cameras else loop_hz,
        serials={c: f"RS{k}" for k, c in enumerate(cameras)},
        task=task,
        joint_names=list(JOINTS),
        limits=list(LIMITS),
        effort=effort,
        cam_type=next(iter(cameras.values())).kind if cameras else "synthetic",
        clamped=clamped,
    )
    for k, (c, timing) in enumerate(cameras.items()):
        ft, fidx, dtime, didx, shown = _camera(ts, timing, rng, k)
        rec.frame_time[c], rec.frame_index[c], rec.frame_src[c] = ft, fidx.astype(np.int64), shown
        rec.frame_kind[c] = np.full(n, "normal", dtype="<U9")
        if dtime is not None:
            rec.device_time[c] = dtime
        if didx is not None:
            rec.device_index[c] = didx.astype(np.int64)
        truth.frames_lost[c] = len(timing.lost)
    return rec, truth


# -- defects: each damages the recording the way the real fault would, returns the ticks [a, b) ----


def _ticks(r: Recording, s0: float, s1: float) -> tuple[int, int]:
    return int(np.searchsorted(r.ts, s0)), int(np.searchsorted(r.ts, s1))


def _hold(r: Recording, a: int, b: int, rng: np.random.Generator) -> None:
    """The operator holds still over [a, b) (tremor only) and carries on where they were afterwards."""
    n = b - a
    for arr in (r.leader, r.action):
        rest = arr[a : len(arr) - n].copy()
        arr[a:b] = arr[a - 1 if a else 0] + rng.normal(0, 0.0015, (n, arr.shape[1]))
        arr[b:] = rest
    r.qpos[:] = _follow_again(r, rng)


def _follow_again(r: Recording, rng: np.random.Generator) -> np.ndarray:
    q, effort = _follower(r.action, rng, (0, 0), False)
    r.effort = effort
    return q


def defect_late_start(r: Recording, seconds: float = 2.5, seed: int = 1) -> tuple[int, int]:
    """The operator starts `seconds` late: the leader rests at its start pose first."""
    a, b = 0, _ticks(r, 0, seconds)[1]
    _hold(r, 0, b, np.random.default_rng(seed))
    return a, b


def defect_early_stop(r: Recording, seconds: float = 2.0, seed: int = 2) -> tuple[int, int]:
    """The operator stops `seconds` before the recording ends and waits for the stop pedal."""
    a = _ticks(r, r.ts[-1] - seconds, r.ts[-1])[0]
    rng = np.random.default_rng(seed)
    for arr in (r.leader, r.action):
        arr[a:] = arr[a - 1] + rng.normal(0, 0.0015, (r.length - a, arr.shape[1]))
    r.qpos[:] = _follow_again(r, rng)
    return a, r.length


def defect_pause(r: Recording, at_s: float = 2.0, seconds: float = 3.0, seed: int = 3) -> tuple[int, int]:
    """The operator freezes mid-task for `seconds` while the follower servos dither."""
    a, b = _ticks(r, at_s, at_s + seconds)
    _hold(r, a, b, np.random.default_rng(seed))
    return a - 1, b


def defect_leader_glitch(
    r: Recording, joint: int = 2, at_s: float = 3.0, size: float = 1.0
) -> tuple[int, int]:
    """One tick of a leader encoder reads `size` rad off; the clamp limits what reaches the follower."""
    i = _ticks(r, at_s, at_s)[0]
    r.leader[i, joint] += size
    r.action[:], r.clamped = _command(r.leader)
    return i - 1, i + 2


def defect_gripper_past_zero(r: Recording, a: int, joint: int = 6, seconds: float = 1.0) -> tuple[int, int]:
    """Squeezed shut on nothing, the follower gripper reads 0.03 past its calibrated zero for a second."""
    b = _ticks(r, r.ts[a], r.ts[a] + seconds)[1]
    r.qpos[a:b, joint] = -0.03 + np.random.default_rng(4).normal(0, 0.001, b - a)
    return a, b


def defect_dark(r: Recording, cam: str, a: int, b: int) -> tuple[int, int]:
    r.frame_kind[cam][a:b] = "black"
    return a, b


def defect_dead_follower(r: Recording, joint: int = 2) -> tuple[int, int]:
    """A follower motor that never moves (dead motor or torque off) while the leader commands it."""
    r.qpos[:, joint] = r.qpos[0, joint]
    return 0, r.length


def defect_obstacle(r: Recording, joint: int = 1, at_s: float = 2.0, seconds: float = 0.8) -> tuple[int, int]:
    """The follower's shoulder hits the table: it stops while the command keeps going down."""
    a, b = _ticks(r, at_s, at_s + seconds)
    block = float(r.qpos[a, joint])
    r.action[a:b, joint] = block + np.linspace(0.0, 0.35, b - a)
    r.leader[a:b, joint] = r.action[a:b, joint]
    r.qpos[a:b, joint] = block + np.random.default_rng(5).integers(-1, 2, b - a) * ENCODER_STEP
    assert r.effort is not None
    r.effort[a:b, joint] = 900.0 + np.random.default_rng(6).normal(0, 5, b - a)  # at the current limit
    return a, b


def defect_calibration_offset(r: Recording, joint: int = 4, offset: float = 0.12) -> None:
    r.qpos[:, joint] += offset


def near_copy(r: Recording, seed: int = 7) -> Recording:
    """The same demonstration recorded again by a replay: a few encoder steps of noise apart."""
    rng = np.random.default_rng(seed)
    import copy

    c = copy.deepcopy(r)
    for arr in (c.leader, c.action, c.qpos):
        arr += (rng.integers(-1, 2, arr.shape) * ENCODER_STEP).astype(np.float32)
    return c
