"""Model tests in a transaction rolled back at the end (``django_db``)."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError

from shop.models import Category, Customer, Order, OrderLine, Product

from .seed import PRODUCTS, assert_seeded

pytestmark = pytest.mark.django_db


def test_the_data_migration_seeded_the_shop() -> None:
    assert_seeded()


def test_each_category_has_ten_products() -> None:
    counts = dict(Category.objects.annotate(n=Count("products")).values_list("slug", "n"))
    assert counts == {"books": 10, "games": 10, "garden": 10, "kitchen": 10, "music": 10}


def test_seeded_rows_have_the_ids_of_a_fresh_migration() -> None:
    assert Category.objects.get(pk=1).name == "Books"
    assert Product.objects.get(pk=1).sku == "BOO-001"
    assert Product.objects.get(pk=50).sku == "MUS-010"
    assert Customer.objects.get(pk=1).email == "ada@example.com"
    assert Customer.objects.get(pk=20).email == "yukihiro@example.com"


def test_create_a_product() -> None:
    books = Category.objects.get(slug="books")
    Product.objects.create(category=books, name="Novel", sku="BOO-100", price=Decimal("12.50"))
    assert Product.objects.count() == PRODUCTS + 1
    assert books.products.count() == 11


def test_update_stock(product: Product) -> None:
    product.stock = 0
    product.save()
    assert Product.objects.filter(stock=0).get() == product


def test_delete_every_product() -> None:
    Product.objects.all().delete()
    assert not Product.objects.exists()


def test_the_deleted_products_are_back() -> None:
    # The test before deleted them in its own transaction, which was rolled back.
    assert Product.objects.count() == PRODUCTS


def test_a_category_with_products_cannot_be_deleted() -> None:
    with pytest.raises(ProtectedError):
        Category.objects.get(slug="music").delete()


def test_skus_are_unique(product: Product) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Product.objects.create(
            category=product.category, name="Copy", sku=product.sku, price=Decimal(1)
        )
    assert Product.objects.count() == PRODUCTS


def test_order_total(customer: Customer) -> None:
    order = Order.objects.create(customer=customer)
    for pk, quantity in ((1, 2), (2, 1)):
        product = Product.objects.get(pk=pk)
        OrderLine.objects.create(
            order=order, product=product, quantity=quantity, unit_price=product.price
        )
    assert order.total() == Decimal("7.99") * 2 + Decimal("10.99")
