"""Merge two contacts, split a source record off a contact, and undo either.

A merge moves everything that points at the contact merged away — whatever app it belongs to:
orders, interactions, tickets, deals, activities, consents, contact points, addresses, account links,
source records — to the contact that stays, by following the relations Django knows of
``Contact`` (so an app added later is moved too, without this module importing it). Rows that
cannot move because the survivor already has their twin (the same email, the same account link)
are kept in the event and deleted; derived one-to-one rows (analytics scores) are left to the next
run. The contact merged away is deleted, its fields kept in the event. Undoing re-creates it with
its id, moves back exactly the rows the merge moved and re-creates the dropped ones.

A split takes one source record off a contact: a new contact is created from that record, and the
record's own history moves with it (the orders and interactions imported under it: the records
whose ``parent`` it is). Undoing a split moves them back and deletes the new contact when nothing
else points at it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from cuore.contacts.models import Address, Contact, ContactPoint
from cuore.contacts.services import contact_create
from cuore.core.audit import audit_record, snapshot
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.visibility import require_write
from cuore.identity import golden
from cuore.identity.models import (
    LinkMethod,
    MergeEvent,
    MergeKind,
    RecordKind,
    ReviewItem,
    ReviewStatus,
    SourceRecord,
)

# Contact fields re-created on undo; the name keys are recomputed by the model's service-side setter.
_SKIPPED_FIELDS = {"id"}


def _relations() -> list[models.ForeignKey]:
    """Every foreign key to Contact, in every installed app (one-to-one and the merge log excluded)."""
    fields = []
    for model in apps.get_models():
        if model is MergeEvent:  # the log names the contacts as they were
            continue
        for field in model._meta.concrete_fields:
            if (
                isinstance(field, models.ForeignKey)
                and not isinstance(field, models.OneToOneField)
                and field.related_model is Contact
            ):
                fields.append(field)
    return fields


def _unique_sets(field: models.ForeignKey) -> list[tuple[list[str], models.Q | None]]:
    """The unique constraints of ``field``'s model that include it: (other fields, condition)."""
    model = field.model
    sets = []
    for constraint in model._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint) and field.name in constraint.fields:
            sets.append(([name for name in constraint.fields if name != field.name], constraint.condition))
    for together in model._meta.unique_together:
        if field.name in together:
            sets.append(([name for name in together if name != field.name], None))
    return sets


def _row(instance: models.Model) -> dict[str, Any]:
    """The row's column values, ready for JSON (re-created by ``_restore``)."""
    values = {}
    for field in instance._meta.concrete_fields:
        value = getattr(instance, field.attname)
        values[field.attname] = (
            value.isoformat() if hasattr(value, "isoformat") else (str(value) if isinstance(value, Decimal) else value)
        )
    return values


def _restore(label: str, values: dict[str, Any]) -> None:
    model = apps.get_model(label)
    instance = model()
    for field in model._meta.concrete_fields:
        if field.attname in values:
            value = values[field.attname]
            setattr(instance, field.attname, None if value is None else field.to_python(value))
    instance.save(force_insert=True)


def _move(field: models.ForeignKey, source: Contact, target: Contact) -> tuple[list[int], list[dict]]:
    """Point ``field``'s rows from ``source`` to ``target``; return the ids moved and the rows dropped."""
    model = field.model
    rows = model._default_manager.filter(**{field.name: source})
    unique_sets = _unique_sets(field)
    dropped: list[dict] = []
    if unique_sets:
        for row in list(rows):
            for others, condition in unique_sets:
                twins = model._default_manager.filter(
                    **{field.name: target}, **{name: getattr(row, name) for name in others}
                )
                if condition is not None:
                    if not model._default_manager.filter(condition, pk=row.pk).exists():
                        continue
                    twins = twins.filter(condition)
                if twins.exists():
                    dropped.append({"model": model._meta.label_lower, "fields": _row(row)})
                    row.delete()
                    break
    ids = list(rows.values_list("pk", flat=True))
    model._default_manager.filter(pk__in=ids).update(**{field.name: target})
    return ids, dropped


