"""The golden record: a contact's fields computed from its source records, field by field.

Each field has a survivorship rule; the candidates are the non-empty values of the contact's linked
contact records:

- ``most_trusted``: the value of the most trusted source (``Source.trust``), then the most recent;
- ``most_recent``: the value of the most recently received or updated record;
- ``most_frequent``: the value most records agree on, then the most trusted, then the most recent;
- ``most_complete``: the longest value ("Giuseppe" over "G."), then the most trusted.

A manual edit wins over every rule: a field changed by hand (an audit entry ``contact.update``
through the web interface or the API that names the field) keeps its value. The changes this module
makes are recorded as the system's (channel "job", or "import" during an import), so they never
count as manual. Emails and phones of every record become contact points (none is removed); the primary ones
follow ``most_recent``. The most recent complete address (line 1 and city) is added if the contact
does not have it. ``golden_compute`` says, per field, the value, the rule and the record it came
from, so a golden record can always be recomputed and explained.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from cuore.contacts.models import Address, Contact, ContactPoint, PointKind
from cuore.contacts.services import address_add, contact_point_add, contact_update
from cuore.core.audit import audit_channel, current_channel
from cuore.core.errors import ValidationFailed
from cuore.core.models import AuditEntry, Channel
from cuore.core.normalize import email_normalize, phone_normalize
from cuore.identity.models import LinkStatus, RecordKind, SourceRecord

FIELD_RULES: dict[str, str] = {
    "first_name": "most_trusted",
    "last_name": "most_trusted",
    "birth_date": "most_frequent",
    "title": "most_recent",
    "language": "most_recent",
}
MANUAL = "manual"


@dataclass(frozen=True)
class Decision:
    """The value a golden field takes, the rule that chose it and the record it came from."""

    field: str
    value: Any
    rule: str
    record_id: int | None = None
    source: str = ""


def _records(contact: Contact) -> list[SourceRecord]:
    return list(
        SourceRecord.objects.filter(contact=contact, kind=RecordKind.CONTACT, status=LinkStatus.LINKED)
        .select_related("source")
        .order_by("-updated_at", "-id")
    )


def _manual_fields(contact: Contact) -> set[str]:
    entries = AuditEntry.objects.filter(
        object_type="contacts.contact",
        object_id=str(contact.pk),
        action="contact.update",
        channel__in=[Channel.UI, Channel.API],
    ).values_list("changes", flat=True)
    return {name for changes in entries for name in (changes or {})}


def _choose(rule: str, candidates: list[tuple[Any, SourceRecord]]) -> tuple[Any, SourceRecord]:
    def recency(record: SourceRecord) -> tuple:
        return (record.updated_at or dt.datetime.min.replace(tzinfo=dt.UTC), record.pk)

    if rule == "most_recent":
        return max(candidates, key=lambda c: recency(c[1]))
    if rule == "most_trusted":
        return max(candidates, key=lambda c: (c[1].source.trust, recency(c[1])))
    if rule == "most_frequent":
        counts = Counter(_comparable(value) for value, _ in candidates)
        return max(candidates, key=lambda c: (counts[_comparable(c[0])], c[1].source.trust, recency(c[1])))
    if rule == "most_complete":
        return max(candidates, key=lambda c: (len(str(c[0])), c[1].source.trust, recency(c[1])))
    raise ValueError(f"unknown survivorship rule {rule!r}")


def _comparable(value: Any) -> Any:
    return value.strip().casefold() if isinstance(value, str) else value


def golden_compute(
    contact: Contact, records: list[SourceRecord] | None = None, manual: set[str] | None = None
) -> list[Decision]:
    """The golden value of every ruled field of ``contact``, with the rule and the record behind it
    (``records`` newest first and ``manual``, the fields edited by hand, read here when not given)."""
    records = _records(contact) if records is None else records
    manual = _manual_fields(contact) if manual is None else manual
    decisions = []
    for field, rule in FIELD_RULES.items():
        if field in manual:
            decisions.append(Decision(field, getattr(contact, field), MANUAL))
            continue
        candidates = [(r.values.get(field), r) for r in records if r.values.get(field) not in (None, "")]
        if not candidates:
            decisions.append(Decision(field, getattr(contact, field), "unchanged"))
            continue
        value, record = _choose(rule, candidates)
        decisions.append(Decision(field, value, rule, record.pk, record.source.name))
    return decisions


def _as_field_value(field: str, value: Any) -> Any:
    if field == "birth_date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return value


def golden_changes(contact: Contact, records: list[SourceRecord], manual: set[str] | None = None) -> dict[str, Any]:
    """The fields of ``contact`` its records now give another value (manual edits kept)."""
    data = {}
    for decision in golden_compute(contact, records, manual):
        if decision.rule in (MANUAL, "unchanged"):
            continue
        value = _as_field_value(decision.field, decision.value)
        if value not in (None, "") and value != getattr(contact, decision.field):
            data[decision.field] = value
    return data


def golden_apply(*, actor: Any, contact: Contact, records: list[SourceRecord] | None = None) -> dict[str, Any]:
    """Bring ``contact`` in line with its records; return the fields changed and the points and address added."""
    records = _records(contact) if records is None else records
    if not records:
        return {}
    data = golden_changes(contact, records)
    applied: dict[str, Any] = {}
    # A recomputed field is not a manual edit, even when a person's merge caused it: it is recorded
    # as the system's, so that the next recomputation may change it again.
    channel = current_channel()
    with audit_channel(Channel.JOB if channel in (Channel.UI, Channel.API) else channel):
        fields_apply(actor, contact, data, applied)
        applied["points"] = _points_apply(actor, contact, records)
        applied["address"] = address_apply(actor, contact, records)
    return applied


def fields_apply(actor: Any, contact: Contact, data: dict[str, Any], applied: dict[str, Any]) -> None:
    if data:
        try:
            contact_update(actor=actor, contact=contact, data=data)
            applied["fields"] = sorted(data)
        except ValidationFailed:
            # A source's value the contact cannot take (a birth date in the future): keep the others.
            for field, value in data.items():
                try:
                    contact_update(actor=actor, contact=contact, data={field: value})
                except ValidationFailed:
                    continue


def _points_apply(actor: Any, contact: Contact, records: list[SourceRecord]) -> int:
    """Every record's email and phones as contact points; the newest record's is primary if none is."""
    have = set(ContactPoint.objects.filter(contact=contact).values_list("kind", "value_normalized"))
    added = 0
    for record in records:  # newest first: the first one added becomes primary when there is none
        for field, kind, normalize in (
            ("email", PointKind.EMAIL, email_normalize),
            ("phone", PointKind.PHONE, phone_normalize),
            ("mobile", PointKind.MOBILE, phone_normalize),
        ):
            value = (record.values.get(field) or "").strip()
            if not value:
                continue
            try:
                key = (kind, normalize(value))
            except ValueError:
                continue
            if key in have:
                continue
            try:
                contact_point_add(actor=actor, contact=contact, kind=kind, value=value)
            except ValidationFailed:
                continue
            have.add(key)
            added += 1
    return added


def address_apply(actor: Any, contact: Contact, records: list[SourceRecord]) -> bool:
    for record in records:  # newest first
        line1, city = (record.values.get("line1") or "").strip(), (record.values.get("city") or "").strip()
        if not (line1 and city):
            continue
        postal_code = (record.values.get("postal_code") or "").strip()
        if Address.objects.filter(
            contact=contact, line1__iexact=line1, city__iexact=city, postal_code=postal_code
        ).exists():
            return False
        try:
            address_add(
                actor=actor,
                owner=contact,
                kind="home",
                line1=line1,
                line2=(record.values.get("line2") or "").strip(),
                postal_code=postal_code,
                city=city,
                province=(record.values.get("province") or "").strip(),
                country=(record.values.get("country") or "IT").strip() or "IT",
                is_primary=not Address.objects.filter(contact=contact).exists(),
            )
        except ValidationFailed:
            continue
        return True
    return False


def golden_values(records: list[SourceRecord]) -> dict[str, Any]:
    """The fields a new contact starts with, from its records alone (no manual edits exist yet)."""
    values: dict[str, Any] = {}
    for field, rule in FIELD_RULES.items():
        candidates = [(r.values.get(field), r) for r in records if r.values.get(field) not in (None, "")]
        if candidates:
            value = _as_field_value(field, _choose(rule, candidates)[0])
            if value not in (None, ""):
                values[field] = value
    return values
