"""Writes on categories, products, orders and their lines, shipments and returns.

Every write locks the order it touches (``select_for_update``) before reading the state it checks, so
two requests changing the same order (its lines, its status, its returns) run one after the other and
the totals, the transitions and the returnable quantities are always computed from committed rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.numbers import list_currencies
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from cuore.core.audit import apply_changes, audit_record, snapshot
from cuore.core.errors import Conflict, NotFound, ValidationFailed
from cuore.core.normalize import text_key
from cuore.core.visibility import require_write
from cuore.orders.models import (
    Category,
    Order,
    OrderChannel,
    OrderLine,
    OrderStatus,
    Product,
    Return,
    ReturnLine,
    ReturnStatus,
    Shipment,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_PRICE = Decimal("9999999999.99")  # max_digits=12, decimal_places=2
MAX_TOTAL = Decimal("999999999999.99")  # max_digits=14, decimal_places=2
MAX_QUANTITY = 1_000_000
MAX_LINES = 500
CLOCK_SKEW = dt.timedelta(minutes=5)


# ---- shared helpers ------------------------------------------------------------------------------


def _require_write(actor: Any, resource: str) -> None:
    """Check a user's right to write; ``actor=None`` is the system (command line, import, job) and may."""
    if actor is not None:
        require_write(actor, resource)


def _created(instance: Any) -> dict[str, list[Any]]:
    return {name: [None, value] for name, value in snapshot(instance).items() if value not in (None, "", False)}


