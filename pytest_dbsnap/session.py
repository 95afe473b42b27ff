"""What one process holds for its pytest session: Docker clients, the sentinel, the snapshot.

Its lifetime is the session's. The database server a process starts from the
snapshot is a :class:`~pytest_dbsnap.server.Server`'s. Knows no pytest.
Everything is made on first use and remembered, failures too, so a broken
setup fails fast instead of once per test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .config import Settings
from .docker import ContainerInfo, Docker, Progress
from .engines import Engine, choose, named
from .errors import DbsnapError
from .reaper import PROJECT, Sentinel, mark_kept, reap, session_containers, sweep
from .seed import SeedPlan
from .snapshot import Log, Snapshot, base_image, ensure_snapshot, owner_labels, share_snapshot

T = TypeVar("T")


@dataclass
class Session:
    """Per-process state of a pytest-dbsnap session."""

    settings: Settings
    plan: Callable[[], SeedPlan]
    role: str = "main"
    owner: bool = True
    """Whether this process keeps a sentinel for the session (see :mod:`.reaper`)."""
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    log: Log = lambda _: None
    progress: Progress = lambda _done, _total: None
    snapshot: Snapshot | None = None
    sentinel: Sentinel | None = None
    reaped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    server: str = ""
    """What the daemon said it is (``Docker Engine 20.10.24``), once connected."""
    _failure: DbsnapError | None = None
    _local: threading.local = field(default_factory=threading.local)
    _opened: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _alive_thread: threading.Thread | None = None
    _alive_error: DbsnapError | None = None
    _base_id: str = ""
    _closed: bool = False

    def docker(self) -> Docker:
        """This thread's Docker client (docker-py clients are not shared across threads)."""
        client: Docker | None = getattr(self._local, "docker", None)
        if client is None:
            client = self._local.docker = Docker.connect(self.settings.daemon)
            self.server = client.server
            self.opened(client)
        return client

    def opened(self, thing: Any) -> None:
        """Close ``thing`` (a client, a connection) when the session closes."""
        with self._lock:
            self._opened.append(thing)

    @property
    def engine(self) -> Engine:
        """The engine of this session's snapshot."""
        return named(self.ensure_snapshot().engine)

    @property
    def labels(self) -> dict[str, str]:
        """The labels of every container this session makes."""
        return {**owner_labels(self.id), PROJECT: self.settings.project}

    def ensure_alive(self) -> None:
        """Check the base image and reap dead sessions, in a thread (owners only).

        The session's database containers prove it alive by themselves (see
        :mod:`.reaper`); with ``keep``, whose containers outlive the process,
        the thread starts the session's sentinel too. Finding the snapshot
        does not wait for the thread.
        """
        if not self.owner or self._alive_thread is not None:
            return
        self.settings.publish_address()  # a remote daemon without an address fails here

        def start() -> None:
            try:
                docker = self.docker()
                image = base_image(docker, self.settings)
                choose(image, self.settings.image, self.settings.engine)  # refused up front
                self._base_id = image.id
                if self.settings.keep:
                    self.sentinel = Sentinel(docker, image.id, self.labels)
                self.reaped = reap(docker, self.settings.project)
                if self.reaped:
                    self.log(f"removed {len(self.reaped)} container(s) left by dead sessions")
            except DbsnapError as exc:
                self._alive_error = exc

        self._alive_thread = threading.Thread(target=start, name="dbsnap-alive")
        self._alive_thread.start()

    def alive(self, *, sentinel: bool = False) -> None:
        """Wait for :meth:`ensure_alive`'s thread; with ``sentinel``, make sure this
        session has its sentinel (before a container that outlives our process: a
        build's, or any with ``keep``)."""
        self.ensure_alive()
        if self._alive_thread is not None:
            self._alive_thread.join()
        if self._alive_error is not None:
            raise self._alive_error
        if sentinel and self.sentinel is None and self._base_id:  # set by owners only
            self.sentinel = Sentinel(self.docker(), self._base_id, self.labels)

    def refuse(self, error: DbsnapError) -> None:
        """Fail every later request for a database with ``error`` (unless one failed already)."""
        if self._failure is None:
            self._failure = error

    def remembering(self, make: Callable[[], T]) -> T:
        """``make()``; its error is remembered, and raised again by every later call."""
        if self._failure is not None:
            raise self._failure
        try:
            return make()
        except DbsnapError as exc:
            self._failure = exc
            raise

    def warn(self, line: str) -> None:
        """Log ``line`` now and keep it for the end of the session's report."""
        if line not in self.warnings:
            self.warnings.append(line)
        self.log(line)

    def ensure_snapshot(self) -> Snapshot:
        """The snapshot this session uses; built or found on first call."""
        if self.snapshot is None:
            self.remembering(self.ensure_alive)
            self.snapshot = self.remembering(
                lambda: ensure_snapshot(
                    self.docker(),
                    self.settings,
                    self.plan(),
                    session=self.id,
                    log=self.log,
                    warn=self.warn,
                    progress=self.progress,
                    before_build=functools.partial(self.alive, sentinel=True),
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

    def report(self) -> dict[str, Any]:
        """What this session tells the summary (plain data, for xdist)."""
        snapshot = self.snapshot
        return {
            "snapshot": snapshot.as_dict() if snapshot is not None else None,
            "failure": str(self._failure) if self._failure is not None else "",
            "warnings": list(self.warnings),
            "reaped": len(self.reaped),
            "daemon": f"{self.settings.daemon.describe()}, {self.server}" if self.server else "",
        }

    def close(
        self, removals: Sequence[Callable[[], object]] = (), spare: frozenset[str] = frozenset()
    ) -> list[str]:
        """End the session: run ``removals`` side by side with the removal of the
        session's containers (the controller's job, or a single process's; but
        those of ``spare``), stop the sentinel and close every client.

        Returns the problems met, as warnings for the caller to show.
        """
        problems: list[str] = []
        jobs = list(removals)
        if self._closed:
            return side_by_side(jobs)
        self._closed = True
        if self._alive_thread is not None:
            self._alive_thread.join()
        sentinel, self.sentinel = self.sentinel, None
        if self._alive_thread is not None:  # owners only
            if self.settings.keep:
                if sentinel is not None:
                    # From an image that is surely here (a base pinned by digest may
                    # have no name left on this host).
                    image = self.snapshot.image_id if self.snapshot else self.settings.image
                    jobs.append(lambda: mark_kept(self.docker(), image, self.labels, self.role))
            elif self.role == "main":
                # Containers of workers (and of workers that died without cleaning
                # up). A worker that looks after itself leaves this to the
                # controller: its siblings may still be running.
                jobs += [
                    functools.partial(self._remove_by_id, c.id)
                    for c in self._session_containers(problems)
                    if c.id not in spare
                ]
        problems += side_by_side(jobs)
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

    def sweep_quietly(self) -> None:
        """Remove every container of this session (workers that died left some)."""
        with contextlib.suppress(Exception):
            sweep(self.docker(), self.id)
        self.close()

    def _remove_by_id(self, container_id: str) -> None:
        self.docker().remove_by_id(container_id)

    def _session_containers(self, problems: list[str]) -> list[ContainerInfo]:
        try:
            return session_containers(self.docker(), self.id)
        except DbsnapError as exc:
            problems.append(f"could not clean up session {self.id}: {exc}")
            return []


def side_by_side(jobs: Sequence[Callable[[], object]]) -> list[str]:
    """Run ``jobs`` at once (container removals take a quarter second each), the last
    in this thread, whose Docker client is connected already; their errors."""
    if not jobs:
        return []

    def run(job: Callable[[], object]) -> str | None:
        try:
            job()
        except Exception as exc:
            return f"cleaning up: {exc}"
        return None

    *others, last = jobs
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(others)))) as threads:
        futures = [threads.submit(run, job) for job in others]
        mine = run(last)
        outcomes = [future.result() for future in futures] + [mine]
    return [outcome for outcome in outcomes if outcome is not None]
