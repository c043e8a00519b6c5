"""The ticket page's conversation: reading it, replying to the customer and adding internal notes, for every role."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse

from config import urls as root_urls
from cuore.contacts.tests.factories import make_contact
from cuore.core.models import AuditEntry
from cuore.interactions import ticket_views
from cuore.interactions.models import Interaction
from cuore.service import services as service_services
from cuore.service.services import TargetMinutes

from .factories import make_interaction, make_ticket

# The conversation's URLs, whether or not the project's URLconf includes them yet.
_INCLUDED = any(getattr(pattern, "namespace", None) == "ticketconv" for pattern in root_urls.urlpatterns)
urlpatterns = list(root_urls.urlpatterns) + ([] if _INCLUDED else [path("", include("cuore.interactions.ticket_urls"))])

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

ROLES = ["admin", "manager", "sales", "sales_other", "support", "marketing", "analyst"]
READ = {
    "admin": 200,
    "manager": 200,
    "sales": 404,
    "sales_other": 404,
    "support": 200,
    "marketing": 404,
    "analyst": 200,
}
WRITE = {"admin": 1, "manager": 1, "sales": 404, "sales_other": 404, "support": 1, "marketing": 404, "analyst": 403}
HTMX = {"HX-Request": "true"}


@pytest.fixture
def users(users_by_role, make_user, other_team):
    return {**users_by_role, "sales_other": make_user(role="sales", team=other_team, username="south_rep")}


@pytest.fixture
def login(client, users):
    def as_role(role: str):
        client.force_login(users[role])
        return client

    return as_role


@pytest.fixture
def policy(db):
    targets = [
        TargetMinutes(p, first, resolution)
        for p, first, resolution in (("low", 480, 4800), ("normal", 240, 2400), ("high", 60, 480), ("urgent", 15, 120))
    ]
    return service_services.sla_policy_create(actor=None, name="Standard", is_default=True, targets=targets)


@pytest.fixture
def customer(users):
    return make_contact(first_name="Lucia", last_name="Bianchi", owner=users["sales"])


@pytest.fixture
def ticket(clock, policy, customer):
    return make_ticket(subject="Broken zip", contact=customer)


def entry_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-testid="interaction-(\d+)"', html)]


def conversation(client, ticket):
    return client.get(reverse("ticketconv:conversation", args=[ticket.pk]), headers=HTMX)


def reply(client, ticket, kind: str = "reply", htmx: bool = True, **fields):
    data = {"kind": kind, **{f"{kind}-{name}": value for name, value in fields.items()}}
    return client.post(reverse("ticketconv:reply", args=[ticket.pk]), data, headers=HTMX if htmx else {})


# ---- reading ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_conversation_by_role(login, clock, ticket, customer, users, role):
    later = make_interaction(
        contact=customer, ticket=ticket, direction="in", body="Still broken.", occurred_at=clock.now
    )
    earlier = make_interaction(
        contact=customer, ticket=ticket, direction="in", body="It broke.", occurred_at=clock.now - dt.timedelta(hours=1)
    )
    note = make_interaction(
        contact=customer,
        ticket=ticket,
        channel="note",
        direction="out",
        body="Ask the warehouse.",
        user=users["support"],
        occurred_at=clock.now + dt.timedelta(minutes=1),
    )
    make_interaction(contact=customer, body="Another matter.")  # not on this ticket

    response = conversation(login(role), ticket)

    assert response.status_code == READ[role]
    if READ[role] == 200:
        html = response.content.decode()
        assert 'data-testid="conversation"' in html
        assert entry_ids(html) == [earlier.pk, later.pk, note.pk]
        assert "Internal note" in html and "Ask the warehouse." in html
        can_answer = WRITE[role] == 1
        assert ('data-testid="reply-form"' in html) is can_answer
        assert ('data-testid="note-form"' in html) is can_answer
        if can_answer:
            assert 'data-testid="reply-body"' in html  # where the knowledge-base picker inserts
            assert 'value="Re: Broken zip"' in html


def test_conversation_of_a_new_ticket_is_empty(login, ticket):
    html = conversation(login("support"), ticket).content.decode()

    assert 'data-testid="conversation-empty"' in html


def test_conversation_outside_htmx_leads_to_the_ticket_page(login, ticket):
    response = login("support").get(reverse("ticketconv:conversation", args=[ticket.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("service:ticket", args=[ticket.pk])


def test_conversation_asks_anonymous_to_sign_in(client, ticket):
    response = client.get(reverse("ticketconv:conversation", args=[ticket.pk]), headers=HTMX)

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_conversation_of_a_missing_ticket_is_404(login):
    assert login("admin").get(reverse("ticketconv:conversation", args=[55555]), headers=HTMX).status_code == 404


def test_closed_ticket_takes_no_more_messages(login, ticket):
    service_services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    service_services.ticket_set_status(actor=None, ticket=ticket, status="closed")
    client = login("support")

    html = conversation(client, ticket).content.decode()
    refused = reply(client, ticket, body="Hello?")

    assert 'data-testid="reply-form"' not in html
    assert refused.status_code == 409
    assert 'data-testid="conversation-error"' in refused.content.decode()
    assert not Interaction.objects.exists()


def test_conversation_costs_the_same_queries_for_more_messages(login, clock, ticket, customer, users):
    client = login("support")
    make_interaction(contact=customer, ticket=ticket, body="First.", user=users["manager"])
    with CaptureQueriesContext(connection) as few:
        conversation(client, ticket)
    for n in range(10):
        make_interaction(contact=customer, ticket=ticket, body=f"More {n}.", user=users["support"])
    with CaptureQueriesContext(connection) as many:
        response = conversation(client, ticket)

    assert len(entry_ids(response.content.decode())) == 11
    assert len(many) == len(few)


def test_conversation_shows_the_latest_messages_when_long(login, clock, ticket, customer, monkeypatch):
    monkeypatch.setattr(ticket_views, "CONVERSATION_LIMIT", 2)
    messages = [
        make_interaction(
            contact=customer, ticket=ticket, body=f"Message {n}.", occurred_at=clock.now + dt.timedelta(minutes=n)
        )
        for n in range(3)
    ]

    html = conversation(login("support"), ticket).content.decode()

    assert entry_ids(html) == [messages[1].pk, messages[2].pk]
    assert "Only the latest 2 messages are shown." in html


# ---- replying ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_reply_by_role(login, clock, users, ticket, role):
    clock.advance(minutes=30)

    response = reply(login(role), ticket, subject="Re: Broken zip", body="We are sending a new one.")

    ticket.refresh_from_db()
    if WRITE[role] == 1:
        assert response.status_code == 200
        assert response["HX-Trigger"] == "ticket-changed"
        sent = Interaction.objects.get()
        assert (sent.channel, sent.direction, sent.ticket, sent.user) == ("email", "out", ticket, users[role])
        assert (sent.subject, sent.body, sent.contact_id) == (
            "Re: Broken zip",
            "We are sending a new one.",
            ticket.contact_id,
        )
        assert ticket.first_response_at == clock.now  # the reply stopped the first-response clock
        html = response.content.decode()
        assert entry_ids(html) == [sent.pk] and 'data-testid="conversation-notice"' in html
        actions = set(AuditEntry.objects.values_list("action", flat=True))
        assert {"interaction.create", "ticket.first_response"} <= actions
        assert AuditEntry.objects.get(action="interaction.create").channel == "ui"
    else:
        assert response.status_code == WRITE[role]
        assert not Interaction.objects.exists()
        assert ticket.first_response_at is None


def test_note_does_not_answer_the_customer(login, clock, users, ticket):
    response = reply(login("support"), ticket, kind="note", body="Check stock first.")

    ticket.refresh_from_db()
    note = Interaction.objects.get()
    assert response.status_code == 200
    assert (note.channel, note.direction, note.subject, note.body) == ("note", "out", "", "Check stock first.")
    assert ticket.first_response_at is None
    assert not AuditEntry.objects.filter(action="ticket.first_response").exists()


def test_empty_message_is_shown_beside_the_field(login, ticket):
    response = reply(login("support"), ticket, kind="note", body="   ")

    html = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'<textarea name="note-body"[^>]*class="form-control is-invalid"', html)
    assert '<div class="invalid-feedback">This field is required.</div>' in html
    assert 'id="note-pane"' in html and "note-tab" in html
    assert not Interaction.objects.exists()


def test_reply_without_htmx_redirects_to_the_ticket(login, ticket):
    client = login("support")

    sent = reply(client, ticket, htmx=False, subject="Hi", body="Done.")
    empty = reply(client, ticket, htmx=False, subject="Hi", body="")

    assert sent.status_code == 302 and sent["Location"] == reverse("service:ticket", args=[ticket.pk])
    assert empty.status_code == 302
    assert Interaction.objects.count() == 1


def test_reply_on_a_ticket_without_customer_explains_why(login, clock, policy):
    orphan = make_ticket(subject="Anonymous call")

    response = reply(login("support"), orphan, body="Hello")

    assert response.status_code == 422
    assert "an interaction needs a contact or an account" in response.content.decode()
    assert not Interaction.objects.exists()


def test_forbidden_reply_tells_htmx_why(login, ticket):
    response = reply(login("analyst"), ticket, body="Hi")

    assert response.status_code == 403
    assert response["X-Cuore-Reason"]


def test_reply_needs_post_and_sign_in(client, login, ticket):
    anonymous = client.post(reverse("ticketconv:reply", args=[ticket.pk]), {"kind": "reply", "reply-body": "x"})
    as_get = login("support").get(reverse("ticketconv:reply", args=[ticket.pk]))

    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert as_get.status_code == 405
