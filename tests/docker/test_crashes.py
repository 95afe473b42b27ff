"""Killed sessions and interrupted builds leave nothing for users to clean up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_dbsnap.daemon import locate
from pytest_dbsnap.docker import ContainerInfo, Docker, Lifeline
from pytest_dbsnap.engines.lifecycle import bound

from .project import Project

SCHEMA = "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n"

WAITING_TESTS = """
import pathlib, time, pytest

@pytest.mark.parametrize("n", range(2))
def test_waits(dbsnap_conn, n, worker_id):
    pathlib.Path("ready-" + worker_id + "-" + str(n)).touch()
    time.sleep(120)
"""


def start(project: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def kinds(project: Project) -> list[str]:
    found = project.client.containers.list(
        all=True, filters={"label": f"dbsnap.project={project.name}"}, sparse=True
    )
    return sorted(str(c.attrs["Labels"].get("dbsnap.kind")) for c in found)


def running(project: Project) -> list[str]:
    found = project.client.containers.list(
        filters={"label": f"dbsnap.project={project.name}", "status": "running"}, sparse=True
    )
    return sorted(str(c.attrs["Labels"].get("dbsnap.kind")) for c in found)


def ready_files(path: Path) -> int:
    return len(list(path.glob("ready-*")))


def kill_a_session_then_reap_it(project: Project, *, containers_per_worker: int = 1) -> None:
    """SIGKILL a ``-n 2`` session whose tests hold their databases, as a cancelled CI
    job does (controller and workers), and see the next session remove what it left."""
    project.write("test_wait.py", WAITING_TESTS)
    victim = start(project, "-n", "2")
    wait_for(lambda: ready_files(project.path) == 2, "both workers to start their tests")
    if containers_per_worker == 1:
        assert kinds(project).count("worker") == 2
    else:  # the pool's containers start beside the ones the tests hold
        assert kinds(project).count("worker") >= 2
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate(timeout=60)
    # Each database container is bound to its process: it stops with it, at once,
    # whether or not another session ever comes.
    wait_for(lambda: running(project) == [], "the killed session's containers to stop", 10)

    project.write("test_wait.py", "def test_quick(dbsnap_db):\n    pass\n")
    result = project.run()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["removed * container(s) left by dead sessions"])
    assert kinds(project) == []


@pytest.mark.parametrize("trial", range(2))
def test_sigkill_of_the_controller_is_reaped_by_the_next_session(
    project: Project, trial: int
) -> None:
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    kill_a_session_then_reap_it(project)


def test_sigkill_of_a_worker_leaves_nothing_after_the_session(project: Project) -> None:
    project.share("test_crashes")
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    project.write(
        "test_die.py",
        """
        import os, signal, pytest

        def test_worker_dies(dbsnap_conn, worker_id):
            os.kill(os.getpid(), signal.SIGKILL)

        @pytest.mark.parametrize("n", range(4))
        def test_others_carry_on(dbsnap_conn, n):
            assert dbsnap_conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
        """,
    )
    result = project.run("-n", "2")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 4
    assert outcomes.get("failed") == 1  # xdist reports the crashed test
    assert kinds(project) == []


@pytest.mark.parametrize("how", ["sigkill", "ctrl-c"])
def test_a_build_interrupted_during_seeding_tags_nothing_and_the_next_run_builds(
    project: Project, how: str
) -> None:
    marker = project.path / "seeding-started"
    project.write("db/schema.sql", SCHEMA)
    project.ini(
        seed="db/schema.sql",
        seed_command=f"touch {marker}; sleep 60; {project.counting_command()}",
    )
    project.write("test_db.py", "def test_db(dbsnap_db):\n    pass\n")
    victim = start(project, "-n", "2")
    wait_for(marker.exists, "seeding to start")
    assert "seed" in kinds(project)
    if how == "sigkill":
        os.killpg(victim.pid, signal.SIGKILL)
    else:
        os.killpg(victim.pid, signal.SIGINT)
    output = victim.communicate(timeout=60)[0]
    assert victim.returncode != 0, output
    assert project.images() == []
    if how == "ctrl-c":
        assert kinds(project) == [], output

    # The lock left by a dead builder is taken over at once, not after a timeout.
    marker.unlink()
    project.ini(seed="db/schema.sql", seed_command=project.counting_command(), lock_timeout="30")
    started = time.monotonic()
    result = project.run("-n", "2")
    result.assert_outcomes(passed=1)
    assert time.monotonic() - started < 30
    assert project.seed_runs() == 1
    assert len(project.images()) == 1
    assert kinds(project) == []


def test_a_live_session_is_never_reaped(project: Project) -> None:
    project.share("test_crashes")
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    project.write("test_other.py", "def test_other(dbsnap_db):\n    pass\n")
    project.run("test_other.py").assert_outcomes(passed=1)  # built: the next one is warm
    project.write("test_wait.py", WAITING_TESTS)
    first = start(project, "-n", "2", "test_wait.py")
    try:
        wait_for(lambda: ready_files(project.path) == 2, "the first session's tests")
        before = kinds(project)
        # A warm session has no sentinel: its database containers prove it alive.
        assert before == ["worker", "worker"]
        project.run("test_other.py").assert_outcomes(passed=1)
        assert kinds(project) == before, "the live session lost containers"
        assert first.poll() is None
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)
    wait_for(lambda: kinds(project) == [], "the interrupted session to clean up", 30)


def test_a_worker_container_that_dies_fails_that_workers_tests_clearly(project: Project) -> None:
    project.share("test_crashes")
    project.write("db/schema.sql", SCHEMA)
    project.ini(seed="db/schema.sql")
    project.write(
        "test_victim.py",
        """
        import docker, pytest

        def kill_my_container(worker_id):
            for container in docker.from_env().containers.list(
                filters={"label": ["dbsnap.kind=worker", f"dbsnap.worker={worker_id}"]}
            ):
                container.kill()

        @pytest.mark.parametrize("n", range(3))
        def test_gw0_loses_its_container(dbsnap_conn, worker_id, n):
            if worker_id == "gw0" and n == 0:
                kill_my_container(worker_id)
        """,
    )
    result = project.run("-n", "2", "--dist", "each", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 4  # gw1's three tests and gw0's first
    assert outcomes.get("errors") == 2  # gw0's two later tests
    result.stdout.fnmatch_lines(
        [
            "*dbsnap: the container dbsnap-*-gw0-* of gw0 is exited (killed, out of memory, "
            "or the Docker daemon restarted?); this worker's tests cannot get a database*"
        ]
    )
    assert kinds(project) == []


def test_a_bound_container_ends_with_its_server_or_with_its_lifeline(
    project: Project, base_image: str
) -> None:
    """The two ways a database container ends by itself: its server exits (even after
    writing more output than a socket holds: Podman sends it to the attachment unless
    told not to, and unread it stalls the exit), or its process lets go."""
    ours = Docker.connect(locate(os.environ))
    labels = {"dbsnap.project": project.name, "dbsnap.session": "bound", "dbsnap.bound": "stdin"}

    def started(name: str, script: str) -> tuple[ContainerInfo, Lifeline]:
        container = ours.create(
            name=f"dbsnap-{project.name}-{name}",
            image=base_image,
            labels={**labels, "dbsnap.kind": name},
            entrypoint=bound(["sh", "-c", script]),
            command=[],
            bound=True,
        )
        lifeline = ours.attach_lifeline(container)
        ours.start(container)
        return container, lifeline

    noisy, held = started("noisy", "head -c 4000000 /dev/zero | tr '\\0' x >&2; exit 3")
    idle, released = started("idle", "sleep 600")
    try:
        wait_for(lambda: ours.status(noisy) == "exited", "the noisy server's container to end", 30)
        assert ours.status(idle) == "running"
        released.release()
        wait_for(lambda: ours.status(idle) == "exited", "the released container to end", 30)
    finally:
        for thing in (held, released):
            thing.release()
        for container in (noisy, idle):
            ours.remove(container)
