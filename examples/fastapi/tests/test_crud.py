"""The data layer, on the ``db`` session: the functions commit what they write."""

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app import crud
from app.core.config import settings
from app.models import Item, User
from app.schemas import ItemCreate, ItemUpdate, UserCreate
from tests.utils import random_email


def count(db: Session, model: type[User] | type[Item]) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_the_seed_is_one_superuser_and_200_items(db: Session) -> None:
    superuser = crud.get_user_by_email(db, settings.FIRST_SUPERUSER)
    assert superuser is not None
    assert superuser.is_superuser
    assert count(db, User) == 1
    assert count(db, Item) == 200
    assert len(superuser.items) == 200


def test_authenticate_the_superuser(db: Session) -> None:
    user = crud.authenticate(db, settings.FIRST_SUPERUSER, settings.FIRST_SUPERUSER_PASSWORD)
    assert user is not None
    assert user.email == settings.FIRST_SUPERUSER


def test_authenticate_with_a_wrong_password(db: Session) -> None:
    assert crud.authenticate(db, settings.FIRST_SUPERUSER, "not-the-password") is None


def test_create_user_stores_a_hash(db: Session) -> None:
    user = crud.create_user(db, UserCreate(email=random_email(), password="plain-password"))
    assert user.hashed_password != "plain-password"
    assert crud.authenticate(db, user.email, "plain-password") == user
    assert count(db, User) == 2


def test_create_and_update_an_item(db: Session) -> None:
    superuser = crud.get_user_by_email(db, settings.FIRST_SUPERUSER)
    assert superuser is not None
    item = crud.create_item(db, ItemCreate(title="Desk", owner_id=superuser.id))
    crud.update_item(db, item, ItemUpdate(description="Oak"))
    db.expire_all()
    stored = db.get(Item, item.id)
    assert stored is not None
    assert (stored.title, stored.description) == ("Desk", "Oak")
    assert count(db, Item) == 201


def test_delete_every_item(db: Session) -> None:
    db.execute(delete(Item))
    db.commit()
    assert count(db, Item) == 0
    items, total = crud.list_items(db)
    assert (items, total) == ([], 0)


def test_the_database_cascades_a_users_items(db: Session) -> None:
    user = crud.create_user(db, UserCreate(email=random_email(), password="plain-password"))
    crud.create_item(db, ItemCreate(title="Lamp", owner_id=user.id))
    db.execute(delete(User).where(User.id == user.id))
    db.commit()
    assert db.scalar(select(func.count()).where(Item.title == "Lamp")) == 0
    assert count(db, Item) == 200
