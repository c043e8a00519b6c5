"""REST endpoints for pipelines and stages, deals (with their moves and history), activities, the forecast and the tasks due."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import AfterValidator

from cuore.core.api import Id, PathId, idempotent_create, page_of, page_response, patch_data
from cuore.core.errors import reference
from cuore.core.pagination import paginate
from cuore.core.visibility import require_write
from cuore.sales import selectors, services
from cuore.sales.models import Deal, DealStageChange
from cuore.sales.selectors import ForecastLine
from cuore.users.selectors import team_get_for_actor, user_get_for_actor

router = Router(tags=["sales"])

Probability = Annotated[int, Field(ge=0, le=100, description="win probability of a deal in this stage, in %")]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Currency = Annotated[str, Field(min_length=3, max_length=3, description="ISO 4217 code, such as EUR")]
DealStatusName = Literal["open", "won", "lost"]
ActivityKindName = Literal["call", "meeting", "email", "todo"]
Limit = Annotated[int, Field(ge=1, le=200)]


def _in_utc(value: dt.datetime) -> dt.datetime:
    """Carry an aware time in UTC (a naive one is left for the selector or the service to judge)."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


Moment = Annotated[dt.datetime, AfterValidator(_in_utc)]


# ---- schemas -------------------------------------------------------------------------------------


class StageOut(Schema):
    id: int
    pipeline_id: int
    name: str
    position: int
    probability: int


class PipelineOut(Schema):
    id: int
    name: str
    is_default: bool
    stages: list[StageOut]
    created_at: dt.datetime

    @staticmethod
    def resolve_stages(obj) -> list[Any]:
        return list(obj.stages.all())


class StageSpecIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    probability: Probability


class PipelineIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    is_default: bool = False
    stages: list[StageSpecIn] = Field(min_length=1, max_length=50, description="the stages, first to last")


class PipelinePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    is_default: bool | None = None


class StageIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    probability: Probability
    position: int | None = Field(None, ge=1, le=1000, description="1 is first; at the end when missing")


class StagePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    probability: Probability | None = None
    position: int | None = Field(None, ge=1, le=1000)


class DealOut(Schema):
    id: int
    name: str
    pipeline_id: int
    stage_id: int
    stage_name: str
    stage_probability: int
    amount: Decimal
    currency: str
    expected_close: dt.date | None
    status: str
    lost_reason: str
    closed_at: dt.datetime | None
    owner_id: int | None
    team_id: int | None
    contact_id: int | None
    account_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_stage_name(obj: Deal) -> str:
        return obj.stage.name

    @staticmethod
    def resolve_stage_probability(obj: Deal) -> int:
        return obj.stage.probability


class DealIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    pipeline_id: Id | None = Field(None, description="the default pipeline when missing")
    stage_id: Id | None = Field(None, description="the pipeline's first stage when missing")
    amount: Money = Decimal("0")
    currency: Currency = "EUR"
    expected_close: dt.date | None = None
    owner_id: Id | None = Field(None, description="the caller when missing")
    team_id: Id | None = Field(None, description="the owner's team when missing")
    contact_id: Id | None = None
    account_id: Id | None = None


class DealPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    amount: Money | None = None
    currency: Currency | None = None
    expected_close: dt.date | None = None
    owner_id: Id | None = None
    team_id: Id | None = None
    contact_id: Id | None = None
    account_id: Id | None = None


class DealMoveIn(Schema):
    stage_id: Id


class DealLoseIn(Schema):
    reason: str = Field(min_length=1, max_length=200)


class DealFilters(Schema):
    pipeline_id: Id | None = None
    stage_id: Id | None = None
    status: DealStatusName | None = None
    owner_id: Id | None = None
    team_id: Id | None = None
    contact_id: Id | None = None
    account_id: Id | None = None
    q: str | None = Field(None, max_length=200, description="start of the name, whatever the case and accents")
    expected_close_from: dt.date | None = Field(None, description="inclusive")
    expected_close_to: dt.date | None = Field(None, description="inclusive")
    ordering: Literal["-created", "name", "-amount", "expected_close"] = Field(
        "-created", description="`expected_close` lists only the deals that have an expected close date, soonest first"
    )
    cursor: str | None = None
    limit: Limit = 50


