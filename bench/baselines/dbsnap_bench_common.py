"""What the two baselines share: a seeded PostgreSQL container made by hand.

This is what a user without pytest-dbsnap writes today (the testcontainers
way): start a container from the base image, wait until it answers, apply the
seed SQL files with ``psql``, and remove the container at the end. Knows no
pytest-dbsnap.

Everything is configured through environment variables set by ``bench/run.py``:

- ``BENCH_IMAGE``: the base image (default ``dbsnap-postgres:17``);
- ``BENCH_DBNAME``: the database the tests use (default ``shop``);
- ``BENCH_SCHEMA_SQL`` and ``BENCH_DATA_SQL``: space-separated globs, relative
  to the pytest rootdir, of the files that create the schema and of those that
  fill it (a reset script re-runs only the latter).

For fairness the containers run with the same durability settings as
pytest-dbsnap's (``fsync``, ``synchronous_commit`` and ``full_page_writes``
off), and the reset re-runs the SQL through one psycopg connection rather
than ``docker exec psql`` per file: both only make the baselines faster.
"""

from __future__ import annotations

import contextlib
import glob
import io
import os
import secrets
import tarfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import docker
import docker.errors
import psycopg
import pytest
from docker.models.containers import Container
from psycopg import sql

from pytest_dbsnap.database import Database as DbsnapDatabase

#: Label on everything the benchmark creates by hand.
BENCH_LABEL = "dbsnap-bench"
NO_DURABILITY = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
SEED_DIR = "/tmp/bench-seed"


# The baselines run without the plugin (-p no:dbsnap) but hand tests the same
# database object; it is plain data and knows no pytest.
Database = DbsnapDatabase


@dataclass(frozen=True)
class SeedFiles:
    """The seed, split into schema files and data files, in the order applied."""

    schema: tuple[Path, ...]
    data: tuple[Path, ...]

    @property
    def all(self) -> tuple[Path, ...]:
        return self.schema + self.data

    @classmethod
    def from_environment(cls, rootdir: Path) -> SeedFiles:
        return cls(
            schema=expand(os.environ.get("BENCH_SCHEMA_SQL", "db/schema.sql"), rootdir),
            data=expand(os.environ.get("BENCH_DATA_SQL", "db/seed/*.sql"), rootdir),
        )


def expand(globs: str, rootdir: Path) -> tuple[Path, ...]:
    """Every file the space-separated ``globs`` match under ``rootdir``, each sorted."""
    files: list[Path] = []
    for pattern in globs.split():
        matches = sorted(Path(p) for p in glob.glob(str(rootdir / pattern)))
        if not matches:
            raise RuntimeError(f"{pattern!r} matches no file under {rootdir}")
        files += matches
    return tuple(files)


class SeededContainer:
    """One PostgreSQL container from the base image, seeded with SQL files."""

    def __init__(self, *, image: str, dbname: str, kind: str, host: str = "127.0.0.1") -> None:
        self.client = docker.from_env()
        self.image = image
        self.dbname = dbname
        self.kind = kind
        self.host = host
        self.password = secrets.token_urlsafe(12)
        self.container: Container | None = None
        self.database: Database | None = None

    def start(self, timeout: float = 120) -> Database:
        command = ["postgres"]
        for setting in NO_DURABILITY:
            command += ["-c", setting]
        # None: a free port of Docker's choosing (the stubs only know ints).
        ports: dict[str, Any] = {"5432/tcp": (self.host, None)}
        self.container = self.client.containers.run(
            self.image,
            command=command,
            name=f"dbsnap-bench-{self.kind}-{uuid.uuid4().hex[:8]}",
            labels={BENCH_LABEL: "1", f"{BENCH_LABEL}.kind": self.kind},
            environment={"POSTGRES_PASSWORD": self.password, "POSTGRES_DB": self.dbname},
            ports=ports,
            detach=True,
        )
        port = self._published_port()
        self.database = Database(
            self.host, port, "postgres", self.password, self.dbname, "postgres"
        )
        self._wait_ready(self.database, timeout)
        return self.database

    def apply(self, files: Sequence[Path]) -> None:
        """Copy ``files`` into the container and run each with psql, stopping on errors."""
        assert self.container is not None
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for index, path in enumerate(files):
                data = path.read_bytes()
                info = tarfile.TarInfo(f"bench-seed/{index:04d}-{path.name}")
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
        self.container.put_archive("/tmp", buffer.getvalue())
        for index, path in enumerate(files):
            result = self.container.exec_run(
                [
                    "psql",
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-U",
                    "postgres",
                    "-d",
                    self.dbname,
                    "-f",
                    f"{SEED_DIR}/{index:04d}-{path.name}",
                ],
                user="postgres",
                environment={"PGOPTIONS": "-c client_min_messages=warning"},
            )
            if result.exit_code != 0:
                output = cast("bytes", result.output or b"").decode(errors="replace")
                raise RuntimeError(f"seeding {path} failed: {output.strip()[-500:]}")

    def remove(self) -> None:
        if self.container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                self.container.remove(force=True, v=True)
            self.container = None
        self.client.close()

    def _published_port(self) -> int:
        assert self.container is not None
        deadline = time.monotonic() + 10
        while True:
            self.container.reload()
            mapping = (self.container.attrs["NetworkSettings"]["Ports"] or {}).get("5432/tcp")
            if mapping:
                return int(mapping[0]["HostPort"])
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.container.name} publishes no port")
            time.sleep(0.05)

    def _wait_ready(self, database: Database, timeout: float) -> None:
        """A real query over TCP: the entrypoint's init server listens on no TCP port."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(database.dsn, connect_timeout=3, autocommit=True) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)


@dataclass(frozen=True)
class SeedText:
    """The seed's SQL, read once: what creates the schema and what fills it."""

    schema: tuple[str, ...]
    data: tuple[str, ...]

    @classmethod
    def read(cls, files: SeedFiles) -> SeedText:
        return cls(
            schema=tuple(p.read_text() for p in files.schema),
            data=tuple(p.read_text() for p in files.data),
        )