@functools.cache
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def _amount(value: Any, field: str, errors: dict[str, str], *, maximum: Decimal = MAX_PRICE) -> Decimal:
    """Read a non-negative amount of money with at most two decimals; record what is wrong in ``errors``."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        errors[field] = "must be an amount of money"
        return ZERO
    if not amount.is_finite():
        errors[field] = "must be an amount of money"
    elif amount < 0:
        errors[field] = "must not be negative"
    elif amount > maximum:
        errors[field] = f"must be at most {maximum}"
    elif amount != amount.quantize(CENT):
        errors[field] = "must have at most two decimal places"
    else:
        return amount.quantize(CENT)
    return ZERO


def _quantity(value: Any, field: str, errors: dict[str, str]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_QUANTITY:
        errors[field] = f"must be a whole number between 1 and {MAX_QUANTITY}"
        return 0
    return value


def _moment(value: dt.datetime | None, field: str, errors: dict[str, str]) -> dt.datetime:
    """Return ``value`` (now when missing) if it is time-zone aware and not in the future."""
    now = timezone.now()
    if value is None:
        return now
    if timezone.is_naive(value):
        errors[field] = "must include a time zone"
    elif value.year < 1900 or value.astimezone(dt.UTC).year < 1900:
        errors[field] = "cannot be before 1900"
    elif value > now + CLOCK_SKEW:
        errors[field] = "cannot be in the future"
    return value


def _check_unknown(data: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationFailed({name: "cannot be changed" for name in sorted(unknown)})


# ---- categories ----------------------------------------------------------------------------------


def _category_name(name: Any) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise ValidationFailed(field="name", reason="is required")
    if len(name) > 100:
        raise ValidationFailed(field="name", reason="must be at most 100 characters")
    return name


def _check_category_name_free(name: str, parent: Category | None, *, exclude_pk: int | None = None) -> None:
    siblings = Category.objects.filter(parent=parent, name__iexact=name)
    if exclude_pk is not None:
        siblings = siblings.exclude(pk=exclude_pk)
    if siblings.exists():
        where = "at the top level" if parent is None else f"under {parent.name}"
        raise ValidationFailed(field="name", reason=f"another category {where} already has this name")


@transaction.atomic
def category_create(*, actor: Any, name: str, parent: Category | None = None) -> Category:
    """Create a category, at the top of the tree or under ``parent``."""
    _require_write(actor, "catalog")
    name = _category_name(name)
    _check_category_name_free(name, parent)
    category = Category.objects.create(name=name, parent=parent)
    audit_record(actor=actor, action="category.create", instance=category, changes=_created(category))
    return category


@transaction.atomic
def category_update(*, actor: Any, category: Category, data: dict[str, Any]) -> Category:
    """Rename a category or move it under another parent (never under itself or its descendants)."""
    _require_write(actor, "catalog")
    _check_unknown(data, {"name", "parent"})
    data = dict(data)
    if "name" in data:
        data["name"] = _category_name(data["name"])
    if "parent" in data and data["parent"] is not None:
        # Lock the whole (small) tree so that two concurrent moves cannot build a cycle between them.
        parents = dict(Category.objects.select_for_update().values_list("id", "parent_id"))
        node: int | None = data["parent"].pk
        while node is not None:
            if node == category.pk:
                raise ValidationFailed(
                    field="parent_id", reason="cannot be the category itself or one of its subcategories"
                )
            node = parents.get(node)
    new_parent = data.get("parent", category.parent)
    new_name = data.get("name", category.name)
    _check_category_name_free(new_name, new_parent, exclude_pk=category.pk)
    changes = apply_changes(category, data)
    if changes:
        category.save()
        audit_record(actor=actor, action="category.update", instance=category, changes=changes)
    return category


@transaction.atomic
def category_delete(*, actor: Any, category: Category) -> None:
    """Delete a category that has neither subcategories nor products."""
    _require_write(actor, "catalog")
    if Category.objects.filter(parent=category).exists():
        raise Conflict("The category has subcategories: move or delete them first.")
    if Product.objects.filter(category=category).exists():
        raise Conflict("The category has products: move them to another category first.")
    before = snapshot(category)
    try:
        with transaction.atomic():
            category.delete()
    except ProtectedError:  # a product or a subcategory arrived in the meantime
        raise Conflict("The category has subcategories or products: it cannot be deleted.") from None
    audit_record(
        actor=actor,
        action="category.delete",
        object_type="orders.category",
        object_id=before["id"],
        object_repr=before["name"],
        changes={k: [v, None] for k, v in before.items()},
    )


# ---- products ------------------------------------------------------------------------------------

PRODUCT_FIELDS = {"sku", "name", "category", "price", "cost", "currency", "active"}


def _clean_product(data: dict[str, Any], *, product: Product | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if "sku" in data:
        sku = data["sku"].strip() if isinstance(data["sku"], str) else ""
        if not sku:
            errors["sku"] = "is required"
        elif len(sku) > 64:
            errors["sku"] = "must be at most 64 characters"
        else:
            clash = Product.objects.filter(sku__iexact=sku)
            if product is not None:
                clash = clash.exclude(pk=product.pk)
            if clash.exists():
                errors["sku"] = "is already used by another product"
        data["sku"] = sku
    if "name" in data:
        name = data["name"].strip() if isinstance(data["name"], str) else ""
        if not name:
            errors["name"] = "is required"
        elif len(name) > 200:
            errors["name"] = "must be at most 200 characters"
        data["name"] = name
    for field in ("price", "cost"):
        if field in data:
            data[field] = _amount(data[field], field, errors)
    if "currency" in data:
        currency = data["currency"].strip().upper() if isinstance(data["currency"], str) else ""
        if currency not in _currencies():
            errors["currency"] = "must be an ISO 4217 currency code such as EUR"
        data["currency"] = currency
    if "active" in data and not isinstance(data["active"], bool):
        errors["active"] = "must be true or false"
    if errors:
        raise ValidationFailed(errors)
    return data


def _save_product(product: Product) -> None:
    """Save, turning a lost race for the SKU into the same answer as the check before it."""
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:
        if Product.objects.filter(sku=product.sku).exclude(pk=product.pk).exists():
            raise ValidationFailed(field="sku", reason="is already used by another product") from None
        raise


@transaction.atomic
def product_create(
    *,
    actor: Any,
    sku: str,
    name: str,
    price: Decimal,
    cost: Decimal = ZERO,
    currency: str = "EUR",
    category: Category | None = None,
    active: bool = True,
) -> Product:
    """Add a product to the catalogue with its list price and its cost."""
    _require_write(actor, "catalog")
    data = _clean_product(
        {"sku": sku, "name": name, "price": price, "cost": cost, "currency": currency, "active": active}
    )
    product = Product(**data, category=category, name_key=text_key(data["name"]))
    _save_product(product)
    audit_record(actor=actor, action="product.create", instance=product, changes=_created(product))
    return product


@transaction.atomic
def product_update(*, actor: Any, product: Product, data: dict[str, Any]) -> Product:
    """Change a product's SKU, name, category, price, cost, currency or active flag.

    Orders keep the prices and costs their lines were written with.
    """
    _require_write(actor, "catalog")
    _check_unknown(data, PRODUCT_FIELDS)
    changes = apply_changes(product, _clean_product(dict(data), product=product))
    if changes:
        product.name_key = text_key(product.name)
        _save_product(product)
        audit_record(actor=actor, action="product.update", instance=product, changes=changes)
    return product


@transaction.atomic
def product_deactivate(*, actor: Any, product: Product) -> Product:
    """Take a product off sale: new order lines refuse it, existing orders keep it."""
    return product_update(actor=actor, product=product, data={"active": False})


@transaction.atomic
def product_delete(*, actor: Any, product: Product) -> bool:
    """Delete a product never ordered; one that was ordered is deactivated instead. Return whether it was deleted."""
    _require_write(actor, "catalog")
    if not OrderLine.objects.filter(product=product).exists():
        before = snapshot(product)
        try:
            with transaction.atomic():
                product.delete()
        except ProtectedError:  # ordered in the meantime: fall through to deactivating it
            pass
        else:
            audit_record(
                actor=actor,
                action="product.delete",
                object_type="orders.product",
                object_id=before["id"],
                object_repr=f"{before['sku']} {before['name']}",
                changes={k: [v, None] for k, v in before.items()},
            )
            return True
    product_deactivate(actor=actor, product=product)
    return False


# ---- orders --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """One order line as a caller gives it; price and cost default to the product's."""

    product: Product
    quantity: int
    unit_price: Decimal | None = None
    discount: Decimal = ZERO
    unit_cost: Decimal | None = None


