"""What each kind of import does with its rows, in chunks: keep the source records, write the records.

Every row is kept as a ``SourceRecord`` of its source (the raw cells and the values read), keyed by
the source's own id, so importing the same file again finds every record unchanged and writes
nothing. Then per kind:

- contacts: the records wait for identity resolution, which runs once the whole file is read (it
  links them to existing contacts or creates new ones, and recomputes the golden records); a
  record that changed and is already linked has its contact's golden record recomputed;
- accounts: the account the record created before, else the account with the same VAT number, is
  updated; otherwise one is created;
- products: the product the record created before, else the one with the same SKU, is updated;
  otherwise one is created (its category by name, created if missing);
- orders (one row per line): the lines of an order are consecutive rows with the same order id; the
  customer is the contact of the ``customer_source_id`` record of the same source; missing products
  are created from the line (SKU, name, unit price); the order is created and moved along its
  statuses to the one in the file. An order already imported is only moved on to a later status;
- interactions: logged on the customer's contact, once per source and id.

A row that cannot be written gets its reason (``RowFailure``); the others go on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction

from cuore.contacts.models import Account
from cuore.contacts.services import account_create, account_update
from cuore.core.errors import Conflict, CuoreError, NotFound, ValidationFailed
from cuore.core.normalize import vat_normalize
from cuore.identity.models import LinkStatus, RecordKind, Source, SourceRecord
from cuore.identity.services import record_upsert, records_upsert_many
from cuore.interactions.services import interaction_log
from cuore.orders.models import Category, Order, OrderStatus, Product
from cuore.orders.services import (
    LineInput,
    category_create,
    order_create,
    order_set_status,
    product_create,
    product_update,
)

# The path an imported order takes from draft to its status in the file.
STATUS_PATH = [OrderStatus.CONFIRMED, OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED]


@dataclass
class Row:
    """One row read: its line, the raw cells by header, and its values by field."""

    line: int
    raw: dict[str, str]
    values: dict[str, Any]


@dataclass
class RowFailure:
    line: int
    column: str
    reason: str


@dataclass
class ChunkResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failures: list[RowFailure] = field(default_factory=list)
    # Contact records of this chunk that were already linked and changed: golden records to recompute.
    changed_contacts: set[int] = field(default_factory=set)


def jsonable(values: dict[str, Any]) -> dict[str, Any]:
    """Values as JSON keeps them: dates and times ISO, decimals as text."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, dt.date | dt.datetime):
            out[name] = value.isoformat()
        elif isinstance(value, Decimal):
            out[name] = str(value)
        else:
            out[name] = value
    return out


def _failure(row: Row, error: Exception, columns: dict[str, str]) -> list[RowFailure]:
    """The failures of a service error, each on the column the field came from."""
    if isinstance(error, ValidationFailed):
        return [
            RowFailure(row.line, columns.get(name.split(".")[0], name), reason) for name, reason in error.errors.items()
        ]
    if isinstance(error, Conflict):
        return [RowFailure(row.line, columns.get(error.field or "", ""), error.reason)]
    return [RowFailure(row.line, "", str(error))]


def _key(row: Row, kind: str) -> str:
    """The record's id in its source: the id column, or for products the SKU, for accounts the VAT number or name."""
    key = row.values.get("source_id")
    if key in (None, "") and kind == RecordKind.PRODUCT:
        key = row.values.get("sku")
    if key in (None, "") and kind == RecordKind.ACCOUNT:
        key = row.values.get("vat_number") or row.values.get("name")
    if key in (None, ""):
        raise ValidationFailed(field="source_id", reason="is required")
    return str(key)


def _keep(source: Source, kind: str, row: Row, parent: SourceRecord | None = None) -> tuple[SourceRecord, str]:
    values = {k: v for k, v in jsonable(row.values).items() if k != "source_id" and v not in (None, "")}
    return record_upsert(source=source, kind=kind, key=_key(row, kind), raw=row.raw, values=values, parent=parent)


def contacts_chunk(actor: Any, source: Source, rows: list[Row], columns: dict[str, str]) -> ChunkResult:
    """Keep the chunk's contact records in one go; identity resolution links them after the file."""
    result = ChunkResult()
    items = [
        (
            _key(row, RecordKind.CONTACT),
            row.raw,
            {k: v for k, v in jsonable(row.values).items() if k != "source_id" and v not in (None, "")},
        )
        for row in rows
    ]
    with transaction.atomic():
        for record, status in records_upsert_many(source=source, kind=RecordKind.CONTACT, items=items):
            setattr(result, status, getattr(result, status) + 1)
            if status == "updated" and record.status == LinkStatus.LINKED and record.contact_id:
                result.changed_contacts.add(record.contact_id)
    return result


