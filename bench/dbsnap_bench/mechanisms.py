"""From a dirtied database to a pristine one: every mechanism, on one seed.

Each sample starts from a database a simulated test has written to (the
seed's ``dirty`` statements, committed) and times only the step that gives
the next test a pristine database. Every later write checks that it found
the seeded state: the same statements must touch the same number of rows
as on a known-pristine copy, or the mechanism is reported as broken.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from dbsnap_bench_common import truncate_and_reseed
from psycopg import sql

from pytest_dbsnap.database import Database
from pytest_dbsnap.engines.postgres_admin import PostgresAdmin as Admin
from pytest_dbsnap.instance import Instance, stop_instance
from pytest_dbsnap.server import Server
from pytest_dbsnap.session import Session

from .seeds import SeedSpec
from .stats import Series, seconds

if TYPE_CHECKING:
    from typing_extensions import LiteralString

Log = Callable[[str], None]

#: The order of the mechanisms in tables and charts, with their labels.
MECHANISMS: dict[str, str] = {
    "rollback": "Transaction rollback (lower bound)",
    "pool": "Pool handout (tests longer than a clone)",
    "pool_instant": "Pool handout (instant tests: throughput-bound)",
    "inline_clone": "Clone made in line (CREATE DATABASE … TEMPLATE + DROP)",
    "container_pooled": "Container per test, pooled",
    "container": "Container per test, not pooled (remove + start)",
    "reseed": "TRUNCATE + re-seed (baseline)",
}


@dataclass(frozen=True)
class Counts:
    """How many samples of each mechanism to take."""

    handouts: int
    rollbacks: int
    reseeds: int
    inline_clones: int
    containers: int
    pooled_containers: int
    test_seconds: float
    container_test_seconds: float
    pool_size: int


@dataclass
class SeedResult:
    """Everything measured on one seed."""

    key: str
    rows: dict[str, int] = field(default_factory=dict)
    size_bytes: int = 0
    indexes: int = 0
    server_version: str = ""
    snapshot: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    parts: dict[str, Series] = field(default_factory=dict)
    test_seconds: float = math.nan
    container_test_seconds: float = math.nan
    pool: dict[str, int] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "rows": self.rows,
            "total_rows": self.total_rows,
            "size_bytes": self.size_bytes,
            "indexes": self.indexes,
            "server_version": self.server_version,
            "snapshot": self.snapshot,
            "series": {k: v.as_dict() for k, v in self.series.items()},
            "parts": {k: v.as_dict() for k, v in self.parts.items()},
            "test_seconds": self.test_seconds,
            "container_test_seconds": self.container_test_seconds,
            "pool": self.pool,
            "anomalies": self.anomalies,
        }


class Bench:
    """The measurements of one seed, on one :class:`Server` of pytest-dbsnap."""

    def __init__(self, spec: SeedSpec, counts: Counts, image: str, log: Log) -> None:
        self.spec = spec
        self.counts = counts
        self.log = log
        self.settings = spec.settings(image, counts.pool_size)
        self.session = Session(self.settings, plan=spec.plan, role="bench")
        self.runtime = Server(self.session)
        self.result = SeedResult(spec.key)
        self.expected: tuple[int, ...] | None = None  # rows the dirty step touches when pristine

    # The simulated test ----------------------------------------------------

    def _write(self, conn: psycopg.Connection[Any]) -> tuple[int, ...]:
        return tuple(conn.execute(statement).rowcount for statement in self.spec.dirty)

    def _check(self, where: str, touched: tuple[int, ...]) -> None:
        if self.expected is None:
            self.expected = touched
        elif touched != self.expected:
            self.result.anomalies.append(
                f"{where}: the test's writes touched {touched} rows, {self.expected} on a "
                "pristine database: the database handed out was not pristine"
            )

    def dirty(self, database: Database, where: str) -> None:
        """A test's writes, committed (the connection is closed afterwards)."""
        started = time.perf_counter()
        with psycopg.connect(database.dsn, connect_timeout=10) as conn:
            self._check(where, self._write(conn))
            conn.commit()
        self.result.parts.setdefault("test.writes", Series()).samples.append(
            time.perf_counter() - started
        )

    # Orchestration ---------------------------------------------------------

    def run(self) -> SeedResult:
        try:
            self._snapshot()
            server = self.runtime.worker_instance().database
            admin = Admin.connect(server, avoid=self.settings.dbname)
            try:
                self._describe(admin, server)
                self._rollback(admin, server)
                self._reseed(admin, server)
                self._inline_clone(admin, server)
            finally:
                admin.close()
            self._pool()
            self._containers()
            self._pooled_containers()
        finally:
            problems: list[str] = []
            spare = self.runtime.spare()
            removals = self.runtime.close(problems)
            problems += self.session.close(removals, spare)
            for problem in problems:
                self.result.anomalies.append(f"cleanup: {problem}")
        return self.result

    def _snapshot(self) -> None:
        started = time.perf_counter()
        snapshot = self.session.ensure_snapshot()
        self.result.snapshot = {
            "tag": snapshot.tag,
            "built": snapshot.built,
            "seconds": time.perf_counter() - started,
            "timings": dict(snapshot.timings),
        }
        how = "built" if snapshot.built else "found"
        self.log(f"{self.spec.key}: snapshot {snapshot.tag} {how}")

    def _describe(self, admin: Admin, server: Database) -> None:
        with (
            self._copy(admin, server, "bench_pristine") as pristine,
            psycopg.connect(pristine.dsn, autocommit=True) as conn,
        ):
            self.result.rows = _row_counts(conn)
            self.result.indexes = int(
                _one(conn, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
            )
            self.result.size_bytes = int(_one(conn, "SELECT pg_database_size(current_database())"))
            self.result.server_version = str(_one(conn, "SHOW server_version"))
            # The rows a test's writes touch on a pristine database (this
            # throwaway copy is dropped right after).
            self._check("pristine copy", self._write(conn))
        self.log(
            f"{self.spec.key}: {self.result.total_rows:,} rows, "
            f"{self.result.size_bytes / 1e6:.1f} MB, writes per test {self.expected}"
        )

    @contextlib.contextmanager
    def _copy(self, admin: Admin, server: Database, name: str) -> Iterator[Database]:
        admin.clone(self.runtime.template, name)
        try:
            yield server.with_dbname(name)
        finally:
            admin.drop(name)

    # The mechanisms ----------------------------------------------------------

    def _rollback(self, admin: Admin, server: Database) -> None:
        series = self.result.series["rollback"] = Series()
        with self._copy(admin, server, "bench_rollback") as db, psycopg.connect(db.dsn) as conn:
            for _ in range(self.counts.rollbacks):
                self._check("transaction rollback", self._write(conn))
                started = time.perf_counter()
                conn.rollback()
                series.samples.append(time.perf_counter() - started)
        self.log(f"{self.spec.key}: rollback {_short(series)}")

    def _reseed(self, admin: Admin, server: Database) -> None:
        series = self.result.series["reseed"] = Series()
        data_sql = [path.read_text() for path in self.spec.data_files()]
        with self._copy(admin, server, "bench_reseed") as db:
            for _ in range(self.counts.reseeds):
                self.dirty(db, "TRUNCATE + re-seed")
                started = time.perf_counter()
                truncate_and_reseed(db.dsn, data_sql)
                series.samples.append(time.perf_counter() - started)
            with psycopg.connect(db.dsn, autocommit=True) as conn:
                counts = _row_counts(conn)
            if counts != self.result.rows:
                self.result.anomalies.append(
                    f"TRUNCATE + re-seed left {counts}, the seed has {self.result.rows}"
                )
        self.log(f"{self.spec.key}: TRUNCATE + re-seed {_short(series)}")

    def _inline_clone(self, admin: Admin, server: Database) -> None:
        series = self.result.series["inline_clone"] = Series()
        create = self.result.parts["inline_clone.create"] = Series()
        drop = self.result.parts["inline_clone.drop"] = Series()
        template = self.runtime.template
        current = "bench_inline_0"
        admin.clone(template, current)
        try:
            for i in range(1, self.counts.inline_clones + 1):
                self.dirty(server.with_dbname(current), "clone made in line")
                fresh = f"bench_inline_{i}"
                started = time.perf_counter()
                admin.clone(template, fresh)
                made = time.perf_counter()
                admin.drop(current)
                done = time.perf_counter()
                current = fresh
                create.samples.append(made - started)
                drop.samples.append(done - made)
                series.samples.append(done - started)
        finally:
            admin.drop(current)
        self.log(f"{self.spec.key}: clone in line {_short(series)}")

    def _pool(self) -> None:
        # "Tests last longer than a clone": at least the configured duration,
        # and at least 1.5 times what making a copy and dropping one takes here.
        made = self.result.series["inline_clone"].median
        test_seconds = max(self.counts.test_seconds, math.ceil(made * 1.5 * 20) / 20)
        self.result.test_seconds = test_seconds
        pool = self.runtime.clone_pool()
        timeout = self.settings.startup_timeout

        def handout(sleep: float) -> float:
            started = time.perf_counter()
            copy = pool.acquire(timeout)
            took = time.perf_counter() - started
            try:
                self.dirty(copy.database, "pool handout")
                time.sleep(sleep)
            finally:
                pool.release(copy)
            return took

        # The first handout waits for the pool's first copy (the fixture's set-up).
        self.result.parts["pool.first"] = Series([handout(test_seconds)])
        slow = Series([handout(test_seconds) for _ in range(self.counts.handouts)])
        self.result.series["pool"] = slow
        self.log(f"{self.spec.key}: pool handout, {test_seconds:g} s tests: {_short(slow)}")
        instant = Series([handout(0) for _ in range(self.counts.handouts)])
        self.result.series["pool_instant"] = instant
        self.log(f"{self.spec.key}: pool handout, instant tests: {_short(instant)}")
        self.result.pool = {"copies_made": pool.made, "copies_reused": pool.reused}

    def _start(self, role: str) -> Instance:
        return self.runtime.start(role)

    def _containers(self) -> None:
        series = self.result.series["container"] = Series()
        remove = self.result.parts["container.remove"] = Series()
        start = self.result.parts["container.start"] = Series()
        docker = self.session.docker()
        running: list[Instance] = []
        try:
            running.append(self._start("bench-c0"))
            for i in range(1, self.counts.containers + 1):
                old = running[-1]
                self.dirty(old.database, "container per test")
                started = time.perf_counter()
                stop_instance(docker, old)
                running.remove(old)
                removed = time.perf_counter()
                running.append(self._start(f"bench-c{i}"))
                done = time.perf_counter()
                remove.samples.append(removed - started)
                start.samples.append(done - removed)
                series.samples.append(done - started)
        finally:
            for instance in running:
                stop_instance(docker, instance)
        self.log(f"{self.spec.key}: container per test {_short(series)}")

    def _pooled_containers(self) -> None:
        self.result.container_test_seconds = sleep = self.counts.container_test_seconds
        pool = self.runtime.container_pool()
        timeout = self.settings.startup_timeout

        def handout() -> float:
            started = time.perf_counter()
            instance = pool.acquire(timeout)
            took = time.perf_counter() - started
            try:
                self.dirty(instance.database, "pooled container")
                time.sleep(sleep)
            finally:
                pool.release(instance)
            return took

        self.result.parts["container_pooled.first"] = Series([handout()])
        series = self.result.series["container_pooled"] = Series(
            [handout() for _ in range(self.counts.pooled_containers)]
        )
        self.log(f"{self.spec.key}: pooled container {_short(series)}")


def _one(conn: psycopg.Connection[Any], query: LiteralString) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None, query
    return row[0]


def _row_counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    tables = [
        str(r[0])
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        ).fetchall()
    ]
    counts: dict[str, int] = {}
    for table in tables:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def _short(series: Series) -> str:
    return f"median {seconds(series.median)}, p95 {seconds(series.p95)} (n={series.n})"
