"""Categories, products, orders, shipments and returns through the API: bodies, errors, pages, queries."""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.contacts.tests.factories import make_contact
from cuore.core.models import AuditEntry
from cuore.orders import services
from cuore.orders.models import Category, Order, Product, Return
from cuore.orders.services import ReturnLineInput
from cuore.orders.tests.factories import make_category, make_order, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(people):
    return people["admin"]


@pytest.fixture
def client(api_for, admin):
    return api_for(admin)


def fields(response) -> list[str]:
    return [error["field"] for error in response.json_body["errors"]]


# ---- the whole life of an order ------------------------------------------------------------------


def test_an_order_from_creation_to_return(people, api_for, customer, product):
    rep = api_for(people["rep"])
    pen = make_product(sku="PEN-01", name="Pen", price="1.25", cost="0.40")

    created = rep.post(
        "/orders",
        {
            "contact_id": customer.pk,
            "channel": "phone",
            "notes": "Call before delivery",
            "lines": [{"product_id": product.pk, "quantity": 3, "discount": "5.00"}],
        },
    )
    order_id = created.json_body["id"]
    added = rep.post(f"/orders/{order_id}/lines", {"product_id": pen.pk, "quantity": 4, "unit_price": "1.00"})
    pen_line = added.json_body["lines"][1]["id"]
    patched = rep.patch(f"/orders/{order_id}/lines/{pen_line}", {"quantity": 2, "discount": "0.50"})
    confirmed = rep.post(f"/orders/{order_id}/confirm")
    fulfilled = rep.post(f"/orders/{order_id}/fulfil")
    shipment = rep.post(f"/orders/{order_id}/shipments", {"carrier": "BRT", "tracking_number": "X1"})
    delivered = rep.post(f"/shipments/{shipment.json_body['id']}/delivered")
    mug_line = created.json_body["lines"][0]["id"]
    opened = rep.post(
        f"/orders/{order_id}/returns",
        {
            "reason": "Wrong size",
            "lines": [{"order_line_id": mug_line, "quantity": 3}, {"order_line_id": pen_line, "quantity": 2}],
        },
    )
    return_id = opened.json_body["id"]
    received = rep.post(f"/returns/{return_id}/status", {"status": "received"})
    refunded = rep.post(f"/returns/{return_id}/status", {"status": "refunded"})
    final = rep.get(f"/orders/{order_id}")

    statuses = [
        r.status_code
        for r in (created, added, patched, confirmed, fulfilled, shipment, delivered, opened, received, refunded, final)
    ]
    assert statuses == [201, 201, 200, 200, 200, 201, 200, 201, 200, 200, 200]
    body = created.json_body
    assert body["number"] == f"ORD-{dt.datetime.now(dt.UTC).year}-{order_id:06d}"
    assert (body["status"], body["channel"], body["customer_name"], body["notes"]) == (
        "draft",
        "phone",
        "Giulia Bianchi",
        "Call before delivery",
    )
    assert (body["subtotal"], body["discount_total"], body["total"], body["cost_total"], body["margin"]) == (
        "59.97",
        "5.00",
        "54.97",
        "22.50",
        "32.47",
    )
    assert body["lines"] == [
        {
            "id": mug_line,
            "product_id": product.pk,
            "product_sku": "MUG-01",
            "product_name": "Mug",
            "quantity": 3,
            "unit_price": "19.99",
            "discount": "5.00",
            "unit_cost": "7.50",
            "line_total": "54.97",
        }
    ]
    assert added.json_body["total"] == "58.97"
    assert (patched.json_body["subtotal"], patched.json_body["discount_total"], patched.json_body["total"]) == (
        "61.97",
        "5.50",
        "56.47",
    )
    assert [r.json_body["status"] for r in (confirmed, fulfilled)] == ["confirmed", "fulfilled"]
    assert shipment.json_body["carrier"] == "BRT" and shipment.json_body["delivered_at"] is None
    assert delivered.json_body["delivered_at"] is not None
    assert [(line["order_line_id"], line["quantity"]) for line in opened.json_body["lines"]] == [
        (mug_line, 3),
        (pen_line, 2),
    ]
    assert (refunded.json_body["status"], refunded.json_body["refund_amount"]) == ("refunded", "56.47")
    assert final.json_body["status"] == "returned"
    assert [s["tracking_number"] for s in final.json_body["shipments"]] == ["X1"]
    assert [(r["id"], r["status"]) for r in final.json_body["returns"]] == [(return_id, "refunded")]
    assert AuditEntry.objects.filter(object_type="orders.order", channel="api").count() == 8


