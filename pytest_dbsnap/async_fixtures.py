"""``dbsnap_aconn`` and ``dbsnap_async_engine``: async fixtures for pytest-asyncio and anyio.

An async fixture must run in the event loop of the test that uses it, and the
two runners people use decide that differently: pytest-asyncio runs only the
fixtures it is told about, in the loop of their ``loop_scope``; anyio runs
every async fixture of a test that has ``anyio_backend``, in its own loop. So
the public fixtures are sync, and no runner touches them: at set-up each finds
which runner owns the test, and takes the value of a hidden async twin made for
that runner (:mod:`.integrations.pytest_asyncio` has pytest-asyncio's, one per
loop scope; the anyio twins are plain async fixtures, here). Importing this
module imports neither runner, nor psycopg, nor SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .database import Database

LOOP_SCOPES = ("function", "class", "module", "package", "session")


def twin_name(public: str, runner: str) -> str:
    return f"_{public}__{runner}"


def _runner(request: pytest.FixtureRequest) -> str:
    """``anyio``, or ``asyncio_<loop scope>``: who runs this test, in which loop."""
    node, config = request.node, request.config
    by_asyncio = False
    if config.pluginmanager.has_plugin("asyncio"):
        import pytest_asyncio

        by_asyncio = pytest_asyncio.is_async_test(node)
    by_anyio = "anyio_backend" in request.fixturenames
    if by_asyncio and by_anyio:
        pytest.fail(
            f"{request.fixturename} on {node.nodeid}: pytest-asyncio's auto mode has taken over "
            "an anyio test, and the two would run it in different event loops; set "
            "asyncio_mode = strict when you use anyio",
            pytrace=False,
        )
    if by_asyncio:
        marker = node.get_closest_marker("asyncio")
        given = marker.kwargs if marker is not None else {}
        scope = given.get("loop_scope") or given.get("scope")
        return f"asyncio_{scope or config.getini('asyncio_default_test_loop_scope') or 'function'}"
    if by_anyio:
        backend = request.getfixturevalue("anyio_backend")
        name = backend[0] if isinstance(backend, tuple) else backend
        if name != "asyncio":
            pytest.fail(
                f"{request.fixturename} on {node.nodeid}: its drivers run on asyncio, "
                f"not {name}; parametrize anyio_backend with 'asyncio'",
                pytrace=False,
            )
        return "anyio"
    pytest.fail(
        f"{request.fixturename} is async: use it from an async test run by pytest-asyncio "
        "(@pytest.mark.asyncio, or asyncio_mode = auto) or by anyio (@pytest.mark.anyio)",
        pytrace=False,
    )


@pytest.fixture
def dbsnap_aconn(request: pytest.FixtureRequest, dbsnap_db: Database) -> Any:
    """An async connection to this test's pristine database (psycopg's
    ``AsyncConnection``, for PostgreSQL), closed after it.

    For async tests of pytest-asyncio (any loop scope) or anyio (asyncio backend).
    """
    from .engines import client

    if not client(dbsnap_db.engine).async_connection:
        pytest.fail(
            f"dbsnap_aconn has no driver for {dbsnap_db.engine}: use dbsnap_async_engine, or "
            "your async driver on dbsnap_db.host, .port, .user, .password",
            pytrace=False,
        )
    return request.getfixturevalue(twin_name("dbsnap_aconn", _runner(request)))


@pytest.fixture
def dbsnap_async_engine(request: pytest.FixtureRequest, dbsnap_db: Database) -> Any:
    """A SQLAlchemy ``AsyncEngine`` on this test's pristine database, disposed of after it.

    The first async driver of its engine that is installed: for PostgreSQL
    ``postgresql+asyncpg://``, else psycopg's (``postgresql+psycopg://``); for
    MariaDB asyncmy, else aiomysql. Needs ``sqlalchemy[asyncio]``.
    """
    from .errors import ConfigError
    from .integrations.sqlalchemy import async_driver

    try:
        async_driver(dbsnap_db)
    except ConfigError as exc:
        pytest.fail(f"dbsnap: {exc}", pytrace=False)
    return request.getfixturevalue(twin_name("dbsnap_async_engine", _runner(request)))


# The twins. Each runner needs a function of its own: pytest-asyncio's
# decorator marks the function object it is given.


def make_aconn_twin() -> Callable[[Database], AsyncIterator[Any]]:
    async def twin(dbsnap_db: Database) -> AsyncIterator[Any]:
        conn = await dbsnap_db.connect_async()
        try:
            yield conn
        finally:
            await conn.close()

    return twin


def make_async_engine_twin() -> Callable[[Database], AsyncIterator[Any]]:
    async def twin(dbsnap_db: Database) -> AsyncIterator[Any]:
        from .integrations.sqlalchemy import async_engine_for

        engine = async_engine_for(dbsnap_db)
        try:
            yield engine
        finally:
            await engine.dispose()

    return twin


TWINS = {"dbsnap_aconn": make_aconn_twin, "dbsnap_async_engine": make_async_engine_twin}

# anyio runs any async fixture of a test with anyio_backend; these are only
# ever requested by such tests (pytest-asyncio's strict mode leaves them alone).
_dbsnap_aconn__anyio = pytest.fixture(make_aconn_twin(), name=twin_name("dbsnap_aconn", "anyio"))
_dbsnap_async_engine__anyio = pytest.fixture(
    make_async_engine_twin(), name=twin_name("dbsnap_async_engine", "anyio")
)