@transaction.atomic
def contacts_merge(*, actor: Any, survivor: Contact, other: Contact, reason: str = "") -> MergeEvent:
    """Merge ``other`` into ``survivor``: move its history and records, then delete it; return the event."""
    require_write(actor, "contacts")
    if survivor.pk == other.pk:
        raise ValidationFailed(field="other", reason="a contact cannot be merged into itself")
    survivor = Contact.objects.select_for_update().get(pk=survivor.pk)
    other = Contact.objects.select_for_update().get(pk=other.pk)
    event = MergeEvent(
        kind=MergeKind.MERGE,
        contact=survivor,
        other_id=other.pk,
        snapshot=snapshot(other),
        reason=reason.strip()[:500],
        actor=actor if getattr(actor, "pk", None) else None,
    )
    moved: dict[str, dict[str, list[int]]] = {}
    dropped: list[dict] = []
    for field in _relations():
        ids, lost = _move(field, other, survivor)
        if ids:
            moved.setdefault(field.model._meta.label_lower, {})[field.name] = ids
        dropped += lost
    tags = list(other.tags.exclude(pk__in=survivor.tags.values("pk")).values_list("pk", flat=True))
    survivor.tags.add(*tags)
    event.snapshot["tags"] = list(other.tags.values_list("pk", flat=True))
    event.moved, event.dropped, event.tags = moved, dropped, tags
    event.snapshot["demoted"] = _demote_primaries(survivor, moved)
    # A question about these two is answered by the merge itself (and asked again if it is undone).
    answered = ReviewItem.objects.filter(contact=survivor, candidate=survivor, status=ReviewStatus.OPEN)
    event.snapshot["answered"] = list(answered.values_list("pk", flat=True))
    answered.update(status=ReviewStatus.ACCEPTED, decided_by=event.actor, decided_at=timezone.now())
    other.delete()  # nothing points at it any more but one-to-one derived rows
    event.save()
    SourceRecord.objects.filter(contact=survivor, kind=RecordKind.CONTACT, pk__in=_moved_records(moved)).update(
        link_method=LinkMethod.MERGE, linked_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="contact.merge",
        instance=survivor,
        changes={"merged": [event.other_id, None], "reason": [None, event.reason]},
    )
    golden.golden_apply(actor=actor, contact=survivor)
    return event


def _demote_primaries(survivor: Contact, moved: dict[str, dict[str, list[int]]]) -> list[int | list[int]]:
    """Keep the survivor's own primary email, phone… and address: a moved row that was primary where the
    survivor has one already is primary no more. Returns [point ids, address ids] demoted, for the undo."""
    point_ids = moved.get(ContactPoint._meta.label_lower, {}).get("contact", [])
    kinds = set(
        ContactPoint.objects.filter(contact=survivor, is_primary=True)
        .exclude(pk__in=point_ids)
        .values_list("kind", flat=True)
    )
    points = list(
        ContactPoint.objects.filter(pk__in=point_ids, is_primary=True, kind__in=kinds).values_list("pk", flat=True)
    )
    address_ids = moved.get(Address._meta.label_lower, {}).get("contact", [])
    has_primary = Address.objects.filter(contact=survivor, is_primary=True).exclude(pk__in=address_ids).exists()
    addresses = (
        list(Address.objects.filter(pk__in=address_ids, is_primary=True).values_list("pk", flat=True))
        if has_primary
        else []
    )
    ContactPoint.objects.filter(pk__in=points).update(is_primary=False)
    Address.objects.filter(pk__in=addresses).update(is_primary=False)
    return [points, addresses]


def _moved_records(moved: dict[str, dict[str, list[int]]]) -> list[int]:
    return moved.get(SourceRecord._meta.label_lower, {}).get("contact", [])


@transaction.atomic
def record_split(*, actor: Any, record: SourceRecord, reason: str = "") -> MergeEvent:
    """Take ``record`` off its contact into a new contact of its own, with the history imported under it."""
    require_write(actor, "contacts")
    if record.kind != RecordKind.CONTACT or record.contact_id is None:
        raise Conflict("only a contact record linked to a contact can be split off")
    original = Contact.objects.select_for_update().get(pk=record.contact_id)
    if not SourceRecord.objects.filter(contact=original, kind=RecordKind.CONTACT).exclude(pk=record.pk).exists():
        raise Conflict("this is the contact's only record: there is nothing to split it from")
    values = golden.golden_values([record])
    if not (values.get("first_name") or values.get("last_name")):
        values["last_name"] = record.source_key
    new = contact_create(actor=actor, owner=original.owner, team=original.team, **values)
    moved: dict[str, dict[str, list[int]]] = {}
    children = SourceRecord.objects.filter(parent=record)
    for label in ("orders.order", "interactions.interaction"):
        object_ids = list(
            children.filter(object_type=label, object_id__isnull=False).values_list("object_id", flat=True)
        )
        if not object_ids:
            continue
        model = apps.get_model(label)
        ids = list(model._default_manager.filter(pk__in=object_ids, contact=original).values_list("pk", flat=True))
        model._default_manager.filter(pk__in=ids).update(contact=new)
        moved[label] = {"contact": ids}
    child_ids = list(children.filter(contact=original).values_list("pk", flat=True))
    SourceRecord.objects.filter(pk__in=[record.pk, *child_ids]).update(contact=new)
    moved[SourceRecord._meta.label_lower] = {"contact": [record.pk, *child_ids]}
    SourceRecord.objects.filter(pk=record.pk).update(
        link_method=LinkMethod.SPLIT, link_score=None, link_evidence=[], linked_at=timezone.now()
    )
    event = MergeEvent.objects.create(
        kind=MergeKind.SPLIT,
        contact=original,
        other_id=new.pk,
        moved=moved,
        record=record,
        reason=reason.strip()[:500],
        actor=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action="contact.split",
        instance=original,
        changes={"split": [record.pk, new.pk], "reason": [None, event.reason]},
    )
    golden.golden_apply(actor=actor, contact=new)
    golden.golden_apply(actor=actor, contact=original)
    return event