class DealChangeOut(Schema):
    id: int
    from_stage_id: int | None
    from_stage_name: str | None
    to_stage_id: int | None
    to_stage_name: str | None
    from_status: str
    to_status: str
    changed_by_id: int | None
    changed_at: dt.datetime

    @staticmethod
    def resolve_from_stage_name(obj: DealStageChange) -> str | None:
        return obj.from_stage.name if obj.from_stage is not None else None

    @staticmethod
    def resolve_to_stage_name(obj: DealStageChange) -> str | None:
        return obj.to_stage.name if obj.to_stage is not None else None


class ActivityOut(Schema):
    id: int
    kind: str
    subject: str
    notes: str
    due_at: dt.datetime | None
    assignee_id: int | None
    team_id: int | None
    done: bool
    done_at: dt.datetime | None
    contact_id: int | None
    account_id: int | None
    deal_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ActivityIn(Schema):
    kind: ActivityKindName = "todo"
    subject: str = Field(min_length=1, max_length=200)
    notes: str = Field("", max_length=20000)
    due_at: Moment | None = Field(None, description="with a time zone, such as 2026-03-01T09:30:00Z")
    assignee_id: Id | None = Field(None, description="the caller when missing")
    team_id: Id | None = Field(None, description="the assignee's team when missing")
    contact_id: Id | None = Field(None, description="the deal's contact when missing")
    account_id: Id | None = Field(None, description="the deal's account when missing")
    deal_id: Id | None = None


class ActivityPatch(Schema):
    kind: ActivityKindName | None = None
    subject: str | None = Field(None, min_length=1, max_length=200)
    notes: str | None = Field(None, max_length=20000)
    due_at: Moment | None = None
    assignee_id: Id | None = None
    team_id: Id | None = None
    contact_id: Id | None = None
    account_id: Id | None = None
    deal_id: Id | None = None


class ActivityFilters(Schema):
    assignee_id: Id | None = None
    team_id: Id | None = None
    done: bool | None = None
    due_after: Moment | None = Field(None, description="inclusive; UTC when no time zone is given")
    due_before: Moment | None = Field(None, description="exclusive; UTC when no time zone is given")
    contact_id: Id | None = None
    account_id: Id | None = None
    deal_id: Id | None = None
    kind: ActivityKindName | None = None
    ordering: Literal["-created", "due_at"] = Field(
        "-created", description="`due_at` lists only the activities that have a due time, soonest first"
    )
    cursor: str | None = None
    limit: Limit = 50


class PageParams(Schema):
    cursor: str | None = None
    limit: Limit = 50


class ForecastLineOut(Schema):
    month: str | None = Field(description="YYYY-MM; null for the deals with no expected close date")
    currency: str
    deals: int
    amount: Decimal
    weighted_amount: Decimal

    @staticmethod
    def resolve_month(obj: ForecastLine) -> str | None:
        return obj.month.strftime("%Y-%m") if obj.month is not None else None


class ForecastTotalOut(Schema):
    currency: str
    deals: int
    amount: Decimal
    weighted_amount: Decimal


class ForecastOut(Schema):
    pipeline_id: int | None
    months: list[ForecastLineOut]
    totals: list[ForecastTotalOut]


class ForecastFilters(Schema):
    pipeline_id: Id | None = None


# ---- helpers -------------------------------------------------------------------------------------

PIPELINE_ORDERING = ("name",)  # pipeline names are unique
DEAL_ORDERINGS = {
    "-created": ("-created_at", "-id"),
    "name": ("name_key", "id"),
    "-amount": ("-amount", "-id"),
    "expected_close": ("expected_close", "id"),
}
ACTIVITY_ORDERINGS = {"-created": ("-created_at", "-id"), "due_at": ("due_at", "id")}
HISTORY_ORDERING = ("-changed_at", "-id")
TASK_ORDERING = ("due_at", "id")


