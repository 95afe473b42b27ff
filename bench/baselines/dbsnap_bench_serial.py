"""Baseline: one process, one container seeded once, a reset script after each test.

Load it instead of pytest-dbsnap, without xdist::

    PYTHONPATH=bench/baselines pytest -p no:dbsnap -p no:xdist -p dbsnap_bench_serial

After every test, every table is truncated (``RESTART IDENTITY CASCADE``) and
the data files of the seed run again (the whole seed, schema included, when
the test changed the schema), so each test starts from the seeded state:
``dbsnap_db`` and ``dbsnap_worker`` are the same database.
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
    """The one container of the session, seeded once."""
    if hasattr(request.config, "workerinput"):
        pytest.fail("the serial baseline runs in one process: add -p no:xdist", pytrace=False)
    with seeded_session(request.config, "serial") as session:
        yield session


@pytest.fixture(scope="session")
def dbsnap_worker(bench_session: Session) -> Database:
    return bench_session.database


@pytest.fixture
def dbsnap_db(bench_session: Session) -> Database:
    return bench_session.database


@pytest.fixture(autouse=True)
def _reset_after_each_test(bench_session: Session) -> Iterator[None]:
    """Torn down last (autouse fixtures are set up first): after the test's own."""
    yield
    bench_session.reset()