def test_an_order_can_be_cancelled_without_a_body(client, order_in):
    order = order_in("confirmed")

    response = client.post(f"/orders/{order.pk}/cancel")

    assert (response.status_code, response.json_body["status"]) == (200, "cancelled")


def test_patch_order_changes_customer_while_draft(people, api_for, order_in, customer):
    order = order_in()
    other = make_contact(owner=people["teammate"])
    strangers = make_contact(owner=people["stranger"])
    rep = api_for(people["rep"])

    moved = rep.patch(f"/orders/{order.pk}", {"contact_id": other.pk, "channel": "store"})
    hidden = rep.patch(f"/orders/{order.pk}", {"contact_id": strangers.pk})
    null_channel = rep.patch(f"/orders/{order.pk}", {"channel": None})

    assert (moved.status_code, moved.json_body["contact_id"], moved.json_body["channel"]) == (200, other.pk, "store")
    assert (hidden.status_code, fields(hidden)) == (422, ["contact_id"])
    assert (null_channel.status_code, fields(null_channel)) == (422, ["channel"])
    assert Order.objects.get(pk=order.pk).contact_id == other.pk


# ---- validation errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("zero quantity", "lines.0.quantity"),
        ("fractional quantity", "lines.0.quantity"),
        ("unknown product", "lines.0.product_id"),
        ("missing product", "lines.0.product_id"),
        ("second line in dollars", "lines.1.product_id"),
        ("discount above the line", "lines.0.discount"),
        ("three decimals", "lines.0.unit_price"),
        ("negative price", "lines.0.unit_price"),
        ("no customer", "contact_id"),
        ("unknown contact", "contact_id"),
        ("contact as text", "contact_id"),
        ("unknown account", "account_id"),
        ("empty lines", "lines"),
        ("missing lines", "lines"),
        ("lines as text", "lines"),
        ("unknown channel", "channel"),
        ("naive time", "placed_at"),
        ("not a time", "placed_at"),
        ("empty number", "number"),
        ("long notes", "notes"),
    ],
)
def test_order_create_errors_name_the_field(client, customer, product, case, field):
    dollar = make_product(currency="USD")
    line = {"product_id": product.pk, "quantity": 2}
    body: dict = {"contact_id": customer.pk, "lines": [line]}
    changes = {
        "zero quantity": {"lines": [{**line, "quantity": 0}]},
        "fractional quantity": {"lines": [{**line, "quantity": 1.5}]},
        "unknown product": {"lines": [{**line, "product_id": 999999}]},
        "missing product": {"lines": [{"quantity": 1}]},
        "second line in dollars": {"lines": [line, {"product_id": dollar.pk, "quantity": 1}]},
        "discount above the line": {"lines": [{**line, "discount": "39.99"}]},
        "three decimals": {"lines": [{**line, "unit_price": "1.234"}]},
        "negative price": {"lines": [{**line, "unit_price": "-1"}]},
        "no customer": {"contact_id": None},
        "unknown contact": {"contact_id": 999999},
        "contact as text": {"contact_id": "abc"},
        "unknown account": {"account_id": 999999},
        "empty lines": {"lines": []},
        "missing lines": {"lines": None},
        "lines as text": {"lines": "two mugs"},
        "unknown channel": {"channel": "fax"},
        "naive time": {"placed_at": "2026-01-05T10:00:00"},
        "not a time": {"placed_at": "yesterday"},
        "empty number": {"number": ""},
        "long notes": {"notes": "x" * 10001},
    }[case]
    body.update(changes)
    body = {key: value for key, value in body.items() if value is not None or key == "contact_id"}

    response = client.post("/orders", body)

    assert response.status_code == 422
    assert fields(response) == [field]
    assert not Order.objects.exists()