def _resolvers(actor) -> dict[str, tuple[str, Callable[[int], Any]]]:
    """``<name>_id`` of a body → the field the service takes and how to fetch what the id names."""
    return {
        "pipeline_id": ("pipeline", lambda pk: selectors.pipeline_get_for_actor(actor=actor, pipeline_id=pk)),
        "stage_id": ("stage", lambda pk: selectors.stage_get_for_actor(actor=actor, stage_id=pk)),
        "owner_id": ("owner", lambda pk: user_get_for_actor(actor=actor, user_id=pk)),
        "assignee_id": ("assignee", lambda pk: user_get_for_actor(actor=actor, user_id=pk)),
        "team_id": ("team", lambda pk: team_get_for_actor(actor=actor, team_id=pk)),
        "contact_id": ("contact", lambda pk: selectors.contact_for_link(actor=actor, contact_id=pk)),
        "account_id": ("account", lambda pk: selectors.account_for_link(actor=actor, account_id=pk)),
        "deal_id": ("deal", lambda pk: selectors.deal_get_for_actor(actor=actor, deal_id=pk)),
    }


def _resolve(actor, data: dict[str, Any]) -> dict[str, Any]:
    """Replace the ids of a body by the records they name; one the actor cannot see is a 422 on its field."""
    resolvers = _resolvers(actor)
    resolved: dict[str, Any] = {}
    for key, value in data.items():
        if key not in resolvers:
            resolved[key] = value
        elif value is None:
            resolved[resolvers[key][0]] = None
        else:
            name, fetch = resolvers[key]
            resolved[name] = reference(key, partial(fetch, value))
    return resolved


def _page(queryset, *, ordering_key: str, ordering: tuple[str, ...], params) -> dict[str, Any]:
    return page_response(
        paginate(queryset, ordering_key=ordering_key, ordering=ordering, cursor=params.cursor, limit=params.limit)
    )


# ---- pipelines and stages ------------------------------------------------------------------------


@router.get("/pipelines", response=page_of(PipelineOut), summary="Pipelines with their stages, by name")
def list_pipelines(request, params: Query[PageParams]):
    return _page(
        selectors.pipeline_list(actor=request.auth), ordering_key="name", ordering=PIPELINE_ORDERING, params=params
    )


@router.post("/pipelines", response={201: PipelineOut}, summary="Create a pipeline with its stages")
def create_pipeline(request, payload: PipelineIn):
    require_write(request.auth, "pipelines")

    def create():
        pipeline = services.pipeline_create(
            actor=request.auth,
            name=payload.name,
            is_default=payload.is_default,
            stages=[services.StageSpec(name=s.name, probability=s.probability) for s in payload.stages],
        )
        return selectors.pipeline_get_for_actor(actor=request.auth, pipeline_id=pipeline.pk)

    return idempotent_create(request, create, PipelineOut)


@router.get("/pipelines/{pipeline_id}", response=PipelineOut)
def get_pipeline(request, pipeline_id: PathId):
    return selectors.pipeline_get_for_actor(actor=request.auth, pipeline_id=pipeline_id)


@router.patch("/pipelines/{pipeline_id}", response=PipelineOut, summary="Rename a pipeline or make it the default")
def update_pipeline(request, pipeline_id: PathId, payload: PipelinePatch):
    pipeline = selectors.pipeline_get_for_write(actor=request.auth, pipeline_id=pipeline_id)
    services.pipeline_update(actor=request.auth, pipeline=pipeline, data=patch_data(payload))
    return selectors.pipeline_get_for_actor(actor=request.auth, pipeline_id=pipeline_id)


@router.post("/pipelines/{pipeline_id}/stages", response={201: StageOut}, summary="Add a stage to a pipeline")
def create_stage(request, pipeline_id: PathId, payload: StageIn):
    pipeline = selectors.pipeline_get_for_write(actor=request.auth, pipeline_id=pipeline_id)
    return idempotent_create(
        request, lambda: services.stage_create(actor=request.auth, pipeline=pipeline, **payload.dict()), StageOut
    )


