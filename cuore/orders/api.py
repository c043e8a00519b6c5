"""REST endpoints for categories, products, orders and their lines, shipments and returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from ninja import Field, Query, Router, Schema, Status

from cuore.core.api import Id, PathId, Text, idempotent_create, page_of, page_response, patch_data
from cuore.core.errors import ValidationFailed, reference
from cuore.core.pagination import paginate
from cuore.orders import selectors, services
from cuore.orders.models import Order
from cuore.orders.services import LineInput, ReturnLineInput

router = Router(tags=["orders"])

OrderStatusName = Literal["draft", "confirmed", "fulfilled", "shipped", "delivered", "cancelled", "returned"]
ChannelName = Literal["web", "store", "phone", "sales", "marketplace"]


def _price(default=..., **kwargs):
    """A price, a cost or a discount: never negative, at most 12 digits of which 2 decimals."""
    return Field(default, ge=0, max_digits=12, decimal_places=2, **kwargs)


# ---- schemas -------------------------------------------------------------------------------------


class CategoryOut(Schema):
    id: int
    name: str
    parent_id: int | None


class CategoryNodeOut(CategoryOut):
    depth: int
    path: str


class CategoryIn(Schema):
    name: Text = Field(min_length=1, max_length=100)
    parent_id: Id | None = None


class CategoryPatch(Schema):
    name: Text | None = Field(None, min_length=1, max_length=100)
    parent_id: Id | None = None


class CategoryFilters(Schema):
    parent_id: Id | None = None
    roots: bool = Field(False, description="only the categories at the top of the tree")
    q: Text | None = Field(None, max_length=100, description="name prefix")
    cursor: Text | None = None
    limit: int = 50


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    category_id: int | None
    category_name: str | None
    price: Decimal
    cost: Decimal
    currency: str
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_category_name(obj) -> str | None:
        return obj.category.name if obj.category_id else None


class ProductIn(Schema):
    sku: Text = Field(min_length=1, max_length=64)
    name: Text = Field(min_length=1, max_length=200)
    category_id: Id | None = None
    price: Decimal = _price()
    cost: Decimal = _price(Decimal("0"))
    currency: Text = Field("EUR", min_length=3, max_length=3)
    active: bool = True


class ProductPatch(Schema):
    sku: Text | None = Field(None, min_length=1, max_length=64)
    name: Text | None = Field(None, min_length=1, max_length=200)
    category_id: Id | None = None
    price: Decimal | None = _price(None)
    cost: Decimal | None = _price(None)
    currency: Text | None = Field(None, min_length=3, max_length=3)
    active: bool | None = None


class ProductFilters(Schema):
    category_id: Id | None = Field(None, description="this category and every category below it")
    active: bool | None = None
    currency: Text | None = Field(None, max_length=3)
    q: Text | None = Field(None, max_length=200, description="SKU or name prefix")
    ordering: Literal["sku", "name", "-price"] = "name"
    cursor: Text | None = None
    limit: int = 50


class OrderLineOut(Schema):
    id: int
    product_id: int
    product_sku: str
    product_name: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    unit_cost: Decimal
    line_total: Decimal

    @staticmethod
    def resolve_product_sku(obj) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_product_name(obj) -> str:
        return obj.product.name


class ShipmentOut(Schema):
    id: int
    order_id: int
    carrier: str
    tracking_number: str
    shipped_at: dt.datetime
    delivered_at: dt.datetime | None


class ReturnLineOut(Schema):
    id: int
    order_line_id: int
    quantity: int


class ReturnOut(Schema):
    id: int
    order_id: int
    reason: str
    status: str
    refund_amount: Decimal
    created_at: dt.datetime
    lines: list[ReturnLineOut]

    @staticmethod
    def resolve_lines(obj) -> list:
        return list(obj.lines.all())


def _customer_name(order: Order) -> str:
    if order.contact_id:
        return order.contact.full_name
    return order.account.name if order.account_id else ""


class OrderOut(Schema):
    id: int
    number: str
    status: str
    channel: str
    placed_at: dt.datetime
    contact_id: int | None
    account_id: int | None
    customer_name: str
    currency: str
    subtotal: Decimal
    discount_total: Decimal
    total: Decimal
    cost_total: Decimal
    margin: Decimal
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_customer_name(obj) -> str:
        return _customer_name(obj)


class OrderDetailOut(OrderOut):
    notes: str
    lines: list[OrderLineOut]
    shipments: list[ShipmentOut]
    returns: list[ReturnOut]

    @staticmethod
    def resolve_lines(obj) -> list:
        return list(obj.lines.all())

    @staticmethod
    def resolve_shipments(obj) -> list:
        return list(obj.shipments.all())

    @staticmethod
    def resolve_returns(obj) -> list:
        return list(obj.returns.all())


class OrderLineIn(Schema):
    product_id: Id
    quantity: int = Field(ge=1, le=services.MAX_QUANTITY)
    unit_price: Decimal | None = _price(None, description="defaults to the product's price")
    discount: Decimal = _price(Decimal("0"), description="amount off the whole line")
    unit_cost: Decimal | None = _price(None, description="defaults to the product's cost")


class OrderIn(Schema):
    number: Text | None = Field(None, min_length=1, max_length=32, description="generated when missing")
    contact_id: Id | None = None
    account_id: Id | None = None
    channel: ChannelName = "web"
    placed_at: dt.datetime | None = None
    notes: Text = Field("", max_length=10000)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=services.MAX_LINES)


class OrderPatch(Schema):
    notes: Text | None = Field(None, max_length=10000)
    channel: ChannelName | None = None
    contact_id: Id | None = None
    account_id: Id | None = None
    placed_at: dt.datetime | None = None


class OrderLinePatch(Schema):
    quantity: int | None = Field(None, ge=1, le=services.MAX_QUANTITY)
    unit_price: Decimal | None = _price(None)
    discount: Decimal | None = _price(None)
    unit_cost: Decimal | None = _price(None)


class OrderFilters(Schema):
    status: OrderStatusName | None = None
    channel: ChannelName | None = None
    contact_id: Id | None = None
    account_id: Id | None = None
    placed_after: dt.datetime | None = Field(None, description="placed at or after this time")
    placed_before: dt.datetime | None = Field(None, description="placed before this time")
    q: Text | None = Field(None, max_length=32, description="order number prefix")
    ordering: Literal["-placed", "placed", "-total"] = "-placed"
    cursor: Text | None = None
    limit: int = 50


class OrderSummaryOut(Schema):
    currency: str
    orders: int
    total: Decimal
    margin: Decimal
    first_placed_at: dt.datetime | None
    last_placed_at: dt.datetime | None


class SummaryFilters(Schema):
    contact_id: Id | None = None
    account_id: Id | None = None


class CancelIn(Schema):
    reason: Text = Field("", max_length=500)


class ShipmentIn(Schema):
    carrier: Text = Field("", max_length=50)
    tracking_number: Text = Field("", max_length=64)
    shipped_at: dt.datetime | None = Field(None, description="now when missing")


class DeliveredIn(Schema):
    delivered_at: dt.datetime | None = Field(None, description="now when missing")


class ReturnLineIn(Schema):
    order_line_id: Id
    quantity: int = Field(ge=1, le=services.MAX_QUANTITY)


class ReturnIn(Schema):
    reason: Text = Field(min_length=1, max_length=200)
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=services.MAX_LINES)


class ReturnStatusIn(Schema):
    status: Literal["received", "refunded", "rejected"]
    refund_amount: Decimal | None = Field(
        None, ge=0, max_digits=14, decimal_places=2, description="refunded only; defaults to the goods' value"
    )


# ---- helpers -------------------------------------------------------------------------------------

PRODUCT_ORDERINGS = {"sku": ("sku",), "name": ("name_key", "id"), "-price": ("-price", "-id")}
ORDER_ORDERINGS = {"-placed": ("-placed_at", "-id"), "placed": ("placed_at", "id"), "-total": ("-total", "-id")}


def _category_ref(actor, data: dict) -> dict:
    """Turn ``category_id`` / ``parent_id`` of a body into the category (422 on the field if unknown)."""
    for field, target in (("category_id", "category"), ("parent_id", "parent")):
        if field in data:
            pk = data.pop(field)
            data[target] = (
                reference(field, lambda pk=pk: selectors.category_get_for_actor(actor=actor, category_id=pk))
                if pk is not None
                else None
            )
    return data


def _customers(actor, data: dict) -> dict:
    """Turn ``contact_id`` / ``account_id`` of a body into a contact and an account the actor may see."""
    if "contact_id" in data:
        pk = data.pop("contact_id")
        data["contact"] = (
            reference("contact_id", lambda: selectors.customer_contact(actor=actor, contact_id=pk))
            if pk is not None
            else None
        )
    if "account_id" in data:
        account_pk = data.pop("account_id")
        data["account"] = (
            reference("account_id", lambda: selectors.customer_account(actor=actor, account_id=account_pk))
            if account_pk is not None
            else None
        )
    return data


def _line_inputs(actor, lines: list[OrderLineIn], *, nested: bool = True) -> list[LineInput]:
    """Fetch the lines' products in one query; an unknown product is a 422 on its line (``lines.N.product_id``)."""
    products = selectors.products_by_id(actor=actor, product_ids=[line.product_id for line in lines])
    missing = {
        f"lines.{index}.product_id" if nested else "product_id": "not found"
        for index, line in enumerate(lines)
        if line.product_id not in products
    }
    if missing:
        raise ValidationFailed(missing)
    return [
        LineInput(
            product=products[line.product_id],
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            unit_cost=line.unit_cost,
        )
        for line in lines
    ]


