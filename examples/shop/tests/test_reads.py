"""Read-only tests: exact values from the deterministic seed.

Other tests commit new rows (always their own customers, products,
categories and orders), so these tests only assert on what those writes
cannot change: seeded rows, counts limited to seeded ids, and rankings that a
few small test orders cannot enter.
"""

from __future__ import annotations

from datetime import datetime, timezone

import psycopg
import pytest

import shop

UTC = timezone.utc

# The seed's ids: categories 1..12, products 1..1000, customers 1..10000,
# orders 1..40000 (with 100000 order_items).
SEEDED = {
    "categories": (12, 12),
    "products": (1000, 1000),
    "customers": (10000, 10000),
    "orders": (40000, 40000),
    "order_items": (40000, 100000),
}


@pytest.mark.parametrize("table", shop.TABLES)
def test_seeded_row_counts(dbsnap_worker_conn, table: str) -> None:
    max_id, rows = SEEDED[table]
    assert shop.count_rows(dbsnap_worker_conn, table, max_id=max_id) == rows


def test_count_rows_refuses_unknown_table(dbsnap_worker_conn) -> None:
    with pytest.raises(ValueError, match="unknown table"):
        shop.count_rows(dbsnap_worker_conn, "pg_authid")


@pytest.mark.parametrize(
    ("country", "customers"), [("US", 2308), ("DE", 1538), ("GB", 1538), ("JP", 769)]
)
def test_customers_per_country(dbsnap_worker_conn, country: str, customers: int) -> None:
    assert shop.customer_count(dbsnap_worker_conn, country) == customers


def test_total_customers_include_the_seed(dbsnap_worker_conn) -> None:
    # Tests that sign up customers commit them, so only a lower bound holds.
    assert shop.customer_count(dbsnap_worker_conn) >= 10000


def test_get_customer(dbsnap_worker_conn) -> None:
    assert shop.get_customer(dbsnap_worker_conn, 1) == shop.Customer(
        id=1,
        email="customer1@example.com",
        name="Margaret Perlman",
        country="FR",
        created_at=datetime(2023, 2, 17, 0, 13, tzinfo=UTC),
    )
    assert shop.get_customer(dbsnap_worker_conn, 10**12) is None


def test_find_customer_by_email_ignores_case(dbsnap_worker_conn) -> None:
    customer = shop.find_customer_by_email(dbsnap_worker_conn, "CUSTOMER77@Example.COM")
    assert customer is not None
    assert (customer.id, customer.name, customer.country) == (77, "John Perlman", "GB")


def test_customers_without_orders(dbsnap_worker_conn) -> None:
    (count,) = dbsnap_worker_conn.execute(
        "SELECT count(*) FROM customers c WHERE c.id <= 10000"
        " AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)"
    ).fetchone()
    assert count == 485


def test_top_customers(dbsnap_worker_conn) -> None:
    assert shop.top_customers(dbsnap_worker_conn, 5) == [
        shop.CustomerSpend(91, "Ken Wilson", 30, 1328370),
        shop.CustomerSpend(230, "John Torvalds", 28, 1204838),
        shop.CustomerSpend(303, "Sophie Thompson", 23, 1172614),
        shop.CustomerSpend(481, "Alan Allen", 27, 1130390),
        shop.CustomerSpend(16, "Donald Ritchie", 33, 1120502),
    ]


def test_order_status_counts(dbsnap_worker_conn) -> None:
    rows = dbsnap_worker_conn.execute(
        "SELECT status, count(*) FROM orders WHERE id <= 40000 GROUP BY status ORDER BY status"
    ).fetchall()
    assert rows == [("cancelled", 2352), ("paid", 20079), ("pending", 7530), ("shipped", 10039)]


@pytest.mark.parametrize(
    ("order_id", "total_cents"),
    [(1, 71320), (2, 97092), (3, 93068), (17, 108080), (40000, 2138)],
)
def test_order_total(dbsnap_worker_conn, order_id: int, total_cents: int) -> None:
    assert shop.order_total(dbsnap_worker_conn, order_id) == total_cents


def test_get_order(dbsnap_worker_conn) -> None:
    order = shop.get_order(dbsnap_worker_conn, 12345)
    assert (order.customer_id, order.status) == (2455, "pending")
    assert order.created_at == datetime(2024, 6, 27, 22, 15, tzinfo=UTC)
    assert order.lines == (
        shop.OrderLine(243, 3, 4516),
        shop.OrderLine(514, 2, 10565),
        shop.OrderLine(785, 1, 16614),
        shop.OrderLine(972, 4, 17467),
    )
    assert order.total_cents == shop.order_total(dbsnap_worker_conn, 12345) == 121160


def test_unknown_order(dbsnap_worker_conn) -> None:
    with pytest.raises(shop.OrderNotFound):
        shop.order_total(dbsnap_worker_conn, 10**12)
    with pytest.raises(shop.OrderNotFound):
        shop.get_order(dbsnap_worker_conn, 10**12)


def test_get_product(dbsnap_worker_conn) -> None:
    assert shop.get_product(dbsnap_worker_conn, 1) == shop.Product(
        id=1,
        sku="SKU-00001",
        name="Black Clock 1",
        category_id=8,
        price_cents=8118,
        stock=37,
        active=True,
    )
    assert shop.get_product(dbsnap_worker_conn, 10**9) is None


def _seeded(rows: list[shop.CategoryRevenue]) -> list[tuple[str, int, int]]:
    # Tests commit categories of their own; keep the seeded ones (ids 1..12).
    return [(r.name, r.units, r.revenue_cents) for r in rows if r.category_id <= 12]


def test_revenue_by_category(dbsnap_worker_conn) -> None:
    assert _seeded(shop.revenue_by_category(dbsnap_worker_conn)) == [
        ("Toys", 37504, 404060096),
        ("Electronics", 37948, 399649988),
        ("Books", 37492, 336375372),
        ("Home", 18752, 212075784),
        ("Computers", 18750, 205094580),
        ("Sports", 18975, 194045940),
        ("Clothing", 18750, 187848022),
        ("Movies", 18970, 184015786),
        ("Music", 18747, 175555584),
        ("Garden", 6326, 71703192),
        ("Games", 6251, 62657946),
        ("Food", 6247, 58748174),
    ]


def test_revenue_by_category_in_first_quarter(dbsnap_worker_conn) -> None:
    rows = _seeded(
        shop.revenue_by_category(
            dbsnap_worker_conn,
            since=datetime(2024, 1, 1, tzinfo=UTC),
            until=datetime(2024, 4, 1, tzinfo=UTC),
        )
    )
    assert rows[:3] == [
        ("Toys", 9316, 100483052),
        ("Electronics", 9440, 99278464),
        ("Books", 9312, 83936992),
    ]
    assert sum(revenue for _, _, revenue in rows) == 620_006_650


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("revenue", [(692, 452, 9106444), (644, 452, 9055820), (596, 452, 9005196)]),
        ("units", [(48, 456, 141816), (64, 456, 3198840), (80, 456, 6255864)]),
    ],
)
def test_top_products(dbsnap_worker_conn, by, expected: list[tuple[int, int, int]]) -> None:
    top = shop.top_products(dbsnap_worker_conn, 3, by=by)
    assert [(p.product_id, p.units, p.revenue_cents) for p in top] == expected


def test_application_connection(dbsnap_worker) -> None:
    """Application code opens its own connections from the worker's DSN."""
    assert dbsnap_worker.dbname == "shop"
    with psycopg.connect(dbsnap_worker.dsn) as conn:
        assert shop.customer_count(conn, "SE") == 769
        assert shop.order_total(conn, 1) == 71320
