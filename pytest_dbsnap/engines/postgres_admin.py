"""Administration of one PostgreSQL server: templates, clones, drops.

Identifiers go through ``psycopg.sql.Identifier``; CREATE and DROP DATABASE
need autocommit. Knows no pytest and no Docker.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import psycopg
import psycopg.errors
from psycopg import sql

from ..errors import ContainerError
from .postgres import Database

Strategy = Literal["file_copy", "wal_log"]


class Admin:
    """An autocommit superuser connection to a server's maintenance database."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.version: int = conn.info.server_version

    @classmethod
    def connect(cls, server: Database, *, avoid: str, timeout: float = 10) -> Admin:
        """Connect to ``postgres`` (or ``template1`` when ``avoid`` is ``postgres``)."""
        maintenance = "template1" if avoid == "postgres" else "postgres"
        deadline = time.monotonic() + timeout
        while True:
            try:
                conn = psycopg.connect(
                    server.with_dbname(maintenance).dsn, autocommit=True, connect_timeout=5
                )
                return cls(conn)
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ContainerError(
                        f"cannot connect to {server.host}:{server.port} as {server.user}: "
                        f"{str(exc).strip().splitlines()[0]}; is the container still running?"
                    ) from None
                time.sleep(0.1)

    def close(self) -> None:
        self.conn.close()

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

    def clone(self, template: str, name: str, strategy: Strategy) -> None:
        query = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
        if self.version >= 150000:  # STRATEGY is new in 15; older servers copy files.
            query += sql.SQL(" STRATEGY {}").format(sql.SQL(strategy.upper()))
        self._execute(query, f"copying {template} to {name}")

    def drop(self, name: str) -> None:
        """Drop ``name``, terminating its connections first."""
        self._execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
            f"dropping {name}",
        )

    def _execute(self, query: sql.Composed, what: str) -> None:
        try:
            self.conn.execute(query)
        except psycopg.Error as exc:
            where = f"{self.conn.info.host}:{self.conn.info.port}"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ContainerError(f"{what} on {where} failed: {first}") from exc

    def databases(self, prefix: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix]
        ).fetchall()
        return [str(r[0]) for r in rows]
