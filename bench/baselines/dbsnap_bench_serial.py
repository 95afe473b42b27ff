"""Baseline: one process, one container seeded once, a reset script after each test.

Load it instead of pytest-dbsnap, without xdist::

    PYTHONPATH=bench/baselines pytest -p no:dbsnap -p no:xdist -p dbsnap_bench_serial

After every test, every table is truncated (``RESTART IDENTITY CASCADE``) and
the data files of the seed run again, so each test starts from the seeded
state.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from dbsnap_bench_common import Database, SeededContainer, SeedFiles, truncate_and_reseed

DATA_SQL = pytest.StashKey[list[str]]()


@pytest.fixture(scope="session")
def dbsnap_worker(request: pytest.FixtureRequest) -> Iterator[Database]:
    """The one container of the session, seeded once."""
    if hasattr(request.config, "workerinput"):
        pytest.fail("the serial baseline runs in one process: add -p no:xdist", pytrace=False)
    rootdir = request.config.inipath.parent if request.config.inipath else request.config.rootpath
    files = SeedFiles.from_environment(rootdir)
    request.config.stash[DATA_SQL] = [p.read_text() for p in files.data]
    container = SeededContainer(
        image=os.environ.get("BENCH_IMAGE", "dbsnap-postgres:17"),
        dbname=os.environ.get("BENCH_DBNAME", "shop"),
        kind="serial",
    )
    try:
        database = container.start()
        container.apply(files.all)
        yield database
    finally:
        container.remove()


@pytest.fixture(autouse=True)
def _reset_after_each_test(
    request: pytest.FixtureRequest, dbsnap_worker: Database
) -> Iterator[None]:
    """Torn down last (autouse fixtures are set up first): after the test's own."""
    yield
    truncate_and_reseed(dbsnap_worker.dsn, request.config.stash[DATA_SQL])


@pytest.fixture
def dbsnap_worker_conn(dbsnap_worker: Database) -> Iterator[psycopg.Connection[Any]]:
    conn = dbsnap_worker.connect()
    try:
        yield conn
    finally:
        conn.close()