def _each(rows: list[Row], columns: dict[str, str], write: Callable[[Row], str]) -> ChunkResult:
    """Write each row in its own savepoint; a failing row is reported and the others go on."""
    result = ChunkResult()
    for row in rows:
        try:
            with transaction.atomic():
                status = write(row)
        except (CuoreError, ValueError) as error:
            result.failures += _failure(row, error, columns)
            continue
        setattr(result, status, getattr(result, status) + 1)
    return result


def _linked(record: SourceRecord, model: type) -> Any:
    if record.object_id is None or record.object_type != model._meta.label_lower:
        return None
    return model._default_manager.filter(pk=record.object_id).first()


def _point_at(record: SourceRecord, instance: Any) -> None:
    SourceRecord.objects.filter(pk=record.pk).update(
        object_type=instance._meta.label_lower, object_id=instance.pk, status=LinkStatus.LINKED
    )


ACCOUNT_FIELDS = ("name", "legal_name", "vat_number", "tax_code", "industry", "size", "website", "email", "phone")


def accounts_chunk(actor: Any, source: Source, rows: list[Row], columns: dict[str, str]) -> ChunkResult:
    def write(row: Row) -> str:
        record, status = _keep(source, RecordKind.ACCOUNT, row)
        account = _linked(record, Account)
        if status == "unchanged" and account is not None:
            return status
        data = {name: row.values[name] for name in ACCOUNT_FIELDS if row.values.get(name) not in (None, "")}
        if account is None and data.get("vat_number"):
            try:
                vat = vat_normalize(data["vat_number"])
            except ValueError:
                vat = ""
            account = Account.objects.filter(vat_number=vat).first() if vat else None
        if account is None:
            account = account_create(actor=actor, **data)
            status = "created"
        else:
            account_update(actor=actor, account=account, data=data)
        _point_at(record, account)
        return status

    return _each(rows, columns, write)


def _category(actor: Any, name: str | None) -> Category | None:
    if not name:
        return None
    category = Category.objects.filter(name__iexact=name.strip(), parent=None).first()
    return category or category_create(actor=actor, name=name.strip())


def products_chunk(actor: Any, source: Source, rows: list[Row], columns: dict[str, str]) -> ChunkResult:
    def write(row: Row) -> str:
        record, status = _keep(source, RecordKind.PRODUCT, row)
        product = _linked(record, Product) or Product.objects.filter(sku__iexact=row.values["sku"]).first()
        if status == "unchanged" and product is not None:
            return status
        data: dict[str, Any] = {"sku": row.values["sku"], "name": row.values["name"]}
        for name in ("price", "cost", "currency", "active"):
            if row.values.get(name) not in (None, ""):
                data[name] = row.values[name]
        category = _category(actor, row.values.get("category"))
        if category is not None:
            data["category"] = category
        if product is None:
            if "price" not in data:
                raise ValidationFailed(field="price", reason="is required for a new product")
            product = product_create(actor=actor, **data)
            status = "created"
        else:
            product_update(actor=actor, product=product, data=data)
        _point_at(record, product)
        return status

    return _each(rows, columns, write)


def _customer(source: Source, key: Any) -> SourceRecord:
    record = (
        SourceRecord.objects.filter(source=source, kind=RecordKind.CONTACT, source_key=str(key))
        .exclude(contact=None)
        .first()
    )
    if record is None:
        raise ValidationFailed(
            field="customer_source_id",
            reason=f"no contact with id {key} in source {source.name}: import the contacts first",
        )
    return record


def _product_for_line(actor: Any, values: dict[str, Any]) -> Product:
    product = Product.objects.filter(sku__iexact=values["sku"]).first()
    if product is None:
        product = product_create(
            actor=actor,
            sku=values["sku"],
            name=values.get("product_name") or values["sku"],
            price=values["unit_price"],
            currency=values.get("currency") or "EUR",
        )
    return product


def _whole(quantity: Any) -> int:
    value = Decimal(str(quantity))
    if value != value.to_integral_value() or value <= 0:
        raise ValidationFailed(field="quantity", reason=f"must be a whole number above 0, not {quantity}")
    return int(value)


