"""Races that would break "exactly one build" and "nothing lost", each forced.

Every interleaving is injected (a patched step, an inner test that waits for
a state), never left to timing, against the real daemon and real sessions.
"""

from __future__ import annotations

import os
import uuid

import docker
import pytest

from pytest_dbsnap.daemon import locate
from pytest_dbsnap.docker import ContainerInfo, Docker
from pytest_dbsnap.reaper import Sentinel, reap

from .project import Project

SEED = "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1), (2);\n"

POOL_FAILS_UNDER_A_TEST = """
import time
import psycopg
import pytest

def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)

def test_1_breaks_the_template_while_holding_a_copy(dbsnap_db, _dbsnap_server):
    pool = _dbsnap_server.clone_pool()
    wait_for(lambda: pool.ready == 1)  # the next copy is made already
    admin = _dbsnap_server.worker_instance().database.with_dbname("postgres")
    with psycopg.connect(admin.dsn, autocommit=True) as conn:
        conn.execute("ALTER DATABASE test_dbsnap_template IS_TEMPLATE false")
        conn.execute("DROP DATABASE test_dbsnap_template WITH (FORCE)")
    with psycopg.connect(dbsnap_db.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
        conn.execute("INSERT INTO t VALUES (3)")  # not handed out again

def test_2_holds_the_last_copy_while_make_gives_up(dbsnap_db, _dbsnap_server):
    pool = _dbsnap_server.clone_pool()
    wait_for(lambda: pool._failure is not None)  # retried, then gave up
    with psycopg.connect(dbsnap_db.dsn) as conn:  # still here, still the seed
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)

def test_3_finds_no_copy_and_is_told_why(dbsnap_db):
    pass
"""


def test_a_failing_make_fails_the_waiting_test_and_never_drops_a_lent_copy(
    project: Project,
) -> None:
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", pool_size="1")
    project.write("test_pool.py", POOL_FAILS_UNDER_A_TEST)
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_3_finds_no_copy_and_is_told_why*",
            "dbsnap: pristine-database pool of main: copying test_dbsnap_template to test_* "
            'failed: * database "test_dbsnap_template" does not exist',
        ]
    )


# The first look for the snapshot misses, as for a waiter that looked just
# before the lock's holder tagged it and took the lock just after.
LOOKED_TOO_EARLY = """
import pytest_dbsnap.snapshot as snapshot

real = snapshot._matching
calls = []

def looked_too_early(*args):
    calls.append(args)
    return None if len(calls) == 1 else real(*args)

snapshot._matching = looked_too_early
"""


@pytest.mark.parametrize("xdist", [True, False], ids=["xdist", "single"])
def test_the_snapshot_is_looked_for_again_after_taking_the_lock(
    project: Project, xdist: bool
) -> None:
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", seed_command=project.counting_command())
    project.write("test_db.py", "def test_db(dbsnap_conn):\n    pass\n")
    args = ["-n", "2"] if xdist else ["-p", "no:xdist"]
    project.run(*args).assert_outcomes(passed=1)
    assert project.seed_runs() == 1

    project.write("conftest.py", LOOKED_TOO_EARLY)
    result = project.run(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["snapshot * (cache hit: nothing seeded)"])
    assert project.seed_runs() == 1


def test_the_reaper_spares_a_session_that_starts_while_it_lists(
    project: Project, docker_client: docker.DockerClient, base_image: str
) -> None:
    """A session's sentinel and first container both appear between the
    reaper's two list calls."""
    ours = Docker.connect(locate(os.environ))
    labels = {"dbsnap.project": project.name, "dbsnap.session": uuid.uuid4().hex[:12]}
    started: list[object] = []
    real_list = ours.containers

    def list_then_start_a_session(wanted: dict[str, str | None]) -> object:
        found = real_list(wanted)
        if not started:
            sentinel = Sentinel(ours, base_image, labels)
            container = ours.create(
                name=f"dbsnap-{project.name}-race",
                image=base_image,
                labels={**labels, "dbsnap.kind": "worker"},
                command=["true"],
            )
            started.extend([sentinel, container])
        return found

    ours.containers = list_then_start_a_session  # type: ignore[method-assign]
    try:
        assert reap(ours, project.name) == []
        _sentinel, container = started
        assert isinstance(container, ContainerInfo)
        assert ours.get_container(container.id) is not None  # still there
    finally:
        for thing in started:
            if isinstance(thing, Sentinel):
                thing.stop()
            elif isinstance(thing, ContainerInfo):
                ours.remove(thing)
        ours.close()


# Between two tests, once the pool's thread has handled what the first gave
# back, the pool holds no more ready copies than its size: an untouched copy
# handed back to a full pool is dropped, not queued.
POOL_STAYS_IN_ITS_SIZE = """
import time
import pytest

@pytest.fixture(autouse=True)
def pool_within_its_size(request, _dbsnap_server):
    yield  # torn down after dbsnap_db gave its copy back
    pool = _dbsnap_server.clone_pool()
    time.sleep(0.4)  # the thread inspects the copy given back
    seen.append(pool.ready)
    assert pool.ready <= 2, f"{pool.ready} ready copies in a pool of 2"

seen = []

@pytest.mark.parametrize("n", range(6))
def test_reads_and_waits_for_the_pool_to_fill(n, dbsnap_conn, _dbsnap_server):
    assert dbsnap_conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    dbsnap_conn.rollback()
    deadline = time.monotonic() + 30
    while _dbsnap_server.clone_pool().ready < 2:  # full while this test holds one
        assert time.monotonic() < deadline
        time.sleep(0.02)

def test_zz_the_pool_was_full_between_tests():
    assert max(seen) == 2
"""


def test_a_full_pool_never_grows_past_its_size_with_reused_copies(project: Project) -> None:
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", pool_size="2")
    project.write("test_pool.py", POOL_STAYS_IN_ITS_SIZE)
    project.run("-p", "no:xdist").assert_outcomes(passed=7)
