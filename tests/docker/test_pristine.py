"""A pristine database for every test: copies from a pool, or whole containers."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import psycopg
import pytest

from .project import Project

INNER = Path(__file__).parent / "inner"

SEED = """
    CREATE TABLE account (id int PRIMARY KEY, owner text NOT NULL, balance int NOT NULL);
    CREATE INDEX account_owner ON account (owner);
    CREATE SEQUENCE ticket;
    CREATE UNLOGGED TABLE cache (k int PRIMARY KEY);
    INSERT INTO account SELECT i, 'owner ' || (i % 50), i * 10 FROM generate_series(1, 2000) i;
"""

DB_SETTING = (
    "DO $$BEGIN EXECUTE format('ALTER DATABASE %I SET work_mem = ''8MB''', "
    "current_database()); END$$"
)

# Each statement writes something a later test must not see.
MUTATIONS = {
    "delete": "DELETE FROM account WHERE id % 2 = 0",
    "update": "UPDATE account SET balance = 0",
    "insert": "INSERT INTO account VALUES (99999, 'x', 1)",
    "ddl_table": "CREATE TABLE scratch (x int)",
    "ddl_drop": "DROP TABLE account CASCADE",
    "ddl_index": "DROP INDEX account_owner",
    "truncate": "TRUNCATE account",
    "alter": "ALTER TABLE account ADD COLUMN note text",
    "sequence": "SELECT nextval('ticket')",
    "setval": "SELECT setval('ticket', 42)",
    "comment": "COMMENT ON TABLE account IS 'changed'",
    "grant": "GRANT SELECT ON account TO PUBLIC",
    "unlogged": "INSERT INTO cache VALUES (1)",
    "large_object": "SELECT lo_create(0)",
    "schema": "CREATE SCHEMA extra",
    "function": "CREATE FUNCTION one() RETURNS int LANGUAGE sql AS $$SELECT 1$$",
    "db_setting": DB_SETTING,
    "stats_reset": "DELETE FROM account WHERE id = 1; SELECT pg_stat_reset()",
}


def pristine_project(project: Project, **settings: str) -> None:
    project.share("test_pristine")  # these tests are about what comes after the build
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", **settings)
    shutil.copy(INNER / "checks.py", project.path / "checks.py")
    shutil.copy(INNER / "inner_conftest.py", project.path / "conftest.py")


def write_mutation_suite(project: Project, seed: int) -> int:
    """Tests that each write and commit, each followed by one that checks; shuffled."""
    (project.path / "mutations.json").write_text(json.dumps(MUTATIONS))
    template = """
def test_{name}_through_own_connection(dbsnap_dsn, pristine):
    with psycopg.connect(dbsnap_dsn, autocommit=True) as conn:
        assert_pristine(conn, pristine)
        conn.execute(MUTATIONS["{name}"])

def test_{name}_through_fixture_connection(dbsnap_conn, pristine):
    assert_pristine(dbsnap_conn, pristine)
    dbsnap_conn.execute(MUTATIONS["{name}"])
    dbsnap_conn.commit()

def test_{name}_checker(dbsnap_conn, pristine):
    assert_pristine(dbsnap_conn, pristine)
