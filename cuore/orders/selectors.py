"""Reads on the catalogue (categories, products) and on orders, shipments and returns, scoped to the actor.

Orders have no owner of their own: a sales rep sees an order when its contact or its account is theirs
or their team's, so the TEAM scope goes through the customer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Min, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from cuore.contacts.models import Account, Contact
from cuore.contacts.selectors import account_visible, contact_visible
from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.normalize import text_key
from cuore.core.pagination import prefix_q
from cuore.core.visibility import require_read, scope_queryset
from cuore.orders.models import Category, Order, OrderLine, OrderStatus, Product, Return, ReturnLine, Shipment

CENT = Decimal("0.01")
ORDER_OWNER_PATHS = ("contact__owner", "account__owner")
ORDER_TEAM_PATHS = ("contact__team", "account__team")


# ---- categories ----------------------------------------------------------------------------------


def category_list(
    *, actor: Any, parent_id: int | None = None, roots: bool = False, q: str | None = None
) -> QuerySet[Category]:
    """Return the categories, optionally only the top ones, the children of one, or those named like ``q``."""
    require_read(actor, "catalog")
    categories = Category.objects.all()
    if roots:
        categories = categories.filter(parent__isnull=True)
    if parent_id is not None:
        categories = categories.filter(parent_id=parent_id)
    if q and q.strip():
        text = q.strip()
        categories = categories.filter(name__istartswith=text)
    return categories


def category_get_for_actor(*, actor: Any, category_id: int) -> Category:
    require_read(actor, "catalog")
    category = Category.objects.filter(pk=category_id).first()
    if category is None:
        raise NotFound("category")
    return category


@dataclass(frozen=True)
class CategoryNode:
    """A category in the depth-first walk of the tree, with its depth and the names from the root."""

    id: int
    name: str
    parent_id: int | None
    depth: int
    path: str


def category_tree(*, actor: Any) -> list[CategoryNode]:
    """Return the whole tree depth first, children by name, in one query."""
    require_read(actor, "catalog")
    children: dict[int | None, list[tuple[int, str, int | None]]] = {}
    for row in Category.objects.order_by("name", "id").values_list("id", "name", "parent_id"):
        children.setdefault(row[2], []).append(row)
    nodes: list[CategoryNode] = []
    stack = [(row, 0, "") for row in reversed(children.get(None, []))]
    while stack:
        (pk, name, parent_id), depth, prefix = stack.pop()
        path = f"{prefix} / {name}" if prefix else name
        nodes.append(CategoryNode(id=pk, name=name, parent_id=parent_id, depth=depth, path=path))
        stack.extend((row, depth + 1, path) for row in reversed(children.get(pk, [])))
    return nodes


def category_descendant_ids(category_id: int) -> list[int]:
    """Return the category's id and those of every category below it (one query: the tree is small)."""
    children: dict[int, list[int]] = {}
    for pk, parent_id in Category.objects.filter(parent__isnull=False).values_list("id", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found, pending = [category_id], [category_id]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.append(child)
                pending.append(child)
    return found


# ---- products ------------------------------------------------------------------------------------


def product_list(
    *,
    actor: Any,
    category_id: int | None = None,
    active: bool | None = None,
    q: str | None = None,
    currency: str | None = None,
) -> QuerySet[Product]:
    """Return the products in a category (and its subcategories), active or not, whose SKU or name starts with ``q``."""
    require_read(actor, "catalog")
    products = Product.objects.select_related("category")
    if category_id is not None:
        products = products.filter(category_id__in=category_descendant_ids(category_id))
    if active is not None:
        products = products.filter(active=active)
    if currency:
        products = products.filter(currency=currency.strip().upper())
    if q and q.strip():
        text = q.strip()
        condition = prefix_q("sku", text)
        if text.upper() != text:
            condition |= prefix_q("sku", text.upper())
        key = text_key(text)
        if key:
            condition |= prefix_q("name_key", key)
        products = products.filter(condition)
    return products


def product_get_for_actor(*, actor: Any, product_id: int) -> Product:
    require_read(actor, "catalog")
    product = Product.objects.select_related("category").filter(pk=product_id).first()
    if product is None:
        raise NotFound("product")
    return product


def products_by_id(*, actor: Any, product_ids: Iterable[int]) -> dict[int, Product]:
    """Return the products with these ids, in one query; missing ids are simply absent."""
    require_read(actor, "catalog")
    return Product.objects.in_bulk(set(product_ids))


# ---- orders --------------------------------------------------------------------------------------


def order_visible(*, actor: Any) -> QuerySet[Order]:
    """Every order ``actor`` may see: all of them, or those whose contact or account is theirs or their team's."""
    return scope_queryset(
        Order.objects.all(),
        actor=actor,
        resource="orders",
        owner_paths=ORDER_OWNER_PATHS,
        team_paths=ORDER_TEAM_PATHS,
    )


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    """Return a filter's time in UTC; a naive time or one the database cannot hold is a 422 on ``field``."""
    if value is None:
        return None
    if timezone.is_naive(value):
        raise ValidationFailed(field=field, reason="must include a time zone")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationFailed(field=field, reason="is out of range") from None


def order_list(
    *,
    actor: Any,
    status: str | None = None,
    channel: str | None = None,
    contact_id: int | None = None,
    account_id: int | None = None,
    placed_after: dt.datetime | None = None,
    placed_before: dt.datetime | None = None,
    q: str | None = None,
) -> QuerySet[Order]:
    """Return the orders ``actor`` may see that match the filters, with the customer a list row shows."""
    require_read(actor, "orders")
    orders = order_visible(actor=actor).select_related("contact", "account")
    if status:
        orders = orders.filter(status=status)
    if channel:
        orders = orders.filter(channel=channel)
    if contact_id is not None:
        orders = orders.filter(contact_id=contact_id)
    if account_id is not None:
        orders = orders.filter(account_id=account_id)
    placed_after, placed_before = _aware(placed_after, "placed_after"), _aware(placed_before, "placed_before")
    if placed_after is not None:
        orders = orders.filter(placed_at__gte=placed_after)
    if placed_before is not None:
        orders = orders.filter(placed_at__lt=placed_before)
    if q and q.strip():
        text = q.strip()
        condition = prefix_q("number", text)
        if text.upper() != text:
            condition |= prefix_q("number", text.upper())
        orders = orders.filter(condition)
    return orders


# What a row of the order list reads: the order's own columns, no join (names come per page, below).
ORDER_ROW_FIELDS = (
    "id",
    "number",
    "placed_at",
    "contact_id",
    "account_id",
    "channel",
    "status",
    "currency",
    "subtotal",
    "discount_total",
    "total",
    "cost_total",
)


def order_customer_names(
    *, actor: Any, contact_ids: Iterable[int | None], account_ids: Iterable[int | None]
) -> tuple[dict[int, str], dict[int, str]]:
    """Return the names of the contacts and of the accounts among these that ``actor`` may see: one query per kind."""
    wanted_contacts = {pk for pk in contact_ids if pk is not None}
    wanted_accounts = {pk for pk in account_ids if pk is not None}
    contacts: dict[int, str] = {}
    accounts: dict[int, str] = {}
    if wanted_contacts:
        rows = contact_visible(actor=actor).filter(pk__in=wanted_contacts).values_list("pk", "first_name", "last_name")
        contacts = {pk: f"{first} {last}".strip() for pk, first, last in rows}
    if wanted_accounts:
        accounts = dict(account_visible(actor=actor).filter(pk__in=wanted_accounts).values_list("pk", "name"))
    return contacts, accounts


def order_item_counts(*, order_ids: Iterable[int]) -> dict[int, int]:
    """Return the units on each of these orders (orders the caller already got from a scoped selector)."""
    rows = (
        OrderLine.objects.filter(order_id__in=set(order_ids))
        .values("order_id")
        .annotate(units=Sum("quantity"))
        .order_by()
        .values_list("order_id", "units")
    )
    return dict(rows)


ORDER_DETAIL_PREFETCH = (
    Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("id")),
    Prefetch("shipments", queryset=Shipment.objects.order_by("shipped_at", "id")),
    Prefetch(
        "returns",
        queryset=Return.objects.order_by("created_at", "id").prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.order_by("id"))
        ),
    ),
)


