"""Tests that write but never commit.

They may change seeded rows freely: ``dbsnap_worker_conn`` is closed when the
test ends, which rolls everything back, and no other connection ever sees the
uncommitted changes.
"""

from __future__ import annotations

import psycopg
import psycopg.errors
import pytest

import shop


def _stock(conn, product_id: int) -> int:
    product = shop.get_product(conn, product_id)
    assert product is not None
    return product.stock


def test_place_order(dbsnap_worker_conn) -> None:
    conn = dbsnap_worker_conn
    # Product 7 costs 156.32 with 9 in stock; product 1 costs 81.18 with 37.
    order_id = shop.place_order(conn, 42, {7: 2, 1: 1})

    order = shop.get_order(conn, order_id)
    assert (order.customer_id, order.status) == (42, "pending")
    assert order.lines == (shop.OrderLine(1, 1, 8118), shop.OrderLine(7, 2, 15632))
    assert shop.order_total(conn, order_id) == 8118 + 2 * 15632
    assert (_stock(conn, 1), _stock(conn, 7)) == (36, 7)
    # Ids continue after the seeded ones.
    assert order_id > 40000


def test_insufficient_stock_writes_nothing(dbsnap_worker_conn) -> None:
    conn = dbsnap_worker_conn
    orders_of_42 = "SELECT count(*) FROM orders WHERE customer_id = 42"
    (orders_before,) = conn.execute(orders_of_42).fetchone()
    # Product 223 has a single item left.
    with pytest.raises(shop.InsufficientStock, match="2 requested, only 1 in stock") as info:
        shop.place_order(conn, 42, {1: 1, 223: 2})
    assert (info.value.product_id, info.value.requested, info.value.available) == (223, 2, 1)
    # Nothing was written and the transaction is still usable.
    assert conn.execute(orders_of_42).fetchone() == (orders_before,)
    assert (_stock(conn, 1), _stock(conn, 223)) == (37, 1)
    shop.place_order(conn, 42, {223: 1})
    assert _stock(conn, 223) == 0


def test_inactive_product_cannot_be_ordered(dbsnap_worker_conn) -> None:
    with pytest.raises(shop.ProductUnavailable):
        shop.place_order(dbsnap_worker_conn, 42, {50: 1})


def test_unknown_product_cannot_be_ordered(dbsnap_worker_conn) -> None:
    with pytest.raises(shop.ProductNotFound) as info:
        shop.place_order(dbsnap_worker_conn, 42, {1: 1, 10**9: 1})
    assert info.value.product_id == 10**9


@pytest.mark.parametrize("items", [{}, {1: 0}, {1: 2, 7: -1}])
def test_order_needs_positive_quantities(dbsnap_worker_conn, items: dict[int, int]) -> None:
    with pytest.raises(ValueError, match=r"at least one item|must be positive"):
        shop.place_order(dbsnap_worker_conn, 42, items)


def test_unknown_customer_violates_foreign_key(dbsnap_worker_conn) -> None:
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        shop.place_order(dbsnap_worker_conn, 10**12, {1: 1})


def test_negative_stock_violates_check(dbsnap_worker_conn) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="products_stock_check"):
        dbsnap_worker_conn.execute("UPDATE products SET stock = stock - 38 WHERE id = 1")


def test_negative_price_violates_check(dbsnap_worker_conn) -> None:
    with pytest.raises(psycopg.errors.CheckViolation, match="products_price_cents_check"):
        shop.create_product(dbsnap_worker_conn, "NEGATIVE-PRICE", "Refund", 1, -1, 1)


def test_email_is_unique_regardless_of_case(dbsnap_worker_conn) -> None:
    with pytest.raises(psycopg.errors.UniqueViolation):
        shop.create_customer(dbsnap_worker_conn, "Customer1@Example.com", "Impostor", "US")


def test_cancel_order_restores_stock(dbsnap_worker_conn) -> None:
    conn = dbsnap_worker_conn
    # Seeded order 1 is paid: 3 x product 107, 2 x 378, 1 x 649, 4 x 836.
    lines = shop.get_order(conn, 1).lines
    before = {line.product_id: _stock(conn, line.product_id) for line in lines}

    shop.cancel_order(conn, 1)

    assert shop.get_order(conn, 1).status == "cancelled"
    assert {line.product_id: _stock(conn, line.product_id) for line in lines} == {
        line.product_id: before[line.product_id] + line.quantity for line in lines
    }
    with pytest.raises(shop.OrderNotCancellable, match="is cancelled"):
        shop.cancel_order(conn, 1)


def test_shipped_order_cannot_be_cancelled(dbsnap_worker_conn) -> None:
    with pytest.raises(shop.OrderNotCancellable, match="order 3 is shipped"):
        shop.cancel_order(dbsnap_worker_conn, 3)
    with pytest.raises(shop.OrderNotFound):
        shop.cancel_order(dbsnap_worker_conn, 10**12)


def test_uncommitted_rename_is_invisible_to_other_connections(
    dbsnap_worker, dbsnap_worker_conn
) -> None:
    shop.rename_product(dbsnap_worker_conn, 1, "Renamed Clock")
    renamed = shop.get_product(dbsnap_worker_conn, 1)
    assert renamed is not None
    assert renamed.name == "Renamed Clock"

    with psycopg.connect(dbsnap_worker.dsn) as other:
        product = shop.get_product(other, 1)
    assert product is not None
    assert product.name == "Black Clock 1"

    with pytest.raises(shop.ProductNotFound):
        shop.rename_product(dbsnap_worker_conn, 10**9, "Nothing")
