"""Database engines: what differs between PostgreSQL and the next one.

An engine knows how to configure a container of its image for seeding, when
the server in it is ready, how to apply a seed file, how to shut the server
down cleanly before a commit, and how to describe a running database. Only
PostgreSQL exists today (:mod:`pytest_dbsnap.engines.postgres`).
"""

from __future__ import annotations

from ..database import Database
from .postgres import PostgresEngine

__all__ = ["Database", "PostgresEngine"]
