"""Failures explain themselves in one line and leave nothing behind.

The ``project`` fixture fails any test here that leaves a container of the
project or a new dangling volume; each test also checks that no image got tagged.
"""

from __future__ import annotations

import pytest

from .project import Project

GOOD = "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1), (2);\n"
TEST = "def test_db(dbsnap_worker_conn):\n    pass\n\ndef test_plain():\n    pass\n"


@pytest.mark.parametrize("xdist", [True, False], ids=["xdist", "single"])
@pytest.mark.parametrize(
    ("bad_sql", "expected"),
    [
        (
            "-- a comment\nINSERT INTO t VALUES (3);\n\nINSERT INTO t\n  VALUES (1);\n",
            "db/02_data.sql:4: duplicate key value violates unique constraint "
            '"t_pkey" (Key (id)=(1) already exists.) (in the statement on lines 4-5); '
            "fix it and run again",
        ),
        (
            "INSERT INTO t VALUES (4);\nINSRT INTO t VALUES (5);\n",
            'db/02_data.sql:2: syntax error at or near "INSRT"; fix it and run again',
        ),
        (
            "INSERT INTO t VALUES (4);\n\nINSERT INTO t VALUES (2;\nINSERT INTO t VALUES (6);\n",
            'db/02_data.sql:3: syntax error at or near ";"; fix it and run again',
        ),
        (
            "INSERT INTO t VALUES (7);\nINSERT INTO t\nSELECT x\nFROM generate_series(8, 9) g;\n",
            'db/02_data.sql:3: column "x" does not exist; fix it and run again',
        ),
    ],
    ids=["runtime-error", "syntax-error", "unclosed-parenthesis", "position-on-a-later-line"],
)
def test_failing_seed_sql_names_file_and_line(
    project: Project, bad_sql: str, expected: str, xdist: bool
) -> None:
    project.write("db/01_schema.sql", GOOD)
    project.write("db/02_data.sql", bad_sql)
    project.ini(seed="db/*.sql")
    project.write("test_db.py", TEST)
    result = project.run(*(["-n", "2"] if xdist else []))
    assert result.ret != 0
    project.assert_database_error(result, expected, passed=1)
    assert project.images() == []


def test_failing_seed_command_shows_its_output_tail(project: Project) -> None:
    project.ini(seed_command="echo step one; echo 'relation users missing' >&2; exit 3")
    project.write("test_db.py", TEST)
    result = project.run("-n", "2")
    assert result.ret != 0
    project.assert_database_error(
        result,
        "seed command * exited with status 3 (run in *); fix it and run again. Last output lines:",
        "step one",
        "relation users missing",
        passed=1,
    )
    assert project.images() == []


def test_seed_hook_that_raises(project: Project) -> None:
    project.ini()
    project.write(
        "conftest.py",
        """
        def pytest_dbsnap_seed(database):
            raise LookupError("no migration named 0042")
        """,
    )
    project.write("test_db.py", TEST)
    result = project.run("-n", "2")
    assert result.ret != 0
    project.assert_database_error(
        result,
        "seed hook conftest.py::pytest_dbsnap_seed raised LookupError: "
        "no migration named 0042; fix the hook and run again",
        passed=1,
    )
    assert project.images() == []


def test_missing_seed_file(project: Project) -> None:
    project.ini(seed="db/nope.sql")
    project.write("test_db.py", TEST)
    result = project.run("-n", "2")
    assert result.ret != 0
    project.assert_database_error(
        result, "dbsnap_seed: 'db/nope.sql' does not exist (looked in *", passed=1
    )