TRANSITIONS: dict[str, set[str]] = {
    OrderStatus.DRAFT: {OrderStatus.CONFIRMED, OrderStatus.CANCELLED},
    OrderStatus.CONFIRMED: {OrderStatus.FULFILLED, OrderStatus.CANCELLED},
    OrderStatus.FULFILLED: {OrderStatus.SHIPPED, OrderStatus.CANCELLED},
    OrderStatus.SHIPPED: {OrderStatus.DELIVERED},
}
RETURNABLE = {OrderStatus.SHIPPED, OrderStatus.DELIVERED}
ORDER_FIELDS = {"notes", "channel", "contact", "account", "placed_at"}
DRAFT_ONLY_FIELDS = ORDER_FIELDS - {"notes"}
LINE_FIELDS = {"quantity", "unit_price", "discount", "unit_cost"}


def _lock(order: Order) -> Order:
    """Return the order's current row, locked until the end of the transaction."""
    return Order.objects.select_for_update().get(pk=order.pk)


def _current_line(line: OrderLine) -> OrderLine:
    """Read the line again once its order is locked: another request may have changed or removed it."""
    current = OrderLine.objects.select_related("product").filter(pk=line.pk).first()
    if current is None:
        raise NotFound("order line")
    return current


def _require_draft(order: Order, what: str) -> None:
    if order.status != OrderStatus.DRAFT:
        raise Conflict(f"{what} only while the order is a draft; this one is {order.status}.", field="status")


def check_lines_editable(*, order: Order) -> None:
    """Raise ``Conflict`` unless the order's lines may change (it is a draft), as the line services would."""
    _require_draft(order, "Lines can change")


def check_returnable(*, order: Order) -> None:
    """Raise ``Conflict`` unless the order may be returned (it is shipped or delivered), as ``return_create`` would."""
    if order.status not in RETURNABLE:
        raise Conflict(f"Only shipped or delivered orders can be returned; this one is {order.status}.", field="status")


