"""SQLAlchemy engines an application builds at import (``dbsnap_sqlalchemy_engines``).

Imported only when that setting names engines, so SQLAlchemy is never needed
otherwise.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..engines import client
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..database import Database


def load_engines(paths: Sequence[str]) -> list[Any]:
    """The engines ``module:attribute`` names, imported; a :class:`ConfigError` names a bad one."""
    from sqlalchemy.engine import Engine

    engines: list[Any] = []
    for path in paths:
        module_name, _, attribute = path.partition(":")
        try:
            found: Any = importlib.import_module(module_name)
            for part in attribute.split("."):
                found = getattr(found, part)
        except Exception as exc:  # ImportError, AttributeError, or what the module raised
            raise ConfigError(
                f"dbsnap_sqlalchemy_engines: {path!r} does not import "
                f"({type(exc).__name__}: {exc}); name module:attribute of an engine, importable "
                "from your rootdir"
            ) from None
        # An AsyncEngine wraps an Engine (its import needs greenlet: not asked for here).
        if not isinstance(getattr(found, "sync_engine", found), Engine):
            raise ConfigError(
                f"dbsnap_sqlalchemy_engines: {path!r} is a {type(found).__name__}, not a "
                "SQLAlchemy Engine or AsyncEngine"
            )
        engines.append(found)
    return engines


def dispose(engines: Sequence[Any]) -> None:
    """Let go of every connection to the database that is being made pristine.

    Every ORM ``Session`` is closed first (``close_all_sessions``, which
    SQLAlchemy offers for test teardown): a session-wide session of the test
    suite releases its connection and begins anew on its next use. Then the
    engines' pools are disposed of. An ``AsyncEngine``'s pool is replaced
    without closing its connections (closing them needs its event loop); the
    server ends them anyway.
    """
    from sqlalchemy.orm import close_all_sessions

    close_all_sessions()
    for engine in engines:
        if hasattr(engine, "sync_engine"):  # an AsyncEngine
            engine.sync_engine.dispose(close=False)
        else:
            engine.dispose()


def engine_for(database: Database) -> Any:
    """A SQLAlchemy ``Engine`` on ``database`` with its engine's usual driver
    (``postgresql+psycopg://``, ``mysql+pymysql://``)."""
    from sqlalchemy import create_engine

    return create_engine(database.url_for(client(database.engine).sync_driver))


def async_driver(database: Database) -> str:
    """The first async driver of ``database``'s engine that is installed; a
    :class:`ConfigError` naming them when none is."""
    import importlib.util

    drivers = client(database.engine).async_drivers
    for driver in drivers:
        if importlib.util.find_spec(driver):
            return driver
    raise ConfigError(
        f"dbsnap_async_engine needs an async driver for {database.engine}: pip install one of "
        f"{', '.join(drivers)}"
    )


def async_engine_for(database: Database) -> Any:
    """An ``AsyncEngine`` on ``database`` with :func:`async_driver`."""
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(database.url_for(async_driver(database)))
