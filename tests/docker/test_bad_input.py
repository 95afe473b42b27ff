"""More bad input: each a one-line error, a non-zero exit, nothing left behind."""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator

import docker
import pytest

from .project import Project

TEST = "def test_db(dbsnap_db):\n    pass\n"


@pytest.fixture(scope="module")
def not_postgres(docker_client: docker.DockerClient) -> Iterator[str]:
    """An image with one file and no PostgreSQL in it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("hello.txt")
        data = b"not a database\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    docker_client.api.import_image_from_data(
        buffer.getvalue(), repository="dbsnap-test/not-postgres", tag="1"
    )
    tag = "dbsnap-test/not-postgres:1"
    yield tag
    docker_client.images.remove(tag, force=True)


def test_an_image_of_no_engine_it_knows(
    project: Project, not_postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBSNAP_IMAGE", not_postgres)
    project.ini()
    project.write("test_db.py", TEST)
    result = project.run("-n", "2")
    project.assert_database_error(
        result,
        f"image '{not_postgres}' does not look like any engine that pytest-dbsnap knows "
        "(command: no command); set dbsnap_engine to postgres or mariadb, or dbsnap_image to "
        "such an image",
    )
    assert project.images() == []


def test_startup_timeout_names_the_container_and_shows_its_logs(project: Project) -> None:
    project.ini(startup_timeout="0.3")
    project.write("test_db.py", TEST)
    result = project.run("-n", "2")
    project.assert_database_error(
        result,
        "container dbsnap-seed-* did not accept queries within 0.3s (last error: *); "
        "raise dbsnap_startup_timeout or check the image. Last log lines:",
    )
    assert project.images() == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop capabilities")
def test_docker_socket_not_permitted(project: Project) -> None:
    """A socket we may not open, as for a user outside the docker group."""
    if not shutil.which("setpriv"):
        pytest.skip("setpriv is missing")
    project.ini()
    project.write("test_db.py", TEST)
    path = project.path / "docker.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen()
        path.chmod(0)
        # Root without CAP_DAC_OVERRIDE is held to the socket's permissions.
        result = subprocess.run(
            [
                "setpriv",
                "--bounding-set=-dac_override,-dac_read_search",
                "--",
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-n",
                "2",
            ],
            cwd=project.path,
            capture_output=True,
            text=True,
            env={**os.environ, "DOCKER_HOST": f"unix://{path}"},
            timeout=120,
        )
    assert result.returncode != 0
    expected = (
        f"dbsnap: cannot reach the Docker daemon at unix://{path} (DOCKER_HOST) "
        "(Permission denied); "
        "add your user to the docker group or run with access to the socket"
    )
    assert expected in result.stdout.splitlines(), result.stdout + result.stderr


def test_three_sessions_with_four_workers_each_build_once(project: Project) -> None:
    """Three CI jobs on one daemon, same seed: one build, no collision."""
    sessions = []
    for n in range(3):
        folder = project.path / f"job-{n}"
        project.write(f"job-{n}/db/schema.sql", "CREATE TABLE t (id int);\n")
        project.write(
            f"job-{n}/pytest.ini",
            f"""
            [pytest]
            dbsnap_project = {project.name}
            dbsnap_seed = db/schema.sql
            dbsnap_seed_command = sleep 1; {project.counting_command()}
            """,
        )
        project.write(
            f"job-{n}/test_many.py",
            """
            import pytest

            @pytest.mark.parametrize("n", range(8))
            def test_write(dbsnap_conn, n):
                dbsnap_conn.execute("INSERT INTO t VALUES (%s)", [n])
                dbsnap_conn.commit()
                assert dbsnap_conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
            """,
        )
        sessions.append(project.popen("-n", "4", "-p", "no:cacheprovider", cwd=folder))
    outputs = [s.communicate(timeout=600)[0] for s in sessions]
    for session, output in zip(sessions, outputs, strict=True):
        assert session.returncode == 0, output
        assert "8 passed" in output, output
    assert project.seed_runs() == 1
    assert sorted(re.findall(r"\(cache (hit|miss)", "\n".join(outputs))) == ["hit", "hit", "miss"]


def test_concurrent_sessions_with_different_seeds_each_get_their_own(project: Project) -> None:
    sessions = []
    for n in range(2):
        folder = project.path / f"job-{n}"
        project.write(f"job-{n}/db/schema.sql", f"CREATE TABLE t{n} (id int);\n")
        project.write(
            f"job-{n}/pytest.ini",
            f"""
            [pytest]
            dbsnap_project = {project.name}
            dbsnap_seed = db/schema.sql
            """,
        )
        project.write(
            f"job-{n}/test_table.py",
            f"def test_table(dbsnap_conn):\n    dbsnap_conn.execute('SELECT * FROM t{n}')\n",
        )
        sessions.append(project.popen("-n", "2", "-p", "no:cacheprovider", cwd=folder))
    for session in sessions:
        output = session.communicate(timeout=600)[0]
        assert session.returncode == 0, output
    assert len(project.images()) == 2
