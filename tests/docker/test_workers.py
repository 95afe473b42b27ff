"""One container per worker: isolation, labels, cleanup, keep."""

from __future__ import annotations

import docker

from .project import Project

SCHEMA = "CREATE TABLE mark (worker text NOT NULL);\n"


def test_a_write_in_one_worker_is_invisible_to_another(project: Project) -> None:
    project.share("test_workers")
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    barrier = project.path / "barrier"
    barrier.mkdir()
    project.write(
        "test_isolation.py",
        f"""
        import os, pathlib, time
        import psycopg

        BARRIER = pathlib.Path({str(barrier)!r})

        def test_commit_then_look(dbsnap_worker, worker_id):
            with psycopg.connect(dbsnap_worker.dsn, autocommit=True) as conn:
                conn.execute("INSERT INTO mark VALUES (%s)", [worker_id])
            (BARRIER / worker_id).touch()
            deadline = time.monotonic() + 60
            while len(list(BARRIER.iterdir())) < 2:
                assert time.monotonic() < deadline, "the other worker never wrote"
                time.sleep(0.05)
            with psycopg.connect(dbsnap_worker.dsn) as conn:
                rows = conn.execute("SELECT worker FROM mark").fetchall()
            assert rows == [(worker_id,)]
        """,
    )
    # --dist each runs the test in both workers at once; the barrier makes
    # each look only after both have committed.
    result = project.run("-n", "2", "--dist", "each")
    result.assert_outcomes(passed=2)


def test_fixture_details_and_labels(project: Project) -> None:
    project.share("test_workers")
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql", dbname="app db", user="tester")
    project.write(
        "test_details.py",
        f"""
        import docker, psycopg, sqlalchemy_free_check

        def test_details(dbsnap_worker, dbsnap_worker_conn):
            db = dbsnap_worker
            assert (db.host, db.user, db.dbname) == ("127.0.0.1", "tester", "app db")
            assert db.url.startswith("postgresql://tester:")
            assert db.url.endswith(f"@127.0.0.1:{{db.port}}/app%20db")
            assert dbsnap_worker_conn.execute("SELECT current_database()").fetchone() == ("app db",)
            with psycopg.connect(db.dsn) as conn:
                assert conn.execute("SELECT current_user").fetchone() == ("tester",)
            sqlalchemy_free_check.parse(db.url)
            [container] = docker.from_env().containers.list(
                filters={{"label": ["dbsnap.project={project.name}", "dbsnap.kind=worker"]}})
            labels = container.labels
            assert labels["dbsnap.kind"] == "worker"
            assert labels["dbsnap.worker"] == "main"
            assert len(labels["dbsnap.session"]) == 12
        """,
    )
    project.write(
        "sqlalchemy_free_check.py",
        """
        from urllib.parse import unquote, urlsplit

        def parse(url):
            parts = urlsplit(url)
            assert parts.scheme == "postgresql"
            assert unquote(parts.path[1:]) == "app db"
        """,
    )
    project.run().assert_outcomes(passed=1)


def test_containers_and_volumes_are_gone_after_the_session(
    project: Project, docker_client: docker.DockerClient
) -> None:
    project.share("test_workers")
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    project.write(
        "test_many.py",
        f"""
        import docker, pytest

        @pytest.mark.parametrize("n", range(4))
        def test_running(dbsnap_worker, n):
            found = docker.from_env().containers.list(
                filters={{"label": ["dbsnap.project={project.name}", "dbsnap.kind=worker"]}})
            assert 1 <= len(found) <= 2
        """,
    )
    project.run("-n", "2").assert_outcomes(passed=4)
    assert project.containers() == []
    # The project fixture also fails the test on any new dangling volume.


def test_failing_tests_still_remove_containers(project: Project) -> None:
    project.share("test_workers")
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    project.write(
        "test_fail.py",
        """
        def test_fails(dbsnap_worker_conn):
            raise RuntimeError("boom")
        """,
    )
    project.run("-n", "2").assert_outcomes(failed=1)
    assert project.containers() == []


def test_keep_leaves_the_container_and_says_how_to_connect(project: Project) -> None:
    project.share("test_workers")
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    project.write("test_keep.py", "def test_keep(dbsnap_worker):\n    pass\n")
    result = project.run("--dbsnap-keep")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["kept dbsnap-*: PGPASSWORD=* psql -h 127.0.0.1 -p * -U postgres test"]
    )
    kept = sorted(project.containers())
    assert len(kept) == 2  # the database and the marker that spares it from reaping
    assert any(name.startswith("dbsnap-kept-") for name in kept)
    project.remove_all()


def test_without_xdist_installed_the_plugin_still_works(project: Project) -> None:
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    project.write(
        "test_plain.py",
        """
        def test_plain(dbsnap_worker_conn):
            assert dbsnap_worker_conn.execute("SELECT count(*) FROM mark").fetchone() == (0,)
        """,
    )
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["snapshot dbsnap/*:* (cache miss: *"])