@router.patch("/stages/{stage_id}", response=StageOut, summary="Rename, reweigh or move a stage")
def update_stage(request, stage_id: PathId, payload: StagePatch):
    stage = selectors.stage_get_for_write(actor=request.auth, stage_id=stage_id)
    return services.stage_update(actor=request.auth, stage=stage, data=payload.dict(exclude_unset=True))


@router.delete("/stages/{stage_id}", response={204: None}, summary="Delete a stage that holds no deal")
def delete_stage(request, stage_id: PathId):
    services.stage_delete(
        actor=request.auth, stage=selectors.stage_get_for_write(actor=request.auth, stage_id=stage_id)
    )
    return Status(204, None)


# ---- deals ---------------------------------------------------------------------------------------


@router.get("/deals", response=page_of(DealOut))
def list_deals(request, filters: Query[DealFilters]):
    deals = selectors.deal_list(
        actor=request.auth,
        pipeline_id=filters.pipeline_id,
        stage_id=filters.stage_id,
        status=filters.status,
        owner_id=filters.owner_id,
        team_id=filters.team_id,
        contact_id=filters.contact_id,
        account_id=filters.account_id,
        q=filters.q,
        expected_close_from=filters.expected_close_from,
        expected_close_to=filters.expected_close_to,
    )
    if filters.ordering == "expected_close":
        deals = deals.filter(expected_close__isnull=False)
    return _page(deals, ordering_key=filters.ordering, ordering=DEAL_ORDERINGS[filters.ordering], params=filters)


@router.post("/deals", response={201: DealOut}, summary="Open a deal")
def create_deal(request, payload: DealIn):
    require_write(request.auth, "deals")

    def create():
        return services.deal_create(actor=request.auth, **_resolve(request.auth, payload.dict()))

    return idempotent_create(request, create, DealOut)


@router.get("/deals/{deal_id}", response=DealOut)
def get_deal(request, deal_id: PathId):
    return selectors.deal_get_for_actor(actor=request.auth, deal_id=deal_id)


@router.patch("/deals/{deal_id}", response=DealOut)
def update_deal(request, deal_id: PathId, payload: DealPatch):
    deal = selectors.deal_get_for_write(actor=request.auth, deal_id=deal_id)
    data = _resolve(request.auth, payload.dict(exclude_unset=True))
    return services.deal_update(actor=request.auth, deal=deal, data=data)


@router.delete("/deals/{deal_id}", response={204: None}, summary="Delete a deal with its history and activities")
def delete_deal(request, deal_id: PathId):
    services.deal_delete(actor=request.auth, deal=selectors.deal_get_for_write(actor=request.auth, deal_id=deal_id))
    return Status(204, None)


@router.post("/deals/{deal_id}/move", response=DealOut, summary="Move an open deal to another stage of its pipeline")
def move_deal(request, deal_id: PathId, payload: DealMoveIn):
    deal = selectors.deal_get_for_write(actor=request.auth, deal_id=deal_id)
    stage = reference("stage_id", lambda: selectors.stage_get_for_actor(actor=request.auth, stage_id=payload.stage_id))
    return services.deal_move_to_stage(actor=request.auth, deal=deal, stage=stage)


@router.post("/deals/{deal_id}/win", response=DealOut, summary="Mark an open deal as won")
def win_deal(request, deal_id: PathId):
    return services.deal_win(actor=request.auth, deal=selectors.deal_get_for_write(actor=request.auth, deal_id=deal_id))


@router.post("/deals/{deal_id}/lose", response=DealOut, summary="Mark an open deal as lost, with the reason")
def lose_deal(request, deal_id: PathId, payload: DealLoseIn):
    deal = selectors.deal_get_for_write(actor=request.auth, deal_id=deal_id)
    return services.deal_lose(actor=request.auth, deal=deal, reason=payload.reason)


@router.post("/deals/{deal_id}/reopen", response=DealOut, summary="Open again a won or lost deal")
def reopen_deal(request, deal_id: PathId):
    deal = selectors.deal_get_for_write(actor=request.auth, deal_id=deal_id)
    return services.deal_reopen(actor=request.auth, deal=deal)


