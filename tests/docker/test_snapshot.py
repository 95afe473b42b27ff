"""Seed once, snapshot, reuse: real inner sessions on a real daemon."""

from __future__ import annotations

import json
import re

import docker
import pytest

from .project import Project

SCHEMA = """
    CREATE TABLE item (id int PRIMARY KEY, name text NOT NULL);
    INSERT INTO item SELECT i, 'item ' || i FROM generate_series(1, 500) AS i;
"""

COUNT_TEST = """
    def test_seeded(dbsnap_worker_conn):
        count = dbsnap_worker_conn.execute("SELECT count(*) FROM item").fetchone()[0]
        assert count == 500
"""


def seeded_project(project: Project, **settings: str) -> None:
    project.write("db/01_schema.sql", SCHEMA)
    project.ini(seed="db/*.sql", seed_command=project.counting_command(), **settings)
    project.write("test_seeded.py", COUNT_TEST)


def test_first_run_builds_and_second_run_seeds_nothing(project: Project) -> None:
    seeded_project(project)

    first = project.run()
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines([f"snapshot dbsnap/{project.name}:* (cache miss: built in *"])
    assert project.seed_runs() == 1

    second = project.run()
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines([f"snapshot dbsnap/{project.name}:* (cache hit: nothing seeded)"])
    second.stdout.fnmatch_lines(["1 database container(s) started in *s median*"])
    assert project.seed_runs() == 1
    [image] = project.images()
    labels = image.labels
    assert labels["dbsnap.kind"] == "snapshot"
    assert len(labels["dbsnap.key"]) == 64
    assert project.tags(image) == [f"dbsnap/{project.name}:{labels['dbsnap.key'][:12]}"]
    assert labels["dbsnap.inputs"].startswith("sql: db/01_schema.sql; command: echo run")
    # The seeding container's ownership must not leak into the image.
    assert labels["dbsnap.session"] == ""
    # Nor what its creation added: the image exposes what the base does (a
    # bogus entry here stops Podman from creating containers of it).
    assert image.attrs["Config"]["ExposedPorts"] == {"5432/tcp": {}}


def test_xdist_builds_once_and_starts_one_container_per_worker(project: Project) -> None:
    seeded_project(project)
    project.write(
        "test_containers.py",
        f"""
        import docker, pytest

        @pytest.mark.parametrize("n", range(6))
        def test_one_container_per_worker(dbsnap_worker, n):
            client = docker.from_env()
            mine = {{"label": ["dbsnap.project={project.name}"]}}
            kinds = sorted(c.labels["dbsnap.kind"] for c in client.containers.list(filters=mine))
            # The other worker may not have started its container yet.
            assert kinds.count("sentinel") == 1 and "seed" not in kinds
            assert 1 <= kinds.count("worker") <= 2
            mine["label"].append("dbsnap.kind=worker")
            found = client.containers.list(filters=mine)
            bound = [c.ports.get("5432/tcp") for c in found if c.ports.get("5432/tcp")]
            ports = {{b[0]["HostPort"] for b in bound}}
            assert str(dbsnap_worker.port) in ports
            assert all(b[0]["HostIp"] == "127.0.0.1" for b in bound)
        """,
    )
    result = project.run("-n", "2")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["2 database container(s) started in *"])
    assert project.seed_runs() == 1


def test_two_concurrent_sessions_from_different_checkouts_build_once(project: Project) -> None:
    checkouts = []
    for name in ("checkout-a", "checkout-b"):
        folder = project.path / name
        project.write(f"{name}/db/01_schema.sql", SCHEMA)
        project.write(
            f"{name}/pytest.ini",
            f"""
            [pytest]
            dbsnap_project = {project.name}
            dbsnap_seed = db/*.sql
            dbsnap_seed_command = sleep 1; {project.counting_command()}
            """,
        )
        project.write(f"{name}/test_seeded.py", COUNT_TEST)
        checkouts.append(folder)
    runs = [project.popen("-n", "2", "-p", "no:cacheprovider", cwd=c) for c in checkouts]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
    assert project.seed_runs() == 1
    verdicts = sorted(re.findall(r"\(cache (hit|miss)", "\n".join(outputs)))
    assert verdicts == ["hit", "miss"]
    assert any("another process is building" in output for output in outputs)