def _detail(request, order: Order) -> Order:
    return selectors.order_get_for_actor(actor=request.auth, order_id=order.pk)


# ---- categories ----------------------------------------------------------------------------------


@router.get("/categories", response=page_of(CategoryOut))
def list_categories(request, filters: Query[CategoryFilters]):
    categories = selectors.category_list(
        actor=request.auth, parent_id=filters.parent_id, roots=filters.roots, q=filters.q
    )
    return page_response(
        paginate(categories, ordering_key="name", ordering=("name", "id"), cursor=filters.cursor, limit=filters.limit)
    )


@router.get("/categories/tree", response=list[CategoryNodeOut], summary="The whole category tree, depth first")
def category_tree(request):
    return selectors.category_tree(actor=request.auth)


@router.post("/categories", response={201: CategoryOut})
def create_category(request, payload: CategoryIn):
    def create():
        data = _category_ref(request.auth, payload.dict())
        return services.category_create(actor=request.auth, name=data["name"], parent=data["parent"])

    return idempotent_create(request, create, CategoryOut)


@router.get("/categories/{category_id}", response=CategoryOut)
def get_category(request, category_id: PathId):
    return selectors.category_get_for_actor(actor=request.auth, category_id=category_id)


@router.patch("/categories/{category_id}", response=CategoryOut)
def update_category(request, category_id: PathId, payload: CategoryPatch):
    category = selectors.category_get_for_actor(actor=request.auth, category_id=category_id)
    data = _category_ref(request.auth, payload.dict(exclude_unset=True))
    return services.category_update(actor=request.auth, category=category, data=data)


