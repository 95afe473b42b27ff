"""The Docker daemon restarts mid-session (a package upgrade, a crash): say so, leak nothing.

It is the second daemon that restarts, so the rest of the suite is not disturbed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .project import Project
from .services import Daemon

SCHEMA = "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n"

TESTS = """
    import os, pathlib, time

    def test_1_before(dbsnap_conn):
        assert dbsnap_conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
        pathlib.Path(os.environ["READY"]).touch()
        restarted = pathlib.Path(os.environ["RESTARTED"])
        deadline = time.monotonic() + 180
        while not restarted.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def test_2_after(dbsnap_conn):
        pass

    def test_3_after(dbsnap_db):
        pass
"""


def test_a_daemon_restart_fails_the_tests_after_it_clearly_and_leaks_nothing(
    project: Project,
    other_daemon_with_pg18: Daemon,
    pg18_image: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    daemon = other_daemon_with_pg18
    client = daemon.client()
    volumes_before = {v.name for v in client.volumes.list()}
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    project.write("test_restart.py", TESTS)
    ready, restarted = tmp_path / "ready", tmp_path / "restarted"
    env = {
        **os.environ,
        "DOCKER_HOST": daemon.unix,
        "DBSNAP_IMAGE": pg18_image,
        "READY": str(ready),
        "RESTARTED": str(restarted),
    }
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not ready.exists():
            assert session.poll() is None, session.communicate()[0]
            assert time.monotonic() < deadline, "the inner session never got its database"
            time.sleep(0.1)
        daemon.restart()
        restarted.touch()
        output, _ = session.communicate(timeout=300)
    finally:
        if session.poll() is None:
            session.kill()
            session.communicate()
    assert session.returncode == pytest.ExitCode.TESTS_FAILED, output
    assert re.search(r"= 1 passed, (1 warning, )?2 errors in", output), output
    errors = [line for line in output.splitlines() if line.startswith("dbsnap: the container")]
    assert len(errors) == 2, output
    for line in errors:
        assert "the container dbsnap-" in line
        assert "is exited (killed, out of memory, or the Docker daemon restarted?)" in line
    assert client.containers.list(all=True) == []
    assert {v.name for v in client.volumes.list()} <= volumes_before
    for image in client.images.list(filters={"label": "dbsnap.kind=snapshot"}):
        client.images.remove(image.id, force=True)