@pytest.mark.parametrize("changed", ["seed", "watch", "cache_key"])
def test_changing_an_input_rebuilds(project: Project, changed: str) -> None:
    project.write("db/01_schema.sql", SCHEMA)
    project.write("migrations/0001_initial.py", "revision = 1\n")
    project.ini(
        seed="db/*.sql",
        seed_command=project.counting_command(),
        watch="migrations/*.py",
        cache_key="v1",
    )
    project.write("test_seeded.py", COUNT_TEST)
    project.run().assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)
    assert project.seed_runs() == 1

    if changed == "seed":
        project.write("db/01_schema.sql", SCHEMA + "\nCREATE INDEX ON item (name);\n")
        args: tuple[str, ...] = ()
    elif changed == "watch":
        project.write("migrations/0001_initial.py", "revision = 2\n")
        args = ()
    else:
        args = ("--dbsnap-cache-key", "v2")
    result = project.run(*args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["snapshot dbsnap/*:* (cache miss: *"])
    assert project.seed_runs() == 2


def test_rebuild_forces_a_new_snapshot(project: Project) -> None:
    seeded_project(project)
    project.run().assert_outcomes(passed=1)
    project.run("--dbsnap-rebuild").assert_outcomes(passed=1)
    assert project.seed_runs() == 2
    assert len(project.images()) == 1, "the replaced snapshot must not linger"


