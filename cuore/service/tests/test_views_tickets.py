"""The ticket queue and the ticket page, for every role: filters, SLA countdowns, actions and their refusals."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import urls as root_urls
from cuore.core.models import AuditEntry
from cuore.service import services, views
from cuore.service.models import Ticket

from .conftest import START

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "sales", "sales_other", "support", "marketing", "analyst"]
# Tickets: who reads them (200) and who may not see them at all (404); who changes them (1) or only reads (403).
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
def ticket(clock, default_policy, make_ticket, contact):
    return make_ticket(subject="Printer jammed", priority="normal", contact=contact, description="It beeps twice.")


def row_of(html: str, ticket: Ticket) -> str:
    match = re.search(rf'<tr class="([^"]*)" data-testid="ticket-row-{ticket.pk}".*?</tr>', html, re.S)
    assert match, f"no row for {ticket.number}"
    return match.group(0)


def row_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-testid="ticket-row-(\d+)"', html)]


# ---- the queue ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_queue_by_role(login, ticket, role):
    response = login(role).get(reverse("service:queue"))

    assert response.status_code == READ[role]
    if READ[role] == 200:
        html = response.content.decode()
        assert 'data-testid="ticket-queue"' in html
        row = row_of(html, ticket)
        assert ticket.number in row and "Printer jammed" in row and "Anna Neri" in row
        assert "Normal" in row and "New" in row and "Unassigned" in row


def test_queue_asks_anonymous_to_sign_in(client, ticket):
    response = client.get(reverse("service:queue"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_queue_lists_open_tickets_unless_asked(login, clock, default_policy, make_ticket):
    new, pending, solved = make_ticket("New one"), make_ticket("Waiting"), make_ticket("Done")
    services.ticket_set_status(actor=None, ticket=pending, status="pending")
    services.ticket_set_status(actor=None, ticket=solved, status="solved")
    client = login("support")

    default = row_ids(client.get(reverse("service:queue")).content.decode())
    everything = row_ids(client.get(reverse("service:queue"), {"status": "all"}).content.decode())
    only_solved = row_ids(client.get(reverse("service:queue"), {"status": "solved"}).content.decode())

    assert sorted(default) == sorted([new.pk, pending.pk])
    assert sorted(everything) == sorted([new.pk, pending.pk, solved.pk])
    assert only_solved == [solved.pk]


def test_queue_filters(login, users, clock, default_policy, plain_queue, make_ticket):
    mine = make_ticket("Invoice missing", assignee=users["support"])
    theirs = make_ticket("Broken hinge", assignee=users["manager"], priority="high", queue=plain_queue)
    nobody = make_ticket("Refund request", priority="urgent")
    client = login("support")

    def ids(**params) -> list[int]:
        return sorted(row_ids(client.get(reverse("service:queue"), params).content.decode()))

    assert ids(assignee="me") == [mine.pk]
    assert ids(assignee="none") == [nobody.pk]
    assert ids(assignee=str(users["manager"].pk)) == [theirs.pk]
    assert ids(priority="urgent") == [nobody.pk]
    assert ids(queue=str(plain_queue.pk)) == [theirs.pk]
    assert ids(q="hinge") == [theirs.pk]
    assert ids(q=str(mine.pk)) == [mine.pk]  # a bare number finds TCK-00000n
    assert ids(q=mine.number) == [mine.pk]


def test_queue_shows_a_bad_filter_beside_its_field(login, ticket):
    response = login("support").get(reverse("service:queue"), {"queue": "nope", "priority": "whenever"})

    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<select name="queue" class="form-select is-invalid"', html)
    assert re.search(r'<select name="priority" class="form-select is-invalid"', html)
    assert html.count('class="invalid-feedback"') == 2
    assert row_ids(html) == [ticket.pk]  # the bad filters are left out


def test_queue_orders_by_resolution_due_then_newest(login, clock, default_policy, make_ticket):
    low = make_ticket("Low", priority="low")  # resolution in 4800 min
    urgent = make_ticket("Urgent", priority="urgent")  # 120 min
    high = make_ticket("High", priority="high")  # 480 min
    client = login("support")

    by_due = row_ids(client.get(reverse("service:queue")).content.decode())
    newest = row_ids(client.get(reverse("service:queue"), {"sort": "newest"}).content.decode())

    assert by_due == [urgent.pk, high.pk, low.pk]
    assert newest == [high.pk, urgent.pk, low.pk]


def test_queue_points_to_tickets_without_due_time(login, clock, make_ticket):
    # No SLA policy at all: no due times, so the "due" ordering cannot list them.
    undated = make_ticket("No SLA")
    client = login("support")

    by_due = client.get(reverse("service:queue")).content.decode()
    newest = client.get(reverse("service:queue"), {"sort": "newest"}).content.decode()

    assert row_ids(by_due) == []
    assert 'data-testid="undated-tickets"' in by_due and "?sort=newest" in by_due
    assert row_ids(newest) == [undated.pk]


def test_queue_sla_countdowns_and_highlights(login, clock, default_policy, make_ticket):
    calm = make_ticket("Calm", priority="normal")  # first response in 240 min
    near = make_ticket("Near", priority="urgent")  # first response in 15 min
    clock.advance(minutes=-100)
    late = make_ticket("Late", priority="urgent")  # created 100 min ago: first response 85 min late
    clock.advance(minutes=100)
    client = login("support")

    html = client.get(reverse("service:queue")).content.decode()

    calm_row, near_row, late_row = row_of(html, calm), row_of(html, near), row_of(html, late)
    assert 'class=""' in calm_row and "4 h 0 min left" in calm_row and "1 d 16 h left" in calm_row
    assert 'class="table-warning"' in near_row and "15 min left" in near_row
    assert 'class="table-danger"' in late_row and "1 h 25 min overdue" in late_row and "20 min left" in late_row
    due = (START + dt.timedelta(minutes=15)).isoformat()
    assert f'data-due="{due}"' in near_row  # the inline script ticks from it
    assert 'id="sla-labels"' in html


def test_queue_marks_stopped_clocks(login, clock, default_policy, make_ticket):
    ticket = make_ticket("Answered", priority="urgent")
    clock.advance(minutes=5)
    services.ticket_record_first_response(actor=None, ticket=ticket)
    clock.advance(minutes=200)
    services.ticket_set_status(actor=None, ticket=ticket, status="pending")

    row = row_of(login("support").get(reverse("service:queue")).content.decode(), ticket)

    assert "Met" in row  # answered within 15 minutes
    assert "1 h 25 min overdue" in row  # resolution was due 120 minutes after opening
    assert 'class="table-danger"' in row


def test_queue_pages_with_a_cursor(login, clock, default_policy, make_ticket, monkeypatch):
    monkeypatch.setattr(views, "QUEUE_PAGE_SIZE", 2)
    tickets = [make_ticket(f"Ticket {n}", priority="urgent") for n in range(3)]
    client = login("support")

    first = client.get(reverse("service:queue"), {"priority": "urgent"})
    next_url = re.search(r'hx-get="(\?[^"]*cursor=[^"]*)"', first.content.decode()).group(1).replace("&amp;", "&")
    second = client.get(reverse("service:queue") + next_url, headers=HTMX)

    assert row_ids(first.content.decode()) == [tickets[0].pk, tickets[1].pk]
    assert "priority=urgent" in next_url
    assert row_ids(second.content.decode()) == [tickets[2].pk]
    assert 'data-testid="load-more"' in first.content.decode()
    assert 'data-testid="load-more"' not in second.content.decode()


def test_queue_survives_a_bad_cursor(login, ticket):
    response = login("support").get(reverse("service:queue"), {"cursor": "garbage"})

    assert response.status_code == 200
    assert "no longer exists" in response.content.decode()
    assert row_ids(response.content.decode()) == [ticket.pk]


def test_queue_answers_htmx_with_the_results_only(login, ticket):
    response = login("support").get(
        reverse("service:queue"), {"q": "printer"}, headers={**HTMX, "HX-Target": "list-queue"}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'data-testid="ticket-queue"' in html
    assert row_ids(html) == [ticket.pk]
    assert "HX-Request" in response["Vary"]


def test_queue_costs_the_same_queries_for_more_rows(
    login, users, clock, default_policy, plain_queue, contact, make_ticket
):
    client = login("support")
    make_ticket("First", contact=contact, queue=plain_queue, assignee=users["manager"])
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("service:queue"))
    for n in range(10):
        make_ticket(f"More {n}", contact=contact, queue=plain_queue, assignee=users["support"])
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("service:queue"))

    assert len(row_ids(response.content.decode())) == 11
    assert len(many) == len(few)


# ---- the ticket page ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_ticket_page_by_role(login, ticket, role):
    response = login(role).get(reverse("service:ticket", args=[ticket.pk]))

    assert response.status_code == READ[role]
    if READ[role] == 200:
        html = response.content.decode()
        assert ticket.number in html and "Printer jammed" in html and "It beeps twice." in html
        assert 'data-testid="ticket-header"' in html and 'data-testid="kb-search"' in html
        assert "4 h 0 min left" in html  # first response, at the ticket's creation
        # The conversation comes from the interactions app, fetched by HTMX as the page loads.
        assert f'hx-get="{reverse("ticketconv:conversation", args=[ticket.pk])}" hx-trigger="load"' in html
        can_change = WRITE[role] == 1
        for status in ("open", "pending", "solved"):
            assert (f'data-testid="ticket-status-{status}"' in html) is can_change
        assert 'data-testid="ticket-status-closed"' not in html  # a new ticket is solved before it is closed
        assert ('data-testid="ticket-assign-form"' in html) is can_change
        assert ('data-testid="ticket-properties-form"' in html) is can_change


def test_ticket_page_of_a_missing_ticket_is_404(login):
    assert login("admin").get(reverse("service:ticket", args=[987654])).status_code == 404


def test_ticket_page_asks_anonymous_to_sign_in(client, ticket):
    response = client.get(reverse("service:ticket", args=[ticket.pk]))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_ticket_page_links_the_customer_when_the_customer_page_exists(login, ticket):
    html = login("support").get(reverse("service:ticket", args=[ticket.pk])).content.decode()

    customer_url = views._url_or_none("customer:contact", ticket.contact_id)
    assert "Anna Neri" in html
    if customer_url:
        assert f'href="{customer_url}" data-testid="ticket-customer-link"' in html
    else:
        assert 'data-testid="ticket-customer-link"' not in html


def test_ticket_page_shows_the_satisfaction_rating(login, ticket):
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    services.ticket_rate(actor=None, ticket=ticket, rating=4, comment="Quick and kind.")

    html = login("analyst").get(reverse("service:ticket", args=[ticket.pk])).content.decode()

    assert "4 out of 5" in html and "Quick and kind." in html
    assert html.count("bi-star-fill") == 4
    assert 'data-testid="ticket-status-closed"' not in html  # the analyst only reads


def test_closed_ticket_offers_no_actions(login, ticket):
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    services.ticket_set_status(actor=None, ticket=ticket, status="closed")

    html = login("support").get(reverse("service:ticket", args=[ticket.pk])).content.decode()

    assert 'data-testid="ticket-status-' not in html.replace('data-testid="ticket-status-badge"', "")
    assert 'data-testid="ticket-assign-form"' not in html


def test_ticket_header_fragment(login, ticket):
    response = login("support").get(reverse("service:ticket_header", args=[ticket.pk]), headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert html.strip().startswith('<section id="ticket-header"')
    assert login("marketing").get(reverse("service:ticket_header", args=[ticket.pk])).status_code == 404


def test_ticket_page_costs_a_fixed_number_of_queries(login, ticket, django_assert_max_num_queries):
    client = login("support")

    with django_assert_max_num_queries(8):
        client.get(reverse("service:ticket", args=[ticket.pk]))


# Without the interactions app's conversation URLs, the ticket page says the conversation is not here.
urlpatterns = [
    pattern for pattern in root_urls.urlpatterns if "ticket_urls" not in str(getattr(pattern, "urlconf_name", ""))
]


@pytest.mark.urls(__name__)
def test_ticket_page_without_the_conversation_urls_says_so(login, ticket):
    html = login("support").get(reverse("service:ticket", args=[ticket.pk])).content.decode()

    assert 'data-testid="conversation"' in html and 'hx-trigger="load"' not in html


# ---- status changes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_status_change_by_role(login, users, ticket, role):
    response = login(role).post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "open"}, headers=HTMX)

    ticket.refresh_from_db()
    if WRITE[role] == 1:
        assert response.status_code == 200
        assert ticket.status == "open" and ticket.first_response_at == START
        html = response.content.decode()
        assert 'data-testid="ticket-notice"' in html and "The ticket is now Open." in html
        assert 'data-testid="ticket-status-pending"' in html  # the buttons of the new status
        entry = AuditEntry.objects.get(action="ticket.set_status")
        assert (entry.actor, entry.channel, entry.changes["status"]) == (users[role], "ui", ["new", "open"])
    else:
        assert response.status_code == WRITE[role]
        assert ticket.status == "new"
        assert not AuditEntry.objects.filter(action="ticket.set_status").exists()


def test_status_change_records_the_actor(login, users, ticket):
    login("support").post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "pending"})

    entry = AuditEntry.objects.get(action="ticket.set_status")
    assert entry.actor == users["support"] and entry.channel == "ui"
    assert entry.changes["status"] == ["new", "pending"]


def test_status_change_without_htmx_redirects_with_a_message(login, ticket):
    client = login("support")

    response = client.post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "solved"})
    page = client.get(response["Location"])

    assert response.status_code == 302 and response["Location"] == reverse("service:ticket", args=[ticket.pk])
    assert "The ticket is now Solved." in page.content.decode()
    assert 'data-testid="ticket-status-closed"' in page.content.decode()


def test_refused_status_change_shows_the_reason(login, ticket):
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    services.ticket_set_status(actor=None, ticket=ticket, status="closed")
    client = login("support")

    htmx = client.post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "open"}, headers=HTMX)
    page = client.post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "open"})

    for response in (htmx, page):
        assert response.status_code == 409
        assert 'data-testid="ticket-error"' in response.content.decode()
        assert "A ticket cannot go from closed to open" in response.content.decode()
    assert "<html" not in htmx.content.decode() and "<html" in page.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "closed"


def test_unknown_status_is_a_validation_error(login, ticket):
    client = login("support")

    htmx = client.post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "archived"}, headers=HTMX)
    page = client.post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "archived"})

    assert (htmx.status_code, page.status_code) == (422, 200)
    assert "status: must be one of" in htmx.content.decode()
    assert "status: must be one of" in page.content.decode()


def test_status_change_needs_post_and_sign_in(client, login, ticket):
    anonymous = client.post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "open"})
    as_get = login("support").get(reverse("service:ticket_status", args=[ticket.pk]))

    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("login"))
    assert as_get.status_code == 405


def test_forbidden_change_tells_htmx_why(login, ticket):
    response = login("analyst").post(
        reverse("service:ticket_status", args=[ticket.pk]), {"status": "open"}, headers=HTMX
    )

    assert response.status_code == 403
    assert "may%20not%20change%20tickets" in response["X-Cuore-Reason"]


# ---- assignment, priority and queue ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_assign_to_me_by_role(login, users, ticket, role):
    response = login(role).post(reverse("service:ticket_assign", args=[ticket.pk]), {"assignee": "me"}, headers=HTMX)

    ticket.refresh_from_db()
    if WRITE[role] == 1:
        assert response.status_code == 200
        assert ticket.assignee == users[role]
        assert AuditEntry.objects.get(action="ticket.update").changes["assignee"] == [None, users[role].pk]
    else:
        assert response.status_code == WRITE[role]
        assert ticket.assignee is None


def test_assign_to_a_colleague_and_back_to_nobody(login, users, ticket):
    client = login("support")

    to_manager = client.post(reverse("service:ticket_assign", args=[ticket.pk]), {"assignee": str(users["manager"].pk)})
    ticket.refresh_from_db()
    assigned = ticket.assignee
    to_nobody = client.post(reverse("service:ticket_assign", args=[ticket.pk]), {"assignee": ""}, headers=HTMX)
    ticket.refresh_from_db()

    assert to_manager.status_code == 302 and assigned == users["manager"]
    assert to_nobody.status_code == 200 and ticket.assignee is None
    assert "The ticket is unassigned." in to_nobody.content.decode()


def test_assign_to_someone_who_cannot_take_tickets_is_refused_beside_the_field(login, users, ticket):
    response = login("support").post(
        reverse("service:ticket_assign", args=[ticket.pk]), {"assignee": str(users["sales"].pk)}, headers=HTMX
    )

    html = response.content.decode()
    assert response.status_code == 422
    assert re.search(r'<select name="assignee" class="form-select form-select-sm is-invalid"', html)
    assert '<div class="invalid-feedback">Select a valid choice.' in html
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_priority_change_recomputes_the_sla(login, ticket):
    response = login("manager").post(
        reverse("service:ticket_update", args=[ticket.pk]), {"priority": "urgent", "queue": ""}, headers=HTMX
    )

    ticket.refresh_from_db()
    assert response.status_code == 200
    assert ticket.priority == "urgent" and ticket.first_response_due == START + dt.timedelta(minutes=15)
    assert "15 min left" in response.content.decode()
    changes = AuditEntry.objects.get(action="ticket.update").changes
    assert changes["priority"] == ["normal", "urgent"]


def test_queue_change(login, ticket, gold_queue):
    response = login("support").post(
        reverse("service:ticket_update", args=[ticket.pk]), {"priority": "normal", "queue": str(gold_queue.pk)}
    )

    ticket.refresh_from_db()
    assert response.status_code == 302
    assert ticket.queue == gold_queue and ticket.first_response_due == START + dt.timedelta(minutes=60)


def test_bad_priority_is_shown_beside_the_field(login, ticket):
    client = login("support")

    htmx = client.post(reverse("service:ticket_update", args=[ticket.pk]), {"priority": "asap"}, headers=HTMX)
    page = client.post(reverse("service:ticket_update", args=[ticket.pk]), {"priority": "asap"})

    assert (htmx.status_code, page.status_code) == (422, 200)
    for response in (htmx, page):
        assert re.search(
            r'<select name="priority" class="form-select form-select-sm is-invalid"', response.content.decode()
        )
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_change_of_a_closed_ticket_is_refused(login, ticket):
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    services.ticket_set_status(actor=None, ticket=ticket, status="closed")

    response = login("support").post(
        reverse("service:ticket_update", args=[ticket.pk]), {"priority": "high", "queue": ""}, headers=HTMX
    )

    assert response.status_code == 409
    assert "A closed ticket cannot be changed." in response.content.decode()


@pytest.mark.parametrize("role", ["analyst", "sales", "marketing"])
def test_priority_change_refused_to_readers_and_strangers(login, ticket, role):
    response = login(role).post(reverse("service:ticket_update", args=[ticket.pk]), {"priority": "high"})

    assert response.status_code == WRITE[role]
    ticket.refresh_from_db()
    assert ticket.priority == "normal"


def test_ticket_page_in_italian(login, users, ticket):
    users["support"].language = "it"
    users["support"].save(update_fields=["language"])

    html = login("support").get(reverse("service:ticket", args=[ticket.pk])).content.decode()

    assert "4 h 0 min rimanenti" in html
    assert "Segna come risolto" in html and ">Apri</button>" in html
    assert '<span class="badge text-bg-primary" data-testid="ticket-status-badge">Nuovo</span>' in html

    opened = login("support").post(reverse("service:ticket_status", args=[ticket.pk]), {"status": "open"}, headers=HTMX)

    # "Open" is "Aperta" for a deal: the ticket's own label keeps its gender.
    assert "Il ticket ora è Aperto." in opened.content.decode()
    assert 'data-testid="ticket-status-badge">Aperto</span>' in opened.content.decode()
