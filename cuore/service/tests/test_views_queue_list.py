"""The ticket queue on the shared list machinery: columns, saved views, CSV export and bulk actions."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cuore.core.models import AuditEntry
from cuore.service.models import Ticket

pytestmark = pytest.mark.django_db

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
def ticket(clock, default_policy, make_ticket, contact):
    return make_ticket(subject="Printer jammed", priority="normal", contact=contact)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


@pytest.mark.parametrize("role", ROLES)
def test_the_queue_offers_the_list_tools_by_role(login, ticket, role):
    response = login(role).get(reverse("service:queue"))

    assert response.status_code == READ[role]
    if READ[role] == 200:
        html = response.content.decode()
        assert 'data-testid="list-queue"' in html and 'data-testid="export-csv"' in html
        assert 'data-testid="columns-menu"' in html and 'data-testid="views-menu"' in html
        assert ('data-testid="bulk-actions"' in html) is (role != "analyst")
        assert 'data-testid="sla-first-response"' in html  # the countdown cells are kept


def test_optional_columns_of_the_queue(login, ticket, plain_queue):
    Ticket.objects.filter(pk=ticket.pk).update(queue=plain_queue)
    client = login("support")

    default = client.get(reverse("service:queue")).content.decode()
    chosen = client.get(reverse("service:queue"), {"cols": "number,queue_name"}).content.decode()

    assert 'id="col-queue-queue_name" checked' not in default
    assert 'id="col-queue-queue_name" checked' in chosen
    assert plain_queue.name in chosen and 'data-testid="sla-first-response"' not in chosen


def test_the_queue_keeps_its_default_filter_in_the_export(login, clock, default_policy, make_ticket):
    make_ticket('=HYPERLINK("http://evil")')
    make_ticket("-2+3")
    solved = make_ticket("Finished")
    Ticket.objects.filter(pk=solved.pk).update(status="solved")
    client = login("support")

    rows = csv_rows(client.get(reverse("service:queue"), {"export": "csv", "cols": "subject,priority"}))
    everything = csv_rows(
        client.get(reverse("service:queue"), {"export": "csv", "cols": "subject", "status": "all", "sort": "newest"})
    )

    assert rows[0] == ["Subject", "Priority"]
    assert sorted(row[0] for row in rows[1:]) == ["'-2+3", '\'=HYPERLINK("http://evil")']
    assert {row[0] for row in everything[1:]} == {"'-2+3", '\'=HYPERLINK("http://evil")', "Finished"}


def test_the_export_is_refused_to_who_does_not_see_tickets(login, ticket):
    assert login("sales").get(reverse("service:queue"), {"export": "csv"}).status_code == 404


def test_a_saved_view_of_the_queue(login, ticket):
    client = login("support")

    client.post("/me/views/save/", {"list_name": "queue", "name": "Urgent", "query": "priority=urgent", "next": "/"})
    html = client.get(reverse("service:queue")).content.decode()

    assert "Urgent" in html and 'href="?priority=urgent"' in html


def test_the_queue_and_its_export_cost_the_same_queries_for_more_rows(
    login, users, clock, default_policy, plain_queue, contact, make_ticket
):
    client = login("support")
    cols = {"cols": "number,subject,customer_name,priority,status_label,assignee_name,first_response,queue_name"}
    make_ticket("First", contact=contact, queue=plain_queue, assignee=users["manager"])
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("service:queue"), cols)
    with CaptureQueriesContext(connection) as export_few:
        b"".join(client.get(reverse("service:queue"), {**cols, "export": "csv"}).streaming_content)
    for n in range(10):
        make_ticket(f"More {n}", contact=contact, queue=plain_queue, assignee=users["support"])
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("service:queue"), cols)
    with CaptureQueriesContext(connection) as export_many:
        b"".join(client.get(reverse("service:queue"), {**cols, "export": "csv"}).streaming_content)

    assert len(many) == len(few)
    assert len(export_many) == len(export_few)


# ---- bulk actions --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager", "support"])
def test_writers_assign_tickets_in_bulk(login, users, ticket, make_ticket, role):
    other = make_ticket("Second")
    client = login(role)

    response = client.post(
        reverse("service:queue"),
        {
            "ids": [ticket.pk, other.pk, 999999],
            "action": "assign",
            "assignee": users["support"].pk,
            "next": "/tickets/",
        },
        follow=True,
    )

    assert {t.assignee for t in Ticket.objects.filter(pk__in=[ticket.pk, other.pk])} == {users["support"]}
    html = response.content.decode()
    assert "2 tickets changed." in html and "1 selected tickets were not found." in html
    assert AuditEntry.objects.filter(channel="ui", actor=users[role], object_id=str(ticket.pk)).exists()


def test_bulk_assigns_to_me_or_nobody(login, users, ticket):
    client = login("support")

    client.post(reverse("service:queue"), {"ids": [ticket.pk], "action": "assign", "assignee": "me"})
    mine = Ticket.objects.get(pk=ticket.pk).assignee
    client.post(reverse("service:queue"), {"ids": [ticket.pk], "action": "assign", "assignee": "none"})

    assert mine == users["support"]
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_bulk_sets_the_priority_and_recomputes_the_due_times(login, ticket):
    before = ticket.resolution_due
    client = login("manager")

    client.post(reverse("service:queue"), {"ids": [ticket.pk], "action": "set_priority", "priority": "urgent"})

    ticket.refresh_from_db()
    assert ticket.priority == "urgent" and ticket.resolution_due != before


def test_a_bulk_action_without_a_choice_says_so(login, ticket):
    client = login("support")

    no_priority = client.post(reverse("service:queue"), {"ids": [ticket.pk], "action": "set_priority"}, follow=True)
    no_person = client.post(
        reverse("service:queue"), {"ids": [ticket.pk], "action": "assign", "assignee": "42424242"}, follow=True
    )
    no_rows = client.post(reverse("service:queue"), {"action": "assign", "assignee": "me"}, follow=True)

    assert "choose a priority" in no_priority.content.decode()
    assert "choose whom to assign to" in no_person.content.decode()
    assert "select at least one row" in no_rows.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).priority == "normal"


@pytest.mark.parametrize(("role", "status"), [("analyst", 403), ("sales", 404), ("marketing", 404)])
def test_bulk_is_refused_to_readers_and_outsiders(login, ticket, role, status):
    response = login(role).post(
        reverse("service:queue"), {"ids": [ticket.pk], "action": "set_priority", "priority": "low"}
    )

    assert response.status_code == status
    assert Ticket.objects.get(pk=ticket.pk).priority == "normal"


def test_bulk_asks_anonymous_to_sign_in(client, ticket):
    response = client.post(reverse("service:queue"), {"ids": [ticket.pk], "action": "assign", "assignee": "me"})

    assert response.status_code == 302 and Ticket.objects.get(pk=ticket.pk).assignee is None
