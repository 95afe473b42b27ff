"""The SQLAlchemy and async fixtures, under pytest-asyncio (strict, auto, loop scopes) and anyio.

A fixture made in another event loop than the test's can pass simple queries
and fail only under concurrency, so every async test here runs queries side by
side on the fixture's connection and engine.
"""

from __future__ import annotations

import pytest

from .project import Project

pytest.importorskip("pytest_asyncio")
pytest.importorskip("anyio")
pytest.importorskip("sqlalchemy")

SEED = "CREATE TABLE item (id int PRIMARY KEY);\nINSERT INTO item SELECT generate_series(1, 7);\n"

BODY = """
    async def count(conn):
        cur = await conn.execute("SELECT count(*) FROM item")
        return (await cur.fetchone())[0]

    async def through_engine():
        async with dbsnap_async_engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM item"))).scalar()

    counts = await asyncio.gather(*(count(dbsnap_aconn) for _ in range(3)))
    assert counts == [7, 7, 7]
    assert await asyncio.gather(through_engine(), through_engine()) == [7, 7]
    await dbsnap_aconn.execute("DELETE FROM item")  # the next test still finds 7
    await dbsnap_aconn.commit()
    assert await through_engine() == 0
"""

HEADER = """
import asyncio
import pytest
from sqlalchemy import text
"""

STRICT = (
    HEADER
    + """
@pytest.mark.asyncio
@pytest.mark.parametrize("n", range(2))
async def test_function_loop(n, dbsnap_aconn, dbsnap_async_engine):
"""
    + BODY
    + """

@pytest.mark.asyncio(loop_scope="module")
async def test_module_loop(dbsnap_aconn, dbsnap_async_engine):
"""
    + BODY
    + """

def test_sync_engine(dbsnap_engine):
    with dbsnap_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM item")).scalar() == 7
    assert dbsnap_engine.url.drivername == "postgresql+psycopg"

def test_async_fixture_in_a_sync_test_is_a_clear_error(dbsnap_aconn):
    pass
"""
)

AUTO = (
    HEADER
    + """
@pytest.mark.parametrize("n", range(2))
async def test_unmarked(n, dbsnap_aconn, dbsnap_async_engine):
"""
    + BODY
)

ANYIO = (
    HEADER
    + """
@pytest.fixture
def anyio_backend():
    return "asyncio"

@pytest.mark.anyio
@pytest.mark.parametrize("n", range(2))
async def test_anyio(n, dbsnap_aconn, dbsnap_async_engine):
"""
    + BODY
)


def async_project(project: Project, mode: str) -> None:
    project.share("test_async_fixtures")  # the tests are about what comes after the build
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql")
    text = project.path / "pytest.ini"
    text.write_text(
        text.read_text() + f"asyncio_mode = {mode}\nasyncio_default_fixture_loop_scope = function\n"
    )


@pytest.mark.parametrize("args", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "single"])
def test_pytest_asyncio_strict_mode(project: Project, args: list[str]) -> None:
    async_project(project, "strict")
    project.write("test_strict.py", STRICT)
    result = project.run(*args)
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(
        ["dbsnap_aconn is async: use it from an async test run by pytest-asyncio*"]
    )


def test_pytest_asyncio_auto_mode(project: Project) -> None:
    async_project(project, "auto")
    project.write("test_auto.py", AUTO)
    project.run("-p", "no:xdist").assert_outcomes(passed=2)


@pytest.mark.parametrize("args", [["-n", "2"], ["-p", "no:xdist"]], ids=["xdist", "single"])
def test_anyio(project: Project, args: list[str]) -> None:
    async_project(project, "strict")
    project.write("test_anyio.py", ANYIO)
    project.run(*args).assert_outcomes(passed=2)


def test_anyio_without_pytest_asyncio(project: Project) -> None:
    async_project(project, "strict")
    project.write("test_anyio.py", ANYIO)
    project.run("-p", "no:xdist", "-p", "no:asyncio").assert_outcomes(passed=2)


def test_auto_mode_taking_over_anyio_tests_is_a_clear_error(project: Project) -> None:
    async_project(project, "auto")
    project.write("test_anyio.py", ANYIO)
    result = project.run("-p", "no:xdist")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*pytest-asyncio's auto mode has taken over an anyio test*asyncio_mode = strict*"]
    )
