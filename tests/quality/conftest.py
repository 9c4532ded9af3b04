"""Shared helpers for the quality tests: spans of planted defects and finding lookups."""

from __future__ import annotations

from demoforge.quality.findings import Finding
from tests.factories import FPS, Recording

TOL_S = 0.045  # a span may be off by one tick (plus timing jitter) at its edges


def planted(r: Recording, a: int, b: int) -> tuple[float, float]:
    """Seconds of episode time covered by ticks [a, b) of a recording."""
    return float(r.ts[a]), float(r.ts[b - 1] + 1 / FPS)


def has_span(findings: list[Finding], check: str, span: tuple[float, float], tol: float = TOL_S) -> bool:
    return any(
        f.check == check and abs(f.start_s - span[0]) <= tol and abs(f.end_s - span[1]) <= tol
        for f in findings
    )


def errors(findings: list[Finding]) -> set[str]:
    return {f.check for f in findings if f.severity == "error"}
