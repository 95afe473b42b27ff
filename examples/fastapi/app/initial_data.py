"""Seed the database: the first superuser and the items they own.

Run it after the migrations, from this project's folder: ``python -m app.initial_data``.
It only adds what is missing, so running it again changes nothing.
"""

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import crud
from app.core.config import settings
from app.core.db import SessionLocal
from app.core.security import get_password_hash
from app.models import Item, User

logger = logging.getLogger(__name__)

SEED_ITEM_COUNT = 200
_COLOURS = ("red", "green", "blue", "black", "white")
_THINGS = ("lamp", "chair", "table", "shelf", "rug", "clock", "vase", "mirror")


def seed_items() -> list[tuple[str, str]]:
    """The seeded items' titles and descriptions: the same on every run."""
    return [
        (
            f"Seed item {n:03d}",
            f"A {_COLOURS[n % len(_COLOURS)]} {_THINGS[n % len(_THINGS)]}",
        )
        for n in range(1, SEED_ITEM_COUNT + 1)
    ]


def init_db(session: Session) -> None:
    """Create the first superuser if missing, then whichever seeded items they lack."""
    superuser = crud.get_user_by_email(session, settings.FIRST_SUPERUSER)
    if superuser is None:
        superuser = User(
            email=settings.FIRST_SUPERUSER,
            hashed_password=get_password_hash(settings.FIRST_SUPERUSER_PASSWORD),
            full_name="Administrator",
            is_superuser=True,
        )
        session.add(superuser)
        session.flush()
    have = set(session.scalars(select(Item.title).where(Item.owner_id == superuser.id)))
    missing = [
        Item(title=title, description=description, owner=superuser)
        for title, description in seed_items()
        if title not in have
    ]
    session.add_all(missing)
    session.commit()
    logger.info("superuser %s, %d items added", settings.FIRST_SUPERUSER, len(missing))


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    with SessionLocal() as session:
        init_db(session)


if __name__ == "__main__":
    main()
