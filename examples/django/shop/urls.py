from django.urls import path

from . import views

app_name = "shop"

urlpatterns = [
    path("products/", views.product_list, name="product-list"),
    path("orders/<int:pk>/", views.order_detail, name="order-detail"),
]
