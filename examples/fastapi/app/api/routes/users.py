from fastapi import APIRouter, HTTPException, Query

from app import crud
from app.api.deps import SessionDep
from app.models import User
from app.schemas import Message, UserCreate, UserPublic, UsersPublic

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/", response_model=UsersPublic)
def read_users(
    session: SessionDep, skip: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)
) -> UsersPublic:
    users, count = crud.list_users(session, skip=skip, limit=limit)
    return UsersPublic(data=[UserPublic.model_validate(u) for u in users], count=count)


@router.post("/", response_model=UserPublic)
def create_user(session: SessionDep, user_in: UserCreate) -> User:
    if crud.get_user_by_email(session, user_in.email) is not None:
        raise HTTPException(400, "The user with this email already exists in the system.")
    return crud.create_user(session, user_in)


@router.get("/{user_id}", response_model=UserPublic)
def read_user(session: SessionDep, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, "User not found")
    return user


@router.delete("/{user_id}", response_model=Message)
def delete_user(session: SessionDep, user_id: int) -> Message:
    """Delete a user and their items. Superusers cannot be deleted through the API."""
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(404, "User not found")
    if user.is_superuser:
        raise HTTPException(403, "Superusers cannot be deleted")
    crud.delete_user(session, user)
    return Message(message="User deleted successfully")
