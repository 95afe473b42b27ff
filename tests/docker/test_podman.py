"""Rootful Podman's Docker-compatible API, beside Docker.

The rest of the Podman subset is the suite's own tests run with DOCKER_HOST on
the Podman service (``make test-podman``); these need both daemons.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = "unix:///var/run/docker.sock"


@pytest.fixture(scope="session")
def podman() -> str:
    """The Podman service ``scripts/setup podman`` keeps (started when it is not)."""
    done = subprocess.run(
        [str(REPO / "scripts" / "setup"), "podman"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"no Podman service: {done.stderr.strip()}; see scripts/setup", False)
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture
def bare_podman(podman: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second Podman service, without the containers.conf that lowers its ulimits."""
    socket = tmp_path_factory.mktemp("podman") / "bare.sock"
    env = {k: v for k, v in os.environ.items() if k != "CONTAINERS_CONF"}
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not socket.exists():
            assert time.monotonic() < deadline, "the second Podman service did not start"
            time.sleep(0.1)
        yield f"unix://{socket}"
    finally:
        service.terminate()
        service.wait(timeout=30)


def environment(host: str, project: str, image: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBSNAP_")}
    env.update(DOCKER_HOST=host, DBSNAP_PROJECT=project, DBSNAP_IMAGE=image)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@contextlib.contextmanager
def cleaned(project: str, *hosts: str) -> Iterator[None]:
    try:
        yield
    finally:
        for host in hosts:
            client = docker.DockerClient(base_url=host)
            label = {"label": f"dbsnap.project={project}"}
            left = client.containers.list(all=True, filters=label)
            for image in client.images.list(filters=label):
                with contextlib.suppress(docker.errors.APIError):
                    client.images.remove(image.id, force=True)
            client.close()
            assert not left, f"containers left on {host}: {[c.name for c in left]}"


def test_a_snapshot_saved_on_docker_loads_into_podman_gzipped_and_seeds_nothing(
    tmp_path: Path, podman: str, base_image: str
) -> None:
    project = f"t-{uuid.uuid4().hex[:10]}"
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "seed.sql").write_text(
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n"
    )
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ndbsnap_seed = db/seed.sql\ndbsnap_seed_command = echo run >> runs.txt\n"
    )
    (tmp_path / "test_db.py").write_text(
        "def test_db(dbsnap_conn):\n"
        "    assert dbsnap_conn.execute('SELECT count(*) FROM t').fetchone() == (1,)\n"
    )
    dbsnap = str(Path(sys.executable).parent / "dbsnap")
    on_docker = environment(DOCKER, project, base_image)
    on_podman = environment(podman, project, base_image)
    with cleaned(project, DOCKER, podman):
        built = run([dbsnap, "build"], tmp_path, on_docker)
        assert built.returncode == 0, built.stderr
        saved = run([dbsnap, "save", "snapshot.tar.gz"], tmp_path, on_docker)
        assert saved.returncode == 0, saved.stderr
        loaded = run([dbsnap, "load", "snapshot.tar.gz"], tmp_path, on_podman)
        assert loaded.returncode == 0, loaded.stderr
        assert f"dbsnap/{project}:" in loaded.stdout  # read back as Docker shows it
        session = run([sys.executable, "-m", "pytest", "-n", "2"], tmp_path, on_podman)
        assert session.returncode == 0, session.stdout + session.stderr
        assert "(cache hit: nothing seeded)" in session.stdout
        assert "Podman Engine" in session.stdout
        assert (tmp_path / "runs.txt").read_text().count("run") == 1


def test_a_podman_that_cannot_set_limits_says_what_to_lower(
    tmp_path: Path, bare_podman: str, base_image: str
) -> None:
    project = f"t-{uuid.uuid4().hex[:10]}"
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_db.py").write_text("def test_db(dbsnap_db):\n    pass\n")
    env = environment(bare_podman, project, base_image)
    with cleaned(project, bare_podman):
        session = run([sys.executable, "-m", "pytest", "-p", "no:xdist"], tmp_path, env)
    if session.returncode == 0:
        pytest.skip("this machine's Podman sets the limits it wants: nothing to explain")
    line = next(ln for ln in session.stdout.splitlines() if ln.startswith("dbsnap: "))
    assert "rlimit" in line, line
    assert 'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]' in line
    assert "CONTAINERS_CONF" in line
