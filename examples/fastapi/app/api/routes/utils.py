from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import SessionDep

router = APIRouter(tags=["utils"])


@router.get("/health")
def health(session: SessionDep) -> dict[str, str]:
    """Answer once the database answers ``SELECT 1``."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
