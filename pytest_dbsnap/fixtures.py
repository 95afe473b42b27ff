"""The public fixtures of pytest-dbsnap.

``dbsnap_db``, ``dbsnap_dsn`` and ``dbsnap_conn`` give every test a database
that is exactly the seeded state. ``dbsnap_worker`` and ``dbsnap_worker_conn``
give the database every test of the worker shares.

Importing this module imports no driver and not docker-py: a run whose tests
ask for no database never loads them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from .config import SETTINGS
from .errors import ContainerError, DbsnapError

if TYPE_CHECKING:
    from .database import Database
    from .instance import Instance
    from .pool import Pool
    from .server import Copy, Server
    from .state import State

T = TypeVar("T")
_CHOICES = {s.name: s.choices for s in SETTINGS if s.name in ("scope", "mode")}
STATE = pytest.StashKey["State"]()


def state_of(config: pytest.Config) -> State:
    """This process's pytest-dbsnap state; fails the test when the plugin is disabled."""
    state = config.stash.get(STATE, None)
    if state is None:
        pytest.fail(
            "pytest-dbsnap is disabled (dbsnap_disable); unset it to use its fixtures",
            pytrace=False,
        )
    return state


def _or_fail(make: Callable[[], T], server: Server | None = None) -> T:
    failure = None
    try:
        return make()
    except DbsnapError as exc:
        failure = f"dbsnap: {server.diagnose(exc) if server else exc}"
    pytest.fail(failure, pytrace=False)


@dataclass
class Lease:
    """A pristine database lent to one test (or module) by a pool."""

    database: Database
    give_back: Callable[[], None]
    keep: Callable[[], None]


def lease(server: Server, mode: str) -> Lease:
    """Take a pristine database from the pool of ``mode``: a copy inside the worker's
    container, or a container of its own (always, for an engine that copies nothing)."""
    timeout = server.settings.startup_timeout
    if mode == "container" or not _or_fail(lambda: server.copies):
        containers: Pool[Instance] = _or_fail(server.container_pool)
        instance = _or_fail(lambda: containers.acquire(timeout), server)
        return Lease(
            instance.database,
            lambda: containers.release(instance),
            lambda: containers.keep(instance),
        )
    clones: Pool[Copy] = _or_fail(server.clone_pool, server)
    copy = _or_fail(lambda: clones.acquire(timeout), server)
    # A copy made before the container died is no database.
    _or_fail(server.check_server, server)
    return Lease(copy.database, lambda: clones.release(copy), lambda: clones.keep(copy))


def options(node: pytest.Item | pytest.Collector, server: Server) -> tuple[str, str]:
    """(scope, mode) for ``node``: its ``dbsnap`` markers over the settings."""
    chosen = _marked(node)
    return (
        chosen.get("scope", server.settings.scope),
        chosen.get("mode", server.settings.mode),
    )


def _marked(node: pytest.Item | pytest.Collector) -> dict[str, str]:
    """What the ``dbsnap`` markers of ``node`` choose.

    Markers on the test, its class and its module merge; for each keyword the
    closest one wins.
    """
    chosen: dict[str, str] = {}
    for marker in node.iter_markers("dbsnap"):  # closest first
        if marker.args:
            pytest.fail(
                f"@pytest.mark.dbsnap{marker.args!r} on {node.nodeid} takes keywords only: "
                "write scope=... or mode=...",
                pytrace=False,
            )
        for name, value in marker.kwargs.items():
            if name not in _CHOICES or value not in _CHOICES[name]:
                accepted = "; ".join(f"{k}: {', '.join(v)}" for k, v in _CHOICES.items())
                pytest.fail(
                    f"@pytest.mark.dbsnap({name}={value!r}) on {node.nodeid} is not valid: "
                    f"use {accepted}",
                    pytrace=False,
                )
            chosen.setdefault(name, value)
    return chosen


@pytest.fixture(scope="session")
def _dbsnap_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """This process's database server and pools (internal); emptied at the end of the
    session."""
    state = state_of(request.config)
    state.asked = True
    yield state.server()
    for problem in state.close():  # a failed cleanup must not hide the test results
        warnings.warn(f"dbsnap: {problem}", stacklevel=1)


@pytest.fixture(scope="session")
def dbsnap_worker(_dbsnap_server: Server) -> Database:
    """This worker's database: one container from the snapshot per xdist worker.

    Every test in the same worker shares it, so committed writes are seen by
    later tests of that worker; a test in another worker never sees them. Has
    ``host``, ``port``, ``user``, ``password``, ``dbname``, ``dsn``, ``url``
    and ``url_for(driver)`` (see :class:`~pytest_dbsnap.database.Database`).
    """
    return _or_fail(_dbsnap_server.worker_database)


