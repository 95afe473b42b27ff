#!/usr/bin/env python3
"""Benchmark harness of pytest-dbsnap (run by hand, not by the test suite).

    python bench/run.py [--quick] [--handouts N] [--out bench/results]

In one run, side by side, on the example's seed and on a larger one
(``bench/seeds/large``): the time from a dirtied database to a pristine one
for every mechanism, then the wall time of the example suite with 1, 2 and 4
workers against two baselines. Writes ``latest.md``, ``latest.png`` and
``latest.json`` under ``--out``; a full run into ``bench/results`` also
updates the figures in ``bench/README.md``.

Everything it starts is removed at the end; the snapshot images
``dbsnap/bench-shop`` and ``dbsnap/bench-large`` are kept, so later runs
reuse them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH / "baselines")]

import docker  # noqa: E402
import docker.errors  # noqa: E402
import psycopg  # noqa: E402
from dbsnap_bench import report as reporting  # noqa: E402
from dbsnap_bench.django_suite import run_django  # noqa: E402
from dbsnap_bench.fastapi_suite import run_fastapi  # noqa: E402
from dbsnap_bench.mariadb_rows import Rounds, run_mariadb  # noqa: E402
from dbsnap_bench.mechanisms import Bench, Counts  # noqa: E402
from dbsnap_bench.seeds import REPO, SEEDS  # noqa: E402
from dbsnap_bench.speed import run_speed  # noqa: E402
from dbsnap_bench.startup import import_cost  # noqa: E402
from dbsnap_bench.suite import run_suite  # noqa: E402
from dbsnap_bench_common import BENCH_LABEL  # noqa: E402
from docker.models.containers import Container  # noqa: E402

QUICK_SELECTION = ["tests/test_committed.py"]


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python bench/run.py",
        description="Benchmark pytest-dbsnap against reset scripts and per-worker containers.",
    )
    p.add_argument("--quick", action="store_true", help="few samples and part of the suite")
    p.add_argument("--handouts", type=int, help="pool handouts per seed (default 50, quick 10)")
    p.add_argument("--out", type=Path, default=BENCH / "results", help="results folder")
    p.add_argument("--seeds", default="shop,large", help="comma-separated: shop, large")
    p.add_argument("--image", default="dbsnap-postgres:17", help="base PostgreSQL image")
    p.add_argument("--pool-size", type=int, default=2, help="dbsnap_pool_size (default 2)")
    p.add_argument(
        "--test-seconds",
        type=float,
        default=0.3,
        help="length of a simulated test between pool handouts (raised to 1.5 clones)",
    )
    p.add_argument("--repeats", type=int, help="runs of each suite configuration (default 3)")
    p.add_argument("--workers", default="1,2,4", help="suite worker counts (default 1,2,4)")
    p.add_argument("--skip-mechanisms", action="store_true", help="only the suite")
    p.add_argument("--skip-suite", action="store_true", help="only the mechanisms")
    p.add_argument("--only-ratios", action="store_true", help="only the side-by-side ratios")
    p.add_argument("--skip-fastapi", action="store_true", help="no FastAPI example rows")
    p.add_argument("--skip-speed", action="store_true", help="no floor and fixed-cost rows")
    p.add_argument("--skip-django", action="store_true", help="no Django example rows")
    p.add_argument("--skip-mariadb", action="store_true", help="no MariaDB rows")
    p.add_argument("--mariadb-image", default="dbsnap-mariadb:11.8", help="base MariaDB image")
    return p.parse_args(argv)


def counts(args: argparse.Namespace) -> Counts:
    quick = args.quick
    return Counts(
        handouts=args.handouts or (10 if quick else 50),
        rollbacks=10 if quick else 50,
        reseeds=2 if quick else 5,
        inline_clones=5 if quick else 20,
        containers=2 if quick else 8,
        pooled_containers=3 if quick else 10,
        test_seconds=args.test_seconds,
        container_test_seconds=1.0,
        pool_size=args.pool_size,
    )


def log(line: str, _start: float = time.perf_counter()) -> None:
    print(f"[{time.perf_counter() - _start:7.1f}s] {line}", file=sys.stderr, flush=True)


# Docker housekeeping ----------------------------------------------------------


def _mine(client: docker.DockerClient) -> dict[str, Container]:
    """Every container this harness (or pytest-dbsnap on its behalf) created."""
    found: dict[str, Container] = {}
    projects = [s.project for s in SEEDS.values()] + ["bench-mariadb"]
    filters = [f"{BENCH_LABEL}=1"] + [f"dbsnap.project={project}" for project in projects]
    for label in filters:
        for c in client.containers.list(all=True, filters={"label": label}):
            found[str(c.id)] = c
    return found


def sweep(client: docker.DockerClient) -> list[str]:
    """Remove this harness's containers (and their anonymous volumes) left behind.

    Returns their names, except session sentinels: pytest-dbsnap keeps one per
    session until the process that owns it exits, so this process's own are
    expected here.
    """
    leftovers = _mine(client)
    names = []
    for container in leftovers.values():
        if container.labels.get("dbsnap.kind") != "sentinel":
            names.append(str(container.name))
        # A sentinel may be on its way out already (409: removal in progress).
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            container.remove(force=True, v=True)
    return names


def others_running(client: docker.DockerClient) -> int:
    mine = set(_mine(client))
    return sum(1 for c in client.containers.list() if c.id not in mine)


@contextlib.contextmanager
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


def machine(client: docker.DockerClient, image: str, pool_size: int) -> dict[str, object]:
    memory = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 1024 / 1024
    labels = client.images.get(image).attrs.get("Config", {}).get("Labels") or {}
    return {
        "git": _git_state(),
        "cpus": os.cpu_count(),
        "memory_gb": memory,
        "docker": client.version().get("Version", "?"),
        "image": image,
        "postgres": labels.get("org.opencontainers.image.version", "?"),
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
        "platform": platform.platform(),
        "pool_size": pool_size,
    }


def _git_state() -> str:
    """The commit measured, and whether the plugin's code differs from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("status", "--porcelain", "--", "pytest_dbsnap")
    return f"{head} + uncommitted changes in pytest_dbsnap/" if changed else head


