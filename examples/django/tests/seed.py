"""What the data migration (shop 0002) leaves in a freshly migrated database."""

from django.db import connection, models

from shop.models import Category, Customer, Order, Product

CATEGORIES = 5
PRODUCTS = 50
CUSTOMERS = 20
# No orders are seeded and the migrations never take an order id, so on a
# freshly migrated database the first order gets id 1.
FIRST_ORDER_ID = 1


def assert_seeded() -> None:
    """The data migration's rows are all there, and nothing else in the shop."""
    assert Category.objects.count() == CATEGORIES
    assert Product.objects.count() == PRODUCTS
    assert Customer.objects.count() == CUSTOMERS
    assert not Order.objects.exists()


def next_id(model: type[models.Model]) -> int:
    """The id the next row of ``model`` will get, read without taking it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_serial_sequence(%s, %s)", [model._meta.db_table, model._meta.pk.column]
        )
        (sequence,) = cursor.fetchone()
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
        last_value, is_called = cursor.fetchone()
    return last_value + 1 if is_called else last_value


def assert_pristine() -> None:
    """The state migrations leave: the seeded rows, and the order ids not yet started."""
    assert_seeded()
    assert next_id(Order) == FIRST_ORDER_ID
