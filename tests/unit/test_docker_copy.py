"""Copying a file into a container: Podman's copier that loses its helper is asked again."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from pytest_dbsnap.docker import ContainerInfo, Docker
from pytest_dbsnap.errors import DbsnapError

PODMAN = {"Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]}
DOCKER = {"Components": [{"Name": "Engine", "Version": "20.10.24"}]}
BROKEN_PIPE = "passing bulk input to subprocess: write |1: broken pipe"


class FlakyApi:
    """put_archive fails with ``error`` ``failures`` times, then copies."""

    def __init__(self, failures: int, error: str = BROKEN_PIPE) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def put_archive(self, container: str, path: str, data: bytes) -> bool:
        self.calls += 1
        if self.calls <= self.failures:
            raise docker.errors.APIError(self.error)
        return True


class Client:
    def __init__(self, api: Any) -> None:
        self.api = api


def copy(version: dict[str, Any], api: FlakyApi) -> None:
    Docker(Client(api), version).put_file(ContainerInfo("c1", "seed"), "/tmp/secret", b"pw")  # type: ignore[arg-type]


def test_podmans_broken_pipe_is_copied_again() -> None:
    api = FlakyApi(failures=2)
    copy(PODMAN, api)
    assert api.calls == 3


def test_a_broken_pipe_that_stays_fails_with_its_reason() -> None:
    api = FlakyApi(failures=3)
    with pytest.raises(DbsnapError, match=r"copying /tmp/secret into container .*broken pipe"):
        copy(PODMAN, api)
    assert api.calls == 3


@pytest.mark.parametrize(
    ("version", "error"), [(DOCKER, BROKEN_PIPE), (PODMAN, "no such container")]
)
def test_other_failures_are_not_retried(version: dict[str, Any], error: str) -> None:
    api = FlakyApi(failures=1, error=error)
    with pytest.raises(DbsnapError):
        copy(version, api)
    assert api.calls == 1