"""
    tests = [t for name in MUTATIONS for t in template.format(name=name).split("\n\n")]
    random.Random(seed).shuffle(tests)
    header = (
        "import json, psycopg\nfrom checks import assert_pristine\n"
        "MUTATIONS = json.load(open('mutations.json'))\n\n"
    )
    project.write("test_mutations.py", header + "\n\n".join(t.strip() + "\n" for t in tests))
    return len(tests)


@pytest.mark.parametrize(("seed", "storage"), [(1, "ram"), (2, "disk")])
def test_every_test_starts_pristine_in_random_order(
    project: Project, seed: int, storage: str
) -> None:
    """Every kind of write is caught: no test sees a copy another test changed.

    With one copy ready per worker, untouched copies really are handed out
    again, so a write the detection missed would fail a later test. Once with
    the workers' databases in RAM, once on the container's storage.
    """
    pristine_project(project, pool_size="1", storage=storage)
    count = write_mutation_suite(project, seed)
    runs = [project.run("-n", "2"), project.run("-p", "no:xdist")]
    for run in runs:
        run.assert_outcomes(passed=count)
        in_ram = "databases in RAM" in run.stdout.str()
        assert in_ram == (storage == "ram")
        reused = re.search(r"pristine databases: \d+ copies made, (\d+) handed", run.stdout.str())
        assert reused is not None
        assert int(reused.group(1)) > 0, "untouched copies should have been handed out again"


def test_without_reuse_every_copy_is_dropped(project: Project) -> None:
    pristine_project(project, reuse="false")
    project.write(
        "test_readers.py",
        """
        import pytest

        @pytest.mark.parametrize("n", range(5))
        def test_reads(dbsnap_conn, n):
            dbsnap_conn.execute("SELECT 1")
        """,
    )
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["pristine databases: * copies made, 0 handed out again untouched"])


def test_container_mode_gives_each_test_its_own_container(project: Project) -> None:
    pristine_project(project, mode="container")
    count = write_mutation_suite(project, 3)
    project.write(
        "test_containers.py",
        """
        import pytest

        PORTS = set()

        @pytest.mark.parametrize("n", range(4))
        def test_own_container(dbsnap_db, dbsnap_worker, n):
            assert dbsnap_db.port != dbsnap_worker.port
            assert dbsnap_db.port not in PORTS
            PORTS.add(dbsnap_db.port)
        """,
    )
    project.run("-n", "2").assert_outcomes(passed=count + 4)


def test_connections_left_open_do_not_block_the_next_copy(project: Project) -> None:
    pristine_project(project, pool_size="1")
    project.write(
        "test_leaky.py",
        """
        import threading, time
        import psycopg
        import pytest
        from checks import assert_pristine

        LEAKED = []

        @pytest.mark.parametrize("n", range(6))
        def test_leaks_connections(dbsnap_dsn, n):
            writer = psycopg.connect(dbsnap_dsn)
            writer.execute("DELETE FROM account")  # open transaction, never ended
            reader = psycopg.connect(dbsnap_dsn)
            reader.execute("SELECT count(*) FROM account")  # idle in transaction
            LEAKED.extend([writer, reader])
            threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
            idle = psycopg.connect(dbsnap_dsn, autocommit=True)
            LEAKED.append(idle)

        @pytest.mark.parametrize("n", range(3))
        def test_next_is_pristine(dbsnap_conn, n):
            assert_pristine(dbsnap_conn)
        """,
    )
    project.run("-p", "no:xdist", "-p", "no:randomly").assert_outcomes(passed=9)


def test_no_copies_remain_at_the_end_of_a_session(project: Project) -> None:
    pristine_project(project)
    project.write(
        "test_some.py",
        """
        import pytest

        @pytest.mark.parametrize("n", range(8))
        def test_uses_a_copy(dbsnap_conn, n):
            dbsnap_conn.execute("DELETE FROM account")
            dbsnap_conn.commit()
        """,
    )
    result = project.run("-n", "2", "--dbsnap-keep")
    result.assert_outcomes(passed=8)
    kept = re.findall(
        r"PGPASSWORD=(\S+) psql -h (\S+) -p (\d+) -U (\S+) (\S+)", result.stdout.str()
    )
    assert len(kept) == 2
    for password, host, port, user, _ in kept:
        dsn = f"host={host} port={port} user={user} password={password} dbname=postgres"
        with psycopg.connect(dsn) as conn:
            names = [r[0] for r in conn.execute("SELECT datname FROM pg_database ORDER BY 1")]
        assert names == ["postgres", "template0", "template1", "test_dbsnap_template"]
    project.remove_all()


def test_module_and_worker_scopes_share_as_documented(project: Project) -> None:
    pristine_project(project, dbname="app")
    shared_module = """
        import pytest
        from checks import assert_pristine

        pytestmark = pytest.mark.dbsnap(scope="module")

        def test_first_writes(dbsnap_conn):
            assert_pristine(dbsnap_conn)
            dbsnap_conn.execute("INSERT INTO account VALUES (0, 'module', 0)")
            dbsnap_conn.commit()

        def test_second_sees_it(dbsnap_conn):
            row = dbsnap_conn.execute("SELECT owner FROM account WHERE id = 0").fetchone()
            assert row == ("module",)
    """
    project.write("test_module_a.py", shared_module)
    project.write("test_module_b.py", shared_module)
    project.write(
        "test_worker_scope.py",
        """
        import pytest

        @pytest.mark.dbsnap(scope="worker")
        def test_worker_scope_is_the_worker_database(dbsnap_db, dbsnap_worker):
            assert dbsnap_db == dbsnap_worker

        def test_function_scope_is_a_copy(dbsnap_db, dbsnap_worker):
            assert dbsnap_db.port == dbsnap_worker.port
            assert dbsnap_db.dbname != dbsnap_worker.dbname
        """,
    )
    project.run("-p", "no:xdist").assert_outcomes(passed=6)
    project.run("-n", "2", "--dist", "loadfile").assert_outcomes(passed=6)


def test_ini_scope_module_applies_to_unmarked_tests(project: Project) -> None:
    pristine_project(project, scope="module")
    project.write(
        "test_shared.py",
        """
        def test_a(dbsnap_conn):
            dbsnap_conn.execute("DELETE FROM account")
            dbsnap_conn.commit()

        def test_b(dbsnap_conn):
            assert dbsnap_conn.execute("SELECT count(*) FROM account").fetchone() == (0,)
        """,
    )
    project.run("-p", "no:xdist", "-p", "no:randomly").assert_outcomes(passed=2)


def test_keep_keeps_a_failing_tests_database_and_says_how_to_connect(project: Project) -> None:
    pristine_project(project)
    project.write(
        "test_fails.py",
        """
        def test_breaks(dbsnap_conn):
            dbsnap_conn.execute("UPDATE account SET owner = 'evidence' WHERE id = 7")
            dbsnap_conn.commit()
            assert False, "look at account 7"
        """,
    )
    result = project.run("--dbsnap-keep")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*dbsnap*",
            "kept this test's database: PGPASSWORD=* psql -h 127.0.0.1 -p * -U postgres test_*",
        ]
    )
    match = re.search(
        r"this test's database: PGPASSWORD=(\S+) psql -h (\S+) -p (\d+) -U (\S+) (\S+)",
        result.stdout.str(),
    )
    assert match is not None
    password, host, port, user, dbname = match.groups()
    with psycopg.connect(host=host, port=port, user=user, password=password, dbname=dbname) as conn:
        assert conn.execute("SELECT owner FROM account WHERE id = 7").fetchone() == ("evidence",)
    project.remove_all()


def test_durability_is_off_unless_asked(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    pristine_project(project)
    project.write(
        "test_fsync.py",
        """
        import os

        def test_fsync(dbsnap_conn):
            expected = os.environ.get("EXPECT", "off")
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                assert dbsnap_conn.execute(f"SHOW {setting}").fetchone() == (expected,)
        """,
    )
    project.run().assert_outcomes(passed=1)
    monkeypatch.setenv("EXPECT", "on")
    project.run("--dbsnap-durable").assert_outcomes(passed=1)


def test_bad_marker_is_a_clear_error(project: Project) -> None:
    pristine_project(project)
    project.write(
        "test_marker.py",
        """
        import pytest

        @pytest.mark.dbsnap(scope="session")
        def test_bad(dbsnap_db):
            pass
        """,
    )
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.dbsnap(scope='session') on test_marker.py::test_bad is not valid: "
            "use scope: function, module, worker; mode: clone, container"
        ]
    )


def test_markers_on_class_and_module_merge_and_positional_arguments_are_an_error(
    project: Project,
) -> None:
    pristine_project(project)
    project.write(
        "test_marker.py",
        """
        import pytest

        pytestmark = pytest.mark.dbsnap(mode="container", scope="function")
        seen = []

        @pytest.mark.dbsnap(scope="module")
        class TestMerged:
            def test_a(self, dbsnap_db, dbsnap_worker):
                seen.append((dbsnap_db.port, dbsnap_db.dbname))
                assert dbsnap_db.port != dbsnap_worker.port  # the module's mode

            def test_b(self, dbsnap_db):
                assert seen == [(dbsnap_db.port, dbsnap_db.dbname)]  # the class's scope

        @pytest.mark.dbsnap("module")
        def test_positional(dbsnap_db):
            pass
        """,
    )
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.dbsnap('module',) on test_marker.py::test_positional takes keywords "
            "only: write scope=... or mode=..."
        ]
    )


# Injected: the server reports itself as PostgreSQL 14.
OLD_SERVER = """
from pytest_dbsnap.engines.postgres_admin import PostgresAdmin

