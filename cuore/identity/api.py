"""REST endpoints of identity resolution: /api/v1/identity/… — sources, source records (matched as they
arrive), the duplicate review queue, merges, splits and their undo, golden-record explanations, export."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpResponse
from ninja import Field, Query, Router, Schema, Status

from cuore.contacts.selectors import contact_get_for_actor
from cuore.core.api import Id, PathId, Text, page_of, page_response
from cuore.core.errors import Forbidden, ValidationFailed, reference
from cuore.core.jobs import enqueue
from cuore.core.pagination import paginate
from cuore.core.visibility import Scope, read_scope, require_write
from cuore.identity import merging, selectors, services
from cuore.identity.models import LinkStatus, MergeEvent, RecordKind, ReviewItem, SourceRecord

router = Router(tags=["identity"])
Limit = Annotated[int, Field(ge=1, le=200)]
MATCH_VALUE_FIELDS = (
    "first_name",
    "last_name",
    "birth_date",
    "email",
    "phone",
    "mobile",
    "tax_code",
    "line1",
    "line2",
    "postal_code",
    "city",
    "province",
    "country",
    "title",
    "language",
)


class SourceOut(Schema):
    id: int
    name: str
    label: str
    trust: int
    created_at: dt.datetime


class SourcePatch(Schema):
    label: Text | None = Field(None, max_length=100)
    trust: int | None = Field(None, ge=0, le=100, description="0–100: survivorship prefers the most trusted source")


class EvidenceOut(Schema):
    comparison: str
    level: str
    weight: float = Field(description="log2 of the Bayes factor: positive when the field agrees")


class RecordOut(Schema):
    id: int
    source: str
    kind: str
    source_id: str
    values: dict[str, Any]
    raw: dict[str, Any]
    contact_id: int | None
    parent_id: int | None
    object_type: str
    object_id: int | None
    status: str
    link_method: str
    link_score: float | None
    link_evidence: list[EvidenceOut]
    linked_at: dt.datetime | None
    received_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_source(obj: SourceRecord) -> str:
        return obj.source.name

    @staticmethod
    def resolve_source_id(obj: SourceRecord) -> str:
        return obj.source_key


class RecordIn(Schema):
    source: Text = Field(min_length=1, max_length=50, description="the source system's name (a slug)")
    source_id: Text = Field(min_length=1, max_length=128, description="the record's id in that source")
    first_name: Text = Field("", max_length=100)
    last_name: Text = Field("", max_length=100)
    birth_date: dt.date | None = None
    email: Text = Field("", max_length=254)
    phone: Text = Field("", max_length=32)
    mobile: Text = Field("", max_length=32)
    tax_code: Text = Field("", max_length=32)
    line1: Text = Field("", max_length=200)
    line2: Text = Field("", max_length=200)
    postal_code: Text = Field("", max_length=16)
    city: Text = Field("", max_length=100)
    province: Text = Field("", max_length=100)
    country: Text = Field("", max_length=2)
    title: Text = Field("", max_length=100)
    language: Text = Field("", max_length=8)
    external_ids: dict[str, str] = Field(
        default_factory=dict, description='ids of the same person in other systems: {"crm": "123"}'
    )


class RecordFilters(Schema):
    contact: Id | None = None
    source: str | None = None
    kind: Literal[tuple(RecordKind.values)] | None = None  # type: ignore[valid-type]
    status: Literal[tuple(LinkStatus.values)] | None = None  # type: ignore[valid-type]
    cursor: str | None = None
    limit: Limit = 50


class ReasonIn(Schema):
    reason: Text = Field("", max_length=500)


class ContactBrief(Schema):
    id: int
    first_name: str
    last_name: str


class ReviewOut(Schema):
    id: int
    contact: ContactBrief
    candidate: ContactBrief
    record_id: int | None
    candidate_record_id: int | None
    probability: float
    weight: float
    evidence: list[EvidenceOut]
    status: str
    decided_by_id: int | None
    decided_at: dt.datetime | None
    created_at: dt.datetime


class ReviewDetailOut(ReviewOut):
    contact_records: list[RecordOut]
    candidate_records: list[RecordOut]


class ReviewFilters(Schema):
    status: Literal["open", "accepted", "rejected"] | None = "open"
    cursor: str | None = None
    limit: Limit = 50


class MergeIn(Schema):
    survivor_id: Id = Field(description="the contact that stays")
    other_id: Id = Field(description="the contact merged into it (deleted; undo restores it)")
    reason: Text = Field("", max_length=500)


class MergeOut(Schema):
    id: int
    kind: str
    contact_id: int | None
    other_id: int
    record_id: int | None
    moved: dict[str, dict[str, list[int]]]
    reason: str
    actor_id: int | None
    created_at: dt.datetime
    undone_at: dt.datetime | None
    undone_by_id: int | None


class MergeFilters(Schema):
    contact: Id | None = None
    cursor: str | None = None
    limit: Limit = 50


class DecisionOut(Schema):
    field: str
    value: Any
    rule: str
    record_id: int | None
    source: str


class ResolveIn(Schema):
    link_threshold: float = Field(services.LINK_THRESHOLD, gt=0, lt=1)
    review_threshold: float = Field(services.REVIEW_THRESHOLD, gt=0, lt=1)


class JobOut(Schema):
    job_id: int
    status: str


def _require_every_contact(actor: Any, what: str) -> None:
    """Refuse (403) a role that sees only some contacts what spans them all: matching, resolving, the export.

    A record is matched against every contact and may join, and change, one of another team; resolving
    makes contacts of every pending record as the caller. Imports, which do both, are closed to those
    roles too.
    """
    if read_scope(actor, "contacts") is not Scope.ALL:
        raise Forbidden(f"{what} covers every contact: your role sees only some")


# ---- sources ------------------------------------------------------------------------------------------


@router.get("/identity/sources", response=list[SourceOut], summary="The sources records come from")
def list_sources(request):
    return list(selectors.source_list(actor=request.auth))


@router.patch("/identity/sources/{source_id}", response=SourceOut, summary="Change a source's label or trust")
def update_source(request, source_id: PathId, payload: SourcePatch):
    source = selectors.source_get_for_actor(actor=request.auth, source_id=source_id)
    return services.source_update(actor=request.auth, source=source, label=payload.label, trust=payload.trust)


# ---- records ------------------------------------------------------------------------------------------


@router.get("/identity/records", response=page_of(RecordOut), summary="Source records, newest first")
def list_records(request, filters: Query[RecordFilters]):
    found = selectors.record_list(
        actor=request.auth, contact_id=filters.contact, source=filters.source, kind=filters.kind, status=filters.status
    )
    page = paginate(found, ordering_key="-id", ordering=("-id",), cursor=filters.cursor, limit=filters.limit)
    return page_response(page)


@router.get("/identity/records/{record_id}", response=RecordOut)
def get_record(request, record_id: PathId):
    return selectors.record_get_for_actor(actor=request.auth, record_id=record_id)


@router.post(
    "/identity/records",
    response={200: RecordOut, 201: RecordOut},
    summary="Send a contact record from a source: kept, and matched to a contact as it arrives",
)
def send_record(request, payload: RecordIn):
    """The record is linked by the rules, else by the matching model among the records sharing a blocking
    key; a doubtful match gets its own contact and goes to the review queue. Sending the same record again
    changes nothing (200); a changed record updates its contact's golden record."""
    actor = request.auth
    require_write(actor, "identity")
    require_write(actor, "contacts")
    _require_every_contact(actor, "matching a record")
    values = {name: getattr(payload, name) for name in MATCH_VALUE_FIELDS if getattr(payload, name) not in ("", None)}
    if payload.birth_date is not None:
        values["birth_date"] = payload.birth_date.isoformat()
    if payload.external_ids:
        values["external_ids"] = payload.external_ids
    if not (values.get("first_name") or values.get("last_name")):
        raise ValidationFailed(field="last_name", reason="a contact record needs a first or a last name")
    with transaction.atomic():
        source = services.source_ensure(actor=actor, name=payload.source)
        record, status = services.record_upsert(
            source=source,
            kind=RecordKind.CONTACT,
            key=payload.source_id,
            raw=payload.model_dump(mode="json", exclude_defaults=True),
            values=values,
        )
        if record.status == LinkStatus.PENDING:
            services.record_match(actor=actor, record=record)
        elif status == "updated" and record.contact is not None:
            from cuore.identity import golden

            golden.golden_apply(actor=actor, contact=record.contact)
    record = selectors.record_get_for_actor(actor=actor, record_id=record.pk)
    return Status(201 if status == "created" else 200, record)


