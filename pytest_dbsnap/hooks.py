"""Hooks a conftest.py or plugin can implement.

Implement them in a ``conftest.py`` that pytest loads before collection (the
one at your rootdir or next to your ``testpaths``) or in a plugin: the snapshot
is built before tests are collected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .database import Database


@pytest.hookspec
def pytest_dbsnap_seed(database: Database, config: pytest.Config) -> None:
    """Seed the database before it is snapshotted.

    Runs once per snapshot, after the ``dbsnap_seed`` SQL files and the
    ``dbsnap_seed_command``. ``database`` has ``dsn``, ``url``, ``host``,
    ``port``, ``user``, ``password`` and ``dbname``: run Alembic, Django
    migrations, SQLAlchemy ``create_all`` or factories against it.

    The source of the hook function is part of the cache key; code it calls is
    not: list such files in ``dbsnap_watch`` or add them through
    :func:`pytest_dbsnap_cache_key`.
    """


@pytest.hookspec
def pytest_dbsnap_cache_key(config: pytest.Config) -> str | Sequence[str] | None:
    """Return text that, when it changes, invalidates the snapshot.

    For example the current Alembic head revision, or a hash of your models.
    """


@pytest.hookspec
def pytest_dbsnap_database_reset(database: Database, config: pytest.Config) -> None:
    """Close what holds connections to the database behind ``dbsnap_env``.

    Called in each worker at the end of every unit of ``dbsnap_scope``
    (``function``: after each test; ``module``: after each module), right
    before its connections are ended and, if anything was written, the
    database is replaced by a pristine copy at the same address. The engines
    named in ``dbsnap_sqlalchemy_engines`` are disposed of for you; close the
    rest here: sessions, caches, other pools.
    """