def test_a_body_that_is_not_json_is_a_400(client):
    response = client.post("/orders", raw="{not json")

    assert response.status_code == 400
    assert not Order.objects.exists()


def test_line_errors_name_the_field(client, order_in, product):
    order = order_in()
    line = order.lines.get()

    bad_add = client.post(f"/orders/{order.pk}/lines", {"product_id": product.pk, "quantity": -1})
    unknown_product = client.post(f"/orders/{order.pk}/lines", {"product_id": 999999, "quantity": 1})
    bad_patch = client.patch(f"/orders/{order.pk}/lines/{line.pk}", {"discount": "100.00"})
    null_patch = client.patch(f"/orders/{order.pk}/lines/{line.pk}", {"quantity": None})

    assert [(r.status_code, fields(r)) for r in (bad_add, unknown_product, bad_patch, null_patch)] == [
        (422, ["quantity"]),
        (422, ["product_id"]),
        (422, ["discount"]),
        (422, ["quantity"]),
    ]
    assert order.lines.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "mug-01"}, "sku"),
        ({"sku": ""}, "sku"),
        ({"price": "-1"}, "price"),
        ({"price": None}, "price"),
        ({"price": "abc"}, "price"),
        ({"cost": "1.001"}, "cost"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "ZZZ"}, "currency"),
        ({"category_id": 999999}, "category_id"),
        ({"active": "maybe"}, "active"),
    ],
)
def test_product_create_errors_name_the_field(client, product, body, field):
    response = client.post("/products", {"sku": "NEW-1", "name": "New", "price": "1.00", **body})

    assert response.status_code == 422
    assert fields(response) == [field]
    assert Product.objects.count() == 1


def test_product_patch_errors_name_the_field(client, product):
    responses = [
        client.patch(f"/products/{product.pk}", {"price": None}),
        client.patch(f"/products/{product.pk}", {"sku": make_product().sku}),
        client.patch(f"/products/{product.pk}", {"category_id": 999999}),
    ]

    assert [(r.status_code, fields(r)) for r in responses] == [(422, ["price"]), (422, ["sku"]), (422, ["category_id"])]


def test_category_errors_name_the_field(client):
    kitchen = make_category(name="Kitchen")
    mugs = make_category(name="Mugs", parent=kitchen)

    cycle = client.patch(f"/categories/{kitchen.pk}", {"parent_id": mugs.pk})
    unknown_parent = client.post("/categories", {"name": "Cups", "parent_id": 999999})
    twin = client.post("/categories", {"name": "mugs", "parent_id": kitchen.pk})
    blank = client.post("/categories", {"name": ""})

    assert [(r.status_code, fields(r)) for r in (cycle, unknown_parent, twin, blank)] == [
        (422, ["parent_id"]),
        (422, ["parent_id"]),
        (422, ["name"]),
        (422, ["name"]),
    ]
    assert cycle.json_body["errors"][0]["reason"] == "cannot be the category itself or one of its subcategories"
    assert Category.objects.count() == 2


def test_category_moves_to_the_top_with_a_null_parent(client):
    kitchen = make_category(name="Kitchen")
    mugs = make_category(name="Mugs", parent=kitchen)

    response = client.patch(f"/categories/{mugs.pk}", {"parent_id": None})

    assert (response.status_code, response.json_body["parent_id"]) == (200, None)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"channel": "fax"}, "channel"),
        ({"placed_after": "2026-01-01T00:00:00"}, "placed_after"),
        ({"placed_before": "soon"}, "placed_before"),
        ({"ordering": "total"}, "ordering"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"contact_id": "abc"}, "contact_id"),
    ],
)
def test_order_list_filter_errors_name_the_field(client, params, field):
    response = client.get("/orders", params)

    assert response.status_code == 422
    assert fields(response) == [field]


def test_product_list_filter_errors_name_the_field(client):
    responses = [client.get("/products", {"ordering": "price"}), client.get("/products", {"active": "perhaps"})]

    assert [(r.status_code, fields(r)) for r in responses] == [(422, ["ordering"]), (422, ["active"])]


def test_summary_needs_one_customer(client):
    response = client.get("/orders/summary")

    assert (response.status_code, fields(response)) == (422, ["contact_id"])


# ---- conflicts -----------------------------------------------------------------------------------


