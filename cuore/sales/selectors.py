"""Reads on pipelines, deals and activities, scoped to what the actor may see; the forecast and the tasks due."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Prefetch, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cuore.contacts.models import Account, Contact
from cuore.contacts.selectors import account_visible, contact_visible
from cuore.core.errors import NotFound
from cuore.core.normalize import text_key
from cuore.core.pagination import prefix_q
from cuore.core.visibility import require_read, require_write, scope_queryset
from cuore.sales.models import Activity, Deal, DealStageChange, DealStatus, Pipeline, Stage

# ---- pipelines and stages ------------------------------------------------------------------------


def _with_stages(pipelines: QuerySet[Pipeline]) -> QuerySet[Pipeline]:
    return pipelines.prefetch_related(Prefetch("stages", queryset=Stage.objects.order_by("position", "id")))


def pipeline_list(*, actor: Any) -> QuerySet[Pipeline]:
    """Return every pipeline with its stages in order, if ``actor`` may see pipelines at all."""
    require_read(actor, "pipelines", "pipeline")
    return _with_stages(Pipeline.objects.all())


def pipeline_get_for_actor(*, actor: Any, pipeline_id: int) -> Pipeline:
    """Return the pipeline with its stages in order, or raise ``NotFound``."""
    require_read(actor, "pipelines", "pipeline")
    pipeline = _with_stages(Pipeline.objects.filter(pk=pipeline_id)).first()
    if pipeline is None:
        raise NotFound("pipeline")
    return pipeline


def pipeline_get_for_write(*, actor: Any, pipeline_id: int) -> Pipeline:
    """Return the pipeline ``actor`` is about to change: 404 if they cannot see it, 403 if they only read it."""
    pipeline = pipeline_get_for_actor(actor=actor, pipeline_id=pipeline_id)
    require_write(actor, "pipelines")
    return pipeline


def stage_get_for_actor(*, actor: Any, stage_id: int) -> Stage:
    """Return the stage with its pipeline, or raise ``NotFound``."""
    require_read(actor, "pipelines", "stage")
    stage = Stage.objects.select_related("pipeline").filter(pk=stage_id).first()
    if stage is None:
        raise NotFound("stage")
    return stage


def stage_get_for_write(*, actor: Any, stage_id: int) -> Stage:
    stage = stage_get_for_actor(actor=actor, stage_id=stage_id)
    require_write(actor, "pipelines")
    return stage


# ---- deals ---------------------------------------------------------------------------------------


def deal_visible(*, actor: Any) -> QuerySet[Deal]:
    """Every deal ``actor`` may see (owned by them or their team, under the TEAM scope), unordered."""
    return scope_queryset(Deal.objects.all(), actor=actor, resource="deals")


def deal_list(
    *,
    actor: Any,
    pipeline_id: int | None = None,
    stage_id: int | None = None,
    status: str | None = None,
    owner_id: int | None = None,
    team_id: int | None = None,
    contact_id: int | None = None,
    account_id: int | None = None,
    q: str | None = None,
    expected_close_from: dt.date | None = None,
    expected_close_to: dt.date | None = None,
) -> QuerySet[Deal]:
    """Return the deals ``actor`` may see that match the filters, with their stage.

    ``q`` matches the start of the name, whatever the case and accents; the expected close range is inclusive.
    """
    require_read(actor, "deals", "deal")
    deals = deal_visible(actor=actor).select_related("stage")
    exact = {
        "pipeline_id": pipeline_id,
        "stage_id": stage_id,
        "status": status,
        "owner_id": owner_id,
        "team_id": team_id,
        "contact_id": contact_id,
        "account_id": account_id,
        "expected_close__gte": expected_close_from,
        "expected_close__lte": expected_close_to,
    }
    deals = deals.filter(**{name: value for name, value in exact.items() if value is not None})
    if q is not None and q.strip():
        key = text_key(q)
        deals = deals.filter(prefix_q("name_key", key)) if key else deals.none()
    return deals


def deal_get_for_actor(*, actor: Any, deal_id: int) -> Deal:
    """Return the deal with its stage, or raise ``NotFound`` if it does not exist or ``actor`` may not see it."""
    require_read(actor, "deals", "deal")
    deal = deal_visible(actor=actor).select_related("stage").filter(pk=deal_id).first()
    if deal is None:
        raise NotFound("deal")
    return deal


def deal_get_for_write(*, actor: Any, deal_id: int) -> Deal:
    """Return the deal ``actor`` is about to change: 404 if they cannot see it, 403 if they only read it."""
    deal = deal_get_for_actor(actor=actor, deal_id=deal_id)
    require_write(actor, "deals")
    return deal


def contact_for_link(*, actor: Any, contact_id: int) -> Contact:
    """Return a contact ``actor`` may see, to link a deal or an activity to; raise ``NotFound`` otherwise."""
    contact = contact_visible(actor=actor).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("contact")
    return contact


def account_for_link(*, actor: Any, account_id: int) -> Account:
    """Return an account ``actor`` may see, to link a deal or an activity to; raise ``NotFound`` otherwise."""
    account = account_visible(actor=actor).filter(pk=account_id).first()
    if account is None:
        raise NotFound("account")
    return account


def deal_history(*, deal: Deal) -> QuerySet[DealStageChange]:
    """Return the stage and status changes of a deal already fetched for the actor, with both stages."""
    return DealStageChange.objects.filter(deal=deal).select_related("from_stage", "to_stage")


# ---- activities ----------------------------------------------------------------------------------


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value, dt.UTC)
    return value


def activity_visible(*, actor: Any) -> QuerySet[Activity]:
    """Every activity ``actor`` may see (assigned to them or their team, under the TEAM scope), unordered."""
    return scope_queryset(Activity.objects.all(), actor=actor, resource="activities", owner_paths=("assignee",))


def activity_list(
    *,
    actor: Any,
    assignee_id: int | None = None,
    team_id: int | None = None,
    done: bool | None = None,
    due_before: dt.datetime | None = None,
    due_after: dt.datetime | None = None,
    contact_id: int | None = None,
    account_id: int | None = None,
    deal_id: int | None = None,
    kind: str | None = None,
) -> QuerySet[Activity]:
    """Return the activities ``actor`` may see that match the filters.

    ``due_after`` is inclusive and ``due_before`` exclusive, so that consecutive ranges do not overlap;
    a time without a zone is read as UTC.
    """
    require_read(actor, "activities", "activity")
    exact = {
        "assignee_id": assignee_id,
        "team_id": team_id,
        "done": done,
        "due_at__gte": _utc(due_after),
        "due_at__lt": _utc(due_before),
        "contact_id": contact_id,
        "account_id": account_id,
        "deal_id": deal_id,
        "kind": kind,
    }
    return activity_visible(actor=actor).filter(**{name: value for name, value in exact.items() if value is not None})


def activity_get_for_actor(*, actor: Any, activity_id: int) -> Activity:
    """Return the activity, or raise ``NotFound`` if it does not exist or ``actor`` may not see it."""
    require_read(actor, "activities", "activity")
    activity = activity_visible(actor=actor).filter(pk=activity_id).first()
    if activity is None:
        raise NotFound("activity")
    return activity


def activity_get_for_write(*, actor: Any, activity_id: int) -> Activity:
    """Return the activity ``actor`` is about to change: 404 if they cannot see it, 403 if they only read it."""
    activity = activity_get_for_actor(actor=actor, activity_id=activity_id)
    require_write(actor, "activities")
    return activity


def tasks_due(*, actor: Any, day: dt.date) -> QuerySet[Activity]:
    """Return the open activities assigned to ``actor`` that are due by the end of ``day`` (overdue ones too).

    The day ends at midnight in the current time zone (UTC unless the request activated another).
    """
    require_read(actor, "activities", "activity")
    day_end = timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))
    return Activity.objects.filter(assignee=actor, done=False, due_at__lt=day_end)


# ---- forecast ------------------------------------------------------------------------------------

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class ForecastLine:
    """The open deals of one month of expected close (``None``: no date) in one currency, or of a whole currency."""

    month: dt.date | None
    currency: str
    deals: int
    amount: Decimal
    weighted_amount: Decimal


@dataclass(frozen=True)
class Forecast:
    months: list[ForecastLine]
    totals: list[ForecastLine]


def _line(month: dt.date | None, currency: str, sums: list[Any]) -> ForecastLine:
    count, amount, weighted = sums
    return ForecastLine(
        month=month,
        currency=currency,
        deals=count,
        amount=amount,
        weighted_amount=weighted.quantize(_CENT, rounding=ROUND_HALF_UP),
    )


def forecast(*, actor: Any, pipeline_id: int | None = None) -> Forecast:
    """Return the open deals ``actor`` may see, summed by month of expected close and currency.

    ``amount`` is the plain sum of the deals' amounts; ``weighted_amount`` weighs each deal by the win
    probability of its stage (amount × probability / 100), rounded half up to the cent once per line.
    Months come in order, the deals with no expected close date last; amounts in different currencies
    are never added up, so there is one line (and one total) per currency.
    """
    require_read(actor, "deals", "deal")
    deals = deal_visible(actor=actor).filter(status=DealStatus.OPEN)
    if pipeline_id is not None:
        deals = deals.filter(pipeline_id=pipeline_id)
    # Sum per stage probability in the database, weigh in Python: exact Decimal arithmetic on both backends.
    rows = (
        deals.annotate(month=TruncMonth("expected_close"))
        .values("month", "currency", "stage__probability")
        .annotate(deals=Count("id"), amount=Sum("amount"))
        .order_by()
    )

    def zero() -> list[Any]:
        return [0, Decimal("0.00"), Decimal("0")]

    months: dict[tuple[dt.date | None, str], list[Any]] = defaultdict(zero)
    totals: dict[str, list[Any]] = defaultdict(zero)
    for row in rows:
        amount = Decimal(row["amount"]).quantize(_CENT)
        weighted = amount * row["stage__probability"] / 100
        for sums in (months[(row["month"], row["currency"])], totals[row["currency"]]):
            sums[0] += row["deals"]
            sums[1] += amount
            sums[2] += weighted
    ordered = sorted(months, key=lambda key: (key[0] is None, key[0] or dt.date.min, key[1]))
    return Forecast(
        months=[_line(month, currency, months[(month, currency)]) for month, currency in ordered],
        totals=[_line(None, currency, totals[currency]) for currency in sorted(totals)],
    )