def test_python_hooks_seed_and_feed_the_cache_key(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.ini(seed_command=project.counting_command())
    project.write(
        "conftest.py",
        """
        import os
        import psycopg

        def pytest_dbsnap_seed(database):
            with psycopg.connect(database.dsn) as conn:
                conn.execute("CREATE TABLE migrated (version text)")
                conn.execute("INSERT INTO migrated VALUES ('head')")

        def pytest_dbsnap_cache_key(config):
            return ["alembic-head", os.environ.get("HEAD", "a1")]
        """,
    )
    project.write(
        "test_hook.py",
        """
        def test_hook_ran(dbsnap_worker_conn):
            row = dbsnap_worker_conn.execute("SELECT version FROM migrated").fetchone()
            assert row == ("head",)
        """,
    )
    project.run().assert_outcomes(passed=1)
    project.run().assert_outcomes(passed=1)
    assert project.seed_runs() == 1
    monkeypatch.setenv("HEAD", "b2")
    result = project.run()
    result.assert_outcomes(passed=1)
    assert project.seed_runs() == 2
    images = project.images()
    assert len(images) == 2, "one snapshot per cache key"
    for image in images:
        assert "hook: conftest.py::pytest_dbsnap_seed" in image.labels["dbsnap.inputs"]


def test_postgres_18_volume_layout_keeps_the_data(
    project: Project, pg18_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL 18 images declare VOLUME /var/lib/postgresql, above PGDATA."""
    monkeypatch.setenv("DBSNAP_IMAGE", pg18_image)
    seeded_project(project)
    project.write(
        "test_version.py",
        """
        def test_server_is_18(dbsnap_worker_conn):
            version = dbsnap_worker_conn.execute("SHOW server_version_num").fetchone()[0]
            assert version.startswith("18")
        """,
    )
    result = project.run("-n", "2")
    result.assert_outcomes(passed=2)
    second = project.run()
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(["*cache hit*"])
    [image] = project.images()
    assert "/var/lib/postgresql" in (image.attrs["Config"]["Volumes"] or {})


def test_snapshot_layer_holds_data_not_wal(
    project: Project, docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seed that writes far more WAL than data must not commit that WAL."""
    project.write(
        "db/01_big.sql",
        """
        CREATE TABLE big (id int PRIMARY KEY, payload text NOT NULL);
        INSERT INTO big SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 200000) i;
        UPDATE big SET payload = upper(payload);
        CREATE INDEX ON big (payload);
        VACUUM FULL big;
        """,
    )
    project.ini(seed="db/*.sql")
    project.write(
        "test_size.py",
        """
        import json, os

        def test_size(dbsnap_worker_conn):
            (size,) = dbsnap_worker_conn.execute(
                "SELECT sum(pg_database_size(datname)) FROM pg_database").fetchone()
            with open(os.environ["SIZE_FILE"], "w") as out:
                json.dump({"cluster": int(size)}, out)
        """,
    )
    size_file = project.path / "size.json"
    monkeypatch.setenv("SIZE_FILE", str(size_file))
    project.run().assert_outcomes(passed=1)
    cluster = json.loads(size_file.read_text())["cluster"]
    [image] = project.images()
    base = docker_client.images.get(image.labels["dbsnap.base"].rpartition("@")[2])
    layer = image.attrs["Size"] - base.attrs["Size"]
    # One WAL segment (1 MiB) stays: the one holding the shutdown checkpoint.
    assert layer <= 1.2 * cluster, (layer, cluster)


def test_a_snapshot_is_found_by_its_key_under_another_project_name(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded_project(project)
    project.run().assert_outcomes(passed=1)
    # Another checkout of the same code, in a folder of another name.
    monkeypatch.setenv("DBSNAP_PROJECT", f"{project.name}-copy")
    second = project.run()
    second.assert_outcomes(passed=1)
    second.stdout.fnmatch_lines(
        [f"snapshot dbsnap/{project.name}-copy:* (cache hit: nothing seeded)"]
    )
    assert project.seed_runs() == 1
    [image] = project.images()
    key = image.labels["dbsnap.key"][:12]
    assert sorted(project.tags(image)) == [
        f"dbsnap/{project.name}-copy:{key}",
        f"dbsnap/{project.name}:{key}",
    ]


# Injected: the seed file changes after the key was computed, before psql runs.
EDITED_WHILE_SEEDING = """
from pathlib import Path
from pytest_dbsnap.engines.postgres import PostgresEngine

real = PostgresEngine.wait_ready

def ready_then_edit(self, *args, **kwargs):
    real(self, *args, **kwargs)
    seed = Path(__file__).parent / "db" / "01_schema.sql"
    if "501" not in seed.read_text():
        seed.write_text(seed.read_text() + "INSERT INTO item VALUES (501, 'late');\\n")

PostgresEngine.wait_ready = ready_then_edit
"""


def test_the_seed_applies_the_bytes_the_key_hashed(project: Project) -> None:
    """A file edited mid-build must not give the old key the new data."""
    seeded_project(project)
    project.write("conftest.py", EDITED_WHILE_SEEDING)
    first = project.run("-p", "no:xdist")
    first.assert_outcomes(passed=1)  # 500 rows: what was hashed
    assert "501" in (project.path / "db" / "01_schema.sql").read_text()

    (project.path / "conftest.py").unlink()
    second = project.run("-p", "no:xdist")  # the edited file is another key
    second.stdout.fnmatch_lines(["snapshot * (cache miss: built in *"])
    second.assert_outcomes(failed=1)
    second.stdout.fnmatch_lines(["*assert 501 == 500*"])
    assert len(project.images()) == 2


def test_the_seed_command_runs_this_interpreter_without_the_hosts_pg_variables(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As for `venv/bin/pytest` started without activating the virtualenv."""
    import os
    import sys

    bindir = os.path.dirname(sys.executable)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != bindir]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    stray = {
        "PGHOST": "db.invalid",
        "PGSSLMODE": "require",
        "PGUSER": "x",
        "PGOPTIONS": "-c default_transaction_read_only=on",
        "PGTARGETSESSIONATTRS": "read-only",
    }
    for name, value in stray.items():  # none may reach the seed or our own connections
        monkeypatch.setenv(name, value)
    project.write("db/01_schema.sql", SCHEMA)
    # `python` must be the one with psycopg, and libpq's variables ours.
    command = (
        "python -c \"import psycopg, sys; psycopg.connect('').close(); print(sys.prefix)\""
        " > prefix.txt"
    )
    project.ini(seed="db/*.sql", seed_command=command)
    project.write("test_seeded.py", COUNT_TEST)
    project.run("-p", "no:xdist").assert_outcomes(passed=1)
    assert (project.path / "prefix.txt").read_text().strip() == sys.prefix
