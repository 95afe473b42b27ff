"""Fixtures of the test suite, which runs on the database that the settings name.

The database needs the schema (``alembic upgrade head``). Tests commit, and
several expect the seeded state of ``app.initial_data``: the first superuser,
their 200 items and nothing else. So the stock cleanup, ``restore_seeded_state``,
seeds the database again when the run starts and after each test that changed
a row; ``STOCK_CLEANUP=0`` turns it off.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from app.core.db import engine
from app.initial_data import init_db
from app.main import app
from app.models import Item, User

# The stock clean-up; pytest-dbsnap (with dbsnap_env) makes it unneeded.
STOCK_CLEANUP = os.environ.get("STOCK_CLEANUP", "1") != "0"


@pytest.fixture(scope="session")
def db() -> Iterator[Session]:
    """A session on the application's engine, shared by the whole run."""
    with Session(engine) as session:
        yield session


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


_FINGERPRINT = text(
    "SELECT (SELECT md5(string_agg(u::text, ',' ORDER BY u.id)) FROM users u),"
    " (SELECT md5(string_agg(i::text, ',' ORDER BY i.id)) FROM items i)"
)


def fingerprint(session: Session) -> tuple[str, str]:
    """A hash of every row of both tables: it changes with any write."""
    users, items = session.execute(_FINGERPRINT).one()
    return users, items


def reseed(session: Session) -> tuple[str, str]:
    """Delete every row and seed again; return the new fingerprint."""
    session.execute(delete(Item))
    session.execute(delete(User))
    init_db(session)
    return fingerprint(session)


@dataclass
class SeededState:
    fingerprint: tuple[str, str]


@pytest.fixture(scope="session")
def seeded_state() -> SeededState:
    """The seeded state, laid anew in case an earlier run was interrupted."""
    with Session(engine) as session:
        return SeededState(reseed(session))


def _pristine_anyway(request: pytest.FixtureRequest) -> bool:
    """Whether pytest-dbsnap gives every test the seeded state (no clean-up needed).

    In its ``function`` scope, yes. In its ``module`` and ``worker`` scopes
    the tests of one module (or worker) share a database: the clean-up still
    runs between them, without the other workers in the way.
    """
    if not request.config.pluginmanager.hasplugin("dbsnap"):
        return False
    return request.getfixturevalue("dbsnap_scope") == "function"


@pytest.fixture(autouse=True)
def restore_seeded_state(request: pytest.FixtureRequest, db: Session) -> Iterator[None]:
    """After a test that changed any row, put the seeded state back."""
    if not STOCK_CLEANUP or _pristine_anyway(request):
        yield
        return
    seeded: SeededState = request.getfixturevalue("seeded_state")
    yield
    db.rollback()
    with Session(engine) as session:
        if fingerprint(session) != seeded.fingerprint:
            seeded.fingerprint = reseed(session)
