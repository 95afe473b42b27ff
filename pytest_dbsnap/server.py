"""One process's database server: a container from the snapshot, and the pristine
databases handed out from it. Knows no pytest.

With an engine that copies databases inside one server (an
:class:`~pytest_dbsnap.engines.Admin`), the seeded database in the worker's
container is renamed to a template closed to connections; the worker-scoped
database and every per-test copy are clones of it, so a connection left open
never blocks the next copy. With one that cannot, every pristine database is
a container of its own, started ahead by a pool.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .config import Settings
from .database import Database
from .engines import Admin, Engine, Launch
from .errors import ConfigError, ContainerError, DbsnapError
from .instance import Instance, launch_of, start_instance, stop_instance
from .pool import Pool
from .session import Session
from .snapshot import Snapshot

T = TypeVar("T")
MIB = 1024 * 1024


@dataclass(frozen=True)
class Copy:
    """A copy of the template and the write marks it had when it was pristine."""

    database: Database
    marks: object


@dataclass
class Server:
    """This process's server and its pools."""

    session: Session
    workers: int = 1
    """How many processes of the session start servers (xdist workers)."""
    instance: Instance | None = None
    shared: Database | None = None
    clones: Pool[Copy] | None = None
    containers: Pool[Instance] | None = None
    started: list[Instance] = field(default_factory=list)
    held: list[Instance] = field(default_factory=list)
    """Containers this process started for others (:meth:`prestart`)."""
    copies_made: int = 0
    copies_reused: int = 0
    resets: int = 0
    _launch: Launch | None = None
    _shared_marks: object = None
    _trash: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _local: threading.local = field(default_factory=threading.local)

    @property
    def settings(self) -> Settings:
        return self.session.settings

    @property
    def role(self) -> str:
        return self.session.role

    @property
    def engine(self) -> Engine:
        return self.session.engine

    @property
    def template(self) -> str:
        return f"{self.settings.dbname[:40]}_dbsnap_template"

    @property
    def copies(self) -> bool:
        """Whether pristine databases are copies inside this server (else containers)."""
        return self.engine.copies

    def worker_instance(self) -> Instance:
        """This process's container; with an engine that copies, its seeded database
        turned into the template."""
        if self.instance is None:
            instance = self.session.remembering(lambda: self.start(self.role))
            try:
                if self.copies:
                    self.session.remembering(
                        lambda: self.admin(instance.database).make_template(
                            self.settings.dbname, self.template
                        )
                    )
            except BaseException:
                self.session.docker().remove_quietly(instance.container)
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
            if self.copies:
                admin = self.admin(server)
                self.session.remembering(lambda: admin.clone(self.template, self.settings.dbname))
                self._shared_marks = self.session.remembering(
                    lambda: admin.write_marks(self.settings.dbname)
                )
            self.shared = server
        return self.shared

    def check_server(self) -> None:
        """Raise when this process's server no longer answers (a query, well under 1 ms)."""
        self.admin(self.worker_instance().database).ping()

    def renew_shared(self) -> bool:
        """Make the worker database pristine again (the end of a unit of ``dbsnap_scope``).

        Its connections are ended; when it provably holds no write it stays,
        else a ready copy is renamed into its place (no copying meanwhile).
        Whether it was replaced.
        """
        shared = self.worker_database()
        if not self.copies:
            raise ConfigError(
                f"{self.engine.title} cannot make the database behind dbsnap_env pristine "
                "again inside its server; set dbsnap_scope = worker"
            )
        name = self.settings.dbname
        admin = self.admin(shared)
        admin.disconnect(name)
        if self._reuse(admin) and admin.untouched(name, self._shared_marks):
            self.copies_reused += 1
            return False
        pool = self.clone_pool()
        fresh = self.diagnosed(lambda: pool.take(self.settings.startup_timeout))
        trash = f"{name[:40]}_old_{next(self._trash)}"
        self.session.remembering(lambda: admin.replace(name, fresh.database.dbname, trash))
        pool.discard(Copy(shared.with_dbname(trash), fresh.marks))
        self._shared_marks = fresh.marks
        self.resets += 1
        return True

    def adopt(self, given: dict[str, Any]) -> Database:
        """Take over a container the xdist controller started for this worker (see
        :meth:`prestart`); its template and worker database are made already."""
        snapshot = self.session.ensure_snapshot()
        container = self.session.docker().get_container(str(given["container"]))
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
            engine=snapshot.engine,
        )
        self.instance = Instance(
            container, database, float(given["start_seconds"]), int(given.get("ram_bytes", 0))
        )
        self.started.append(self.instance)
        if self.copies:
            self._shared_marks = self.admin(database).write_marks(database.dbname)
        self.shared = database
        return database

    def prestart(self, roles: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Start a prepared container for each xdist worker in ``roles``, side by side.

        What :meth:`adopt` needs, by role. A container whose worker never comes
        is removed with the session (:func:`~pytest_dbsnap.reaper.sweep`).
        """
        self.session.ensure_snapshot()
        with ThreadPoolExecutor(max_workers=max(1, len(roles))) as threads:
            started = list(threads.map(self._prepared, roles))
        self.held += started  # bound to this process: they live as long as it holds them
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
        instance = self.start(role)
        if not self.copies:
            return instance
        try:
            admin = self.engine.admin(instance.database, self.settings)
            assert admin is not None
            try:
                admin.make_template(self.settings.dbname, self.template)
                admin.clone(self.template, self.settings.dbname)
            finally:
                admin.close()
        except BaseException:
            self.session.docker().remove_quietly(instance.container)
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
            pristine: list[object] = []

            def make() -> Copy:
                name = f"{prefix}{next(counter)}"
                admin = self.admin(server)
                admin.clone(self.template, name)
                # Every fresh copy of the template has the same marks: read them
                # once (it takes a connection to the copy), not per copy.
                if not pristine:
                    pristine.append(admin.write_marks(name))
                return Copy(server.with_dbname(name), pristine[0])

            def inspect(copy: Copy) -> bool:
                admin = self.admin(server)
                admin.disconnect(copy.database.dbname)
                return admin.untouched(copy.database.dbname, copy.marks)

            def destroy(copy: Copy) -> None:
                self.admin(server).drop(copy.database.dbname)

            self.clones = Pool(
                name=f"pristine-database pool of {self.role}",
                make=make,
                destroy=destroy,
                inspect=inspect if self._reuse(self.admin(server)) else None,
                size=self.settings.pool_size,
            ).start()
        return self.clones

    def _reuse(self, admin: Admin) -> bool:
        """Whether untouched copies may be handed out again (``dbsnap_reuse``, and a
        server that can prove a copy untouched)."""
        if not self.settings.reuse:
            return False
        if admin.reuse_problem:
            self.session.warn(admin.reuse_problem)
            return False
        return True

    def container_pool(self) -> Pool[Instance]:
        """Whole containers from the snapshot, started ahead, one per test."""
        if self.containers is None:
            counter = itertools.count(1)
            self.session.ensure_snapshot()
            self.containers = Pool(
                name=f"container pool of {self.role}",
                make=lambda: self.start(f"{self.role}-t{next(counter)}"),
                destroy=lambda instance: stop_instance(self.session.docker(), instance),
                size=self.settings.pool_size,
            ).start()
        return self.containers

    def close(self, problems: list[str]) -> list[Callable[[], object]]:
        """Stop the pools; the removals left to do (the session runs them side by side
        with its own). Problems met are appended to ``problems``.

        A worker the controller speaks for lets its container stop at once and
        leaves its removal to the controller, which removes every container of
        the session side by side; copies inside a container that goes are not
        dropped one by one. With ``keep``, nothing is removed.
        """
        keep = self.settings.keep
        owner = self.session.owner
        if self.clones is not None:
            self.copies_made += self.clones.made
            self.copies_reused += self.clones.reused
        clones, containers = self.clones, self.containers
        self.clones = self.containers = None
        for pool, destroy in ((clones, keep), (containers, keep or owner)):
            if pool is not None:
                try:
                    pool.close(destroy=destroy)
                except DbsnapError as exc:
                    problems.append(str(exc))
        instance, self.instance, self.shared = self.instance, None, None
        self._local = threading.local()  # the session closes the connections
        if instance is not None and owner and not keep:
            return [lambda: stop_instance(self.session.docker(), instance)]
        if instance is not None:
            instance.release()  # it stops now; the controller removes it
        return []

    def release_held(self) -> None:
        """Let the containers started for others stop (they are being removed)."""
        held, self.held = self.held, []
        for instance in held:
            instance.release()

    def spare(self) -> frozenset[str]:
        """Containers the session's sweep leaves to :meth:`close`'s removals."""
        return frozenset({self.instance.container.id}) if self.instance is not None else frozenset()

    def report(self) -> dict[str, Any]:
        """What this server tells the session's summary (plain data, for xdist)."""
        instance = self.started[0] if self.started else None
        return {
            "container": instance.name if instance else "",
            "start_seconds": instance.start_seconds if instance else 0.0,
            "kept": instance.database.describe() if instance and self.settings.keep else "",
            "copies_made": self.copies_made,
            "copies_reused": self.copies_reused,
            "resets": self.resets,
            "ram_bytes": instance.ram_bytes if instance else 0,
        }

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
        docker = self.session.docker()
        try:
            status = docker.status(instance.container)
            logs = docker.logs_tail(instance.container, lines=5)
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

    def diagnosed(self, make: Callable[[], T]) -> T:
        """``make()``, its error explained when this process's container died."""
        try:
            return make()
        except DbsnapError as exc:
            raise type(exc)(self.diagnose(exc)) from exc

    def admin(self, server: Database) -> Admin:
        """This thread's administration connection to ``server``."""
        admins: dict[int, Admin] = self._local.__dict__.setdefault("admins", {})
        admin = admins.get(server.port)
        if admin is None:
            made = self.engine.admin(server, self.settings)
            if made is None:
                raise ConfigError(f"{self.engine.title} copies no database inside one server")
            admin = admins[server.port] = made
            self.session.opened(admin)
        return admin

    def start(self, role: str) -> Instance:
        """A container from the snapshot for ``role``, answering queries."""
        session = self.session
        snapshot = session.ensure_snapshot()
        keep = self.settings.keep
        session.alive(sentinel=keep)
        return start_instance(
            session.docker(),
            self.engine,
            snapshot,
            self.launch(),
            session=session.id,
            role=role,
            host=self.settings.host,
            publish=self.settings.publish_address(),
            startup_timeout=self.settings.startup_timeout,
            project=self.settings.project,
            outlive=keep,
        )

    def launch(self) -> Launch:
        """How this process's containers start (looked up once)."""
        if self._launch is None:
            snapshot = self.session.ensure_snapshot()
            self._launch = launch_of(
                self.session.docker(),
                self.engine,
                snapshot,
                durable=self.settings.durable,
                ram_bytes=self._ram_bytes(snapshot),
            )
        return self._launch

    def _ram_bytes(self, snapshot: Snapshot) -> int:
        """The size of a container's data folder in RAM (``dbsnap_storage``); 0: on disk.

        Enough for the cluster, and when the server holds copies, the pool's
        copies, the worker database, the copy a test has and one being
        dropped; and 128 MiB for what tests add.
        """
        settings = self.settings
        if settings.storage == "disk":
            return 0
        copies = settings.pool_size + 4 if self.copies else 0
        bound = settings.ram_size * MIB or (
            snapshot.cluster_bytes + copies * snapshot.database_bytes + 128 * MIB
        )
        if settings.storage == "ram":
            return bound
        # Without copies, each worker runs its pool's containers besides its own.
        containers = 1 if self.copies else settings.pool_size + 2
        memory = self.session.docker().memory_total()
        if memory and bound * containers * max(1, self.workers) > memory // 4:
            self.session.warn(
                f"the databases stay on disk: {self.workers} worker(s) x {containers} "
                f"container(s) x {bound // MIB} MiB in RAM would take more than a quarter of "
                f"the Docker host's {memory // MIB} MiB; set dbsnap_storage = ram (and "
                "dbsnap_ram_size) to insist"
            )
            return 0
        return bound