# Main -------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = parse(argv)
    began = time.perf_counter()
    shown = " ".join(shlex.quote(a) for a in ["python", "bench/run.py", *argv])
    report = reporting.Report(
        command=shown,
        quick=args.quick,
        started=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    seeds = [SEEDS[s.strip()] for s in args.seeds.split(",") if s.strip()]
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    failed = False
    with docker_client() as client:
        report.machine = machine(client, args.image, args.pool_size)
        report.machine["others_start"] = others_running(client)
        report.machine["load_start"] = os.getloadavg()[0]
        if swept := sweep(client):
            log(f"removed {len(swept)} container(s) an earlier run left behind")
        try:
            report.ratios.append(import_cost(5 if args.quick else 20, log))
            if not args.skip_speed:
                speed, memory = run_speed(
                    image=args.image, repeats=args.repeats or (1 if args.quick else 3), log=log
                )
                report.ratios += speed
                report.notes += memory
            if not args.skip_django:
                repeats = args.repeats or (1 if args.quick else 3)
                report.ratios += run_django(image=args.image, repeats=repeats, log=log)
            if not args.skip_fastapi:
                repeats = args.repeats or (1 if args.quick else 3)
                report.ratios += run_fastapi(image=args.image, repeats=repeats, log=log)
            if not args.skip_mariadb:
                rounds = Rounds(3, 3, 2) if args.quick else Rounds()
                report.ratios += run_mariadb(args.mariadb_image, args.image, rounds, log)
            if args.only_ratios:
                args.skip_mechanisms = args.skip_suite = True
            if not args.skip_mechanisms:
                for spec in seeds:
                    log(f"{spec.key}: measuring the mechanisms")
                    bench = Bench(spec, counts(args), args.image, log)
                    report.seeds[spec.key] = bench.run()
                    if report.seeds[spec.key].server_version:
                        report.machine["postgres"] = report.seeds[spec.key].server_version
            if not args.skip_suite:
                report.suite = run_suite(
                    workers=workers,
                    repeats=args.repeats or (1 if args.quick else 3),
                    serial_repeats=1,
                    selection=QUICK_SELECTION if args.quick else [],
                    image=args.image,
                    log=log,
                )
        except BaseException as exc:
            failed = True
            report.notes.append(f"**The run stopped early**: {type(exc).__name__}: {exc}")
            log(f"stopped: {type(exc).__name__}: {exc}")
            if not isinstance(exc, Exception):
                raise
        finally:
            if swept := sweep(client):
                report.notes.append(
                    f"{len(swept)} container(s) were left behind and removed: {', '.join(swept)}"
                )
            report.machine["others_end"] = others_running(client)
            report.machine["load_end"] = os.getloadavg()[0]
            report.total_seconds = time.perf_counter() - began
            written = reporting.write(report, args.out)
            log("wrote " + ", ".join(os.path.relpath(p, REPO) for p in written if p.exists()))
    default_out = args.out.resolve() == (BENCH / "results").resolve()
    complete = not args.skip_mechanisms and not args.skip_suite and len(seeds) == len(SEEDS)
    full = default_out and not args.quick and complete and not failed
    if full and reporting.update_readme(BENCH / "README.md", report):
        log("updated the figures in bench/README.md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
