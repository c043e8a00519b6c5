"""New contacts for many resolved groups of records at once: the batch path of resolution and imports.

Creating a contact through ``contact_create`` and its points one by one costs a dozen queries; a
resolution of a hundred thousand new people would take an hour. Here each batch is a handful of
bulk inserts — contacts, their audit entries, contact points (every email and phone of the group,
and each record's own id as an external id of its source) and the most recent complete address —
with the same values the services would write (the same name keys, the same normalised points,
the first of each kind primary) and the same audit trail (one ``contact.create`` per contact).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from cuore.contacts.models import Address, Contact, ContactPoint, PointKind
from cuore.core.audit import current_channel
from cuore.core.models import AuditEntry
from cuore.core.normalize import email_normalize, phone_normalize, text_key
from cuore.core.visibility import require_write
from cuore.identity import golden
from cuore.identity.models import LinkMethod, LinkStatus, SourceRecord


def insert_many(model: type[models.Model], objects: Sequence[models.Model], *, batch: int = 5_000) -> None:
    """Insert rows that need no id back: one prepared INSERT run over them (``bulk_create`` compiles
    SQL per batch and value, three times slower for the points, addresses, audit entries and keys)."""
    if not objects:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(objects), batch):
            cursor.executemany(
                sql,
                [
                    tuple(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)
                    for obj in objects[start : start + batch]
                ],
            )


def _birth_date_ok(value: Any) -> bool:
    return value is not None and value.year >= 1900 and value <= timezone.now().date()


@transaction.atomic
def contacts_create_for_groups(
    *, actor: Any, groups: list[list[SourceRecord]], scores: dict[int, tuple[float | None, list]] | None = None
) -> list[Contact]:
    """One new contact per group of records (newest record first); link the records; return the contacts.

    ``scores`` gives, per record id, the probability and evidence of its link (the group's first
    record is the one the contact is "new" for).
    """
    require_write(actor, "contacts")
    scores = scores or {}
    owner = actor if getattr(actor, "pk", None) else None
    team_id = getattr(actor, "team_id", None)
    contacts = []
    for records in groups:
        values = golden.golden_values(records)
        if not (values.get("first_name") or values.get("last_name")):
            values["last_name"] = records[0].source_key[:100]
        if "birth_date" in values and not _birth_date_ok(values["birth_date"]):
            del values["birth_date"]
        contact = Contact(
            first_name=(values.get("first_name") or "")[:100],
            last_name=(values.get("last_name") or "")[:100],
            title=(values.get("title") or "")[:100],
            language=(values.get("language") or "")[:8],
            birth_date=values.get("birth_date"),
            source=records[0].source.name[:50],
            owner=owner,
            team_id=team_id,
        )
        contact.first_name_key = text_key(contact.first_name)
        contact.last_name_key = text_key(contact.last_name)
        contacts.append(contact)
    Contact.objects.bulk_create(contacts, batch_size=2_000)
    channel, label = current_channel(), getattr(actor, "username", "") if owner else "system"
    insert_many(
        AuditEntry,
        [
            AuditEntry(
                actor=owner,
                actor_label=label,
                action="contact.create",
                object_type="contacts.contact",
                object_id=str(contact.pk),
                object_repr=contact.full_name[:200],
                changes={"first_name": [None, contact.first_name], "last_name": [None, contact.last_name]},
                channel=channel,
            )
            for contact in contacts
        ],
    )
    points, addresses, linked = [], [], []
    now = timezone.now()
    for contact, records in zip(contacts, groups, strict=True):
        seen: set[tuple[str, str]] = set()
        for record in records:
            for name, kind, normalize in (
                ("email", PointKind.EMAIL, email_normalize),
                ("phone", PointKind.PHONE, phone_normalize),
                ("mobile", PointKind.MOBILE, phone_normalize),
            ):
                value = str(record.values.get(name) or "").strip()
                if not value or len(value) > 254:
                    continue
                try:
                    normalized = normalize(value)
                except ValueError:
                    continue
                if (kind, normalized) in seen:
                    continue
                primary = not any(k == kind for k, _ in seen)
                seen.add((kind, normalized))
                points.append(
                    ContactPoint(
                        contact=contact, kind=kind, value=value, value_normalized=normalized, is_primary=primary
                    )
                )
            points.append(
                ContactPoint(
                    contact=contact,
                    kind=PointKind.EXTERNAL_ID,
                    value=record.source_key,
                    value_normalized=record.source_key,
                    label=record.source.name,
                    is_primary=not any(k == PointKind.EXTERNAL_ID for k, _ in seen),
                )
            )
            seen.add((PointKind.EXTERNAL_ID, f"{record.source.name}:{record.source_key}"))
        for record in records:
            line1, city = str(record.values.get("line1") or "").strip(), str(record.values.get("city") or "").strip()
            country = str(record.values.get("country") or "IT").strip().upper() or "IT"
            if line1 and city and len(country) == 2:
                addresses.append(
                    Address(
                        contact=contact,
                        kind="home",
                        line1=line1[:200],
                        line2=str(record.values.get("line2") or "").strip()[:200],
                        postal_code=str(record.values.get("postal_code") or "").strip()[:16],
                        city=city[:100],
                        province=str(record.values.get("province") or "").strip()[:100],
                        country=country,
                        is_primary=True,
                    )
                )
                break
        for position, record in enumerate(records):
            score, evidence = scores.get(record.pk, (None, []))
            record.contact = contact
            record.status = LinkStatus.LINKED
            record.link_method = LinkMethod.NEW if position == 0 else LinkMethod.PROBABILISTIC
            record.link_score = None if position == 0 else score
            record.link_evidence = [] if position == 0 else evidence
            record.linked_at = now
            linked.append(record)
    insert_many(ContactPoint, points)
    insert_many(Address, addresses)
    records_link_many(linked)
    return contacts


def records_link_many(records: list[SourceRecord]) -> None:
    """Write the link fields of many records: one prepared UPDATE run over them (``bulk_update`` builds a
    CASE per field and row, and took most of a 10,000-record resolution)."""
    table = connection.ops.quote_name(SourceRecord._meta.db_table)
    json_value = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    sql = (
        f"UPDATE {table} SET contact_id = %s, status = %s, link_method = %s, link_score = %s, "
        f"link_evidence = {json_value}, linked_at = %s WHERE id = %s"
    )
    linked_at = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(records), 5_000):
            cursor.executemany(
                sql,
                [
                    (
                        r.contact_id,
                        r.status,
                        r.link_method,
                        r.link_score,
                        json.dumps(r.link_evidence),
                        linked_at(r.linked_at),
                        r.pk,
                    )
                    for r in records[start : start + 5_000]
                ],
            )
