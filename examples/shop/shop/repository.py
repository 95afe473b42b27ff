"""Data access for the shop: plain functions that take a psycopg connection.

Transactions belong to the caller. None of these functions commits or rolls
back: a function that writes runs its statements in the connection's current
transaction, and the caller makes the work durable with ``conn.commit()`` (or
a ``with conn.transaction():`` block, or ``with psycopg.connect(...) as
conn:``, which commits when the block ends without an error).

A function that refuses a request because of the data (not enough stock, an
order that has already shipped...) raises a :class:`ShopError` before it has
written anything, so the transaction is still usable afterwards. Errors that
PostgreSQL raises itself (for example an unknown customer id, which violates
a foreign key) come through as ``psycopg.errors`` exceptions and leave the
transaction aborted: the caller must roll back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from psycopg import Connection, sql
from psycopg.rows import class_row, scalar_row

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from typing_extensions import LiteralString

    Query = LiteralString | sql.SQL | sql.Composed

#: The application's tables, in an order that respects their foreign keys.
TABLES = ("categories", "products", "customers", "orders", "order_items")


# --------------------------------------------------------------------------
# Errors


class ShopError(Exception):
    """A request that the shop refuses because of its data."""


class ProductNotFound(ShopError):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"product {product_id} does not exist")
        self.product_id = product_id


class ProductUnavailable(ShopError):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"product {product_id} is no longer sold")
        self.product_id = product_id


class InsufficientStock(ShopError):
    def __init__(self, product_id: int, requested: int, available: int) -> None:
        super().__init__(f"product {product_id}: {requested} requested, only {available} in stock")
        self.product_id = product_id
        self.requested = requested
        self.available = available


class OrderNotFound(ShopError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} does not exist")
        self.order_id = order_id


class OrderNotCancellable(ShopError):
    def __init__(self, order_id: int, status: str) -> None:
        super().__init__(f"order {order_id} is {status} and cannot be cancelled")
        self.order_id = order_id
        self.status = status


# --------------------------------------------------------------------------
# Records


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    email: str
    name: str
    country: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Product:
    id: int
    sku: str
    name: str
    category_id: int
    price_cents: int
    stock: int
    active: bool


@dataclass(frozen=True, slots=True)
class OrderLine:
    product_id: int
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    customer_id: int
    status: str
    created_at: datetime
    lines: tuple[OrderLine, ...]

    @property
    def total_cents(self) -> int:
        return sum(line.quantity * line.unit_price_cents for line in self.lines)


@dataclass(frozen=True, slots=True)
class CustomerSpend:
    customer_id: int
    name: str
    orders: int
    spent_cents: int


@dataclass(frozen=True, slots=True)
class CategoryRevenue:
    category_id: int
    name: str
    units: int
    revenue_cents: int


@dataclass(frozen=True, slots=True)
class ProductSales:
    product_id: int
    name: str
    units: int
    revenue_cents: int


# Every function accepts a connection with any row factory: each one opens its
# own cursor with the row factory it needs.
Conn = Connection[Any]


def _scalar(conn: Conn, query: Query, params: Any = None) -> Any:
    """First column of the first row of ``query`` (None without a row)."""
    with conn.cursor(row_factory=scalar_row) as cur:
        cur.execute(query, params)
        return cur.fetchone()


# --------------------------------------------------------------------------
# Customers


def customer_count(conn: Conn, country: str | None = None) -> int:
    """Number of customers, optionally only those of one country (ISO code)."""
    if country is None:
        count = _scalar(conn, "SELECT count(*) FROM customers")
    else:
        count = _scalar(conn, "SELECT count(*) FROM customers WHERE country = %s", (country,))
    return int(count)


def get_customer(conn: Conn, customer_id: int) -> Customer | None:
    with conn.cursor(row_factory=class_row(Customer)) as cur:
        cur.execute(
            "SELECT id, email, name, country, created_at FROM customers WHERE id = %s",
            (customer_id,),
        )
        return cur.fetchone()


def find_customer_by_email(conn: Conn, email: str) -> Customer | None:
    """The customer with this e-mail address, compared without regard to case."""
    with conn.cursor(row_factory=class_row(Customer)) as cur:
        cur.execute(
            "SELECT id, email, name, country, created_at FROM customers"
            " WHERE lower(email) = lower(%s)",
            (email,),
        )
        return cur.fetchone()


def create_customer(conn: Conn, email: str, name: str, country: str) -> int:
    """Insert a customer and return its id.

    A duplicate e-mail address raises ``psycopg.errors.UniqueViolation``.
    """
    new_id = _scalar(
        conn,
        "INSERT INTO customers (email, name, country) VALUES (%s, %s, %s) RETURNING id",
        (email, name, country),
    )
    return int(new_id)


def top_customers(conn: Conn, n: int) -> list[CustomerSpend]:
    """The ``n`` customers who spent the most on orders that were not cancelled.

    Ties are broken by customer id.
    """
    with conn.cursor(row_factory=class_row(CustomerSpend)) as cur:
        cur.execute(
            """
            SELECT c.id AS customer_id, c.name,
                   count(*)::int AS orders,
                   sum(t.total_cents)::bigint AS spent_cents
            FROM order_totals t
            JOIN customers c ON c.id = t.customer_id
            WHERE t.status <> 'cancelled'
            GROUP BY c.id
            ORDER BY spent_cents DESC, c.id
            LIMIT %s
            """,
            (n,),
        )
        return cur.fetchall()


# --------------------------------------------------------------------------
# Catalogue


def create_category(conn: Conn, name: str) -> int:
    return int(_scalar(conn, "INSERT INTO categories (name) VALUES (%s) RETURNING id", (name,)))


def create_product(
    conn: Conn,
    sku: str,
    name: str,
    category_id: int,
    price_cents: int,
    stock: int,
) -> int:
    """Insert a product and return its id.

    Constraint violations (a negative price or stock, an unknown category, a
    duplicate SKU) come through as ``psycopg.errors`` exceptions.
    """
    new_id = _scalar(
        conn,
        "INSERT INTO products (sku, name, category_id, price_cents, stock)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (sku, name, category_id, price_cents, stock),
    )
    return int(new_id)


def get_product(conn: Conn, product_id: int) -> Product | None:
    with conn.cursor(row_factory=class_row(Product)) as cur:
        cur.execute(
            "SELECT id, sku, name, category_id, price_cents, stock, active"
            " FROM products WHERE id = %s",
            (product_id,),
        )
        return cur.fetchone()


def rename_product(conn: Conn, product_id: int, new_name: str) -> None:
    with conn.cursor() as cur:
        cur.execute("UPDATE products SET name = %s WHERE id = %s", (new_name, product_id))
        if cur.rowcount == 0:
            raise ProductNotFound(product_id)


# --------------------------------------------------------------------------
# Orders


def get_order(conn: Conn, order_id: int) -> Order:
    with conn.cursor() as cur:
        cur.execute("SELECT customer_id, status, created_at FROM orders WHERE id = %s", (order_id,))
        head = cur.fetchone()
        if head is None:
            raise OrderNotFound(order_id)
    with conn.cursor(row_factory=class_row(OrderLine)) as lines:
        lines.execute(
            "SELECT product_id, quantity, unit_price_cents FROM order_items"
            " WHERE order_id = %s ORDER BY product_id",
            (order_id,),
        )
        return Order(
            id=order_id,
            customer_id=head[0],
            status=head[1],
            created_at=head[2],
            lines=tuple(lines.fetchall()),
        )


def order_total(conn: Conn, order_id: int) -> int:
    """Total of an order in cents (0 for an order without lines)."""
    total = _scalar(conn, "SELECT total_cents FROM order_totals WHERE order_id = %s", (order_id,))
    if total is None:
        raise OrderNotFound(order_id)
    return int(total)


def place_order(conn: Conn, customer_id: int, items: Mapping[int, int]) -> int:
    """Place an order of ``items`` (product id -> quantity) and return its id.

    The products are locked, checked and only then written to: on
    :class:`ProductNotFound`, :class:`ProductUnavailable` or
    :class:`InsufficientStock` nothing has been written. Otherwise the order,
    its lines (at the products' current prices) and the stock decrements are
    written in the caller's transaction, which the caller commits. An unknown
    ``customer_id`` raises ``psycopg.errors.ForeignKeyViolation``.
    """
    if not items:
        raise ValueError("an order needs at least one item")
    for product_id, quantity in items.items():
        if quantity <= 0:
            raise ValueError(f"quantity of product {product_id} must be positive")
    product_ids = sorted(items)
    quantities = [items[p] for p in product_ids]

    with conn.cursor(row_factory=class_row(Product)) as cur:
        # Lock in id order so that concurrent orders cannot deadlock.
        cur.execute(
            "SELECT id, sku, name, category_id, price_cents, stock, active"
            " FROM products WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
            (product_ids,),
        )
        found = {product.id: product for product in cur.fetchall()}
    for product_id, quantity in zip(product_ids, quantities, strict=True):
        product = found.get(product_id)
        if product is None:
            raise ProductNotFound(product_id)
        if not product.active:
            raise ProductUnavailable(product_id)
        if product.stock < quantity:
            raise InsufficientStock(product_id, quantity, product.stock)

    order_id = int(
        _scalar(
            conn,
            "INSERT INTO orders (customer_id) VALUES (%s) RETURNING id",
            (customer_id,),
        )
    )
    with conn.cursor() as cur:
        cur.execute(
            """
            INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents)
            SELECT %s, p.id, i.quantity, p.price_cents
            FROM unnest(%s::int[], %s::int[]) AS i (product_id, quantity)
            JOIN products p ON p.id = i.product_id
            """,
            (order_id, product_ids, quantities),
        )
        cur.execute(
            """
            UPDATE products p SET stock = p.stock - i.quantity
            FROM unnest(%s::int[], %s::int[]) AS i (product_id, quantity)
            WHERE p.id = i.product_id
            """,
            (product_ids, quantities),
        )
    return order_id


def cancel_order(conn: Conn, order_id: int) -> None:
    """Cancel a pending or paid order and put its items back in stock."""
    status = _scalar(conn, "SELECT status FROM orders WHERE id = %s FOR UPDATE", (order_id,))
    if status is None:
        raise OrderNotFound(order_id)
    if status not in ("pending", "paid"):
        raise OrderNotCancellable(order_id, status)
    with conn.cursor() as cur:
        cur.execute("UPDATE orders SET status = 'cancelled' WHERE id = %s", (order_id,))
        cur.execute(
            """
            UPDATE products p SET stock = p.stock + i.quantity
            FROM order_items i
            WHERE i.order_id = %s AND p.id = i.product_id
            """,
            (order_id,),
        )


# --------------------------------------------------------------------------
# Reports


def revenue_by_category(
    conn: Conn, since: datetime | None = None, until: datetime | None = None
) -> list[CategoryRevenue]:
    """Units sold and revenue per category, from orders that were not cancelled.

    ``since`` is inclusive and ``until`` exclusive; both compare with the
    orders' ``created_at``. Every category is listed, with zeros where nothing
    was sold, highest revenue first (then by name).
    """
    with conn.cursor(row_factory=class_row(CategoryRevenue)) as cur:
        cur.execute(
            """
            SELECT c.id AS category_id, c.name,
                   COALESCE(sum(s.quantity), 0)::bigint AS units,
                   COALESCE(sum(s.quantity * s.unit_price_cents), 0)::bigint AS revenue_cents
            FROM categories c
            LEFT JOIN (
                SELECT p.category_id, i.quantity, i.unit_price_cents
                FROM order_items i
                JOIN orders o ON o.id = i.order_id
                JOIN products p ON p.id = i.product_id
                WHERE o.status <> 'cancelled'
                  AND (%(since)s::timestamptz IS NULL OR o.created_at >= %(since)s)
                  AND (%(until)s::timestamptz IS NULL OR o.created_at < %(until)s)
            ) s ON s.category_id = c.id
            GROUP BY c.id
            ORDER BY revenue_cents DESC, c.name
            """,
            {"since": since, "until": until},
        )
        return cur.fetchall()


_PRODUCT_RANKINGS = {"units": "units", "revenue": "revenue_cents"}


def top_products(
    conn: Conn, n: int, by: Literal["units", "revenue"] = "revenue"
) -> list[ProductSales]:
    """The ``n`` best-selling products by units or by revenue (ties by id),
    counting orders that were not cancelled."""
    if by not in _PRODUCT_RANKINGS:
        raise ValueError(f"cannot rank products by {by!r}")
    query = sql.SQL(
        """
        SELECT p.id AS product_id, p.name,
               sum(i.quantity)::bigint AS units,
               sum(i.quantity * i.unit_price_cents)::bigint AS revenue_cents
        FROM order_items i
        JOIN orders o ON o.id = i.order_id
        JOIN products p ON p.id = i.product_id
        WHERE o.status <> 'cancelled'
        GROUP BY p.id
        ORDER BY {column} DESC, p.id
        LIMIT {limit}
        """
    ).format(column=sql.Identifier(_PRODUCT_RANKINGS[by]), limit=sql.Literal(n))
    with conn.cursor(row_factory=class_row(ProductSales)) as cur:
        cur.execute(query)
        return cur.fetchall()


def count_rows(conn: Conn, table: str, max_id: int | None = None) -> int:
    """Rows in one of the application's :data:`TABLES`.

    With ``max_id``, only rows whose id (``order_id`` for ``order_items``) is
    at most ``max_id`` are counted.
    """
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}")
    query = sql.SQL("SELECT count(*) FROM {table}").format(table=sql.Identifier(table))
    if max_id is not None:
        id_column = "order_id" if table == "order_items" else "id"
        query = sql.SQL("{query} WHERE {column} <= {max_id}").format(
            query=query, column=sql.Identifier(id_column), max_id=sql.Literal(max_id)
        )
    return int(_scalar(conn, query))