def _connect(database: Database, server: Server) -> Any:
    """A connection to ``database``; a refusal says why when its container died."""
    try:
        return database.connect()
    except Exception as exc:  # the driver's own error (each driver has its own)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        error = ContainerError(f"cannot connect to {database.dbname}: {first}")
        failure = f"dbsnap: {server.diagnose(error)}"
    pytest.fail(failure, pytrace=False)


@pytest.fixture
def dbsnap_worker_conn(dbsnap_worker: Database, _dbsnap_server: Server) -> Iterator[Any]:
    """A DB-API connection to this worker's database (psycopg 3 for PostgreSQL, PyMySQL
    for MariaDB), closed after the test.

    Nothing is committed for you: uncommitted work is rolled back at close.
    """
    conn = _connect(dbsnap_worker, _dbsnap_server)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="module")
def dbsnap_module_db(request: pytest.FixtureRequest, _dbsnap_server: Server) -> Iterator[Database]:
    """A pristine database shared by the tests of one module.

    Under ``pytest -n``, the module's tests that run in one worker share it:
    with ``--dist load`` a module's tests spread over the workers, each with
    its own copy; ``--dist loadscope`` or ``loadfile`` keeps them together.
    """
    _, mode = options(request.node, _dbsnap_server)
    lent = lease(_dbsnap_server, mode)
    try:
        yield lent.database
    finally:
        lent.give_back()


@pytest.fixture
def dbsnap_db(request: pytest.FixtureRequest, _dbsnap_server: Server) -> Iterator[Database]:
    """A database that is exactly the seeded state, for this test alone.

    The code under test may open its own connections and pools to it and commit
    freely: the next test still starts pristine. ``@pytest.mark.dbsnap(scope=
    "module")`` or ``scope="worker"`` shares one among the tests of a module
    or of the worker; ``mode="container"`` gives a whole container instead of a
    copy inside the worker's.
    """
    scope, mode = options(request.node, _dbsnap_server)
    settings = _dbsnap_server.settings
    if scope == "worker" or (settings.env and (scope, mode) == (settings.scope, settings.mode)):
        # With dbsnap_env, the database behind the application's address: the
        # one the code under test uses, pristine at the start of each unit.
        yield request.getfixturevalue("dbsnap_worker")
        return
    if scope == "module":
        yield request.getfixturevalue("dbsnap_module_db")
        return
    lent = lease(_dbsnap_server, mode)
    request.node.stash[LEASE] = lent
    try:
        yield lent.database
    finally:
        del request.node.stash[LEASE]
        if _dbsnap_server.settings.keep and request.node.stash.get(FAILED, False):
            lent.keep()
        else:
            lent.give_back()


@pytest.fixture
def dbsnap_scope(request: pytest.FixtureRequest) -> str:
    """How long this test's pristine database lives: ``function``, ``module`` or ``worker``.

    ``dbsnap_scope`` (the setting) as the test's ``dbsnap`` markers change it.
    """
    state = state_of(request.config)
    chosen = _marked(request.node)
    return chosen.get("scope", state.settings.scope)


@pytest.fixture
def dbsnap_dsn(dbsnap_db: Database) -> str:
    """The connection string of this test's pristine database (``dbsnap_db.dsn``: libpq
    conninfo for PostgreSQL, the URL for MariaDB)."""
    return dbsnap_db.dsn


@pytest.fixture
def dbsnap_engine(dbsnap_db: Database) -> Iterator[Any]:
    """A SQLAlchemy ``Engine`` on this test's pristine database, with its engine's
    usual driver (``postgresql+psycopg``, ``mysql+pymysql``), disposed of after it.
    Needs SQLAlchemy (``pytest-dbsnap[sqlalchemy]``)."""
    from .integrations.sqlalchemy import engine_for

    engine = engine_for(dbsnap_db)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def dbsnap_conn(dbsnap_db: Database, _dbsnap_server: Server) -> Iterator[Any]:
    """A DB-API connection to this test's pristine database, closed after it (psycopg 3
    for PostgreSQL, PyMySQL for MariaDB)."""
    conn = _connect(dbsnap_db, _dbsnap_server)
    try:
        yield conn
    finally:
        conn.close()


LEASE = pytest.StashKey[Lease]()
FAILED = pytest.StashKey[bool]()
