"""Helpers for the tests: unique emails, and the API calls that several tests make."""

import uuid
from typing import Any

from fastapi.testclient import TestClient

from app.core.config import settings


def random_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def superuser_id(client: TestClient) -> int:
    users: list[dict[str, Any]] = client.get("/users/").json()["data"]
    return next(int(u["id"]) for u in users if u["email"] == settings.FIRST_SUPERUSER)


def create_user(client: TestClient, **fields: object) -> dict[str, Any]:
    """Create a user through the API: a fresh email and a valid password unless given."""
    body = {"email": random_email(), "password": "secret-password", **fields}
    response = client.post("/users/", json=body)
    assert response.status_code == 200, response.text
    user: dict[str, Any] = response.json()
    return user
