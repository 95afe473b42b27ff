"""Build or reuse the snapshot image of a seeded database. Knows no pytest.

One build per cache key on a Docker host: the seeding container's name is the
lock, because the daemon refuses a second container of the same name however
many processes, checkouts or machines ask at once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from . import app_env
from .database import Database
from .docker import LABEL_PREFIX, NameTaken, Progress
from .engines import choose, client, named
from .errors import (
    DbsnapError,
    ImageError,
    LockTimeoutError,
    RegistryError,
    SeedError,
    SnapshotNotFound,
)
from .reaper import SESSION, is_alive
from .seed import SNAPSHOT_FORMAT, PythonSeed, SeedPlan, ShellCommand, SqlFile, cache_key
from .transfer import pull_snapshot, push_snapshot, remote_ref, snapshots_of

if TYPE_CHECKING:
    from .config import Settings
    from .docker import ContainerInfo, Docker, ImageInfo
    from .engines import Engine

Log = Callable[[str], None]


@dataclass(frozen=True)
class Snapshot:
    """A snapshot image ready to start databases from."""

    tag: str
    key: str
    image_id: str
    user: str
    dbname: str
    engine: str
    built: bool
    cluster_bytes: int = 0
    database_bytes: int = 0
    pulled_from: str = ""
    pushed_to: str = ""
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, object]:
        """Plain data, for handing to xdist workers."""
        return {
            "tag": self.tag,
            "key": self.key,
            "image_id": self.image_id,
            "user": self.user,
            "dbname": self.dbname,
            "engine": self.engine,
            "built": self.built,
            "cluster_bytes": self.cluster_bytes,
            "database_bytes": self.database_bytes,
            "pulled_from": self.pulled_from,
            "pushed_to": self.pushed_to,
            "timings": dict(self.timings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Snapshot:
        timings = data.get("timings") or {}
        assert isinstance(timings, dict)
        return cls(
            tag=str(data["tag"]),
            key=str(data["key"]),
            image_id=str(data["image_id"]),
            user=str(data["user"]),
            dbname=str(data["dbname"]),
            engine=str(data["engine"]),
            built=bool(data["built"]),
            cluster_bytes=int(str(data.get("cluster_bytes", 0))),
            database_bytes=int(str(data.get("database_bytes", 0))),
            pulled_from=str(data.get("pulled_from", "")),
            pushed_to=str(data.get("pushed_to", "")),
            timings={str(k): float(v) for k, v in timings.items()},
        )


def owner_labels(session: str) -> dict[str, str]:
    """Labels that tie a container to the process and session that made it."""
    return {
        f"{LABEL_PREFIX}session": session,
        f"{LABEL_PREFIX}host": socket.gethostname(),
        f"{LABEL_PREFIX}pid": str(os.getpid()),
    }


@dataclass(frozen=True)
class Target:
    """The snapshot a configuration asks for: its key and local tag, over ``base``,
    seeded by ``engine`` for ``user``."""

    key: str
    tag: str
    base: ImageInfo
    engine: Engine
    user: str


def local_tag(project: str, key: str) -> str:
    """How the snapshot of ``key`` is tagged on a Docker host for ``project``."""
    return f"dbsnap/{project}:{key[:12]}"


def base_image(docker: Docker, settings: Settings, *, pull: bool = True) -> ImageInfo:
    """The base image, pulled when missing (:class:`ImageError` instead, unless ``pull``).

    A base pinned by digest (``postgres:17@sha256:...``) that ``docker load``
    brought here has no reference left, only its ID: a local snapshot built on
    that digest names the ID, and a digest names exactly one image.
    """
    image = docker.find_image(settings.image)
    if image is None and "@" in settings.image:
        for snapshot in docker.images({f"{LABEL_PREFIX}kind": "snapshot"}):
            ref, _, image_id = snapshot.labels.get(f"{LABEL_PREFIX}base", "").rpartition("@")
            if ref == settings.image and (image := docker.find_image(image_id)) is not None:
                break
    if image is None and not pull:
        raise ImageError(
            f"base image {settings.image} is not on this Docker host, so the current snapshot "
            f"is unknown; pull it first (`docker pull {settings.image}`)"
        )
    return image or docker.get_or_pull_image(settings.image)


def identify(docker: Docker, settings: Settings, plan: SeedPlan, *, pull: bool = True) -> Target:
    """Compute the cache key of ``plan`` over the base image (see :func:`base_image`),
    whose engine is chosen from the image (see :func:`~pytest_dbsnap.engines.choose`)."""
    base = base_image(docker, settings, pull=pull)
    engine = choose(base, settings.image, settings.engine)
    user = settings.user or engine.default_user
    key = cache_key(
        plan, engine=engine.name, base_image_id=base.id, dbname=settings.dbname, user=user
    )
    return Target(
        key=key, tag=local_tag(settings.project, key), base=base, engine=engine, user=user
    )


def ensure_snapshot(
    docker: Docker,
    settings: Settings,
    plan: SeedPlan,
    *,
    session: str,
    log: Log = lambda _: None,
    warn: Log | None = None,
    progress: Progress = lambda _done, _total: None,
    before_build: Callable[[], None] = lambda: None,
) -> Snapshot:
    """Return the snapshot for ``plan``: found here, pulled from the registry, or built.

    ``warn`` gets what the user should read again at the end (a registry that
    failed us). ``before_build`` runs before the seeding container is made
    (the session's sentinel must be alive by then). Pushing is
    :func:`share_snapshot`'s job.
    """
    target = identify(docker, settings, plan)
    if not settings.rebuild:
        found = _matching(docker, target.tag, target.key)
        if found is not None:
            return _existing(found, target, settings)
        if settings.registry:
            pulled = _pull(docker, settings, target, log, warn or log, progress)
            if pulled is not None:
                return pulled
    before_build()
    return _build_once(docker, settings, plan, target, session, log)


def share_snapshot(
    docker: Docker,
    snapshot: Snapshot,
    registry: str,
    *,
    log: Log = lambda _: None,
    progress: Progress = lambda _done, _total: None,
) -> str:
    """Push ``snapshot`` to ``registry`` unless it is there; the reference pushed, or ``""``."""
    ref = remote_ref(registry, snapshot.key)
    if snapshot.pulled_from == ref or docker.in_registry(ref):
        return ""
    image = docker.find_image(snapshot.image_id)
    if image is None:
        raise SnapshotNotFound(f"snapshot {snapshot.tag} is gone from this Docker host")
    log(f"pushing {snapshot.tag} to {ref}")
    with timed(snapshot.timings, "push"):
        push_snapshot(docker, image, registry, snapshot.key, progress)
    return ref


def _pull(
    docker: Docker, settings: Settings, target: Target, log: Log, warn: Log, progress: Progress
) -> Snapshot | None:
    """The snapshot from the registry, or ``None`` to build it (as configured)."""
    ref = remote_ref(settings.registry, target.key)
    log(f"pulling {ref}")
    started = time.monotonic()
    try:
        image = pull_snapshot(docker, settings.registry, target.key, target.tag, progress)
    except (SnapshotNotFound, RegistryError) as exc:
        if settings.on_pull_failure == "fail":
            raise type(exc)(f"{exc} (dbsnap_on_pull_failure=fail)") from None
        warn(f"{exc}; building it here instead (dbsnap_on_pull_failure=fail stops instead)")
        return None
    snapshot = _existing(image, target, settings, pulled_from=ref)
    snapshot.timings["pull"] = time.monotonic() - started
    return snapshot


def _build_once(
    docker: Docker,
    settings: Settings,
    plan: SeedPlan,
    target: Target,
    session: str,
    log: Log,
) -> Snapshot:
    """Build the snapshot unless another process is building it; then wait for theirs."""
    tag, key = target.tag, target.key
    # By key only: checkouts of one repository (each its own project) share it.
    lock_name = f"dbsnap-seed-{key[:12]}"
    deadline = time.monotonic() + settings.lock_timeout
    waited = False
    while True:
        try:
            return _build(docker, settings, plan, target, lock_name, session, log)
        except NameTaken:
            pass
        if not waited:
            log(f"another process is building {tag}; waiting for it")
            waited = True
        holder = docker.get_container(lock_name)
        if holder is not None and not is_alive(docker, holder.labels.get(SESSION, "")):
            log(f"the process building {tag} is gone; building it here")
            docker.remove(holder)
            continue
        found = _matching(docker, tag, key)
        if found is not None:
            return _existing(found, target, settings)
        if time.monotonic() > deadline:
            raise LockTimeoutError(
                f"container {lock_name} has been building {tag} for longer than "
                f"{settings.lock_timeout:g}s; if its owner is gone, `docker rm -fv {lock_name}`, "
                "or raise dbsnap_lock_timeout"
            )
        time.sleep(0.25)


def _matching(docker: Docker, tag: str, key: str) -> ImageInfo | None:
    """The snapshot of ``key``, tagged ``tag``.

    One loaded or pulled under another project's name is found by its key label
    and tagged ``tag`` too.
    """
    image = docker.find_image(tag)
    if image is not None and image.labels.get(f"{LABEL_PREFIX}key") == key:
        return image
    for other in snapshots_of(docker, key):
        docker.tag(other, tag)
        return other
    return None


def _existing(
    image: ImageInfo, target: Target, settings: Settings, pulled_from: str = ""
) -> Snapshot:
    labels = image.labels
    return Snapshot(
        tag=target.tag,
        key=target.key,
        image_id=image.id,
        user=labels.get(f"{LABEL_PREFIX}user", target.user),
        dbname=labels.get(f"{LABEL_PREFIX}dbname", settings.dbname),
        engine=named(labels.get(f"{LABEL_PREFIX}engine", target.engine.name)).name,
        built=False,
        cluster_bytes=_int(labels.get(f"{LABEL_PREFIX}cluster_bytes")),
        database_bytes=_int(labels.get(f"{LABEL_PREFIX}database_bytes")),
        pulled_from=pulled_from,
    )


def _build(
    docker: Docker,
    settings: Settings,
    plan: SeedPlan,
    target: Target,
    lock_name: str,
    session: str,
    log: Log,
) -> Snapshot:
    tag, key, base, engine = target.tag, target.key, target.base, target.engine
    password = secrets.token_urlsafe(18)
    launch = engine.seeding(base, user=target.user, dbname=settings.dbname)
    labels = {
        f"{LABEL_PREFIX}kind": "seed",
        f"{LABEL_PREFIX}project": settings.project,
        f"{LABEL_PREFIX}key": key,
        **owner_labels(session),
    }
    container = docker.create(
        name=lock_name,
        image=base.id,
        labels=labels,
        environment=launch.environment,
        entrypoint=launch.entrypoint,
        command=launch.command,
        tmpfs=launch.tmpfs,
        publish={engine.port: settings.publish_address()},
    )
    timings: dict[str, float] = {}
    try:
        # The lock is ours; its last holder may have tagged the snapshot just
        # before removing its container.
        found = None if settings.rebuild else _matching(docker, tag, key)
        if found is not None:
            return _existing(found, target, settings)
        log(f"seeding {tag} ({plan.summary()})")
        with timed(timings, "start"):
            engine.give_seed_password(docker, container, password)
            docker.start(container)
            database = Database(
                host=settings.host,
                port=docker.published_port(container, engine.port),
                user=target.user,
                password=password,
                dbname=settings.dbname,
                engine=engine.name,
            )
            engine.wait_ready(docker, container, database, settings.startup_timeout)
        with timed(timings, "seed"):
            _seed(docker, engine, container, database, plan, settings)
        with timed(timings, "commit"):
            # Nobody gets in with the seeding password: each container from the
            # snapshot is given its own at start.
            sealed = engine.seal(docker, container, database)
            config = engine.snapshot_config(base)
            config["Labels"] = {
                **_snapshot_labels(settings, plan, target),
                f"{LABEL_PREFIX}cluster_bytes": str(sealed.cluster_bytes),
                f"{LABEL_PREFIX}database_bytes": str(sealed.database_bytes),
            }
            repository, _, version = tag.partition(":")
            previous = docker.find_image(tag)
            image = docker.commit(container, repository=repository, tag=version, conf=config)
        if settings.rebuild and previous is not None and previous.id != image.id:
            # The tag moved (a forced rebuild); the old image is garbage now.
            with contextlib.suppress(Exception):
                docker.remove_image(previous.id)
    finally:
        docker.remove_quietly(container)  # never over the error that got us here
    return Snapshot(
        tag=tag,
        key=key,
        image_id=image.id,
        user=target.user,
        dbname=settings.dbname,
        engine=engine.name,
        built=True,
        cluster_bytes=sealed.cluster_bytes,
        database_bytes=sealed.database_bytes,
        timings=timings,
    )


def _seed(
    docker: Docker,
    engine: Engine,
    container: ContainerInfo,
    database: Database,
    plan: SeedPlan,
    settings: Settings,
) -> None:
    for index, step in enumerate(plan.steps):
        if isinstance(step, SqlFile):
            engine.apply_sql(docker, container, step, index, database)
        elif isinstance(step, ShellCommand):
            _run_command(step, database, app_env.render(settings.env, database))
        else:
            _run_hook(step, database)


def command_environment(database: Database) -> dict[str, str]:
    """The environment of the seed command: ours, pointing at ``database``.

    This interpreter's ``bin`` comes first on ``PATH``, so ``python`` and
    ``alembic`` are the virtualenv's even when pytest was started as
    ``venv/bin/pytest`` without activating it; the host's own variables of the
    engine's tools (``PGSSLMODE``, ``MYSQL_HOST``...) would redirect it, so they go.
    """
    stray = client(database.engine).stray_variables
    env = {k: v for k, v in os.environ.items() if not k.startswith(stray)}
    # Not resolved: a virtualenv's python is a link to the base interpreter.
    bindir = os.path.dirname(sys.executable)
    rest = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p and p != bindir]
    env["PATH"] = os.pathsep.join([bindir, *rest])
    env.update(database.environment())
    return env


def _run_command(step: ShellCommand, database: Database, app: dict[str, str]) -> None:
    """Run the seed command; ``app`` are the ``dbsnap_env`` variables, for the seeding database."""
    env = {**command_environment(database), **app}
    result = subprocess.run(
        step.command,
        shell=True,
        cwd=step.cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        output = result.stdout.decode(errors="replace").rstrip().splitlines()
        tail = "\n".join(_redact(line, database) for line in output[-15:]) or "(no output)"
        raise SeedError(
            f"seed command {step.command!r} exited with status {result.returncode} "
            f"(run in {step.cwd}); fix it and run again. Last output lines:\n{tail}"
        )


def _run_hook(step: PythonSeed, database: Database) -> None:
    try:
        step.run(database)
    except DbsnapError:
        raise  # it says what went wrong already
    except Exception as exc:
        message = _redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "", database)
        raise SeedError(
            f"seed hook {step.name} raised {type(exc).__name__}: {message}; "
            "fix the hook and run again"
        ) from exc


def _redact(text: str, database: Database) -> str:
    return text.replace(database.password, "***") if database.password else text


def _snapshot_labels(settings: Settings, plan: SeedPlan, target: Target) -> dict[str, str]:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        # Blank what the seeding container's labels would otherwise leave on the
        # image: a container started from it belongs to no session of ours.
        f"{LABEL_PREFIX}session": "",
        f"{LABEL_PREFIX}host": "",
        f"{LABEL_PREFIX}pid": "",
        f"{LABEL_PREFIX}kind": "snapshot",
        f"{LABEL_PREFIX}format": SNAPSHOT_FORMAT,
        f"{LABEL_PREFIX}project": settings.project,
        f"{LABEL_PREFIX}key": target.key,
        f"{LABEL_PREFIX}engine": target.engine.name,
        f"{LABEL_PREFIX}inputs": plan.summary(),
        f"{LABEL_PREFIX}base": f"{settings.image}@{target.base.id}",
        f"{LABEL_PREFIX}user": target.user,
        f"{LABEL_PREFIX}dbname": settings.dbname,
        f"{LABEL_PREFIX}created": now,
    }


def _int(text: str | None) -> int:
    return int(text) if text and text.isdigit() else 0


@contextlib.contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        timings[name] = time.monotonic() - start
