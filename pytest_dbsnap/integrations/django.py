"""Django with pytest-django: migrate once into the snapshot; every transactional test pristine.

Imported only with ``dbsnap_django``. It takes over one link of
pytest-django's chain, ``django_db_setup``: instead of creating a test
database per worker and migrating it, the ``default`` connection (and the
aliases that mirror it) point at the worker's database, made from a snapshot
that ``migrate`` seeded once. ``@pytest.mark.django_db`` tests then run in
pytest-django's transaction that is rolled back, as always.

Transactional tests (``transaction=True``, ``transactional_db``,
``live_server``, ``reset_sequences``, ``serialized_rollback``, and Django's own
``TransactionTestCase`` classes) each get a pristine copy instead: the
connection is switched to it before their fixtures and back after. For those
tests only, Django's flush after the test and its sequence reset before it are
skipped: the copy is dropped, and its sequences are where the migrations left
them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import sys
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import ConfigError, SeedError

if TYPE_CHECKING:
    from ..database import Database
    from ..fixtures import Lease
    from ..seed import PythonSeed
    from ..server import Server
    from ..state import State

_TRANSACTIONAL_FIXTURES = frozenset(
    {
        "transactional_db",
        "live_server",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
    }
)
_APPLYING = re.compile(r"^\s*Applying (?P<app>[\w.]+)\.(?P<name>\w+)\.\.\.(?P<ok> OK)?", re.M)


def check(config: pytest.Config) -> list[str]:
    """The aliases pytest-dbsnap points at a worker's database; a :class:`ConfigError`
    when the project's ``DATABASES`` is not what it supports."""
    if not config.pluginmanager.hasplugin("django"):
        raise ConfigError(
            "dbsnap_django needs pytest-django and DJANGO_SETTINGS_MODULE: "
            "pip install 'pytest-dbsnap[django]' and set DJANGO_SETTINGS_MODULE in your pytest "
            "configuration"
        )
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        databases: dict[str, dict[str, Any]] = settings.DATABASES
    except ImproperlyConfigured as exc:
        raise ConfigError(
            f"dbsnap_django needs Django's settings ({exc}); set DJANGO_SETTINGS_MODULE in your "
            "pytest configuration"
        ) from None
    engine = str(databases.get("default", {}).get("ENGINE", ""))
    if "postgresql" not in engine and "postgis" not in engine:
        raise ConfigError(
            f"dbsnap_django works with PostgreSQL, and DATABASES['default'] has ENGINE "
            f"{engine!r}; use django.db.backends.postgresql (or PostGIS), or unset dbsnap_django"
        )
    others = [
        alias
        for alias, options in databases.items()
        if alias != "default" and (options.get("TEST") or {}).get("MIRROR") != "default"
    ]
    if others:
        raise ConfigError(
            f"dbsnap_django supports one database, 'default', and aliases that mirror it "
            f"(TEST: {{'MIRROR': 'default'}}); DATABASES also has {', '.join(map(repr, others))}"
        )
    return list(databases)


def migrate_step(config: pytest.Config) -> PythonSeed:
    """The seed step that runs ``migrate``; its fingerprint is every migration file, the
    installed apps and the Django version."""
    from ..seed import PythonSeed

    def run(database: Database) -> None:
        migrate(config, database)

    return PythonSeed(name="django migrate", fingerprint=_fingerprint(), run=run)


def _fingerprint() -> str:
    import django
    from django.conf import settings
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    parts = [
        f"django {django.get_version()}",
        f"apps {list(settings.INSTALLED_APPS)!r}",
        f"user {getattr(settings, 'AUTH_USER_MODEL', '')}",
    ]
    for (app, name), migration in sorted(loader.disk_migrations.items()):
        path = getattr(sys.modules.get(type(migration).__module__), "__file__", None)
        body = open(path, "rb").read() if path else repr(migration.operations).encode()  # noqa: SIM115
        parts.append(f"{app}.{name} {hashlib.sha256(body).hexdigest()}")
    return "\n".join(parts)


def migrate(config: pytest.Config, database: Database) -> None:
    """Run ``migrate`` (every app, data migrations included) on ``database``."""
    from django.core.management import call_command

    out = io.StringIO()
    with _unblocked(config), _pointing(config, database):
        try:
            call_command("migrate", interactive=False, verbosity=1, stdout=out)
        except Exception as exc:
            failed = [m for m in _APPLYING.finditer(out.getvalue()) if not m["ok"]]
            where = f"migration {failed[-1]['app']}.{failed[-1]['name']}" if failed else "migrate"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise SeedError(
                f"Django {where} raised {type(exc).__name__}: {first}; fix it and run again"
            ) from exc


@contextlib.contextmanager
def _unblocked(config: pytest.Config) -> Iterator[None]:
    from pytest_django.plugin import blocking_manager_key

    with config.stash[blocking_manager_key].unblock():
        yield


