"""The public fixtures of pytest-dbsnap."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from .errors import DbsnapError

if TYPE_CHECKING:
    from .engines.postgres import Database


@pytest.fixture(scope="session")
def dbsnap_worker(request: pytest.FixtureRequest) -> Iterator[Database]:
    """This worker's database: one container from the snapshot per xdist worker.

    Every test in the same worker shares it, so committed writes are seen by
    later tests of that worker; a test in another worker never sees them. Has
    ``host``, ``port``, ``user``, ``password``, ``dbname``, ``dsn`` (libpq
    conninfo) and ``url`` (``postgresql://``, for SQLAlchemy).
    """
    from .plugin import WORKER_REPORTS, instance_report, runtime_of

    runtime = runtime_of(request.config)
    failure = None
    try:
        database = runtime.worker_database()
    except DbsnapError as exc:
        failure = f"dbsnap: {exc}"
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    report = instance_report(runtime)
    workeroutput: dict[str, Any] | None = getattr(request.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["dbsnap"] = report
    else:
        request.config.stash[WORKER_REPORTS].append(report)
    yield database
    try:
        runtime.close()
    except Exception as exc:  # a failed cleanup must not hide the test results
        warnings.warn(f"dbsnap: could not remove {runtime.role}'s container: {exc}", stacklevel=1)


@pytest.fixture
def dbsnap_worker_conn(dbsnap_worker: Database) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection to this worker's database, closed after the test.

    Nothing is committed for you: uncommitted work is rolled back at close.
    """
    conn = psycopg.connect(dbsnap_worker.dsn)
    try:
        yield conn
    finally:
        conn.close()
