"""Who is alive, and removing what dead sessions left behind. Knows no pytest.

A session proves it is alive with containers bound to its processes: each
reads its standard input, attached by the process that made it over the
Docker API (a :class:`~pytest_dbsnap.docker.Lifeline`). When that process
dies, however it dies (SIGKILL, OOM, a cancelled CI job), the daemon closes
the attachment and the container ends. This works the same for a remote
daemon (``DOCKER_HOST``), where process IDs mean nothing.

Every database container a session uses is bound so (``BOUND``): it is its
own proof, and it stops the moment its process dies. A session that makes
containers meant to outlive a process (a seeding container, what ``keep``
keeps) first starts a *sentinel*, a bound container that does nothing else,
removed by the daemon as it ends.

A session with no running bound container is dead: the next session of the
same project removes its containers. Nothing else is touched: only containers
labelled with this project and a session, never a live session's, never
another project's or another tool's.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .docker import LABEL_PREFIX

if TYPE_CHECKING:
    from .docker import ContainerInfo, Docker

SESSION = f"{LABEL_PREFIX}session"
KIND = f"{LABEL_PREFIX}kind"
PROJECT = f"{LABEL_PREFIX}project"
BOUND = f"{LABEL_PREFIX}bound"
"""On a container bound to its process's lifeline, which proves its session alive."""


class Sentinel:
    """Keeps a session alive in the daemon's eyes for as long as this process lives."""

    def __init__(self, docker: Docker, image: str, labels: dict[str, str]) -> None:
        self.docker = docker
        self.container_id, self._lifeline = docker.start_sentinel(
            image, {**labels, KIND: "sentinel"}
        )

    def stop(self) -> None:
        """Let go of the sentinel: its input ends, and the daemon stops and removes it.

        Nothing waits for that: the session is over, and a session that looks
        meanwhile finds it alive a moment longer, which spares nothing of ours.
        """
        self._lifeline.release()


# A bound container is created, then attached and started: one caught in between
# still counts as alive, unless it has been waiting for longer than any start takes.
STARTING_GRACE = 60.0


def _proves_alive(container: ContainerInfo) -> bool:
    """Whether ``container`` is a sentinel or a bound container whose process lives."""
    if container.labels.get(KIND) != "sentinel" and not container.labels.get(BOUND):
        return False
    if container.status == "running":
        return True
    return container.status == "created" and time.time() - container.created < STARTING_GRACE


def live_sessions(docker: Docker) -> set[str]:
    """Sessions with a live bound container, or kept on purpose (``keep``)."""
    alive = set()
    for container in docker.containers({KIND: None, SESSION: None}):
        if _proves_alive(container) or container.labels.get(KIND) == "kept":
            alive.add(container.labels[SESSION])
    return alive


def is_alive(docker: Docker, session: str) -> bool:
    return session in live_sessions(docker)


def reap(docker: Docker, project: str, *, dry_run: bool = False) -> list[str]:
    """Remove the containers of this project's dead sessions; their names.

    Containers are listed before the proofs of life: a session makes a bound
    container (or its sentinel) before any other, so every container in the
    first list has its proof in the second, however the two calls interleave
    with its start.
    """
    containers = docker.containers({PROJECT: project, SESSION: None})
    alive = live_sessions(docker)
    removed = []
    for container in containers:
        session = container.labels.get(SESSION, "")
        if container.labels.get(KIND) == "kept" or _proves_alive(container):
            continue
        if session and session not in alive:
            if not dry_run:
                docker.remove_by_id(container.id)
            removed.append(container.name)
    return removed


def release_kept(docker: Docker, project: str, *, dry_run: bool = False) -> list[str]:
    """Remove the containers ``keep`` left of this project, and its marks; their names."""
    kept = {c.labels.get(SESSION, "") for c in docker.containers({PROJECT: project, KIND: "kept"})}
    removed = []
    for container in docker.containers({PROJECT: project, SESSION: None}):
        session = container.labels.get(SESSION, "")
        if session in kept and container.labels.get(KIND) != "sentinel":
            if not dry_run:
                docker.remove_by_id(container.id)
            removed.append(container.name)
    return removed


def session_containers(docker: Docker, session: str) -> list[ContainerInfo]:
    """Every container of ``session`` but its sentinels and ``keep`` marks."""
    return [
        c
        for c in docker.containers({SESSION: session})
        if c.labels.get(KIND) not in ("sentinel", "kept")
    ]


def sweep(docker: Docker, session: str, *, spare: set[str] | None = None) -> list[str]:
    """Remove every container of ``session`` (a worker killed mid-run leaves some)."""
    removed = []
    for container in session_containers(docker, session):
        if spare and container.id in spare:
            continue
        docker.remove_by_id(container.id)
        removed.append(container.name)
    return removed


def mark_kept(docker: Docker, image: str, labels: dict[str, Any], role: str) -> ContainerInfo:
    """Record that ``keep`` wants this session's containers left alone."""
    return docker.create(
        name=f"dbsnap-kept-{labels[SESSION]}-{role}",
        image=image,
        labels={**labels, KIND: "kept"},
        entrypoint=["true"],
        command=[],
    )