real = PostgresAdmin.__init__

def as_14(self, *args, **kwargs):
    real(self, *args, **kwargs)
    self.version = 140011

PostgresAdmin.__init__ = as_14
"""


def test_before_postgresql_15_copies_are_never_reused_and_the_summary_says_so(
    project: Project,
) -> None:
    pristine_project(project)
    project.write("conftest_old.py", OLD_SERVER)
    project.write(
        "conftest.py", (project.path / "conftest.py").read_text() + "\nimport conftest_old\n"
    )
    project.write(
        "test_reads.py",
        """
        import pytest

        @pytest.mark.parametrize("n", range(4))
        def test_read(n, dbsnap_conn):
            dbsnap_conn.execute("SELECT count(*) FROM account").fetchone()
        """,
    )
    result = project.run("-p", "no:xdist", "--dbsnap-pool-size=1")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "dbsnap: PostgreSQL 14 reports statistics too late to prove a copy untouched: every "
            "copy is dropped after its test (dbsnap_reuse is off; 15 and later reuse them)",
            "*pristine databases: * copies made, 0 handed out again untouched",
        ]
    )


def test_a_full_ram_folder_says_what_to_raise(project: Project) -> None:
    pristine_project(project, storage="ram", ram_size="16")
    project.write("test_db.py", "def test_db(dbsnap_conn):\n    pass\n")
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "dbsnap: container * exited * before PostgreSQL was ready*",
            "*No space left on device*",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*the worker's data folder in RAM (16 MiB) is full: raise dbsnap_ram_size, or set "
         "dbsnap_storage = disk"]
    )  # fmt: skip


def test_the_session_removes_the_container_of_a_worker_that_died(project: Project) -> None:
    """A worker's container is the controller's to remove: it goes also when its worker
    dies holding it."""
    pristine_project(project)
    project.write(
        "test_db.py",
        """
        import os

        def test_db(dbsnap_conn):
            if os.environ.get("PYTEST_XDIST_WORKER") == "gw1":
                os._exit(3)
        """,
    )
    result = project.run("-n", "2", "--dist", "each", "--max-worker-restart", "0")
    result.stdout.fnmatch_lines(["*worker gw1 crashed*"])
    # The project fixture fails this test if gw1's container was left behind.
