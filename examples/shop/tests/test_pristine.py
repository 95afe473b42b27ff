"""Tests that change anything they like: each gets its own pristine database.

``dbsnap_conn`` and ``dbsnap_db`` are a copy of the seeded database made for
this test alone, so these tests commit destructive changes, through the
fixture's connection or through the application's own, and still every test
starts from exactly the seeded state.
"""

from __future__ import annotations

import psycopg
import pytest

import shop

SEEDED_COUNTS = {
    "categories": 12,
    "products": 1000,
    "customers": 10000,
    "orders": 40000,
    "order_items": 100000,
}


def assert_seeded(conn: psycopg.Connection) -> None:
    for table, rows in SEEDED_COUNTS.items():
        assert shop.count_rows(conn, table) == rows, table


def test_every_test_starts_from_the_seed(dbsnap_conn) -> None:
    assert_seeded(dbsnap_conn)
    assert shop.customer_count(dbsnap_conn) == 10000


def test_wiping_the_orders_is_committed_and_harmless(dbsnap_conn) -> None:
    assert_seeded(dbsnap_conn)
    dbsnap_conn.execute("TRUNCATE order_items, orders")
    dbsnap_conn.commit()
    assert shop.count_rows(dbsnap_conn, "orders") == 0


def test_schema_changes_are_committed_and_harmless(dbsnap_conn) -> None:
    assert_seeded(dbsnap_conn)
    dbsnap_conn.execute("ALTER TABLE customers DROP COLUMN country")
    dbsnap_conn.execute("DROP VIEW order_totals")
    dbsnap_conn.commit()


def test_the_application_commits_through_its_own_connections(dbsnap_dsn: str) -> None:
    with psycopg.connect(dbsnap_dsn) as conn:
        assert_seeded(conn)
        customer = shop.create_customer(conn, "ada@example.com", "Ada", "GB")
        order = shop.place_order(conn, customer, {1: 1})
        conn.commit()
    with psycopg.connect(dbsnap_dsn) as other:
        assert shop.order_total(other, order) > 0
        assert shop.customer_count(other) == 10001


@pytest.mark.parametrize("n", range(4))
def test_renaming_every_product(dbsnap_conn, n: int) -> None:
    assert_seeded(dbsnap_conn)
    product = shop.get_product(dbsnap_conn, 1)
    assert product is not None
    assert not product.name.startswith("renamed")
    dbsnap_conn.execute("UPDATE products SET name = 'renamed ' || id")
    dbsnap_conn.commit()


def test_connections_left_open_do_not_matter(dbsnap_dsn: str) -> None:
    conn = psycopg.connect(dbsnap_dsn)
    conn.execute("DELETE FROM order_items WHERE order_id < 100")
    # Neither committed nor closed: the pool terminates it after the test.


@pytest.mark.dbsnap(scope="module")
def test_a_module_scoped_database_is_shared_by_the_module(dbsnap_db) -> None:
    with dbsnap_db.connect() as conn:
        assert_seeded(conn)
