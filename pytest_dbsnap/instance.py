"""Database containers started from a snapshot. Knows no pytest."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import secrets
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .database import Database
from .docker import LABEL_PREFIX
from .engines.lifecycle import bound
from .reaper import BOUND
from .snapshot import owner_labels

if TYPE_CHECKING:
    from .docker import ContainerInfo, Docker, Lifeline
    from .engines import Engine, Launch
    from .snapshot import Snapshot


@dataclass(frozen=True)
class Instance:
    """A running container of the snapshot and the database inside it."""

    container: ContainerInfo
    database: Database
    start_seconds: float
    ram_bytes: int = 0
    """The size bound of its data folder in RAM (0: on disk)."""
    lifeline: Lifeline | None = dataclasses.field(default=None, compare=False, repr=False)
    """What ends the container when this process ends (none: it outlives it)."""

    def release(self) -> None:
        """Let the container end (it is killed at once); nothing waits for it."""
        if self.lifeline is not None:
            self.lifeline.release()

    @property
    def name(self) -> str:
        return self.container.name


def start_instance(
    docker: Docker,
    engine: Engine,
    snapshot: Snapshot,
    launch: Launch,
    *,
    session: str,
    role: str,
    host: str,
    publish: str,
    startup_timeout: float,
    project: str,
    outlive: bool = False,
) -> Instance:
    """Start one container from ``snapshot`` as ``launch`` says (see :func:`launch_of`)
    and wait until it answers queries.

    The daemon publishes its port on ``publish``; we connect to it at ``host``.
    The container ends with this process (see :mod:`.reaper`), unless it is
    to ``outlive`` it (``keep``).
    """
    started = time.monotonic()
    _import_in_background(engine.client.sync_driver)  # the waits below need it
    entrypoint = launch.entrypoint
    if not outlive:
        entrypoint = bound(launch.image_entrypoint if entrypoint is None else entrypoint)
    name = f"dbsnap-{project}-{session[:8]}-{role}-{secrets.token_hex(3)}"
    container = docker.create(
        name=name,
        image=snapshot.image_id,
        labels={
            f"{LABEL_PREFIX}kind": "worker",
            f"{LABEL_PREFIX}worker": role,
            f"{LABEL_PREFIX}project": project,
            **owner_labels(session),
            **({} if outlive else {BOUND: "stdin"}),
        },
        entrypoint=entrypoint,
        command=launch.command,
        environment=launch.environment,
        tmpfs=launch.tmpfs,
        publish={engine.port: publish},
        bound=not outlive,
    )
    lifeline = None
    try:
        if not outlive:
            lifeline = docker.attach_lifeline(container)
        docker.start(container)
        database = Database(
            host=host,
            port=docker.published_port(container, engine.port),
            user=snapshot.user,
            # The snapshot lets nobody in: this container's own password, set
            # through the server's socket before anyone can use the port.
            password=secrets.token_urlsafe(18),
            dbname=snapshot.dbname,
            engine=engine.name,
        )
        engine.set_password(docker, container, database, startup_timeout)
        engine.wait_ready(docker, container, database, startup_timeout)
    except BaseException:
        docker.remove_quietly(container)
        if lifeline is not None:
            lifeline.release()
        raise
    return Instance(container, database, time.monotonic() - started, launch.ram_bytes, lifeline)


def _import_in_background(module: str) -> None:
    """Import ``module`` in a thread while this one waits for the daemon (a driver
    takes a tenth of a second to import); whoever imports it meanwhile waits."""
    if module in sys.modules:
        return

    def load() -> None:
        with contextlib.suppress(ImportError):  # whoever needs it says so
            importlib.import_module(module)

    threading.Thread(target=load, name="dbsnap-import", daemon=True).start()


def launch_of(
    docker: Docker, engine: Engine, snapshot: Snapshot, *, durable: bool, ram_bytes: int
) -> Launch:
    """How containers of ``snapshot`` start: its own command, durability off unless
    ``durable``, the data folder in a tmpfs of ``ram_bytes`` (0: on disk)."""
    image = docker.get_or_pull_image(snapshot.image_id)
    launch = engine.launch(image, durable=durable, ram_bytes=ram_bytes)
    return dataclasses.replace(launch, image_entrypoint=list(image.entrypoint))


def stop_instance(docker: Docker, instance: Instance) -> None:
    """Remove the container."""
    try:
        docker.remove(instance.container)
    finally:
        instance.release()
