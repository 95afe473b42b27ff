"""Sharing snapshots through a registry: a real docker-registry on 127.0.0.1."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from .project import Project
from .services import free_port
from .test_snapshot import seeded_project


def forget_local_snapshots(project: Project) -> None:
    for image in project.images():
        project.client.images.remove(image.id, force=True)


def test_a_pushed_snapshot_is_pulled_by_the_next_machine_which_seeds_nothing(
    project: Project, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = f"{registry}/{project.name}/db"
    seeded_project(project, registry=repository)

    builder = project.run("-n", "2", "--dbsnap-push")
    builder.assert_outcomes(passed=1)
    builder.stdout.fnmatch_lines(
        [f"snapshot dbsnap/{project.name}:* (cache miss: built in *; pushed to {repository}:*"]
    )
    assert project.seed_runs() == 1
    [built] = project.images()
    key = built.labels["dbsnap.key"]
    # What the registry holds is the key's tag; locally only dbsnap/<project> stays.
    assert project.tags(built) == [f"dbsnap/{project.name}:{key[:12]}"]
    forget_local_snapshots(project)

    shard = project.run("-n", "2")
    shard.assert_outcomes(passed=1)
    shard.stdout.fnmatch_lines(
        [
            f"dbsnap: pulling {repository}:{key[:12]}",
            "dbsnap:   * MB of * MB (*%)",  # progress, for CI logs
        ]
    )
    shard.stdout.fnmatch_lines(
        [
            f"snapshot dbsnap/{project.name}:{key[:12]} "
            f"(cache hit: pulled from {repository}:{key[:12]} in *s, nothing seeded)"
        ]
    )
    assert project.seed_runs() == 1
    [pulled] = project.images()
    assert pulled.id == built.id
    assert project.tags(pulled) == [f"dbsnap/{project.name}:{key[:12]}"]

    # Found locally now: no registry round trip.
    again = project.run()
    again.stdout.fnmatch_lines(["snapshot * (cache hit: nothing seeded)"])


def test_a_snapshot_missing_from_the_registry_is_built_or_fails_as_configured(
    project: Project, registry: str
) -> None:
    seeded_project(project, registry=f"{registry}/{project.name}/db")

    strict = project.run("-n", "2", "--dbsnap-on-pull-failure=fail")
    assert strict.ret != 0
    [line] = [ln for ln in strict.outlines if ln.startswith("dbsnap: no database for the")]
    assert "the registry has no such image" in line
    assert "(dbsnap_on_pull_failure=fail)" in line
    assert project.seed_runs() == 0
    assert not project.images()

    lenient = project.run("-n", "2")
    lenient.assert_outcomes(passed=1)
    lenient.stdout.fnmatch_lines(
        ["dbsnap: *the registry has no such image*; building it here instead*"]
    )
    assert project.seed_runs() == 1


def test_an_unreachable_registry_says_so_and_builds_by_default(project: Project) -> None:
    closed = f"127.0.0.1:{free_port()}"
    seeded_project(project, registry=f"{closed}/team/db")

    result = project.run("-n", "2")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"dbsnap: pulling {closed}/team/db:* failed: *connection refused*; check the registry "
            "address*; building it here instead (dbsnap_on_pull_failure=fail stops instead)",
            "snapshot * (cache miss: built in *",
        ]
    )

    project.write("db/02_more.sql", "INSERT INTO item VALUES (1000, 'x');")
    strict = project.run("-n", "2", "--dbsnap-on-pull-failure=fail")
    assert strict.ret == pytest.ExitCode.TESTS_FAILED
    [line] = [ln for ln in strict.outlines if ln.startswith("dbsnap: no database for the")]
    assert f"pulling {closed}/team/db:" in line
    assert "connection refused" in line


def test_a_registry_address_with_a_tag_is_refused(project: Project) -> None:
    seeded_project(project, registry="127.0.0.1:5000/team/db:latest")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: dbsnap_registry='127.0.0.1:5000/team/db:latest' is not a*"]
    )


def test_a_registry_that_wants_credentials_says_so_and_takes_docker_logins(
    project: Project,
    auth_registry: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    address, user, password = auth_registry
    repository = f"{address}/{project.name}/db"
    seeded_project(project, registry=repository)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "logged-out"))

    refused = project.run()
    refused.assert_outcomes(passed=1)
    refused.stdout.fnmatch_lines(
        [
            f"dbsnap: pulling {repository}:* failed: *no basic auth credentials; log in with "
            "`docker login`*; building it here instead*"
        ]
    )
    assert project.dbsnap("push").ret == 1

    # What `docker login` writes; docker-py reads it.
    logged_in = tmp_path / "logged-in"
    logged_in.mkdir()
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (logged_in / "config.json").write_text(json.dumps({"auths": {address: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(logged_in))
    pushed = project.dbsnap("push")
    assert pushed.ret == 0, pushed.stderr.str()
    forget_local_snapshots(project)
    pulled = project.run()
    pulled.assert_outcomes(passed=1)
    pulled.stdout.fnmatch_lines(["snapshot * (cache hit: pulled from *, nothing seeded)"])
    assert project.seed_runs() == 1
    for result in (refused, pushed, pulled):
        assert password not in result.stdout.str() + result.stderr.str()
