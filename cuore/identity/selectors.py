"""Reads of identity resolution, scoped to the actor: sources, source records, the review queue, merges.

A source record is visible with the contact it is linked to (a sales rep sees the records of their
team's contacts); records not linked to a contact (pending, or accounts, products, orders…) are
visible to the roles that see every contact. A review item is visible when both its contacts are.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from cuore.contacts.models import Contact
from cuore.contacts.selectors import contact_visible
from cuore.core.errors import NotFound
from cuore.core.visibility import Scope, read_scope, require_read
from cuore.identity import golden
from cuore.identity.models import LinkStatus, MergeEvent, RecordKind, ReviewItem, ReviewStatus, Source, SourceRecord


def source_list(*, actor: Any) -> QuerySet[Source]:
    require_read(actor, "identity")
    return Source.objects.order_by("name")


def source_get_for_actor(*, actor: Any, source_id: int) -> Source:
    require_read(actor, "identity")
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        raise NotFound("source")
    return source


def record_visible(*, actor: Any) -> QuerySet[SourceRecord]:
    """The source records ``actor`` may see (see the module docstring)."""
    require_read(actor, "identity")
    records = SourceRecord.objects.all()
    if read_scope(actor, "identity") is Scope.ALL and read_scope(actor, "contacts") is Scope.ALL:
        return records
    return records.filter(contact__in=contact_visible(actor=actor))


def record_list(
    *,
    actor: Any,
    contact_id: int | None = None,
    source: str | None = None,
    kind: str | None = None,
    status: str | None = None,
) -> QuerySet[SourceRecord]:
    records = record_visible(actor=actor).select_related("source")
    if contact_id is not None:
        records = records.filter(contact_id=contact_id)
    if source:
        records = records.filter(source__name=source)
    if kind:
        records = records.filter(kind=kind)
    if status:
        records = records.filter(status=status)
    return records


def record_get_for_actor(*, actor: Any, record_id: int) -> SourceRecord:
    record = record_visible(actor=actor).select_related("source", "contact", "parent").filter(pk=record_id).first()
    if record is None:
        raise NotFound("source record")
    return record


def contact_records(*, actor: Any, contact: Contact) -> list[SourceRecord]:
    """The records linked to a contact (the contact is visible to ``actor``), newest first."""
    require_read(actor, "identity")
    return list(
        SourceRecord.objects.filter(contact=contact).select_related("source").order_by("kind", "-updated_at", "-id")
    )


def review_visible(*, actor: Any) -> QuerySet[ReviewItem]:
    require_read(actor, "identity")
    items = ReviewItem.objects.all()
    if read_scope(actor, "contacts") is Scope.ALL:
        return items
    visible = contact_visible(actor=actor)
    return items.filter(Q(contact__in=visible) & Q(candidate__in=visible))


def review_list(*, actor: Any, status: str | None = ReviewStatus.OPEN) -> QuerySet[ReviewItem]:
    """The review queue, most likely matches first."""
    items = review_visible(actor=actor).select_related("contact", "candidate")
    if status:
        items = items.filter(status=status)
    return items


def review_get_for_actor(*, actor: Any, item_id: int) -> ReviewItem:
    item = (
        review_visible(actor=actor)
        .select_related("contact", "candidate", "record__source", "candidate_record__source", "decided_by")
        .filter(pk=item_id)
        .first()
    )
    if item is None:
        raise NotFound("review item")
    return item


def merge_list(*, actor: Any, contact_id: int | None = None) -> QuerySet[MergeEvent]:
    """Merges and splits, newest first; for one contact, those that kept or created it."""
    require_read(actor, "identity")
    events = MergeEvent.objects.select_related("actor", "undone_by", "record__source")
    if contact_id is not None:
        events = events.filter(Q(contact_id=contact_id) | Q(other_id=contact_id))
    if read_scope(actor, "contacts") is not Scope.ALL:
        events = events.filter(contact_id__in=contact_visible(actor=actor).values("pk"))
    return events


def merge_get_for_actor(*, actor: Any, event_id: int) -> MergeEvent:
    event = merge_list(actor=actor).filter(pk=event_id).first()
    if event is None:
        raise NotFound("merge")
    return event


def golden_contact_get_for_actor(*, actor: Any, contact_id: int) -> Contact:
    """The contact whose golden record ``actor`` asks about, or ``NotFound``.

    Not ``contact_get_for_actor``: its points, addresses, accounts and tags (four queries) are not
    part of the golden record.
    """
    require_read(actor, "identity")
    contact = contact_visible(actor=actor).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("contact")
    return contact


def golden_explain(*, actor: Any, contact: Contact) -> list[golden.Decision]:
    """Each golden field of the contact: its value, the rule that chose it and the record it came from."""
    require_read(actor, "identity")
    return golden.golden_compute(contact)


def source_record_counts(*, actor: Any) -> dict[int, dict[str, int]]:
    """Per source id: the records ``actor`` may see, how many are contact records and how many still wait."""
    rows = (
        record_visible(actor=actor)
        .order_by()
        .values("source_id")
        .annotate(
            records=Count("id"),
            contacts=Count("id", filter=Q(kind=RecordKind.CONTACT)),
            pending=Count("id", filter=Q(status=LinkStatus.PENDING)),
        )
    )
    return {
        row["source_id"]: {"records": row["records"], "contacts": row["contacts"], "pending": row["pending"]}
        for row in rows
    }


def contact_source_names(*, actor: Any, contact_ids: list[int]) -> dict[int, list[str]]:
    """The sources each of the given contacts has records from, by name (one query for a page of contacts)."""
    names: dict[int, list[str]] = {}
    rows = (
        record_visible(actor=actor)
        .filter(contact_id__in=contact_ids)
        .order_by("contact_id", "source__name")
        .values_list("contact_id", "source__name")
        .distinct()
    )
    for contact_id, name in rows:
        names.setdefault(contact_id, []).append(name)
    return names
