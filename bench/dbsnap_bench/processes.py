"""A command run to completion, timed around ``subprocess.run``; a failure shows its output."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def timed_run(argv: list[str], where: Path, env: dict[str, str]) -> float:
    """Wall seconds of ``argv`` (run in ``where`` with ``env``); raises when it fails."""
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=where, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
        raise RuntimeError(f"`{' '.join(argv)}` failed ({done.returncode}):\n{tail}")
    return seconds