@router.delete("/categories/{category_id}", response={204: None})
def delete_category(request, category_id: PathId):
    category = selectors.category_get_for_actor(actor=request.auth, category_id=category_id)
    services.category_delete(actor=request.auth, category=category)
    return Status(204, None)


# ---- products ------------------------------------------------------------------------------------


@router.get("/products", response=page_of(ProductOut))
def list_products(request, filters: Query[ProductFilters]):
    products = selectors.product_list(
        actor=request.auth,
        category_id=filters.category_id,
        active=filters.active,
        currency=filters.currency,
        q=filters.q,
    )
    ordering = PRODUCT_ORDERINGS[filters.ordering]
    return page_response(
        paginate(products, ordering_key=filters.ordering, ordering=ordering, cursor=filters.cursor, limit=filters.limit)
    )


@router.post("/products", response={201: ProductOut})
def create_product(request, payload: ProductIn):
    def create():
        data = _category_ref(request.auth, payload.dict())
        return services.product_create(actor=request.auth, **data)

    return idempotent_create(request, create, ProductOut)


@router.get("/products/{product_id}", response=ProductOut)
def get_product(request, product_id: PathId):
    return selectors.product_get_for_actor(actor=request.auth, product_id=product_id)


@router.patch("/products/{product_id}", response=ProductOut)
def update_product(request, product_id: PathId, payload: ProductPatch):
    product = selectors.product_get_for_actor(actor=request.auth, product_id=product_id)
    data = _category_ref(request.auth, patch_data(payload, nullable={"category_id"}))
    services.product_update(actor=request.auth, product=product, data=data)
    return selectors.product_get_for_actor(actor=request.auth, product_id=product_id)


@router.delete("/products/{product_id}", response={204: None}, summary="Delete a product, or deactivate it if ordered")
def delete_product(request, product_id: PathId):
    product = selectors.product_get_for_actor(actor=request.auth, product_id=product_id)
    services.product_delete(actor=request.auth, product=product)
    return Status(204, None)


# ---- orders --------------------------------------------------------------------------------------


@router.get("/orders", response=page_of(OrderOut))
def list_orders(request, filters: Query[OrderFilters]):
    orders = selectors.order_list(
        actor=request.auth,
        status=filters.status,
        channel=filters.channel,
        contact_id=filters.contact_id,
        account_id=filters.account_id,
        placed_after=filters.placed_after,
        placed_before=filters.placed_before,
        q=filters.q,
    )
    ordering = ORDER_ORDERINGS[filters.ordering]
    return page_response(
        paginate(orders, ordering_key=filters.ordering, ordering=ordering, cursor=filters.cursor, limit=filters.limit)
    )


@router.get(
    "/orders/summary", response=list[OrderSummaryOut], summary="A contact's or an account's orders, per currency"
)
def order_summary(request, filters: Query[SummaryFilters]):
    return selectors.order_summary(actor=request.auth, contact_id=filters.contact_id, account_id=filters.account_id)


