"""The public fixtures of pytest-dbsnap.

``dbsnap_db``, ``dbsnap_dsn`` and ``dbsnap_conn`` give every test a database
that is exactly the seeded state. ``dbsnap_worker`` and ``dbsnap_worker_conn``
give the database every test of the worker shares.

Importing this module imports neither psycopg nor docker-py: a run whose tests
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
    import psycopg

    from .database import Database
    from .instance import Instance
    from .pool import Pool
    from .runtime import Copy, Runtime
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


def _or_fail(make: Callable[[], T], runtime: Runtime | None = None) -> T:
    failure = None
    try:
        return make()
    except DbsnapError as exc:
        failure = f"dbsnap: {runtime.diagnose(exc) if runtime else exc}"
    pytest.fail(failure, pytrace=False)


@dataclass
class Lease:
    """A pristine database lent to one test (or module) by a pool."""

    database: Database
    give_back: Callable[[], None]
    keep: Callable[[], None]


def lease(runtime: Runtime, mode: str) -> Lease:
    """Take a pristine database from the pool of ``mode``."""
    timeout = runtime.settings.startup_timeout
    if mode == "container":
        containers: Pool[Instance] = _or_fail(runtime.container_pool)
        instance = _or_fail(lambda: containers.acquire(timeout), runtime)
        return Lease(
            instance.database,
            lambda: containers.release(instance),
            lambda: containers.keep(instance),
        )
    clones: Pool[Copy] = _or_fail(runtime.clone_pool, runtime)
    copy = _or_fail(lambda: clones.acquire(timeout), runtime)
    # A copy made before the container died is no database.
    _or_fail(runtime.check_server, runtime)
    return Lease(copy.database, lambda: clones.release(copy), lambda: clones.keep(copy))


def options(node: pytest.Item | pytest.Collector, runtime: Runtime) -> tuple[str, str]:
    """(scope, mode) for ``node``: its ``dbsnap`` markers over the settings."""
    chosen = _marked(node)
    return (
        chosen.get("scope", runtime.settings.scope),
        chosen.get("mode", runtime.settings.mode),
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
def _dbsnap_runtime(request: pytest.FixtureRequest) -> Iterator[Runtime]:
    """This process's engine-side state (internal); emptied at the end of the session."""
    state = state_of(request.config)
    state.asked = True
    runtime = state.runtime()
    yield runtime
    for problem in runtime.close():  # a failed cleanup must not hide the test results
        warnings.warn(f"dbsnap: {problem}", stacklevel=1)


@pytest.fixture(scope="session")
def dbsnap_worker(_dbsnap_runtime: Runtime) -> Database:
    """This worker's database: one container from the snapshot per xdist worker.

    Every test in the same worker shares it, so committed writes are seen by
    later tests of that worker; a test in another worker never sees them. Has
    ``host``, ``port``, ``user``, ``password``, ``dbname``, ``dsn`` (libpq
    conninfo) and ``url`` (``postgresql://``, for SQLAlchemy).
    """
    return _or_fail(_dbsnap_runtime.worker_database)


def _connect(database: Database, runtime: Runtime) -> psycopg.Connection[Any]:
    """A connection to ``database``; a refusal says why when its container died."""
    import psycopg

    try:
        return database.connect()
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        error = ContainerError(f"cannot connect to {database.dbname}: {first}")
        failure = f"dbsnap: {runtime.diagnose(error)}"
    pytest.fail(failure, pytrace=False)


@pytest.fixture
def dbsnap_worker_conn(
    dbsnap_worker: Database, _dbsnap_runtime: Runtime
) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection to this worker's database, closed after the test.

    Nothing is committed for you: uncommitted work is rolled back at close.
    """
    conn = _connect(dbsnap_worker, _dbsnap_runtime)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="module")
def dbsnap_module_db(
    request: pytest.FixtureRequest, _dbsnap_runtime: Runtime
) -> Iterator[Database]:
    """A pristine database shared by the tests of one module.

    Under ``pytest -n``, the module's tests that run in one worker share it:
    with ``--dist load`` a module's tests spread over the workers, each with
    its own copy; ``--dist loadscope`` or ``loadfile`` keeps them together.
    """
    _, mode = options(request.node, _dbsnap_runtime)
    lent = lease(_dbsnap_runtime, mode)
    try:
        yield lent.database
    finally:
        lent.give_back()


@pytest.fixture
def dbsnap_db(request: pytest.FixtureRequest, _dbsnap_runtime: Runtime) -> Iterator[Database]:
    """A database that is exactly the seeded state, for this test alone.

    The code under test may open its own connections and pools to it and commit
    freely: the next test still starts pristine. ``@pytest.mark.dbsnap(scope=
    "module")`` or ``scope="worker"`` shares one among the tests of a module
    or of the worker; ``mode="container"`` gives a whole container instead of a
    copy inside the worker's.
    """
    scope, mode = options(request.node, _dbsnap_runtime)
    settings = _dbsnap_runtime.settings
    if scope == "worker" or (settings.env and (scope, mode) == (settings.scope, settings.mode)):
        # With dbsnap_env, the database behind the application's address: the
        # one the code under test uses, pristine at the start of each unit.
        yield request.getfixturevalue("dbsnap_worker")
        return
    if scope == "module":
        yield request.getfixturevalue("dbsnap_module_db")
        return
    lent = lease(_dbsnap_runtime, mode)
    request.node.stash[LEASE] = lent
    try:
        yield lent.database
    finally:
        del request.node.stash[LEASE]
        if _dbsnap_runtime.settings.keep and request.node.stash.get(FAILED, False):
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
    """libpq conninfo of this test's pristine database (see ``dbsnap_db``)."""
    return dbsnap_db.dsn


@pytest.fixture
def dbsnap_engine(dbsnap_db: Database) -> Iterator[Any]:
    """A SQLAlchemy ``Engine`` on this test's pristine database (``postgresql+psycopg``),
    disposed of after it. Needs SQLAlchemy (``pytest-dbsnap[sqlalchemy]``)."""
    from .integrations.sqlalchemy import engine_for

    engine = engine_for(dbsnap_db)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def dbsnap_conn(dbsnap_db: Database, _dbsnap_runtime: Runtime) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection to this test's pristine database, closed after it."""
    conn = _connect(dbsnap_db, _dbsnap_runtime)
    try:
        yield conn
    finally:
        conn.close()


LEASE = pytest.StashKey[Lease]()
FAILED = pytest.StashKey[bool]()
