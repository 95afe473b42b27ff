"""Tests that commit (``transaction=True``): Django empties the tables after each.

So that each of them starts from the state migrations left, they ask for
``serialized_rollback`` (the seeded rows are saved once when the test database
is made, and loaded again before each test) and ``reset_sequences`` (every id
sequence back to 1: the order ids start where migrations left them).
"""

import threading

import pytest
from django.db import connection

from shop.models import Category, Customer, Order, Product
from shop.services import OutOfStockError, cancel_order, place_order

from .seed import CATEGORIES, FIRST_ORDER_ID, assert_pristine, next_id

pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True, serialized_rollback=True)


def test_the_first_order_gets_the_first_id(customer: Customer, product: Product) -> None:
    assert_pristine()
    order = place_order(customer, {product.pk: 2})
    assert order.pk == FIRST_ORDER_ID
    assert Product.objects.get(pk=product.pk).stock == 3


def test_orders_are_numbered_in_turn(customer: Customer) -> None:
    assert_pristine()
    ids = [place_order(customer, {pk: 1}).pk for pk in (1, 2, 3)]
    assert ids == [FIRST_ORDER_ID, FIRST_ORDER_ID + 1, FIRST_ORDER_ID + 2]


def test_a_refused_order_still_takes_an_id(customer: Customer, product: Product) -> None:
    assert_pristine()
    with pytest.raises(OutOfStockError):
        place_order(customer, {product.pk: 100})
    # Its transaction was rolled back, but a sequence is not transactional.
    assert not Order.objects.exists()
    assert next_id(Order) == FIRST_ORDER_ID + 1


def test_delete_every_product() -> None:
    assert_pristine()
    Product.objects.all().delete()
    assert not Product.objects.exists()
    assert Category.objects.count() == CATEGORIES


def test_deleting_customers_deletes_their_orders(customer: Customer) -> None:
    assert_pristine()
    assert place_order(customer, {1: 1}).pk == FIRST_ORDER_ID
    Customer.objects.all().delete()
    assert not Order.objects.exists()
    assert Product.objects.get(pk=1).stock == 4


def test_cancel_after_commit(customer: Customer, product: Product) -> None:
    assert_pristine()
    order = place_order(customer, {product.pk: 5})
    assert order.pk == FIRST_ORDER_ID
    cancel_order(Order.objects.get(pk=order.pk))
    assert Product.objects.get(pk=product.pk).stock == 5


def test_two_buyers_race_for_the_last_one(customer: Customer, product: Product) -> None:
    assert_pristine()
    Product.objects.filter(pk=product.pk).update(stock=1)
    start = threading.Barrier(2)
    results: list[Order | OutOfStockError] = []

    def buy() -> None:
        try:
            start.wait()
            results.append(place_order(customer, {product.pk: 1}))
        except OutOfStockError as refused:
            results.append(refused)
        finally:
            connection.close()  # each thread has its own connection

    buyers = [threading.Thread(target=buy) for _ in range(2)]
    for buyer in buyers:
        buyer.start()
    for buyer in buyers:
        buyer.join(timeout=30)

    orders = [r for r in results if isinstance(r, Order)]
    assert len(results) == 2
    assert len(orders) == 1
    # The loser waits for the winner's row lock, so the winner took the first id.
    assert orders[0].pk == FIRST_ORDER_ID
    assert Product.objects.get(pk=product.pk).stock == 0
