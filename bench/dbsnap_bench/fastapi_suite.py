"""The FastAPI example on pytest-dbsnap beside its stock way, and what one reset costs.

- Stock: one PostgreSQL container, already running (as on a developer's
  machine); each round migrates a fresh database (``alembic upgrade head``,
  ``python -m app.initial_data``) and runs the suite serially, with its
  hand-made clean-up after every test that wrote. Timed: migrations + tests.
- pytest-dbsnap: the snapshot cached; ``pytest -n 1`` and ``-n 2`` in
  ``function`` and ``worker`` scope; timed: the whole ``pytest`` process.
- A reset: how long pytest-dbsnap takes at the end of a test to give the next
  one a pristine database at the same address, beside how long the stock
  clean-up takes after a test that wrote (both timed inside the runs by
  ``bench/baselines/dbsnap_bench_teardowns.py``).

Rounds are interleaved; every figure is a median.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from .processes import timed_run
from .ratios import Ratio
from .seeds import BENCH, REPO
from .stats import Series
from .stock_server import stock_server

Log = Callable[[str], None]
EXAMPLE = REPO / "examples" / "fastapi"
PROJECT = "bench-fastapi"
SUPERUSER = {"FIRST_SUPERUSER": "admin@example.com", "FIRST_SUPERUSER_PASSWORD": "changethis"}
CONFIGS = [("function", 1), ("function", 2), ("worker", 1), ("worker", 2)]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBSNAP_", "POSTGRES_"))}
    env.update(SUPERUSER)
    env["PYTHONPATH"] = str(BENCH / "baselines")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def _teardowns(path: Path) -> tuple[list[float], list[float]]:
    """(teardown seconds of every test, seconds of every reset that replaced a database)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    path.unlink(missing_ok=True)
    teardowns = [r["teardown"] for r in rows if "teardown" in r]
    resets = [r["reset"] for r in rows if r.get("replaced")]
    return teardowns, resets


def run_fastapi(*, image: str, repeats: int, log: Log) -> list[Ratio]:
    pytest_argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    pytest_argv += ["-p", "dbsnap_bench_teardowns"]
    stock: Series = Series()
    ours: dict[tuple[str, int], Series] = {config: Series() for config in CONFIGS}
    stock_cleanups: list[float] = []
    resets: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dbsnap-bench-fastapi-") as tmp:
        where = Path(tmp) / "fastapi"
        shutil.copytree(EXAMPLE, where, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
        record = Path(tmp) / "teardowns.jsonl"
        with stock_server(image) as server:
            stock_env = _env(
                {
                    "POSTGRES_SERVER": "127.0.0.1",
                    "POSTGRES_PORT": str(server.port),
                    "POSTGRES_USER": "postgres",
                    "POSTGRES_PASSWORD": server.password,
                    "BENCH_TEARDOWNS": str(record),
                }
            )
            ours_env = _env(
                {"DBSNAP_IMAGE": image, "DBSNAP_PROJECT": PROJECT, "BENCH_TEARDOWNS": str(record)}
            )
            log("fastapi: warming the snapshot")
            timed_run([*pytest_argv, "-p", "no:xdist"], where, ours_env)
            _teardowns(record)
            for round_ in range(repeats):
                dbname = f"stock_{round_}"
                server.psql(f"CREATE DATABASE {dbname}")
                env = {**stock_env, "POSTGRES_DB": dbname}
                migrate = "alembic upgrade head && python -m app.initial_data"
                started = time.perf_counter()
                timed_run(["sh", "-c", migrate], where, env)
                timed_run([*pytest_argv, "-p", "no:dbsnap", "-p", "no:xdist"], where, env)
                stock.samples.append(time.perf_counter() - started)
                teardowns, _ = _teardowns(record)
                # The clean-up runs after the tests that wrote: the slow teardowns.
                stock_cleanups += [t for t in teardowns if t > 0.01]
                log(f"fastapi: stock round {round_ + 1}: {stock.samples[-1]:.2f} s")
                for scope, workers in CONFIGS:
                    args = ["-p", "no:xdist"] if workers == 1 else ["-n", str(workers)]
                    seconds = timed_run(
                        [*pytest_argv, *args, f"--dbsnap-scope={scope}"], where, ours_env
                    )
                    ours[(scope, workers)].samples.append(seconds)
                    _, replaced = _teardowns(record)
                    if scope == "function" and workers == 1:
                        resets += replaced
                    log(f"fastapi: {scope} scope, -n {workers}: {seconds:.2f} s")
    rows = [
        Ratio(
            key=f"fastapi_{scope}_{workers}",
            what=f"examples/fastapi (35 tests) on pytest-dbsnap, {scope} scope, "
            + ("1 process" if workers == 1 else f"-n {workers}"),
            measured=ours[(scope, workers)],
            baseline_what="its stock way: migrations, then the tests serially with its "
            "hand-made clean-up",
            baseline=stock,
        )
        for scope, workers in CONFIGS
    ]
    rows.append(
        Ratio(
            key="fastapi_reset",
            what="one reset of the database behind dbsnap_env (a ready copy renamed into place)",
            measured=Series(resets),
            baseline_what="the example's stock clean-up after a test that wrote",
            baseline=Series(stock_cleanups),
        )
    )
    return rows
