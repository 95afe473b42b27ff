"""Never let anyone in: no password in the snapshot, one of its own for every container."""

from __future__ import annotations

import json
import time

import docker
import psycopg
import pytest

from .project import Project

SEED = "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n"

# Each worker records how to reach its database, and what its repr shows.
RECORD = """
import json, os, psycopg, pytest

@pytest.mark.parametrize("n", range(4))
def test_record(n, dbsnap_worker, dbsnap_db, _dbsnap_server):
    seeding = open("seeding-password.txt").read().strip()
    assert dbsnap_db.password != seeding
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(dbsnap_worker.with_dbname("postgres").dsn.replace(
            dbsnap_worker.password, seeding))
    shown = repr([dbsnap_db, dbsnap_worker, _dbsnap_server.session.snapshot,
                  _dbsnap_server.worker_instance()])
    assert dbsnap_db.password not in shown
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with open(f"worker-{worker}.json", "w") as f:
        json.dump({"port": dbsnap_worker.port, "password": dbsnap_worker.password}, f)
"""


def test_the_snapshot_lets_nobody_in_and_each_container_has_its_own_password(
    project: Project, docker_client: docker.DockerClient
) -> None:
    project.write("db/seed.sql", SEED)
    project.ini(seed="db/seed.sql", seed_command="echo $PGPASSWORD > seeding-password.txt")
    project.write("test_record.py", RECORD)
    result = project.run("-n", "2")
    result.assert_outcomes(passed=4)
    seeding = (project.path / "seeding-password.txt").read_text().strip()
    workers = [json.loads(p.read_text()) for p in project.path.glob("worker-*.json")]
    assert len(workers) == 2
    assert len({w["password"] for w in workers}) == 2

    [image] = project.images()
    assert not any("password" in key for key in image.labels)
    assert seeding not in json.dumps(image.attrs)

    # A container someone starts from the snapshot by hand takes no password.
    volumes = image.attrs["Config"].get("Volumes") or {}
    container = docker_client.containers.run(
        image.id,
        detach=True,
        ports={"5432/tcp": ("127.0.0.1", None)},
        tmpfs=dict.fromkeys(volumes, ""),
        labels={"dbsnap.project": project.name},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            container.reload()
            if container.attrs["NetworkSettings"]["Ports"].get("5432/tcp"):
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        port = container.attrs["NetworkSettings"]["Ports"]["5432/tcp"][0]["HostPort"]
        for password in (seeding, "", "postgres"):
            refused = "no error yet"
            while time.monotonic() < deadline:
                try:
                    psycopg.connect(
                        host="127.0.0.1",
                        port=port,
                        user="postgres",
                        password=password,
                        dbname="test",
                        connect_timeout=3,
                    ).close()
                    pytest.fail(f"password {password!r} was accepted")
                except psycopg.OperationalError as exc:
                    refused = str(exc)
                    if "password" in refused:
                        break
                time.sleep(0.1)
            assert "password" in refused, refused
    finally:
        container.remove(force=True, v=True)
