"""Installing the plugin changes nothing for a run whose tests ask for no database.

No Docker call (Docker is made unreachable), no import of docker-py, requests
or psycopg, no dbsnap section in the summary; configured or not, with and
without xdist. A project that configures nothing gets a snapshot of the
default image only when a test asks for one.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import docker
import pytest

from pytest_dbsnap.config import resolve

from .project import Project

PLAIN = """
import pytest

def test_plain():
    assert 1 + 1 == 2

def test_other():
    pass
"""

WITH_DB = """
def test_db(dbsnap_conn):
    assert dbsnap_conn.execute("SELECT 1").fetchone() == (1,)
"""

# Written into the inner project: which heavy modules a process imported.
SPY = """
import json, os, sys

def pytest_unconfigure(config):
    name = os.environ.get("PYTEST_XDIST_WORKER", "main")
    loaded = sorted(m for m in ("docker", "requests", "psycopg") if m in sys.modules)
    with open(os.path.join(str(config.rootpath), f"imported-{name}.json"), "w") as f:
        json.dump(loaded, f)
"""

NO_DOCKER = "unix:///nonexistent/docker.sock"


def containers_of(client: docker.DockerClient, project: str) -> list[str]:
    found = client.containers.list(
        all=True, filters={"label": f"dbsnap.project={project}"}, sparse=True
    )
    return [str(c.id) for c in found]


@pytest.fixture
def unconfigured(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with no dbsnap setting at all (and none in the environment)."""
    import os

    for name in list(os.environ):
        if name.startswith("DBSNAP_"):
            monkeypatch.delenv(name)
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(SPY)
    pytester.makepyfile(test_plain=PLAIN)
    return pytester


@pytest.mark.parametrize("args", [["-n", "2"], ["-p", "no:xdist"], []], ids=str)
def test_unconfigured_project_needs_no_docker(
    unconfigured: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    result = unconfigured.runpytest_subprocess(*args)
    result.assert_outcomes(passed=2)
    assert "dbsnap" not in result.stdout.str().replace("dbsnap-0", "")
    for spy in unconfigured.path.glob("imported-*.json"):
        assert json.loads(spy.read_text()) == [], spy.name


@pytest.mark.parametrize(
    "args",
    [
        ["-n", "2", "-k", "plain"],
        ["-k", "plain"],
        ["-n", "2", "test_plain.py"],
        ["test_plain.py"],
        ["-n", "2", "--co"],
        ["--co"],
        ["-n", "2", "--fixtures"],
    ],
    ids=" ".join,
)
def test_configured_project_selecting_no_database_test_needs_no_docker(
    project: Project, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    project.write("db/seed.sql", "CREATE TABLE t (id int);\n")
    project.ini(seed="db/seed.sql")
    project.write("test_plain.py", PLAIN)
    project.write("test_db.py", WITH_DB)
    result = project.run(*args)
    assert result.ret == 0, result.stdout.str()
    assert "no database for the tests" not in result.stdout.str()


def test_the_import_costs_nothing_heavy_until_a_test_asks(
    unconfigured: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)
    unconfigured.makepyfile(test_db=WITH_DB)
    result = unconfigured.runpytest_subprocess("-p", "no:xdist")
    result.assert_outcomes(passed=2, errors=1)
    # The test that asked loaded them, and failed in one line naming the daemon.
    result.stdout.fnmatch_lines(["dbsnap: cannot reach the Docker daemon at *"])
    assert json.loads((unconfigured.path / "imported-main.json").read_text()) != []


@contextlib.contextmanager
def default_image_present(client: docker.DockerClient, base_image: str) -> Iterator[None]:
    """``postgres:17``, the default image, is here: this machine pulls nothing, so
    the offline base image stands in for it (and is untagged again after)."""
    try:
        client.images.get("postgres:17")
        tagged = False
    except docker.errors.ImageNotFound:
        client.images.get(base_image).tag("postgres", "17")
        tagged = True
    try:
        yield
    finally:
        if tagged:
            client.images.remove("postgres:17")


def test_unconfigured_project_gets_a_snapshot_only_when_a_test_asks(
    unconfigured: pytest.Pytester, docker_client: docker.DockerClient, base_image: str
) -> None:
    # The project's name is its folder's, made valid for a tag, and a hash of its path.
    name = resolve(unconfigured.path, lambda _: None, lambda _: None, {}).project
    assert name.startswith(unconfigured.path.name.lower()[:60] + "-")
    ours = {"label": f"dbsnap.project={name}"}
    for image in docker_client.images.list(filters=ours):  # a failed earlier run's
        docker_client.images.remove(image.id, force=True)
    with default_image_present(docker_client, base_image):
        quiet = unconfigured.runpytest_subprocess("-n", "2")
        quiet.assert_outcomes(passed=2)
        assert "dbsnap" not in quiet.stdout.str().replace("dbsnap-0", "")
        assert docker_client.images.list(filters=ours) == []

        unconfigured.makepyfile(test_db=WITH_DB)
        asked = unconfigured.runpytest_subprocess("-n", "2")
        asked.assert_outcomes(passed=3)
        asked.stdout.fnmatch_lines(
            [
                "*- dbsnap -*",
                f"snapshot dbsnap/{name}:* (cache miss: built in *",
                "1 database container*",
            ]
        )
        made = docker_client.images.list(filters=ours)
        try:
            assert [image.labels["dbsnap.inputs"] for image in made] == ["empty database"]
        finally:
            for image in made:
                docker_client.images.remove(image.id, force=True)
    assert containers_of(docker_client, name) == []
