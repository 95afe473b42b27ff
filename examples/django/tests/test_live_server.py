"""The site over HTTP, from pytest-django's live server (a thread of this process).

The live server reads what the test committed, so these tests are transactional
too, with the same markers as ``test_transactional``.
"""

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from pytest_django.live_server_helper import LiveServer

from shop.models import Customer, Product
from shop.services import place_order

from .seed import FIRST_ORDER_ID, PRODUCTS, assert_pristine

pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True, serialized_rollback=True)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_products_over_http(live_server: LiveServer) -> None:
    assert_pristine()
    products = get_json(f"{live_server.url}/products/")["products"]
    assert len(products) == PRODUCTS
    assert {p["category"] for p in products} == {"Books", "Games", "Garden", "Kitchen", "Music"}


def test_one_category_over_http(live_server: LiveServer) -> None:
    assert_pristine()
    products = get_json(f"{live_server.url}/products/?category=kitchen")["products"]
    assert [p["sku"] for p in products] == [f"KIT-{n:03d}" for n in range(1, 11)]


def test_a_committed_order_over_http(
    live_server: LiveServer, customer: Customer, product: Product
) -> None:
    assert_pristine()
    order = place_order(customer, {product.pk: 1})
    assert order.pk == FIRST_ORDER_ID
    data = get_json(f"{live_server.url}/orders/{FIRST_ORDER_ID}/")
    assert data["lines"] == [{"sku": "BOO-001", "quantity": 1, "unit_price": "7.99"}]
    assert get_json(f"{live_server.url}/products/")["products"][0]["stock"] == 4


def test_deleted_products_are_gone_over_http(live_server: LiveServer) -> None:
    assert_pristine()
    Product.objects.all().delete()
    assert get_json(f"{live_server.url}/products/") == {"products": []}


def test_missing_order_over_http(live_server: LiveServer) -> None:
    assert_pristine()
    with pytest.raises(urllib.error.HTTPError) as error:
        get_json(f"{live_server.url}/orders/{FIRST_ORDER_ID}/")
    assert error.value.code == 404