@router.post("/identity/records/{record_id}/split", response={201: MergeOut}, summary="Split a record off its contact")
def split_record(request, record_id: PathId, payload: ReasonIn):
    record = selectors.record_get_for_actor(actor=request.auth, record_id=record_id)
    return Status(201, merging.record_split(actor=request.auth, record=record, reason=payload.reason))


@router.post(
    "/identity/resolve",
    response={202: JobOut},
    summary="Resolve every pending record in the background (job identity.resolve)",
)
def resolve(request, payload: ResolveIn):
    require_write(request.auth, "identity")
    _require_every_contact(request.auth, "resolving")
    if payload.review_threshold > payload.link_threshold:
        raise ValidationFailed(field="review_threshold", reason="must not exceed link_threshold")
    job = enqueue(
        "identity.resolve",
        {
            "user_id": request.auth.pk,
            "link_threshold": payload.link_threshold,
            "review_threshold": payload.review_threshold,
        },
    )
    return Status(202, {"job_id": job.pk, "status": job.status})


# ---- review queue ---------------------------------------------------------------------------------------


@router.get("/identity/review", response=page_of(ReviewOut), summary="Pairs that may be one person, likeliest first")
def list_review(request, filters: Query[ReviewFilters]):
    found = selectors.review_list(actor=request.auth, status=filters.status)
    page = paginate(
        found,
        ordering_key="-probability,id",
        ordering=("-probability", "id"),
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


def _detail(request, item: ReviewItem) -> dict[str, Any]:
    data = ReviewOut.from_orm(item).dict()
    records = SourceRecord.objects.select_related("source").filter(
        contact_id__in=[item.contact_id, item.candidate_id], kind=RecordKind.CONTACT
    )
    data["contact_records"] = [r for r in records if r.contact_id == item.contact_id]
    data["candidate_records"] = [r for r in records if r.contact_id == item.candidate_id]
    return data


@router.get("/identity/review/{item_id}", response=ReviewDetailOut, summary="A pair with both sides' records")
def get_review(request, item_id: PathId):
    return _detail(request, selectors.review_get_for_actor(actor=request.auth, item_id=item_id))


@router.post("/identity/review/{item_id}/accept", response=ReviewOut, summary="Same person: merge the two contacts")
def accept_review(request, item_id: PathId, payload: ReasonIn):
    item = selectors.review_get_for_actor(actor=request.auth, item_id=item_id)
    return services.review_accept(actor=request.auth, item=item, reason=payload.reason)


@router.post("/identity/review/{item_id}/reject", response=ReviewOut, summary="Different people: close the question")
def reject_review(request, item_id: PathId):
    item = selectors.review_get_for_actor(actor=request.auth, item_id=item_id)
    return services.review_reject(actor=request.auth, item=item)


# ---- merges ------------------------------------------------------------------------------------------


@router.post("/identity/merges", response={201: MergeOut}, summary="Merge two contacts (undoable)")
def merge(request, payload: MergeIn):
    actor = request.auth
    survivor = reference("survivor_id", lambda: contact_get_for_actor(actor=actor, contact_id=payload.survivor_id))
    other = reference("other_id", lambda: contact_get_for_actor(actor=actor, contact_id=payload.other_id))
    return Status(201, merging.contacts_merge(actor=actor, survivor=survivor, other=other, reason=payload.reason))


@router.get("/identity/merges", response=page_of(MergeOut), summary="Merges and splits, newest first")
def list_merges(request, filters: Query[MergeFilters]):
    found = selectors.merge_list(actor=request.auth, contact_id=filters.contact)
    page = paginate(found, ordering_key="-id", ordering=("-id",), cursor=filters.cursor, limit=filters.limit)
    return page_response(page)


@router.get("/identity/merges/{event_id}", response=MergeOut)
def get_merge(request, event_id: PathId):
    return selectors.merge_get_for_actor(actor=request.auth, event_id=event_id)


@router.post("/identity/merges/{event_id}/undo", response=MergeOut, summary="Undo a merge or a split")
def undo_merge(request, event_id: PathId):
    event: MergeEvent = selectors.merge_get_for_actor(actor=request.auth, event_id=event_id)
    return merging.merge_undo(actor=request.auth, event=event)


# ---- golden records and export ------------------------------------------------------------------------


@router.get(
    "/identity/contacts/{contact_id}/golden",
    response=list[DecisionOut],
    summary="Why each field of a contact has its value: the survivorship rule and the record",
)
def golden_record(request, contact_id: PathId):
    contact = selectors.golden_contact_get_for_actor(actor=request.auth, contact_id=contact_id)
    return [vars(decision) for decision in selectors.golden_explain(actor=request.auth, contact=contact)]


@router.get(
    "/identity/export",
    summary="source,source_id,contact_id for every source record (CSV)",
    response={200: None},
)
def export(request):
    selectors.source_list(actor=request.auth)  # the read check of the identity resource
    _require_every_contact(request.auth, "the export")
    out = io.StringIO()
    services.identity_export(out)
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="identity.csv"'
    return response
