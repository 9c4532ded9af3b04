"""What the operator decided about each episode of a session, counted apart for the display.

Kept episodes count toward `--episodes`; a discard (`d`) and a re-record (`r`) do not, and are shown
beside it ("2 kept of 3 · 1 discarded · 1 re-recorded"), so the count never says more were kept than
asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

OUTCOMES = ("kept", "discarded", "re-recorded")


@dataclass
class SessionTally:
    target: int  # episodes to keep
    kept: int = 0
    discarded: int = 0
    rerecorded: int = 0

    def add(self, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        if outcome == "kept":
            self.kept += 1
        elif outcome == "discarded":
            self.discarded += 1
        else:
            self.rerecorded += 1

    def line(self) -> str:
        others = ((self.discarded, "discarded"), (self.rerecorded, "re-recorded"))
        extra = [f"{n} {w}" for n, w in others if n]
        return " · ".join([f"{self.kept} kept of {self.target}", *extra])
