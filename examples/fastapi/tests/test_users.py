from fastapi.testclient import TestClient

from app.core.config import settings
from tests.utils import create_user, random_email, superuser_id


def test_only_the_superuser_is_seeded(client: TestClient) -> None:
    body = client.get("/users/").json()
    assert body["count"] == 1
    [user] = body["data"]
    assert user["email"] == settings.FIRST_SUPERUSER
    assert user["is_superuser"] is True


def test_create_user(client: TestClient) -> None:
    email = random_email()
    user = create_user(client, email=email, full_name="Ada Lovelace")
    assert user["email"] == email
    assert user["full_name"] == "Ada Lovelace"
    assert user["is_superuser"] is False
    assert "password" not in user
    assert "hashed_password" not in user


def test_created_user_is_listed(client: TestClient) -> None:
    user = create_user(client)
    body = client.get("/users/").json()
    assert body["count"] == 2
    assert [u["email"] for u in body["data"]] == [settings.FIRST_SUPERUSER, user["email"]]


def test_create_user_with_taken_email(client: TestClient) -> None:
    user = create_user(client)
    response = client.post("/users/", json={"email": user["email"], "password": "another-one"})
    assert response.status_code == 400


def test_create_user_with_the_superusers_email(client: TestClient) -> None:
    body = {"email": settings.FIRST_SUPERUSER, "password": "impostor-password"}
    assert client.post("/users/", json=body).status_code == 400


def test_create_user_rejects_a_short_password(client: TestClient) -> None:
    response = client.post("/users/", json={"email": random_email(), "password": "short"})
    assert response.status_code == 422
    assert client.get("/users/").json()["count"] == 1


def test_read_user(client: TestClient) -> None:
    user = create_user(client, full_name="Grace Hopper")
    response = client.get(f"/users/{user['id']}")
    assert response.status_code == 200
    assert response.json() == user


def test_read_the_superuser(client: TestClient) -> None:
    user = client.get(f"/users/{superuser_id(client)}").json()
    assert user["email"] == settings.FIRST_SUPERUSER
    assert user["full_name"] == "Administrator"


def test_read_missing_user(client: TestClient) -> None:
    assert client.get("/users/999999").status_code == 404


def test_delete_user(client: TestClient) -> None:
    user = create_user(client)
    response = client.delete(f"/users/{user['id']}")
    assert response.status_code == 200
    assert client.get(f"/users/{user['id']}").status_code == 404
    assert client.get("/users/").json()["count"] == 1


def test_deleting_a_user_deletes_their_items(client: TestClient) -> None:
    user = create_user(client)
    for n in range(3):
        item = {"title": f"Belonging {n}", "owner_id": user["id"]}
        assert client.post("/items/", json=item).status_code == 200
    assert client.get("/items/").json()["count"] == 203
    assert client.delete(f"/users/{user['id']}").status_code == 200
    assert client.get("/items/", params={"owner_id": user["id"]}).json()["count"] == 0
    assert client.get("/items/").json()["count"] == 200


def test_the_superuser_cannot_be_deleted(client: TestClient) -> None:
    user_id = superuser_id(client)
    assert client.delete(f"/users/{user_id}").status_code == 403
    assert client.get(f"/users/{user_id}").status_code == 200


def test_delete_missing_user(client: TestClient) -> None:
    assert client.delete("/users/999999").status_code == 404
