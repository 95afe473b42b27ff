"""A retailer's back-office catalogue: 36 models, there to give the site a schema
the size of a real project's (its migration and pytest-django's flush cost what
they cost there). The shop's tests do not use them; the tables start empty.
"""

from django.conf import settings
from django.db import models


class TimeStamped(models.Model):
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Named(TimeStamped):
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=32, unique=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


# Places


class Country(Named):
    iso2 = models.CharField(max_length=2, unique=True)


class Region(Named):
    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="regions")


class City(Named):
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="cities")
    postcode_pattern = models.CharField(max_length=50, blank=True)


class Address(TimeStamped):
    city = models.ForeignKey(City, on_delete=models.PROTECT)
    line1 = models.CharField(max_length=200)
    line2 = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=20)

    class Meta:
        indexes = (models.Index(fields=("postcode",)),)


# Suppliers and brands


class Supplier(Named):
    address = models.ForeignKey(Address, on_delete=models.SET_NULL, null=True, blank=True)
    vat_number = models.CharField(max_length=30, blank=True)
    active = models.BooleanField(default=True)


class SupplierContact(TimeStamped):
    supplier = models.ForeignKey(Supplier, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=30, blank=True)


class Manufacturer(Named):
    country = models.ForeignKey(Country, on_delete=models.PROTECT, null=True, blank=True)
    website = models.URLField(blank=True)


class Brand(Named):
    manufacturer = models.ForeignKey(Manufacturer, on_delete=models.PROTECT, related_name="brands")
    logo_url = models.URLField(blank=True)


class Collection(Named):
    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="collections")
    description = models.TextField(blank=True)


class Season(Named):
    starts = models.DateField()
    ends = models.DateField()


# Item properties


class Color(Named):
    hex_value = models.CharField(max_length=7)


class Size(Named):
    sort_order = models.PositiveSmallIntegerField(default=0)


class Material(Named):
    recyclable = models.BooleanField(default=False)


class Attribute(Named):
    class Kind(models.TextChoices):
        TEXT = "text"
        NUMBER = "number"
        BOOLEAN = "boolean"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)


class AttributeValue(TimeStamped):
    attribute = models.ForeignKey(Attribute, on_delete=models.CASCADE, related_name="values")
    value = models.CharField(max_length=200)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("attribute", "value"), name="unique_attribute_value"),
        )


class Tag(Named):
    pass


# Items


class Item(Named):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="items")
    collection = models.ForeignKey(Collection, on_delete=models.SET_NULL, null=True, blank=True)
    season = models.ForeignKey(Season, on_delete=models.SET_NULL, null=True, blank=True)
    material = models.ForeignKey(Material, on_delete=models.SET_NULL, null=True, blank=True)
    description = models.TextField(blank=True)
    published = models.BooleanField(default=False)

    class Meta:
        indexes = (models.Index(fields=("brand", "published")),)


class ItemVariant(TimeStamped):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="variants")
    color = models.ForeignKey(Color, on_delete=models.PROTECT)
    size = models.ForeignKey(Size, on_delete=models.PROTECT)
    barcode = models.CharField(max_length=20, unique=True)
    weight_grams = models.PositiveIntegerField(default=0)


class ItemImage(TimeStamped):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="images")
    url = models.URLField()
    position = models.PositiveSmallIntegerField(default=0)


class ItemAttribute(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="attributes")
    value = models.ForeignKey(AttributeValue, on_delete=models.CASCADE)


class ItemTag(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)

    class Meta:
        constraints = (models.UniqueConstraint(fields=("item", "tag"), name="unique_item_tag"),)


class Review(TimeStamped):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="reviews")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    rating = models.PositiveSmallIntegerField()
    body = models.TextField(blank=True)

    class Meta:
        indexes = (models.Index(fields=("item", "rating")),)


# Prices and taxes


class Currency(Named):
    symbol = models.CharField(max_length=5)
    decimals = models.PositiveSmallIntegerField(default=2)


class ExchangeRate(TimeStamped):
    source = models.ForeignKey(Currency, on_delete=models.CASCADE, related_name="rates_from")
    target = models.ForeignKey(Currency, on_delete=models.CASCADE, related_name="rates_to")
    rate = models.DecimalField(max_digits=14, decimal_places=6)
    valid_on = models.DateField()

    class Meta:
        indexes = (models.Index(fields=("source", "target", "valid_on")),)


class PriceList(Named):
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)


class Price(TimeStamped):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="prices")
    variant = models.ForeignKey(ItemVariant, on_delete=models.CASCADE, related_name="prices")
    amount = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("price_list", "variant"), name="one_price_per_list"),
        )


class TaxClass(Named):
    pass


class TaxRate(TimeStamped):
    tax_class = models.ForeignKey(TaxClass, on_delete=models.CASCADE, related_name="rates")
    country = models.ForeignKey(Country, on_delete=models.CASCADE)
    percent = models.DecimalField(max_digits=5, decimal_places=2)


# Stock


class Warehouse(Named):
    address = models.ForeignKey(Address, on_delete=models.PROTECT)


class Bin(TimeStamped):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="bins")
    label = models.CharField(max_length=20)


class StockLevel(TimeStamped):
    variant = models.ForeignKey(ItemVariant, on_delete=models.CASCADE, related_name="stock")
    bin = models.ForeignKey(Bin, on_delete=models.CASCADE)
    quantity = models.IntegerField(default=0)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("variant", "bin"), name="one_level_per_bin"),
        )


class StockMovement(TimeStamped):
    variant = models.ForeignKey(ItemVariant, on_delete=models.CASCADE)
    source = models.ForeignKey(
        Bin, on_delete=models.SET_NULL, null=True, blank=True, related_name="outgoing"
    )
    target = models.ForeignKey(
        Bin, on_delete=models.SET_NULL, null=True, blank=True, related_name="incoming"
    )
    quantity = models.IntegerField()
    reason = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = (models.Index(fields=("variant", "created")),)


# Purchasing and shipping


class PurchaseOrder(TimeStamped):
    supplier = models.ForeignKey(Supplier, on_delete=models.PROTECT, related_name="orders")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT)
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT)
    reference = models.CharField(max_length=30, unique=True)
    expected_on = models.DateField(null=True, blank=True)


class PurchaseOrderLine(models.Model):
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines"
    )
    variant = models.ForeignKey(ItemVariant, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()
    unit_cost = models.DecimalField(max_digits=10, decimal_places=2)


class Shipment(TimeStamped):
    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="shipments"
    )
    carrier = models.CharField(max_length=50)
    tracking_number = models.CharField(max_length=50, blank=True)
    received_on = models.DateField(null=True, blank=True)


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(PurchaseOrderLine, on_delete=models.PROTECT)
    quantity = models.PositiveIntegerField()
