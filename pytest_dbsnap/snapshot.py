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
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .docker import LABEL_PREFIX, NameTaken
from .engines.postgres import Database, PostgresEngine, labels_of
from .errors import LockTimeoutError, SeedError
from .reaper import SESSION, is_alive
from .seed import SNAPSHOT_FORMAT, PythonSeed, SeedPlan, ShellCommand, SqlFile, cache_key

if TYPE_CHECKING:
    from docker.models.containers import Container
    from docker.models.images import Image

    from .config import Settings
    from .docker import Docker

Log = Callable[[str], None]


@dataclass(frozen=True)
class Snapshot:
    """A snapshot image ready to start databases from."""

    tag: str
    key: str
    image_id: str
    user: str
    dbname: str
    password: str
    built: bool
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, object]:
        """Plain data, for handing to xdist workers."""
        return {
            "tag": self.tag,
            "key": self.key,
            "image_id": self.image_id,
            "user": self.user,
            "dbname": self.dbname,
            "password": self.password,
            "built": self.built,
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
            password=str(data["password"]),
            built=bool(data["built"]),
            timings={str(k): float(v) for k, v in timings.items()},
        )


def owner_labels(session: str) -> dict[str, str]:
    """Labels that tie a container to the process and session that made it."""
    return {
        f"{LABEL_PREFIX}session": session,
        f"{LABEL_PREFIX}host": socket.gethostname(),
        f"{LABEL_PREFIX}pid": str(os.getpid()),
    }


def ensure_snapshot(
    docker: Docker,
    engine: PostgresEngine,
    settings: Settings,
    plan: SeedPlan,
    *,
    session: str,
    log: Log = lambda _: None,
) -> Snapshot:
    """Return the snapshot for ``plan``, building it when no image has its key."""
    base = docker.get_or_pull_image(settings.image)
    engine.check_image(base, settings.image)
    key = cache_key(
        plan,
        engine=engine.name,
        base_image_id=str(base.id),
        dbname=settings.dbname,
        user=settings.user,
    )
    tag = f"dbsnap/{settings.project}:{key[:12]}"
    if not settings.rebuild:
        found = _matching(docker, tag, key)
        if found is not None:
            return _existing(found, tag, key, settings)
    lock_name = f"dbsnap-seed-{settings.project}-{key[:12]}"
    deadline = time.monotonic() + settings.lock_timeout
    waited = False
    while True:
        try:
            return _build(docker, engine, settings, plan, base, tag, key, lock_name, session, log)
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
            return _existing(found, tag, key, settings)
        if time.monotonic() > deadline:
            raise LockTimeoutError(
                f"container {lock_name} has been building {tag} for longer than "
                f"{settings.lock_timeout:g}s; if its owner is gone, `docker rm -fv {lock_name}`, "
                "or raise dbsnap_lock_timeout"
            )
        time.sleep(0.25)


def _matching(docker: Docker, tag: str, key: str) -> Image | None:
    image = docker.find_image(tag)
    if image is not None and labels_of(image).get(f"{LABEL_PREFIX}key") == key:
        return image
    return None


def _existing(image: Image, tag: str, key: str, settings: Settings) -> Snapshot:
    labels = labels_of(image)
    return Snapshot(
        tag=tag,
        key=key,
        image_id=str(image.id),
        user=labels.get(f"{LABEL_PREFIX}user", settings.user),
        dbname=labels.get(f"{LABEL_PREFIX}dbname", settings.dbname),
        password=labels.get(f"{LABEL_PREFIX}password", ""),
        built=False,
    )


def _build(
    docker: Docker,
    engine: PostgresEngine,
    settings: Settings,
    plan: SeedPlan,
    base: Image,
    tag: str,
    key: str,
    lock_name: str,
    session: str,
    log: Log,
) -> Snapshot:
    password = secrets.token_urlsafe(18)
    environment, entrypoint, command = engine.seeding_container(
        base, user=settings.user, dbname=settings.dbname, password=password
    )
    labels = {
        f"{LABEL_PREFIX}kind": "seed",
        f"{LABEL_PREFIX}project": settings.project,
        f"{LABEL_PREFIX}key": key,
        **owner_labels(session),
    }
    container = docker.create(
        name=lock_name,
        image=str(base.id),
        labels=labels,
        environment=environment,
        entrypoint=entrypoint,
        command=command,
        publish={engine.port: settings.host},
    )
    timings: dict[str, float] = {}
    try:
        log(f"seeding {tag} ({plan.summary()})")
        with timed(timings, "start"):
            docker.start(container)
            database = Database(
                host=settings.host,
                port=docker.published_port(container, engine.port),
                user=settings.user,
                password=password,
                dbname=settings.dbname,
            )
            engine.wait_ready(docker, container, database, settings.startup_timeout)
        with timed(timings, "seed"):
            _seed(docker, engine, container, database, plan, settings)
        with timed(timings, "commit"):
            engine.stop_cleanly(docker, container)
            config = engine.snapshot_config(base)
            config["Labels"] = _snapshot_labels(settings, plan, key, password, base)
            repository, _, version = tag.partition(":")
            previous = docker.find_image(tag)
            image = docker.commit(container, repository=repository, tag=version, conf=config)
        if previous is not None and previous.id != image.id:
            # The tag moved (a forced rebuild); the old image is garbage now.
            with contextlib.suppress(Exception):
                docker.remove_image(str(previous.id))
    finally:
        docker.remove(container)
    return Snapshot(
        tag=tag,
        key=key,
        image_id=str(image.id),
        user=settings.user,
        dbname=settings.dbname,
        password=password,
        built=True,
        timings=timings,
    )


def _seed(
    docker: Docker,
    engine: PostgresEngine,
    container: Container,
    database: Database,
    plan: SeedPlan,
    settings: Settings,
) -> None:
    for index, step in enumerate(plan.steps):
        if isinstance(step, SqlFile):
            engine.apply_sql(
                docker, container, step, index, user=settings.user, dbname=settings.dbname
            )
        elif isinstance(step, ShellCommand):
            _run_command(step, database)
        else:
            _run_hook(step, database)


def _run_command(step: ShellCommand, database: Database) -> None:
    env = {**os.environ, **database.environment()}
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
    except Exception as exc:
        message = _redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "", database)
        raise SeedError(
            f"seed hook {step.name} raised {type(exc).__name__}: {message}; "
            "fix the hook and run again"
        ) from exc


def _redact(text: str, database: Database) -> str:
    return text.replace(database.password, "***") if database.password else text


def _snapshot_labels(
    settings: Settings, plan: SeedPlan, key: str, password: str, base: Image
) -> dict[str, str]:
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
        f"{LABEL_PREFIX}key": key,
        f"{LABEL_PREFIX}inputs": plan.summary(),
        f"{LABEL_PREFIX}base": f"{settings.image}@{base.id}",
        f"{LABEL_PREFIX}user": settings.user,
        f"{LABEL_PREFIX}dbname": settings.dbname,
        f"{LABEL_PREFIX}password": password,
        f"{LABEL_PREFIX}created": now,
    }


@contextlib.contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.monotonic()
    try:
        yield
    finally:
        timings[name] = time.monotonic() - start
