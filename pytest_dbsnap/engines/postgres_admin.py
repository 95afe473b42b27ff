"""Administration of one PostgreSQL server: templates, clones, drops.

The :class:`~pytest_dbsnap.engines.Admin` of the PostgreSQL engine.
Identifiers go through ``psycopg.sql.Identifier``; CREATE and DROP DATABASE
need autocommit. Knows no pytest and no Docker.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
import psycopg.errors
from psycopg import sql

from ..database import Database
from ..errors import ContainerError

Strategy = Literal["file_copy", "wal_log"]
_MISSING: tuple[object, ...] = ("missing",)


@dataclass(frozen=True)
class WriteMarks:
    """Evidence of writes to one database; equal marks mean nothing was written."""

    catalog: tuple[object, ...]
    sequences: str


class PostgresAdmin:
    """An autocommit superuser connection to a server's maintenance database."""

    def __init__(
        self, conn: psycopg.Connection[Any], server: Database, strategy: Strategy = "file_copy"
    ) -> None:
        self.conn = conn
        self.server = server
        self.strategy = strategy
        self.version: int = conn.info.server_version

    @property
    def reuse_problem(self) -> str:
        """Before PostgreSQL 15 a backend's statistics reach shared memory only some
        time after it exits, so "nothing was written" cannot be proven."""
        if self.version >= 150000:
            return ""
        return (
            f"PostgreSQL {self.version // 10000} reports statistics too late to prove a copy "
            "untouched: every copy is dropped after its test (dbsnap_reuse is off; 15 and "
            "later reuse them)"
        )

    @classmethod
    def connect(
        cls, server: Database, *, avoid: str, strategy: Strategy = "file_copy", timeout: float = 10
    ) -> PostgresAdmin:
        """Connect to ``postgres`` (or ``template1`` when ``avoid`` is ``postgres``)."""
        maintenance = "template1" if avoid == "postgres" else "postgres"
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = psycopg.connect(
                    server.with_dbname(maintenance).dsn, autocommit=True, connect_timeout=5
                )
                return cls(conn, server, strategy)
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ContainerError(
                        f"cannot connect to {server.host}:{server.port} as {server.user}: "
                        f"{str(exc).strip().splitlines()[0]}; is the container still running?"
                    ) from None
                time.sleep(0.1)

    def close(self) -> None:
        self.conn.close()

    def ping(self) -> None:
        """One round trip; :class:`ContainerError` when the server is gone."""
        try:
            self.conn.execute("SELECT 1")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ContainerError(f"the server does not answer: {first}") from exc

    def make_template(self, dbname: str, template: str) -> None:
        """Turn the seeded ``dbname`` into ``template``, closed to connections.

        ``CREATE DATABASE ... TEMPLATE`` refuses while anyone is connected to
        the template, so tests never get the seeded database itself.
        """
        rename = sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(dbname), sql.Identifier(template)
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                self._execute(rename, f"turning {dbname} into a template")
                break
            except ContainerError as exc:
                # The readiness probe's backend may still be on its way out.
                if not isinstance(exc.__cause__, psycopg.errors.ObjectInUse):
                    raise
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self._execute(
            sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false").format(
                sql.Identifier(template)
            ),
            f"closing template {template}",
        )

    def clone(self, template: str, name: str) -> None:
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
        if self.version >= 150000:  # STRATEGY is new in 15; older servers copy files.
            query += sql.SQL(" STRATEGY {}").format(sql.SQL(self.strategy.upper()))
        self._execute(query, f"copying {template} to {name}")

    def replace(self, name: str, copy: str, trash: str) -> None:
        """Put database ``copy`` in the place of ``name``; the old one becomes ``trash``.

        Two renames, no copying: the address of ``name`` stays, its data is
        ``copy``'s. Connections to the old one are ended, and none can start
        meanwhile.
        """
        old = sql.Identifier(name)
        self._execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(old),
            f"closing {name}",
        )
        self.disconnect(name)
        self._execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(old, sql.Identifier(trash)),
            f"moving {name} aside",
        )
        self._execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(copy), old),
            f"putting {copy} in the place of {name}",
        )

    def drop(self, name: str) -> None:
        """Drop ``name``, terminating its connections first."""
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
            f"dropping {name}",
        )

    def write_marks(self, name: str) -> WriteMarks:
        """What changes when anything writes to database ``name``.

        Call it with nobody connected to ``name`` (see :meth:`disconnect`):
        a backend's statistics reach shared memory at the latest when it exits.

        - tuples inserted, updated and deleted, from PostgreSQL's statistics:
          every DML and every DDL (DDL writes catalog rows), unlogged and
          temporary tables and large objects included, aborted writes too;
        - the time statistics were last reset, so ``pg_stat_reset()`` cannot
          hide earlier writes;
        - the database's own row in ``pg_database`` (owner, ACL, limits), its
          ``ALTER DATABASE ... SET`` settings and prepared transactions, which
          live in shared catalogs;
        - every sequence's last value, since ``nextval`` and ``setval`` write
          in place without touching the tuple counters.
        """
        catalog = self._catalog_marks(name)
        if catalog == _MISSING:
            return WriteMarks(catalog, "")
        return WriteMarks(catalog, self._sequence_marks(name))

    def untouched(self, name: str, pristine: object) -> bool:
        """Whether ``name`` still has the marks ``pristine`` (see :meth:`write_marks`).

        The sequences, which take a connection to ``name``, are looked at only
        when the counters show no write.
        """
        assert isinstance(pristine, WriteMarks)
        if self._catalog_marks(name) != pristine.catalog:
            return False
        return self._sequence_marks(name) == pristine.sequences

    def _catalog_marks(self, name: str) -> tuple[object, ...]:
        with self._failing_as(f"reading the write marks of {name}"):
            row = self.conn.execute(
                """
            SELECT pg_stat_get_db_tuples_inserted(d.oid),
                   pg_stat_get_db_tuples_updated(d.oid),
                   pg_stat_get_db_tuples_deleted(d.oid),
                   pg_stat_get_db_stat_reset_time(d.oid)::text,
                   concat_ws('|', d.datdba, d.datconnlimit, d.datallowconn,
                             d.datistemplate, d.datacl::text, d.dattablespace),
                   EXISTS (SELECT FROM pg_db_role_setting s WHERE s.setdatabase = d.oid)
                   OR EXISTS (SELECT FROM pg_prepared_xacts p WHERE p.database = d.datname)
            FROM pg_database d WHERE d.datname = %s
            """,
                [name],
            ).fetchone()
        return _MISSING if row is None else tuple(row)

    def _sequence_marks(self, name: str) -> str:
        with (
            self._failing_as(f"reading the sequences of {name}"),
            psycopg.connect(
                self.server.with_dbname(name).dsn, autocommit=True, connect_timeout=5
            ) as conn,
        ):
            sequences = conn.execute(
                "SELECT coalesce(string_agg(format('%I.%I=%s', schemaname, sequencename,"
                " last_value), ',' ORDER BY schemaname, sequencename), '') FROM pg_sequences"
            ).fetchone()
        return str(sequences[0] if sequences else "")

    def disconnect(self, name: str, timeout: float = 10) -> None:
        """Terminate every connection to ``name`` and wait until they are gone.

        From PostgreSQL 14 on the server waits for each backend to exit
        (``pg_terminate_backend(pid, timeout)``); a connection that came in
        meanwhile takes another round.
        """
        deadline = time.monotonic() + timeout
        wait = ", 5000" if self.version >= 140000 else ""
        while True:
            with self._failing_as(f"ending the connections to {name}"):
                row = self.conn.execute(
                    f"SELECT count(pg_terminate_backend(pid{wait})) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    [name],
                ).fetchone()
            if not row or row[0] == 0:
                return
            if time.monotonic() > deadline:
                raise ContainerError(f"connections to {name} did not end within {timeout:g}s")
            if not wait:
                time.sleep(0.005)

    def _execute(self, query: sql.Composed, what: str) -> None:
        with self._failing_as(what):
            self.conn.execute(query)

    @contextlib.contextmanager
    def _failing_as(self, what: str) -> Iterator[None]:
        """psycopg's errors as one line naming ``what`` and the server (a
        :class:`ContainerError`, the cause kept)."""
        try:
            yield
        except psycopg.Error as exc:
            where = f"{self.server.host}:{self.server.port}"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ContainerError(f"{what} on {where} failed: {first}") from exc

    def databases(self, prefix: str) -> list[str]:
        with self._failing_as("listing databases"):
            rows = self.conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix]
            ).fetchall()
        return [str(r[0]) for r in rows]
