"""MariaDB through the engine seam, on an image with the official mariadb image's interface.

MariaDB copies no database inside one server: every test that asks for a
pristine database gets a container of its own, started ahead by a pool.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import docker
import pymysql
import pytest

from .project import Project
from .test_crashes import kill_a_session_then_reap_it

SEED = """\
CREATE TABLE account (
  id int AUTO_INCREMENT PRIMARY KEY,
  name varchar(40) NOT NULL UNIQUE
);
INSERT INTO account (name) VALUES ('ada'), ('grace'), ('edsger');
CREATE TABLE audit (
  id int AUTO_INCREMENT PRIMARY KEY,
  account_id int NOT NULL REFERENCES account (id),
  note text
);
INSERT INTO audit (account_id, note) VALUES (1, 'seeded');
CREATE VIEW names AS SELECT name FROM account;
"""

# Every test starts by checking that it got the seed, then wrecks its database.
DESTRUCTIVE = """
import pytest

def pristine(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT name FROM account ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == ["ada", "grace", "edsger"]
        cur.execute("SELECT count(*) FROM audit")
        assert cur.fetchone() == (1,)
        cur.execute("SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = DATABASE() ORDER BY table_name")
        assert [r[0] for r in cur.fetchall()] == ["account", "audit", "names"]
        cur.execute("SELECT count(*) FROM information_schema.columns"
                    " WHERE table_schema = DATABASE() AND table_name = 'account'")
        assert cur.fetchone() == (2,)
        cur.execute("SELECT User FROM mysql.user WHERE User = 'intruder'")
        assert cur.fetchall() == ()
        cur.execute("INSERT INTO account (name) VALUES ('probe')")
        assert cur.lastrowid == 4  # AUTO_INCREMENT where the seed left it
    conn.rollback()

def run(conn, *statements):
    with conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.commit()

@pytest.mark.parametrize("n", range(2))
def test_delete(n, dbsnap_conn):
    pristine(dbsnap_conn)
    run(dbsnap_conn, "DELETE FROM audit", "DELETE FROM account")

@pytest.mark.parametrize("n", range(2))
def test_ddl(n, dbsnap_conn):
    pristine(dbsnap_conn)
    run(dbsnap_conn, "DROP VIEW names", "DROP TABLE audit",
        "ALTER TABLE account ADD COLUMN extra int", "CREATE TABLE more (id int)")

@pytest.mark.parametrize("n", range(2))
def test_truncate(n, dbsnap_conn):
    pristine(dbsnap_conn)
    run(dbsnap_conn, "SET FOREIGN_KEY_CHECKS = 0", "TRUNCATE audit", "TRUNCATE account")

@pytest.mark.parametrize("n", range(2))
def test_auto_increment(n, dbsnap_conn):
    pristine(dbsnap_conn)
    run(dbsnap_conn, "INSERT INTO account (name) VALUES ('x'), ('y')",
        "ALTER TABLE account AUTO_INCREMENT = 1000")

@pytest.mark.parametrize("n", range(2))
def test_server_wide(n, dbsnap_db):
    conn = dbsnap_db.connect(autocommit=True)
    try:
        pristine(conn)
        run(conn, "CREATE USER intruder IDENTIFIED BY 'x'",
            f"DROP DATABASE `{dbsnap_db.dbname}`", f"CREATE DATABASE `{dbsnap_db.dbname}`")
    finally:
        conn.close()
"""

SHUFFLED = """
import os, random

def pytest_collection_modifyitems(items):
    random.Random(int(os.environ["SHUFFLE_SEED"])).shuffle(items)
"""


TWO_TESTS = "def test_db(dbsnap_db):\n    pass\n\ndef test_plain():\n    pass\n"


def seeded(project: Project, **settings: str) -> None:
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", seed_command=project.counting_command(), **settings)


def test_seeded_once_and_every_destructive_test_finds_the_seed_in_random_order(
    mariadb_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = mariadb_project
    seeded(project)
    project.write("conftest.py", SHUFFLED)
    project.write("test_destructive.py", DESTRUCTIVE)
    for shuffle in ("1", "2"):
        monkeypatch.setenv("SHUFFLE_SEED", shuffle)
        result = project.run("-n", "2")
        result.assert_outcomes(passed=10)
        how = "cache miss: built in" if shuffle == "1" else "cache hit: nothing seeded"
        result.stdout.fnmatch_lines([f"snapshot dbsnap/{project.name}:* ({how}*"])
    assert project.seed_runs() == 1


def test_the_worker_database_is_shared_and_the_seed_command_gets_mysql_variables(
    mariadb_project: Project,
) -> None:
    project = mariadb_project
    project.write("db/seed.sql", SEED)
    command = (
        "echo $DATABASE_URL $MYSQL_HOST $MYSQL_TCP_PORT $MYSQL_USER $MYSQL_DATABASE > seen.txt"
        " && python -c \"import os, pymysql; pymysql.connect(host=os.environ['MYSQL_HOST'],"
        " port=int(os.environ['MYSQL_TCP_PORT']), user=os.environ['MYSQL_USER'],"
        " password=os.environ['MYSQL_PWD'], database=os.environ['MYSQL_DATABASE'],"
        " autocommit=True).cursor()"
        '.execute(\\"INSERT INTO account (name) VALUES (\'from the command\')\\")"'
    )
    project.ini(seed="db/seed.sql", seed_command=command)
    project.write(
        "test_worker.py",
        """
        def test_1_writes(dbsnap_worker, dbsnap_worker_conn):
            assert dbsnap_worker.url.startswith("mysql://root:")
            assert dbsnap_worker.url_for("pymysql").startswith("mysql+pymysql://root:")
            with dbsnap_worker_conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM account")
                assert cur.fetchone() == (4,)
                cur.execute("INSERT INTO account (name) VALUES ('kept for the worker')")
            dbsnap_worker_conn.commit()

        def test_2_sees_it(dbsnap_worker_conn, dbsnap_engine):
            with dbsnap_worker_conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM account")
                assert cur.fetchone() == (5,)
            with dbsnap_engine.connect() as conn:  # its own pristine database
                assert conn.exec_driver_sql("SELECT count(*) FROM account").scalar() == 4
        """,
    )
    project.run("-p", "no:xdist").assert_outcomes(passed=2)
    url, host, port, user, dbname = (project.path / "seen.txt").read_text().split()
    assert url.startswith("mysql://root:")
    assert url.endswith(f"@{host}:{port}/test")
    assert (host, user, dbname) == ("127.0.0.1", "root", "test")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "CREATE TABLE t (id int PRIMARY KEY);\n\nINSERT INTO t\nVALUES (1),\n(2;\n",
            "db/seed.sql:5: syntax error at the end of the statement; fix it and run again",
        ),
        (
            "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n\n"
            "INSERT INTO t\n  VALUES (1);\n",
            "db/seed.sql:4: Duplicate entry '1' for key 'PRIMARY' (in the statement on lines "
            "4-5); fix it and run again",
        ),
        (
            "CREATE TABLE t (id int PRIMARY KEY);\nSELECT * FRM t;\n",
            "db/seed.sql:2: syntax error near 'FRM t'; fix it and run again",
        ),
    ],
    ids=["syntax-error", "runtime-error", "syntax-error-mid-line"],
)
def test_a_bad_sql_file_names_its_line_and_leaves_nothing(
    mariadb_project: Project, sql: str, expected: str
) -> None:
    project = mariadb_project
    project.write("db/seed.sql", sql)
    project.ini(seed="db/seed.sql")
    project.write(
        "test_db.py", "def test_db(dbsnap_db):\n    pass\n\ndef test_plain():\n    pass\n"
    )
    result = project.run("-n", "2")
    project.assert_database_error(result, expected, passed=1)
    assert project.images() == []  # and the project fixture finds no container


def test_a_sigkilled_session_is_reaped_by_the_next_one(mariadb_project: Project) -> None:
    seeded(mariadb_project)
    kill_a_session_then_reap_it(mariadb_project, containers_per_worker=3)


def test_two_sessions_at_once_build_once(mariadb_project: Project) -> None:
    project = mariadb_project
    seeded(project)
    project.write("test_db.py", "def test_db(dbsnap_conn):\n    pass\n")
    sessions = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2"],
            cwd=project.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [s.communicate(timeout=300)[0] for s in sessions]
    assert all(s.returncode == 0 for s in sessions), outputs
    assert project.seed_runs() == 1


def test_no_password_in_the_snapshot_and_each_container_its_own(
    mariadb_project: Project, docker_client: docker.DockerClient
) -> None:
    project = mariadb_project
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", seed_command="echo $MYSQL_PWD > seeding-password.txt")
    project.write(
        "test_record.py",
        """
        import json, os, pymysql, pytest

        @pytest.mark.parametrize("n", range(2))
        def test_record(n, dbsnap_worker, dbsnap_db):
            seeding = open("seeding-password.txt").read().strip()
            assert dbsnap_db.password != seeding
            with pytest.raises(pymysql.OperationalError, match="Access denied"):
                pymysql.connect(host=dbsnap_worker.host, port=dbsnap_worker.port,
                                user="root", password=seeding)
            assert dbsnap_db.password not in repr([dbsnap_db, dbsnap_worker])
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            with open(f"worker-{worker}.json", "w") as f:
                json.dump({"password": dbsnap_worker.password}, f)
        """,
    )
    project.run("-n", "2").assert_outcomes(passed=2)
    seeding = (project.path / "seeding-password.txt").read_text().strip()
    workers = [json.loads(p.read_text()) for p in project.path.glob("worker-*.json")]
    assert len({w["password"] for w in workers}) == len(workers) >= 1

    [image] = project.images()
    assert seeding not in json.dumps(image.attrs)
    base = docker_client.images.get(os.environ["DBSNAP_IMAGE"])
    layer = int(image.attrs["Size"]) - int(base.attrs["Size"])
    cluster = int(image.labels["dbsnap.cluster_bytes"])
    assert layer <= cluster + (2 << 20), (layer, cluster)  # the data folder and no more

    # Started by hand, the snapshot takes no password over TCP, and starts
    # without recovery (it was shut down slowly).
    container = docker_client.containers.run(
        image.id,
        detach=True,
        ports={"3306/tcp": ("127.0.0.1", None)},
        tmpfs=dict.fromkeys(image.attrs["Config"].get("Volumes") or {}, ""),
        labels={"dbsnap.project": project.name},
    )
    try:
        deadline = time.monotonic() + 60
        refused = ""
        while time.monotonic() < deadline:
            container.reload()
            ports = container.attrs["NetworkSettings"]["Ports"].get("3306/tcp")
            if ports:
                try:
                    pymysql.connect(
                        host="127.0.0.1",
                        port=int(ports[0]["HostPort"]),
                        user="root",
                        password=seeding,
                        connect_timeout=3,
                    ).close()
                    pytest.fail("the seeding password was accepted")
                except pymysql.OperationalError as exc:
                    refused = str(exc)
                    if "denied" in refused or "locked" in refused:
                        break
            time.sleep(0.2)
        assert "denied" in refused or "locked" in refused, refused
        logs = container.logs().decode()
        assert "ready for connections" in logs
        assert "crash recovery" not in logs.lower(), logs
    finally:
        container.remove(force=True, v=True)


def test_keep_prints_a_mariadb_command_line(mariadb_project: Project) -> None:
    project = mariadb_project
    project.share("test_mariadb")  # a test of what comes after the build
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", keep="true")
    project.write(
        "test_keep.py",
        """
        def test_fails(dbsnap_conn):
            with dbsnap_conn.cursor() as cur:
                cur.execute("INSERT INTO account (name) VALUES ('left for you')")
            dbsnap_conn.commit()
            assert False
        """,
    )
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["kept this test's database: mariadb -h 127.0.0.1 -P * -u root --password=* test"]
    )
    line = next(ln for ln in result.outlines if "kept this test's database" in ln)
    words = line.split()
    port = int(words[words.index("-P") + 1])
    password = next(w for w in words if w.startswith("--password=")).partition("=")[2]
    conn = pymysql.connect(
        host="127.0.0.1", port=port, user="root", password=password.strip("'"), database="test"
    )
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM account WHERE name = 'left for you'")
        assert cur.fetchone() == (1,)
    conn.close()
    project.remove_all()


def test_a_wrong_engine_setting_is_one_line_naming_it(mariadb_project: Project) -> None:
    project = mariadb_project
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", engine="postgres")
    project.write(
        "test_db.py", "def test_db(dbsnap_db):\n    pass\n\ndef test_plain():\n    pass\n"
    )
    result = project.run("-n", "2")
    project.assert_database_error(
        result,
        "dbsnap_engine=postgres but image 'dbsnap-mariadb:*' does not look like PostgreSQL "
        "(command: docker-entrypoint.sh mariadbd); set dbsnap_engine to the engine the image "
        "runs, or dbsnap_image to an image of that engine",
        passed=1,
    )


def test_the_cli_builds_and_lists_a_mariadb_snapshot(mariadb_project: Project) -> None:
    project = mariadb_project
    seeded(project)
    built = project.dbsnap("--json", "build")
    assert built.ret == 0, built.stderr.str()
    data = json.loads(built.stdout.str())
    assert data["built"] is True
    listed = json.loads(project.dbsnap("--json", "ls").stdout.str())
    [row] = listed["snapshots"]
    assert row["current"]
    assert row["key"] == data["key"]
    project.write("test_db.py", "def test_db(dbsnap_conn):\n    pass\n")
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["snapshot * (cache hit: nothing seeded)"])
    assert project.seed_runs() == 1


def test_a_pushed_mariadb_snapshot_is_pulled_and_seeds_nothing(
    mariadb_project: Project, registry: str, docker_client: docker.DockerClient
) -> None:
    project = mariadb_project
    seeded(project, registry=f"{registry}/{project.name}/db", push="true")
    project.write("test_db.py", "def test_db(dbsnap_conn):\n    pass\n")
    project.run("-n", "2").assert_outcomes(passed=1)
    for image in project.images():
        docker_client.images.remove(image.id, force=True)
    result = project.run("-n", "2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["snapshot * (cache hit: pulled from *, nothing seeded)"])
    assert project.seed_runs() == 1


APP = """
import os

ADDRESS = (os.environ["APP_DB_HOST"], int(os.environ["APP_DB_PORT"]), os.environ["APP_DB_NAME"])
"""


def test_dbsnap_env_points_an_app_at_its_worker_database_in_worker_scope(
    mariadb_project: Project,
) -> None:
    project = mariadb_project
    project.share("test_mariadb")  # a test of what comes after the build
    project.write("db/seed.sql", SEED)
    env = "\n    APP_DB_HOST={host}\n    APP_DB_PORT={port}\n    APP_DB_NAME={dbname}"
    project.ini(seed="db/seed.sql", env=env, scope="worker")
    project.write("app.py", APP)
    project.write("conftest.py", "import app  # reads its address at import\n")
    project.write(
        "test_app.py",
        """
        import app

        def test_app_reaches_the_worker_database(dbsnap_worker):
            assert app.ADDRESS == (dbsnap_worker.host, dbsnap_worker.port, "test")
        """,
    )
    project.run("-n", "2").assert_outcomes(passed=1)

    project.ini(seed="db/seed.sql", env=env, scope="function")
    result = project.run("-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: dbsnap_env: MariaDB cannot make the database behind the address pristine "
            "again inside its server (dbsnap_scope = function); set dbsnap_scope = worker, and "
            "give the tests that need a pristine database dbsnap_db"
        ]
    )


def test_the_async_fixtures_say_in_one_line_what_mariadb_lacks(mariadb_project: Project) -> None:
    """dbsnap_aconn is psycopg's; dbsnap_async_engine needs asyncmy or aiomysql."""
    pytest.importorskip("anyio")
    project = mariadb_project
    project.share("test_mariadb")  # a test of what comes after the build
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql")
    project.write(
        "test_async.py",
        """
        import pytest

        @pytest.mark.anyio
        async def test_aconn(dbsnap_aconn):
            pass

        @pytest.mark.anyio
        async def test_async_engine(dbsnap_async_engine):
            pass

        @pytest.fixture
        def anyio_backend():
            return "asyncio"
        """,
    )
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "dbsnap_aconn has no driver for mariadb: use dbsnap_async_engine, or your async "
            "driver on dbsnap_db.host, .port, .user, .password",
            "dbsnap: dbsnap_async_engine needs an async driver for mariadb: pip install one of "
            "asyncmy, aiomysql",
        ]
    )
    assert "Traceback" not in result.stdout.str()