def test_docker_not_reachable(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{project.path}/no-docker.sock")
    project.ini()
    project.write("test_db.py", TEST)
    expected = "cannot reach the Docker daemon at unix://*/no-docker.sock (*); start the Docker*"
    for args in (["-n", "2"], []):
        result = project.run(*args)
        assert result.ret != 0
        project.assert_database_error(result, expected, passed=1)


def test_missing_image(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBSNAP_IMAGE", "dbsnap-test/does-not-exist:1")
    project.ini()
    project.write("test_db.py", TEST)
    result = project.run("-n", "2")
    assert result.ret != 0
    project.assert_database_error(
        result,
        "image 'dbsnap-test/does-not-exist:1' is not on this Docker host and pulling*",
        passed=1,
    )


def test_bad_setting_value_is_a_usage_error(project: Project) -> None:
    project.ini(startup_timeout="soon")
    project.write("test_db.py", TEST)
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: dbsnap_startup_timeout='soon' is not a number of seconds: use a positive number"]
    )


def test_container_that_exits_at_start_shows_its_logs(project: Project) -> None:
    # An unknown server setting makes postgres exit right after init.
    project.ini()
    project.write(
        "conftest.py",
        """
        import pytest
        from pytest_dbsnap.engines.postgres import PostgresEngine

        PostgresEngine.seed_settings = ("no_such_setting=1",)
        """,
    )
    project.write("test_db.py", TEST)
    result = project.run("-n", "2")
    assert result.ret != 0
    project.assert_database_error(
        result, "container dbsnap-seed-* exited (exited) before PostgreSQL was ready*", passed=1
    )
    result.stdout.fnmatch_lines(['*unrecognized configuration parameter "no_such_setting"*'])
    assert project.images() == []


# Injected into inner sessions: docker-py failing in the middle of a call, as
# a daemon that restarts or a container that vanishes makes it fail. The
# calls take a container's ID (or name); the injection fails those of the
# containers whose name starts so, the first {limit} times.
FAILING_CALL = """
import docker.errors
import requests.exceptions
from docker.api.client import APIClient

real = getattr(APIClient, {method!r})
inspect = APIClient.inspect_container
names = {{}}
failed = []

def failing(self, container, *args, **kwargs):
    ref = container["Id"] if isinstance(container, dict) else str(container)
    if ref not in names:
        try:
            names[ref] = inspect(self, ref)["Name"].lstrip("/")
        except Exception:
            names[ref] = ref
    if names[ref].startswith({prefix!r}) and len(failed) < {limit}:
        failed.append(ref)
        with open("calls.txt", "a") as f:
            f.write("call\\n")
        raise {exception}
    return real(self, container, *args, **kwargs)

setattr(APIClient, {method!r}, failing)
"""


@pytest.mark.parametrize(
    ("method", "exception", "expected"),
    [
        (
            "exec_create",
            'docker.errors.APIError("409 Client Error", explanation="container is not running")',
            "running a command in container dbsnap-seed-* failed: container is not running",
        ),
        (
            "commit",
            'requests.exceptions.ConnectionError("Connection aborted.")',
            "committing container dbsnap-seed-*: the Docker daemon did not answer "
            "(Connection aborted.); check that it runs (`docker info`) and run again",
        ),
        (
            "inspect_container",
            'docker.errors.NotFound("404 Client Error", explanation="No such container")',
            "reading the ports of container dbsnap-seed-* failed: No such container",
        ),
    ],
    ids=["exec", "commit", "reload"],
)
def test_docker_errors_mid_call_are_one_line(
    project: Project, method: str, exception: str, expected: str
) -> None:
    project.write("db/01_schema.sql", GOOD)
    project.ini(seed="db/01_schema.sql")
    project.write(
        "conftest.py",
        FAILING_CALL.format(method=method, prefix="dbsnap-seed-", exception=exception, limit=1000),
    )
    project.write("test_db.py", TEST)
    result = project.run("-n", "2")
    project.assert_database_error(result, expected, passed=1)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stdout.str()
    assert project.images() == []


def test_a_failed_cleanup_never_hides_the_error_behind_it(project: Project) -> None:
    project.write("db/01_schema.sql", "CREATE TABLE t (id int;\n")
    project.ini(seed="db/01_schema.sql")
    project.write(
        "conftest.py",
        FAILING_CALL.format(
            method="remove_container",
            prefix="dbsnap-seed-",
            exception='requests.exceptions.ConnectionError("daemon restarting")',
            limit=1,  # the daemon is back by the end of the session
        ),
    )
    project.write("test_db.py", TEST)
    result = project.run("-p", "no:xdist")
    project.assert_database_error(
        result, 'db/01_schema.sql:1: syntax error at or near ";"*', passed=1
    )
    assert "daemon restarting" not in result.stdout.str()
    project.remove_all()  # what the failed removal left (a later session would reap it)


def test_a_worker_container_that_fails_to_start_fails_every_test_with_one_line_at_once(
    project: Project,
) -> None:
    project.write("db/01_schema.sql", GOOD)
    project.ini(seed="db/01_schema.sql")
    project.write(
        "conftest.py",
        FAILING_CALL.format(
            method="start",
            prefix=f"dbsnap-{project.name}-",
            exception='docker.errors.APIError("500", explanation="no space left on device")',
            limit=1000,
        ),
    )
    project.write(
        "test_db.py",
        "import pytest\n\n@pytest.mark.parametrize('n', range(3))\n"
        "def test_db(n, dbsnap_conn):\n    pass\n",
    )
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(
        ["dbsnap: container dbsnap-*-main-* did not start: no space left on device"] * 3
    )
    # Tried once: the later tests fail fast with the remembered line.
    assert (project.path / "calls.txt").read_text().count("call") == 1


# Injected: a docker-py call that fails whatever it is given (a list, a create).
FAILING_API = """
import docker.errors
import requests.exceptions
from docker.api.client import APIClient

real = getattr(APIClient, {method!r})

def failing(self, *args, **kwargs):
    if {when}:
        raise {exception}
    return real(self, *args, **kwargs)

setattr(APIClient, {method!r}, failing)
"""


@pytest.mark.parametrize(
    ("method", "when", "exception", "expected"),
    [
        (
            "containers",
            "True",
            'requests.exceptions.ConnectionError("Connection aborted.")',
            "listing containers: the Docker daemon did not answer (Connection aborted.); check "
            "that it runs (`docker info`) and run again",
        ),
        (
            "create_container",
            'str(kwargs.get("name", "")).startswith("dbsnap-seed-")',
            'docker.errors.APIError("500 Server Error", explanation="no space left on device")',
            "cannot create container 'dbsnap-seed-*': no space left on device",
        ),
    ],
    ids=["list", "create"],
)
def test_docker_errors_in_listing_and_creating_are_one_line(
    project: Project, method: str, when: str, exception: str, expected: str
) -> None:
    project.write("db/01_schema.sql", GOOD)
    project.ini(seed="db/01_schema.sql")
    project.write("conftest.py", FAILING_API.format(method=method, when=when, exception=exception))
    project.write("test_db.py", TEST)
    result = project.run("-p", "no:xdist")
    project.assert_database_error(result, expected, passed=1)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "Traceback" not in result.stdout.str()
    assert project.images() == []
