"""Where a test database lives and how to reach it: a plain value, no Docker, no driver.

What differs between engines (the URL's scheme, the variables, the driver)
is the engine's :class:`~pytest_dbsnap.engines.Client`'s; a driver is imported
only when :meth:`Database.connect` is called.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from .engines import Client

_DRIVER = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Database:
    """A database on a server: ``host``, ``port``, ``user``, ``password``, ``dbname``,
    and the ``engine`` it runs (``postgres`` or ``mariadb``).

    ``url`` is the URL most frameworks take (``postgresql://...``,
    ``mysql://...``), ``url_for(driver)`` the same with a SQLAlchemy driver,
    ``dsn`` what the engine's usual driver takes (libpq conninfo for
    PostgreSQL), ``environment()`` the variables its tools read, and
    ``connect()`` a new DB-API connection.
    """

    host: str
    port: int
    user: str
    password: str = dataclasses.field(repr=False)
    dbname: str
    engine: str

    @property
    def dsn(self) -> str:
        """The connection string of the engine's usual driver: libpq conninfo for
        PostgreSQL (it also pins what ``PGSSLMODE`` and friends would change), the
        URL for MariaDB."""
        return self._client.dsn(self)

    @property
    def url(self) -> str:
        """``scheme://user:password@host:port/dbname`` (``postgresql``, ``mysql``)."""
        return self.url_for("")

    def url_for(self, driver: str) -> str:
        """The URL with a SQLAlchemy driver: ``url_for("asyncpg")`` is
        ``postgresql+asyncpg://...``, ``url_for("pymysql")`` is ``mysql+pymysql://...``;
        ``url_for("")`` is :attr:`url`."""
        if driver and not _DRIVER.fullmatch(driver):
            raise ValueError(
                f"{driver!r} is not a driver name: use psycopg, asyncpg, pymysql, asyncmy..."
            )
        scheme = self._client.scheme
        if driver:
            scheme += f"+{driver}"
        return (
            f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(self.dbname, safe='')}"
        )

    def environment(self) -> dict[str, str]:
        """``DATABASE_URL`` and the variables the engine's own tools read (``PG*``,
        ``MYSQL_*``), pointing at this database."""
        return self._client.environment(self)

    def with_dbname(self, dbname: str) -> Database:
        """The same server, another database."""
        return dataclasses.replace(self, dbname=dbname)

    def connect(self, **kwargs: Any) -> Any:
        """A new DB-API connection (psycopg 3 for PostgreSQL, PyMySQL for MariaDB)."""
        return self._client.connect(self, **kwargs)

    async def connect_async(self, **kwargs: Any) -> Any:
        """A new async connection (psycopg's ``AsyncConnection`` for PostgreSQL)."""
        return await self._client.connect_async(self, **kwargs)

    def describe(self) -> str:
        """A command line a person runs to connect (it shows the password)."""
        return self._client.describe(self)

    @property
    def _client(self) -> Client:
        from .engines import client

        return client(self.engine)
