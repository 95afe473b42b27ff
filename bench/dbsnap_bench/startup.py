"""What installing the plugin costs a run that uses no database: CPU, side by side.

The same test-less pytest run (a folder with one plain test) with the plugin
and with ``-p no:dbsnap``, interleaved round by round; the CPU time (user +
system) of each child process is read from ``getrusage``, so other load on
the machine matters less than it would for wall time.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .ratios import Ratio
from .stats import Series

IMPORT_COST_TARGET = 1.15


def _cpu_of(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=cwd, env=env, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def import_cost(rounds: int, log: Callable[[str], None]) -> Ratio:
    """CPU of a plain pytest run with the plugin ÷ the same run with ``-p no:dbsnap``."""
    log(f"startup: {rounds} rounds of a test-less run, with and without the plugin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBSNAP_")}
    # As installed: with bytecode (this machine sets PYTHONDONTWRITEBYTECODE,
    # which makes every run compile and assertion-rewrite the plugin again).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"  # it must not be needed
    with_plugin, without = Series(), Series()
    with tempfile.TemporaryDirectory(prefix="dbsnap-bench-startup-") as folder:
        cwd = Path(folder)
        (cwd / "pytest.ini").write_text("[pytest]\n")
        (cwd / "test_plain.py").write_text("def test_plain():\n    pass\n")
        base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
        _cpu_of(base, cwd, env)  # warm the file cache and the bytecode
        for _ in range(rounds):
            with_plugin.samples.append(_cpu_of(base, cwd, env))
            without.samples.append(_cpu_of([*base, "-p", "no:dbsnap"], cwd, env))
    return Ratio(
        key="import_cost",
        what="CPU of a run with no database test (1 plain test), plugin installed",
        measured=with_plugin,
        baseline_what="the same run with `-p no:dbsnap`",
        baseline=without,
        target=IMPORT_COST_TARGET,
        unit="cpu",
    )
