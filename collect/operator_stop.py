"""The operator's choices around the stop key, shared by `record`, `teleop` and `deploy`.

Attended (keys on a terminal), the followers go to the rest pose only on a confirmed request: `r`
then `y` while stopped, or `y` to the question asked when the session ends (`q`, the last episode,
a fault). Anything else leaves them holding where they are (goal = present position, torque on):
a person near the arm decides when it moves on its own. Unattended, nobody can confirm: the rig's
`safety.rest_on_exit` is the standing request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

HOLD_PROMPT = "STOPPED: the followers hold where they are. c = continue, r = rest the arms and quit"
REST_PROMPT = "rest? the followers will move to the rest pose on their own. y = rest and quit, other = back"
END_PROMPT = (
    "ending: y = rest the arms (they move to the rest pose, then torque off), "
    "n = leave them holding where they are (torque on: support them before you cut the power)"
)

NextKey = Callable[[], str | None]  # waits a few ticks, returns a key pressed meanwhile (or None)


class RestAndQuit(Exception):
    """The operator confirmed a rest from the stop menu: end the session, resting the followers."""


def hold_menu(loop: Any, next_key: NextKey, say: Callable[[str], None]) -> None:
    """While the followers hold (`loop.halt_flag` set): return after `c` (the loop resumed), raise
    RestAndQuit after `r` and `y`. Other keys, the stop key included, change nothing."""
    say(HOLD_PROMPT)
    while True:
        key = next_key()
        if key == "c":
            loop.resume()
            return
        if key == "r":
            if _answer(next_key, say, REST_PROMPT) == "y":
                raise RestAndQuit
            say(HOLD_PROMPT)


def ask_rest(next_key: NextKey, say: Callable[[str], None]) -> bool:
    """At the end of an attended session: True (rest) only on `y`; `n` leaves the followers holding."""
    while True:
        key = _answer(next_key, say, END_PROMPT)
        if key in ("y", "n"):
            return key == "y"


def _answer(next_key: NextKey, say: Callable[[str], None], prompt: str) -> str:
    say(prompt)
    while (key := next_key()) is None:
        pass
    return key


def run_attended(
    loop: Any,
    keys: Any,
    say: Callable[[str], None],
    seconds: float = math.inf,
    status_every_s: float = 1.0,
    view: Any = None,
) -> bool:
    """`teleop` and `deploy` with a terminal: run until `q` or `seconds`, the stop key handled every
    few ticks (the hold itself is on the tick: `loop.halt_flag`). Returns whether to rest at the end.
    view: a LiveView (`--view`), sampled from this thread every few ticks, never from the control thread."""

    next_key = ticks_and_keys(loop, keys)
    end = time.monotonic() + seconds
    t0 = last_status = time.monotonic()
    while time.monotonic() < end and loop.running:
        key = next_key()
        if view is not None:
            view.sample_loop(loop, loop.ticks, time.monotonic() - t0)
        reasons = loop.hardware_holding()
        if reasons:  # a follower held on its own (effort, heat): the same choice as after the stop key
            say("; ".join(reasons))
            loop.halt()
        if loop.halt_flag.is_set():
            try:
                hold_menu(loop, next_key, say)
            except RestAndQuit:
                return True
            say("running: h = stop (hold), q = quit")
        elif key == "q":
            return ask_rest(next_key, say)
        if time.monotonic() - last_status >= status_every_s:
            rate, p99 = loop.recent.recent(int(loop.rig.fps))
            say(f"{rate:6.2f} Hz  p99 jitter {p99:.2f} ms  overruns {loop.clock.overruns}")
            last_status = time.monotonic()
    return ask_rest(next_key, say) if loop.running else False


def wait_for_start(loop: Any, next_key: NextKey, say: Callable[[str], None], prompt: str) -> bool:
    """Until the operator presses SPACE (True) or `q` (False), the stop key handled as everywhere."""
    say(prompt)
    while True:
        key = next_key()
        if loop.halt_flag.is_set():
            hold_menu(loop, next_key, say)
            say(prompt)
        elif key == " ":
            return True
        elif key == "q":
            return False


def ticks_and_keys(loop: Any, keys: Any) -> NextKey:
    """`NextKey` while the control loop runs: 5 ticks, then a key; the loop's fault raised."""

    def next_key() -> str | None:
        loop.wait_ticks(5)
        if loop.fault is not None:
            raise loop.fault
        if not loop.running:
            raise RuntimeError("the control loop stopped")
        return keys.poll()

    return next_key


def keys_only(keys: Any, period_s: float = 0.05) -> NextKey:
    """`NextKey` for when the control loop has stopped (a fault): the keys alone, polled."""

    def next_key() -> str | None:
        time.sleep(period_s)
        return keys.poll()

    return next_key