@router.post("/orders", response={201: OrderDetailOut})
def create_order(request, payload: OrderIn):
    def create():
        data = _customers(request.auth, payload.dict(exclude={"lines"}))
        lines = _line_inputs(request.auth, payload.lines)
        order = services.order_create(actor=request.auth, lines=lines, **data)
        return _detail(request, order)

    return idempotent_create(request, create, OrderDetailOut)


@router.get("/orders/{order_id}", response=OrderDetailOut)
def get_order(request, order_id: PathId):
    return selectors.order_get_for_actor(actor=request.auth, order_id=order_id)


@router.patch("/orders/{order_id}", response=OrderDetailOut)
def update_order(request, order_id: PathId, payload: OrderPatch):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)
    data = _customers(request.auth, patch_data(payload, nullable={"notes", "contact_id", "account_id", "placed_at"}))
    return _detail(request, services.order_update(actor=request.auth, order=order, data=data))


@router.post("/orders/{order_id}/lines", response={201: OrderDetailOut})
def add_order_line(request, order_id: PathId, payload: OrderLineIn):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)

    def create():
        (line,) = _line_inputs(request.auth, [payload], nested=False)
        services.order_line_add(actor=request.auth, order=order, line=line)
        return _detail(request, order)

    return idempotent_create(request, create, OrderDetailOut)


@router.patch("/orders/{order_id}/lines/{line_id}", response=OrderDetailOut)
def update_order_line(request, order_id: PathId, line_id: PathId, payload: OrderLinePatch):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)
    line = selectors.order_line_get(order=order, line_id=line_id)
    data = patch_data(payload)
    services.order_line_update(actor=request.auth, line=line, data=data)
    return _detail(request, order)


@router.delete("/orders/{order_id}/lines/{line_id}", response={204: None})
def remove_order_line(request, order_id: PathId, line_id: PathId):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)
    services.order_line_remove(actor=request.auth, line=selectors.order_line_get(order=order, line_id=line_id))
    return Status(204, None)


@router.post("/orders/{order_id}/confirm", response=OrderDetailOut)
def confirm_order(request, order_id: PathId):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)
    return _detail(request, services.order_set_status(actor=request.auth, order=order, status="confirmed"))


@router.post("/orders/{order_id}/fulfil", response=OrderDetailOut)
def fulfil_order(request, order_id: PathId):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)
    return _detail(request, services.order_set_status(actor=request.auth, order=order, status="fulfilled"))


@router.post("/orders/{order_id}/cancel", response=OrderDetailOut)
def cancel_order(request, order_id: PathId, payload: CancelIn | None = None):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)
    reason = payload.reason if payload is not None else ""
    return _detail(request, services.order_cancel(actor=request.auth, order=order, reason=reason))


# ---- shipments and returns -----------------------------------------------------------------------


@router.post("/orders/{order_id}/shipments", response={201: ShipmentOut})
def create_shipment(request, order_id: PathId, payload: ShipmentIn):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)
    return idempotent_create(
        request, lambda: services.shipment_create(actor=request.auth, order=order, **payload.dict()), ShipmentOut
    )


@router.get("/shipments/{shipment_id}", response=ShipmentOut)
def get_shipment(request, shipment_id: PathId):
    return selectors.shipment_get_for_actor(actor=request.auth, shipment_id=shipment_id)


@router.post("/shipments/{shipment_id}/delivered", response=ShipmentOut)
def shipment_delivered(request, shipment_id: PathId, payload: DeliveredIn | None = None):
    shipment = selectors.shipment_get_for_actor(actor=request.auth, shipment_id=shipment_id)
    delivered_at = payload.delivered_at if payload is not None else None
    return services.shipment_mark_delivered(actor=request.auth, shipment=shipment, delivered_at=delivered_at)


@router.post("/orders/{order_id}/returns", response={201: ReturnOut})
def create_return(request, order_id: PathId, payload: ReturnIn):
    order = selectors.order_get_for_actor(actor=request.auth, order_id=order_id)

    def create():
        lines = [ReturnLineInput(order_line_id=line.order_line_id, quantity=line.quantity) for line in payload.lines]
        created = services.return_create(actor=request.auth, order=order, reason=payload.reason, lines=lines)
        return selectors.return_get_for_actor(actor=request.auth, return_id=created.pk)

    return idempotent_create(request, create, ReturnOut)


@router.get("/returns/{return_id}", response=ReturnOut)
def get_return(request, return_id: PathId):
    return selectors.return_get_for_actor(actor=request.auth, return_id=return_id)


@router.post("/returns/{return_id}/status", response=ReturnOut)
def set_return_status(request, return_id: PathId, payload: ReturnStatusIn):
    order_return = selectors.return_get_for_actor(actor=request.auth, return_id=return_id)
    services.return_set_status(
        actor=request.auth, order_return=order_return, status=payload.status, refund_amount=payload.refund_amount
    )
    return selectors.return_get_for_actor(actor=request.auth, return_id=return_id)
