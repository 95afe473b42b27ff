from typing import Any

from fastapi.testclient import TestClient

from app.initial_data import SEED_ITEM_COUNT
from tests.utils import superuser_id


def seeded_item(client: TestClient, n: int) -> dict[str, Any]:
    """The n-th seeded item (1-based), found by its title."""
    items = client.get("/items/", params={"limit": 1000}).json()["data"]
    return next(i for i in items if i["title"] == f"Seed item {n:03d}")


def test_exactly_the_seeded_items_exist(client: TestClient) -> None:
    body = client.get("/items/", params={"limit": 1000}).json()
    assert body["count"] == SEED_ITEM_COUNT == 200
    assert [i["title"] for i in body["data"]] == [f"Seed item {n:03d}" for n in range(1, 201)]


def test_the_superuser_owns_the_seeded_items(client: TestClient) -> None:
    body = client.get("/items/", params={"owner_id": superuser_id(client)}).json()
    assert body["count"] == 200


def test_items_are_paginated(client: TestClient) -> None:
    first = client.get("/items/", params={"limit": 50}).json()
    last = client.get("/items/", params={"skip": 190, "limit": 50}).json()
    assert len(first["data"]) == 50
    assert len(last["data"]) == 10
    assert first["count"] == last["count"] == 200


def test_seeded_item_is_intact(client: TestClient) -> None:
    item = seeded_item(client, 1)
    assert item["description"] == "A green chair"


def test_create_item(client: TestClient) -> None:
    body = {"title": "Teapot", "description": "Porcelain", "owner_id": superuser_id(client)}
    response = client.post("/items/", json=body)
    assert response.status_code == 200
    item = response.json()
    assert item["title"] == "Teapot"
    assert item["created_at"]
    assert client.get("/items/").json()["count"] == 201


def test_create_item_for_a_missing_owner(client: TestClient) -> None:
    response = client.post("/items/", json={"title": "Orphan", "owner_id": 999999})
    assert response.status_code == 404
    assert client.get("/items/").json()["count"] == 200


def test_update_item(client: TestClient) -> None:
    created = client.post("/items/", json={"title": "Kettle", "owner_id": superuser_id(client)})
    item_id = created.json()["id"]
    response = client.put(f"/items/{item_id}", json={"title": "Electric kettle"})
    assert response.status_code == 200
    assert response.json()["title"] == "Electric kettle"


def test_update_seeded_item_description_only(client: TestClient) -> None:
    item = seeded_item(client, 7)
    response = client.put(f"/items/{item['id']}", json={"description": "Repainted"})
    assert response.status_code == 200
    assert response.json()["title"] == "Seed item 007"
    assert seeded_item(client, 7)["description"] == "Repainted"


def test_rename_the_first_seeded_item(client: TestClient) -> None:
    item = seeded_item(client, 1)
    response = client.put(f"/items/{item['id']}", json={"title": "Renamed"})
    assert response.json()["title"] == "Renamed"


def test_update_item_title_cannot_be_null(client: TestClient) -> None:
    item = seeded_item(client, 2)
    assert client.put(f"/items/{item['id']}", json={"title": None}).status_code == 422


def test_update_missing_item(client: TestClient) -> None:
    assert client.put("/items/999999", json={"title": "Ghost"}).status_code == 404


def test_delete_seeded_item(client: TestClient) -> None:
    item = seeded_item(client, 100)
    assert client.delete(f"/items/{item['id']}").status_code == 200
    assert client.get("/items/").json()["count"] == 199


def test_delete_missing_item(client: TestClient) -> None:
    assert client.delete("/items/999999").status_code == 404