@router.get(
    "/deals/{deal_id}/history", response=page_of(DealChangeOut), summary="The deal's stage changes, newest first"
)
def deal_history(request, deal_id: PathId, params: Query[PageParams]):
    deal = selectors.deal_get_for_actor(actor=request.auth, deal_id=deal_id)
    return _page(selectors.deal_history(deal=deal), ordering_key="-changed", ordering=HISTORY_ORDERING, params=params)


# ---- activities ----------------------------------------------------------------------------------


@router.get("/activities", response=page_of(ActivityOut))
def list_activities(request, filters: Query[ActivityFilters]):
    activities = selectors.activity_list(
        actor=request.auth,
        assignee_id=filters.assignee_id,
        team_id=filters.team_id,
        done=filters.done,
        due_before=filters.due_before,
        due_after=filters.due_after,
        contact_id=filters.contact_id,
        account_id=filters.account_id,
        deal_id=filters.deal_id,
        kind=filters.kind,
    )
    if filters.ordering == "due_at":
        activities = activities.filter(due_at__isnull=False)
    return _page(
        activities, ordering_key=filters.ordering, ordering=ACTIVITY_ORDERINGS[filters.ordering], params=filters
    )


@router.post("/activities", response={201: ActivityOut}, summary="Create a call, meeting, email or to-do")
def create_activity(request, payload: ActivityIn):
    require_write(request.auth, "activities")

    def create():
        return services.activity_create(actor=request.auth, **_resolve(request.auth, payload.dict()))

    return idempotent_create(request, create, ActivityOut)


@router.get("/activities/{activity_id}", response=ActivityOut)
def get_activity(request, activity_id: PathId):
    return selectors.activity_get_for_actor(actor=request.auth, activity_id=activity_id)


@router.patch("/activities/{activity_id}", response=ActivityOut)
def update_activity(request, activity_id: PathId, payload: ActivityPatch):
    activity = selectors.activity_get_for_write(actor=request.auth, activity_id=activity_id)
    data = _resolve(request.auth, payload.dict(exclude_unset=True))
    return services.activity_update(actor=request.auth, activity=activity, data=data)


@router.delete("/activities/{activity_id}", response={204: None})
def delete_activity(request, activity_id: PathId):
    activity = selectors.activity_get_for_write(actor=request.auth, activity_id=activity_id)
    services.activity_delete(actor=request.auth, activity=activity)
    return Status(204, None)


@router.post("/activities/{activity_id}/complete", response=ActivityOut, summary="Mark an activity as done")
def complete_activity(request, activity_id: PathId):
    activity = selectors.activity_get_for_write(actor=request.auth, activity_id=activity_id)
    return services.activity_complete(actor=request.auth, activity=activity)


@router.post("/activities/{activity_id}/reopen", response=ActivityOut, summary="Mark a done activity as to do")
def reopen_activity(request, activity_id: PathId):
    activity = selectors.activity_get_for_write(actor=request.auth, activity_id=activity_id)
    return services.activity_reopen(actor=request.auth, activity=activity)


@router.get(
    "/tasks/today",
    response=page_of(ActivityOut),
    summary="The caller's open activities due by the end of today (UTC), overdue ones first",
)
def tasks_today(request, params: Query[PageParams]):
    tasks = selectors.tasks_due(actor=request.auth, day=timezone.localdate())
    return _page(tasks, ordering_key="due_at", ordering=TASK_ORDERING, params=params)


# ---- forecast ------------------------------------------------------------------------------------


@router.get(
    "/forecast",
    response=ForecastOut,
    summary="The open pipeline by month of expected close: amounts and amounts weighted by stage probability",
)
def get_forecast(request, filters: Query[ForecastFilters]):
    result = selectors.forecast(actor=request.auth, pipeline_id=filters.pipeline_id)
    return {"pipeline_id": filters.pipeline_id, "months": result.months, "totals": result.totals}
