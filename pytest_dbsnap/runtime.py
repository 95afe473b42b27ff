"""What one process holds during a session: settings, Docker, snapshot, its container.

The pytest face keeps one :class:`Runtime` in ``config.stash``; this module
knows no pytest. Everything is made on first use and remembered, failures too,
so a broken setup fails fast instead of once per test.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .config import Settings
from .docker import Docker
from .engines.postgres import Database, PostgresEngine
from .errors import DbsnapError
from .instance import Instance, start_instance, stop_instance
from .seed import SeedPlan
from .snapshot import Log, Snapshot, ensure_snapshot

T = TypeVar("T")


@dataclass
class Runtime:
    """Per-process state of pytest-dbsnap."""

    settings: Settings
    plan: Callable[[], SeedPlan]
    role: str = "main"
    session: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    log: Log = lambda _: None
    engine: PostgresEngine = field(default_factory=PostgresEngine)
    snapshot: Snapshot | None = None
    instance: Instance | None = None
    _docker: Docker | None = None
    _failure: DbsnapError | None = None

    def docker(self) -> Docker:
        if self._docker is None:
            self._docker = Docker.connect()
        return self._docker

    def ensure_snapshot(self) -> Snapshot:
        """The snapshot this session uses; built or found on first call."""
        if self.snapshot is None:
            self.snapshot = self._remembering(
                lambda: ensure_snapshot(
                    self.docker(),
                    self.engine,
                    self.settings,
                    self.plan(),
                    session=self.session,
                    log=self.log,
                )
            )
        return self.snapshot

    def worker_database(self) -> Database:
        """This process's database, in a container started on first call."""
        if self.instance is None:
            snapshot = self.ensure_snapshot()
            self.instance = self._remembering(
                lambda: start_instance(
                    self.docker(),
                    self.engine,
                    snapshot,
                    session=self.session,
                    role=self.role,
                    host=self.settings.host,
                    startup_timeout=self.settings.startup_timeout,
                    project=self.settings.project,
                )
            )
        return self.instance.database

    def close(self) -> None:
        """Remove this process's container (unless ``keep``) and close Docker."""
        instance, self.instance = self.instance, None
        try:
            if instance is not None and not self.settings.keep:
                stop_instance(self.docker(), instance)
        finally:
            if self._docker is not None:
                with contextlib.suppress(Exception):
                    self._docker.close()

    def _remembering(self, make: Callable[[], T]) -> T:
        if self._failure is not None:
            raise self._failure
        try:
            return make()
        except DbsnapError as exc:
            self._failure = exc
            raise
