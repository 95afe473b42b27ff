from fastapi import APIRouter, HTTPException, Query

from app import crud
from app.api.deps import SessionDep
from app.models import Item, User
from app.schemas import ItemCreate, ItemPublic, ItemsPublic, ItemUpdate, Message

router = APIRouter(prefix="/items", tags=["items"])


@router.get("/", response_model=ItemsPublic)
def read_items(
    session: SessionDep,
    skip: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=1000),
    owner_id: int | None = None,
) -> ItemsPublic:
    items, count = crud.list_items(session, skip=skip, limit=limit, owner_id=owner_id)
    return ItemsPublic(data=[ItemPublic.model_validate(i) for i in items], count=count)


@router.post("/", response_model=ItemPublic)
def create_item(session: SessionDep, item_in: ItemCreate) -> Item:
    if session.get(User, item_in.owner_id) is None:
        raise HTTPException(404, "Owner not found")
    return crud.create_item(session, item_in)


@router.put("/{item_id}", response_model=ItemPublic)
def update_item(session: SessionDep, item_id: int, item_in: ItemUpdate) -> Item:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(404, "Item not found")
    return crud.update_item(session, item, item_in)


@router.delete("/{item_id}", response_model=Message)
def delete_item(session: SessionDep, item_id: int) -> Message:
    item = session.get(Item, item_id)
    if item is None:
        raise HTTPException(404, "Item not found")
    crud.delete_item(session, item)
    return Message(message="Item deleted successfully")