def _line_values(
    *,
    product: Product,
    quantity: Any,
    unit_price: Any,
    discount: Any,
    unit_cost: Any,
    currency: str | None,
    prefix: str,
    errors: dict[str, str],
) -> dict[str, Any]:
    """Validate one line's figures and return them with the line total; errors go under ``prefix``."""
    key = f"{prefix}." if prefix else ""
    if not product.active:
        errors[f"{key}product_id"] = "is not on sale (the product is inactive)"
    elif currency is not None and product.currency != currency:
        errors[f"{key}product_id"] = f"is priced in {product.currency}, the order in {currency}"
    quantity = _quantity(quantity, f"{key}quantity", errors)
    unit_price = _amount(product.price if unit_price is None else unit_price, f"{key}unit_price", errors)
    unit_cost = _amount(product.cost if unit_cost is None else unit_cost, f"{key}unit_cost", errors)
    discount = _amount(discount, f"{key}discount", errors)
    gross = quantity * unit_price
    if f"{key}quantity" not in errors and f"{key}unit_price" not in errors:
        if gross > MAX_TOTAL:
            errors[f"{key}quantity"] = "makes the line total too large"
        elif discount > gross:
            errors[f"{key}discount"] = f"cannot exceed quantity × unit price ({gross})"
    return {
        "quantity": quantity,
        "unit_price": unit_price,
        "discount": discount,
        "unit_cost": unit_cost,
        "line_total": gross - discount,
    }


def _line_record(line: OrderLine) -> dict[str, Any]:
    return {
        "id": line.pk,
        "product": line.product_id,
        "quantity": line.quantity,
        "unit_price": str(line.unit_price),
        "discount": str(line.discount),
        "unit_cost": str(line.unit_cost),
        "line_total": str(line.line_total),
    }


def _totals(lines: Sequence[OrderLine]) -> dict[str, Decimal]:
    subtotal = sum((line.quantity * line.unit_price for line in lines), ZERO)
    discount_total = sum((line.discount for line in lines), ZERO)
    cost_total = sum((line.quantity * line.unit_cost for line in lines), ZERO)
    return {
        "subtotal": subtotal,
        "discount_total": discount_total,
        "total": subtotal - discount_total,
        "cost_total": cost_total,
    }


def _check_totals(totals: dict[str, Decimal], field: str) -> None:
    if max(totals.values()) > MAX_TOTAL:
        raise ValidationFailed(field=field, reason=f"the order total would exceed {MAX_TOTAL}")


def _recompute_totals(order: Order) -> dict[str, list[Any]]:
    """Set the order's totals from its stored lines, save them and return what changed."""
    lines = list(OrderLine.objects.filter(order=order))
    totals = _totals(lines)
    _check_totals(totals, "lines")
    changes = apply_changes(order, totals)
    if changes:
        order.save(update_fields=[*totals, "updated_at"])
    return changes


def _clean_customer(contact: Any, account: Any, errors: dict[str, str]) -> None:
    if contact is None and account is None:
        errors["contact_id"] = "an order needs a contact or an account"


def _generated_number(order: Order) -> str:
    """``ORD-<year>-<id>``: the id makes it unique without a counter to lock; a clash with a typed number gets a suffix."""
    base = f"ORD-{order.placed_at.astimezone(dt.UTC).year}-{order.pk:06d}"
    candidate, suffix = base, 1
    while Order.objects.filter(number=candidate).exists():
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


