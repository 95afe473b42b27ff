"""Samples, their summaries, and how figures are written."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class Series:
    """Timings of one measured step, in seconds."""

    samples: list[float] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else math.nan

    @property
    def p95(self) -> float:
        """Nearest-rank 95th percentile (the largest sample when there are fewer than 20)."""
        if not self.samples:
            return math.nan
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def max(self) -> float:
        return max(self.samples) if self.samples else math.nan

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "median": self.median,
            "p95": self.p95,
            "max": self.max,
            "samples": self.samples,
        }


def seconds(value: float) -> str:
    """A duration in the unit that reads best: 0.012 ms, 1.23 ms, 123 ms, 4.56 s."""
    if math.isnan(value):
        return "n/a"
    ms = value * 1000
    if ms < 0.1:
        return f"{ms:.3f} ms"
    if ms < 10:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if value < 100:
        return f"{value:.2f} s"
    return f"{value:.0f} s"


#: The multiplication sign, for speed-ups ("12" + X).
X = "\u00d7"


def ratio(baseline: float, value: float) -> float:
    """How many times faster ``value`` is than ``baseline``."""
    if math.isnan(baseline) or math.isnan(value) or value <= 0:
        return math.nan
    return baseline / value


def times(factor: float) -> str:
    """A speed-up: 12,345x, 123x, 12x, 3.4x, 0.85x (slower)."""
    if math.isnan(factor):
        return "n/a"
    if factor >= 100:
        return f"{factor:,.0f}{X}"
    if factor >= 10:
        return f"{factor:.0f}{X}"
    return f"{factor:.2f}{X}" if factor < 1 else f"{factor:.1f}{X}"
