"""dbsnap_env: an application that reads its database address at import runs unchanged.

Every inner project here has an ``app`` package whose SQLAlchemy engine is
built at import from ``APP_*`` variables, and a conftest that imports it: the
variables must be set before any conftest is imported.
"""

from __future__ import annotations

import pytest

from .project import Project

SEED = """
CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO item (name) SELECT 'seeded ' || i FROM generate_series(1, 20) i;
"""

APP = """
import os
from sqlalchemy import create_engine, text

# Built at import, as applications do: the address must be there already.
URL = os.environ["APP_URL"]
engine = create_engine(URL)
PARTS = (os.environ["APP_HOST"], os.environ["APP_PORT"], os.environ["APP_DB"])

def names():
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT name FROM item ORDER BY id"))]

def add(name):
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO item (name) VALUES (:n)"), {"n": name})
"""

CONFTEST = """
import os
from app import db  # the application, imported by the conftest

def pytest_dbsnap_database_reset(database, config):
    with open(f"resets-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.txt", "a") as f:
        f.write(database.dbname + "\\n")
"""

ENV = """
    APP_URL={url:psycopg}
    APP_HOST={host}
    APP_PORT={port}
    APP_DB={dbname}"""


def env_project(project: Project, scope: str, *, share: bool = True, **settings: str) -> None:
    if share:  # the test is about what comes after the build
        project.share("test_env_mode")
    project.write("db/seed.sql", SEED)
    project.write("app/__init__.py", "")
    project.write("app/db.py", APP)
    project.write("tests/conftest.py", CONFTEST)
    project.ini(
        seed="db/seed.sql",
        env=ENV,
        scope=scope,
        sqlalchemy_engines="app.db:engine",
        **settings,
    )


# Pairs of tests: the first commits through the app's own engine, the second
# (the next unit in function scope) must not see it. None asks for a fixture.
FUNCTION_TESTS = """
import pytest
from app import db

@pytest.mark.parametrize("n", range(6))
def test_commits_and_the_next_test_is_pristine(n):
    assert db.names() == [f"seeded {i}" for i in range(1, 21)]
    db.add(f"written by {n}")
    assert len(db.names()) == 21

def test_a_fixture_is_the_same_database(dbsnap_db, dbsnap_conn, dbsnap_scope):
    assert dbsnap_scope == "function"
    assert (dbsnap_db.host, str(dbsnap_db.port), dbsnap_db.dbname) == db.PARTS
    db.add("through the app")
    (count,) = dbsnap_conn.execute("SELECT count(*) FROM item").fetchone()
    assert count == 21
"""


@pytest.mark.parametrize("args", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "single"])
def test_function_scope_the_app_sees_the_seed_and_every_test_starts_pristine(
    project: Project, args: list[str]
) -> None:
    env_project(project, "function")
    project.write("tests/test_app.py", FUNCTION_TESTS)
    result = project.run(*args, "-p", "no:randomly")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(["the database behind dbsnap_env: replaced by a ready copy *"])
    # The project's hook ran at every unit's end (but after a worker's last test).
    resets = [p.read_text().split() for p in project.path.glob("resets-*.txt")]
    assert sum(len(r) for r in resets) == 7 - len(resets)
    assert {name for r in resets for name in r} == {"test"}


MODULE_TESTS = """
from app import db

def test_{m}_first():
    assert len(db.names()) == 20
    db.add("{m}")

def test_{m}_second_sees_the_modules_write():
    assert db.names()[-1] == "{m}"
"""


@pytest.mark.parametrize("args", [["-n", "2", "--dist", "loadfile"], ["-p", "no:xdist"]])
def test_module_scope_writes_stay_within_the_module(project: Project, args: list[str]) -> None:
    env_project(project, "module")
    for m in ("a", "b", "c", "d"):
        project.write(f"tests/test_{m}.py", MODULE_TESTS.format(m=m))
    project.run(*args, "-p", "no:randomly").assert_outcomes(passed=8)


WORKER_TESTS = """
from app import db

def test_1_writes():
    db.add("kept")

def test_2_sees_it_in_the_same_worker():
    assert db.names()[-1] == "kept"
"""


