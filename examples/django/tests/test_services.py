"""The shop's write paths, in a transaction rolled back at the end."""

import pytest

from shop.models import Customer, Order, Product
from shop.services import OutOfStockError, cancel_order, place_order

pytestmark = pytest.mark.django_db


def test_place_order_takes_the_stock(customer: Customer, product: Product) -> None:
    order = place_order(customer, {product.pk: 3, 50: 10})
    product.refresh_from_db()
    assert product.stock == 2
    assert Product.objects.get(pk=50).stock == 40
    assert order.status == Order.Status.NEW
    assert [(line.product.sku, line.quantity) for line in order.lines.order_by("product")] == [
        ("BOO-001", 3),
        ("MUS-010", 10),
    ]


def test_an_order_beyond_the_stock_is_refused(customer: Customer, product: Product) -> None:
    with pytest.raises(OutOfStockError, match="BOO-001: 6 wanted, 5 in stock"):
        place_order(customer, {product.pk: 6})
    product.refresh_from_db()
    assert product.stock == 5
    assert not Order.objects.exists()


def test_cancel_order_puts_the_stock_back(customer: Customer, product: Product) -> None:
    order = place_order(customer, {product.pk: 5})
    cancel_order(order)
    product.refresh_from_db()
    assert product.stock == 5
    assert Order.objects.get().status == Order.Status.CANCELLED
