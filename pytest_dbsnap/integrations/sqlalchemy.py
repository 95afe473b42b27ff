"""SQLAlchemy engines an application builds at import (``dbsnap_sqlalchemy_engines``).

Imported only when that setting names engines, so SQLAlchemy is never needed
otherwise.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError


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
    """Drop the engines' pooled connections (the database behind them is being replaced).

    An ``AsyncEngine``'s pool is replaced without closing its connections
    (closing them needs its event loop); the server ends them anyway.
    """
    for engine in engines:
        if hasattr(engine, "sync_engine"):  # an AsyncEngine
            engine.sync_engine.dispose(close=False)
        else:
            engine.dispose()