@transaction.atomic
def order_create(
    *,
    actor: Any,
    lines: Sequence[LineInput],
    contact: Any = None,
    account: Any = None,
    channel: str = OrderChannel.WEB,
    placed_at: dt.datetime | None = None,
    number: str | None = None,
    notes: str = "",
) -> Order:
    """Create a draft order with its lines; the currency is the products' and the totals follow from the lines."""
    _require_write(actor, "orders")
    errors: dict[str, str] = {}
    _clean_customer(contact, account, errors)
    if channel not in OrderChannel.values:
        errors["channel"] = f"must be one of {', '.join(OrderChannel.values)}"
    placed_at = _moment(placed_at, "placed_at", errors)
    if number is not None:
        number = number.strip()
        if not number or len(number) > 32:
            errors["number"] = "must be between 1 and 32 characters"
        elif Order.objects.filter(number=number).exists():
            errors["number"] = "is already used by another order"
    if not lines:
        errors["lines"] = "an order needs at least one line"
    elif len(lines) > MAX_LINES:
        errors["lines"] = f"an order has at most {MAX_LINES} lines"
    currency = lines[0].product.currency if lines else "EUR"
    values = [
        _line_values(
            product=item.product,
            quantity=item.quantity,
            unit_price=item.unit_price,
            discount=item.discount,
            unit_cost=item.unit_cost,
            currency=currency,
            prefix=f"lines.{index}",
            errors=errors,
        )
        for index, item in enumerate(lines[:MAX_LINES])
    ]
    if errors:
        raise ValidationFailed(errors)
    order_lines = [OrderLine(product=item.product, **value) for item, value in zip(lines, values, strict=True)]
    totals = _totals(order_lines)
    _check_totals(totals, "lines")
    order = Order(
        # A unique placeholder until the id, which the generated number is made of, is known.
        number=number or f"~{uuid.uuid4().hex[:31]}",
        contact=contact,
        account=account,
        channel=channel,
        placed_at=placed_at,
        currency=currency,
        notes=notes or "",
        **totals,
    )
    try:
        with transaction.atomic():
            order.save()
    except IntegrityError:
        if number and Order.objects.filter(number=number).exists():  # taken between the check and the insert
            raise ValidationFailed(field="number", reason="is already used by another order") from None
        raise
    if not number:
        order.number = _generated_number(order)
        order.save(update_fields=["number"])
    for line in order_lines:
        line.order = order
    OrderLine.objects.bulk_create(order_lines)
    changes = _created(order)
    changes["lines"] = [None, [_line_record(line) for line in order_lines]]
    audit_record(actor=actor, action="order.create", instance=order, changes=changes)
    return order


@transaction.atomic
def order_update(*, actor: Any, order: Order, data: dict[str, Any]) -> Order:
    """Change an order's notes (any time) or its customer, channel and date (only while it is a draft)."""
    _require_write(actor, "orders")
    _check_unknown(data, ORDER_FIELDS)
    order = _lock(order)
    if set(data) & DRAFT_ONLY_FIELDS:
        _require_draft(order, "The customer, channel and date can change")
    errors: dict[str, str] = {}
    data = dict(data)
    if "channel" in data and data["channel"] not in OrderChannel.values:
        errors["channel"] = f"must be one of {', '.join(OrderChannel.values)}"
    if "placed_at" in data:
        if data["placed_at"] is None:
            errors["placed_at"] = "is required"
        else:
            _moment(data["placed_at"], "placed_at", errors)
    if "notes" in data:
        data["notes"] = data["notes"] or ""
    contact = data.get("contact", order.contact)
    account = data.get("account", order.account)
    _clean_customer(contact, account, errors)
    if errors:
        raise ValidationFailed(errors)
    changes = apply_changes(order, data)
    if changes:
        order.save()
        audit_record(actor=actor, action="order.update", instance=order, changes=changes)
    return order


@transaction.atomic
def order_line_add(*, actor: Any, order: Order, line: LineInput) -> OrderLine:
    """Add a line to a draft order and recompute its totals."""
    _require_write(actor, "orders")
    order = _lock(order)
    _require_draft(order, "Lines can change")
    has_lines = OrderLine.objects.filter(order=order).exists()
    errors: dict[str, str] = {}
    values = _line_values(
        product=line.product,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount=line.discount,
        unit_cost=line.unit_cost,
        # An order emptied of its lines takes the currency of the next product put on it.
        currency=order.currency if has_lines else None,
        prefix="",
        errors=errors,
    )
    if errors:
        raise ValidationFailed(errors)
    if not has_lines and order.currency != line.product.currency:
        order.currency = line.product.currency
        order.save(update_fields=["currency", "updated_at"])
    created = OrderLine.objects.create(order=order, product=line.product, **values)
    changes = _recompute_totals(order)
    changes["lines"] = [None, _line_record(created)]
    audit_record(actor=actor, action="order.line_add", instance=order, changes=changes)
    return created


