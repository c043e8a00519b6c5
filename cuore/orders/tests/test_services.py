"""The order services: catalogue rules, exact totals, line edits, transitions, shipments and returns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from cuore.contacts.tests.factories import make_account
from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cuore.core.models import AuditEntry
from cuore.orders import services
from cuore.orders.models import Category, Order, OrderStatus, Product, Return, ReturnStatus
from cuore.orders.services import LineInput, ReturnLineInput
from cuore.orders.tests.factories import make_category, make_order, make_product

pytestmark = pytest.mark.django_db


def actions(object_type: str) -> list[str]:
    return list(AuditEntry.objects.filter(object_type=object_type).order_by("id").values_list("action", flat=True))


def totals(order: Order) -> tuple[D, D, D, D]:
    order.refresh_from_db()
    return order.subtotal, order.discount_total, order.total, order.cost_total


# ---- categories ----------------------------------------------------------------------------------


def test_a_category_cannot_move_under_itself_or_a_descendant(people):
    admin = people["admin"]
    kitchen = services.category_create(actor=admin, name="Kitchen")
    mugs = services.category_create(actor=admin, name="Mugs", parent=kitchen)
    espresso = services.category_create(actor=admin, name="Espresso", parent=mugs)

    with pytest.raises(ValidationFailed) as under_grandchild:
        services.category_update(actor=admin, category=kitchen, data={"parent": espresso})
    with pytest.raises(ValidationFailed) as under_itself:
        services.category_update(actor=admin, category=mugs, data={"parent": mugs})

    reason = {"parent_id": "cannot be the category itself or one of its subcategories"}
    assert under_grandchild.value.errors == reason
    assert under_itself.value.errors == reason
    assert Category.objects.get(pk=kitchen.pk).parent_id is None


def test_a_category_moves_and_is_renamed_with_an_audit_entry(people):
    admin = people["admin"]
    kitchen = services.category_create(actor=admin, name="Kitchen")
    garden = services.category_create(actor=admin, name="Garden")
    mugs = services.category_create(actor=admin, name="Mugs", parent=kitchen)

    services.category_update(actor=admin, category=mugs, data={"parent": garden, "name": "Pots"})

    mugs.refresh_from_db()
    assert (mugs.name, mugs.parent_id) == ("Pots", garden.pk)
    entry = AuditEntry.objects.filter(action="category.update").get()
    assert entry.changes == {"name": ["Mugs", "Pots"], "parent": [kitchen.pk, garden.pk]}
    assert actions("orders.category") == ["category.create"] * 3 + ["category.update"]


def test_category_names_are_unique_among_siblings_only(people):
    admin = people["admin"]
    kitchen = services.category_create(actor=admin, name="Kitchen")
    services.category_create(actor=admin, name="Mugs", parent=kitchen)

    with pytest.raises(ValidationFailed) as clash:
        services.category_create(actor=admin, name=" mugs ", parent=kitchen)
    top_level_mugs = services.category_create(actor=admin, name="Mugs")

    assert clash.value.errors == {"name": "another category under Kitchen already has this name"}
    assert top_level_mugs.parent_id is None


def test_a_category_with_subcategories_or_products_is_not_deleted(people):
    admin = people["admin"]
    kitchen = make_category(name="Kitchen")
    mugs = make_category(name="Mugs", parent=kitchen)
    make_product(category=mugs)
    empty = make_category(name="Empty", parent=kitchen)

    with pytest.raises(Conflict) as has_children:
        services.category_delete(actor=admin, category=kitchen)
    with pytest.raises(Conflict) as has_products:
        services.category_delete(actor=admin, category=mugs)
    services.category_delete(actor=admin, category=empty)

    assert str(has_children.value) == "The category has subcategories: move or delete them first."
    assert str(has_products.value) == "The category has products: move them to another category first."
    assert set(Category.objects.values_list("name", flat=True)) == {"Kitchen", "Mugs"}
    assert actions("orders.category") == ["category.delete"]


# ---- products ------------------------------------------------------------------------------------


def test_product_create_cleans_its_fields_and_audits(people):
    product = services.product_create(
        actor=people["manager"], sku=" TSHIRT-M ", name="T-Shirt Città", price=D("12.5"), cost=D("3"), currency="eur"
    )

    product.refresh_from_db()
    assert (product.sku, product.name, product.name_key, product.price, product.cost, product.currency) == (
        "TSHIRT-M",
        "T-Shirt Città",
        "t shirt citta",
        D("12.50"),
        D("3.00"),
        "EUR",
    )
    assert AuditEntry.objects.get(action="product.create").changes["sku"] == [None, "TSHIRT-M"]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"sku": "mug-01"}, {"sku": "is already used by another product"}),
        ({"sku": "  "}, {"sku": "is required"}),
        ({"name": ""}, {"name": "is required"}),
        ({"price": D("-0.01")}, {"price": "must not be negative"}),
        ({"cost": D("1.234")}, {"cost": "must have at most two decimal places"}),
        ({"price": D("10000000000")}, {"price": "must be at most 9999999999.99"}),
        ({"currency": "EURO"}, {"currency": "must be an ISO 4217 currency code such as EUR"}),
        ({"currency": "ZZZ"}, {"currency": "must be an ISO 4217 currency code such as EUR"}),
    ],
)
def test_product_create_refuses_bad_fields(people, product, fields, errors):
    base = {"sku": "NEW-1", "name": "New", "price": D("1.00")}

    with pytest.raises(ValidationFailed) as exc:
        services.product_create(actor=people["admin"], **{**base, **fields})

    assert exc.value.errors == errors
    assert list(Product.objects.values_list("sku", flat=True)) == ["MUG-01"]


def test_product_update_keeps_skus_unique_and_the_name_key_current(people, product):
    admin = people["admin"]
    other = make_product(sku="PEN-01")

    with pytest.raises(ValidationFailed) as clash:
        services.product_update(actor=admin, product=other, data={"sku": "MUG-01"})
    services.product_update(actor=admin, product=product, data={"sku": "MUG-01", "name": "Big Mug"})

    assert clash.value.errors == {"sku": "is already used by another product"}
    product.refresh_from_db()
    assert (product.sku, product.name_key) == ("MUG-01", "big mug")
    assert AuditEntry.objects.get(action="product.update").changes == {"name": ["Mug", "Big Mug"]}


def test_product_delete_deletes_the_unordered_and_deactivates_the_ordered(people, product, order_in):
    spare = make_product(sku="SPARE")
    order_in()

    assert services.product_delete(actor=people["admin"], product=spare) is True
    assert services.product_delete(actor=people["admin"], product=product) is False

    assert not Product.objects.filter(sku="SPARE").exists()
    assert Product.objects.get(pk=product.pk).active is False
    assert actions("orders.product") == ["product.delete", "product.update"]


@pytest.mark.parametrize("role", ["rep", "support", "marketing", "analyst"])
def test_only_admins_and_managers_write_the_catalogue(people, product, role):
    with pytest.raises(Forbidden):
        services.product_create(actor=people[role], sku="X", name="X", price=D("1"))
    with pytest.raises(Forbidden):
        services.category_create(actor=people[role], name="X")
    with pytest.raises(Forbidden):
        services.product_deactivate(actor=people[role], product=product)


# ---- orders --------------------------------------------------------------------------------------


def test_order_totals_are_exact_decimals_from_the_lines(people, customer):
    mug = make_product(price="19.99", cost="7.50")
    pen = make_product(price="0.10", cost="0.03")

    order = services.order_create(
        actor=people["rep"],
        contact=customer,
        lines=[
            LineInput(product=mug, quantity=3, discount=D("5.00")),
            LineInput(product=pen, quantity=7),
            LineInput(product=mug, quantity=1, unit_price=D("15.00"), unit_cost=D("7.00")),
        ],
    )

    assert totals(order) == (D("75.67"), D("5.00"), D("70.67"), D("29.71"))
    assert order.margin == D("40.96")
    assert list(
        order.lines.order_by("id").values_list("quantity", "unit_price", "discount", "unit_cost", "line_total")
    ) == [
        (3, D("19.99"), D("5.00"), D("7.50"), D("54.97")),
        (7, D("0.10"), D("0.00"), D("0.03"), D("0.70")),
        (1, D("15.00"), D("0.00"), D("7.00"), D("15.00")),
    ]
    assert (order.status, order.currency, order.channel) == ("draft", "EUR", "web")
    entry = AuditEntry.objects.get(action="order.create")
    assert entry.actor_id == people["rep"].pk
    assert entry.changes["total"] == [None, "70.67"]
    assert [line["quantity"] for line in entry.changes["lines"][1]] == [3, 7, 1]


def test_an_order_takes_its_products_currency(customer):
    dollar_mug = make_product(price="21.00", currency="USD")

    order = make_order(contact=customer, products=[(dollar_mug, 1)])

    assert order.currency == "USD"


def test_the_unit_cost_is_a_snapshot_of_the_product_cost(order_in, product):
    order = order_in()

    Product.objects.filter(pk=product.pk).update(cost=D("9.00"), price=D("25.00"))

    line = order.lines.get()
    assert (line.unit_price, line.unit_cost) == (D("19.99"), D("7.50"))
    assert totals(order) == (D("39.98"), D("0.00"), D("39.98"), D("15.00"))


def test_the_generated_number_is_made_of_the_year_and_the_id(customer, product):
    placed = dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC)

    order = make_order(contact=customer, products=[(product, 1)], placed_at=placed)

    assert order.number == f"ORD-2025-{order.pk:06d}"
    assert Order.objects.get(pk=order.pk).number == order.number


def test_a_generated_number_steps_around_one_typed_by_hand(customer, product):
    year = timezone.now().year
    typed = make_order(contact=customer, products=[(product, 1)], number="TEMP")
    Order.objects.filter(pk=typed.pk).update(number=f"ORD-{year}-{typed.pk + 1:06d}")

    generated = make_order(contact=customer, products=[(product, 1)])

    assert generated.pk == typed.pk + 1
    assert generated.number == f"ORD-{year}-{generated.pk:06d}-2"


def test_a_number_given_twice_is_refused(customer, product):
    make_order(contact=customer, products=[(product, 1)], number="WEB-1001")

    with pytest.raises(ValidationFailed) as exc:
        make_order(contact=customer, products=[(product, 1)], number=" WEB-1001 ")

    assert exc.value.errors == {"number": "is already used by another order"}
    assert Order.objects.count() == 1


def _create(customer, lines, **fields):
    return services.order_create(actor=None, contact=customer, lines=lines, **fields)


@pytest.mark.parametrize(
    ("case", "errors"),
    [
        ("mixed currencies", {"lines.1.product_id": "is priced in USD, the order in EUR"}),
        ("discount above the line", {"lines.0.discount": "cannot exceed quantity × unit price (39.98)"}),
        ("inactive product", {"lines.0.product_id": "is not on sale (the product is inactive)"}),
        ("no customer", {"contact_id": "an order needs a contact or an account"}),
        ("no lines", {"lines": "an order needs at least one line"}),
        ("zero quantity", {"lines.0.quantity": "must be a whole number between 1 and 1000000"}),
        ("naive time", {"placed_at": "must include a time zone"}),
        ("future time", {"placed_at": "cannot be in the future"}),
        ("unknown channel", {"channel": "must be one of web, store, phone, sales, marketplace"}),
        ("negative price", {"lines.0.unit_price": "must not be negative"}),
        ("huge line", {"lines.0.quantity": "makes the line total too large"}),
    ],
)
def test_order_create_refuses_bad_input_naming_the_field(customer, product, case, errors):
    dollar = make_product(currency="USD")
    retired = make_product(active=False)
    lines = [LineInput(product=product, quantity=2)]
    fields: dict = {}
    if case == "mixed currencies":
        lines.append(LineInput(product=dollar, quantity=1))
    elif case == "discount above the line":
        lines = [LineInput(product=product, quantity=2, discount=D("39.99"))]
    elif case == "inactive product":
        lines = [LineInput(product=retired, quantity=1)]
    elif case == "no lines":
        lines = []
    elif case == "zero quantity":
        lines = [LineInput(product=product, quantity=0)]
    elif case == "naive time":
        fields["placed_at"] = dt.datetime(2026, 1, 5, 10, 0)
    elif case == "future time":
        fields["placed_at"] = timezone.now() + dt.timedelta(hours=1)
    elif case == "unknown channel":
        fields["channel"] = "fax"
    elif case == "negative price":
        lines = [LineInput(product=product, quantity=1, unit_price=D("-1.00"))]
    elif case == "huge line":
        lines = [LineInput(product=product, quantity=1_000_000, unit_price=D("9999999999.99"))]

    with pytest.raises(ValidationFailed) as exc:
        _create(None if case == "no customer" else customer, lines, **fields)

    assert exc.value.errors == errors
    assert not Order.objects.exists()


def test_an_order_may_be_for_an_account_only(product):
    account = make_account(name="Acme")

    order = services.order_create(actor=None, account=account, lines=[LineInput(product=product, quantity=1)])

    assert (order.contact_id, order.account_id) == (None, account.pk)


def test_lines_change_while_draft_and_the_totals_follow(people, order_in, product):
    rep = people["rep"]
    order = order_in()
    pen = make_product(price="1.25", cost="0.40")

    added = services.order_line_add(actor=rep, order=order, line=LineInput(product=pen, quantity=4, discount=D("0.50")))
    after_add = totals(order)
    services.order_line_update(actor=rep, line=added, data={"quantity": 2, "unit_price": D("1.00")})
    after_update = totals(order)
    services.order_line_remove(actor=rep, line=order.lines.get(product=product))
    after_remove = totals(order)

    assert after_add == (D("44.98"), D("0.50"), D("44.48"), D("16.60"))
    assert after_update == (D("41.98"), D("0.50"), D("41.48"), D("15.80"))
    assert after_remove == (D("2.00"), D("0.50"), D("1.50"), D("0.80"))
    assert list(order.lines.values_list("product_id", "line_total")) == [(pen.pk, D("1.50"))]
    assert actions("orders.order") == ["order.create", "order.line_add", "order.line_update", "order.line_remove"]
    update = AuditEntry.objects.get(action="order.line_update")
    assert update.changes["total"] == ["44.48", "41.48"]
    assert update.changes["lines"][1]["quantity"] == 2


def test_a_line_update_refuses_a_discount_above_the_line(order_in):
    order = order_in()

    with pytest.raises(ValidationFailed) as exc:
        services.order_line_update(actor=None, line=order.lines.get(), data={"discount": D("40.00")})

    assert exc.value.errors == {"discount": "cannot exceed quantity × unit price (39.98)"}
    assert order.lines.get().discount == D("0.00")


def test_a_line_of_another_currency_is_refused(order_in):
    order = order_in()
    dollar = make_product(currency="USD")

    with pytest.raises(ValidationFailed) as exc:
        services.order_line_add(actor=None, order=order, line=LineInput(product=dollar, quantity=1))

    assert exc.value.errors == {"product_id": "is priced in USD, the order in EUR"}


def test_a_line_removed_meanwhile_is_not_found(order_in):
    order = order_in()
    stale = order.lines.get()
    services.order_line_remove(actor=None, line=order.lines.get())

    with pytest.raises(NotFound):
        services.order_line_update(actor=None, line=stale, data={"quantity": 3})
    with pytest.raises(NotFound):
        services.order_line_remove(actor=None, line=stale)

    assert actions("orders.order") == ["order.create", "order.line_remove"]


def test_an_emptied_draft_takes_the_currency_of_its_next_product(order_in):
    order = order_in()
    services.order_line_remove(actor=None, line=order.lines.get())
    dollar = make_product(price="3.00", currency="USD")

    services.order_line_add(actor=None, order=order, line=LineInput(product=dollar, quantity=2))

    order.refresh_from_db()
    assert (order.currency, order.total) == ("USD", D("6.00"))


@pytest.mark.parametrize("status", ["confirmed", "fulfilled", "shipped", "cancelled"])
def test_lines_are_frozen_once_the_order_leaves_draft(order_in, product, status):
    order = order_in(status)
    line = order.lines.get()
    calls = [
        lambda: services.order_line_add(actor=None, order=order, line=LineInput(product=product, quantity=1)),
        lambda: services.order_line_update(actor=None, line=line, data={"quantity": 5}),
        lambda: services.order_line_remove(actor=None, line=line),
    ]

    for call in calls:
        with pytest.raises(Conflict) as exc:
            call()
        assert str(exc.value) == f"Lines can change only while the order is a draft; this one is {status}."
        assert exc.value.field == "status"

    assert totals(order) == (D("39.98"), D("0.00"), D("39.98"), D("15.00"))
    assert order.lines.count() == 1


def test_after_draft_only_the_notes_change(order_in, people):
    order = order_in("confirmed")

    services.order_update(actor=people["rep"], order=order, data={"notes": "Gift wrap"})
    with pytest.raises(Conflict) as exc:
        services.order_update(actor=people["rep"], order=order, data={"channel": "phone"})

    order.refresh_from_db()
    assert (order.notes, order.channel) == ("Gift wrap", "web")
    assert (
        str(exc.value)
        == "The customer, channel and date can change only while the order is a draft; this one is confirmed."
    )


def test_a_draft_changes_customer_and_channel_but_keeps_one_customer(order_in):
    order = order_in()
    account = make_account(name="Acme")

    services.order_update(actor=None, order=order, data={"account": account, "contact": None, "channel": "phone"})
    with pytest.raises(ValidationFailed) as exc:
        services.order_update(actor=None, order=order, data={"account": None})

    order.refresh_from_db()
    assert (order.contact_id, order.account_id, order.channel) == (None, account.pk, "phone")
    assert exc.value.errors == {"contact_id": "an order needs a contact or an account"}


ALLOWED = {
    ("draft", "confirmed"),
    ("draft", "cancelled"),
    ("confirmed", "fulfilled"),
    ("confirmed", "cancelled"),
    ("fulfilled", "shipped"),
    ("fulfilled", "cancelled"),
    ("shipped", "delivered"),
}


@pytest.mark.parametrize("target", OrderStatus.values)
@pytest.mark.parametrize("start", ["draft", "confirmed", "fulfilled", "shipped", "delivered", "cancelled"])
def test_status_transitions_allowed_and_refused(order_in, people, start, target):
    order = order_in(start)

    if (start, target) in ALLOWED:
        moved = services.order_set_status(actor=people["manager"], order=order, status=target)
        assert moved.status == target
        assert AuditEntry.objects.filter(action=f"order.{target}").last().changes == {"status": [start, target]}
    else:
        with pytest.raises(Conflict) as exc:
            services.order_set_status(actor=people["manager"], order=order, status=target)
        assert str(exc.value) == f"An order cannot go from {start} to {target}."
        assert exc.value.field == "status"
    assert Order.objects.get(pk=order.pk).status == (target if (start, target) in ALLOWED else start)


def test_an_unknown_status_is_a_validation_error(order_in):
    with pytest.raises(ValidationFailed) as exc:
        services.order_set_status(actor=None, order=order_in(), status="lost")

    assert list(exc.value.errors) == ["status"]


def test_an_order_without_lines_cannot_be_confirmed(order_in):
    order = order_in()
    services.order_line_remove(actor=None, line=order.lines.get())

    with pytest.raises(Conflict) as exc:
        services.order_set_status(actor=None, order=order, status="confirmed")

    assert (str(exc.value), exc.value.field) == ("An order without lines cannot be confirmed.", "lines")


def test_cancel_records_the_reason(order_in, people):
    order = order_in("confirmed")

    services.order_cancel(actor=people["rep"], order=order, reason=" Changed their mind ")

    entry = AuditEntry.objects.get(action="order.cancelled")
    assert entry.changes == {"status": ["confirmed", "cancelled"], "reason": [None, "Changed their mind"]}
    assert entry.actor_id == people["rep"].pk


def test_order_writes_need_the_right(order_in, people, product):
    order = order_in()

    with pytest.raises(Forbidden):
        services.order_set_status(actor=people["analyst"], order=order, status="confirmed")
    for role in ("support", "marketing"):
        with pytest.raises(NotFound):
            services.order_line_add(actor=people[role], order=order, line=LineInput(product=product, quantity=1))
    assert Order.objects.get(pk=order.pk).status == "draft"


# ---- shipments -----------------------------------------------------------------------------------


def test_a_shipment_ships_a_fulfilled_order(order_in, people):
    order = order_in("fulfilled")
    when = order.placed_at + dt.timedelta(seconds=30)

    shipment = services.shipment_create(
        actor=people["rep"], order=order, carrier=" BRT ", tracking_number="123", shipped_at=when
    )

    order.refresh_from_db()
    assert order.status == "shipped"
    assert (shipment.carrier, shipment.tracking_number, shipment.shipped_at, shipment.delivered_at) == (
        "BRT",
        "123",
        when,
        None,
    )
    assert actions("orders.shipment") == ["shipment.create"]
    assert AuditEntry.objects.get(action="order.shipped").changes == {
        "status": ["fulfilled", "shipped"],
        "shipment": [None, shipment.pk],
    }


@pytest.mark.parametrize("status", ["draft", "confirmed", "delivered", "cancelled"])
def test_a_shipment_is_refused_unless_fulfilled_or_shipped(order_in, status):
    order = order_in(status)
    before = order.shipments.count()

    with pytest.raises(Conflict) as exc:
        services.shipment_create(actor=None, order=order)

    assert str(exc.value) == f"An order cannot go from {status} to shipped."
    assert order.shipments.count() == before


def test_the_order_is_delivered_when_every_parcel_arrived(order_in):
    order = order_in("fulfilled")
    first = services.shipment_create(actor=None, order=order, tracking_number="A")
    second = services.shipment_create(actor=None, order=order, tracking_number="B")

    services.shipment_mark_delivered(actor=None, shipment=first)
    after_first = Order.objects.get(pk=order.pk).status
    services.shipment_mark_delivered(actor=None, shipment=second)
    after_second = Order.objects.get(pk=order.pk).status
    with pytest.raises(Conflict) as again:
        services.shipment_mark_delivered(actor=None, shipment=second)

    assert (after_first, after_second) == ("shipped", "delivered")
    assert str(again.value) == "The shipment was already delivered."


def test_a_delivery_cannot_precede_the_shipment(shipped_shipment):
    before = shipped_shipment.shipped_at - dt.timedelta(minutes=1)

    with pytest.raises(ValidationFailed) as exc:
        services.shipment_mark_delivered(actor=None, shipment=shipped_shipment, delivered_at=before)

    assert exc.value.errors == {"delivered_at": "cannot be before the shipment left"}
    shipped_shipment.refresh_from_db()
    assert shipped_shipment.delivered_at is None


# ---- returns -------------------------------------------------------------------------------------


def _return(order, *pairs, reason="Broken"):
    lines = [ReturnLineInput(order_line_id=line_id, quantity=quantity) for line_id, quantity in pairs]
    return services.return_create(actor=None, order=order, reason=reason, lines=lines)


def _refund(order_return, amount=None):
    services.return_set_status(actor=None, order_return=order_return, status="received")
    return services.return_set_status(actor=None, order_return=order_return, status="refunded", refund_amount=amount)


@pytest.mark.parametrize("status", ["draft", "confirmed", "fulfilled", "cancelled"])
def test_only_shipped_or_delivered_orders_are_returned(order_in, status):
    order = order_in(status)

    with pytest.raises(Conflict) as exc:
        _return(order, (order.lines.get().pk, 1))

    assert str(exc.value) == f"Only shipped or delivered orders can be returned; this one is {status}."
    assert not Return.objects.exists()


def test_returned_quantities_are_capped_per_line(order_in):
    order = order_in("delivered", quantity=2)
    other = order_in("delivered")
    line = order.lines.get()
    first = _return(order, (line.pk, 1))

    with pytest.raises(ValidationFailed) as too_many:
        _return(order, (line.pk, 2))
    with pytest.raises(ValidationFailed) as twice_in_one:
        _return(order, (line.pk, 1), (line.pk, 1))
    with pytest.raises(ValidationFailed) as foreign:
        _return(order, (other.lines.get().pk, 1))
    with pytest.raises(ValidationFailed) as no_reason:
        _return(order, (line.pk, 1), reason=" ")

    assert too_many.value.errors == {"lines.0.quantity": "at most 1 of this line can still be returned"}
    assert twice_in_one.value.errors == {"lines.1.quantity": "at most 0 of this line can still be returned"}
    assert foreign.value.errors == {"lines.0.order_line_id": "is not a line of this order"}
    assert no_reason.value.errors == {"reason": "is required"}
    assert list(Return.objects.values_list("pk", flat=True)) == [first.pk]


def test_a_rejected_return_frees_its_units(order_in):
    order = order_in("shipped", quantity=2)
    line = order.lines.get()
    rejected = _return(order, (line.pk, 2))
    services.return_set_status(actor=None, order_return=rejected, status="rejected")

    again = _return(order, (line.pk, 2))

    assert again.lines.get().quantity == 2
    assert Order.objects.get(pk=order.pk).status == "shipped"


def test_the_order_is_returned_once_every_unit_is_refunded(order_in):
    order = order_in("delivered", quantity=2)
    line = order.lines.get()

    first = _refund(_return(order, (line.pk, 1)))
    after_first = Order.objects.get(pk=order.pk).status
    second = _refund(_return(order, (line.pk, 1)), amount=D("19.99"))

    assert after_first == "delivered"
    assert (first.status, first.refund_amount, second.refund_amount) == ("refunded", D("19.99"), D("19.99"))
    assert Order.objects.get(pk=order.pk).status == "returned"
    assert AuditEntry.objects.get(action="order.returned").changes == {
        "status": ["delivered", "returned"],
        "order_return": [None, second.pk],
    }
    assert actions("orders.return") == ["return.create", "return.received", "return.refunded"] * 2


def test_the_default_refund_is_what_the_units_were_paid_after_discount(customer, product):
    order = services.order_create(
        actor=None,
        contact=customer,
        lines=[LineInput(product=product, quantity=3, unit_price=D("10.00"), discount=D("1.00"))],
    )
    for status in ("confirmed", "fulfilled"):
        services.order_set_status(actor=None, order=order, status=status)
    services.shipment_create(actor=None, order=order)

    refunded = _refund(_return(order, (order.lines.get().pk, 1)))

    assert refunded.refund_amount == D("9.67")  # 29.00 / 3, rounded half up
    assert Order.objects.get(pk=order.pk).status == "shipped"


def test_refunds_cannot_exceed_the_order_total(order_in):
    order = order_in("delivered", quantity=2)
    line = order.lines.get()
    _refund(_return(order, (line.pk, 1)), amount=D("39.00"))
    second = _return(order, (line.pk, 1))
    services.return_set_status(actor=None, order_return=second, status="received")

    with pytest.raises(ValidationFailed) as exc:
        services.return_set_status(actor=None, order_return=second, status="refunded", refund_amount=D("1.00"))

    assert exc.value.errors == {"refund_amount": "the order's refunds cannot exceed its total: at most 0.98"}
    second.refresh_from_db()
    assert (second.status, second.refund_amount) == ("received", D("0.00"))
    assert Order.objects.get(pk=order.pk).status == "delivered"


def test_return_transitions_are_checked(requested_return):
    with pytest.raises(Conflict) as skip:
        services.return_set_status(actor=None, order_return=requested_return, status="refunded")
    with pytest.raises(ValidationFailed) as back:
        services.return_set_status(actor=None, order_return=requested_return, status="requested")
    with pytest.raises(ValidationFailed) as amount:
        services.return_set_status(
            actor=None, order_return=requested_return, status="received", refund_amount=D("1.00")
        )
    services.return_set_status(actor=None, order_return=requested_return, status="rejected")
    with pytest.raises(Conflict) as after_rejection:
        services.return_set_status(actor=None, order_return=requested_return, status="received")

    assert str(skip.value) == "A return cannot go from requested to refunded."
    assert back.value.errors == {"status": "must be one of received, refunded, rejected"}
    assert amount.value.errors == {"refund_amount": "only a refunded return has a refund amount"}
    assert str(after_rejection.value) == "A return cannot go from rejected to received."
    assert Return.objects.get(pk=requested_return.pk).status == ReturnStatus.REJECTED


def test_an_account_with_orders_cannot_be_deleted(make_user):
    from cuore.contacts import services as contact_services

    account = make_account()
    make_order(account=account)

    with pytest.raises(Conflict):
        contact_services.account_delete(actor=make_user(role="admin"), account=account)


def test_the_state_checks_refuse_as_the_services_would(order_in):
    draft, confirmed, delivered = order_in(), order_in("confirmed"), order_in("delivered")

    services.check_lines_editable(order=draft)
    services.check_returnable(order=delivered)
    with pytest.raises(Conflict) as lines:
        services.check_lines_editable(order=confirmed)
    with pytest.raises(Conflict) as returns:
        services.check_returnable(order=confirmed)

    assert lines.value.reason == "Lines can change only while the order is a draft; this one is confirmed."
    assert returns.value.reason == "Only shipped or delivered orders can be returned; this one is confirmed."
