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
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import docker

from .ratios import Ratio
from .seeds import BENCH, REPO
from .stats import Series

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


def _run(argv: list[str], where: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        argv, cwd=where, env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-25:])
        raise RuntimeError(f"`{' '.join(argv)}` failed ({done.returncode}):\n{tail}")
    return seconds


def _teardowns(path: Path) -> tuple[list[float], list[float]]:
    """(teardown seconds of every test, seconds of every reset that replaced a database)."""
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    path.unlink(missing_ok=True)
    teardowns = [r["teardown"] for r in rows if "teardown" in r]
    resets = [r["reset"] for r in rows if r.get("replaced")]
    return teardowns, resets


def run_fastapi(*, image: str, repeats: int, log: Log) -> list[Ratio]:
    client = docker.from_env()
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
        password = secrets.token_urlsafe(12)
        volumes = client.images.get(image).attrs["Config"].get("Volumes") or {}
        server = client.containers.run(
            image,
            detach=True,
            environment={"POSTGRES_PASSWORD": password},
            command=["postgres", "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"],
            ports={"5432/tcp": ("127.0.0.1", None)},
            tmpfs=dict.fromkeys(volumes, ""),
            labels={"dbsnap-bench": "1"},
        )  # fmt: skip
        try:
            port = _published(server)
            stock_env = _env(
                {
                    "POSTGRES_SERVER": "127.0.0.1",
                    "POSTGRES_PORT": str(port),
                    "POSTGRES_USER": "postgres",
                    "POSTGRES_PASSWORD": password,
                    "BENCH_TEARDOWNS": str(record),
                }
            )
            ours_env = _env(
                {"DBSNAP_IMAGE": image, "DBSNAP_PROJECT": PROJECT, "BENCH_TEARDOWNS": str(record)}
            )
            _wait(server)
            log("fastapi: warming the snapshot")
            _run([*pytest_argv, "-p", "no:xdist"], where, ours_env)
            _teardowns(record)
            for round_ in range(repeats):
                dbname = f"stock_{round_}"
                _psql(server, f"CREATE DATABASE {dbname}")
                env = {**stock_env, "POSTGRES_DB": dbname}
                migrate = "alembic upgrade head && python -m app.initial_data"
                started = time.perf_counter()
                _run(["sh", "-c", migrate], where, env)
                _run([*pytest_argv, "-p", "no:dbsnap", "-p", "no:xdist"], where, env)
                stock.samples.append(time.perf_counter() - started)
                teardowns, _ = _teardowns(record)
                # The clean-up runs after the tests that wrote: the slow teardowns.
                stock_cleanups += [t for t in teardowns if t > 0.01]
                log(f"fastapi: stock round {round_ + 1}: {stock.samples[-1]:.2f} s")
                for scope, workers in CONFIGS:
                    args = ["-p", "no:xdist"] if workers == 1 else ["-n", str(workers)]
                    seconds = _run(
                        [*pytest_argv, *args, f"--dbsnap-scope={scope}"], where, ours_env
                    )
                    ours[(scope, workers)].samples.append(seconds)
                    _, replaced = _teardowns(record)
                    if scope == "function" and workers == 1:
                        resets += replaced
                    log(f"fastapi: {scope} scope, -n {workers}: {seconds:.2f} s")
        finally:
            server.remove(force=True, v=True)
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


def _published(container: docker.models.containers.Container) -> int:
    for _ in range(100):
        container.reload()
        mapping = container.attrs["NetworkSettings"]["Ports"].get("5432/tcp")
        if mapping:
            return int(mapping[0]["HostPort"])
        time.sleep(0.1)
    raise RuntimeError("the stock server published no port")


def _psql(container: docker.models.containers.Container, statement: str) -> None:
    result = container.exec_run(["psql", "-U", "postgres", "-c", statement], user="postgres")
    if result.exit_code != 0:
        raise RuntimeError(f"{statement}: {result.output.decode(errors='replace')}")


def _wait(container: docker.models.containers.Container) -> None:
    for _ in range(300):
        if container.exec_run(["pg_isready", "-U", "postgres"]).exit_code == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("the stock server did not start")
