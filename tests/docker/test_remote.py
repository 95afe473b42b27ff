"""A daemon on another address (``DOCKER_HOST=tcp://...``): publish and connect where it is.

The second daemon listens on tcp://127.0.0.2, an address of this machine that
is not the plugin's default 127.0.0.1, so a test can only pass if the plugin
publishes and connects where it is told.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import pytest

from .project import Project
from .services import Daemon
from .test_crashes import WAITING_TESTS, ready_files, start, wait_for
from .test_snapshot import seeded_project

WHERE = """
    import pytest

    @pytest.mark.parametrize("n", range(4))
    def test_database_is_on_the_remote_address(dbsnap_db, dbsnap_conn, n):
        assert dbsnap_db.host == "127.0.0.2"
        assert dbsnap_conn.execute("SELECT count(*) FROM item").fetchone()[0] == 500
"""


@pytest.fixture
def remote(
    other_daemon_with_pg18: Daemon, pg18_image: str, monkeypatch: pytest.MonkeyPatch
) -> Daemon:
    monkeypatch.setenv("DOCKER_HOST", other_daemon_with_pg18.tcp)
    monkeypatch.setenv("DBSNAP_IMAGE", pg18_image)
    return other_daemon_with_pg18


def test_a_remote_daemon_needs_a_publish_address_and_then_works(
    project: Project, remote: Daemon
) -> None:
    seeded_project(project)
    project.write("test_where.py", WHERE)
    client = remote.client()

    refused = project.run("-n", "2")
    project.assert_database_error(
        refused,
        f"DOCKER_HOST={remote.tcp} is another machine, where ports published on "
        "127.0.0.1 cannot be reached from here; set DBSNAP_PUBLISH*",
    )
    assert client.containers.list(all=True) == []

    result = project.run("-n", "2", "--dbsnap-publish=127.0.0.2")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["snapshot * (cache miss: built in *", "2 database container(s)*"])
    assert client.containers.list(all=True) == []
    for image in client.images.list(filters={"label": "dbsnap.kind=snapshot"}):
        client.images.remove(image.id, force=True)


def test_a_session_killed_over_a_remote_daemon_is_reaped_by_the_next_one(
    project: Project, remote: Daemon
) -> None:
    """Liveness by the sentinel's attachment, not by process IDs: it holds over TCP too."""
    seeded_project(project)
    project.write("test_wait.py", WAITING_TESTS)
    client = remote.client()
    mine = {"label": f"dbsnap.project={project.name}"}
    victim = start(project, "-n", "2", "--dbsnap-publish=127.0.0.2")
    wait_for(lambda: ready_files(project.path) == 2, "both workers to start their tests")
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)

    def left() -> list[str]:
        found = client.containers.list(all=True, filters=mine)
        return sorted(c.labels["dbsnap.kind"] for c in found)

    # The sentinel goes with its connection; the workers' containers stay.
    wait_for(lambda: left() == ["worker", "worker"], "the sentinel to go", timeout=30)

    project.write("test_wait.py", "def test_quick(dbsnap_db):\n    pass\n")
    result = project.run("--dbsnap-publish=127.0.0.2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["removed 2 container(s) left by dead sessions"])
    assert client.containers.list(all=True) == []
    for image in client.images.list(filters={"label": "dbsnap.kind=snapshot"}):
        client.images.remove(image.id, force=True)


def test_without_docker_host_the_current_docker_context_is_used(
    project: Project,
    other_daemon_with_pg18: Daemon,
    pg18_image: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """As the Docker CLI (and testcontainers) does: `docker context use` chose the second
    daemon, on its socket; the summary says which daemon was used."""
    config, name = tmp_path / "docker-config", f"ctx-{project.name}"
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps(
            {
                "Name": name,
                "Metadata": {},
                "Endpoints": {"docker": {"Host": other_daemon_with_pg18.unix}},
            }
        )
    )
    (config / "config.json").write_text(json.dumps({"currentContext": name}))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("DBSNAP_IMAGE", pg18_image)
    seeded_project(project)
    project.write("test_db.py", "def test_db(dbsnap_conn):\n    pass\n")
    client = other_daemon_with_pg18.client()
    try:
        result = project.run("-n", "2")
        assert result.ret == 0, result.stdout.str()
        result.stdout.fnmatch_lines(
            [f"Docker daemon: {other_daemon_with_pg18.unix} (context {name}), Docker Engine *"]
        )
        label = {"label": f"dbsnap.project={project.name}"}
        assert client.images.list(filters=label), "the snapshot is on the context's daemon"
        assert project.images() == [], "and not on the default one"
    finally:
        for image in client.images.list(filters={"label": f"dbsnap.project={project.name}"}):
            client.images.remove(image.id, force=True)
        client.close()
