"""The dashboard's aggregations on contacts: new contacts per month, and the month helpers behind every chart."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cuore.contacts import selectors
from cuore.contacts.models import Contact
from cuore.contacts.selectors import MonthCount
from cuore.contacts.tests.factories import make_contact
from cuore.core import months as months_lib
from cuore.core.errors import NotFound

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.UTC)
ROME = zoneinfo.ZoneInfo("Europe/Rome")


def created(when: dt.datetime, **fields) -> Contact:
    contact = make_contact(**fields)
    Contact.objects.filter(pk=contact.pk).update(created_at=when)
    return contact


def at(year: int, month: int, day: int = 1, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def test_recent_month_starts_run_oldest_first_to_the_current_month_across_a_year_end():
    months = months_lib.recent_month_starts(months=12, now=NOW)

    assert months[0] == dt.date(2025, 4, 1)
    assert months[-1] == dt.date(2026, 3, 1)
    assert len(months) == 12
    assert months[8:] == [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]


def test_recent_month_starts_follow_the_current_time_zone():
    # 23:30 UTC on 31 January is already February in Rome.
    late = at(2026, 1, 31, 23, 30)

    assert months_lib.recent_month_starts(months=1, now=late) == [dt.date(2026, 1, 1)]
    with timezone.override(ROME):
        assert months_lib.recent_month_starts(months=1, now=late) == [dt.date(2026, 2, 1)]


def test_aggregate_by_month_counts_each_half_open_month_range_in_one_query():
    created(at(2026, 1, 1))  # the first instant of January
    created(at(2026, 1, 31, 23, 59))
    created(at(2026, 2, 1))  # the first instant of February, not January
    created(at(2025, 12, 31, 23, 59))  # before the months asked for
    months = [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]

    with CaptureQueriesContext(connection) as queries:
        rows = months_lib.aggregate_by_month(Contact.objects.all(), field="created_at", months=months, n=Count("id"))

    assert {month: row["n"] for month, row in rows.items()} == {dt.date(2026, 1, 1): 2, dt.date(2026, 2, 1): 1}
    assert len(queries) == 1
    assert months_lib.aggregate_by_month(Contact.objects.all(), field="created_at", months=[], n=Count("id")) == {}


def test_new_contacts_by_month_over_the_last_twelve_months(make_user):
    admin = make_user(role="admin")
    created(at(2026, 3, 10))
    created(at(2026, 3, 1))
    created(at(2026, 1, 20))
    created(at(2025, 4, 1))  # the oldest month shown
    created(at(2025, 3, 31, 23, 59))  # one minute too old

    months = selectors.contacts_created_by_month(actor=admin, now=NOW)

    assert len(months) == 12
    assert months[0] == MonthCount(month=dt.date(2025, 4, 1), count=1)
    assert months[-1] == MonthCount(month=dt.date(2026, 3, 1), count=2)
    assert months[-3] == MonthCount(month=dt.date(2026, 1, 1), count=1)
    assert sum(month.count for month in months) == 4
    assert [month.count for month in months[1:9]] == [0] * 8


def test_new_contacts_by_month_count_in_the_current_time_zone(make_user):
    admin = make_user(role="admin")
    created(at(2026, 2, 28, 23, 30))  # 00:30 on 1 March in Rome

    utc = selectors.contacts_created_by_month(actor=admin, months=2, now=NOW)
    with timezone.override(ROME):
        rome = selectors.contacts_created_by_month(actor=admin, months=2, now=NOW)

    assert [m.count for m in utc] == [1, 0]
    assert [m.count for m in rome] == [0, 1]


def test_new_contacts_by_month_only_count_what_the_actor_may_see(make_user, team, other_team):
    rep = make_user(role="sales", team=team)
    teammate = make_user(role="sales", team=team)
    stranger = make_user(role="sales", team=other_team)
    marketing = make_user(role="marketing")
    created(at(2026, 3, 2), owner=rep)
    created(at(2026, 3, 3), owner=teammate)
    created(at(2026, 3, 4), team=team)
    created(at(2026, 3, 5), owner=stranger)
    created(at(2026, 3, 6))

    def this_month(actor) -> int:
        return selectors.contacts_created_by_month(actor=actor, now=NOW)[-1].count

    assert this_month(rep) == 3
    assert this_month(stranger) == 1
    assert this_month(marketing) == 5


def test_new_contacts_by_month_cost_one_query_whatever_the_rows(make_user):
    admin = make_user(role="admin")
    for day in range(1, 20):
        created(at(2026, 3, day))
        created(at(2025, 6 + day % 6, day))

    with CaptureQueriesContext(connection) as queries:
        selectors.contacts_created_by_month(actor=admin, now=NOW)

    assert len(queries) == 1


def test_an_inactive_user_gets_no_figures(make_user):
    ghost = make_user(role="admin")
    ghost.is_active = False

    with pytest.raises(NotFound):
        selectors.contacts_created_by_month(actor=ghost, now=NOW)
