"""The dashboard's aggregations on tickets: how many in each status, and the SLA kept month by month."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.core.errors import NotFound
from cuore.service import selectors
from cuore.service.models import Ticket
from cuore.service.selectors import SlaMonth, StatusCount

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def people(make_user, team):
    return {
        role: make_user(role=role, team=team if role == "sales" else None)
        for role in ("admin", "manager", "sales", "support", "marketing", "analyst")
    }


def ticket(make_ticket, *, opened: dt.datetime, **times) -> Ticket:
    """A ticket opened at ``opened`` with exactly the SLA times given (the others empty)."""
    made = make_ticket()
    fields = {
        "created_at": opened,
        "first_response_due": None,
        "first_response_at": None,
        "resolution_due": None,
        "solved_at": None,
        **times,
    }
    Ticket.objects.filter(pk=made.pk).update(**fields)
    return made


# ---- tickets by status ---------------------------------------------------------------------------


def test_tickets_by_status_lists_every_status_in_workflow_order(make_ticket, people):
    for status, count in (("new", 2), ("pending", 1), ("closed", 3)):
        for _ in range(count):
            Ticket.objects.filter(pk=make_ticket().pk).update(status=status)

    with CaptureQueriesContext(connection) as queries:
        counts = selectors.tickets_by_status(actor=people["support"])

    assert counts == [
        StatusCount("new", "New", 2),
        StatusCount("open", "Open", 0),
        StatusCount("pending", "Pending", 1),
        StatusCount("solved", "Solved", 0),
        StatusCount("closed", "Closed", 3),
    ]
    assert len(queries) == 1
    assert selectors.tickets_by_status(actor=people["analyst"]) == counts
    assert selectors.tickets_by_status(actor=people["manager"]) == counts


@pytest.mark.parametrize("role", ["sales", "marketing"])
def test_tickets_by_status_is_not_for_roles_without_tickets(people, role):
    with pytest.raises(NotFound):
        selectors.tickets_by_status(actor=people[role])


# ---- SLA compliance by month ---------------------------------------------------------------------


def test_sla_compliance_counts_met_and_missed_targets_by_month_opened(make_ticket, people):
    march = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    due = march + 4 * HOUR
    # First response: in time (exactly at the due time), late, never given and past due.
    ticket(make_ticket, opened=march, first_response_due=due, first_response_at=due)
    ticket(make_ticket, opened=march, first_response_due=due, first_response_at=due + HOUR)
    ticket(make_ticket, opened=march, first_response_due=due)
    # Not due yet at NOW and not answered: no verdict.
    ticket(make_ticket, opened=march, first_response_due=NOW + HOUR)
    # No target at all: no verdict.
    ticket(make_ticket, opened=march)
    # Resolution: in time, late, still running past due, still running within target.
    ticket(make_ticket, opened=march, resolution_due=due, solved_at=due - HOUR)
    ticket(make_ticket, opened=march, resolution_due=due, solved_at=due + HOUR)
    ticket(make_ticket, opened=march, resolution_due=due)
    ticket(make_ticket, opened=march, resolution_due=NOW + HOUR)
    # January: one first response in time; one ticket too old to show.
    january = dt.datetime(2026, 1, 31, 23, 0, tzinfo=dt.UTC)
    ticket(make_ticket, opened=january, first_response_due=january + HOUR, first_response_at=january)
    ticket(make_ticket, opened=dt.datetime(2025, 3, 31, 23, 59, tzinfo=dt.UTC), first_response_due=due)

    with CaptureQueriesContext(connection) as queries:
        months = selectors.sla_compliance_by_month(actor=people["support"], now=NOW)

    assert len(queries) == 1
    assert len(months) == 12 and months[0].month == dt.date(2025, 4, 1)
    assert months[-1] == SlaMonth(
        month=dt.date(2026, 3, 1),
        tickets=9,
        first_response_measured=3,
        first_response_met=1,
        resolution_measured=3,
        resolution_met=1,
    )
    assert months[-1].first_response_rate == 33.3 and months[-1].resolution_rate == 33.3
    assert months[-3] == SlaMonth(dt.date(2026, 1, 1), 1, 1, 1, 0, 0)
    assert months[-3].first_response_rate == 100.0 and months[-3].resolution_rate is None
    assert months[-2] == SlaMonth(dt.date(2026, 2, 1), 0, 0, 0, 0, 0)
    assert months[-2].first_response_rate is None


def test_sla_compliance_does_not_depend_on_the_breach_flags(make_ticket, people):
    march = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    late = ticket(make_ticket, opened=march, first_response_due=march + HOUR)
    Ticket.objects.filter(pk=late.pk).update(first_response_breached=False)  # the job has not run yet

    march_line = selectors.sla_compliance_by_month(actor=people["admin"], now=NOW)[-1]

    assert (march_line.first_response_measured, march_line.first_response_met) == (1, 0)


@pytest.mark.parametrize("role", ["sales", "marketing"])
def test_sla_compliance_is_not_for_roles_without_tickets(people, role):
    with pytest.raises(NotFound):
        selectors.sla_compliance_by_month(actor=people[role], now=NOW)


def test_sla_compliance_costs_one_query_whatever_the_tickets(make_ticket, people):
    for day in range(1, 13):
        opened = dt.datetime(2025, day, 10, tzinfo=dt.UTC)
        ticket(make_ticket, opened=opened, first_response_due=opened + HOUR, first_response_at=opened)

    with CaptureQueriesContext(connection) as queries:
        months = selectors.sla_compliance_by_month(actor=people["analyst"], now=NOW)

    assert len(queries) == 1
    assert sum(month.first_response_met for month in months) == 9  # April to December 2025
