import pytest

from shop.models import Customer, Product


@pytest.fixture
def customer() -> Customer:
    """The first seeded customer."""
    return Customer.objects.get(email="ada@example.com")


@pytest.fixture
def product() -> Product:
    """The first seeded product: BOO-001, 5 in stock at 7.99."""
    return Product.objects.get(sku="BOO-001")
