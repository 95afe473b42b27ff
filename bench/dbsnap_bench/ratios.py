"""A figure and the baseline measured beside it, in the same run: their ratio.

Rows of this kind (import cost, reset cost, fixed cost of a session...) share
one table in the report; each says what was measured, against what, and
whether it meets its target (a ratio the measured figure must not exceed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .stats import Series, X, seconds


@dataclass
class Ratio:
    key: str
    what: str
    measured: Series
    baseline_what: str
    baseline: Series
    target: float | None = None
    unit: str = "wall"
    """``wall`` (seconds of wall time) or ``cpu`` (seconds of CPU time)."""

    @property
    def ratio(self) -> float:
        if not self.baseline.n or not self.measured.n or self.baseline.median == 0:
            return math.nan
        return self.measured.median / self.baseline.median

    @property
    def met(self) -> bool | None:
        if self.target is None or math.isnan(self.ratio):
            return None
        return self.ratio <= self.target

    def row(self) -> str:
        target = "" if self.target is None else f"≤ {self.target:g}{X}"
        met = {None: "", True: "yes", False: "**no**"}[self.met]
        return (
            f"| {self.what} | {seconds(self.measured.median)} | {self.baseline_what} | "
            f"{seconds(self.baseline.median)} | {self.ratio:.2f}{X} | {target} | {met} | "
            f"{self.unit} | {self.measured.n} |"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "what": self.what,
            "measured": self.measured.as_dict(),
            "baseline_what": self.baseline_what,
            "baseline": self.baseline.as_dict(),
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "unit": self.unit,
        }


HEAD = [
    "| figure | median | beside | its median | ratio | target | met | time | samples |",
    "|---|---|---|---|---|---|---|---|---|",
]


def table(rows: list[Ratio]) -> list[str]:
    return [*HEAD, *(r.row() for r in rows)] if rows else []