@transaction.atomic
def order_line_update(*, actor: Any, line: OrderLine, data: dict[str, Any]) -> OrderLine:
    """Change a draft order's line (quantity, unit price, discount, unit cost) and recompute the totals."""
    _require_write(actor, "orders")
    _check_unknown(data, LINE_FIELDS)
    order = _lock(line.order)
    _require_draft(order, "Lines can change")
    line = _current_line(line)
    before = _line_record(line)
    errors: dict[str, str] = {}
    values = _line_values(
        product=line.product,
        quantity=data.get("quantity", line.quantity),
        unit_price=data.get("unit_price", line.unit_price),
        discount=data.get("discount", line.discount),
        unit_cost=data.get("unit_cost", line.unit_cost),
        currency=None,
        prefix="",
        errors=errors,
    )
    # A product taken off sale since the line was written does not stop its line from being edited.
    errors.pop("product_id", None)
    if errors:
        raise ValidationFailed(errors)
    if apply_changes(line, values):
        line.save()
        changes = _recompute_totals(order)
        changes["lines"] = [before, _line_record(line)]
        audit_record(actor=actor, action="order.line_update", instance=order, changes=changes)
    return line


@transaction.atomic
def order_line_remove(*, actor: Any, line: OrderLine) -> None:
    """Remove a line from a draft order and recompute its totals."""
    _require_write(actor, "orders")
    order = _lock(line.order)
    _require_draft(order, "Lines can change")
    line = _current_line(line)
    before = _line_record(line)
    line.delete()
    changes = _recompute_totals(order)
    changes["lines"] = [before, None]
    audit_record(actor=actor, action="order.line_remove", instance=order, changes=changes)


def _move(actor: Any, order: Order, status: str, **extra: Any) -> Order:
    """Set a locked order's status after checking the transition is allowed; audit it."""
    if status not in TRANSITIONS.get(order.status, set()):
        raise Conflict(f"An order cannot go from {order.status} to {status}.", field="status")
    if status == OrderStatus.CONFIRMED and not OrderLine.objects.filter(order=order).exists():
        raise Conflict("An order without lines cannot be confirmed.", field="lines")
    return _set_status(actor, order, status, **extra)


def _set_status(actor: Any, order: Order, status: str, **extra: Any) -> Order:
    changes: dict[str, Any] = {"status": [order.status, status]}
    changes.update({name: [None, value] for name, value in extra.items() if value})
    order.status = status
    order.save(update_fields=["status", "updated_at"])
    audit_record(actor=actor, action=f"order.{status}", instance=order, changes=changes)
    return order


@transaction.atomic
def order_set_status(*, actor: Any, order: Order, status: str) -> Order:
    """Move an order along draft → confirmed → fulfilled → shipped → delivered, or cancel it before it ships."""
    _require_write(actor, "orders")
    if status not in OrderStatus.values:
        raise ValidationFailed(field="status", reason=f"must be one of {', '.join(OrderStatus.values)}")
    return _move(actor, _lock(order), status)


@transaction.atomic
def order_cancel(*, actor: Any, order: Order, reason: str = "") -> Order:
    """Cancel an order that has not shipped yet."""
    _require_write(actor, "orders")
    return _move(actor, _lock(order), OrderStatus.CANCELLED, reason=(reason or "").strip())


# ---- shipments -----------------------------------------------------------------------------------


