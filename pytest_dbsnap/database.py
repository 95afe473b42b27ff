"""Where a test database lives and how to reach it: a plain value, no Docker, no driver.

Importing this module imports no database driver; :meth:`Database.connect`
imports psycopg when it is called.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import psycopg

_DRIVER = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Database:
    """A database on a server: ``host``, ``port``, ``user``, ``password``, ``dbname``.

    ``dsn`` is a libpq conninfo string for ``psycopg.connect``; ``url`` is a
    ``postgresql://`` URL for SQLAlchemy and most frameworks, and
    ``url_for("asyncpg")`` the same with a driver (``postgresql+asyncpg://``).
    """

    host: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)
    dbname: str

    @property
    def dsn(self) -> str:
        """libpq conninfo of exactly this database.

        It also pins what the host's ``PGSSLMODE``, ``PGTARGETSESSIONATTRS``
        and ``PGOPTIONS`` would otherwise change (libpq reads them for every
        keyword not given): a test database has no TLS and no replicas.
        """
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host,
            port=str(self.port),
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            sslmode="prefer",
            target_session_attrs="any",
            options="",
        )

    @property
    def url(self) -> str:
        """``postgresql://user:password@host:port/dbname``."""
        return self.url_for("")

    def url_for(self, driver: str) -> str:
        """The URL with a SQLAlchemy driver: ``psycopg``, ``asyncpg``, ``psycopg2``...

        ``url_for("")`` is :attr:`url`; ``url_for("asyncpg")`` is
        ``postgresql+asyncpg://...`` and ``url_for("psycopg")`` is
        ``postgresql+psycopg://...`` (also for ``create_async_engine``).
        """
        if driver and not _DRIVER.fullmatch(driver):
            raise ValueError(
                f"{driver!r} is not a driver name: use psycopg, asyncpg, psycopg2, pg8000..."
            )
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return (
            f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.dbname, safe='')}"
        )

    def environment(self) -> dict[str, str]:
        """``DATABASE_URL`` and the libpq ``PG*`` variables pointing at this database."""
        return {
            "DATABASE_URL": self.url,
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": self.dbname,
        }

    def with_dbname(self, dbname: str) -> Database:
        """The same server, another database."""
        return dataclasses.replace(self, dbname=dbname)

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A new psycopg connection to this database."""
        import psycopg

        return psycopg.connect(self.dsn, **kwargs)

    async def connect_async(self, **kwargs: Any) -> psycopg.AsyncConnection[Any]:
        """A new psycopg ``AsyncConnection`` to this database."""
        import psycopg

        return await psycopg.AsyncConnection.connect(self.dsn, **kwargs)
