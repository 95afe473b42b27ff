"""The database engine, built from the settings when this module is imported."""

from collections.abc import Iterator

from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import settings

engine = create_engine(settings.url, pool_pre_ping=True)
SessionLocal = sessionmaker(bind=engine)


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session per request, closed when the response is sent."""
    with SessionLocal() as session:
        yield session
