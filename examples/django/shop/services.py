"""The shop's write paths: each runs in one transaction and locks the stock it takes."""

from collections.abc import Mapping

from django.db import transaction

from .models import Customer, Order, OrderLine, Product


class OutOfStockError(Exception):
    def __init__(self, product: Product, wanted: int) -> None:
        super().__init__(f"{product.sku}: {wanted} wanted, {product.stock} in stock")
        self.product = product


@transaction.atomic
def place_order(customer: Customer, quantities: Mapping[int, int]) -> Order:
    """Order ``quantities`` (product id -> quantity), taking them from stock."""
    # Evaluated now: the rows are locked before the order takes its id.
    products = list(Product.objects.select_for_update().filter(pk__in=quantities).order_by("pk"))
    order = Order.objects.create(customer=customer)
    lines = []
    for product in products:
        wanted = quantities[product.pk]
        if wanted > product.stock:
            raise OutOfStockError(product, wanted)
        product.stock -= wanted
        product.save(update_fields=["stock"])
        lines.append(
            OrderLine(order=order, product=product, quantity=wanted, unit_price=product.price)
        )
    OrderLine.objects.bulk_create(lines)
    return order


@transaction.atomic
def cancel_order(order: Order) -> None:
    """Cancel ``order`` and put its quantities back in stock."""
    for line in order.lines.select_related("product").select_for_update():
        line.product.stock += line.quantity
        line.product.save(update_fields=["stock"])
    order.status = Order.Status.CANCELLED
    order.save(update_fields=["status"])
