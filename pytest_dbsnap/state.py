"""What one pytest process keeps in ``config.stash``: cheap until a test needs a database.

Nothing here imports docker-py, requests or psycopg, and nothing talks to
Docker. The :class:`~pytest_dbsnap.session.Session` and
:class:`~pytest_dbsnap.server.Server` that do are made the first time a test
asks for a database, or, in the xdist controller, when the project configured
pytest-dbsnap, so that a database will likely be needed.

The seed and cache-key hooks are read at one fixed point, the start of the
session (after the initial ``conftest.py`` files, before collection), in every
process alike: ``pytest`` and ``pytest -n 2`` compute the same key. A
``conftest.py`` that brings such a hook later is an error naming its file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import ConfigError, DbsnapError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import Settings
    from .database import Database
    from .seed import PythonSeed, SeedPlan, SeedStep
    from .server import Server
    from .session import Session

SEED_HOOK = "pytest_dbsnap_seed"
KEY_HOOK = "pytest_dbsnap_cache_key"


@dataclass(frozen=True)
class _Impl:
    """One implementation of a seed or cache-key hook, as recorded at session start."""

    function: Callable[..., Any]
    argnames: tuple[str, ...]
    plugin: object


@dataclass
class State:
    """Per-process state of pytest-dbsnap (in ``config.stash``)."""

    config: pytest.Config
    settings: Settings
    role: str = "main"
    session_id: str = field(default_factory=lambda: os.urandom(6).hex())
    owner: bool = True
    """Whether this process keeps a sentinel for the session (see :mod:`.reaper`)."""
    handed: dict[str, Any] | None = None
    """The snapshot the xdist controller prepared, for a worker."""
    failure: str = ""
    """Why the xdist controller could not prepare the snapshot."""
    asked: bool = False
    """Whether a test of this process asked for a database."""
    engines: list[Any] = field(default_factory=list)
    """The SQLAlchemy engines of ``dbsnap_sqlalchemy_engines``, imported."""
    broken: str = ""
    """Why the database behind ``dbsnap_env`` could not be made pristine again."""
    _hooks: dict[str, tuple[_Impl, ...]] | None = None
    _late: list[str] = field(default_factory=list)
    _session: Session | None = None
    _server: Server | None = None

    # Hooks, read once ----------------------------------------------------------

    def record_hooks(self) -> None:
        """Read the seed and cache-key hook implementations (the one fixed point)."""
        if self._hooks is not None:
            return
        hook = self.config.pluginmanager.hook
        self._hooks = {
            name: tuple(
                _Impl(impl.function, tuple(impl.argnames), impl.plugin)
                # pluggy calls the most recently registered implementation first.
                for impl in reversed(getattr(hook, name).get_hookimpls())
            )
            for name in (SEED_HOOK, KEY_HOOK)
        }
        self.config.pluginmanager.register(_LateHooks(self), "dbsnap-late-hooks")

    def _hook_impls(self, name: str) -> tuple[_Impl, ...]:
        self.record_hooks()
        assert self._hooks is not None
        return self._hooks[name]

    def _registered_late(self, plugin: object) -> None:
        assert self._hooks is not None
        known = {id(impl.plugin) for impls in self._hooks.values() for impl in impls}
        names = [n for n in (SEED_HOOK, KEY_HOOK) if callable(getattr(plugin, n, None))]
        if not names or id(plugin) in known:
            return
        where = Path(str(getattr(plugin, "__file__", "") or getattr(plugin, "__name__", plugin)))
        with contextlib.suppress(ValueError):
            where = where.resolve().relative_to(self.settings.rootdir.resolve())
        if self.settings.env:
            self._late.append(
                f"{where.as_posix()} defines {' and '.join(names)}, but with dbsnap_env the "
                "snapshot is made before any conftest.py is imported; move the hook into a "
                "plugin module (`-p mypackage.dbsnap_hooks` in addopts) or seed with "
                "dbsnap_seed / dbsnap_seed_command"
            )
            return
        self._late.append(
            f"{where.as_posix()} defines {' and '.join(names)}, but pytest loads it during "
            "collection, after the snapshot's cache key is computed (so `pytest` and "
            "`pytest -n 2` could disagree); move the hook to a conftest.py that pytest loads "
            f"at start-up (the one in {self.settings.rootdir} or next to your testpaths) or into "
            "a plugin"
        )

    @property
    def late(self) -> str:
        """Why a hook registered after they were read is an error (empty: none was)."""
        return self._late[0] if self._late else ""

    @property
    def configured(self) -> bool:
        """Whether the project configured pytest-dbsnap (a setting or a hook)."""
        return bool(self.settings.given - {"disable"}) or any(
            self._hook_impls(name) for name in (SEED_HOOK, KEY_HOOK)
        )

    def plan(self) -> SeedPlan:
        """The seed plan and cache-key inputs, from the settings and the recorded hooks."""
        from .seed import SeedPlan, ShellCommand, expand_seed, expand_watch, flatten_extra

        if self._late:
            raise ConfigError(self._late[0])
        settings = self.settings
        rootdir = settings.rootdir
        steps: list[SeedStep] = []
        if settings.django:
            from .integrations.django import migrate_step

            steps.append(migrate_step(self.config))  # first: the SQL and hooks may build on it
        steps += expand_seed(settings.seed, rootdir)
        if settings.seed_command:
            steps.append(ShellCommand(settings.seed_command, rootdir))
        steps += [self._python_seed(impl) for impl in self._hook_impls(SEED_HOOK)]
        extra: list[str] = [settings.cache_key] if settings.cache_key else []
        for name in settings.cache_env:  # what the seed reads, that the key cannot see
            value = os.environ.get(name)
            extra.append(f"env {name}" + ("" if value is None else f"={value}"))
        for impl in self._hook_impls(KEY_HOOK):
            given = {"config": self.config}
            extra += flatten_extra([impl.function(**{a: given[a] for a in impl.argnames})])
        return SeedPlan(
            steps=tuple(steps),
            watched=expand_watch(settings.watch, rootdir),
            extra=tuple(extra),
            rootdir=rootdir,
        )

    def _python_seed(self, impl: _Impl) -> PythonSeed:
        import inspect

        from .seed import PythonSeed

        function = impl.function
        try:
            source = inspect.getsource(function)
            where = Path(inspect.getsourcefile(function) or "?")
        except (OSError, TypeError):
            source, where = function.__qualname__, Path(function.__module__)
        with contextlib.suppress(ValueError):
            where = where.resolve().relative_to(self.settings.rootdir.resolve())
        config = self.config

        def run(database: Database) -> None:
            given = {"database": database, "config": config}
            function(**{arg: given[arg] for arg in impl.argnames})

        return PythonSeed(
            name=f"{where.as_posix()}::{function.__name__}", fingerprint=source, run=run
        )

    # The engine side, made on first need ----------------------------------------

    @property
    def has_session(self) -> bool:
        return self._session is not None

    def session(self) -> Session:
        """This process's :class:`Session` (imports docker-py the first time)."""
        if self._session is None:
            from .session import Session
            from .snapshot import Snapshot

            handed = self.handed
            self._session = Session(
                self.settings,
                plan=self.plan,
                role=self.role,
                owner=self.owner,
                id=self.session_id,
                snapshot=Snapshot.from_dict(handed) if handed else None,
            )
            if self.failure:
                self._session.refuse(DbsnapError(self.failure))
        if self._late:
            self._session.refuse(ConfigError(self._late[0]))
        return self._session

    def server(self) -> Server:
        """This process's :class:`Server`, on its :class:`Session`."""
        if self._server is None:
            from .server import Server

            self._server = Server(
                self.session(), workers=int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
            )
        return self._server

    def prepare(self, log: Callable[[str], None], progress: Callable[[int, int], None]) -> None:
        """Find or build the snapshot now (the xdist controller, before workers start).

        A failure is kept for the tests that ask for a database, never raised.
        """
        session = self.session()
        session.log, session.progress = log, progress
        try:
            session.ensure_snapshot()
        except DbsnapError as exc:
            self.failure = str(exc)
        except Exception as exc:  # a bug, or an error docker-py let through
            self.failure = f"{type(exc).__name__}: {exc}"
            session.refuse(DbsnapError(self.failure))

    def handout(self) -> dict[str, Any]:
        """What an xdist worker is given (``workerinput``)."""
        given: dict[str, Any] = {"session": self.session_id}
        session = self._session
        if self.failure:
            given["error"] = self.failure
        elif session is not None and session.snapshot is not None:
            given["snapshot"] = session.snapshot.as_dict()
        return given

    def take(self, given: dict[str, Any]) -> None:
        """Adopt what the controller handed this worker (see :meth:`handout`)."""
        self.session_id = str(given.get("session") or self.session_id)
        self.failure = str(given.get("error", ""))
        self.handed = given.get("snapshot")
        # With a snapshot from the controller, its sentinel speaks for the session;
        # otherwise this worker looks after itself, under the same session.
        self.owner = self.handed is None

    # dbsnap_env -----------------------------------------------------------------

    def unit(self, item: pytest.Item) -> str:
        """Which unit of ``dbsnap_scope`` ``item`` belongs to."""
        scope = self.settings.scope
        if scope == "worker":
            return ""
        return str(item.path) if scope == "module" else item.nodeid

    def end_of_unit(self) -> None:
        """Close what the project holds on the database behind ``dbsnap_env``, then
        make it pristine again; a failure fails every later test of this process."""
        server = self.server()
        try:
            shared = server.worker_database()
            self.config.hook.pytest_dbsnap_database_reset(database=shared, config=self.config)
            if self.engines:
                from .integrations.sqlalchemy import dispose

                dispose(self.engines)
            server.renew_shared()
        except DbsnapError as exc:
            self.broken = f"the database behind dbsnap_env could not be made pristine: {exc}"
            raise DbsnapError(self.broken) from None

    def close(self) -> list[str]:
        """Close the server and the session, if they were made; the problems met."""
        problems: list[str] = []
        server = self._server
        spare = server.spare() if server is not None else frozenset()
        removals = server.close(problems) if server is not None else []
        if self._session is not None:
            problems += self._session.close(removals, spare)
        if server is not None:
            server.release_held()
        return problems

    def close_quietly(self) -> None:
        self.close()

    def report(self) -> dict[str, Any]:
        """What this process tells the session's summary."""
        report: dict[str, Any] = {"asked": self.asked, "failure": ""}
        if self._session is not None:
            report.update(self._session.report())
        if self._server is not None:
            report.update(self._server.report())
        if self.asked and not report["failure"]:
            report["failure"] = self.failure
        return report


class _LateHooks:
    """Watches for seed or cache-key hooks registered after they were read."""

    def __init__(self, state: State) -> None:
        self._state = state

    def pytest_plugin_registered(self, plugin: object) -> None:
        self._state._registered_late(plugin)
