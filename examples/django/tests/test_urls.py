"""Tests that need no database."""

from django.conf import settings
from django.urls import resolve, reverse

from shop import views


def test_urls() -> None:
    assert reverse("shop:product-list") == "/products/"
    assert reverse("shop:order-detail", args=[7]) == "/orders/7/"
    assert resolve("/orders/7/").func is views.order_detail


def test_the_database_is_postgresql() -> None:
    # Where it is, the test runner decides: pytest-django renames it, pytest-dbsnap
    # points it at a worker's database.
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