def order_get_for_actor(*, actor: Any, order_id: int) -> Order:
    """Return the order with its customer, lines and products, shipments and returns, or raise ``NotFound``."""
    order = (
        order_visible(actor=actor)
        .select_related("contact", "account")
        .prefetch_related(*ORDER_DETAIL_PREFETCH)
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise NotFound("order")
    return order


def order_line_get(*, order: Order, line_id: int) -> OrderLine:
    line = OrderLine.objects.select_related("order", "product").filter(order=order, pk=line_id).first()
    if line is None:
        raise NotFound("order line")
    return line


def shipment_get_for_actor(*, actor: Any, shipment_id: int) -> Shipment:
    """Return a shipment of an order ``actor`` may see, or raise ``NotFound``."""
    shipments = Shipment.objects.filter(order__in=order_visible(actor=actor).values("pk"))
    shipment = shipments.select_related("order").filter(pk=shipment_id).first()
    if shipment is None:
        raise NotFound("shipment")
    return shipment


def return_get_for_actor(*, actor: Any, return_id: int) -> Return:
    """Return a return (with its lines) of an order ``actor`` may see, or raise ``NotFound``."""
    returns = Return.objects.filter(order__in=order_visible(actor=actor).values("pk"))
    order_return = (
        returns.select_related("order")
        .prefetch_related(Prefetch("lines", queryset=ReturnLine.objects.order_by("id")))
        .filter(pk=return_id)
        .first()
    )
    if order_return is None:
        raise NotFound("return")
    return order_return


def customer_contact(*, actor: Any, contact_id: int) -> Contact:
    """The contact an order is for, if ``actor`` may see it (without the contact's detail)."""
    contact = contact_visible(actor=actor).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("contact")
    return contact


def customer_account(*, actor: Any, account_id: int) -> Account:
    """The account an order is for, if ``actor`` may see it."""
    account = account_visible(actor=actor).filter(pk=account_id).first()
    if account is None:
        raise NotFound("account")
    return account


# ---- summaries -----------------------------------------------------------------------------------

# What a customer actually bought: orders that went ahead, whether or not they have arrived yet.
SOLD_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)