@transaction.atomic
def shipment_create(
    *,
    actor: Any,
    order: Order,
    carrier: str = "",
    tracking_number: str = "",
    shipped_at: dt.datetime | None = None,
) -> Shipment:
    """Record a parcel sent for a fulfilled order (which becomes shipped) or another parcel of a shipped one."""
    _require_write(actor, "orders")
    order = _lock(order)
    if order.status not in (OrderStatus.FULFILLED, OrderStatus.SHIPPED):
        raise Conflict(f"An order cannot go from {order.status} to shipped.", field="status")
    errors: dict[str, str] = {}
    carrier, tracking_number = (carrier or "").strip(), (tracking_number or "").strip()
    if len(carrier) > 50:
        errors["carrier"] = "must be at most 50 characters"
    if len(tracking_number) > 64:
        errors["tracking_number"] = "must be at most 64 characters"
    shipped_at = _moment(shipped_at, "shipped_at", errors)
    if "shipped_at" not in errors and shipped_at < order.placed_at:
        errors["shipped_at"] = "cannot be before the order was placed"
    if errors:
        raise ValidationFailed(errors)
    shipment = Shipment.objects.create(
        order=order, carrier=carrier, tracking_number=tracking_number, shipped_at=shipped_at
    )
    audit_record(actor=actor, action="shipment.create", instance=shipment, changes=_created(shipment))
    if order.status == OrderStatus.FULFILLED:
        _move(actor, order, OrderStatus.SHIPPED, shipment=shipment.pk)
    shipment.order = order
    return shipment


@transaction.atomic
def shipment_mark_delivered(*, actor: Any, shipment: Shipment, delivered_at: dt.datetime | None = None) -> Shipment:
    """Record that a parcel arrived; when every parcel of a shipped order has, the order is delivered."""
    _require_write(actor, "orders")
    order = _lock(shipment.order)
    shipment = Shipment.objects.get(pk=shipment.pk)
    if shipment.delivered_at is not None:
        raise Conflict("The shipment was already delivered.", field="delivered_at")
    errors: dict[str, str] = {}
    delivered_at = _moment(delivered_at, "delivered_at", errors)
    if "delivered_at" not in errors and delivered_at < shipment.shipped_at:
        errors["delivered_at"] = "cannot be before the shipment left"
    if errors:
        raise ValidationFailed(errors)
    shipment.delivered_at = delivered_at
    shipment.save(update_fields=["delivered_at"])
    audit_record(
        actor=actor, action="shipment.delivered", instance=shipment, changes={"delivered_at": [None, delivered_at]}
    )
    pending = Shipment.objects.filter(order=order, delivered_at__isnull=True).exists()
    if order.status == OrderStatus.SHIPPED and not pending:
        _move(actor, order, OrderStatus.DELIVERED, shipment=shipment.pk)
    shipment.order = order
    return shipment


# ---- returns -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLineInput:
    """How many of one of the order's lines come back."""

    order_line_id: int
    quantity: int


RETURN_TRANSITIONS: dict[str, set[str]] = {
    ReturnStatus.REQUESTED: {ReturnStatus.RECEIVED, ReturnStatus.REJECTED},
    ReturnStatus.RECEIVED: {ReturnStatus.REFUNDED, ReturnStatus.REJECTED},
}


def _returned_quantities(order: Order, *, statuses: Iterable[str]) -> dict[int, int]:
    """Units of each order line in the order's returns of the given statuses."""
    rows = ReturnLine.objects.filter(order_return__order=order, order_return__status__in=list(statuses))
    counts: dict[int, int] = defaultdict(int)
    for line_id, quantity in rows.values_list("order_line_id", "quantity"):
        counts[line_id] += quantity
    return counts