def test_worker_scope_writes_stay_within_the_worker(project: Project) -> None:
    env_project(project, "worker")
    project.write("tests/test_one.py", WORKER_TESTS)
    project.write("tests/test_two.py", WORKER_TESTS)
    result = project.run("-n", "2", "--dist", "loadfile", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    assert not list(project.path.glob("resets-*.txt"))  # worker scope: never reset


def test_the_seed_command_gets_the_same_variables_and_cache_env_enters_the_key(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRST_ITEM", "from the environment")
    env_project(
        project,
        "function",
        share=False,
        seed_command="python -c \"import os, app.db as d; d.add(os.environ['FIRST_ITEM'])\""
        f" && {project.counting_command()}",
        cache_env="FIRST_ITEM",
    )
    test = 'from app import db\n\ndef test_it():\n    assert db.names()[-1] == "{}"\n'
    project.write("tests/test_it.py", test.format("from the environment"))
    project.run("-p", "no:xdist").assert_outcomes(passed=1)
    project.run("-p", "no:xdist").assert_outcomes(passed=1)
    assert project.seed_runs() == 1
    monkeypatch.setenv("FIRST_ITEM", "changed")
    project.write("tests/test_it.py", test.format("changed"))
    project.run("-p", "no:xdist").assert_outcomes(passed=1)
    assert project.seed_runs() == 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"env": "\n    APP_URL"}, "ERROR: dbsnap_env line 1 ('APP_URL') is not NAME=TEMPLATE*"),
        (
            {"env": "\n    APP_URL={url:psycopg}\n    APP_PORT={prot}"},
            "ERROR: dbsnap_env line 2 (APP_PORT): unknown placeholder {prot}; use {host}*",
        ),
        (
            {"env": ENV, "sqlalchemy_engines": "app.nowhere:engine"},
            "ERROR: dbsnap_sqlalchemy_engines: 'app.nowhere:engine' does not import "
            "(ModuleNotFoundError: No module named 'app.nowhere')*",
        ),
        (
            {"env": ENV, "sqlalchemy_engines": "app.db:URL"},
            "ERROR: dbsnap_sqlalchemy_engines: 'app.db:URL' is a str, not a SQLAlchemy Engine*",
        ),
    ],
    ids=["not-name-template", "placeholder", "engine-import", "not-an-engine"],
)
@pytest.mark.parametrize("args", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "single"])
def test_bad_settings_are_one_line_usage_errors(
    project: Project, settings: dict[str, str], message: str, args: list[str]
) -> None:
    project.write("db/seed.sql", SEED)
    project.write("app/__init__.py", "")
    project.write("app/db.py", APP)
    project.write("tests/test_plain.py", "def test_plain():\n    pass\n")
    project.ini(seed="db/seed.sql", **settings)
    result = project.run(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert project.images() == [] or "engine" in message


def test_a_seed_hook_in_a_conftest_is_an_error_naming_it(project: Project) -> None:
    env_project(project, "function")
    project.write(
        "tests/conftest.py",
        CONFTEST + "\ndef pytest_dbsnap_seed(database):\n    pass\n",
    )
    project.write("tests/test_app.py", "def test_db(dbsnap_db):\n    pass\n")
    for args in (["-p", "no:xdist"], ["-n", "2"]):
        result = project.run(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "ERROR: tests/conftest.py defines pytest_dbsnap_seed, but with dbsnap_env the "
                "snapshot is made before any conftest.py is imported; move the hook into a "
                "plugin*"
            ]
        )


@pytest.mark.parametrize("args", [["--co"], ["-n", "2", "--co"], ["--fixtures"]], ids=" ".join)
def test_collecting_only_starts_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    env_project(project, "function")
    project.write("tests/test_app.py", FUNCTION_TESTS)
    assert project.run(*args).ret == 0


def test_a_worker_that_dies_leaves_no_container(project: Project) -> None:
    env_project(project, "function")
    project.write(
        "tests/conftest.py",
        CONFTEST + "\nif os.environ.get('PYTEST_XDIST_WORKER') == 'gw1':\n    os._exit(3)\n",
    )
    project.write("tests/test_app.py", FUNCTION_TESTS)
    result = project.run("-n", "2", "-p", "no:randomly", "--max-worker-restart", "0")
    result.stdout.fnmatch_lines(["*worker gw1 crashed*"])
    # The project fixture fails this test if any container of the project is left.


READ_ONLY_THEN_A_WRITE = """
import pytest
from app import db

@pytest.mark.parametrize("n", range(4))
def test_reads(n):
    assert len(db.names()) == 20

def test_zz_writes():
    db.add("written")

def test_zzz_finds_the_seed():
    assert len(db.names()) == 20
"""


def test_a_unit_that_wrote_nothing_keeps_its_database(project: Project) -> None:
    """Only the write is followed by a replacement; the project's hook runs at every
    unit's end all the same."""
    env_project(project, "function")
    project.write("tests/test_app.py", READ_ONLY_THEN_A_WRITE)
    result = project.run("-p", "no:xdist", "-p", "no:randomly")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(
        [
            "pristine databases: * copies made, 4 handed out again untouched",
            "the database behind dbsnap_env: replaced by a ready copy 1 time(s)",
        ]
    )
    assert len((project.path / "resets-main.txt").read_text().split()) == 5


def test_with_docker_unreachable_dbsnap_env_is_a_usage_error(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project that asks for its address before its conftests has said it needs
    Docker: no test can run without it."""
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    env_project(project, "function")
    project.write("tests/test_app.py", FUNCTION_TESTS)
    for args in (["-p", "no:xdist"], ["-n", "2"]):
        result = project.run(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "ERROR: dbsnap_env: cannot reach the Docker daemon at "
                "unix:///nonexistent/docker.sock (DOCKER_HOST) (No such file or directory); *"
            ]
        )
