"""The ``dbsnap`` command, every subcommand run for real."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import docker
import pytest

from pytest_dbsnap.config import resolve

from .project import Project
from .services import Daemon
from .test_snapshot import seeded_project

NOT_FOUND = 3


def as_json(result: pytest.RunResult) -> dict[str, object]:
    data = json.loads(result.stdout.str())
    assert isinstance(data, dict)
    return data


def test_build_then_pytest_seeds_nothing_and_ls_marks_the_current_snapshot(
    project: Project,
) -> None:
    seeded_project(project)
    built = project.dbsnap("build")
    assert built.ret == 0, built.stderr.str()
    [tag] = built.stdout.lines
    assert tag.startswith(f"dbsnap/{project.name}:")
    built.stderr.fnmatch_lines([f"dbsnap: seeding {tag} (*", f"dbsnap: built {tag} in *s"])
    assert project.seed_runs() == 1

    tests = project.run("-n", "2")
    tests.assert_outcomes(passed=1)
    tests.stdout.fnmatch_lines([f"snapshot {tag} (cache hit: nothing seeded)"])

    again = project.dbsnap("build", "--json")
    assert again.ret == 0
    data = as_json(again)
    assert data["tag"] == tag
    assert data["built"] is False
    assert len(str(data["key"])) == 64
    assert "password" not in again.stdout.str()
    assert project.seed_runs() == 1

    project.write("db/02_more.sql", "INSERT INTO item VALUES (1000, 'x');")
    assert project.dbsnap("build").ret == 0
    listing = project.dbsnap("ls")
    assert listing.ret == 0
    current, older = listing.stdout.lines[1:]
    assert current.startswith("* dbsnap/")
    assert older.startswith(f"  {tag} ")
    assert "sql: db/01_schema.sql, db/02_more.sql; command: echo run" in current
    rows = as_json(project.dbsnap("ls", "--json"))["snapshots"]
    assert isinstance(rows, list)
    assert [r["current"] for r in rows] == [True, False]
    assert all(0 < r["layer_bytes"] < r["size_bytes"] for r in rows)


def test_prune_keeps_the_current_snapshot_and_removes_what_dead_sessions_left(
    project: Project, docker_client: docker.DockerClient, base_image: str
) -> None:
    seeded_project(project)
    tags = []
    for n in range(3):
        project.write("db/02_more.sql", f"INSERT INTO item VALUES ({1000 + n}, 'x');")
        result = project.dbsnap("build")
        assert result.ret == 0, result.stderr.str()
        tags.append(result.stdout.lines[0])
    # A container of a session that died without a trace, and one of another project.
    dead = docker_client.containers.create(
        base_image,
        ["true"],
        labels={"dbsnap.project": project.name, "dbsnap.session": "deadbeef0000"},
    )
    other = docker_client.containers.create(
        base_image, ["true"], labels={"dbsnap.project": "someone-else", "dbsnap.session": "x"}
    )
    try:
        dry = project.dbsnap("prune", "--keep", "1", "--dry-run")
        assert dry.ret == 0
        dry.stdout.fnmatch_lines(
            [
                f"would remove snapshot {tags[0]}",
                f"would remove container {dead.name} of a dead session",
                "would remove 1 snapshot(s), 1 container(s); kept the current snapshot *"
                " and 1 other(s)",
            ]
        )
        assert len(project.images()) == 3

        young = as_json(project.dbsnap("prune", "--older-than", "1h", "--json"))
        assert young["removed_snapshots"] == []
        assert young["removed_containers"] == [dead.name]

        pruned = project.dbsnap("prune", "--json")
        assert pruned.ret == 0
        data = as_json(pruned)
        assert sorted(data["removed_snapshots"]) == sorted(tags[:2])  # type: ignore[arg-type]
        assert data["removed_containers"] == []
        assert [project.tags(image) for image in project.images()] == [[tags[2]]]
        other.reload()  # another project's container is not ours to touch
    finally:
        other.remove(force=True, v=True)


def test_prune_kept_removes_what_keep_left(project: Project) -> None:
    seeded_project(project)
    assert project.run("--dbsnap-keep").ret == 0
    assert len(project.containers()) == 2  # the worker container and the keep mark

    assert project.dbsnap("prune").ret == 0
    assert len(project.containers()) == 2  # kept on purpose: not a leak

    result = project.dbsnap("prune", "--kept")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["removed container dbsnap-* left by dbsnap_keep"])
    assert project.containers() == []


def test_push_and_pull_by_key(
    project: Project, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = f"{registry}/{project.name}/cli"
    seeded_project(project, registry=repository)
    # As a pipeline may set for every job: only test shards obey it, the build stage builds.
    monkeypatch.setenv("DBSNAP_ON_PULL_FAILURE", "fail")

    missing = project.dbsnap("pull")
    assert missing.ret == NOT_FOUND
    missing.stderr.fnmatch_lines(["dbsnap: error: pulling *: the registry has no such image*"])
    assert missing.stderr.lines[-1].startswith("dbsnap: error:")

    assert project.dbsnap("push").ret == NOT_FOUND  # nothing built yet
    built = project.dbsnap("build", "--push", "--json")
    assert built.ret == 0, built.stderr.str()
    data = as_json(built)
    key = str(data["key"])
    assert data["pushed_to"] == f"{repository}:{key[:12]}"
    for image in project.images():
        project.client.images.remove(image.id, force=True)

    pulled = project.dbsnap("pull", key[:12])  # by key, as another branch's shard would
    assert pulled.ret == 0, pulled.stderr.str()
    assert pulled.stdout.lines == [f"dbsnap/{project.name}:{key[:12]}"]
    pulled.stderr.fnmatch_lines(["dbsnap: pulling *", "  * MB of * MB (*%)", "dbsnap: pulled *"])
    tests = project.run()
    tests.assert_outcomes(passed=1)
    tests.stdout.fnmatch_lines(["snapshot * (cache hit: nothing seeded)"])
    assert project.seed_runs() == 1

    pushed = project.dbsnap("push", key[:8])
    assert pushed.ret == 0
    assert pushed.stdout.lines == [f"{repository}:{key[:12]}"]

    # The pipeline's first stage again, on a fresh machine: the registry has it.
    for image in project.images():
        project.client.images.remove(image.id, force=True)
    rerun = project.dbsnap("build", "--push")
    assert rerun.ret == 0
    rerun.stderr.fnmatch_lines(
        ["dbsnap: * is in the registry already; nothing built, pulled or pushed"]
    )
    assert not project.images()
    assert project.seed_runs() == 1


def test_save_then_load_on_an_empty_daemon_gives_a_working_snapshot(
    project: Project,
    other_daemon: Daemon,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    seeded_project(project)
    archive = tmp_path_factory.mktemp("archive") / "snapshot.tar.gz"
    saved = project.dbsnap("save", str(archive))
    assert saved.ret == NOT_FOUND  # not built yet
    built = project.dbsnap("build")
    assert built.ret == 0
    saved = project.dbsnap("save", str(archive))
    assert saved.ret == 0, saved.stderr.str()
    assert archive.is_file()
    assert not list(archive.parent.glob(".*part"))

    monkeypatch.setenv("DOCKER_HOST", other_daemon.unix)
    empty = other_daemon.client()
    assert empty.images.list() == []
    loaded = project.dbsnap("load", str(archive))
    assert loaded.ret == 0, loaded.stderr.str()
    assert loaded.stdout.lines == built.stdout.lines  # the snapshot's tag
    tests = project.run("-n", "2")
    tests.assert_outcomes(passed=1)
    tests.stdout.fnmatch_lines(["snapshot * (cache hit: nothing seeded)"])
    assert project.seed_runs() == 1
    assert [c.name for c in empty.containers.list(all=True)] == []
    for image in empty.images.list():
        empty.images.remove(image.id, force=True)


def test_exit_statuses_and_one_line_errors(project: Project) -> None:
    project.write("db/01_schema.sql", "CREATE TABLE item (id int PRIMARY KEY);\nSELECT 1/0;\n")
    project.ini(seed="db/*.sql")

    failed = project.dbsnap("build")
    assert failed.ret == 1
    [error] = failed.stderr.lines[-1:]
    assert error.startswith("dbsnap: error: db/01_schema.sql:2: division by zero")
    assert not project.images()

    no_registry = project.dbsnap("push", "--json")
    assert no_registry.ret == 2
    assert as_json(no_registry)["exit_status"] == 2
    no_registry.stderr.fnmatch_lines(
        ["dbsnap: error: no registry configured: set dbsnap_registry*"]
    )

    bad_setting = project.dbsnap("ls", "--", "--dbsnap-pool-size=0")
    assert bad_setting.ret == 2
    bad_setting.stderr.fnmatch_lines(["ERROR: --dbsnap-pool-size='0' is not a count*"])

    usage = project.dbsnap("prune", "--older-than", "soon")
    assert usage.ret == 2
    usage.stderr.fnmatch_lines(["*'soon' is not an age: write 30m, 12h or 7d"])


def test_two_repositories_of_one_folder_name_never_prune_each_other(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, base_image: str
) -> None:
    """Two checkouts called ``backend`` share a daemon, with no dbsnap_project set;
    a third is a copy of the first, and finds its snapshot by key."""
    dbsnap = str(Path(sys.executable).parent / "dbsnap")
    folders = {}
    for parent, rows in (("a", 1), ("b", 2), ("c", 1)):
        folder = pytester.path / parent / "backend"
        (folder / "db").mkdir(parents=True)
        values = ", ".join(f"({i})" for i in range(rows))
        (folder / "db" / "seed.sql").write_text(
            f"CREATE TABLE t (id int);\nINSERT INTO t VALUES {values};\n"
        )
        (folder / "pytest.ini").write_text(
            f"[pytest]\ndbsnap_image = {base_image}\ndbsnap_seed = db/seed.sql\n"
        )
        (folder / "test_db.py").write_text("def test_db(dbsnap_conn):\n    pass\n")
        folders[parent] = folder
    projects = {
        p: resolve(f, lambda _: None, lambda _: None, {}).project for p, f in folders.items()
    }
    try:
        for parent in ("a", "b"):
            pytester.chdir()
            done = pytester.run(sys.executable, "-m", "pytest", "-n", "2", str(folders[parent]))
            assert done.ret == 0, done.stdout.str()
        b_images = docker_client.images.list(filters={"label": f"dbsnap.project={projects['b']}"})
        assert len(b_images) == 1

        pruned = pytester.run(dbsnap, "-C", str(folders["a"]), "prune", "--json")
        assert pruned.ret == 0, pruned.stderr.str()
        assert json.loads(pruned.stdout.str())["removed_snapshots"] == []
        assert docker_client.images.get(b_images[0].id).tags  # b's snapshot is still tagged

        copied = pytester.run(sys.executable, "-m", "pytest", "-p", "no:xdist", str(folders["c"]))
        assert copied.ret == 0
        copied.stdout.fnmatch_lines(
            [f"snapshot dbsnap/{projects['c']}:* (cache hit: nothing seeded)"]
        )
    finally:
        for project in projects.values():
            for image in docker_client.images.list(filters={"reference": f"dbsnap/{project}"}):
                with contextlib.suppress(docker.errors.APIError):
                    docker_client.images.remove(image.id, force=True)


def test_doctor_on_a_healthy_daemon_says_ok_line_by_line(project: Project) -> None:
    seeded_project(project)
    result = project.dbsnap("doctor")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        [
            "ok    daemon: unix://* (*), * Engine *",  # Docker, or Podman's service
            "ok    storage: overlay*: *",
            "ok    base image: * is here (*)",
            "skip  registry: no dbsnap_registry configured",
            "ok    free disk: * GiB free in *",
            f"ok    dead sessions: no container left by a dead session of {project.name}",
        ]
    )


def test_doctor_names_what_is_broken_and_how_to_fix_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded_project(project)
    # A reference on a closed loopback port: nothing here, nothing to pull from.
    monkeypatch.setenv("DBSNAP_IMAGE", "127.0.0.1:9/nowhere/postgres:17")
    missing = project.dbsnap("doctor", "--json")
    assert missing.ret == 1
    checks = {c["name"]: c for c in as_json(missing)["checks"]}  # type: ignore[attr-defined]
    assert checks["daemon"]["status"] == "ok"
    assert checks["base image"]["status"] == "fail"
    assert checks["base image"]["text"].startswith(
        "127.0.0.1:9/nowhere/postgres:17 is not here and cannot be pulled ("
    )
    assert "images/*/build" in checks["base image"]["text"]

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    down = project.dbsnap("doctor")
    assert down.ret == 1
    down.stdout.fnmatch_lines(
        [
            "fail  daemon: cannot reach the Docker daemon at unix:///nonexistent/docker.sock "
            "(DOCKER_HOST) (No such file or directory); start the Docker engine or set "
            "DOCKER_HOST to one that runs",
            "skip  storage: the daemon does not answer",
        ]
    )
