"""Baseline: a fresh container seeded in every worker (what testcontainers users do).

Load it instead of pytest-dbsnap, with the same fixture names the example
uses::

    PYTHONPATH=bench/baselines pytest -p no:dbsnap -p dbsnap_bench_fresh -n 4

Each pytest-xdist worker (or the single process) starts a container from the
base image, waits for it, applies every seed file with psql, and removes the
container at the end of the session. Tests of one worker share its database,
exactly as with ``dbsnap_worker``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from dbsnap_bench_common import Database, SeededContainer, SeedFiles


@pytest.fixture(scope="session")
def dbsnap_worker(request: pytest.FixtureRequest) -> Iterator[Database]:
    """This worker's own container, seeded from scratch."""
    rootdir = request.config.inipath.parent if request.config.inipath else request.config.rootpath
    files = SeedFiles.from_environment(rootdir)
    container = SeededContainer(
        image=os.environ.get("BENCH_IMAGE", "dbsnap-postgres:17"),
        dbname=os.environ.get("BENCH_DBNAME", "shop"),
        kind="fresh",
    )
    try:
        database = container.start()
        container.apply(files.all)
        yield database
    finally:
        container.remove()


@pytest.fixture
def dbsnap_worker_conn(dbsnap_worker: Database) -> Iterator[psycopg.Connection[Any]]:
    conn = dbsnap_worker.connect()
    try:
        yield conn
    finally:
        conn.close()
