"""Who is alive, and removing what dead sessions left behind. Knows no pytest.

A session proves it is alive with a *sentinel*: a container whose only process
reads its standard input, attached by the session's process over the Docker
API. When that process dies, however it dies (SIGKILL, OOM, a cancelled CI
job), the daemon closes the attachment, the sentinel's process ends and the
daemon removes it. This works the same for a remote daemon (``DOCKER_HOST``),
where process IDs mean nothing.

A session whose sentinel is gone is dead: the next session of the same project
removes its containers. Nothing else is touched:
only containers labelled with this project and a session, never a live
session's, never another project's or another tool's.
"""

from __future__ import annotations

import contextlib
import socket
import time
from typing import TYPE_CHECKING, Any

from .docker import LABEL_PREFIX

if TYPE_CHECKING:
    from .docker import ContainerInfo, Docker

SESSION = f"{LABEL_PREFIX}session"
KIND = f"{LABEL_PREFIX}kind"
PROJECT = f"{LABEL_PREFIX}project"


class Sentinel:
    """Keeps a session alive in the daemon's eyes for as long as this process lives."""

    def __init__(self, docker: Docker, image: str, labels: dict[str, str]) -> None:
        self.docker = docker
        self.container_id, self._socket = docker.start_sentinel(image, {**labels, KIND: "sentinel"})

    def stop(self) -> None:
        """Let go of the sentinel: its input ends, and the daemon stops and removes it.

        Nothing waits for that: the session is over, and a session that looks
        meanwhile finds it alive a moment longer, which spares nothing of ours.
        docker-py hands the socket in a wrapper whose ``close`` leaves the
        connection open while other references live: shut the socket itself.
        """
        raw = getattr(self._socket, "_sock", self._socket)
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        raw.close()


# A sentinel is created, then started: one caught in between still counts as
# alive, unless it has been waiting for longer than any start takes.
STARTING_GRACE = 60.0


def _sentinel_alive(container: ContainerInfo) -> bool:
    if container.status == "running":
        return True
    return container.status == "created" and time.time() - container.created < STARTING_GRACE


def live_sessions(docker: Docker) -> set[str]:
    """Sessions with a live sentinel, or kept on purpose (``keep``)."""
    alive = set()
    for container in docker.containers({KIND: None, SESSION: None}):
        kind = container.labels.get(KIND)
        if (kind == "sentinel" and _sentinel_alive(container)) or kind == "kept":
            alive.add(container.labels[SESSION])
    return alive


def is_alive(docker: Docker, session: str) -> bool:
    return session in live_sessions(docker)


def reap(docker: Docker, project: str, *, dry_run: bool = False) -> list[str]:
    """Remove the containers of this project's dead sessions; their names.

    Containers are listed before sentinels: a session starts its sentinel
    before any other container, so every container in the first list has its
    sentinel in the second, however the two calls interleave with its start.
    """
    containers = docker.containers({PROJECT: project, SESSION: None})
    alive = live_sessions(docker)
    removed = []
    for container in containers:
        session = container.labels.get(SESSION, "")
        kind = container.labels.get(KIND)
        if kind == "kept" or (kind == "sentinel" and _sentinel_alive(container)):
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
