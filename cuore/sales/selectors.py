"""Reads on pipelines, deals and activities, scoped to what the actor may see; the forecast and the tasks due."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from cuore.contacts.models import Account, Contact
from cuore.contacts.selectors import account_visible, contact_visible
from cuore.core.errors import NotFound
from cuore.core.months import month_of, month_start_time, recent_month_starts
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
    return scope_queryset(Deal.objects.all(), actor=actor, resource="deals", through_index=False)


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


# ---- the board -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageTotal:
    """The open deals of one stage in one currency: how many, their amount, and the amount weighted by the stage."""

    currency: str
    deals: int
    amount: Decimal
    weighted_amount: Decimal


@dataclass(frozen=True)
class BoardColumn:
    """One stage of the board: its newest open deals (at most the board's cap) and the totals of all of them."""

    stage: Stage
    deals: list[Deal]
    totals: list[StageTotal]

    @property
    def count(self) -> int:
        return sum(total.deals for total in self.totals)

    @property
    def has_more(self) -> bool:
        return self.count > len(self.deals)


def deal_stage_totals(*, actor: Any, stages: list[Stage]) -> dict[int, list[StageTotal]]:
    """Return, for each of ``stages``, the open deals ``actor`` may see summed per currency (one query).

    The weighted amount is the amount × the stage's win probability / 100, rounded half up to the cent.
    """
    require_read(actor, "deals", "deal")
    by_id = {stage.pk: stage for stage in stages}
    rows = (
        deal_visible(actor=actor)
        .filter(stage_id__in=list(by_id), status=DealStatus.OPEN)
        .values("stage_id", "currency")
        .annotate(deals=Count("id"), amount=Sum("amount"))
        .order_by("stage_id", "currency")
    )
    totals: dict[int, list[StageTotal]] = {pk: [] for pk in by_id}
    for row in rows:
        amount = Decimal(row["amount"]).quantize(_CENT)
        weighted = (amount * by_id[row["stage_id"]].probability / 100).quantize(_CENT, rounding=ROUND_HALF_UP)
        totals[row["stage_id"]].append(
            StageTotal(currency=row["currency"], deals=row["deals"], amount=amount, weighted_amount=weighted)
        )
    return totals


def deal_board(*, actor: Any, pipeline: Pipeline, per_stage: int = 50) -> list[BoardColumn]:
    """Return the Kanban board of ``pipeline``: per stage, in order, its newest open deals ``actor`` may see.

    Each column holds at most ``per_stage`` deals (newest first, with their owner) and the totals of all
    the open deals of its stage. Two queries whatever the number of stages and deals (one more when the
    pipeline's stages were not prefetched).
    """
    require_read(actor, "deals", "deal")
    stages = sorted(pipeline.stages.all(), key=lambda stage: (stage.position, stage.pk))
    newest_first = ("-created_at", "-id")
    # Each column's newest deals come from its own range of deal_stage_newest_idx (stage, status, newest
    # first); ranking all the pipeline's open deals instead read every one of them (~280 ms at 1M).
    visible = deal_visible(actor=actor)
    columns = Q()
    for stage in stages:
        newest = visible.filter(stage=stage, status=DealStatus.OPEN).order_by(*newest_first)
        columns |= Q(pk__in=newest.values("pk")[:per_stage])
    ranked = (
        Deal.objects.filter(columns, pipeline=pipeline).select_related("owner").order_by(*newest_first)
        if stages
        else Deal.objects.none()
    )
    by_id = {stage.pk: stage for stage in stages}
    cards: dict[int, list[Deal]] = {pk: [] for pk in by_id}
    for card in ranked:
        card.stage = by_id[card.stage_id]  # the cards may show their stage: no query per card
        cards[card.stage_id].append(card)
    totals = deal_stage_totals(actor=actor, stages=stages)
    return [BoardColumn(stage=stage, deals=cards[stage.pk], totals=totals[stage.pk]) for stage in stages]


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
    return Activity.objects.filter(assignee=actor, done=False, due_at__lt=_day_end(day))


def _day_end(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))


def tasks_due_for_team(*, actor: Any, day: dt.date, team_id: int | None = None) -> QuerySet[Activity]:
    """Return the open activities ``actor`` may see, whoever they are assigned to, due by the end of ``day``.

    With ``team_id``, only those of that team. What a manager looks at to see how the team is doing.
    """
    require_read(actor, "activities", "activity")
    tasks = activity_visible(actor=actor).filter(done=False, due_at__lt=_day_end(day))
    return tasks.filter(team_id=team_id) if team_id is not None else tasks


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


# ---- dashboard aggregations ----------------------------------------------------------------------


@dataclass(frozen=True)
class StageSummary:
    """One stage of a pipeline with its open deals, one total per currency (never added across currencies)."""

    stage_id: int
    name: str
    position: int
    probability: int
    totals: list[StageTotal]

    @property
    def deals(self) -> int:
        return sum(total.deals for total in self.totals)

    def total_in(self, currency: str) -> StageTotal | None:
        return next((total for total in self.totals if total.currency == currency), None)


