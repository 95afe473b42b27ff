"""What one process holds during a session: settings, Docker, snapshot, containers.

The pytest face keeps one :class:`Runtime` in ``config.stash``; this module
knows no pytest. Everything is made on first use and remembered, failures too,
so a broken setup fails fast instead of once per test.

Inside the worker's container the seeded database is renamed to a template
closed to connections; the worker-scoped database and every per-test copy are
clones of it, so a connection left open never blocks the next copy.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import itertools
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .config import Settings
from .database import Database
from .docker import ContainerInfo, Docker, Progress
from .engines.postgres import Launch, PostgresEngine
from .engines.postgres_admin import Admin, Strategy, WriteMarks
from .errors import ContainerError, DbsnapError
from .instance import Instance, launch_of, start_instance, stop_instance
from .pool import Pool
from .reaper import PROJECT, Sentinel, mark_kept, reap, session_containers, sweep
from .seed import SeedPlan
from .snapshot import Log, Snapshot, base_image, ensure_snapshot, owner_labels, share_snapshot

T = TypeVar("T")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Copy:
    """A copy of the template and the write marks it had when it was pristine."""

    database: Database
    marks: WriteMarks


@dataclass
class Runtime:
    """Per-process state of pytest-dbsnap."""

    settings: Settings
    plan: Callable[[], SeedPlan]
    role: str = "main"
    owner: bool = True
    session: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    log: Log = lambda _: None
    progress: Progress = lambda _done, _total: None
    engine: PostgresEngine = field(default_factory=PostgresEngine)
    snapshot: Snapshot | None = None
    instance: Instance | None = None
    shared: Database | None = None
    clones: Pool[Copy] | None = None
    containers: Pool[Instance] | None = None
    started: list[Instance] = field(default_factory=list)
    sentinel: Sentinel | None = None
    reaped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    copies_made: int = 0
    copies_reused: int = 0
    resets: int = 0
    workers: int = 1
    """How many processes of the session start containers (xdist workers)."""
    _failure: DbsnapError | None = None
    _launch: Launch | None = None
    _local: threading.local = field(default_factory=threading.local)
    _opened: list[Admin | Docker] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _shared_marks: WriteMarks | None = None
    _sentinel_thread: threading.Thread | None = None
    _sentinel_error: DbsnapError | None = None
    _trash_counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def template(self) -> str:
        return f"{self.settings.dbname[:40]}_dbsnap_template"

    def docker(self) -> Docker:
        """This thread's Docker client (docker-py clients are not shared across threads)."""
        client: Docker | None = getattr(self._local, "docker", None)
        if client is None:
            client = self._local.docker = Docker.connect()
            with self._lock:
                self._opened.append(client)
        return client

    def ensure_alive(self) -> None:
        """Start this session's sentinel (owners only), then reap dead sessions, in a thread.

        Anything that creates a container of ours waits for it first
        (:meth:`alive`), so no reaper can take a container of ours for a dead
        session's; finding the snapshot does not.
        """
        if not self.owner or self._sentinel_thread is not None:
            return
        self.settings.publish_address()  # a remote daemon without an address fails here

        def start() -> None:
            try:
                docker = self.docker()
                image = base_image(docker, self.settings)
                self.engine.check_image(image, self.settings.image)
                labels = {**owner_labels(self.session), PROJECT: self.settings.project}
                self.sentinel = Sentinel(docker, str(image.id), labels)
                self.reaped = reap(docker, self.settings.project)
                if self.reaped:
                    self.log(f"removed {len(self.reaped)} container(s) left by dead sessions")
            except DbsnapError as exc:
                self._sentinel_error = exc

        self._sentinel_thread = threading.Thread(target=start, name="dbsnap-sentinel")
        self._sentinel_thread.start()

    def alive(self) -> None:
        """Wait until this session's sentinel runs (see :meth:`ensure_alive`)."""
        self.ensure_alive()
        if self._sentinel_thread is not None:
            self._sentinel_thread.join()
        if self._sentinel_error is not None:
            raise self._sentinel_error

    def refuse(self, error: DbsnapError) -> None:
        """Fail every later request for a database with ``error`` (unless one failed already)."""
        if self._failure is None:
            self._failure = error

    def report(self) -> dict[str, Any]:
        """What this process tells the session's summary (plain data, for xdist)."""
        instance = self.started[0] if self.started else None
        snapshot = self.snapshot
        return {
            "snapshot": snapshot.as_dict() if snapshot is not None else None,
            "failure": str(self._failure) if self._failure is not None else "",
            "warnings": list(self.warnings),
            "reaped": len(self.reaped),
            "container": instance.name if instance else "",
            "start_seconds": instance.start_seconds if instance else 0.0,
            "kept": self.engine.describe(instance.database)
            if instance and self.settings.keep
            else "",
            "copies_made": self.copies_made,
            "copies_reused": self.copies_reused,
            "resets": self.resets,
            "ram_bytes": instance.ram_bytes if instance else 0,
        }

    def sweep_quietly(self) -> None:
        """Remove every container of this session (workers that died left some)."""
        with contextlib.suppress(Exception):
            sweep(self.docker(), self.session)
        self.close()

    def warn(self, line: str) -> None:
        """Log ``line`` now and keep it for the end of the session's report."""
        self.warnings.append(line)
        self.log(line)

    def ensure_snapshot(self) -> Snapshot:
        """The snapshot this session uses; built or found on first call."""
        if self.snapshot is None:
            self._remembering(self.ensure_alive)
            self.snapshot = self._remembering(
                lambda: ensure_snapshot(
                    self.docker(),
                    self.engine,
                    self.settings,
                    self.plan(),
                    session=self.session,
                    log=self.log,
                    warn=self.warn,
                    progress=self.progress,
                    before_build=self.alive,
                )
            )
        return self.snapshot

    def share(self) -> None:
        """Push the snapshot when ``dbsnap_push`` asks and the registry lacks it.

        A failure is a warning: the tests ran, and the next session (or
        ``dbsnap push``) pushes what is still missing.
        """
        snapshot = self.snapshot
        registry = self.settings.registry
        if snapshot is None or not (self.owner and self.settings.push and registry):
            return
        try:
            ref = share_snapshot(
                self.docker(), snapshot, registry, log=self.log, progress=self.progress
            )
        except DbsnapError as exc:
            self.warn(f"{exc}; the snapshot stays on this Docker host only")
            return
        if ref:
            self.snapshot = dataclasses.replace(snapshot, pushed_to=ref)

    def worker_instance(self) -> Instance:
        """This process's container, its seeded database turned into the template."""
        if self.instance is None:
            instance = self._remembering(lambda: self._start(self.role))
            try:
                self._remembering(
                    lambda: self._admin(instance.database).make_template(
                        self.settings.dbname, self.template
                    )
                )
            except BaseException:
                self.docker().remove_quietly(instance.container)
                raise
            self.instance = instance
            self.started.append(instance)
        return self.instance

    def worker_database(self) -> Database:
        """The database every test of this process shares (worker scope).

        With ``dbsnap_env`` it is the one behind the application's address,
        made pristine again by :meth:`renew_shared`.
        """
        server = self.worker_instance().database  # an adopted one has it made already
        if self.shared is None:
            admin = self._admin(server)
            self._remembering(
                lambda: admin.clone(self.template, self.settings.dbname, self._strategy)
            )
            self._shared_marks = self._remembering(
                lambda: admin.write_marks(server, self.settings.dbname)
            )
            self.shared = server
        return self.shared

    def check_server(self) -> None:
        """Raise when this process's server no longer answers (a query, well under 1 ms)."""
        self._admin(self.worker_instance().database).ping()

    def renew_shared(self) -> bool:
        """Make the worker database pristine again (the end of a unit of ``dbsnap_scope``).

        Its connections are ended; when it provably holds no write it stays,
        else a ready copy is renamed into its place (no copying meanwhile).
        Whether it was replaced.
        """
        shared = self.worker_database()
        name = self.settings.dbname
        admin = self._admin(shared)
        admin.disconnect(name)
        assert self._shared_marks is not None
        if self._reuse(shared) and admin.untouched(shared, name, self._shared_marks):
            self.copies_reused += 1
            return False
        pool = self.clone_pool()
        fresh = _or_diagnosed(self, lambda: pool.take(self.settings.startup_timeout))
        trash = f"{name[:40]}_old_{next(self._trash_counter)}"
        self._remembering(lambda: admin.replace(name, fresh.database.dbname, trash))
        pool.discard(Copy(shared.with_dbname(trash), fresh.marks))
        self._shared_marks = fresh.marks
        self.resets += 1
        return True

    def adopt(self, given: dict[str, Any]) -> Database:
        """Take over a container the xdist controller started for this worker (see
        :meth:`prestart`); its template and worker database are made already."""
        snapshot = self.ensure_snapshot()
        container = self.docker().get_container(str(given["container"]))
        if container is None:
            raise ContainerError(
                f"the container the xdist controller started for {self.role} is gone "
                "(removed, or the Docker daemon restarted?); run again"
            )
        database = Database(
            host=self.settings.host,
            port=int(given["port"]),
            user=snapshot.user,
            password=str(given["password"]),
            dbname=snapshot.dbname,
        )
        self.instance = Instance(
            container, database, float(given["start_seconds"]), int(given.get("ram_bytes", 0))
        )
        self.started.append(self.instance)
        self._shared_marks = self._admin(database).write_marks(database, database.dbname)
        self.shared = database
        return database

    def prestart(self, roles: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Start a prepared container for each xdist worker in ``roles``, side by side.

        What :meth:`adopt` needs, by role. A container whose worker never comes
        is removed with the session (:func:`sweep`).
        """
        self.ensure_snapshot()
        with ThreadPoolExecutor(max_workers=max(1, len(roles))) as threads:
            started = list(threads.map(self._prepared, roles))
        return {
            role: {
                "container": instance.container.id,
                "port": instance.database.port,
                "password": instance.database.password,
                "start_seconds": instance.start_seconds,
                "ram_bytes": instance.ram_bytes,
            }
            for role, instance in zip(roles, started, strict=True)
        }

    def _prepared(self, role: str) -> Instance:
        """A container from the snapshot with its template and worker database made."""
        instance = self._start(role)
        try:
            admin = Admin.connect(instance.database, avoid=self.settings.dbname)
            try:
                admin.make_template(self.settings.dbname, self.template)
                admin.clone(self.template, self.settings.dbname, self._strategy)
            finally:
                admin.close()
        except BaseException:
            self.docker().remove_quietly(instance.container)
            raise
        return instance

    def clone_pool(self) -> Pool[Copy]:
        """Copies of the template, made ahead inside this process's container.

        A copy whose test provably wrote nothing goes back to the pool instead
        of being dropped (see :meth:`Admin.write_marks`).
        """
        if self.clones is None:
            server = self.worker_instance().database
            counter = itertools.count(1)
            prefix = f"{self.settings.dbname[:40]}_"

            pristine: list[WriteMarks] = []

            def make() -> Copy:
                name = f"{prefix}{next(counter)}"
                admin = self._admin(server)
                admin.clone(self.template, name, self._strategy)
                # Every fresh copy of the template has the same marks: read them
                # once (it takes a connection to the copy), not per copy.
                if not pristine:
                    pristine.append(admin.write_marks(server, name))
                return Copy(server.with_dbname(name), pristine[0])

            def inspect(copy: Copy) -> bool:
                admin = self._admin(server)
                admin.disconnect(copy.database.dbname)
                return admin.untouched(server, copy.database.dbname, copy.marks)

            def destroy(copy: Copy) -> None:
                self._admin(server).drop(copy.database.dbname)

            self.clones = Pool(
                name=f"pristine-database pool of {self.role}",
                make=make,
                destroy=destroy,
                inspect=inspect if self._reuse(server) else None,
                size=self.settings.pool_size,
            ).start()
        return self.clones

    def _reuse(self, server: Database) -> bool:
        """Whether untouched copies may be handed out again (``dbsnap_reuse``).

        Before PostgreSQL 15 a backend's statistics reach shared memory only
        some time after it exits, so "nothing was written" cannot be proven.
        """
        if not self.settings.reuse:
            return False
        version = self._admin(server).version
        if version >= 150000:
            return True
        self.warn(
            f"PostgreSQL {version // 10000} reports statistics too late to prove a copy "
            "untouched: every copy is dropped after its test (dbsnap_reuse is off; 15 and "
            "later reuse them)"
        )
        return False

    def container_pool(self) -> Pool[Instance]:
        """Whole containers from the snapshot, started ahead, one per test."""
        if self.containers is None:
            counter = itertools.count(1)
            self.ensure_snapshot()
            self.containers = Pool(
                name=f"container pool of {self.role}",
                make=lambda: self._start(f"{self.role}-t{next(counter)}"),
                destroy=lambda instance: stop_instance(self.docker(), instance),
                size=self.settings.pool_size,
            ).start()
        return self.containers

    def close(self) -> list[str]:
        """Stop the pools and remove what this process must (unless ``keep``).

        A worker the controller speaks for leaves its container to the
        controller, which removes every container of the session side by side
        with its sentinel; copies inside a container that goes are not dropped
        one by one. Returns the problems met, as warnings for the caller to show.
        """
        problems: list[str] = []
        keep = self.settings.keep
        pools: list[Pool[Copy] | Pool[Instance] | None] = [self.clones, self.containers]
        if self.clones is not None:
            self.copies_made += self.clones.made
            self.copies_reused += self.clones.reused
        self.clones = self.containers = None
        for pool in pools:
            if pool is not None:
                try:
                    # Copies go with their container (but a kept one); a worker
                    # the controller speaks for leaves its containers to its sweep.
                    containers = pool is pools[1]
                    pool.close(destroy=keep or (containers and self.owner))
                except DbsnapError as exc:
                    problems.append(str(exc))
        instance, self.instance, self.shared = self.instance, None, None
        self._join_sentinel()
        sentinel, self.sentinel = self.sentinel, None
        removals: list[Callable[[], object]] = []
        if instance is not None and self.owner and not keep:
            removals.append(lambda: stop_instance(self.docker(), instance))
        if sentinel is not None:
            if keep:
                labels = {**owner_labels(self.session), PROJECT: self.settings.project}
                removals.append(
                    lambda: mark_kept(self.docker(), self.settings.image, labels, self.role)
                )
            elif self.role == "main":
                # Containers of workers (and of workers that died without cleaning
                # up). A worker that keeps its own sentinel leaves this to the
                # controller: its siblings may still be running.
                removals += [
                    functools.partial(self._remove_by_id, c.id)
                    for c in self._session_containers(problems)
                    if instance is None or c.id != instance.container.id
                ]
        problems += _side_by_side(removals)
        if sentinel is not None:
            with contextlib.suppress(Exception):
                sentinel.stop()
        with self._lock:
            opened, self._opened = self._opened, []
        for thing in opened:
            with contextlib.suppress(Exception):
                thing.close()
        self._local = threading.local()
        return problems

    def _remove_by_id(self, container_id: str) -> None:
        self.docker().remove_by_id(container_id)

    def _session_containers(self, problems: list[str]) -> list[ContainerInfo]:
        try:
            return session_containers(self.docker(), self.session)
        except DbsnapError as exc:
            problems.append(f"could not clean up session {self.session}: {exc}")
            return []

    def _join_sentinel(self) -> None:
        if self._sentinel_thread is not None:
            self._sentinel_thread.join()

    def diagnose(self, error: DbsnapError) -> str:
        """``error``, or the reason behind it when this process's container died."""
        instance = self.instance
        launch = self._launch
        if "No space left on device" in str(error) and launch is not None and launch.ram_bytes:
            return (
                f"{error}; the worker's data folder in RAM ({launch.ram_bytes // MIB} MiB) is "
                "full: raise dbsnap_ram_size, or set dbsnap_storage = disk"
            )
        if instance is None:
            return str(error)
        try:
            status = self.docker().status(instance.container)
            logs = self.docker().logs_tail(instance.container, lines=5)
        except Exception:
            return str(error)
        if status == "running":
            return str(error)
        who = "this session's" if self.role == "main" else "this worker's"
        others = "" if self.role == "main" else ", the other workers carry on"
        return (
            f"the container {instance.name} of {self.role} is {status} (killed, out of memory, "
            f"or the Docker daemon restarted?); {who} tests cannot get a database{others}. "
            f"Last log lines:\n{logs}"
        )

    def close_quietly(self) -> None:
        self.close()

    @property
    def _strategy(self) -> Strategy:
        return "wal_log" if self.settings.clone_strategy == "wal_log" else "file_copy"

    def _admin(self, server: Database) -> Admin:
        """This thread's administration connection to ``server``."""
        admins: dict[int, Admin] = self._local.__dict__.setdefault("admins", {})
        admin = admins.get(server.port)
        if admin is None:
            admin = admins[server.port] = Admin.connect(server, avoid=self.settings.dbname)
            with self._lock:
                self._opened.append(admin)
        return admin

    def _start(self, role: str) -> Instance:
        snapshot = self.ensure_snapshot()
        self.alive()
        return start_instance(
            self.docker(),
            self.engine,
            snapshot,
            self.launch(),
            session=self.session,
            role=role,
            host=self.settings.host,
            publish=self.settings.publish_address(),
            startup_timeout=self.settings.startup_timeout,
            project=self.settings.project,
        )

    def launch(self) -> Launch:
        """How this process's containers start (looked up once)."""
        if self._launch is None:
            snapshot = self.ensure_snapshot()
            self._launch = launch_of(
                self.docker(),
                self.engine,
                snapshot,
                durable=self.settings.durable,
                ram_bytes=self._ram_bytes(snapshot),
            )
        return self._launch

    def _ram_bytes(self, snapshot: Snapshot) -> int:
        """The size of a worker's data folder in RAM (``dbsnap_storage``); 0: on disk.

        Enough for the cluster, the pool's copies, the worker database, the
        copy a test has and one being dropped, and 128 MiB for what tests add.
        """
        settings = self.settings
        if settings.storage == "disk":
            return 0
        copies = settings.pool_size + 4
        bound = settings.ram_size * MIB or (
            snapshot.cluster_bytes + copies * snapshot.database_bytes + 128 * MIB
        )
        if settings.storage == "ram":
            return bound
        memory = self.docker().memory_total()
        if memory and bound * max(1, self.workers) > memory // 4:
            self.warn(
                f"the databases stay on disk: {self.workers} worker(s) x {bound // MIB} MiB "
                f"in RAM would take more than a quarter of the Docker host's "
                f"{memory // MIB} MiB; set dbsnap_storage = ram (and dbsnap_ram_size) to insist"
            )
            return 0
        return bound

    def _remembering(self, make: Callable[[], T]) -> T:
        if self._failure is not None:
            raise self._failure
        try:
            return make()
        except DbsnapError as exc:
            self._failure = exc
            raise


def _or_diagnosed(runtime: Runtime, make: Callable[[], T]) -> T:
    """``make()``, its error explained when this process's container died."""
    try:
        return make()
    except DbsnapError as exc:
        raise type(exc)(runtime.diagnose(exc)) from exc


def _side_by_side(jobs: Sequence[Callable[[], object]]) -> list[str]:
    """Run ``jobs`` in threads (container removals take a quarter second each); their errors."""
    if not jobs:
        return []
    problems: list[str] = []
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as threads:
        for future in [threads.submit(job) for job in jobs]:
            try:
                future.result()
            except Exception as exc:
                problems.append(f"cleaning up: {exc}")
    return problems