def test_a_refused_transition_is_a_409_naming_it(client, order_in):
    order = order_in("delivered")

    response = client.post(f"/orders/{order.pk}/cancel")

    assert response.status_code == 409
    assert response.json_body == {
        "detail": "An order cannot go from delivered to cancelled.",
        "errors": [{"field": "status", "reason": "An order cannot go from delivered to cancelled."}],
    }


def test_lines_of_a_confirmed_order_are_a_409(client, order_in, product):
    order = order_in("confirmed")
    line = order.lines.get()

    responses = [
        client.post(f"/orders/{order.pk}/lines", {"product_id": product.pk, "quantity": 1}),
        client.patch(f"/orders/{order.pk}/lines/{line.pk}", {"quantity": 9}),
        client.delete(f"/orders/{order.pk}/lines/{line.pk}"),
        client.patch(f"/orders/{order.pk}", {"channel": "store"}),
    ]

    assert [r.status_code for r in responses] == [409, 409, 409, 409]
    assert client.get(f"/orders/{order.pk}").json_body["total"] == "39.98"


def test_shipping_and_returning_too_early_are_409s(client, order_in):
    order = order_in("confirmed")
    line = order.lines.get()

    ship = client.post(f"/orders/{order.pk}/shipments", {})
    give_back = client.post(
        f"/orders/{order.pk}/returns", {"reason": "x", "lines": [{"order_line_id": line.pk, "quantity": 1}]}
    )

    assert (ship.status_code, ship.json_body["detail"]) == (409, "An order cannot go from confirmed to shipped.")
    assert give_back.status_code == 409


def test_return_errors_name_the_line(client, order_in):
    order = order_in("delivered", quantity=2)
    other = order_in("delivered")
    line = order.lines.get()

    too_many = client.post(
        f"/orders/{order.pk}/returns", {"reason": "x", "lines": [{"order_line_id": line.pk, "quantity": 3}]}
    )
    foreign = client.post(
        f"/orders/{order.pk}/returns",
        {
            "reason": "x",
            "lines": [
                {"order_line_id": line.pk, "quantity": 1},
                {"order_line_id": other.lines.get().pk, "quantity": 1},
            ],
        },
    )
    zero = client.post(
        f"/orders/{order.pk}/returns", {"reason": "x", "lines": [{"order_line_id": line.pk, "quantity": 0}]}
    )

    assert [(r.status_code, fields(r)) for r in (too_many, foreign, zero)] == [
        (422, ["lines.0.quantity"]),
        (422, ["lines.1.order_line_id"]),
        (422, ["lines.0.quantity"]),
    ]
    assert too_many.json_body["errors"][0]["reason"] == "at most 2 of this line can still be returned"
    assert not Return.objects.exists()


def test_refund_above_the_order_total_is_a_422(client, requested_return):
    client.post(f"/returns/{requested_return.pk}/status", {"status": "received"})

    response = client.post(f"/returns/{requested_return.pk}/status", {"status": "refunded", "refund_amount": "40.00"})
    skipped = client.post(f"/returns/{requested_return.pk}/status", {"status": "requested"})

    assert (response.status_code, fields(response)) == (422, ["refund_amount"])
    assert (skipped.status_code, fields(skipped)) == (422, ["status"])
    assert Return.objects.get(pk=requested_return.pk).status == "received"


def test_a_category_in_use_is_a_409(client):
    kitchen = make_category(name="Kitchen")
    make_category(name="Mugs", parent=kitchen)

    response = client.delete(f"/categories/{kitchen.pk}")

    assert (response.status_code, response.json_body["detail"]) == (
        409,
        "The category has subcategories: move or delete them first.",
    )


def test_deleting_a_product_deletes_it_or_deactivates_it_if_ordered(client, product, order_in):
    order_in()
    spare = make_product(sku="SPARE")

    deleted = client.delete(f"/products/{spare.pk}")
    deactivated = client.delete(f"/products/{product.pk}")

    assert (deleted.status_code, deactivated.status_code) == (204, 204)
    assert client.get(f"/products/{spare.pk}").status_code == 404
    assert client.get(f"/products/{product.pk}").json_body["active"] is False


# ---- idempotency ---------------------------------------------------------------------------------


