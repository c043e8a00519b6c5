"""Selectors of the sales app: visibility, filters, the forecast and the tasks due."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.errors import NotFound
from cuore.sales import selectors
from cuore.sales.selectors import ForecastLine
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


@pytest.fixture
def people(make_user, team, other_team):
    return {
        "rep": make_user(role="sales", team=team, username="rep"),
        "teammate": make_user(role="sales", team=team, username="teammate"),
        "stranger": make_user(role="sales", team=other_team, username="stranger"),
        "loner": make_user(role="sales", username="loner"),
        "manager": make_user(role="manager", username="manager"),
        "support": make_user(role="support", username="support"),
    }


def names(queryset) -> set[str]:
    return {getattr(row, "name", None) or row.subject for row in queryset}


def test_deal_visibility_follows_owner_and_team(pipeline, people, team, other_team):
    lead = stage_of(pipeline, "Lead")
    make_deal(stage=lead, name="mine", owner=people["rep"])
    make_deal(stage=lead, name="teammate's", owner=people["teammate"])
    make_deal(stage=lead, name="team's, no owner", team=team)
    make_deal(stage=lead, name="mine in another team", owner=people["rep"], team=other_team)
    make_deal(stage=lead, name="stranger's", owner=people["stranger"])
    make_deal(stage=lead, name="nobody's")

    assert names(selectors.deal_list(actor=people["rep"])) == {
        "mine",
        "teammate's",
        "team's, no owner",
        "mine in another team",
    }
    assert names(selectors.deal_list(actor=people["stranger"])) == {"stranger's", "mine in another team"}
    assert names(selectors.deal_list(actor=people["loner"])) == set()
    assert len(selectors.deal_list(actor=people["manager"])) == 6
    with pytest.raises(NotFound):
        selectors.deal_list(actor=people["support"])


def test_deal_get_for_actor_hides_what_is_out_of_scope(pipeline, people):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["stranger"])

    assert selectors.deal_get_for_actor(actor=people["manager"], deal_id=deal.id) == deal
    for who in ("rep", "support"):
        with pytest.raises(NotFound):
            selectors.deal_get_for_actor(actor=people[who], deal_id=deal.id)
    with pytest.raises(NotFound):
        selectors.deal_get_for_actor(actor=people["manager"], deal_id=deal.id + 1)


def test_deal_list_filters(pipeline, people, team):
    rep, teammate = people["rep"], people["teammate"]
    other = make_pipeline(name="Renewals", stages=(("Due", 60),))
    contact, account = make_contact(owner=rep), make_account(owner=rep)
    a = make_deal(stage=stage_of(pipeline, "Lead"), name="Acme renewal", owner=rep, expected_close=dt.date(2026, 3, 1))
    b = make_deal(stage=stage_of(pipeline, "Proposal"), name="Énergia Srl", owner=teammate, contact=contact)
    c = make_deal(stage=stage_of(other, "Due"), name="acme extension", owner=rep, status="won", account=account)
    d = make_deal(stage=stage_of(pipeline, "Lead"), name="Zeta", owner=rep, expected_close=dt.date(2026, 4, 30))

    def ids(**filters):
        return {deal.id for deal in selectors.deal_list(actor=people["manager"], **filters)}

    assert ids(pipeline_id=other.id) == {c.id}
    assert ids(stage_id=stage_of(pipeline, "Lead").id) == {a.id, d.id}
    assert ids(status="won") == {c.id}
    assert ids(owner_id=teammate.id) == {b.id}
    assert ids(team_id=team.id) == {a.id, b.id, c.id, d.id}
    assert ids(contact_id=contact.id) == {b.id}
    assert ids(account_id=account.id) == {c.id}
    assert ids(q="acme") == {a.id, c.id}
    assert ids(q="ACME REN") == {a.id}
    assert ids(q="ener") == {b.id}
    assert ids(q="cme") == set()
    assert ids(q="!!") == set()
    assert ids(q="  ") == {a.id, b.id, c.id, d.id}
    assert ids(expected_close_from=dt.date(2026, 3, 1)) == {a.id, d.id}
    assert ids(expected_close_from=dt.date(2026, 3, 2), expected_close_to=dt.date(2026, 4, 30)) == {d.id}
    assert ids(expected_close_to=dt.date(2026, 3, 1)) == {a.id}
    assert ids(status="open", owner_id=rep.id) == {a.id, d.id}


def test_pipelines_are_configuration_read_by_sales_hidden_from_support(pipeline, people):
    assert list(selectors.pipeline_list(actor=people["rep"])) == [pipeline]
    assert selectors.stage_get_for_actor(actor=people["rep"], stage_id=stage_of(pipeline, "Lead").id).name == "Lead"
    with pytest.raises(NotFound):
        selectors.pipeline_list(actor=people["support"])
    with pytest.raises(NotFound):
        selectors.pipeline_get_for_actor(actor=people["support"], pipeline_id=pipeline.id)


def test_activity_visibility_follows_assignee_and_team(people, team):
    make_activity(subject="mine", assignee=people["rep"])
    make_activity(subject="teammate's", assignee=people["teammate"])
    make_activity(subject="team's", team=team)
    make_activity(subject="stranger's", assignee=people["stranger"])
    make_activity(subject="support's", assignee=people["support"])

    assert names(selectors.activity_list(actor=people["rep"])) == {"mine", "teammate's", "team's"}
    assert names(selectors.activity_list(actor=people["support"])) == {"support's"}
    assert len(selectors.activity_list(actor=people["manager"])) == 5


def test_activity_list_filters(pipeline, people, team):
    rep, teammate = people["rep"], people["teammate"]
    contact, account = make_contact(owner=rep), make_account(owner=rep)
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)
    at = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    a = make_activity(subject="call", kind="call", assignee=rep, due_at=at, contact=contact)
    b = make_activity(subject="meeting", kind="meeting", assignee=teammate, due_at=at + dt.timedelta(days=1), deal=deal)
    c = make_activity(subject="done", assignee=rep, done=True, account=account)

    def ids(**filters):
        return {activity.id for activity in selectors.activity_list(actor=rep, **filters)}

    assert ids(assignee_id=teammate.id) == {b.id}
    assert ids(team_id=team.id) == {a.id, b.id, c.id}
    assert ids(done=True) == {c.id}
    assert ids(done=False) == {a.id, b.id}
    assert ids(due_after=at) == {a.id, b.id}
    assert ids(due_after=at + dt.timedelta(seconds=1)) == {b.id}
    assert ids(due_before=at + dt.timedelta(days=1)) == {a.id}
    assert ids(due_before=dt.datetime(2026, 3, 2, 9, 0, 1)) == {a.id}
    assert ids(contact_id=contact.id) == {a.id}
    assert ids(account_id=account.id) == {c.id}
    assert ids(deal_id=deal.id) == {b.id}
    assert ids(kind="meeting") == {b.id}


def test_tasks_due_are_the_actors_open_activities_due_by_the_end_of_the_day(people):
    rep = people["rep"]
    day = dt.date(2026, 3, 2)
    overdue = make_activity(assignee=rep, due_at=dt.datetime(2026, 2, 20, 8, 0, tzinfo=dt.UTC))
    late_today = make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 2, 23, 59, 59, tzinfo=dt.UTC))
    make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 3, 0, 0, tzinfo=dt.UTC))
    make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC), done=True)
    make_activity(assignee=rep)
    make_activity(assignee=people["teammate"], due_at=dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC))

    tasks = selectors.tasks_due(actor=rep, day=day).order_by("due_at", "id")

    assert list(tasks) == [overdue, late_today]


def test_forecast_weighs_open_deals_by_stage_probability_per_month_and_currency(pipeline, people):
    rep = people["rep"]
    lead, proposal, negotiation = (stage_of(pipeline, name) for name in ("Lead", "Proposal", "Negotiation"))
    march, april = dt.date(2026, 3, 5), dt.date(2026, 4, 30)
    make_deal(stage=lead, owner=rep, amount="1000.00", expected_close=march)  # 10% → 100.00
    make_deal(stage=proposal, owner=rep, amount="333.33", expected_close=dt.date(2026, 3, 31))  # 50% → 166.665
    make_deal(stage=negotiation, owner=rep, amount="2500.10", expected_close=april)  # 80% → 2000.08
    make_deal(stage=proposal, owner=rep, amount="400.00", expected_close=april, currency="USD")  # 50% → 200.00
    make_deal(stage=negotiation, owner=rep, amount="50.00")  # 80% → 40.00, no date
    make_deal(stage=negotiation, owner=rep, amount="9999.00", expected_close=march, status="won")
    make_deal(stage=negotiation, owner=rep, amount="8888.00", expected_close=march, status="lost")
    make_deal(stage=negotiation, owner=people["stranger"], amount="7777.00", expected_close=march)

    result = selectors.forecast(actor=rep)

    assert result.months == [
        ForecastLine(dt.date(2026, 3, 1), "EUR", 2, Decimal("1333.33"), Decimal("266.67")),
        ForecastLine(dt.date(2026, 4, 1), "EUR", 1, Decimal("2500.10"), Decimal("2000.08")),
        ForecastLine(dt.date(2026, 4, 1), "USD", 1, Decimal("400.00"), Decimal("200.00")),
        ForecastLine(None, "EUR", 1, Decimal("50.00"), Decimal("40.00")),
    ]
    assert result.totals == [
        ForecastLine(None, "EUR", 4, Decimal("3883.43"), Decimal("2306.75")),
        ForecastLine(None, "USD", 1, Decimal("400.00"), Decimal("200.00")),
    ]
    everyone = selectors.forecast(actor=people["manager"])
    assert everyone.months[0] == ForecastLine(dt.date(2026, 3, 1), "EUR", 3, Decimal("9110.33"), Decimal("6488.27"))


def test_forecast_of_one_pipeline(pipeline, people):
    other = make_pipeline(name="Renewals", stages=(("Due", 25),))
    make_deal(
        stage=stage_of(pipeline, "Lead"), owner=people["rep"], amount="100.00", expected_close=dt.date(2026, 1, 9)
    )
    make_deal(stage=stage_of(other, "Due"), owner=people["rep"], amount="100.00", expected_close=dt.date(2026, 1, 9))

    result = selectors.forecast(actor=people["rep"], pipeline_id=other.id)

    assert result.months == [ForecastLine(dt.date(2026, 1, 1), "EUR", 1, Decimal("100.00"), Decimal("25.00"))]
    assert selectors.forecast(actor=people["loner"]).months == []
    with pytest.raises(NotFound):
        selectors.forecast(actor=people["support"])
