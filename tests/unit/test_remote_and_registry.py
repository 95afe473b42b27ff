"""Pure logic of remote daemons, registry addresses, registry errors and the CLI's parsing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from pytest_dbsnap.cli import _age
from pytest_dbsnap.config import Setting, remote_host, resolve
from pytest_dbsnap.docker import _transfer_error
from pytest_dbsnap.errors import ConfigError, RegistryError, SnapshotNotFound
from pytest_dbsnap.progress import Meter


def nothing(_: Setting) -> None:
    return None


def settings_with(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return resolve(tmp_path, nothing, nothing, env)


@pytest.mark.parametrize(
    ("docker_host", "remote"),
    [
        ("", ""),
        ("unix:///var/run/docker.sock", ""),
        ("tcp://127.0.0.1:2375", ""),
        ("tcp://localhost:2376", ""),
        ("tcp://[::1]:2375", ""),
        ("tcp://docker:2375", "docker"),
        ("tcp://10.0.0.5:2376", "10.0.0.5"),
        ("ssh://ci@build-host.example", "build-host.example"),
    ],
)
def test_remote_host(docker_host: str, remote: str) -> None:
    assert remote_host(docker_host) == remote


def test_a_local_daemon_publishes_and_connects_on_loopback(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    assert settings.host == "127.0.0.1"
    assert settings.publish_address() == "127.0.0.1"


def test_a_remote_daemon_connects_there_and_wants_a_publish_address(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, DOCKER_HOST="tcp://docker:2375")
    assert settings.host == "docker"
    with pytest.raises(ConfigError, match=r"DOCKER_HOST=tcp://docker:2375 is another machine.*"):
        settings.publish_address()
    chosen = settings_with(tmp_path, DOCKER_HOST="tcp://docker:2375", DBSNAP_PUBLISH="0.0.0.0")
    assert chosen.publish_address() == "0.0.0.0"
    named = settings_with(tmp_path, DOCKER_HOST="tcp://docker:2375", DBSNAP_HOST="10.1.2.3")
    assert named.host == "10.1.2.3"


def test_a_local_daemon_publishes_where_the_tests_connect(tmp_path: Path) -> None:
    # As before dbsnap_publish existed: dbsnap_host alone moves both.
    assert settings_with(tmp_path, DBSNAP_HOST="192.168.5.5").publish_address() == "192.168.5.5"


@pytest.mark.parametrize(
    "repository",
    ["ghcr.io/acme/shop/dbsnap", "127.0.0.1:5000/t/db", "localhost/db", "team/db", "db"],
)
def test_registry_repositories_are_accepted(tmp_path: Path, repository: str) -> None:
    assert settings_with(tmp_path, DBSNAP_REGISTRY=repository + "/").registry == repository


@pytest.mark.parametrize(
    "repository",
    ["ghcr.io/acme/db:latest", "db:tag", "ghcr.io/Acme/db", "a//b"],
)
def test_registry_references_with_a_tag_or_capitals_are_refused(
    tmp_path: Path, repository: str
) -> None:
    with pytest.raises(ConfigError, match=r"dbsnap_registry=.* is not a repository: write host"):
        settings_with(tmp_path, DBSNAP_REGISTRY=repository)


@pytest.mark.parametrize("repository", ["ci:s3cret@ghcr.io/acme/db", "ghcr.io/acme/db@sha256:00"])
def test_a_registry_with_an_at_sign_is_refused_without_echoing_it(
    tmp_path: Path, repository: str
) -> None:
    with pytest.raises(ConfigError, match=r"dbsnap_registry holds an '@'") as caught:
        settings_with(tmp_path, DBSNAP_REGISTRY=repository)
    assert "s3cret" not in str(caught.value)


def test_push_and_fail_on_pull_failure_need_a_registry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^dbsnap_push needs a registry"):
        settings_with(tmp_path, DBSNAP_PUSH="1")
    with pytest.raises(ConfigError, match=r"^dbsnap_on_pull_failure=fail needs a registry"):
        settings_with(tmp_path, DBSNAP_ON_PULL_FAILURE="fail")


@pytest.mark.parametrize(
    ("reason", "status", "kind", "hint"),
    [
        ("manifest for r/x:k not found: manifest unknown", 404, SnapshotNotFound, "no such"),
        ('Get "http://r/v2/": dial tcp r: connect: connection refused', 500, RegistryError, "up"),
        ("unauthorized: authentication required", 500, RegistryError, "docker login"),
        ("denied: requested access to the resource is denied", 500, RegistryError, "docker login"),
    ],
)
def test_registry_errors_say_what_to_do(
    reason: str, status: int, kind: type[Exception], hint: str
) -> None:
    error = _transfer_error("pulling r/x:k", reason, status)
    assert type(error) is kind
    assert hint in str(error)
    assert "\n" not in str(error)


@pytest.mark.parametrize(("text", "seconds"), [("30m", 1800), ("12h", 43200), ("7d", 604800)])
def test_ages(text: str, seconds: float) -> None:
    assert _age(text) == seconds


def test_progress_in_a_log_is_a_line_per_quarter() -> None:
    lines: list[str] = []
    meter = Meter(lines.append)
    for done in range(0, 101, 5):
        meter(done * 1_000_000, 100_000_000)
    assert lines == [
        "0 B of 100.0 MB (0%)",
        "25.0 MB of 100.0 MB (25%)",
        "50.0 MB of 100.0 MB (50%)",
        "75.0 MB of 100.0 MB (75%)",
        "100.0 MB of 100.0 MB (100%)",
    ]


def test_progress_on_a_terminal_redraws_one_line() -> None:
    terminal = io.StringIO()
    meter = Meter(lambda _: None, terminal)
    meter(50, 100)
    meter(100, 100)
    meter.finish()
    assert terminal.getvalue() == "\r  50 B of 100 B (50%)\x1b[K\r  100 B of 100 B (100%)\x1b[K\n"
