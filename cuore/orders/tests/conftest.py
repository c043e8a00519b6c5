"""Fixtures of the orders tests: people of every role, a customer of the sales rep, products, orders."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cuore.contacts.models import Contact
from cuore.contacts.tests.factories import make_contact
from cuore.orders import services
from cuore.orders.models import Order, OrderStatus, Product, Return, Shipment
from cuore.orders.services import LineInput, ReturnLineInput
from cuore.orders.tests.factories import make_product
from cuore.users.models import User


@pytest.fixture
def people(make_user, team, other_team) -> dict[str, User]:
    """One user per role; ``rep`` owns the customer, ``teammate`` shares rep's team, ``stranger`` does not."""
    return {
        "admin": make_user(role="admin"),
        "manager": make_user(role="manager"),
        "rep": make_user(role="sales", team=team, username="rep"),
        "teammate": make_user(role="sales", team=team, username="teammate"),
        "stranger": make_user(role="sales", team=other_team, username="stranger"),
        "support": make_user(role="support"),
        "marketing": make_user(role="marketing"),
        "analyst": make_user(role="analyst"),
    }


@pytest.fixture
def customer(people) -> Contact:
    """A contact owned by the sales rep, in the rep's team."""
    return make_contact(first_name="Giulia", last_name="Bianchi", owner=people["rep"])


@pytest.fixture
def product(db) -> Product:
    return make_product(sku="MUG-01", name="Mug", price="19.99", cost="7.50")


@pytest.fixture
def order_in(customer, product) -> Callable[..., Order]:
    """Make an order of ``customer`` (2 mugs) and move it, as the system, to ``status``."""

    def make(status: str = OrderStatus.DRAFT, quantity: int = 2) -> Order:
        order = services.order_create(
            actor=None, contact=customer, lines=[LineInput(product=product, quantity=quantity)]
        )
        path = [OrderStatus.CONFIRMED, OrderStatus.FULFILLED]
        if status == OrderStatus.CANCELLED:
            return services.order_cancel(actor=None, order=order)
        for step in path:
            if order.status == status:
                return order
            order = services.order_set_status(actor=None, order=order, status=step)
        if order.status == status:
            return order
        shipment = services.shipment_create(actor=None, order=order, carrier="BRT", tracking_number="T1")
        if status == OrderStatus.SHIPPED:
            return shipment.order
        return services.shipment_mark_delivered(actor=None, shipment=shipment).order

    return make


@pytest.fixture
def shipped_shipment(order_in) -> Shipment:
    order = order_in(OrderStatus.SHIPPED)
    return order.shipments.get()


@pytest.fixture
def requested_return(order_in) -> Return:
    order = order_in(OrderStatus.DELIVERED)
    line = order.lines.get()
    return services.return_create(
        actor=None, order=order, reason="Broken", lines=[ReturnLineInput(order_line_id=line.pk, quantity=1)]
    )