def test_order_create_is_idempotent(client, customer, product):
    body = {"contact_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 2}]}
    key = {"Idempotency-Key": "order-42"}

    first = client.post("/orders", body, headers=key)
    retry = client.post("/orders", body, headers=key)
    other = client.post("/orders", {**body, "notes": "different"}, headers=key)

    assert (first.status_code, retry.status_code, other.status_code) == (201, 201, 422)
    assert retry.json_body == first.json_body
    assert fields(other) == ["Idempotency-Key"]
    assert Order.objects.count() == 1


def test_product_line_shipment_and_return_creates_are_idempotent(client, order_in, product):
    draft = order_in()
    fulfilled = order_in("fulfilled")
    delivered = order_in("delivered")
    return_body = {"reason": "Broken", "lines": [{"order_line_id": delivered.lines.get().pk, "quantity": 1}]}
    calls = [
        ("/products", {"sku": "NEW", "name": "New", "price": "3.00"}),
        ("/categories", {"name": "Mugs"}),
        (f"/orders/{draft.pk}/lines", {"product_id": product.pk, "quantity": 1}),
        (f"/orders/{fulfilled.pk}/shipments", {"carrier": "BRT"}),
        (f"/orders/{delivered.pk}/returns", return_body),
    ]

    for index, (path, body) in enumerate(calls):
        key = {"Idempotency-Key": f"key-{index}"}
        first, retry = client.post(path, body, headers=key), client.post(path, body, headers=key)
        assert (first.status_code, retry.status_code, retry.json_body) == (201, 201, first.json_body), path

    assert Product.objects.filter(sku="NEW").count() == 1
    assert Category.objects.filter(name="Mugs").count() == 1
    assert draft.lines.count() == 2
    assert fulfilled.shipments.count() == 1
    assert delivered.returns.count() == 1


# ---- lists, filters and orderings ----------------------------------------------------------------


def _walk(client, path, params):
    seen, cursor = [], None
    while True:
        body = client.get(path, {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}).json_body
        seen += body["results"]
        cursor = body["next_cursor"]
        if not cursor:
            return seen


def test_order_orderings_page_through_everything(client, customer, product):
    base = dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)
    quantities = [3, 1, 5, 2, 4]
    orders = [
        make_order(contact=customer, products=[(product, q)], placed_at=base + dt.timedelta(days=i))
        for i, q in enumerate(quantities)
    ]
    ids = [order.pk for order in orders]

    newest = [o["id"] for o in _walk(client, "/orders", {})]
    oldest = [o["id"] for o in _walk(client, "/orders", {"ordering": "placed"})]
    largest = [o["total"] for o in _walk(client, "/orders", {"ordering": "-total"})]

    assert newest == ids[::-1]
    assert oldest == ids
    assert largest == ["99.95", "79.96", "59.97", "39.98", "19.99"]


def test_order_list_filters(client, customer, product):
    web = make_order(contact=customer, products=[(product, 1)], number="WEB-1")
    phone = make_order(contact=make_contact(), products=[(product, 1)], channel="phone", number="TEL-1")
    services.order_set_status(actor=None, order=phone, status="confirmed")

    def ids(**params):
        return [o["id"] for o in client.get("/orders", params).json_body["results"]]

    assert ids(status="confirmed") == [phone.pk]
    assert ids(channel="web") == [web.pk]
    assert ids(contact_id=customer.pk) == [web.pk]
    assert ids(q="tel") == [phone.pk]
    assert ids(placed_before="2000-01-01T00:00:00Z") == []


