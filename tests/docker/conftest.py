"""Fixtures for tests that run real inner pytest sessions against a real daemon.

Each test gets a fresh project name, so its snapshots never collide with
another test's or an earlier run's (unless it shares them: ``Project.share``),
and on teardown the fixture asserts that the project left no container and the
session no new volume behind.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator

import docker
import pytest

from . import services
from .project import Project


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"these tests need a Docker engine ({exc}); see .ci/run", pytrace=False)
    yield client
    client.close()


def _require_image(client: docker.DockerClient, name: str) -> str:
    try:
        client.images.get(name)
    except docker.errors.ImageNotFound:
        major = name.rpartition(":")[2]
        pytest.fail(
            f"base image {name} is missing: build it with images/postgres/build {major}",
            pytrace=False,
        )
    return name


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    """The image tests seed in (DBSNAP_IMAGE, default dbsnap-postgres:17)."""
    return _require_image(docker_client, os.environ.get("DBSNAP_IMAGE", "dbsnap-postgres:17"))


@pytest.fixture(scope="session")
def pg18_image(docker_client: docker.DockerClient) -> str:
    """A PostgreSQL 18 image, with 18's VOLUME /var/lib/postgresql layout."""
    return _require_image(
        docker_client, os.environ.get("DBSNAP_TEST_IMAGE_18", "dbsnap-postgres:18")
    )


@pytest.fixture(scope="session")
def shared_snapshots(docker_client: docker.DockerClient) -> Iterator[set[str]]:
    """The ids of snapshots that tests share (``Project.share``), removed at the end."""
    ids: set[str] = set()
    yield ids
    for image_id in ids:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(image_id, force=True)


@pytest.fixture
def project(
    pytester: pytest.Pytester,
    docker_client: docker.DockerClient,
    base_image: str,
    monkeypatch: pytest.MonkeyPatch,
    shared_snapshots: set[str],
) -> Iterator[Project]:
    for name in list(os.environ):
        if name.startswith("DBSNAP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DBSNAP_IMAGE", base_image)
    volumes_before = {v.name for v in docker_client.volumes.list()}
    proj = Project(pytester.path, f"t-{uuid.uuid4().hex[:10]}", docker_client, pytester)
    yield proj

    # A session's sentinel is removed by the daemon as its process exits.
    deadline = time.monotonic() + 10
    while proj.containers() and time.monotonic() < deadline:
        time.sleep(0.1)
    leaked = proj.containers()
    # A volume of a container still alive is caught with the container; what
    # a removed container leaves is a dangling volume.
    dangling = docker_client.volumes.list(filters={"dangling": True})
    new_volumes = {v.name for v in dangling} - volumes_before
    for container in docker_client.containers.list(
        all=True, filters={"label": f"dbsnap.project={proj.name}"}, sparse=True
    ):
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.api.remove_container(container.id, force=True, v=True)
    for image in proj.images():
        if proj.group:
            shared_snapshots.add(image.id)
        else:
            docker_client.images.remove(image.id, force=True)
    for volume in new_volumes:
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.volumes.get(volume).remove(force=True)
    assert not leaked, f"containers left behind: {leaked}"
    assert not new_volumes, f"volumes left behind: {sorted(new_volumes)}"


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry on 127.0.0.1: ``host:port``.

    The one ``.ci/run`` started (``DBSNAP_TEST_REGISTRY``), else a private one.
    Every test uses repositories named after its own project.
    """
    given = os.environ.get("DBSNAP_TEST_REGISTRY")
    if given:
        yield given
        return
    with services.registry(tmp_path_factory.mktemp("registry")) as address:
        yield address


@pytest.fixture(scope="session")
def other_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Daemon]:
    """A second Docker daemon with nothing on it, on a socket and on tcp://127.0.0.2."""
    with services.second_daemon(tmp_path_factory.mktemp("dockerd")) as daemon:
        yield daemon


@pytest.fixture
def other_daemon_with_pg18(
    other_daemon: services.Daemon, docker_client: docker.DockerClient, pg18_image: str
) -> services.Daemon:
    """The second daemon, with the PostgreSQL 18 base image copied onto it."""
    client = other_daemon.client()
    if not client.images.list(name=pg18_image):
        # By name: the archive then carries that tag, whatever other tags the image has.
        client.images.load(docker_client.api.get_image(pg18_image))
    return other_daemon


@pytest.fixture(scope="session")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A private registry that wants a user name and password: (host:port, user, password)."""
    user, password = "ci", f"pw-{uuid.uuid4().hex[:8]}"
    htpasswd = services.bcrypt_line(user, password)
    with services.registry(tmp_path_factory.mktemp("auth-registry"), htpasswd) as address:
        yield address, user, password


@pytest.fixture(scope="session")
def mariadb_image(docker_client: docker.DockerClient) -> str:
    """A MariaDB image with the official image's interface (DBSNAP_TEST_IMAGE_MARIADB)."""
    name = os.environ.get("DBSNAP_TEST_IMAGE_MARIADB", "dbsnap-mariadb:11.8")
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        pytest.fail(f"base image {name} is missing: build it with images/mariadb/build", False)
    return name


@pytest.fixture
def mariadb_project(
    project: Project, mariadb_image: str, monkeypatch: pytest.MonkeyPatch
) -> Project:
    """A throw-away project whose snapshots are MariaDB's."""
    monkeypatch.setenv("DBSNAP_IMAGE", mariadb_image)
    return project