@dataclass(frozen=True)
class PipelineSummary:
    """The open deals of one pipeline by stage, and the pipelines one could look at instead."""

    pipeline_id: int | None
    pipeline_name: str
    stages: list[StageSummary]
    currencies: list[str]
    choices: list[tuple[int, str]]

    @property
    def deals(self) -> int:
        return sum(stage.deals for stage in self.stages)

    def totals(self) -> list[StageTotal]:
        """The pipeline's open deals per currency, over every stage."""
        lines = []
        for currency in self.currencies:
            parts = [total for stage in self.stages if (total := stage.total_in(currency)) is not None]
            lines.append(
                StageTotal(
                    currency=currency,
                    deals=sum(part.deals for part in parts),
                    amount=sum((part.amount for part in parts), Decimal("0.00")),
                    weighted_amount=sum((part.weighted_amount for part in parts), Decimal("0.00")),
                )
            )
        return lines


def pipeline_by_stage(*, actor: Any, pipeline_id: int | None = None) -> PipelineSummary:
    """Return the open deals ``actor`` may see in a pipeline (the default one unless ``pipeline_id``), by stage.

    Every stage is listed in order, empty ones too, with the totals of ``deal_stage_totals``. Three
    queries whatever the number of deals: the pipelines, the chosen one's stages, one grouped sum. An
    unknown ``pipeline_id`` raises ``NotFound``; with no pipeline at all the summary is empty.
    """
    require_read(actor, "deals", "deal")
    require_read(actor, "pipelines", "pipeline")
    pipelines = list(Pipeline.objects.order_by("name").values_list("id", "name", "is_default"))
    choices = [(pk, name) for pk, name, _default in pipelines]
    if pipeline_id is not None:
        chosen = next((row for row in pipelines if row[0] == pipeline_id), None)
        if chosen is None:
            raise NotFound("pipeline")
    else:
        chosen = next((row for row in pipelines if row[2]), pipelines[0] if pipelines else None)
    if chosen is None:
        return PipelineSummary(pipeline_id=None, pipeline_name="", stages=[], currencies=[], choices=[])
    stages = list(Stage.objects.filter(pipeline_id=chosen[0]).order_by("position", "id"))
    totals = deal_stage_totals(actor=actor, stages=stages)
    summaries = [
        StageSummary(
            stage_id=stage.pk,
            name=stage.name,
            position=stage.position,
            probability=stage.probability,
            totals=totals[stage.pk],
        )
        for stage in stages
    ]
    currencies = sorted({total.currency for stage in summaries for total in stage.totals})
    return PipelineSummary(
        pipeline_id=chosen[0], pipeline_name=chosen[1], stages=summaries, currencies=currencies, choices=choices
    )


@dataclass(frozen=True)
class RevenueMonth:
    """The deals won in one month in one currency, and their amount."""

    month: dt.date
    currency: str
    deals: int
    amount: Decimal


def revenue_won_by_month(*, actor: Any, months: int = 12, now: dt.datetime | None = None) -> list[RevenueMonth]:
    """Return the deals ``actor`` may see that were won in each of the last ``months`` months, per currency.

    A deal counts in the month of its ``closed_at`` (current time zone). Every month × currency that
    has any won deal in the period is listed, months without one at zero, months in order and
    currencies alphabetically within a month; with no won deal at all the list is empty. One grouped query.
    """
    require_read(actor, "deals", "deal")
    starts = recent_month_starts(months=months, now=now)
    rows = (
        deal_visible(actor=actor)
        .filter(status=DealStatus.WON, closed_at__gte=month_start_time(starts[0]))
        .annotate(month=TruncMonth("closed_at"))
        .values("month", "currency")
        .annotate(deals=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    sums = {(month_of(row["month"]), row["currency"]): row for row in rows}
    currencies = sorted({currency for _month, currency in sums})
    lines = []
    for month in starts:
        for currency in currencies:
            row = sums.get((month, currency))
            lines.append(
                RevenueMonth(
                    month=month,
                    currency=currency,
                    deals=row["deals"] if row else 0,
                    amount=Decimal(row["amount"]).quantize(_CENT) if row else Decimal("0.00"),
                )
            )
    return lines


@dataclass(frozen=True)
class TasksDueCount:
    """How many open tasks of the actor are due today, and how many of them were already overdue."""

    due: int
    overdue: int


def tasks_due_count(*, actor: Any, day: dt.date) -> TasksDueCount:
    """Count the open activities assigned to ``actor`` due by the end of ``day`` (``due``), and those due
    before ``day`` began (``overdue``, included in ``due``): one query, the same rows as ``tasks_due``."""
    day_start = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    counts = tasks_due(actor=actor, day=day).aggregate(
        due=Count("id"), overdue=Count("id", filter=Q(due_at__lt=day_start))
    )
    return TasksDueCount(due=counts["due"], overdue=counts["overdue"])