def test_product_orderings_and_filters(client):
    kitchen = make_category(name="Kitchen")
    mugs = make_category(name="Mugs", parent=kitchen)
    make_product(sku="C-3", name="banana", price="5.00", category=mugs)
    make_product(sku="A-1", name="Cherry", price="1.00")
    make_product(sku="B-2", name="apple", price="9.00", category=kitchen, active=False)

    by_sku = [p["sku"] for p in _walk(client, "/products", {"ordering": "sku"})]
    by_name = [p["name"] for p in _walk(client, "/products", {"ordering": "name"})]
    by_price = [p["price"] for p in _walk(client, "/products", {"ordering": "-price"})]
    in_kitchen = [p["sku"] for p in _walk(client, "/products", {"category_id": kitchen.pk, "ordering": "sku"})]
    active = [p["sku"] for p in _walk(client, "/products", {"active": "true", "ordering": "sku"})]
    found = [p["sku"] for p in _walk(client, "/products", {"q": "che"})]

    assert by_sku == ["A-1", "B-2", "C-3"]
    assert by_name == ["apple", "banana", "Cherry"]
    assert by_price == ["9.00", "5.00", "1.00"]
    assert in_kitchen == ["B-2", "C-3"]
    assert active == ["A-1", "C-3"]
    assert found == ["A-1"]


def test_category_list_and_tree(client):
    kitchen = make_category(name="Kitchen")
    mugs = make_category(name="Mugs", parent=kitchen)
    garden = make_category(name="Garden")

    roots = [c["id"] for c in client.get("/categories", {"roots": "true"}).json_body["results"]]
    children = [c["id"] for c in client.get("/categories", {"parent_id": kitchen.pk}).json_body["results"]]
    named = [c["id"] for c in client.get("/categories", {"q": "mu"}).json_body["results"]]
    tree = client.get("/categories/tree").json_body

    assert roots == [garden.pk, kitchen.pk]
    assert children == [mugs.pk]
    assert named == [mugs.pk]
    assert tree == [
        {"id": garden.pk, "name": "Garden", "parent_id": None, "depth": 0, "path": "Garden"},
        {"id": kitchen.pk, "name": "Kitchen", "parent_id": None, "depth": 0, "path": "Kitchen"},
        {"id": mugs.pk, "name": "Mugs", "parent_id": kitchen.pk, "depth": 1, "path": "Kitchen / Mugs"},
    ]


def test_unknown_ids_are_404(client, order_in):
    order = order_in()
    other = order_in()
    foreign_line = other.lines.get().pk

    responses = {
        path: client.get(path).status_code
        for path in ["/orders/999999", "/products/999999", "/categories/999999", "/shipments/999999", "/returns/999999"]
    }
    responses["line of another order"] = client.patch(
        f"/orders/{order.pk}/lines/{foreign_line}", {"quantity": 2}
    ).status_code
    responses["unknown line"] = client.delete(f"/orders/{order.pk}/lines/999999").status_code
    responses["confirm unknown"] = client.post("/orders/999999/confirm").status_code

    assert set(responses.values()) == {404}, responses


# ---- number of queries ---------------------------------------------------------------------------


def _orders_with_lines(customer, count: int, lines: int) -> list[Order]:
    products = [make_product() for _ in range(lines)]
    return [make_order(contact=customer, products=[(p, 1) for p in products]) for _ in range(count)]


@pytest.mark.parametrize(("count", "lines"), [(2, 1), (12, 6)])
def test_order_list_runs_two_queries_whatever_its_size(
    people, api_for, customer, django_assert_num_queries, count, lines
):
    _orders_with_lines(customer, count, lines)
    for role in ("admin", "rep"):
        client = api_for(people[role])
        client.get("/me")  # the token's last use is written at most once a minute
        # token lookup, orders with their contact and account
        with django_assert_num_queries(2):
            response = client.get("/orders", {"limit": 10})
        assert len(response.json_body["results"]) == min(count, 10)


@pytest.mark.parametrize("lines", [1, 8])
def test_order_detail_runs_six_queries_whatever_its_lines(client, customer, django_assert_num_queries, lines):
    (order,) = _orders_with_lines(customer, 1, lines)
    for status in ("confirmed", "fulfilled"):
        services.order_set_status(actor=None, order=order, status=status)
    shipment = services.shipment_create(actor=None, order=order)
    services.shipment_mark_delivered(actor=None, shipment=shipment)
    first_line = order.lines.order_by("id").first()
    services.return_create(
        actor=None, order=order, reason="Broken", lines=[ReturnLineInput(order_line_id=first_line.pk, quantity=1)]
    )
    client.get("/me")
    # token lookup, order with customer, lines with products, shipments, returns, return lines
    with django_assert_num_queries(6):
        response = client.get(f"/orders/{order.pk}")
    assert len(response.json_body["lines"]) == lines
    assert len(response.json_body["returns"][0]["lines"]) == 1


