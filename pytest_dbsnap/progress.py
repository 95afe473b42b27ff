"""Progress of long transfers: one line redrawn on a terminal, a line per quarter in a log."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO


class Meter:
    """Bytes moved so far: a line per quarter through ``line``, or one line redrawn on
    ``terminal`` when given."""

    def __init__(self, line: Callable[[str], None], terminal: TextIO | None = None) -> None:
        self.line = line
        self.terminal = terminal
        self.drawn = False
        self.last_draw = 0.0
        self.quarter = -1

    def __call__(self, done: int, total: int) -> None:
        share = min(done / total, 1.0) if total else 0.0
        text = f"{size_text(done)} of {size_text(total)} ({share:.0%})"
        if self.terminal is not None:
            now = time.monotonic()
            if now - self.last_draw >= 0.1 or share >= 1.0:
                self.terminal.write(f"\r  {text}\x1b[K")
                self.terminal.flush()
                self.drawn, self.last_draw = True, now
        elif total and int(share * 4) > self.quarter:
            self.quarter = int(share * 4)
            self.line(text)

    def finish(self) -> None:
        """End the current transfer: the next one starts from 0%."""
        if self.drawn and self.terminal is not None:
            self.terminal.write("\n")
        self.drawn, self.quarter = False, -1


def size_text(count: int) -> str:
    """``count`` bytes in decimal units, as Docker shows sizes."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