@dataclass(frozen=True)
class OrderSummary:
    """A customer's orders in one currency: how many, how much, what margin, first and last."""

    currency: str
    orders: int
    total: Decimal
    margin: Decimal
    first_placed_at: dt.datetime | None
    last_placed_at: dt.datetime | None


def order_summary(*, actor: Any, contact_id: int | None = None, account_id: int | None = None) -> list[OrderSummary]:
    """Sum up the confirmed-or-later orders of a contact or an account that ``actor`` may see, per currency."""
    require_read(actor, "orders")
    if (contact_id is None) == (account_id is None):
        raise ValidationFailed(field="contact_id", reason="give either a contact_id or an account_id")
    # A customer the actor may not see is not found, rather than summed up as having no orders.
    if contact_id is not None:
        customer = Q(contact=customer_contact(actor=actor, contact_id=contact_id))
    elif account_id is not None:
        customer = Q(account=customer_account(actor=actor, account_id=account_id))
    rows = (
        order_visible(actor=actor)
        .filter(customer, status__in=SOLD_STATUSES)
        .values("currency")
        .annotate(
            orders=Count("id"),
            total=Sum("total"),
            cost=Sum("cost_total"),
            first=Min("placed_at"),
            last=Max("placed_at"),
        )
        .order_by("currency")
    )
    # SQLite sums decimals in floating point: bring the sums back to cents.
    return [
        OrderSummary(
            currency=row["currency"],
            orders=row["orders"],
            total=row["total"].quantize(CENT),
            margin=(row["total"] - row["cost"]).quantize(CENT),
            first_placed_at=row["first"],
            last_placed_at=row["last"],
        )
        for row in rows
    ]