# Tables, views, sequences and indexes of the public schema with their
# columns, and the constraints: what a TRUNCATE + re-seed cannot put back.
_FINGERPRINT = """
SELECT md5(coalesce(string_agg(item, ',' ORDER BY item), '')) FROM (
    SELECT c.relkind::text || ':' || c.relname || ':' || coalesce(a.attname, '') || ':'
           || coalesce(format_type(a.atttypid, a.atttypmod), '') AS item
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE n.nspname = 'public'
    UNION ALL
    SELECT 'constraint:' || conname || ':' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
) AS schema_items
"""


def schema_fingerprint(dsn: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(_FINGERPRINT).fetchone()
    return str(row[0]) if row else ""


def reset_database(dsn: str, seed: SeedText, fingerprint: str) -> None:
    """A reset script that also survives tests that change the schema.

    TRUNCATE + re-seed when the schema is as seeded; otherwise drop the
    public schema and run the whole seed again.
    """
    if schema_fingerprint(dsn) == fingerprint:
        truncate_and_reseed(dsn, seed.data)
        return
    with psycopg.connect(dsn, autocommit=True) as conn:
        _end_other_connections(conn)
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
        for text in (*seed.schema, *seed.data):
            conn.execute(text.encode())  # no parameters: several statements in one call


def _end_other_connections(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )


def truncate_and_reseed(dsn: str, data_sql: Sequence[str]) -> None:
    """The reset script: TRUNCATE every table, then run the data SQL again.

    Other connections to the database are ended first, as a reset script must
    (TRUNCATE waits for every lock on the tables).
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        _end_other_connections(conn)
        tables = [
            sql.Identifier(schema, name)
            for schema, name in conn.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        if tables:
            conn.execute(
                sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(sql.SQL(", ").join(tables))
            )
        for text in data_sql:
            conn.execute(text.encode())  # no parameters: several statements in one call


# What both baseline plugins share ---------------------------------------------


@dataclass
class Session:
    """One seeded container, and whether its database is known to be pristine."""

    database: Database
    seed: SeedText
    fingerprint: str
    pristine: bool = True
    resets: int = 0

    def reset(self) -> None:
        reset_database(self.database.dsn, self.seed, self.fingerprint)
        self.pristine = True
        self.resets += 1


@contextlib.contextmanager
def seeded_session(config: pytest.Config, kind: str) -> Iterator[Session]:
    """Start a container from the base image, seed it with psql, remove it at the end."""
    rootdir = config.inipath.parent if config.inipath else config.rootpath
    files = SeedFiles.from_environment(rootdir)
    container = SeededContainer(
        image=os.environ.get("BENCH_IMAGE", "dbsnap-postgres:17"),
        dbname=os.environ.get("BENCH_DBNAME", "shop"),
        kind=kind,
    )
    try:
        database = container.start()
        container.apply(files.all)
        yield Session(database, SeedText.read(files), schema_fingerprint(database.dsn))
    finally:
        container.remove()


def register_marker(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dbsnap(scope=None, mode=None): accepted and ignored by the baselines"
    )


@pytest.fixture
def dbsnap_worker_conn(dbsnap_worker: Database) -> Iterator[psycopg.Connection[Any]]:
    """A connection to the worker's database, closed after the test."""
    conn = dbsnap_worker.connect()
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture
def dbsnap_dsn(dbsnap_db: Database) -> str:
    return dbsnap_db.dsn


@pytest.fixture
def dbsnap_conn(dbsnap_db: Database) -> Iterator[psycopg.Connection[Any]]:
    """A connection to this test's pristine database, closed after the test."""
    conn = dbsnap_db.connect()
    try:
        yield conn
    finally:
        conn.close()