@transaction.atomic
def return_create(*, actor: Any, order: Order, reason: str, lines: Sequence[ReturnLineInput]) -> Return:
    """Open a return for some of the units of a shipped or delivered order."""
    _require_write(actor, "orders")
    order = _lock(order)
    check_returnable(order=order)
    errors: dict[str, str] = {}
    reason = (reason or "").strip()
    if not reason:
        errors["reason"] = "is required"
    elif len(reason) > 200:
        errors["reason"] = "must be at most 200 characters"
    if not lines:
        errors["lines"] = "a return needs at least one line"
    elif len(lines) > MAX_LINES:
        errors["lines"] = f"a return has at most {MAX_LINES} lines"
    order_lines = {line.pk: line for line in OrderLine.objects.filter(order=order)}
    # Units already on their way back (any return not rejected) cannot be returned twice.
    taken = _returned_quantities(order, statuses=[ReturnStatus.REQUESTED, ReturnStatus.RECEIVED, ReturnStatus.REFUNDED])
    for index, item in enumerate(lines[:MAX_LINES]):
        order_line = order_lines.get(item.order_line_id)
        if order_line is None:
            errors[f"lines.{index}.order_line_id"] = "is not a line of this order"
            continue
        quantity = _quantity(item.quantity, f"lines.{index}.quantity", errors)
        available = order_line.quantity - taken[order_line.pk]
        if quantity > available:
            errors[f"lines.{index}.quantity"] = f"at most {available} of this line can still be returned"
        taken[order_line.pk] += quantity
    if errors:
        raise ValidationFailed(errors)
    order_return = Return.objects.create(order=order, reason=reason)
    ReturnLine.objects.bulk_create(
        ReturnLine(order_return=order_return, order_line_id=item.order_line_id, quantity=item.quantity)
        for item in lines
    )
    changes = _created(order_return)
    changes["lines"] = [None, [{"order_line": item.order_line_id, "quantity": item.quantity} for item in lines]]
    audit_record(actor=actor, action="return.create", instance=order_return, changes=changes)
    return order_return


def _goods_value(order_return: Return) -> Decimal:
    """What the returned units were paid: each line's total (after discount) pro rata to the units."""
    value = ZERO
    for item in ReturnLine.objects.filter(order_return=order_return).select_related("order_line"):
        line = item.order_line
        value += (line.line_total * item.quantity / line.quantity).quantize(CENT, rounding=ROUND_HALF_UP)
    return value


@transaction.atomic
def return_set_status(*, actor: Any, order_return: Return, status: str, refund_amount: Decimal | None = None) -> Return:
    """Move a return along requested → received → refunded, or reject it.

    The refund defaults to what the returned units were paid and, with the order's other refunds, may not
    exceed the order total. Once every unit of the order is refunded, the order becomes ``returned``.
    """
    _require_write(actor, "orders")
    if status not in ReturnStatus.values or status == ReturnStatus.REQUESTED:
        raise ValidationFailed(field="status", reason="must be one of received, refunded, rejected")
    order = _lock(order_return.order)
    order_return = Return.objects.get(pk=order_return.pk)
    if status not in RETURN_TRANSITIONS.get(order_return.status, set()):
        raise Conflict(f"A return cannot go from {order_return.status} to {status}.", field="status")
    changes: dict[str, Any] = {"status": [order_return.status, status]}
    if status == ReturnStatus.REFUNDED:
        errors: dict[str, str] = {}
        amount = _amount(
            _goods_value(order_return) if refund_amount is None else refund_amount,
            "refund_amount",
            errors,
            maximum=MAX_TOTAL,
        )
        refunded = sum(
            Return.objects.filter(order=order, status=ReturnStatus.REFUNDED).values_list("refund_amount", flat=True),
            ZERO,
        )
        if not errors and refunded + amount > order.total:
            errors["refund_amount"] = f"the order's refunds cannot exceed its total: at most {order.total - refunded}"
        if errors:
            raise ValidationFailed(errors)
        changes["refund_amount"] = [order_return.refund_amount, amount]
        order_return.refund_amount = amount
    elif refund_amount is not None:
        raise ValidationFailed(field="refund_amount", reason="only a refunded return has a refund amount")
    order_return.status = status
    order_return.save(update_fields=["status", "refund_amount"])
    audit_record(actor=actor, action=f"return.{status}", instance=order_return, changes=changes)
    if status == ReturnStatus.REFUNDED and order.status in RETURNABLE:
        refunded_units = _returned_quantities(order, statuses=[ReturnStatus.REFUNDED])
        lines = OrderLine.objects.filter(order=order).values_list("pk", "quantity")
        if all(refunded_units[pk] >= quantity for pk, quantity in lines):
            _set_status(actor, order, OrderStatus.RETURNED, order_return=order_return.pk)
    order_return.order = order
    return order_return