@transaction.atomic
def merge_undo(*, actor: Any, event: MergeEvent) -> MergeEvent:
    """Undo a merge or a split: move back what it moved, re-create what it deleted."""
    require_write(actor, "contacts")
    event = MergeEvent.objects.select_for_update().get(pk=event.pk)
    if event.undone_at is not None:
        raise Conflict("this change has already been undone")
    if event.contact_id is None or not Contact.objects.filter(pk=event.contact_id).exists():
        raise Conflict("the contact it kept has since been merged away or deleted: undo that first")
    if (
        event.kind == MergeKind.SPLIT
        and MergeEvent.objects.filter(
            kind=MergeKind.MERGE, other_id=event.other_id, undone_at__isnull=True, pk__gt=event.pk
        ).exists()
    ):
        raise Conflict("the contact it created has since been merged into another: undo that merge first")
    if event.kind == MergeKind.MERGE:
        _undo_merge(actor, event)
    else:
        _undo_split(actor, event)
    event.undone_at = timezone.now()
    event.undone_by = actor if getattr(actor, "pk", None) else None
    event.save(update_fields=["undone_at", "undone_by"])
    return event


def _undo_merge(actor: Any, event: MergeEvent) -> None:
    if Contact.objects.filter(pk=event.other_id).exists():
        raise Conflict("the merged contact's id is taken again; it cannot be re-created")
    values = {
        k: v for k, v in event.snapshot.items() if k not in _SKIPPED_FIELDS and k not in ("tags", "demoted", "answered")
    }
    fields = {f.name: f for f in Contact._meta.concrete_fields}
    restored = Contact(pk=event.other_id)
    for name, value in values.items():
        field = fields.get(name)
        if field is None:
            continue
        setattr(restored, field.attname, field.to_python(value) if value is not None else None)
    restored.save(force_insert=True)
    for label, by_field in event.moved.items():
        model = apps.get_model(label)
        for name, ids in by_field.items():
            model._default_manager.filter(pk__in=ids, **{name: event.contact_id}).update(**{name: restored})
    for row in event.dropped:
        try:
            with transaction.atomic():
                _restore(row["model"], row["fields"])
        except IntegrityError:
            continue  # its twin has changed since; the twin stays with the survivor
    points, addresses = event.snapshot.get("demoted", [[], []])
    ContactPoint.objects.filter(pk__in=points, contact=restored).update(is_primary=True)
    Address.objects.filter(pk__in=addresses, contact=restored).update(is_primary=True)
    ReviewItem.objects.filter(pk__in=event.snapshot.get("answered", []), status=ReviewStatus.ACCEPTED).update(
        status=ReviewStatus.OPEN, decided_by=None, decided_at=None
    )
    restored.tags.add(*event.snapshot.get("tags", []))
    survivor = Contact.objects.get(pk=event.contact_id)
    survivor.tags.remove(*event.tags)
    SourceRecord.objects.filter(pk__in=_moved_records(event.moved), contact=restored).update(
        link_method=LinkMethod.MANUAL, linked_at=timezone.now()
    )
    audit_record(actor=actor, action="contact.unmerge", instance=survivor, changes={"unmerged": [None, restored.pk]})
    audit_record(
        actor=actor, action="contact.restore", instance=restored, changes={"restored_from_merge": [None, event.pk]}
    )
    golden.golden_apply(actor=actor, contact=survivor)


def _undo_split(actor: Any, event: MergeEvent) -> None:
    new = Contact.objects.filter(pk=event.other_id).first()
    original = Contact.objects.get(pk=event.contact_id)
    for label, by_field in event.moved.items():
        model = apps.get_model(label)
        for name, ids in by_field.items():
            model._default_manager.filter(pk__in=ids, **{name: event.other_id}).update(**{name: original})
    if event.record_id:
        SourceRecord.objects.filter(pk=event.record_id).update(link_method=LinkMethod.MANUAL, linked_at=timezone.now())
    if new is not None:
        left = [field for field in _relations() if field.model._default_manager.filter(**{field.name: new}).exists()]
        if all(field.model in (ContactPoint, Address) for field in left):
            # Only what the split itself gave it (points and address from the record): they are the original's too.
            new.delete()
        audit_record(actor=actor, action="contact.unsplit", instance=original, changes={"unsplit": [new.pk, None]})
    golden.golden_apply(actor=actor, contact=original)
