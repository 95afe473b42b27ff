"""The Django example on pytest-dbsnap beside stock pytest-django, side by side.

- pytest-dbsnap (``dbsnap_django``), the snapshot cached, ``-n 1`` and ``-n 2``;
- stock pytest-django with ``--create-db`` (each worker creates its test
  database and runs every migration; transactional tests flush after
  themselves and restore the serialized rows), ``-n 1`` and ``-n 2``;
- stock with ``--reuse-db`` (the test databases kept from an earlier run).

The example's schema has 51 tables (36 of them the ``catalog`` app's, there to
weigh what real projects weigh). Each figure is the wall time of the whole
``pytest`` process; rounds interleaved; medians.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .processes import timed_run
from .ratios import Ratio
from .seeds import REPO
from .stats import Series
from .stock_server import stock_server

Log = Callable[[str], None]
EXAMPLE = REPO / "examples" / "django"
PROJECT = "bench-django"
STOCK = ("create", "reuse")


def run_django(*, image: str, repeats: int, log: Log) -> list[Ratio]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DBSNAP_", "DJANGO_DB_"))}
    base["PYTHONDONTWRITEBYTECODE"] = "1"
    pytest_argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    ours: dict[int, Series] = {1: Series(), 2: Series()}
    stock: dict[tuple[str, int], Series] = {(s, n): Series() for s in STOCK for n in (1, 2)}
    with tempfile.TemporaryDirectory(prefix="dbsnap-bench-django-") as tmp:
        where = Path(tmp) / "django"
        shutil.copytree(EXAMPLE, where, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
        with stock_server(image) as server:
            stock_env = {
                **base,
                "DJANGO_DB_HOST": "127.0.0.1",
                "DJANGO_DB_PORT": str(server.port),
                "DJANGO_DB_PASSWORD": server.password,
            }
            ours_env = {**base, "DBSNAP_IMAGE": image, "DBSNAP_PROJECT": PROJECT}
            stock_argv = [
                *pytest_argv,
                "-p",
                "no:dbsnap",
                "-W",
                "ignore::pytest.PytestConfigWarning",
            ]
            log("django: warming the snapshot and the reusable test databases")
            timed_run([*pytest_argv, "-p", "no:xdist"], where, ours_env)
            for n in (1, 2):
                timed_run(
                    [*stock_argv, *_workers(n), "--create-db", "--reuse-db"], where, stock_env
                )
            for round_ in range(repeats):
                for n in (1, 2):
                    ours[n].samples.append(timed_run([*pytest_argv, *_workers(n)], where, ours_env))
                    for how in STOCK:
                        flag = "--create-db" if how == "create" else "--reuse-db"
                        seconds = timed_run([*stock_argv, *_workers(n), flag], where, stock_env)
                        stock[(how, n)].samples.append(seconds)
                figures = ", ".join(
                    f"{name} {series.samples[-1]:.2f} s"
                    for name, series in [
                        ("dbsnap -n 1", ours[1]),
                        ("dbsnap -n 2", ours[2]),
                        *((f"{how} -n {n}", stock[(how, n)]) for how in STOCK for n in (1, 2)),
                    ]
                )
                log(f"django: round {round_ + 1}: {figures}")
    rows = []
    for n in (1, 2):
        for how in STOCK:
            rows.append(
                Ratio(
                    key=f"django_{n}_{how}",
                    what="examples/django (37 tests, 51 tables) on pytest-dbsnap, "
                    + ("1 process" if n == 1 else f"-n {n}"),
                    measured=ours[n],
                    baseline_what=f"stock pytest-django, {'1 process' if n == 1 else f'-n {n}'}, "
                    + (
                        "--create-db (migrations per worker, flush after transactional tests)"
                        if how == "create"
                        else "--reuse-db (test databases kept from a run before)"
                    ),
                    baseline=stock[(how, n)],
                )
            )
    return rows


def _workers(n: int) -> list[str]:
    return ["-p", "no:xdist"] if n == 1 else ["-n", str(n)]
