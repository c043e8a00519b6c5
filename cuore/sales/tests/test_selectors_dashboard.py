"""The dashboard's aggregations on sales: the pipeline by stage, the revenue won by month, the tasks due today."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.core.errors import NotFound
from cuore.sales import selectors
from cuore.sales.models import Deal, DealStatus
from cuore.sales.selectors import RevenueMonth, StageTotal, TasksDueCount
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 15, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


@pytest.fixture
def people(make_user, team, other_team):
    return {
        "rep": make_user(role="sales", team=team, username="rep"),
        "teammate": make_user(role="sales", team=team, username="teammate"),
        "stranger": make_user(role="sales", team=other_team, username="stranger"),
        "manager": make_user(role="manager", username="manager"),
        "analyst": make_user(role="analyst", username="analyst"),
        "support": make_user(role="support", username="support"),
        "marketing": make_user(role="marketing", username="marketing"),
    }


def won(stage, *, closed: dt.datetime, **fields) -> Deal:
    deal = make_deal(stage=stage, status=DealStatus.WON, **fields)
    Deal.objects.filter(pk=deal.pk).update(closed_at=closed)
    return deal


# ---- pipeline by stage ---------------------------------------------------------------------------


def test_pipeline_by_stage_sums_the_open_deals_of_each_stage_per_currency(pipeline, people):
    lead, proposal = stage_of(pipeline, "Lead"), stage_of(pipeline, "Proposal")
    make_deal(stage=lead, amount="1000.00", owner=people["rep"])
    make_deal(stage=lead, amount="500.50", owner=people["rep"])
    make_deal(stage=proposal, amount="333.33", owner=people["rep"])
    make_deal(stage=proposal, amount="200.00", currency="USD", owner=people["rep"])
    make_deal(stage=proposal, amount="9999.00", status=DealStatus.WON, owner=people["rep"])
    make_deal(stage=proposal, amount="8888.00", status=DealStatus.LOST, owner=people["rep"])

    summary = selectors.pipeline_by_stage(actor=people["manager"])

    assert summary.pipeline_id == pipeline.pk and summary.pipeline_name == "Sales"
    assert [stage.name for stage in summary.stages] == ["Lead", "Proposal", "Negotiation"]
    lead_line, proposal_line, negotiation_line = summary.stages
    assert lead_line.totals == [StageTotal("EUR", 2, Decimal("1500.50"), Decimal("150.05"))]
    # 333.33 × 50% = 166.665, rounded half up.
    assert proposal_line.totals == [
        StageTotal("EUR", 1, Decimal("333.33"), Decimal("166.67")),
        StageTotal("USD", 1, Decimal("200.00"), Decimal("100.00")),
    ]
    assert negotiation_line.totals == [] and negotiation_line.deals == 0
    assert summary.deals == 4
    assert summary.currencies == ["EUR", "USD"]
    assert summary.totals() == [
        StageTotal("EUR", 3, Decimal("1833.83"), Decimal("316.72")),
        StageTotal("USD", 1, Decimal("200.00"), Decimal("100.00")),
    ]


def test_pipeline_by_stage_shows_a_sales_rep_their_teams_deals_only(pipeline, people, team):
    lead = stage_of(pipeline, "Lead")
    make_deal(stage=lead, amount="100.00", owner=people["rep"])
    make_deal(stage=lead, amount="200.00", owner=people["teammate"])
    make_deal(stage=lead, amount="400.00", team=team)
    make_deal(stage=lead, amount="800.00", owner=people["stranger"])
    make_deal(stage=lead, amount="1600.00")

    def amount(actor) -> Decimal:
        return sum((total.amount for total in selectors.pipeline_by_stage(actor=actor).totals()), Decimal(0))

    assert amount(people["rep"]) == Decimal("700.00")
    assert amount(people["stranger"]) == Decimal("800.00")
    assert amount(people["manager"]) == Decimal("3100.00")
    assert amount(people["analyst"]) == Decimal("3100.00")


def test_pipeline_by_stage_picks_the_chosen_pipeline_or_the_default(pipeline, people):
    other = make_pipeline(name="Renewals", stages=(("Due", 30), ("Signed", 90)))
    make_deal(stage=stage_of(other, "Due"), amount="70.00")
    make_deal(stage=stage_of(pipeline, "Lead"), amount="10.00")

    default = selectors.pipeline_by_stage(actor=people["manager"])
    chosen = selectors.pipeline_by_stage(actor=people["manager"], pipeline_id=other.pk)

    assert default.pipeline_name == "Sales" and default.totals()[0].amount == Decimal("10.00")
    assert chosen.pipeline_name == "Renewals" and [s.name for s in chosen.stages] == ["Due", "Signed"]
    assert chosen.totals()[0].amount == Decimal("70.00")
    assert chosen.choices == [(other.pk, "Renewals"), (pipeline.pk, "Sales")]
    with pytest.raises(NotFound):
        selectors.pipeline_by_stage(actor=people["manager"], pipeline_id=other.pk + pipeline.pk + 100)


def test_pipeline_by_stage_without_a_default_takes_the_first_by_name_and_without_any_is_empty(people):
    assert selectors.pipeline_by_stage(actor=people["manager"]).stages == []
    make_pipeline(name="Zeta")
    make_pipeline(name="Alpha")

    assert selectors.pipeline_by_stage(actor=people["manager"]).pipeline_name == "Alpha"


@pytest.mark.parametrize("role", ["support", "marketing"])
def test_pipeline_by_stage_is_not_for_roles_without_deals(pipeline, people, role):
    with pytest.raises(NotFound):
        selectors.pipeline_by_stage(actor=people[role])


def test_pipeline_by_stage_costs_three_queries_whatever_the_deals(pipeline, people):
    for stage in pipeline.stages.all():
        for currency in ("EUR", "USD", "GBP"):
            make_deal(stage=stage, currency=currency, owner=people["rep"])

    with CaptureQueriesContext(connection) as queries:
        selectors.pipeline_by_stage(actor=people["rep"])

    assert len(queries) == 3


# ---- revenue won by month ------------------------------------------------------------------------


def test_revenue_won_by_month_sums_the_won_deals_per_month_and_currency(pipeline, people):
    stage = stage_of(pipeline, "Negotiation")
    won(stage, closed=dt.datetime(2026, 3, 1, 0, 0, tzinfo=dt.UTC), amount="100.00")
    won(stage, closed=dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.UTC), amount="50.25")
    won(stage, closed=dt.datetime(2026, 1, 31, 23, 59, tzinfo=dt.UTC), amount="70.00", currency="USD")
    won(stage, closed=dt.datetime(2025, 4, 1, 0, 0, tzinfo=dt.UTC), amount="1.00")  # the oldest month shown
    won(stage, closed=dt.datetime(2025, 3, 31, 23, 59, tzinfo=dt.UTC), amount="1000.00")  # too old
    make_deal(stage=stage, amount="5000.00")  # open
    lost = make_deal(stage=stage, amount="6000.00", status=DealStatus.LOST)
    Deal.objects.filter(pk=lost.pk).update(closed_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))

    lines = selectors.revenue_won_by_month(actor=people["manager"], now=NOW)

    assert len(lines) == 24  # 12 months × 2 currencies, zeros included
    assert lines[0] == RevenueMonth(dt.date(2025, 4, 1), "EUR", 1, Decimal("1.00"))
    assert lines[1] == RevenueMonth(dt.date(2025, 4, 1), "USD", 0, Decimal("0.00"))
    assert lines[-2:] == [
        RevenueMonth(dt.date(2026, 3, 1), "EUR", 2, Decimal("150.25")),
        RevenueMonth(dt.date(2026, 3, 1), "USD", 0, Decimal("0.00")),
    ]
    assert RevenueMonth(dt.date(2026, 1, 1), "USD", 1, Decimal("70.00")) in lines
    assert sum(line.amount for line in lines) == Decimal("221.25")


def test_revenue_won_by_month_is_empty_without_won_deals(pipeline, people):
    make_deal(stage=stage_of(pipeline, "Lead"))

    assert selectors.revenue_won_by_month(actor=people["manager"], now=NOW) == []


def test_revenue_won_by_month_shows_a_sales_rep_their_teams_deals_only(pipeline, people):
    stage = stage_of(pipeline, "Negotiation")
    closed = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    won(stage, closed=closed, amount="10.00", owner=people["rep"])
    won(stage, closed=closed, amount="20.00", owner=people["teammate"])
    won(stage, closed=closed, amount="40.00", owner=people["stranger"])

    def total(actor) -> Decimal:
        return sum((line.amount for line in selectors.revenue_won_by_month(actor=actor, now=NOW)), Decimal(0))

    assert total(people["rep"]) == Decimal("30.00")
    assert total(people["stranger"]) == Decimal("40.00")
    assert total(people["analyst"]) == Decimal("70.00")
    with pytest.raises(NotFound):
        selectors.revenue_won_by_month(actor=people["support"], now=NOW)


def test_revenue_won_by_month_costs_one_query(pipeline, people):
    stage = stage_of(pipeline, "Negotiation")
    for day in range(1, 15):
        won(stage, closed=dt.datetime(2026, 1 + day % 3, day, tzinfo=dt.UTC), currency=("EUR", "USD")[day % 2])

    with CaptureQueriesContext(connection) as queries:
        selectors.revenue_won_by_month(actor=people["rep"], now=NOW)

    assert len(queries) == 1


# ---- tasks due today -----------------------------------------------------------------------------


def test_tasks_due_count_counts_the_actors_open_tasks_due_by_tonight_and_the_overdue_ones(people):
    day = dt.date(2026, 3, 15)
    rep = people["rep"]
    make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 15, 9, 0, tzinfo=dt.UTC))
    make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 15, 23, 59, tzinfo=dt.UTC))
    make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC))  # overdue
    make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 16, 0, 0, tzinfo=dt.UTC))  # tomorrow
    make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 15, 9, 0, tzinfo=dt.UTC), done=True)
    make_activity(assignee=rep)  # no due date
    make_activity(assignee=people["teammate"], due_at=dt.datetime(2026, 3, 15, 9, 0, tzinfo=dt.UTC))

    with CaptureQueriesContext(connection) as queries:
        counts = selectors.tasks_due_count(actor=rep, day=day)

    assert counts == TasksDueCount(due=3, overdue=1)
    assert len(queries) == 1
    assert selectors.tasks_due_count(actor=people["manager"], day=day) == TasksDueCount(due=0, overdue=0)
