"""pytest-dbsnap: seed a database once, snapshot it into a Docker image, and
give every pytest-xdist worker a pristine container of it."""

from __future__ import annotations

from .database import Database
from .errors import DbsnapError

__all__ = ["Database", "DbsnapError"]
__version__ = "0.1.0"