def _advance(actor: Any, order: Order, status: str | None) -> None:
    target = (status or "").strip().lower()
    if not target or target == order.status:
        return
    if target == OrderStatus.CANCELLED:
        if order.status in (OrderStatus.DRAFT, OrderStatus.CONFIRMED, OrderStatus.FULFILLED):
            order_set_status(actor=actor, order=order, status=OrderStatus.CANCELLED)
        return
    if target not in STATUS_PATH:
        raise ValidationFailed(field="status", reason=f"must be one of draft, {', '.join(STATUS_PATH)} or cancelled")
    current = STATUS_PATH.index(order.status) if order.status in STATUS_PATH else -1
    for step in STATUS_PATH[current + 1 : STATUS_PATH.index(target) + 1]:
        order = order_set_status(actor=actor, order=order, status=step)


def orders_chunk(actor: Any, source: Source, rows: list[Row], columns: dict[str, str]) -> ChunkResult:
    """Rows of whole orders (the caller never splits an order's lines across chunks)."""
    result = ChunkResult()
    groups: list[list[Row]] = []
    for row in rows:
        if groups and groups[-1][0].values["source_id"] == row.values["source_id"]:
            groups[-1].append(row)
        else:
            groups.append([row])
    for lines in groups:
        try:
            with transaction.atomic():
                status = _order_write(actor, source, lines)
        except (CuoreError, ValueError) as error:
            for row in lines:
                result.failures += _failure(row, error, columns)
            continue
        setattr(result, status, getattr(result, status) + len(lines))
    return result


def _order_write(actor: Any, source: Source, lines: list[Row]) -> str:
    head = lines[0].values
    customer = _customer(source, head["customer_source_id"])
    values = {
        "order": {k: v for k, v in jsonable(head).items() if k in ORDER_HEAD and v not in (None, "")},
        "lines": [{k: v for k, v in jsonable(r.values).items() if k in LINE_VALUES} for r in lines],
    }
    raw = {"lines": [row.raw for row in lines]}
    record, status = record_upsert(
        source=source, kind=RecordKind.ORDER, key=str(head["source_id"]), raw=raw, values=values, parent=customer
    )
    order = _linked(record, Order)
    if order is not None:
        if status == "unchanged":
            return status
        if record.values["lines"] != values["lines"] and order.status != OrderStatus.DRAFT:
            raise Conflict(
                f"order {head['source_id']} was imported before with other lines and is {order.status}: "
                "import the changed order under a new id",
                field="source_id",
            )
        _advance(actor, order, head.get("status"))
        return "updated"
    contact = customer.contact
    if contact is None:
        raise NotFound("contact")
    order_lines = [
        LineInput(
            product=_product_for_line(actor, row.values),
            quantity=_whole(row.values["quantity"]),
            unit_price=row.values["unit_price"],
            discount=row.values.get("discount") or Decimal("0"),
            unit_cost=row.values.get("unit_cost"),
        )
        for row in lines
    ]
    channel = (head.get("channel") or "web").strip().lower()
    order = order_create(
        actor=actor, lines=order_lines, contact=contact, channel=channel, placed_at=head["order_date"], notes=""
    )
    _advance(actor, order, head.get("status") or OrderStatus.CONFIRMED)
    _point_at(record, order)
    return "created"


ORDER_HEAD = {"customer_source_id", "order_date", "status", "currency", "channel"}
LINE_VALUES = {"sku", "product_name", "quantity", "unit_price", "discount", "unit_cost"}


def interactions_chunk(actor: Any, source: Source, rows: list[Row], columns: dict[str, str]) -> ChunkResult:
    def write(row: Row) -> str:
        customer = _customer(source, row.values["customer_source_id"])
        record, status = _keep(source, RecordKind.INTERACTION, row, parent=customer)
        if status == "unchanged" and record.object_id is not None:
            return status
        logged = interaction_log(
            actor=actor,
            channel=row.values.get("channel") or "note",
            direction=row.values.get("direction") or "in",
            contact=customer.contact,
            occurred_at=row.values["occurred_at"],
            subject=row.values.get("subject") or "",
            body=row.values.get("body") or "",
            source=source.name,
            external_id=str(row.values["source_id"]),
        )
        _point_at(record, logged.interaction)
        return "created" if logged.created else status

    return _each(rows, columns, write)


CHUNKS: dict[str, Callable[[Any, Source, list[Row], dict[str, str]], ChunkResult]] = {
    "contacts": contacts_chunk,
    "accounts": accounts_chunk,
    "products": products_chunk,
    "orders": orders_chunk,
    "interactions": interactions_chunk,
}
# The write each kind needs besides "imports".
RESOURCES = {
    "contacts": "contacts",
    "accounts": "accounts",
    "products": "catalog",
    "orders": "orders",
    "interactions": "interactions",
}
