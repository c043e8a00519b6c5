"""The order pages of the web application: the list, the order page and its fulfilment flow, for every role."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry
from cuore.orders import services
from cuore.orders.models import Order, OrderStatus, Return, ReturnStatus, Shipment
from cuore.orders.services import ReturnLineInput
from cuore.orders.tests.factories import make_order, make_product

pytestmark = pytest.mark.django_db

SEES_ORDERS = ["admin", "manager", "rep", "teammate", "analyst"]
NO_ORDERS = ["support", "marketing"]


def body(response) -> str:
    return response.content.decode()


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


@pytest.fixture
def strangers_order(people, product):
    """An order of a customer of the rep of the other team."""
    contact = make_contact(first_name="Bruno", last_name="Altrove", owner=people["stranger"])
    return make_order(contact=contact, products=[(product, 1)], number="HIDDEN-0001")


# ---- the list ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("manager", 200), ("rep", 200), ("stranger", 200), ("analyst", 200)]
    + [(role, 404) for role in NO_ORDERS],
)
def test_who_opens_the_order_list(client, people, role, status):
    client.force_login(people[role])

    assert client.get("/orders/").status_code == status


def test_the_pages_ask_anonymous_visitors_to_sign_in(client, order_in):
    order = order_in()

    for url in ("/orders/", f"/orders/{order.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.post(f"/orders/{order.pk}/confirm/").status_code == 302
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DRAFT


def test_the_list_shows_the_orders_of_the_reps_team_only(client, people, order_in, strangers_order):
    order = order_in()
    client.force_login(people["teammate"])

    page = body(client.get("/orders/"))

    assert order.number in page and "Giulia Bianchi" in page
    assert f'href="/orders/{order.pk}/"' in page and 'href="/contacts/' in page
    assert strangers_order.number not in page and "Altrove" not in page


def test_the_customer_is_the_visible_contact_else_the_account(client, people, product):
    theirs = make_contact(first_name="Hidden", last_name="Person", owner=people["stranger"])
    account = make_account(name="Acme Srl", owner=people["rep"])
    order = make_order(contact=theirs, account=account, products=[(product, 1)])
    client.force_login(people["rep"])

    page = body(client.get("/orders/"))

    assert order.number in page and "Acme Srl" in page and "Hidden Person" not in page
    assert f'href="/accounts/{account.pk}/"' in page


def test_filters_by_status_channel_number_and_days(client, people, customer, product):
    early = make_order(
        contact=customer,
        products=[(product, 1)],
        number="WEB-0001",
        placed_at=dt.datetime(2026, 1, 10, 23, 30, tzinfo=dt.UTC),
    )
    late = make_order(
        contact=customer,
        products=[(product, 1)],
        number="TEL-0001",
        channel="phone",
        placed_at=dt.datetime(2026, 1, 11, 0, 30, tzinfo=dt.UTC),
    )
    services.order_set_status(actor=None, order=late, status="confirmed")
    client.force_login(people["admin"])

    def numbers(query: str) -> set[str]:
        page = body(client.get(f"/orders/?{query}"))
        return {number for number in ("WEB-0001", "TEL-0001") if number in page}

    assert numbers("status=confirmed") == {"TEL-0001"}
    assert numbers("channel=web") == {"WEB-0001"}
    assert numbers("q=web-") == {"WEB-0001"}
    assert numbers("placed_from=2026-01-11") == {"TEL-0001"}
    assert numbers("placed_to=2026-01-10") == {"WEB-0001"}
    assert numbers("placed_from=2026-01-10&placed_to=2026-01-11") == {"WEB-0001", "TEL-0001"}
    assert numbers(f"contact={customer.pk}") == {"WEB-0001", "TEL-0001"}
    assert early.pk and numbers("placed_from=2026-01-12") == set()


def test_the_days_of_the_date_filters_are_those_of_the_local_time_zone(client, people, customer, product, settings):
    settings.TIME_ZONE = "Europe/Rome"
    # 23:30 in UTC on the 10th is half past midnight on the 11th in Rome.
    make_order(
        contact=customer,
        products=[(product, 1)],
        number="LATE-0001",
        placed_at=dt.datetime(2026, 1, 10, 23, 30, tzinfo=dt.UTC),
    )
    client.force_login(people["admin"])

    on_the_11th = body(client.get("/orders/?placed_from=2026-01-11&placed_to=2026-01-11"))
    on_the_10th = body(client.get("/orders/?placed_from=2026-01-10&placed_to=2026-01-10"))

    assert "LATE-0001" in on_the_11th and "11 Jan 2026, 00:30" in on_the_11th
    assert "LATE-0001" not in on_the_10th


def test_an_invalid_filter_is_shown_beside_its_field_and_not_applied(client, people, order_in):
    order = order_in()
    client.force_login(people["admin"])

    response = client.get("/orders/?placed_from=yesterday&placed_to=2026-01-01&status=lost")
    page = body(response)

    assert response.status_code == 200
    assert "Enter a valid date." in page and "Select a valid choice." in page
    assert order.number not in page  # placed_to still applies: the order was placed today


def test_a_reversed_date_range_is_an_error_on_the_end(client, people, order_in):
    client.force_login(people["admin"])

    page = body(client.get("/orders/?placed_from=2026-02-01&placed_to=2026-01-01"))

    assert "The end comes before the start." in page


def test_orders_sort_by_total_and_by_placing_date(client, people, customer):
    cheap = make_order(contact=customer, products=[(make_product(price="1.00"), 1)], number="CHEAP")
    dear = make_order(contact=customer, products=[(make_product(price="900.00"), 1)], number="DEAR")
    client.force_login(people["admin"])

    by_total = body(client.get("/orders/?sort=-total"))
    oldest_first = body(client.get("/orders/?sort=placed"))

    assert by_total.index("DEAR") < by_total.index("CHEAP")
    assert oldest_first.index(cheap.number) < oldest_first.index(dear.number)


def test_more_rows_load_after_the_first_page(client, people, customer, product):
    for n in range(55):
        make_order(contact=customer, products=[(product, 1)], number=f"N-{n:03d}")
    client.force_login(people["rep"])

    first = body(client.get("/orders/"))
    next_url = first.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&")
    rest = body(client.get(f"/orders/{next_url}", HTTP_HX_REQUEST="true"))
    stale = client.get("/orders/?cursor=not-a-cursor")

    assert first.count('data-testid="row"') == 50
    assert rest.count('data-testid="row"') == 5 and "<html" not in rest
    assert stale.status_code == 200 and body(stale).count('data-testid="row"') == 50


def test_the_filters_refresh_the_list_as_a_fragment(client, people, order_in):
    order = order_in()
    client.force_login(people["rep"])

    fragment = body(client.get("/orders/?fragment=list&status=draft", HTTP_HX_REQUEST="true"))

    assert order.number in fragment and "<html" not in fragment and 'id="list-orders"' in fragment


def test_the_list_costs_the_same_queries_for_few_or_many_rows(client, people, product):
    def orders(n: int) -> None:
        for i in range(n):
            contact = make_contact(owner=people["rep"])
            account = make_account(owner=people["teammate"])
            make_order(contact=contact, account=account if i % 2 else None, products=[(product, i + 1)])

    client.force_login(people["rep"])
    url = "/orders/?cols=number,placed_at,customer,channel_label,status,total,items"
    orders(3)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    orders(30)
    with CaptureQueriesContext(connection) as many:
        page = body(client.get(url))

    assert page.count('data-testid="row"') == 33
    assert len(many) == len(few)


def test_the_csv_export_holds_the_visible_filtered_rows_with_formulas_neutralised(
    client, people, product, strangers_order
):
    evil = make_contact(first_name='=HYPERLINK("http://evil")', last_name="X", owner=people["rep"])
    order = make_order(contact=evil, products=[(product, 2)], number="+SUM(1)")
    client.force_login(people["rep"])

    response = client.get("/orders/?export=csv&cols=number,customer,status,total,items")
    rows = csv_rows(response)

    assert response["Content-Disposition"] == 'attachment; filename="orders.csv"'
    assert rows[0] == ["Number", "Customer", "Status", "Total", "Items"]
    assert rows[1:] == [["'+SUM(1)", '\'=HYPERLINK("http://evil") X', "draft", str(order.total), "2"]]


def test_saved_views_of_the_order_list_keep_the_filters(client, people):
    client.force_login(people["rep"])

    saved = client.post(
        "/me/views/save/",
        {"list_name": "orders", "name": "Drafts", "query": "status=draft", "next": "/orders/"},
    )
    page = body(client.get("/orders/"))

    assert saved.status_code == 302
    assert "Drafts" in page and 'href="?status=draft"' in page


def test_bulk_cancel_cancels_only_the_visible_drafts_through_the_service(client, people, order_in, strangers_order):
    draft, confirmed = order_in(), order_in("confirmed")
    client.force_login(people["rep"])

    response = client.post(
        "/orders/bulk/",
        {"ids": [draft.pk, confirmed.pk, strangers_order.pk], "action": "cancel_drafts", "reason": "Duplicate"},
        follow=True,
    )

    statuses = dict(Order.objects.values_list("pk", "status"))
    assert response.status_code == 200
    assert statuses == {draft.pk: "cancelled", confirmed.pk: "confirmed", strangers_order.pk: "draft"}
    entry = AuditEntry.objects.get(action="order.cancelled")
    assert entry.channel == "ui" and entry.object_id == str(draft.pk) and entry.changes["reason"] == [None, "Duplicate"]
    page = body(response)
    assert "1 draft order cancelled." in page and "1 selected order is not a draft" in page
    assert "1 selected order was not found." in page


@pytest.mark.parametrize(("role", "status"), [("analyst", 403), ("support", 404), ("marketing", 404)])
def test_bulk_cancel_follows_the_write_rules(client, people, order_in, role, status):
    draft = order_in()
    client.force_login(people[role])

    response = client.post("/orders/bulk/", {"ids": [draft.pk], "action": "cancel_drafts"})

    assert response.status_code == status
    assert Order.objects.get(pk=draft.pk).status == "draft"


def test_the_bulk_actions_show_only_to_writers(client, people, order_in):
    order_in()
    client.force_login(people["analyst"])
    read_only = body(client.get("/orders/"))
    client.force_login(people["manager"])
    writer = body(client.get("/orders/"))

    assert 'data-testid="bulk-actions"' not in read_only and 'data-testid="export-csv"' in read_only
    assert 'data-testid="bulk-actions"' in writer and 'value="cancel_drafts"' in writer


# ---- the order page ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [(role, 200) for role in SEES_ORDERS] + [(role, 404) for role in ("stranger", *NO_ORDERS)],
)
def test_who_opens_the_order_page(client, people, order_in, role, status):
    order = order_in()
    client.force_login(people[role])

    assert client.get(f"/orders/{order.pk}/").status_code == status


def test_a_missing_order_is_not_found(client, people):
    client.force_login(people["admin"])

    assert client.get("/orders/999999/").status_code == 404
    assert client.get(f"/orders/{2**63}/").status_code == 404


def test_the_order_page_shows_lines_totals_and_customer(client, people, customer, product):
    mug = make_product(sku="CUP-9", name="Cup", price="10.00", cost="4.00")
    order = make_order(contact=customer, products=[(product, 2), (mug, 3)])
    line = order.lines.get(product=mug)
    services.order_line_update(actor=None, line=line, data={"discount": Decimal("5.00")})
    client.force_login(people["rep"])

    page = body(client.get(f"/orders/{order.pk}/"))

    assert 'data-testid="order-status"' in page and ">Draft<" in page
    assert 'data-testid="order-lines"' in page and "MUG-01" in page and "CUP-9" in page
    assert f'href="/contacts/{customer.pk}/"' in page and "Giulia Bianchi" in page
    # 2 × 19.99 + 3 × 10.00 - 5.00 = 64.98; cost 2 × 7.50 + 3 × 4.00 = 27.00
    assert "€69.98" in page and "€5.00" in page and "€64.98" in page and "€37.98" in page
    assert "58.4%" in page


def test_a_draft_offers_confirm_cancel_and_line_editing_to_writers_only(client, people, order_in):
    order = order_in()
    client.force_login(people["rep"])
    writer = body(client.get(f"/orders/{order.pk}/"))
    client.force_login(people["analyst"])
    reader = body(client.get(f"/orders/{order.pk}/"))

    for testid in ("order-action-confirm", "order-action-cancel", "line-add-form", "line-save", "line-remove"):
        assert f'data-testid="{testid}"' in writer
        assert f'data-testid="{testid}"' not in reader
    assert 'data-testid="order-action-fulfil"' not in writer and 'data-testid="order-action-ship"' not in writer


@pytest.mark.parametrize(
    ("status", "actions"),
    [
        ("confirmed", {"fulfil", "cancel"}),
        ("fulfilled", {"ship", "cancel"}),
        ("shipped", {"ship", "delivered", "return"}),
        ("delivered", {"return"}),
        ("cancelled", set()),
    ],
)
def test_the_page_offers_the_actions_the_status_allows(client, people, order_in, status, actions):
    order = order_in(status)
    client.force_login(people["manager"])

    page = body(client.get(f"/orders/{order.pk}/"))

    offered = {
        name
        for name in ("confirm", "fulfil", "ship", "delivered", "cancel", "return")
        if f'data-testid="order-action-{name}"' in page
    }
    assert offered == actions
    assert ('data-testid="return-form"' in page) == ("return" in actions)


def test_the_whole_flow_from_draft_to_refund_goes_through_the_services(client, people, order_in):
    order = order_in(quantity=2)
    line = order.lines.get()
    client.force_login(people["rep"])
    url = f"/orders/{order.pk}/"

    assert client.post(f"{url}confirm/").status_code == 302
    assert client.post(f"{url}fulfil/").status_code == 302
    assert client.post(f"{url}ship/", {"carrier": "BRT", "tracking_number": "T-42"}).status_code == 302
    shipment = Shipment.objects.get(order=order)
    assert (shipment.carrier, shipment.tracking_number) == ("BRT", "T-42")
    assert Order.objects.get(pk=order.pk).status == "shipped"
    assert client.post(f"{url}shipments/{shipment.pk}/delivered/").status_code == 302
    assert Order.objects.get(pk=order.pk).status == "delivered"
    returned = client.post(f"{url}returns/", {"reason": "Broken", f"line_{line.pk}": "1"})
    assert returned.status_code == 302
    order_return = Return.objects.get(order=order)
    assert list(order_return.lines.values_list("order_line_id", "quantity")) == [(line.pk, 1)]
    prefix = f"return{order_return.pk}"
    assert client.post(f"{url}returns/{order_return.pk}/status/", {f"{prefix}-status": "received"}).status_code == 302
    refunded = client.post(
        f"{url}returns/{order_return.pk}/status/", {f"{prefix}-status": "refunded", f"{prefix}-refund_amount": ""}
    )
    assert refunded.status_code == 302
    order_return.refresh_from_db()
    assert order_return.status == ReturnStatus.REFUNDED and order_return.refund_amount == Decimal("19.99")
    actions = list(AuditEntry.objects.filter(channel="ui").order_by("id").values_list("action", flat=True))
    assert actions == [
        "order.confirmed",
        "order.fulfilled",
        "shipment.create",
        "order.shipped",
        "shipment.delivered",
        "order.delivered",
        "return.create",
        "return.received",
        "return.refunded",
    ]
    page = body(client.get(url))
    assert "BRT" in page and "T-42" in page and "Broken" in page and "€19.99" in page


def test_cancelling_keeps_the_reason(client, people, order_in):
    order = order_in("confirmed")
    client.force_login(people["rep"])

    response = client.post(f"/orders/{order.pk}/cancel/", {"reason": "Customer changed mind"})

    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="order.cancelled")
    assert entry.changes["reason"] == [None, "Customer changed mind"] and entry.channel == "ui"


@pytest.mark.parametrize(
    ("status", "action", "data", "reason"),
    [
        ("draft", "fulfil/", {}, "An order cannot go from “Draft” to “Fulfilled”."),
        ("confirmed", "confirm/", {}, "An order cannot go from “Confirmed” to “Confirmed”."),
        ("shipped", "cancel/", {"reason": "Too late"}, "An order cannot go from “Shipped” to “Cancelled”."),
        ("draft", "ship/", {"carrier": "BRT"}, "An order cannot go from “Draft” to “Shipped”."),
        (
            "confirmed",
            "returns/",
            {"reason": "Broken"},
            "Only shipped or delivered orders can be returned; this one is “Confirmed”.",
        ),
    ],
)
def test_a_refused_transition_answers_409_with_the_reason(client, people, order_in, status, action, data, reason):
    order = order_in(status)
    if action == "returns/":
        data = {**data, f"line_{order.lines.get().pk}": "1"}
    client.force_login(people["rep"])

    response = client.post(f"/orders/{order.pk}/{action}", data)

    assert response.status_code == 409
    assert reason in body(response)
    assert Order.objects.get(pk=order.pk).status == status


def test_confirming_an_order_without_lines_is_refused_with_the_reason(client, people, order_in):
    order = order_in()
    services.order_line_remove(actor=None, line=order.lines.get())
    client.force_login(people["rep"])

    response = client.post(f"/orders/{order.pk}/confirm/")

    assert response.status_code == 409 and "An order without lines cannot be confirmed." in body(response)


def test_a_parcel_delivered_twice_is_refused_beside_the_shipment(client, people, order_in):
    order = order_in("delivered")
    shipment = order.shipments.get()
    client.force_login(people["rep"])

    response = client.post(f"/orders/{order.pk}/shipments/{shipment.pk}/delivered/")

    assert response.status_code == 409 and 'data-testid="shipment-error"' in body(response)
    assert "This shipment was already delivered." in body(response)


def test_a_refused_return_step_answers_409_beside_the_return(client, people, requested_return):
    order = requested_return.order
    client.force_login(people["rep"])
    prefix = f"return{requested_return.pk}"

    response = client.post(
        f"/orders/{order.pk}/returns/{requested_return.pk}/status/", {f"{prefix}-status": "refunded"}
    )

    assert response.status_code == 409
    assert "A return cannot go from “Requested” to “Refunded”." in body(response)


ACTIONS = [
    ("confirm/", "draft", {}),
    ("fulfil/", "confirmed", {}),
    ("ship/", "fulfilled", {"carrier": "BRT"}),
    ("cancel/", "draft", {"reason": "x"}),
    ("lines/", "draft", {"product": "1", "quantity": "1"}),
    ("returns/", "delivered", {"reason": "Broken"}),
]


@pytest.mark.parametrize(
    ("role", "status"), [("analyst", 403), ("stranger", 404), ("support", 404), ("marketing", 404)]
)
@pytest.mark.parametrize(("action", "order_status", "data"), ACTIONS)
def test_who_may_not_change_an_order(client, people, order_in, role, status, action, order_status, data):
    order = order_in(order_status)
    client.force_login(people[role])

    response = client.post(f"/orders/{order.pk}/{action}", data)

    assert response.status_code == status
    assert Order.objects.get(pk=order.pk).status == order_status
    assert not AuditEntry.objects.filter(channel="ui").exists()


@pytest.mark.parametrize(("role", "status"), [("analyst", 403), ("stranger", 404), ("support", 404)])
def test_who_may_not_touch_lines_shipments_or_returns(client, people, order_in, requested_return, role, status):
    draft = order_in()
    line = draft.lines.get()
    shipped = order_in("shipped")
    shipment = shipped.shipments.get()
    client.force_login(people[role])

    urls = [
        f"/orders/{draft.pk}/lines/{line.pk}/",
        f"/orders/{draft.pk}/lines/{line.pk}/remove/",
        f"/orders/{shipped.pk}/shipments/{shipment.pk}/delivered/",
        f"/orders/{requested_return.order_id}/returns/{requested_return.pk}/status/",
    ]

    assert [client.post(url, {"quantity": "5"}).status_code for url in urls] == [status] * 4
    assert not AuditEntry.objects.filter(channel="ui").exists()


def test_a_shipment_or_return_of_another_order_is_not_found(client, people, order_in, requested_return):
    other = order_in("shipped")
    shipment = other.shipments.get()
    draft = order_in()
    client.force_login(people["manager"])

    assert client.post(f"/orders/{draft.pk}/shipments/{shipment.pk}/delivered/").status_code == 404
    assert client.post(f"/orders/{draft.pk}/returns/{requested_return.pk}/status/").status_code == 404
    assert client.post(f"/orders/{draft.pk}/lines/{other.lines.get().pk}/remove/").status_code == 404


def test_the_order_page_reads_in_a_fixed_number_of_queries(client, people, customer):
    client.force_login(people["rep"])
    small = make_order(contact=customer, products=[(make_product(), 1)])
    large = make_order(contact=customer, products=[(make_product(), 2) for _ in range(12)])
    for order in (small, large):
        for status in ("confirmed", "fulfilled"):
            services.order_set_status(actor=None, order=order, status=status)
        for _ in range(1 if order is small else 4):
            services.shipment_create(actor=None, order=order, carrier="BRT")
    for order, line in [(small, small.lines.get()), *[(large, line) for line in large.lines.all()[:6]]]:
        services.return_create(
            actor=None, order=order, reason="Broken", lines=[ReturnLineInput(order_line_id=line.pk, quantity=1)]
        )
    client.get(f"/orders/{small.pk}/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"/orders/{small.pk}/")
    with CaptureQueriesContext(connection) as many:
        client.get(f"/orders/{large.pk}/")

    assert len(many) == len(few)


# ---- lines of a draft ----------------------------------------------------------------------------


def test_lines_are_added_changed_and_removed_on_a_draft(client, people, order_in):
    order = order_in()
    cup = make_product(sku="CUP-1", name="Cup", price="5.00")
    client.force_login(people["rep"])
    url = f"/orders/{order.pk}/"

    added = client.post(f"{url}lines/", {"product": cup.pk, "product_label": "CUP-1", "quantity": "3", "discount": ""})
    line = order.lines.get(product=cup)
    changed = client.post(
        f"{url}lines/{line.pk}/",
        {f"line{line.pk}-quantity": "4", f"line{line.pk}-unit_price": "4.50", f"line{line.pk}-discount": "1.00"},
    )
    order.refresh_from_db()
    total_with_cup = order.total
    removed = client.post(f"{url}lines/{line.pk}/remove/")

    assert [added.status_code, changed.status_code, removed.status_code] == [302, 302, 302]
    assert total_with_cup == Decimal("39.98") + Decimal("17.00")
    order.refresh_from_db()
    assert order.total == Decimal("39.98") and order.lines.count() == 1
    assert list(AuditEntry.objects.filter(channel="ui").order_by("id").values_list("action", flat=True)) == [
        "order.line_add",
        "order.line_update",
        "order.line_remove",
    ]


def test_a_line_with_wrong_figures_is_shown_again_with_the_errors_beside_the_fields(client, people, order_in):
    order = order_in()
    line = order.lines.get()
    client.force_login(people["rep"])

    no_product = client.post(f"/orders/{order.pk}/lines/", {"product_label": "mu", "quantity": "0"})
    too_much_discount = client.post(
        f"/orders/{order.pk}/lines/{line.pk}/",
        {f"line{line.pk}-quantity": "1", f"line{line.pk}-unit_price": "10.00", f"line{line.pk}-discount": "11.00"},
    )
    htmx = client.post(f"/orders/{order.pk}/lines/", {"quantity": "1"}, HTTP_HX_REQUEST="true")

    assert no_product.status_code == 200
    assert 'data-testid="error-product"' in body(no_product) and "Choose a product." in body(no_product)
    assert 'data-testid="error-quantity"' in body(no_product)
    assert 'value="mu"' in body(no_product)
    assert too_much_discount.status_code == 200
    assert "The discount cannot exceed quantity × unit price (10.00)." in body(too_much_discount)
    assert htmx.status_code == 422
    assert not AuditEntry.objects.filter(channel="ui").exists()


def test_an_inactive_or_other_currency_product_is_refused_beside_the_product(client, people, order_in):
    order = order_in()
    old = make_product(sku="OLD", active=False)
    dollars = make_product(sku="USD-1", currency="USD")
    client.force_login(people["rep"])

    inactive = client.post(f"/orders/{order.pk}/lines/", {"product": old.pk, "quantity": "1"})
    other_currency = client.post(f"/orders/{order.pk}/lines/", {"product": dollars.pk, "quantity": "1"})
    missing = client.post(f"/orders/{order.pk}/lines/", {"product": "999999", "quantity": "1"})

    assert "This product is not on sale (it is inactive)." in body(inactive)
    assert "This product is priced in USD, the order in EUR." in body(other_currency)
    assert "Not found, or you may not see it." in body(missing)
    assert order.lines.count() == 1


def test_lines_of_a_confirmed_order_cannot_change(client, people, order_in):
    order = order_in("confirmed")
    line = order.lines.get()
    client.force_login(people["rep"])

    added = client.post(f"/orders/{order.pk}/lines/", {"product": line.product_id, "quantity": "1"})
    removed = client.post(f"/orders/{order.pk}/lines/{line.pk}/remove/")

    assert added.status_code == 409 and removed.status_code == 409
    assert "This can change only while the order is a draft; this one is “Confirmed”." in body(added)
    assert order.lines.count() == 1


def test_the_state_refusal_comes_before_the_form(client, people, order_in):
    confirmed = order_in("confirmed")
    line = confirmed.lines.get()
    client.force_login(people["rep"])

    add = client.post(f"/orders/{confirmed.pk}/lines/", {})
    change = client.post(f"/orders/{confirmed.pk}/lines/{line.pk}/", {})
    give_back = client.post(f"/orders/{confirmed.pk}/returns/", {})

    assert [add.status_code, change.status_code, give_back.status_code] == [409, 409, 409]
    assert 'data-testid="lines-error"' in body(add) and 'data-testid="line-error"' in body(change)
    assert "Only shipped or delivered orders can be returned" in body(give_back)


def test_the_product_picker_finds_products_on_sale(client, people):
    make_product(sku="MUG-RED", name="Red mug")
    make_product(sku="MUG-OLD", name="Old mug", active=False)
    make_product(sku="MUG-USD", name="Dollar mug", currency="USD")
    client.force_login(people["rep"])

    found = body(client.get("/orders/pick/products/?product_label=mug&currency=EUR"))
    nothing = body(client.get("/orders/pick/products/?product_label=zzz"))

    assert "MUG-RED" in found and "MUG-OLD" not in found and "MUG-USD" not in found
    assert "Nothing found." in nothing


# ---- returns -------------------------------------------------------------------------------------


def test_a_return_needs_units_and_at_most_what_is_returnable(client, people, order_in):
    order = order_in("delivered", quantity=2)
    line = order.lines.get()
    client.force_login(people["rep"])

    empty = client.post(f"/orders/{order.pk}/returns/", {"reason": "Broken", f"line_{line.pk}": "0"})
    too_many = client.post(f"/orders/{order.pk}/returns/", {"reason": "", f"line_{line.pk}": "3"})

    assert empty.status_code == 200 and "Return at least one unit." in body(empty)
    assert 'data-testid="return-form"' in body(too_many)
    assert 'data-testid="error-line_' in body(too_many) and 'data-testid="error-reason"' in body(too_many)
    assert not Return.objects.exists()


def test_units_already_on_their_way_back_cannot_be_returned_again(client, people, requested_return):
    order = requested_return.order
    line = order.lines.get()  # 2 units, 1 already in the requested return
    client.force_login(people["rep"])

    page = body(client.get(f"/orders/{order.pk}/"))
    refused = client.post(f"/orders/{order.pk}/returns/", {"reason": "Again", f"line_{line.pk}": "2"})

    field = re.search(rf'<input[^>]*name="line_{line.pk}"[^>]*>', page).group(0)
    assert 'max="1"' in field
    assert refused.status_code == 200 and Return.objects.count() == 1


def test_a_refund_larger_than_the_order_is_refused_beside_the_amount(client, people, requested_return):
    order = requested_return.order
    services.return_set_status(actor=None, order_return=requested_return, status="received")
    client.force_login(people["rep"])
    prefix = f"return{requested_return.pk}"

    response = client.post(
        f"/orders/{order.pk}/returns/{requested_return.pk}/status/",
        {f"{prefix}-status": "refunded", f"{prefix}-refund_amount": "1000"},
    )

    assert response.status_code == 200
    assert 'data-testid="error-refund_amount"' in body(response)
    assert "The order&#x27;s refunds cannot exceed its total: at most 39.98." in body(response)
    requested_return.refresh_from_db()
    assert requested_return.status == ReturnStatus.RECEIVED


# ---- in Italian ----------------------------------------------------------------------------------


def test_the_pages_speak_italian(client, people, order_in):
    order = order_in()
    user = people["rep"]
    user.language = "it"
    user.save(update_fields=["language"])
    client.force_login(user)

    listing = body(client.get("/orders/"))
    page = body(client.get(f"/orders/{order.pk}/"))
    refused = body(client.post(f"/orders/{order.pk}/fulfil/"))

    assert "Ordini" in listing and "Numero" in listing
    assert "Conferma" in page and "Righe" in page and "Bozza" in page
    assert "Un ordine non può passare da “Bozza” a “Evaso”." in refused
