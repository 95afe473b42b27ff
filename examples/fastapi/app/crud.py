"""Reads and writes on the models. The writing functions commit."""

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.security import get_password_hash, verify_password
from app.models import Item, User
from app.schemas import ItemCreate, ItemUpdate, UserCreate


def create_user(session: Session, user_in: UserCreate) -> User:
    user = User(
        email=user_in.email,
        hashed_password=get_password_hash(user_in.password),
        full_name=user_in.full_name,
        is_superuser=user_in.is_superuser,
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email)).first()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The user with this email and password, or None."""
    user = get_user_by_email(session, email)
    if user is None or not verify_password(password, user.hashed_password):
        return None
    return user


def list_users(session: Session, skip: int = 0, limit: int = 100) -> tuple[list[User], int]:
    """One page of users in id order, and the number of all users."""
    count = session.scalar(select(func.count()).select_from(User)) or 0
    users = session.scalars(select(User).order_by(User.id).offset(skip).limit(limit)).all()
    return list(users), count


def delete_user(session: Session, user: User) -> None:
    """Delete ``user``; the database deletes their items (ON DELETE CASCADE)."""
    session.delete(user)
    session.commit()


def create_item(session: Session, item_in: ItemCreate) -> Item:
    item = Item(**item_in.model_dump())
    session.add(item)
    session.commit()
    session.refresh(item)
    return item


def list_items(
    session: Session, skip: int = 0, limit: int = 100, owner_id: int | None = None
) -> tuple[list[Item], int]:
    """One page of items in id order, and the number of all items (of ``owner_id``, if given)."""
    count_query = select(func.count()).select_from(Item)
    query = select(Item).order_by(Item.id).offset(skip).limit(limit)
    if owner_id is not None:
        count_query = count_query.where(Item.owner_id == owner_id)
        query = query.where(Item.owner_id == owner_id)
    return list(session.scalars(query).all()), session.scalar(count_query) or 0


def update_item(session: Session, item: Item, item_in: ItemUpdate) -> Item:
    """Set the fields given in ``item_in``; those left out keep their values."""
    for field, value in item_in.model_dump(exclude_unset=True).items():
        setattr(item, field, value)
    session.commit()
    session.refresh(item)
    return item


def delete_item(session: Session, item: Item) -> None:
    session.delete(item)
    session.commit()
