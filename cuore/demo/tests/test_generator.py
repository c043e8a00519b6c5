"""The demo loader: deterministic, consistent data with every state the rest of Cuore shows."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.db import connection, transaction

from cuore.contacts.models import Account, ConsentEvent, Contact, ContactPoint
from cuore.core.models import AuditEntry
from cuore.core.normalize import email_normalize, phone_normalize, text_key, vat_normalize
from cuore.demo.generator import demo_users_ensure, generate_demo_data
from cuore.demo.reference import DATA_NOW, DEMO_PASSWORD, HISTORY_DAYS
from cuore.interactions.models import Interaction
from cuore.orders.models import Order, OrderLine, Product, Shipment
from cuore.sales.models import Deal, DealStageChange, Stage
from cuore.service.models import Ticket
from cuore.users.models import User

CUSTOMERS = 300
SEED = 7
CHANNELS = {"email", "phone", "sms", "chat", "social", "web_form", "meeting", "store", "letter"}


def _checksum() -> str:
    digest = hashlib.sha256()
    for model in (Contact, Account, ContactPoint, ConsentEvent, Order, OrderLine, Deal, Ticket, Interaction):
        for row in model.objects.order_by("id").values_list():
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def module_load(django_db_setup, django_db_blocker):
    """Load once for the module inside a transaction rolled back at its end; each test runs in a savepoint."""
    with django_db_blocker.unblock(), transaction.atomic():
        summary = generate_demo_data(customers=CUSTOMERS, seed=SEED)
        yield summary
        transaction.set_rollback(True)


@pytest.fixture
def loaded(module_load, db):
    assert module_load.loaded
    return module_load


def test_same_seed_gives_the_same_data_and_another_seed_other_data(loaded):
    first = _checksum()

    generate_demo_data(customers=CUSTOMERS, seed=SEED, reset=True)
    again = _checksum()
    generate_demo_data(customers=CUSTOMERS, seed=SEED + 1, reset=True)
    other = _checksum()

    assert again == first
    assert other != first


def test_generating_in_a_second_process_gives_the_same_data(loaded):
    inline = _checksum()

    summary = generate_demo_data(customers=CUSTOMERS, seed=SEED, reset=True, parallel=True)

    assert summary.counts == loaded.counts
    assert _checksum() == inline


def test_rows_reference_existing_rows_and_ids_start_at_one(loaded):
    connection.check_constraints()
    assert Contact.objects.order_by("id").values_list("id", flat=True).first() == 1
    assert Contact.objects.count() == CUSTOMERS
    assert Account.objects.count() == CUSTOMERS // 25


def test_order_totals_equal_the_sum_of_their_lines(loaded):
    lines = defaultdict(list)
    for line in OrderLine.objects.all():
        lines[line.order_id].append(line)
    orders = list(Order.objects.all())

    assert len(orders) > CUSTOMERS
    for order in orders:
        mine = lines[order.id]
        assert 1 <= len(mine) <= 5
        for line in mine:
            assert line.line_total == line.quantity * line.unit_price - line.discount
        assert order.subtotal == sum((line.quantity * line.unit_price for line in mine), Decimal("0"))
        assert order.discount_total == sum((line.discount for line in mine), Decimal("0"))
        assert order.total == order.subtotal - order.discount_total
        assert order.cost_total == sum((line.quantity * line.unit_cost for line in mine), Decimal("0"))
    assert len({order.number for order in orders}) == len(orders)


def test_orders_follow_the_seasons_and_statuses(loaded):
    orders = list(Order.objects.values_list("placed_at", "status"))
    last_year = Counter(placed.month for placed, _status in orders if placed.year == 2025)
    statuses = Counter(status for _placed, status in orders)
    shipped_without_shipment = Order.objects.filter(status__in=["shipped", "delivered", "returned"]).exclude(
        id__in=Shipment.objects.values("order_id")
    )

    assert last_year[11] + last_year[12] > 1.5 * (last_year[7] + last_year[8])
    assert statuses["delivered"] > len(orders) / 2
    assert {"cancelled", "returned", "delivered"} <= set(statuses)
    assert not shipped_without_shipment.exists()
    start = DATA_NOW - dt.timedelta(days=HISTORY_DAYS)
    assert all(start <= placed <= DATA_NOW for placed, _status in orders)


def test_products_have_margins_from_five_to_sixty_percent(loaded):
    products = list(Product.objects.select_related("category__parent"))

    assert 250 <= len(products) <= 320
    margins = [(product.price - product.cost) / product.price for product in products]
    assert min(margins) >= Decimal("0.04")
    assert max(margins) <= Decimal("0.61")
    assert len({product.category.parent.name for product in products}) == 8


def test_lifecycle_stage_follows_the_purchases(loaded):
    last_order = {}
    for contact_id, placed in Order.objects.values_list("contact_id", "placed_at"):
        last_order[contact_id] = max(placed, last_order.get(contact_id, placed))
    stages = dict(Contact.objects.values_list("id", "lifecycle_stage"))

    for contact_id, stage in stages.items():
        if contact_id not in last_order:
            assert stage in {"subscriber", "lead", "qualified", "opportunity"}
        elif DATA_NOW - last_order[contact_id] > dt.timedelta(days=365):
            assert stage == "former_customer"
        else:
            assert stage == "customer"
    assert set(stages.values()) == {"subscriber", "lead", "qualified", "opportunity", "customer", "former_customer"}


def test_interactions_cover_every_channel_and_link_to_their_records(loaded):
    channels = set(Interaction.objects.values_list("channel", flat=True))
    per_customer = Interaction.objects.count() / CUSTOMERS
    sourced = list(Interaction.objects.exclude(external_id="").values_list("source", "external_id"))

    assert channels >= CHANNELS
    assert {"in", "out"} == set(Interaction.objects.values_list("direction", flat=True))
    assert 3 <= per_customer <= 6
    assert Interaction.objects.filter(ticket__isnull=False).exists()
    assert Interaction.objects.filter(deal__isnull=False).exists()
    assert Interaction.objects.filter(order__isnull=False).exists()
    assert Interaction.objects.filter(conversation__isnull=False).exists()
    assert sourced and len(set(sourced)) == len(sourced)


def test_deals_are_in_every_stage_and_status_with_consistent_history(loaded):
    deals = list(Deal.objects.all())
    changes = defaultdict(list)
    for change in DealStageChange.objects.order_by("changed_at", "id"):
        changes[change.deal_id].append(change)

    assert {deal.stage_id for deal in deals} == set(Stage.objects.values_list("id", flat=True))
    assert {deal.status for deal in deals} == {"open", "won", "lost"}
    for deal in deals:
        assert (deal.closed_at is None) == (deal.status == "open")
        assert bool(deal.lost_reason) == (deal.status == "lost")
        history = changes[deal.id]
        assert history[0].from_stage_id is None
        assert history[-1].to_stage_id == deal.stage_id
        assert history[-1].to_status == deal.status
        assert deal.owner_id is not None and deal.team_id is not None


def test_tickets_meet_and_breach_their_sla_consistently(loaded):
    tickets = list(Ticket.objects.all())

    assert {ticket.status for ticket in tickets} == {"new", "open", "pending", "solved", "closed"}
    assert {ticket.priority for ticket in tickets} == {"low", "normal", "high", "urgent"}
    assert any(ticket.first_response_breached for ticket in tickets)
    assert any(ticket.resolution_breached for ticket in tickets)
    assert any(not ticket.first_response_breached and not ticket.resolution_breached for ticket in tickets)
    assert any(ticket.satisfaction_rating for ticket in tickets)
    for ticket in tickets:
        assert ticket.number == f"TCK-{ticket.id:06d}"
        assert ticket.first_response_due > ticket.created_at
        assert ticket.first_response_breached == ((ticket.first_response_at or DATA_NOW) > ticket.first_response_due)
        assert ticket.resolution_breached == ((ticket.solved_at or DATA_NOW) > ticket.resolution_due)
        assert (ticket.solved_at is not None) == (ticket.status in {"solved", "closed"})
        assert (ticket.first_response_at is None) == (ticket.status == "new")
        if ticket.satisfaction_rating is not None:
            assert ticket.status in {"solved", "closed"}


def test_some_consents_are_withdrawn_after_being_granted(loaded):
    events = defaultdict(list)
    for event in ConsentEvent.objects.order_by("occurred_at", "id"):
        events[(event.contact_id, event.purpose, event.channel)].append(event.status)

    withdrawn = [history for history in events.values() if "withdrawn" in history]
    assert withdrawn
    assert all(history[0] == "granted" for history in events.values())
    assert len({purpose for _contact, purpose, _channel in events}) >= 4


def test_names_keys_and_contact_points_are_normalised(loaded):
    for contact in Contact.objects.all():
        assert contact.first_name_key == text_key(contact.first_name)
        assert contact.last_name_key == text_key(contact.last_name)
        assert contact.created_at <= contact.updated_at <= DATA_NOW
    for account in Account.objects.all():
        assert account.name_key == text_key(account.name)
        if account.vat_number.startswith("IT"):
            assert vat_normalize(account.vat_number) == account.vat_number
    points = list(ContactPoint.objects.all())
    for point in points:
        if point.kind == "email":
            assert point.value_normalized == email_normalize(point.value)
        elif point.kind in {"phone", "mobile"}:
            assert point.value_normalized == phone_normalize(point.value)
    kinds = Counter(point.kind for point in points)
    assert kinds["email"] >= CUSTOMERS
    assert kinds["mobile"] + kinds["phone"] > CUSTOMERS / 2
    assert kinds["social"] and kinds["external_id"]
    assert Deal.objects.exclude(name_key="").count() == Deal.objects.count()


def test_a_second_load_without_reset_loads_nothing(loaded):
    summary = generate_demo_data(customers=50, seed=SEED + 3)

    assert not summary.loaded
    assert summary.counts["contacts"] == CUSTOMERS
    assert Contact.objects.count() == CUSTOMERS
    assert "already there" in summary.describe()


def test_reset_empties_the_crm_then_loads_again(loaded):
    summary = generate_demo_data(customers=40, seed=SEED, reset=True)

    assert summary.loaded and summary.reset
    assert Contact.objects.count() == 40
    assert summary.counts["contacts"] == 40
    assert Order.objects.filter(contact_id__gt=40).count() == 0
    assert "40 customers" in summary.describe()


def test_the_load_is_audited_once(loaded):
    entries = AuditEntry.objects.filter(action="demo.load")

    assert entries.count() == 1
    entry = entries.get()
    assert entry.object_type == "demo" and entry.object_id == str(SEED)
    assert entry.changes["contacts"] == CUSTOMERS
    assert entry.changes["customers"] == CUSTOMERS


def test_demo_logins_authenticate_and_are_created_once(loaded):
    users_before = User.objects.count()

    logins = demo_users_ensure()

    assert User.objects.count() == users_before
    assert logins[0].role == "admin"
    assert Counter(login.role for login in logins) == Counter(
        {"admin": 1, "manager": 1, "sales": 3, "support": 2, "marketing": 1, "analyst": 1}
    )
    for login in logins:
        assert login.password == DEMO_PASSWORD
        user = authenticate(username=login.username, password=login.password)
        assert user is not None and user.role == login.role
    sales_teams = set(User.objects.filter(role="sales").values_list("team__name", flat=True))
    assert sales_teams == {"Nord", "Sud", "International"}
    owners = set(Contact.objects.values_list("owner__username", flat=True))
    assert owners == {"giulia", "marco", "emma"}
    assignees = set(Ticket.objects.exclude(assignee=None).values_list("assignee__role", flat=True))
    assert assignees == {"support"}
