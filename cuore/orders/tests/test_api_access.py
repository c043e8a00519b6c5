"""Who may use which orders endpoint: every endpoint for every role.

Orders: admins and managers everything; a sales rep the orders of their and their team's customers
(others answer 404); support and marketing nothing (404); analysts read (writes answer 403).
Catalogue: everyone reads; only admins and managers write (others answer 403).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cuore.core.models import AuditEntry
from cuore.orders import services
from cuore.orders.models import Order
from cuore.orders.services import ReturnLineInput
from cuore.orders.tests.factories import make_category, make_product

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "rep", "teammate", "stranger", "support", "marketing", "analyst"]
FULL_ACCESS = {"admin", "manager", "rep", "teammate"}
NO_ACCESS = {"stranger", "support", "marketing"}


@dataclass
class Scene:
    """The state an endpoint is called on, built lazily by the fixtures."""

    order_in: Callable[..., Order]
    product: Any
    customer: Any


@pytest.fixture
def scene(order_in, product, customer) -> Scene:
    return Scene(order_in=order_in, product=product, customer=customer)


def _shipment(s: Scene):
    return s.order_in("shipped").shipments.get()


def _return(s: Scene):
    order = s.order_in("delivered")
    return services.return_create(
        actor=None,
        order=order,
        reason="Broken",
        lines=[ReturnLineInput(order_line_id=order.lines.get().pk, quantity=1)],
    )


def _draft_line(s: Scene) -> tuple[int, int]:
    order = s.order_in()
    return order.pk, order.lines.get().pk


# name -> (build the request from the scene, status on success, is it a write)
ORDER_ENDPOINTS: dict[str, tuple[Callable[[Scene], tuple[str, str, Any]], int, bool]] = {
    "get order": (lambda s: ("get", f"/orders/{s.order_in().pk}", None), 200, False),
    "patch order": (lambda s: ("patch", f"/orders/{s.order_in().pk}", {"notes": "Ring twice"}), 200, True),
    "add line": (
        lambda s: ("post", f"/orders/{s.order_in().pk}/lines", {"product_id": s.product.pk, "quantity": 1}),
        201,
        True,
    ),
    "patch line": (
        lambda s: ("patch", "/orders/{}/lines/{}".format(*_draft_line(s)), {"quantity": 3}),
        200,
        True,
    ),
    "delete line": (lambda s: ("delete", "/orders/{}/lines/{}".format(*_draft_line(s)), None), 204, True),
    "confirm": (lambda s: ("post", f"/orders/{s.order_in().pk}/confirm", None), 200, True),
    "fulfil": (lambda s: ("post", f"/orders/{s.order_in('confirmed').pk}/fulfil", None), 200, True),
    "cancel": (lambda s: ("post", f"/orders/{s.order_in().pk}/cancel", {"reason": "Duplicate"}), 200, True),
    "ship": (
        lambda s: ("post", f"/orders/{s.order_in('fulfilled').pk}/shipments", {"carrier": "BRT"}),
        201,
        True,
    ),
    "get shipment": (lambda s: ("get", f"/shipments/{_shipment(s).pk}", None), 200, False),
    "delivered": (lambda s: ("post", f"/shipments/{_shipment(s).pk}/delivered", {}), 200, True),
    "open return": (
        lambda s: (
            "post",
            f"/orders/{(o := s.order_in('delivered')).pk}/returns",
            {"reason": "Broken", "lines": [{"order_line_id": o.lines.get().pk, "quantity": 1}]},
        ),
        201,
        True,
    ),
    "get return": (lambda s: ("get", f"/returns/{_return(s).pk}", None), 200, False),
    "return status": (lambda s: ("post", f"/returns/{_return(s).pk}/status", {"status": "received"}), 200, True),
}


def _call(client, method: str, path: str, body: Any):
    if method in {"get", "delete"}:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(ORDER_ENDPOINTS))
def test_order_endpoints_by_role(scene, people, api_for, endpoint, role):
    build, success, is_write = ORDER_ENDPOINTS[endpoint]
    method, path, body = build(scene)
    client = api_for(people[role])
    audit_before = AuditEntry.objects.count()

    response = _call(client, method, path, body)

    if role in FULL_ACCESS:
        expected = success
    elif role in NO_ACCESS:
        expected = 404
    else:
        expected = 403 if is_write else success
    assert response.status_code == expected, response.json_body
    wrote = AuditEntry.objects.count() > audit_before
    assert wrote == (is_write and expected == success)


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 201),
        ("manager", 201),
        ("rep", 201),
        ("teammate", 201),
        ("stranger", 422),  # the customer is not theirs: as if it did not exist
        ("support", 404),
        ("marketing", 404),
        ("analyst", 403),
    ],
)
def test_create_order_by_role(people, api_for, customer, product, role, status):
    body = {"contact_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}

    response = api_for(people[role]).post("/orders", body)

    assert response.status_code == status
    assert Order.objects.count() == (1 if status == 201 else 0)
    if status == 422:
        assert response.json_body["errors"] == [{"field": "contact_id", "reason": "not found"}]


@pytest.mark.parametrize("role", ROLES)
def test_order_list_and_summary_by_role(people, api_for, order_in, customer, role):
    order = order_in("confirmed")
    client = api_for(people[role])

    listed = client.get("/orders")
    summary = client.get("/orders/summary", {"contact_id": customer.pk})

    if role in {"support", "marketing"}:
        assert (listed.status_code, summary.status_code) == (404, 404)
    elif role == "stranger":
        # Another team's customer is not found, rather than summed up as having no orders.
        assert (listed.status_code, summary.status_code) == (200, 404)
        assert listed.json_body["results"] == []
    else:
        assert (listed.status_code, summary.status_code) == (200, 200)
        assert [o["id"] for o in listed.json_body["results"]] == [order.pk]
        assert summary.json_body[0]["total"] == "39.98"


CATALOG_ENDPOINTS: dict[str, tuple[Callable[[], tuple[str, str, Any]], int, bool]] = {
    "list categories": (lambda: ("get", "/categories", None), 200, False),
    "category tree": (lambda: ("get", "/categories/tree", None), 200, False),
    "get category": (lambda: ("get", f"/categories/{make_category().pk}", None), 200, False),
    "create category": (lambda: ("post", "/categories", {"name": "Mugs"}), 201, True),
    "patch category": (lambda: ("patch", f"/categories/{make_category().pk}", {"name": "Cups"}), 200, True),
    "delete category": (lambda: ("delete", f"/categories/{make_category().pk}", None), 204, True),
    "list products": (lambda: ("get", "/products", None), 200, False),
    "get product": (lambda: ("get", f"/products/{make_product().pk}", None), 200, False),
    "create product": (lambda: ("post", "/products", {"sku": "NEW", "name": "New", "price": "1.00"}), 201, True),
    "patch product": (lambda: ("patch", f"/products/{make_product().pk}", {"price": "2.00"}), 200, True),
    "delete product": (lambda: ("delete", f"/products/{make_product().pk}", None), 204, True),
}


@pytest.mark.parametrize("role", ["admin", "manager", "rep", "support", "marketing", "analyst"])
@pytest.mark.parametrize("endpoint", list(CATALOG_ENDPOINTS))
def test_catalog_endpoints_by_role(people, api_for, endpoint, role):
    build, success, is_write = CATALOG_ENDPOINTS[endpoint]
    method, path, body = build()
    client = api_for(people[role])
    audit_before = AuditEntry.objects.count()

    response = _call(client, method, path, body)

    expected = 403 if is_write and role not in {"admin", "manager"} else success
    assert response.status_code == expected, response.json_body
    assert (AuditEntry.objects.count() > audit_before) == (is_write and expected == success)
