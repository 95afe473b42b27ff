"""pytest-dbsnap: seed a database once, snapshot it into a Docker image, and
give every pytest-xdist worker a pristine container of it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DbsnapError

if TYPE_CHECKING:
    from .engines.postgres import Database

__all__ = ["Database", "DbsnapError"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazily: pytest imports this package in every run, most of which need no database.
    if name == "Database":
        from .engines.postgres import Database

        return Database
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
