"""Factories for categories, products and orders (tests only); orders go through the services."""

from __future__ import annotations

import itertools
from decimal import Decimal

from cuore.core.normalize import text_key
from cuore.orders import services
from cuore.orders.models import Category, Order, Product

_seq = itertools.count(1)


def make_category(*, name: str | None = None, parent: Category | None = None) -> Category:
    return Category.objects.create(name=name or f"Category {next(_seq)}", parent=parent)


def make_product(
    *,
    sku: str | None = None,
    name: str | None = None,
    price: str | Decimal = "10.00",
    cost: str | Decimal = "4.00",
    currency: str = "EUR",
    category: Category | None = None,
    active: bool = True,
) -> Product:
    n = next(_seq)
    name = name or f"Product {n}"
    return Product.objects.create(
        sku=sku or f"SKU-{n:05d}",
        name=name,
        name_key=text_key(name),
        price=Decimal(price),
        cost=Decimal(cost),
        currency=currency,
        category=category,
        active=active,
    )


def make_order(*, contact=None, account=None, products: list[tuple[Product, int]] | None = None, **fields) -> Order:
    """A draft order through ``order_create`` (as the system), one line per (product, quantity)."""
    products = products or [(make_product(), 1)]
    lines = [services.LineInput(product=product, quantity=quantity) for product, quantity in products]
    return services.order_create(actor=None, contact=contact, account=account, lines=lines, **fields)
