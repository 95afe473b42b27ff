"""Baseline: a fresh container seeded in every worker (what testcontainers users do).

Load it instead of pytest-dbsnap; it provides the fixtures the example uses::

    PYTHONPATH=bench/baselines pytest -p no:dbsnap -p dbsnap_bench_fresh -n 4

Each pytest-xdist worker (or the single process) starts a container from the
base image, waits for it, applies every seed file with psql, and removes the
container at the end of the session. ``dbsnap_worker`` is that database,
shared by the worker's tests. ``dbsnap_db`` (and ``dbsnap_dsn``,
``dbsnap_conn``) is the same database made pristine by a reset script: after
every test that uses it, and before it when a test sharing the database ran
since the last reset.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dbsnap_bench_common import (
    Database,
    Session,
    dbsnap_conn,
    dbsnap_dsn,
    dbsnap_worker_conn,
    register_marker,
    seeded_session,
)

__all__ = ["dbsnap_conn", "dbsnap_dsn", "dbsnap_worker_conn"]


def pytest_configure(config: pytest.Config) -> None:
    register_marker(config)


@pytest.fixture(scope="session")
def bench_session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """This worker's own container, seeded from scratch."""
    with seeded_session(request.config, "fresh") as session:
        yield session


@pytest.fixture(scope="session")
def dbsnap_worker(bench_session: Session) -> Database:
    return bench_session.database


@pytest.fixture(autouse=True)
def _shared_writes(request: pytest.FixtureRequest, bench_session: Session) -> None:
    """A test on the shared database may commit: the next pristine one needs a reset."""
    if "dbsnap_db" not in request.fixturenames:
        bench_session.pristine = False


@pytest.fixture
def dbsnap_db(bench_session: Session) -> Iterator[Database]:
    if not bench_session.pristine:
        bench_session.reset()
    yield bench_session.database
    bench_session.reset()
