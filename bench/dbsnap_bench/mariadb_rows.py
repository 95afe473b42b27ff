"""MariaDB's rows: a container per pristine database, beside the reset it replaces.

On a MariaDB copy of the example's seed (``bench/seeds/mariadb``: the same
tables, 151,012 rows), in one run:

- a container's start (``docker create`` and ``start``, the server's own
  start, its password) beside PostgreSQL's, on the example's seed;
- from a dirtied database to a pristine one: a container per test not
  pooled (the old one removed, a new one started), the pool's handout when
  tests last longer than a start, and with instant tests; each beside
  TRUNCATE + re-seed of the same data on one server;
- the pool's handout beside PostgreSQL's ``container`` mode measured the same
  way (the issue's "no longer than PostgreSQL's container mode").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_dbsnap.config import resolve
from pytest_dbsnap.database import Database
from pytest_dbsnap.instance import Instance, stop_instance
from pytest_dbsnap.pool import Pool
from pytest_dbsnap.seed import SeedPlan, expand_seed
from pytest_dbsnap.server import Server
from pytest_dbsnap.session import Session

from .ratios import Ratio
from .seeds import BENCH, SHOP
from .stats import Series

Log = Callable[[str], None]
ROOT = BENCH / "seeds" / "mariadb"
SEED = ("00_schema.sql", "01_data.sql")
DIRTY = (
    "DELETE FROM order_items WHERE order_id <= 2000",
    "UPDATE products SET stock = stock + 1 WHERE id <= 500",
    "UPDATE customers SET name = concat(name, ' (edited)') WHERE id <= 2000",
    "INSERT INTO categories (name) VALUES ('Benchmark category')",
)


@dataclass
class Rounds:
    starts: int = 8
    handouts: int = 10
    reseeds: int = 5


def _session(root: Path, seed: tuple[str, ...], image: str, dbname: str, project: str) -> Server:
    values = {
        "seed": list(seed),
        "dbname": dbname,
        "project": project,
        "image": image,
        "pool_size": "2",
        "startup_timeout": "120",
    }
    settings = resolve(root, lambda _: None, lambda s: values.get(s.name), {})

    def plan() -> SeedPlan:
        return SeedPlan(steps=expand_seed(settings.seed, root), rootdir=root)

    return Server(Session(settings, plan=plan, role="bench"))


def _close(server: Server) -> None:
    problems: list[str] = []
    spare = server.spare()
    removals = server.close(problems)
    server.session.close(removals, spare)


def _dirty_mariadb(database: Database) -> None:
    conn = database.connect()
    try:
        with conn.cursor() as cur:
            for statement in DIRTY:
                cur.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _dirty_postgres(database: Database) -> None:
    with database.connect() as conn:
        for statement in SHOP.dirty:
            conn.execute(statement)
        conn.commit()


def _reseed(database: Database, data_sql: list[str]) -> None:
    """The reset script: TRUNCATE every table, then run the data SQL again."""
    conn = database.connect(autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = [str(row[0]) for row in cur.fetchall()]
            cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            for table in tables:
                cur.execute(f"TRUNCATE `{table}`")
            cur.execute("SET FOREIGN_KEY_CHECKS = 1")
            for text in data_sql:
                code = "\n".join(ln for ln in text.splitlines() if not ln.startswith("--"))
                for statement in code.split(";\n"):
                    if statement.strip():
                        cur.execute(statement)
    finally:
        conn.close()


def _not_pooled(server: Server, dirty: Callable[[Database], None], rounds: int) -> Series:
    """Remove the dirtied container, start a new one: the time between two tests."""
    docker = server.session.docker()
    series = Series()
    current = server.start("bench-c0")
    try:
        for i in range(1, rounds + 1):
            dirty(current.database)
            started = time.perf_counter()
            stop_instance(docker, current)
            current = server.start(f"bench-c{i}")
            series.samples.append(time.perf_counter() - started)
    finally:
        stop_instance(docker, current)
    return series


def _handouts(
    pool: Pool[Instance], dirty: Callable[[Database], None], rounds: int, sleep: float
) -> Series:
    series = Series()
    for _ in range(rounds):
        started = time.perf_counter()
        instance = pool.acquire(120)
        series.samples.append(time.perf_counter() - started)
        try:
            dirty(instance.database)
            time.sleep(sleep)
        finally:
            pool.release(instance)
    return series


def run_mariadb(image: str, pg_image: str, rounds: Rounds, log: Log) -> list[Ratio]:
    """The MariaDB rows, each with what was measured beside it."""
    maria = _session(ROOT, SEED, image, "shop", "bench-mariadb")
    pg = _session(SHOP.root, SHOP.seed, pg_image, SHOP.dbname, SHOP.project)
    results: dict[str, Any] = {}
    try:
        for server in (maria, pg):
            snapshot = server.session.ensure_snapshot()
            log(f"mariadb rows: snapshot {snapshot.tag} {'built' if snapshot.built else 'found'}")
        data_sql = [(ROOT / name).read_text() for name in SEED[1:]]
        reseeds = Series()
        instance = maria.start("bench-reseed")
        try:
            for _ in range(rounds.reseeds):
                _dirty_mariadb(instance.database)
                started = time.perf_counter()
                _reseed(instance.database, data_sql)
                reseeds.samples.append(time.perf_counter() - started)
        finally:
            stop_instance(maria.session.docker(), instance)
        log(f"mariadb rows: TRUNCATE + re-seed median {reseeds.median:.3f}s")
        results["reseed"] = reseeds
        results["maria_start"] = _not_pooled(maria, _dirty_mariadb, rounds.starts)
        results["pg_start"] = _not_pooled(pg, _dirty_postgres, rounds.starts)
        log(
            f"mariadb rows: container per test {results['maria_start'].median:.3f}s, "
            f"PostgreSQL's {results['pg_start'].median:.3f}s"
        )
        # Tests longer than a start: one and a half of the slower engine's.
        longer = 1.5 * max(results["maria_start"].median, results["pg_start"].median)
        for name, server, dirty in (
            ("maria", maria, _dirty_mariadb),
            ("pg", pg, _dirty_postgres),
        ):
            pool = server.container_pool()
            _handouts(pool, dirty, 1, longer)  # the first waits for the pool's first
            results[f"{name}_pool"] = _handouts(pool, dirty, rounds.handouts, longer)
        results["maria_instant"] = _handouts(
            maria.container_pool(), _dirty_mariadb, rounds.handouts, 0
        )
        log(
            f"mariadb rows: handout {results['maria_pool'].median * 1000:.3f} ms "
            f"(PostgreSQL container mode {results['pg_pool'].median * 1000:.3f} ms), "
            f"instant tests {results['maria_instant'].median:.3f}s"
        )
    finally:
        _close(maria)
        _close(pg)
    baseline = "TRUNCATE + re-seed of the same data (MariaDB)"
    return [
        Ratio(
            "mariadb.start",
            "MariaDB: container per test, not pooled (remove, start), 151,012 rows",
            results["maria_start"],
            "PostgreSQL: the same, on the example's seed",
            results["pg_start"],
        ),
        Ratio(
            "mariadb.not_pooled",
            "MariaDB: container per test, not pooled",
            results["maria_start"],
            baseline,
            results["reseed"],
        ),
        Ratio(
            "mariadb.pool",
            f"MariaDB: pool handout, tests of {longer:.1f} s (longer than a start)",
            results["maria_pool"],
            baseline,
            results["reseed"],
        ),
        Ratio(
            "mariadb.pool_vs_pg",
            "MariaDB: pool handout, the same tests",
            results["maria_pool"],
            "PostgreSQL `container` mode's handout, the same tests",
            results["pg_pool"],
        ),
        Ratio(
            "mariadb.pool_instant",
            "MariaDB: pool handout, instant tests (container start throughput)",
            results["maria_instant"],
            baseline,
            results["reseed"],
        ),
    ]


if __name__ == "__main__":  # python -m dbsnap_bench.mariadb_rows (from bench/)
    import sys

    rows = run_mariadb(
        sys.argv[1] if len(sys.argv) > 1 else "dbsnap-mariadb:11.8",
        sys.argv[2] if len(sys.argv) > 2 else "dbsnap-postgres:17",
        Rounds(),
        lambda line: print(line, file=sys.stderr, flush=True),
    )
    for row in rows:
        print(row.row())
