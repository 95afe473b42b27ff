"""Tests that commit.

The database of a pytest-xdist worker is shared by every test that runs in
that worker, so what these tests commit stays there for the tests after them.
They therefore only touch rows they create themselves (see the
``own_catalogue`` fixture in conftest.py), with unique names, in quantities
too small to enter any ranking that test_reads.py checks.
"""

from __future__ import annotations

import psycopg
import psycopg.errors
import pytest

import shop

TEST_COUNTRY = "ZZ"  # as in conftest.py: the seed has no customer there


def _stock(conn, product_id: int) -> int:
    product = shop.get_product(conn, product_id)
    assert product is not None
    return product.stock


def test_signup_is_committed(dbsnap_worker, dbsnap_worker_conn, unique: str) -> None:
    email = f"signup-{unique}@example.org"
    # Application code: its own connection, committed when the block ends.
    with psycopg.connect(dbsnap_worker.dsn) as conn:
        customer_id = shop.create_customer(conn, email, "New Customer", TEST_COUNTRY)
    # Ids continue after the seeded customers.
    assert customer_id > 10000

    # The fixture's connection sees the committed row.
    customer = shop.find_customer_by_email(dbsnap_worker_conn, email.upper())
    assert customer is not None
    assert (customer.id, customer.name, customer.country) == (
        customer_id,
        "New Customer",
        TEST_COUNTRY,
    )


def test_commit_on_fixture_connection(dbsnap_worker, dbsnap_worker_conn, own_catalogue) -> None:
    new_name = f"Renamed {own_catalogue.sku}"
    shop.rename_product(dbsnap_worker_conn, own_catalogue.product_id, new_name)
    dbsnap_worker_conn.commit()

    with psycopg.connect(dbsnap_worker.dsn) as other:
        product = shop.get_product(other, own_catalogue.product_id)
    assert product is not None
    assert product.name == new_name


def test_order_lifecycle(dbsnap_worker, dbsnap_worker_conn, own_catalogue) -> None:
    product_id = own_catalogue.product_id  # 5 in stock at 250 cents

    def category_sales() -> tuple[int, int]:
        rows = shop.revenue_by_category(dbsnap_worker_conn)
        (mine,) = [r for r in rows if r.category_id == own_catalogue.category_id]
        return mine.units, mine.revenue_cents

    with psycopg.connect(dbsnap_worker.dsn) as conn:
        order_id = shop.place_order(conn, own_catalogue.customer_id, {product_id: 2})

    assert shop.order_total(dbsnap_worker_conn, order_id) == 500
    assert _stock(dbsnap_worker_conn, product_id) == 3
    assert category_sales() == (2, 500)

    with psycopg.connect(dbsnap_worker.dsn) as conn:
        shop.cancel_order(conn, order_id)

    assert shop.get_order(dbsnap_worker_conn, order_id).status == "cancelled"
    assert _stock(dbsnap_worker_conn, product_id) == 5
    assert category_sales() == (0, 0)


def test_competing_orders_cannot_oversell(dbsnap_worker, own_catalogue) -> None:
    """Two connections race for the same product: the second one waits for the
    first one's row lock, then sees the stock the first one left."""
    product_id, customer_id = own_catalogue.product_id, own_catalogue.customer_id
    with (
        psycopg.connect(dbsnap_worker.dsn) as first,
        psycopg.connect(dbsnap_worker.dsn) as second,
    ):
        shop.place_order(first, customer_id, {product_id: 3})  # locks the product

        second.execute("SET lock_timeout = '200ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            shop.place_order(second, customer_id, {product_id: 3})
        second.rollback()

        first.commit()
        with pytest.raises(shop.InsufficientStock) as info:
            shop.place_order(second, customer_id, {product_id: 3})
        assert (info.value.requested, info.value.available) == (3, 2)
        second.rollback()

    with psycopg.connect(dbsnap_worker.dsn) as conn:
        assert _stock(conn, product_id) == 2