@pytest.mark.parametrize("count", [2, 15])
def test_product_list_query_count(client, django_assert_num_queries, count):
    kitchen = make_category(name="Kitchen")
    for _ in range(count):
        make_product(category=kitchen)
    client.get("/me")
    # token lookup, products with their category
    with django_assert_num_queries(2):
        response = client.get("/products", {"limit": 10})
    # ... and the category tree to find the subcategories
    with django_assert_num_queries(3):
        in_kitchen = client.get("/products", {"category_id": kitchen.pk})
    assert len(response.json_body["results"]) == min(count, 10)
    assert len(in_kitchen.json_body["results"]) == count


def test_product_and_category_detail_query_counts(client, django_assert_num_queries):
    category = make_category()
    product = make_product(category=category)
    client.get("/me")
    with django_assert_num_queries(2):
        assert client.get(f"/products/{product.pk}").status_code == 200
    with django_assert_num_queries(2):
        assert client.get(f"/categories/{category.pk}").status_code == 200


@pytest.mark.parametrize("count", [2, 15])
def test_category_list_and_tree_query_counts(client, django_assert_num_queries, count):
    parent = None
    for _ in range(count):
        parent = make_category(parent=parent)
    client.get("/me")
    with django_assert_num_queries(2):
        listed = client.get("/categories", {"limit": 10})
    with django_assert_num_queries(2):
        tree = client.get("/categories/tree")
    assert len(listed.json_body["results"]) == min(count, 10)
    assert [node["depth"] for node in tree.json_body] == list(range(count))


def test_shipment_and_return_detail_query_counts(client, requested_return, django_assert_num_queries):
    shipment = requested_return.order.shipments.get()
    client.get("/me")
    with django_assert_num_queries(2):
        assert client.get(f"/shipments/{shipment.pk}").status_code == 200
    # token lookup, return with its order, return lines
    with django_assert_num_queries(3):
        assert client.get(f"/returns/{requested_return.pk}").status_code == 200


# ---- inputs the database could not take are refused before it ------------------------------------

BIG = 10**20


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("get", f"/orders/{BIG}", None, "order_id"),
        ("get", "/orders", {"contact_id": BIG}, "contact_id"),
        ("get", "/orders", {"placed_after": "0001-01-01T00:00:00+05:00"}, "placed_after"),
        ("get", "/orders", {"q": "ORD\x00"}, "q"),
        ("get", "/products", {"category_id": BIG}, "category_id"),
        (
            "post",
            "/orders",
            {"contact_id": "{customer}", "lines": [{"product_id": BIG, "quantity": 1}]},
            "lines.0.product_id",
        ),
        (
            "post",
            "/orders",
            {"contact_id": "{customer}", "placed_at": "0001-01-01T00:00:00Z", "lines": "{lines}"},
            "placed_at",
        ),
        ("post", "/orders", {"contact_id": "{customer}", "notes": "a\x00b", "lines": "{lines}"}, "notes"),
        (
            "post",
            "/orders",
            {"contact_id": "{customer}", "lines": [{"product_id": "{product}", "quantity": 1, "discount": "NaN"}]},
            "lines.0.discount",
        ),
        ("post", "/products", {"sku": "X", "name": "Y", "price": "Infinity"}, "price"),
        ("post", "/products", {"sku": "X\x00", "name": "Y", "price": "1"}, "sku"),
        ("post", "/categories", {"name": "Mugs", "parent_id": BIG}, "parent_id"),
        ("post", f"/shipments/{BIG}/delivered", {}, "shipment_id"),
    ],
)
def test_input_the_database_cannot_take_is_a_422(client, customer, product, method, path, body, field):
    def fill(value):
        if value == "{customer}":
            return customer.pk
        if value == "{product}":
            return product.pk
        if value == "{lines}":
            return [{"product_id": product.pk, "quantity": 1}]
        if isinstance(value, list):
            return [fill(item) for item in value]
        if isinstance(value, dict):
            return {key: fill(item) for key, item in value.items()}
        return value

    response = getattr(client, method)(path, fill(body))

    assert response.status_code == 422
    assert fields(response) == [field]
