"""``dbsnap_env``: the database exists before the application is imported.

Applications build their settings and engines at import, from environment
variables. With ``dbsnap_env`` those variables are set in every process before
pytest imports any ``conftest.py`` (``pytest_load_initial_conftests``),
pointing at the process's own database, and stay the same for its life:

- without xdist, the process starts its container then;
- the xdist controller builds the snapshot then and starts one prepared
  container per worker, side by side, while nothing else is going on; each
  worker adopts its own (found through an environment variable the workers
  inherit: ``workerinput`` arrives only after the conftests). The controller's
  own variables point at the first worker's database, so that an application
  imported there finds a server;
- ``--collect-only``, ``--fixtures``, ``--help`` and friends start nothing: the
  variables point at no server.

The database behind the address is made pristine again at the end of every
unit of ``dbsnap_scope`` (see :meth:`~pytest_dbsnap.server.Server.renew_shared`). Seed and cache-key
hooks are read before the conftests, so in this mode they live in plugins.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest

from . import app_env, engines
from .database import Database
from .errors import DbsnapError

if TYPE_CHECKING:
    from .state import State

HANDOFF = "DBSNAP_WORKERS_HANDOFF"
"""The environment variable the xdist controller leaves its workers' containers in."""

# Runs that import the conftests but run no test: no database is started.
_NO_TESTS = ("help", "version", "markers", "collectonly", "showfixtures", "setupplan")


def flag(config: pytest.Config, name: str) -> Any:
    """An option as parsed so far (``config.option`` is filled in only later)."""
    return getattr(config.known_args_namespace, name, None)


def start(state: State) -> None:
    """Set the ``dbsnap_env`` variables of this process, starting what they point at."""
    config, settings = state.config, state.settings
    state.record_hooks()  # the one fixed point: before any conftest
    if any(flag(config, name) for name in (*_NO_TESTS, "show_fixtures_per_test")):
        engine = engines.guess(settings.engine, settings.image)
        user = settings.user or engine.default_user
        nowhere = Database(settings.host, engine.port, user, "", settings.dbname, engine.name)
        os.environ.update(app_env.render(settings.env, nowhere))
        return
    try:
        database, runs_tests = _database(state)
        if runs_tests and settings.scope != "worker":
            state.server().clone_pool()  # the first reset takes a ready copy too
    except DbsnapError as exc:
        # The project asked for its database before its conftests: it needs Docker.
        raise pytest.UsageError(f"dbsnap_env: {exc}") from None
    os.environ.update(app_env.render(settings.env, database))


def _database(state: State) -> tuple[Database, bool]:
    """This process's database, and whether this process runs tests (not a controller)."""
    config = state.config
    handoff = _handoff()
    role = os.environ.get("PYTEST_XDIST_WORKER", "")
    if handoff is not None and role:
        state.role, state.session_id, state.owner = role, str(handoff["session"]), False
        state.handed = handoff["snapshot"]
        server = state.server()
        mine = handoff["workers"].get(role)
        # A worker xdist started again after a crash has no container waiting.
        return (server.adopt(mine) if mine else server.worker_database()), True
    workers = _worker_count(config)
    engine = state.session().engine  # finds or builds the snapshot
    if state.settings.scope != "worker" and not engine.copies:
        raise DbsnapError(
            f"{engine.title} cannot make the database behind the address pristine again "
            f"inside its server (dbsnap_scope = {state.settings.scope}); set dbsnap_scope = "
            "worker, and give the tests that need a pristine database dbsnap_db"
        )
    server = state.server()
    if not workers:
        return server.worker_database(), True
    roles = [f"gw{i}" for i in range(workers)]
    server.workers = workers
    prepared = server.prestart(roles)
    snapshot = state.session().ensure_snapshot()
    os.environ[HANDOFF] = json.dumps(
        {
            "pid": os.getpid(),
            "session": state.session_id,
            "snapshot": snapshot.as_dict(),
            "workers": prepared,
        }
    )
    first = prepared[roles[0]]
    database = Database(
        state.settings.host,
        int(first["port"]),
        snapshot.user,
        first["password"],
        snapshot.dbname,
        snapshot.engine,
    )
    return database, False


def _handoff() -> dict[str, Any] | None:
    """What this process's xdist controller left for it, if it is one of its workers.

    A pytest that a test starts inherits the variable too: its parent is no
    controller, so it is not taken for a worker.
    """
    raw = os.environ.get(HANDOFF)
    if not raw:
        return None
    handoff: dict[str, Any] = json.loads(raw)
    return handoff if handoff.get("pid") == os.getppid() else None


def _worker_count(config: pytest.Config) -> int:
    """How many xdist workers will start (0: no xdist, or workers we cannot foresee)."""
    if not config.pluginmanager.hasplugin("xdist") or flag(config, "tx"):
        return 0
    given = flag(config, "numprocesses")
    if given in ("auto", "logical"):
        try:
            given = config.hook.pytest_xdist_auto_num_workers(config=config)
        except Exception:
            given = os.cpu_count() or 1
    count = int(given or 0)
    limit = flag(config, "maxprocesses")
    return min(count, int(limit)) if limit else count
