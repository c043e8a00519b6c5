"""REST endpoints of segments and alerts: /api/v1/analytics/segments…, /alert-rules, /alerts.

A segment's definition is the JSON described in ``cuore.analytics.segments``. Reads that open the
warehouse (the live count, members, changes) answer 503 while an analytics run holds it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from cuore.analytics import alerts, segments
from cuore.analytics.models import Alert
from cuore.core.api import Id, PathId, idempotent_create, page_of, page_response, patch_data
from cuore.core.pagination import paginate
from cuore.core.visibility import require_write

router = Router(tags=["segments and alerts"])

T = TypeVar("T")
Limit = Annotated[int, Field(ge=1, le=200)]
OrderName = Literal[tuple(segments.PREVIEW_ORDERS)]  # type: ignore[valid-type]
BUSY = "The warehouse is busy with a run, try again shortly."
SEGMENT_ORDERING = ("name", "id")
ALERT_ORDERING = ("-id",)


def _warehouse(call: Callable[[], T]) -> T:
    """Run a read of the warehouse; while a run holds it, answer 503 with the reason."""
    try:
        return call()
    except segments.WarehouseBusy:
        raise HttpError(503, BUSY) from None


# ---- schemas -------------------------------------------------------------------------------------

DEFINITION_HELP = (
    '{"match": "all" | "any", "conditions": [{"field": …, "op": …, "value": …}, …]}: '
    "see the segments documentation for the fields and operators"
)


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    definition: dict[str, Any]
    created_by_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    size: int | None = Field(description="contacts at the latest successful run; null before any")
    entered: int | None = Field(description="contacts who entered at that run")
    left: int | None = Field(description="contacts who left at that run")
    size_run_id: int | None
    size_as_of: dt.date | None


class SegmentIn(Schema):
    name: str = Field(min_length=1, max_length=segments.NAME_MAX)
    description: str = Field("", max_length=segments.DESCRIPTION_MAX)
    definition: dict[str, Any] = Field(description=DEFINITION_HELP)


class SegmentPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=segments.NAME_MAX)
    description: str | None = Field(None, max_length=segments.DESCRIPTION_MAX)
    definition: dict[str, Any] | None = Field(None, description=DEFINITION_HELP)


class MemberOut(Schema):
    contact_id: int
    name: str
    abc_class: str | None = None
    rfm_segment: str | None = None
    value_tier: str | None = None
    monetary_total: Decimal | None = None
    clv: Decimal | None = None
    p_alive: float | None = None
    churn_risk: float | None = None


class CountIn(Schema):
    definition: dict[str, Any] = Field(description=DEFINITION_HELP)
    limit: int = Field(10, ge=0, le=segments.MAX_PREVIEW, description="contacts in the preview")
    order: OrderName = Field("-clv", description="the order of the preview")


class CountOut(Schema):
    run_id: int | None = Field(description="the run counted on: the latest successful one; null before any")
    as_of: dt.date | None
    count: int = Field(description="every contact of the segment")
    preview: list[MemberOut] = Field(description="the first contacts of the segment the caller may see")


class RunPage(Schema):
    run: Id | None = Field(None, description="a run id; the segment's latest run when missing")
    cursor: str | None = None
    limit: Limit = 50


class MembersOut(Schema):
    run_id: int | None
    as_of: dt.date | None
    results: list[MemberOut]
    next_cursor: str | None


class HistoryParams(Schema):
    limit: int = Field(90, ge=1, le=1000, description="the latest runs")


class SnapshotOut(Schema):
    run_id: int
    as_of: dt.date
    customers: int
    entered: int
    left: int


class ChangesParams(Schema):
    run: Id | None = Field(None, description="a run id; the segment's latest run when missing")
    limit: int = Field(100, ge=1, le=500, description="at most this many contacts in each list")


class ChangesOut(Schema):
    run_id: int | None
    as_of: dt.date | None
    previous_run_id: int | None
    entered_count: int
    left_count: int
    entered: list[MemberOut]
    left: list[MemberOut]


class AlertRuleOut(Schema):
    id: int
    name: str
    kind: str
    threshold: float
    abc_classes: list[str]
    active: bool
    updated_at: dt.datetime


class AlertRulePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=alerts.RULE_NAME_MAX)
    threshold: float | None = Field(
        None, description="p_alive_below: P(alive) below it; expected_purchases_drop: the share of the previous run's"
    )
    abc_classes: list[str] | None = Field(None, max_length=3)
    active: bool | None = None


class AlertFilters(Schema):
    rule: Id | None = None
    run: Id | None = None
    contact: Id | None = None
    cursor: str | None = None
    limit: Limit = 50


class AlertOut(Schema):
    id: int
    rule_id: int
    rule_name: str
    kind: str
    contact_id: int
    contact_name: str
    run_id: int
    as_of: dt.date
    reason: dict[str, Any]
    reason_text: str
    outcome: str
    task_id: int | None
    task_done: bool | None
    created_at: dt.datetime

    @staticmethod
    def resolve_rule_name(obj: Alert) -> str:
        return obj.rule.name

    @staticmethod
    def resolve_kind(obj: Alert) -> str:
        return obj.rule.kind

    @staticmethod
    def resolve_contact_name(obj: Alert) -> str:
        return f"{obj.contact.first_name} {obj.contact.last_name}".strip()

    @staticmethod
    def resolve_as_of(obj: Alert) -> dt.date:
        return obj.run.as_of

    @staticmethod
    def resolve_reason_text(obj: Alert) -> str:
        return alerts.reason_text(obj.reason)

    @staticmethod
    def resolve_task_done(obj: Alert) -> bool | None:
        return obj.task.done if obj.task is not None else None


class SegmentPage(Schema):
    cursor: str | None = None
    limit: Limit = 50


# ---- segments ------------------------------------------------------------------------------------


@router.get("/analytics/segments", response=page_of(SegmentOut), summary="Segments, by name, with their size")
def list_segments(request, params: Query[SegmentPage]):
    page = paginate(
        segments.segment_list(actor=request.auth),
        ordering_key="name",
        ordering=SEGMENT_ORDERING,
        cursor=params.cursor,
        limit=params.limit,
    )
    return page_response(page)


@router.post("/analytics/segments", response={201: SegmentOut}, summary="Save a segment definition")
def create_segment(request, payload: SegmentIn):
    require_write(request.auth, "segments")

    def create():
        return segments.segment_create(actor=request.auth, **payload.dict())

    return idempotent_create(request, create, SegmentOut)


@router.post(
    "/analytics/segments/count",
    response=CountOut,
    summary="Count a definition's contacts at the latest run and preview the first ones, without saving it",
)
def count_segment(request, payload: CountIn):
    preview = _warehouse(
        lambda: segments.segment_preview(
            actor=request.auth, definition=payload.definition, limit=payload.limit, order=payload.order
        )
    )
    return {
        "run_id": preview.run.pk if preview.run else None,
        "as_of": preview.run.as_of if preview.run else None,
        "count": preview.count,
        "preview": preview.rows,
    }


@router.get("/analytics/segments/{segment_id}", response=SegmentOut)
def get_segment(request, segment_id: PathId):
    return segments.segment_get_for_actor(actor=request.auth, segment_id=segment_id)


@router.patch("/analytics/segments/{segment_id}", response=SegmentOut, summary="Rename or redefine a segment")
def update_segment(request, segment_id: PathId, payload: SegmentPatch):
    segment = segments.segment_get_for_actor(actor=request.auth, segment_id=segment_id)
    return segments.segment_update(actor=request.auth, segment=segment, data=patch_data(payload))


@router.delete("/analytics/segments/{segment_id}", response={204: None})
def delete_segment(request, segment_id: PathId):
    segment = segments.segment_get_for_actor(actor=request.auth, segment_id=segment_id)
    segments.segment_delete(actor=request.auth, segment=segment)
    return Status(204, None)


@router.get(
    "/analytics/segments/{segment_id}/members",
    response=MembersOut,
    summary="The segment's members at a run that the caller may see, by contact id",
)
def segment_members(request, segment_id: PathId, params: Query[RunPage]):
    segment = segments.segment_get_for_actor(actor=request.auth, segment_id=segment_id)
    page = _warehouse(
        lambda: segments.segment_members(
            actor=request.auth, segment=segment, run_id=params.run, cursor=params.cursor, limit=params.limit
        )
    )
    return {"run_id": page.run_id, "as_of": page.as_of, "results": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/analytics/segments/{segment_id}/history",
    response=list[SnapshotOut],
    summary="The segment's size, entered and left at each run, oldest first",
)
def segment_history(request, segment_id: PathId, params: Query[HistoryParams]):
    segment = segments.segment_get_for_actor(actor=request.auth, segment_id=segment_id)
    return segments.segment_history(actor=request.auth, segment=segment, limit=params.limit)


@router.get(
    "/analytics/segments/{segment_id}/changes",
    response=ChangesOut,
    summary="Who entered and who left the segment at a run (counts of all; lists of those the caller may see)",
)
def segment_changes(request, segment_id: PathId, params: Query[ChangesParams]):
    segment = segments.segment_get_for_actor(actor=request.auth, segment_id=segment_id)
    return _warehouse(
        lambda: segments.segment_changes(actor=request.auth, segment=segment, run_id=params.run, limit=params.limit)
    )


# ---- alerts --------------------------------------------------------------------------------------


@router.get("/analytics/alert-rules", response=page_of(AlertRuleOut), summary="The alert rules checked after each run")
def list_alert_rules(request, params: Query[SegmentPage]):
    page = paginate(
        alerts.alert_rule_list(actor=request.auth),
        ordering_key="id",
        ordering=("id",),
        cursor=params.cursor,
        limit=params.limit,
    )
    return page_response(page)


@router.patch(
    "/analytics/alert-rules/{rule_id}",
    response=AlertRuleOut,
    summary="Change a rule's threshold or classes, or switch it on or off",
)
def update_alert_rule(request, rule_id: PathId, payload: AlertRulePatch):
    rule = alerts.alert_rule_get_for_actor(actor=request.auth, rule_id=rule_id)
    return alerts.alert_rule_update(actor=request.auth, rule=rule, data=patch_data(payload))


@router.get(
    "/analytics/alerts",
    response=page_of(AlertOut),
    summary="Alerts raised by the runs on contacts the caller may see, newest first",
)
def list_alerts(request, filters: Query[AlertFilters]):
    found = alerts.alert_list(actor=request.auth, rule_id=filters.rule, run_id=filters.run, contact_id=filters.contact)
    page = paginate(found, ordering_key="-id", ordering=ALERT_ORDERING, cursor=filters.cursor, limit=filters.limit)
    return page_response(page)