@contextlib.contextmanager
def _pointing(config: pytest.Config, database: Database) -> Iterator[None]:
    """Point the connections at ``database`` for a while (the seeding one)."""
    from django.db import connections

    aliases = check(config)
    saved = {alias: dict(connections[alias].settings_dict) for alias in aliases}
    point(aliases, database)
    try:
        yield
    finally:
        for alias in aliases:
            connections[alias].close()
            connections[alias].settings_dict.clear()
            connections[alias].settings_dict.update(saved[alias])


def point(aliases: list[str], database: Database) -> None:
    """Make ``aliases`` connect to ``database`` from their next query on.

    The settings dicts are changed in place: they are shared with every
    thread's connection (a live server's too), which reconnects to it.
    """
    from django.db import connections

    for alias in aliases:
        connection = connections[alias]
        connection.close()
        settings = connection.settings_dict
        settings.update(
            HOST=database.host,
            PORT=str(database.port),
            NAME=database.dbname,
            USER=database.user,
            PASSWORD=database.password,
        )
        settings.setdefault("TEST", {})["NAME"] = database.dbname
        options = settings.get("OPTIONS") or {}
        for name in ("service", "passfile"):  # they would send libpq elsewhere
            options.pop(name, None)


def transactional(item: pytest.Item) -> bool:
    """Whether pytest-django runs ``item`` as a transactional test (it would flush)."""
    from django.test import TestCase, TransactionTestCase

    test_class = getattr(item, "cls", None)
    if isinstance(test_class, type) and issubclass(test_class, TransactionTestCase):
        return not issubclass(test_class, TestCase)
    if _TRANSACTIONAL_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    marker = item.get_closest_marker("django_db")
    if marker is None:
        return False
    from pytest_django.fixtures import validate_django_db

    transaction, reset_sequences, _, serialized_rollback, _ = validate_django_db(marker)
    return bool(transaction or reset_sequences or serialized_rollback)


class Django:
    """What the Django link keeps for this process (in ``config.stash``)."""

    def __init__(self, state: State, aliases: list[str]) -> None:
        self.state = state
        self.aliases = aliases
        self.worker: Database | None = None
        self.copy: Lease | None = None
        self.restore = _skip_flush_while(lambda: self.copy is not None)

    def current(self) -> Database | None:
        return self.copy.database if self.copy is not None else self.worker


DJANGO = pytest.StashKey[Django]()


def install(config: pytest.Config, state: State) -> None:
    """Take over pytest-django's ``django_db_setup`` (this module becomes a plugin)."""
    config.stash[DJANGO] = Django(state, check(config))
    config.pluginmanager.register(sys.modules[__name__], "dbsnap-django")


@pytest.fixture(scope="session")
def django_db_setup(
    request: pytest.FixtureRequest, django_db_blocker: Any, _dbsnap_server: Server
) -> None:
    """pytest-dbsnap's: the worker's database, migrated already. No test database is
    created and no migration runs (``--reuse-db`` and ``--create-db`` change nothing)."""
    from ..fixtures import _or_fail

    django = request.config.stash[DJANGO]
    django.worker = _or_fail(_dbsnap_server.worker_database)
    with django_db_blocker.unblock():
        point(django.aliases, django.current() or django.worker)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    django = item.config.stash.get(DJANGO, None)
    if django is None or not transactional(item):
        return
    from ..fixtures import lease

    django.state.asked = True
    django.copy = lease(django.state.server(), "clone")
    point(django.aliases, django.copy.database)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None]:
    try:
        return (yield)
    finally:
        django = item.config.stash.get(DJANGO, None)
        copy = django.copy if django is not None else None
        if django is not None and copy is not None:
            from django.db import connections

            django.copy = None
            connections.close_all()
            copy.give_back()
            if django.worker is not None:
                point(django.aliases, django.worker)


def pytest_unconfigure(config: pytest.Config) -> None:
    django = config.stash.get(DJANGO, None)
    if django is not None:
        django.restore()


def _skip_flush_while(active: Any) -> Any:
    """While ``active()``, Django's transactional tests neither flush nor reset sequences.

    Returns what undoes it.
    """
    from django.test import TransactionTestCase

    flush = TransactionTestCase._fixture_teardown
    reset = TransactionTestCase.__dict__["_reset_sequences"]

    def _fixture_teardown(self: Any) -> None:
        if not active():
            flush(self)
        else:
            _finish_requests()

    def _reset_sequences(db_name: str) -> None:
        if not active():
            reset.__func__(db_name)

    TransactionTestCase._fixture_teardown = _fixture_teardown
    TransactionTestCase._reset_sequences = staticmethod(_reset_sequences)

    def restore() -> None:
        TransactionTestCase._fixture_teardown = flush
        TransactionTestCase._reset_sequences = reset

    return restore


def _finish_requests(timeout: float = 5) -> None:
    """Wait for a live server's requests still being finished (their end touches the
    database: it must happen before pytest-django blocks it again, as the flush
    we skip used to give it time to)."""
    import threading

    for thread in threading.enumerate():
        target = getattr(thread, "_target", None)
        if getattr(target, "__name__", "") == "process_request_thread":
            thread.join(timeout)
