"""Which daemon: DOCKER_HOST, else the Docker CLI's context, else the local socket."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pytest_dbsnap.daemon import LOCAL, Daemon, environ_for, locate


def context(config: Path, name: str, host: str, *, tls: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config / "contexts" / "meta" / digest
    meta.mkdir(parents=True)
    endpoint = {"Host": host, "SkipTLSVerify": False}
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": endpoint}}))
    if tls:
        (config / "contexts" / "tls" / digest / "docker").mkdir(parents=True)


def test_docker_host_wins(tmp_path: Path) -> None:
    context(tmp_path, "remote", "tcp://10.0.0.9:2376")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    env = {"DOCKER_HOST": "unix:///run/podman/podman.sock", "DOCKER_CONFIG": str(tmp_path)}
    assert locate(env) == Daemon("unix:///run/podman/podman.sock")


def test_the_current_context_then_docker_context(tmp_path: Path) -> None:
    context(tmp_path, "remote", "tcp://10.0.0.9:2376", tls=True)
    context(tmp_path, "other", "ssh://ci@builder")
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    found = locate({"DOCKER_CONFIG": str(tmp_path)})
    assert (found.address, found.context) == ("tcp://10.0.0.9:2376", "remote")
    assert found.describe() == "tcp://10.0.0.9:2376 (context remote)"
    env = environ_for(found)
    assert env["DOCKER_HOST"] == "tcp://10.0.0.9:2376"
    assert env["DOCKER_TLS_VERIFY"] == "1"
    assert env["DOCKER_CERT_PATH"].endswith("/docker")
    chosen = locate({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "other"})
    assert chosen.address == "ssh://ci@builder"


def test_the_default_context_or_nothing_is_the_local_socket(tmp_path: Path) -> None:
    assert locate({"DOCKER_CONFIG": str(tmp_path)}) == Daemon(LOCAL)
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "default"}))
    assert locate({"DOCKER_CONFIG": str(tmp_path)}).describe() == f"{LOCAL} (the default socket)"
    (tmp_path / "config.json").write_text("{not json")
    assert locate({"DOCKER_CONFIG": str(tmp_path)}) == Daemon(LOCAL)


def test_a_named_context_that_is_not_there_fails_at_connect(tmp_path: Path) -> None:
    from pytest_dbsnap.docker import Docker
    from pytest_dbsnap.errors import DockerUnavailableError

    found = locate({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "gone"})
    assert found == Daemon("", "gone")
    with pytest.raises(DockerUnavailableError, match="the Docker context 'gone'"):
        Docker.connect(found)
