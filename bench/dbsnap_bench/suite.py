"""Wall time of the example suite: pytest-dbsnap against two baselines.

Every run is a separate ``pytest`` process in a copy of ``examples/shop``, timed with
``time.perf_counter`` around ``subprocess.run``: interpreter start, collection,
containers, tests and clean-up all count.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .seeds import BENCH, SHOP
from .stats import Series

Log = Callable[[str], None]

VARIANTS: dict[str, str] = {
    "dbsnap": "pytest-dbsnap (snapshot cached)",
    "dbsnap_cold": "pytest-dbsnap, cold (snapshot rebuilt in the run)",
    "fresh": "fresh container seeded per worker (testcontainers-style)",
    "serial": "serial, reset script (TRUNCATE + re-seed) after each test",
}
BASELINE_PLUGINS = {"fresh": "dbsnap_bench_fresh", "serial": "dbsnap_bench_serial"}


@dataclass
class SuiteRun:
    variant: str
    workers: int
    seconds: float
    passed: int
    command: str


@dataclass
class SuiteResult:
    selection: list[str]
    runs: list[SuiteRun] = field(default_factory=list)
    tests: str = ""

    def series(self, variant: str, workers: int) -> Series:
        return Series(
            [r.seconds for r in self.runs if r.variant == variant and r.workers == workers]
        )

    def command(self, variant: str, workers: int) -> str:
        for run in self.runs:
            if run.variant == variant and run.workers == workers:
                return run.command
        return ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "selection": self.selection,
            "tests": self.tests,
            "runs": [asdict(r) for r in self.runs],
        }


def command(
    variant: str, workers: int, selection: Sequence[str], image: str
) -> tuple[list[str], dict[str, str], str]:
    """argv, environment, and the same as a shell line to show in the report."""
    args = ["-q", "-p", "no:cacheprovider"]
    args += ["-p", "no:xdist"] if workers == 1 else ["-n", str(workers)]
    shown: dict[str, str] = {}
    if variant in ("dbsnap", "dbsnap_cold"):
        shown = {"DBSNAP_IMAGE": image, "DBSNAP_PROJECT": SHOP.project}
        if variant == "dbsnap_cold":
            shown["DBSNAP_REBUILD"] = "1"
    else:
        args += ["-p", "no:dbsnap", "-p", BASELINE_PLUGINS[variant]]
        # pytest.ini's dbsnap_* keys are unknown once the plugin is off.
        args += ["-W", "ignore::pytest.PytestConfigWarning"]
        shown = {
            "PYTHONPATH": os.path.relpath(BENCH / "baselines", SHOP.root),
            "BENCH_IMAGE": image,
            "BENCH_DBNAME": SHOP.dbname,
            "BENCH_SCHEMA_SQL": " ".join(SHOP.schema),
            "BENCH_DATA_SQL": " ".join(SHOP.data),
        }
    args += list(selection)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("DBSNAP_", "BENCH_", "PYTEST_"))
    }
    env.update(shown)
    if "PYTHONPATH" in shown:
        env["PYTHONPATH"] = str(BENCH / "baselines")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # leave examples/shop as it was
    line = " ".join(
        [f"{k}={shlex.quote(v)}" for k, v in shown.items()]
        + ["pytest", *(shlex.quote(a) for a in args)]
    )
    return [sys.executable, "-m", "pytest", *args], env, line


def run_once(
    variant: str, workers: int, selection: Sequence[str], image: str, where: Path, log: Log
) -> SuiteRun:
    argv, env, line = command(variant, workers, selection, image)
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        cwd=where,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        timeout=3600,
        check=False,
    )
    seconds = time.perf_counter() - started
    output = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        tail = "\n".join(output.splitlines()[-30:])
        raise RuntimeError(f"`{line}` failed with status {done.returncode}:\n{tail}")
    match = re.search(r"(\d+) passed", output)
    passed = int(match.group(1)) if match else 0
    log(f"suite: {VARIANTS[variant]}, {workers} worker(s): {seconds:.2f} s, {passed} passed")
    return SuiteRun(variant, workers, seconds, passed, line)


def run_suite(
    *,
    workers: Sequence[int],
    repeats: int,
    serial_repeats: int,
    selection: Sequence[str],
    image: str,
    log: Log,
) -> SuiteResult:
    """The cold run first, then every configuration, interleaved, ``repeats`` times.

    The runs use a copy of ``examples/shop`` taken now, so that all of them
    run the same tests even if someone edits the example meanwhile.
    """
    result = SuiteResult(list(selection))
    with tempfile.TemporaryDirectory(prefix="dbsnap-bench-") as tmp:
        where = Path(tmp) / SHOP.root.name
        shutil.copytree(
            SHOP.root, where, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache")
        )
        tests = sorted(where.glob("tests/test_*.py"))
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in tests)).hexdigest()[:12]
        result.tests = f"{', '.join(p.name for p in tests)} (sha256 {digest})"

        def run(variant: str, n: int) -> None:
            result.runs.append(run_once(variant, n, selection, image, where, log))

        run("dbsnap_cold", max(workers))
        for _ in range(repeats):
            for n in workers:
                run("dbsnap", n)
                run("fresh", n)
        for _ in range(serial_repeats):
            run("serial", 1)
    counts = {r.passed for r in result.runs}
    if len(counts) != 1:
        raise RuntimeError(f"the runs passed different numbers of tests: {sorted(counts)}")
    return result
