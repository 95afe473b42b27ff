"""The cache key is the same however pytest is run, and settings are read as written."""

from __future__ import annotations

import re
import shutil

import pytest

from .project import Project

SEED = "CREATE TABLE item (id int PRIMARY KEY);\nINSERT INTO item VALUES (1), (2), (3);\n"
ROOT_HOOKS = """
def pytest_dbsnap_cache_key(config):
    return "v1"

def pytest_dbsnap_seed(database):
    import psycopg
    with psycopg.connect(database.dsn) as conn:
        conn.execute("INSERT INTO item VALUES (4)")
"""
TEST = """
def test_rows(dbsnap_conn):
    assert dbsnap_conn.execute("SELECT count(*) FROM item").fetchone() == (4,)
"""


def snapshot_tag(result: pytest.RunResult) -> str:
    [tag] = re.findall(r"^snapshot (\S+) \(", result.stdout.str(), re.MULTILINE)
    return tag


def test_the_same_key_with_and_without_xdist_and_from_another_folder(project: Project) -> None:
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", seed_command=project.counting_command())
    project.write("conftest.py", ROOT_HOOKS)
    project.write("tests/conftest.py", "")
    project.write("tests/deeper/test_rows.py", TEST)

    single = project.run("-p", "no:xdist")
    single.assert_outcomes(passed=1)
    tag = snapshot_tag(single)
    xdist = project.run("-n", "2")
    xdist.assert_outcomes(passed=1)
    xdist.stdout.fnmatch_lines([f"snapshot {tag} (cache hit: nothing seeded)"])
    # Another checkout of the same project, elsewhere (the seed command names
    # the counter file by its absolute path, so it is the same command).
    copy = project.path.parent / f"{project.path.name}-copy"
    shutil.copytree(project.path, copy)
    try:
        other = project.popen("-n", "2", cwd=copy)
        output, _ = other.communicate(timeout=300)
        assert other.returncode == 0, output
        assert f"snapshot {tag} (cache hit: nothing seeded)" in output
    finally:
        shutil.rmtree(copy)
    assert project.seed_runs() == 1


LATE = """
def pytest_dbsnap_seed(database):
    pass
"""


@pytest.mark.parametrize("args", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "single"])
def test_a_seed_hook_in_a_conftest_loaded_during_collection_is_an_error(
    project: Project, args: list[str]
) -> None:
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql")
    project.write("conftest.py", ROOT_HOOKS)
    project.write("tests/sub/conftest.py", LATE)
    project.write("tests/sub/test_rows.py", TEST)
    project.write("tests/sub/test_plain.py", "def test_plain():\n    pass\n")
    result = project.run(*args)
    project.assert_database_error(
        result,
        "tests/sub/conftest.py defines pytest_dbsnap_seed, but pytest loads it during "
        "collection, after the snapshot's cache key is computed*move the hook to a conftest.py "
        "that pytest loads at start-up*",
        passed=1,
    )


NATIVE_TOML = """
[tool.pytest]
dbsnap_project = "{name}"
dbsnap_seed = "db/seed.sql"
dbsnap_pool_size = 3
dbsnap_startup_timeout = 45.5
dbsnap_lock_timeout = 600
dbsnap_push = false
dbsnap_reuse = true
dbsnap_watch = ["db/*.sql"]
"""

INI_OPTIONS_TOML = """
[tool.pytest.ini_options]
dbsnap_project = "{name}"
dbsnap_seed = ["db/seed.sql"]
dbsnap_pool_size = "3"
dbsnap_push = "false"
"""

SETTINGS_TEST = """
def test_settings(_dbsnap_server, dbsnap_conn):
    settings = _dbsnap_server.settings
    assert settings.pool_size == 3
    assert settings.push is False
    assert settings.seed == ("db/seed.sql",)
    assert dbsnap_conn.execute("SELECT count(*) FROM item").fetchone() == (3,)
"""


@pytest.mark.skipif(int(pytest.__version__.split(".")[0]) < 9, reason="[tool.pytest] is pytest 9's")
@pytest.mark.parametrize("args", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "single"])
def test_pytest9_native_toml_table_takes_typed_values(project: Project, args: list[str]) -> None:
    project.write("db/seed.sql", SEED)
    project.write("pyproject.toml", NATIVE_TOML.format(name=project.name))
    project.write("test_settings.py", SETTINGS_TEST)
    result = project.run(*args)
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize("args", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "single"])
def test_ini_options_table_still_works(project: Project, args: list[str]) -> None:
    project.write("db/seed.sql", SEED)
    project.write("pyproject.toml", INI_OPTIONS_TOML.format(name=project.name))
    project.write("test_settings.py", SETTINGS_TEST)
    result = project.run(*args)
    result.assert_outcomes(passed=1)


def test_a_wrongly_typed_native_value_is_a_usage_error(project: Project) -> None:
    if int(pytest.__version__.split(".")[0]) < 9:
        pytest.skip("[tool.pytest] is pytest 9's")
    project.write(
        "pyproject.toml",
        f'[tool.pytest]\ndbsnap_project = "{project.name}"\ndbsnap_pool_size = true\n',
    )
    project.write("test_plain.py", "def test_plain():\n    pass\n")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: dbsnap_pool_size=True is a boolean: use a whole number, 1 or more"]
    )
