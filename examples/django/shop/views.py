from typing import Any

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from .models import Order, Product


def product_json(product: Product) -> dict[str, Any]:
    return {
        "id": product.pk,
        "name": product.name,
        "sku": product.sku,
        "price": str(product.price),
        "stock": product.stock,
        "category": product.category.name,
    }


@require_GET
def product_list(request: HttpRequest) -> JsonResponse:
    products = Product.objects.select_related("category")
    category = request.GET.get("category")
    if category:
        products = products.filter(category__slug=category)
    return JsonResponse({"products": [product_json(p) for p in products]})


@require_GET
def order_detail(request: HttpRequest, pk: int) -> JsonResponse:
    order = get_object_or_404(Order.objects.select_related("customer"), pk=pk)
    lines = order.lines.select_related("product").order_by("pk")
    return JsonResponse(
        {
            "id": order.pk,
            "customer": order.customer.email,
            "status": order.status,
            "created": order.created.isoformat(),
            "lines": [
                {
                    "sku": line.product.sku,
                    "quantity": line.quantity,
                    "unit_price": str(line.unit_price),
                }
                for line in lines
            ],
            "total": str(order.total()),
        }
    )
