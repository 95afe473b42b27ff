"""The views through Django's test client, and the admin."""

import pytest
from django.contrib.auth.models import AbstractUser, Permission
from django.test import Client

from shop.models import Customer, Product
from shop.services import place_order

from .seed import PRODUCTS

pytestmark = pytest.mark.django_db


def test_product_list(client: Client) -> None:
    response = client.get("/products/")
    assert response.status_code == 200
    products = response.json()["products"]
    assert len(products) == PRODUCTS
    assert products[0] == {
        "id": 1,
        "name": "Books item 1",
        "sku": "BOO-001",
        "price": "7.99",
        "stock": 5,
        "category": "Books",
    }


def test_product_list_of_one_category(client: Client) -> None:
    products = client.get("/products/", {"category": "garden"}).json()["products"]
    assert len(products) == 10
    assert {p["category"] for p in products} == {"Garden"}


def test_product_list_is_read_only(client: Client) -> None:
    assert client.post("/products/").status_code == 405


def test_order_detail(client: Client, customer: Customer, product: Product) -> None:
    order = place_order(customer, {product.pk: 2})
    data = client.get(f"/orders/{order.pk}/").json()
    assert data["customer"] == "ada@example.com"
    assert data["lines"] == [{"sku": "BOO-001", "quantity": 2, "unit_price": "7.99"}]
    assert data["total"] == "15.98"


def test_missing_order_is_404(client: Client) -> None:
    assert client.get("/orders/999999/").status_code == 404


def test_admin_lists_the_seeded_products(admin_client: Client) -> None:
    response = admin_client.get("/admin/shop/product/")
    assert response.status_code == 200
    assert f"{PRODUCTS} products" in response.content.decode()


def test_admin_shows_an_order(admin_client: Client, customer: Customer) -> None:
    order = place_order(customer, {1: 1, 2: 1})
    response = admin_client.get(f"/admin/shop/order/{order.pk}/change/")
    assert response.status_code == 200
    assert "ada@example.com" in response.content.decode()


def test_admin_needs_a_login(client: Client) -> None:
    response = client.get("/admin/shop/product/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_with_view_permission_sees_products(
    client: Client, django_user_model: type[AbstractUser]
) -> None:
    user = django_user_model.objects.create_user("clerk", password="s3cret-pass", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_product"))
    client.force_login(user)
    assert client.get("/admin/shop/product/").status_code == 200
    assert client.get("/admin/shop/customer/").status_code == 403


def test_a_user_logs_in(client: Client, django_user_model: type[AbstractUser]) -> None:
    django_user_model.objects.create_user("ada", password="s3cret-pass")
    assert client.login(username="ada", password="s3cret-pass")
    assert not client.login(username="ada", password="wrong")
