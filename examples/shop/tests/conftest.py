"""Helpers shared by the shop tests.

The database fixtures themselves (``dbsnap_worker`` and ``dbsnap_worker_conn``)
come from pytest-dbsnap. Every pytest-xdist worker has its own database, but
all the tests that run in one worker share it, in any order. So a test that
commits only ever touches rows it has created itself, under names no other
test uses; everything else the tests write is left uncommitted and rolled
back when ``dbsnap_worker_conn`` closes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
import pytest

import shop

#: Country code given to every customer a test creates; the seed has none.
TEST_COUNTRY = "ZZ"


@dataclass(frozen=True)
class Catalogue:
    """A category, a product and a customer of one test's own."""

    category_id: int
    product_id: int
    customer_id: int
    sku: str


@pytest.fixture
def unique() -> str:
    """A short random suffix for names that must be unique."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def own_catalogue(dbsnap_worker, unique: str) -> Catalogue:
    """Commit a category, a product (5 in stock at 2.50) and a customer that
    belong to the requesting test alone, the way application code would: on a
    connection of its own, committed when the ``with`` block ends."""
    sku = f"TEST-{unique.upper()}"
    with psycopg.connect(dbsnap_worker.dsn) as conn:
        category_id = shop.create_category(conn, f"Test category {unique}")
        product_id = shop.create_product(
            conn, sku, f"Test product {unique}", category_id, price_cents=250, stock=5
        )
        customer_id = shop.create_customer(
            conn, f"test-{unique}@example.org", f"Test customer {unique}", TEST_COUNTRY
        )
    return Catalogue(category_id, product_id, customer_id, sku)
