"""Writes of identity resolution: sources, source records, linking records to golden contacts, review.

A contact record is linked to a contact in this order:

1. **deterministic rules**: the same external id (the record's own id in its source, kept as an
   external-id contact point, or an id of another system it carries), the same verified email, the
   same tax code — linked at once, probability 1;
2. **probabilistic matching** (``matching``): Fellegi–Sunter with blocking, weights estimated from
   the data by expectation–maximisation. At or above ``LINK_THRESHOLD`` the record is linked to the
   matching contact; between ``REVIEW_THRESHOLD`` and it, the record gets a contact of its own and
   the pair goes to the review queue; below, it simply gets its own contact.

``identity_resolve`` links every pending record: in one batch (blocking over all records, the model
re-estimated) when there are many or no model yet, otherwise one by one through the stored blocking
keys (``record_match``, also used for a record arriving through the API).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from cuore.contacts.models import Contact, ContactPoint, PointKind
from cuore.contacts.services import contact_point_add
from cuore.core.audit import audit_record
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.normalize import email_normalize
from cuore.core.visibility import require_write
from cuore.identity import bulk, golden, matching
from cuore.identity.merging import contacts_merge
from cuore.identity.models import (
    BlockKey,
    LinkMethod,
    LinkStatus,
    MatchModelState,
    RecordKind,
    ReviewItem,
    ReviewStatus,
    Source,
    SourceRecord,
)

LINK_THRESHOLD = 0.95
REVIEW_THRESHOLD = 0.50
# Above this many pending records (or this share of all), resolve in one batch rather than one by one.
BATCH_PENDING = 5_000
BATCH_SHARE = 0.2
# Retrain the model when the records have grown by this factor since it was estimated.
RETRAIN_GROWTH = 1.5
# A new record is compared with at most this many records sharing a blocking key.
MAX_CANDIDATES = 2_000
# Below this many contact records EM cannot learn the model: the default one is used (see ``_default_model``).
MIN_TRAIN_RECORDS = 2_000
DEFAULT_MODEL = Path(matching.__file__).parent / "default_model.json"
MATCH_FIELDS = matching.FIELDS


# --- sources and records -----------------------------------------------------------------------------


def source_ensure(*, actor: Any, name: str, label: str = "") -> Source:
    """The source called ``name`` (a slug: letters, digits, - and _), created on first use."""
    require_write(actor, "identity")
    name = (name or "").strip().lower()
    if not name or len(name) > 50 or not all(c.isalnum() or c in "-_" for c in name):
        raise ValidationFailed(field="source", reason="a name of letters, digits, - and _, at most 50 characters")
    source, created = Source.objects.get_or_create(name=name, defaults={"label": label.strip()[:100]})
    if created:
        audit_record(actor=actor, action="source.create", instance=source, changes={"name": [None, name]})
    return source


@transaction.atomic
def source_update(*, actor: Any, source: Source, label: str | None = None, trust: int | None = None) -> Source:
    """Change a source's label or trust (0–100; survivorship prefers the most trusted)."""
    require_write(actor, "identity")
    changes: dict[str, list[Any]] = {}
    if trust is not None:
        if not 0 <= trust <= 100:
            raise ValidationFailed(field="trust", reason="from 0 to 100")
        changes["trust"] = [source.trust, trust]
        source.trust = trust
    if label is not None:
        changes["label"] = [source.label, label.strip()[:100]]
        source.label = label.strip()[:100]
    source.save()
    audit_record(actor=actor, action="source.update", instance=source, changes=changes)
    return source


def record_upsert(
    *,
    source: Source,
    kind: str,
    key: str,
    raw: dict[str, Any],
    values: dict[str, Any],
    parent: SourceRecord | None = None,
) -> tuple[SourceRecord, str]:
    """Keep a record as the source sent it; return it and "created", "updated" or "unchanged".

    Re-sending the same record changes nothing. A contact record whose values change stays linked to
    its contact (its golden record is recomputed by the caller); a new one waits to be resolved.
    """
    key = str(key).strip()
    if not key:
        raise ValidationFailed(field="source_id", reason="is required")
    if len(key) > 128:
        raise ValidationFailed(field="source_id", reason="must be at most 128 characters")
    record = SourceRecord.objects.filter(source=source, kind=kind, source_key=key).first()
    if record is None:
        record = SourceRecord.objects.create(
            source=source, kind=kind, source_key=key, raw=raw, values=values, parent=parent
        )
        return record, "created"
    if record.values == values and record.raw == raw and record.parent_id == (parent.pk if parent else None):
        return record, "unchanged"
    record.raw, record.values, record.parent = raw, values, parent
    record.save(update_fields=["raw", "values", "parent", "updated_at"])
    return record, "updated"


def records_upsert_many(
    *, source: Source, kind: str, items: list[tuple[str, dict[str, Any], dict[str, Any]]]
) -> list[tuple[SourceRecord, str]]:
    """``record_upsert`` for many records of one source at once (key, raw, values), keys distinct:
    one query finds the existing ones, one prepared insert writes the new ones (returned without
    their ids); changed ones are updated."""
    keys = [str(key).strip() for key, _, _ in items]
    for key in keys:
        if not key:
            raise ValidationFailed(field="source_id", reason="is required")
        if len(key) > 128:
            raise ValidationFailed(field="source_id", reason="must be at most 128 characters")
    existing = {r.source_key: r for r in SourceRecord.objects.filter(source=source, kind=kind, source_key__in=keys)}
    results: list[tuple[SourceRecord, str]] = []
    new: list[SourceRecord] = []
    for key, (_, raw, values) in zip(keys, items, strict=True):
        record = existing.get(key)
        if record is None:
            record = SourceRecord(source=source, kind=kind, source_key=key, raw=raw, values=values)
            new.append(record)
            results.append((record, "created"))
        elif record.values == values and record.raw == raw:
            results.append((record, "unchanged"))
        else:
            record.raw, record.values = raw, values
            record.save(update_fields=["raw", "values", "updated_at"])
            results.append((record, "updated"))
    bulk.insert_rows(
        SourceRecord,
        ("source", "kind", "source_key", "raw", "values"),
        ((source.pk, kind, r.source_key, r.raw, r.values) for r in new),
    )
    return results


# --- contacts entered in Cuore ------------------------------------------------------------------------

CRM_SOURCE = "cuore"


def identity_backfill(*, actor: Any, batch: int = 2_000) -> int:
    """Give each contact that has no contact record one from its current fields, in the source "cuore".

    Contacts typed into the CRM, or there before identity resolution, then take part in matching
    like any other: a record arriving later finds them through their blocking keys. Returns how
    many records were created.
    """
    require_write(actor, "identity")
    source = source_ensure(actor=actor, name=CRM_SOURCE, label="Cuore")
    linked = SourceRecord.objects.filter(kind=RecordKind.CONTACT, contact__isnull=False).values("contact_id")
    missing = Contact.objects.exclude(pk__in=linked).order_by("pk").values_list("pk", flat=True)
    created = 0
    last = 0
    while True:
        ids = list(missing.filter(pk__gt=last)[:batch])
        if not ids:
            return created
        last = ids[-1]
        contacts = Contact.objects.filter(pk__in=ids).prefetch_related("points", "addresses")
        records = [
            SourceRecord(
                source=source,
                kind=RecordKind.CONTACT,
                source_key=str(contact.pk),
                values=(values := _contact_values(contact)),
                raw=values,
                contact=contact,
                status=LinkStatus.LINKED,
                link_method=LinkMethod.CRM,
                linked_at=timezone.now(),
            )
            for contact in contacts
        ]
        with transaction.atomic():
            SourceRecord.objects.bulk_create(records, batch_size=1_000)
            stored = list(
                SourceRecord.objects.filter(
                    source=source, kind=RecordKind.CONTACT, source_key__in=[str(i) for i in ids]
                )
                .order_by("pk")
                .values("id", "values")
            )
            record_ids, columns = _columns(stored)
            _keys_store(record_ids, matching.prepare(np.array(record_ids, dtype=np.int64), columns))
        created += len(records)


def _contact_values(contact: Contact) -> dict[str, Any]:
    """A contact's fields as a source record's values (primary email and phone, primary address)."""
    values: dict[str, Any] = {
        name: getattr(contact, name)
        for name in ("first_name", "last_name", "title", "language")
        if getattr(contact, name)
    }
    if contact.birth_date:
        values["birth_date"] = contact.birth_date.isoformat()
    points = sorted(contact.points.all(), key=lambda p: (not p.is_primary, p.pk))
    for kind, name in (("email", "email"), ("phone", "phone"), ("mobile", "mobile")):
        point = next((p for p in points if p.kind == kind), None)
        if point is not None:
            values[name] = point.value_normalized
    address = next(iter(sorted(contact.addresses.all(), key=lambda a: (not a.is_primary, a.pk))), None)
    if address is not None:
        for name in ("line1", "line2", "postal_code", "city", "province", "country"):
            if getattr(address, name):
                values[name] = getattr(address, name)
    return values


# --- the matching model ------------------------------------------------------------------------------


def _columns(records: Iterable[Any]) -> tuple[list[int], dict[str, list[str]]]:
    """The matching columns of records given as {"id", "values"} dicts."""
    ids: list[int] = []
    columns: dict[str, list[str]] = {name: [] for name in MATCH_FIELDS}
    for record in records:
        ids.append(record["id"])
        values = record["values"] or {}
        for name in MATCH_FIELDS:
            value = values.get(name)
            if name == "phone" and not value:
                value = values.get("mobile")
            columns[name].append("" if value is None else str(value))
    return ids, columns


def _model_load() -> tuple[matching.MatchModel | None, int]:
    state = MatchModelState.objects.filter(kind=RecordKind.CONTACT).first()
    if state is None:
        return None, 0
    return matching.MatchModel.from_json(state.parameters), state.records


@functools.cache
def _default_data() -> dict[str, Any]:
    return json.loads(DEFAULT_MODEL.read_text())


def _default_model(records: int) -> matching.MatchModel:
    """The model a small installation uses: estimated by EM on 100,000 synthetic people (bench/identity/
    default_model.py), its prior — the chance that two records picked at random are one person — scaled
    to ``records``, since each person has about as many records whatever the size of the base."""
    data = _default_data()
    model = matching.MatchModel.from_json(data["model"])
    model.prior = min(0.5, model.prior * data["records"] / max(records, 2))
    return model


def _model_save(model: matching.MatchModel, records: int) -> None:
    MatchModelState.objects.update_or_create(
        kind=RecordKind.CONTACT,
        defaults={"parameters": model.to_json(), "records": records, "trained_at": timezone.now()},
    )


def _evidence(model: matching.MatchModel, vector: np.ndarray) -> list[dict[str, Any]]:
    return [
        {"comparison": item["comparison"], "level": item["level"], "weight": round(float(item["weight"]), 3)}
        for item in model.explain(vector)
    ]


def _keys_store(
    record_ids: Sequence[int] | np.ndarray, prepared: matching.Prepared, positions: np.ndarray | None = None
) -> None:
    """Store the blocking keys of the given prepared rows (all when ``positions`` is None), replacing theirs."""
    if positions is not None:
        # A set of just these rows: their keys cost what they hold, not what the whole set holds.
        prepared = matching.Prepared(
            ids=prepared.ids[positions], columns={name: values[positions] for name, values in prepared.columns.items()}
        )
        record_ids = [int(record_ids[p]) for p in positions.tolist()]
    rows = []
    for position, keys in enumerate(zip(*(k.tolist() for k in matching.record_keys(prepared)), strict=True)):
        record_id = record_ids[position]
        for key in dict.fromkeys(keys):  # distinct, in rule order
            if key:
                rows.append((record_id, key[:160]))
    stale = list(record_ids)
    for start in range(0, len(stale), 10_000):  # within SQLite's limit of variables per statement
        BlockKey.objects.filter(record_id__in=stale[start : start + 10_000]).delete()
    bulk.insert_rows(BlockKey, ("record", "key"), rows)


# --- linking -----------------------------------------------------------------------------------------


def _link(record_ids: list[int], contact: Contact, method: str, score: float | None, evidence: list) -> None:
    SourceRecord.objects.filter(pk__in=record_ids).update(
        contact=contact,
        status=LinkStatus.LINKED,
        link_method=method,
        link_score=score,
        link_evidence=evidence,
        linked_at=timezone.now(),
    )


def _external_id_point(actor: Any, contact: Contact, record: SourceRecord) -> None:
    """The record's own id as an external-id point of its contact, so other sources can name it."""
    label = record.source.name
    if ContactPoint.objects.filter(
        kind=PointKind.EXTERNAL_ID, label=label, value_normalized=record.source_key
    ).exists():
        return
    with contextlib.suppress(ValidationFailed):
        contact_point_add(
            actor=actor, contact=contact, kind=PointKind.EXTERNAL_ID, value=record.source_key, label=label
        )


def _deterministic(record: SourceRecord) -> tuple[Contact | None, str]:
    """The contact a rule links the record to without scoring: the same external id, verified email, tax code."""
    found = _deterministic_many([record]).get(record.pk)
    if found is None:
        return None, ""
    contact_id, method = found
    return Contact.objects.get(pk=contact_id), method


def _review(contact: Contact, candidate: Contact, probability: float, weight: float, evidence, record=None, other=None):
    """Put the pair to the review queue (``record`` is ``contact``'s record that matched, ``other``
    ``candidate``'s), unless it is there already or was answered; the older contact comes first."""
    if contact.pk == candidate.pk:
        return None
    if candidate.pk < contact.pk:
        contact, candidate, record, other = candidate, contact, other, record
    first, second = contact, candidate
    if ReviewItem.objects.filter(contact=first, candidate=second).exclude(status=ReviewStatus.OPEN).exists():
        return None  # already answered
    item, _ = ReviewItem.objects.get_or_create(
        contact=first,
        candidate=second,
        status=ReviewStatus.OPEN,
        defaults={
            "probability": probability,
            "weight": weight,
            "evidence": evidence,
            "record": record,
            "candidate_record": other,
        },
    )
    return item


@transaction.atomic
def record_match(
    *,
    actor: Any,
    record: SourceRecord,
    model: matching.MatchModel | None = None,
    link_threshold: float = LINK_THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
) -> SourceRecord:
    """Link one contact record as it arrives: a rule, else the best match among records sharing a key."""
    require_write(actor, "identity")
    if record.kind != RecordKind.CONTACT:
        raise Conflict("only contact records are matched to contacts")
    contact, method = _deterministic(record)
    if contact is not None:
        _link([record.pk], contact, method, 1.0, [])
        _finish(actor, record, contact)
        return record
    if model is None:
        model, _ = _model_load()
    if model is None:
        model = _default_model(SourceRecord.objects.filter(kind=RecordKind.CONTACT).count())
    ids, columns = _columns([{"id": record.pk, "values": record.values}])
    prepared = matching.prepare(np.array(ids), columns)
    best: tuple[float, float, SourceRecord | None, np.ndarray | None] = (0.0, 0.0, None, None)
    if model is not None:
        keys = {str(k) for rule_keys in matching.record_keys(prepared) for k in rule_keys if str(k)}
        candidate_ids = list(
            BlockKey.objects.filter(key__in=keys)
            .exclude(record_id=record.pk)
            .values_list("record_id", flat=True)[:MAX_CANDIDATES]
        )
        rows = list(
            SourceRecord.objects.filter(pk__in=set(candidate_ids), status=LinkStatus.LINKED)
            .exclude(contact=None)
            .values("id", "values", "contact_id")
        )
        if rows:
            candidate_ids, candidate_columns = _columns(rows)
            candidates = matching.prepare(np.array(candidate_ids), candidate_columns)
            probabilities, vectors = matching.match_one(model, prepared, candidates)
            index = int(np.argmax(probabilities))
            weight = float(model.weights(vectors[index : index + 1])[0])
            best = (float(probabilities[index]), weight, SourceRecord(pk=rows[index]["id"]), vectors[index])
            best_contact_id = rows[index]["contact_id"]
    probability, weight, other, vector = best
    if other is not None and model is not None and vector is not None and probability >= link_threshold:
        contact = Contact.objects.get(pk=best_contact_id)
        _link([record.pk], contact, LinkMethod.PROBABILISTIC, probability, _evidence(model, vector))
    else:
        # A contact of its own, with its points, address and external id, in a few bulk inserts.
        _ = record.source  # loaded here: the bulk path names its source
        (contact_id,) = bulk.contacts_create_for_groups(actor=actor, groups=[[record]])
        contact = Contact.objects.get(pk=contact_id)
        if other is not None and model is not None and vector is not None and probability >= review_threshold:
            _review(
                contact,
                Contact.objects.get(pk=best_contact_id),
                probability,
                weight,
                _evidence(model, vector),
                record=record,
                other=SourceRecord.objects.get(pk=other.pk),
            )
    _keys_store([record.pk], prepared)
    if record.link_method != LinkMethod.NEW:
        _finish(actor, record, contact)
    return record


def _finish(actor: Any, record: SourceRecord, contact: Contact) -> None:
    record.refresh_from_db()
    _external_id_point(actor, contact, record)
    golden.golden_apply(actor=actor, contact=contact)


@dataclass
class ResolveReport:
    """What ``identity_resolve`` did."""

    pending: int = 0
    mode: str = ""
    by_rule: int = 0
    linked: int = 0
    new_contacts: int = 0
    review_items: int = 0
    model_trained: bool = False
    seconds: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}


def identity_resolve(
    *,
    actor: Any,
    link_threshold: float = LINK_THRESHOLD,
    review_threshold: float = REVIEW_THRESHOLD,
    progress: Callable[[int, int], None] | None = None,
) -> ResolveReport:
    """Link every pending contact record to a contact (see the module docstring); return what happened."""
    require_write(actor, "identity")
    if not 0 < review_threshold <= link_threshold < 1:
        raise ValidationFailed(field="link_threshold", reason="0 < review threshold ≤ link threshold < 1")
    started = time.monotonic()
    report = ResolveReport()
    pending = SourceRecord.objects.filter(kind=RecordKind.CONTACT, status=LinkStatus.PENDING)
    report.pending = pending.count()
    if not report.pending:
        return report
    # Contacts typed into the CRM since the last resolution become records that can be matched.
    report.figures["contacts_backfilled"] = identity_backfill(actor=actor)
    total = SourceRecord.objects.filter(kind=RecordKind.CONTACT).count()
    model, trained_on = _model_load()
    batch = (
        (model is None and total >= MIN_TRAIN_RECORDS)
        or report.pending > BATCH_PENDING
        or report.pending > BATCH_SHARE * total
        or total > RETRAIN_GROWTH * max(trained_on, 1)
    )
    if batch:
        report.mode = "batch"
        _resolve_batch(actor, report, link_threshold, review_threshold, progress)
    else:
        report.mode = "one by one"
        records = pending.select_related("source").order_by("pk").iterator(chunk_size=500)
        for done, record in enumerate(records, start=1):
            record_match(
                actor=actor,
                record=record,
                model=model,
                link_threshold=link_threshold,
                review_threshold=review_threshold,
            )
            record.refresh_from_db()
            if record.link_method == LinkMethod.NEW:
                report.new_contacts += 1
            elif record.link_method == LinkMethod.PROBABILISTIC:
                report.linked += 1
            else:
                report.by_rule += 1
            if progress:
                progress(done, report.pending)
        report.review_items = ReviewItem.objects.filter(status=ReviewStatus.OPEN).count()
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _deterministic_many(records: Sequence[SourceRecord | bulk.RecordRow]) -> dict[int, tuple[int, str]]:
    """``_deterministic`` for many records at once, a few queries per thousand: record id → (contact id, rule)."""
    found: dict[int, tuple[int, str]] = {}
    for start in range(0, len(records), 1_000):
        chunk = records[start : start + 1_000]
        wanted: dict[tuple[str, str], list[SourceRecord | bulk.RecordRow]] = defaultdict(list)
        emails: dict[str, list[SourceRecord | bulk.RecordRow]] = defaultdict(list)
        tax_codes: dict[str, list[SourceRecord | bulk.RecordRow]] = defaultdict(list)
        for record in chunk:
            values = record.values or {}
            for system, value in (values.get("external_ids") or {}).items():
                wanted[(str(system), str(value))].append(record)
            wanted[(record.source.name, record.source_key)].append(record)
            email = str(values.get("email") or "").strip()
            if email:
                with contextlib.suppress(ValueError):
                    emails[email_normalize(email)].append(record)
            tax_code = matching.normalise_tax_code(values.get("tax_code"))
            if len(tax_code) >= 11:
                tax_codes[tax_code].append(record)
        points = ContactPoint.objects.filter(
            kind=PointKind.EXTERNAL_ID, value_normalized__in={value for _, value in wanted}
        ).values_list("label", "value_normalized", "contact_id")
        for label, value, contact_id in points:
            for record in wanted.get((label, value), []):
                found.setdefault(record.pk, (contact_id, LinkMethod.EXTERNAL_ID))
        verified = ContactPoint.objects.filter(
            kind=PointKind.EMAIL, is_verified=True, value_normalized__in=list(emails)
        ).values_list("value_normalized", "contact_id")
        for value, contact_id in verified:
            for record in emails[value]:
                found.setdefault(record.pk, (contact_id, LinkMethod.EMAIL))
        if tax_codes:
            # Through the indexed blocking keys of the records already linked.
            twins = BlockKey.objects.filter(
                key__in=[f"tax_code:{code}" for code in tax_codes],
                record__kind=RecordKind.CONTACT,
                record__status=LinkStatus.LINKED,
                record__contact__isnull=False,
            ).values_list("key", "record__contact_id")
            for key, contact_id in twins:
                for record in tax_codes.get(key.removeprefix("tax_code:"), []):
                    found.setdefault(record.pk, (contact_id, LinkMethod.TAX_CODE))
    return found


# Records per transaction of a batch resolution: each chunk is whole (its contacts, points, links and
# keys), so an interrupted run leaves the rest pending for the next, and memory stays flat.
WRITE_CHUNK = 5_000


def _records_load(record_ids: Sequence[int], sources: dict[int, Source]) -> list[bulk.RecordRow]:
    """The records with what linking them needs (values, key, date, source), ``sources`` kept across calls.

    Plain rows, not model instances: a batch loads every pending record twice (rules, then new contacts).
    """
    records = []
    for start in range(0, len(record_ids), 10_000):
        rows = SourceRecord.objects.filter(pk__in=record_ids[start : start + 10_000]).values_list(
            "id", "source_id", "source_key", "values", "updated_at", "contact_id"
        )
        for record_id, source_id, key, values, updated_at, contact_id in rows:
            if source_id not in sources:
                sources[source_id] = Source.objects.get(pk=source_id)
            records.append(bulk.RecordRow(record_id, sources[source_id], key, values or {}, updated_at, contact_id))
    return records


def _records_columns() -> tuple[np.ndarray, np.ndarray, dict[str, list[str]]]:
    """Every contact record as columns: ids, contact ids (0 for none) and the matching fields."""
    ids: list[int] = []
    contacts: list[int] = []
    columns: dict[str, list[str]] = {name: [] for name in MATCH_FIELDS}
    appends = [(name, columns[name].append) for name in MATCH_FIELDS]
    rows = (
        SourceRecord.objects.filter(kind=RecordKind.CONTACT)
        .order_by("pk")
        .values_list("id", "contact_id", "values")
        .iterator(chunk_size=10_000)
    )
    for record_id, contact_id, values in rows:
        ids.append(record_id)
        contacts.append(contact_id or 0)
        values = values or {}
        for name, append in appends:
            value = values.get(name)
            if name == "phone" and not value:
                value = values.get("mobile")
            append("" if value is None else str(value))
    return np.array(ids, dtype=np.int64), np.array(contacts, dtype=np.int64), columns


def _best_pairs(resolution: matching.Resolution, count: int) -> np.ndarray:
    """Per record position, its linked pair of highest probability (-1 for none)."""
    linked = np.flatnonzero(resolution.linked)
    positions = np.concatenate((resolution.left[linked], resolution.right[linked]))
    pairs = np.concatenate((linked, linked))
    order = np.lexsort((resolution.probability[pairs], positions))  # by position, then probability
    positions, pairs = positions[order], pairs[order]
    last = np.flatnonzero(np.append(positions[1:] != positions[:-1], True)) if len(positions) else positions
    best = np.full(count, -1, dtype=np.int64)
    best[positions[last]] = pairs[last]  # the last of each position is its most probable pair
    return best


def _resolve_batch(
    actor: Any,
    report: ResolveReport,
    link_threshold: float,
    review_threshold: float,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Resolve all contact records together: rules first, then one probabilistic pass over everything.

    The records are read as columns, not model instances; what is written — links, new contacts, keys
    — goes in transactions of ``WRITE_CHUNK`` records, each loading only its own records.
    """
    pending_ids = np.fromiter(
        SourceRecord.objects.filter(kind=RecordKind.CONTACT, status=LinkStatus.PENDING)
        .order_by("pk")
        .values_list("id", flat=True)
        .iterator(chunk_size=10_000),
        dtype=np.int64,
    )
    sources: dict[int, Source] = {}
    touched: set[int] = set()  # existing contacts that gained records: their golden record is recomputed
    # Rules first: they need no model.
    by_rule: dict[int, tuple[int, str]] = {}
    for start in range(0, len(pending_ids), WRITE_CHUNK):
        found = _deterministic_many(_records_load(pending_ids[start : start + WRITE_CHUNK].tolist(), sources))
        with transaction.atomic():
            bulk.records_link_many([(c, method, 1.0, [], r) for r, (c, method) in found.items()])
        by_rule.update(found)
        touched.update(c for c, _ in found.values())
    report.by_rule = len(by_rule)

    ids, contact_of, columns = _records_columns()
    position_of = {record_id: position for position, record_id in enumerate(ids.tolist())}
    waiting = np.zeros(len(ids), dtype=bool)  # pending, and not linked by a rule
    waiting[[position_of[r] for r in pending_ids.tolist() if r not in by_rule]] = True
    prepared = matching.prepare(ids, columns)
    del columns
    given = _default_model(len(ids)) if len(ids) < MIN_TRAIN_RECORDS else None
    resolution, model = matching.resolve(
        prepared, given, link_threshold=link_threshold, review_threshold=review_threshold
    )
    if given is None:
        _model_save(model, len(ids))
        report.model_trained = True
    report.figures.update({"candidate_pairs": int(resolution.left.size), "linked_pairs": int(resolution.linked.sum())})
    best = _best_pairs(resolution, len(ids))
    explained: dict[bytes, list[dict[str, Any]]] = {}  # a few hundred distinct vectors among 100,000s of links

    def explain(vector: np.ndarray) -> list[dict[str, Any]]:
        key = vector.tobytes()
        if key not in explained:
            explained[key] = _evidence(model, vector)
        return explained[key]

    if by_rule:
        with transaction.atomic():
            _keys_store(ids, prepared, np.sort(np.array([position_of[r] for r in by_rule], dtype=np.int64)))

    def score(position: int) -> tuple[float | None, list]:
        pair = int(best[position])
        if pair < 0:
            return None, []
        return float(resolution.probability[pair]), explain(resolution.vectors[pair])

    # The clusters that hold a waiting record, as slices of the positions ordered by cluster.
    order = np.lexsort((ids, resolution.cluster))
    labels = resolution.cluster[order]
    starts = np.flatnonzero(np.concatenate(([True], labels[1:] != labels[:-1]))) if len(order) else order
    ends = np.append(starts[1:], len(order)).astype(np.int64)
    existing = ~waiting & (contact_of > 0)
    has_waiting = np.add.reduceat(waiting[order], starts) > 0 if len(order) else np.zeros(0, dtype=bool)
    has_existing = np.add.reduceat(existing[order], starts) > 0 if len(order) else np.zeros(0, dtype=bool)
    joining = np.flatnonzero(has_waiting & has_existing)
    fresh = np.flatnonzero(has_waiting & ~has_existing)
    total, done = len(joining) + len(fresh), 0
    review_pairs: list[tuple[int, int, float, float, list, int | None, int | None]] = []

    # Waiting records in a cluster with contacts: linked to the contact most of the cluster belongs to.
    for start in range(0, len(joining), WRITE_CHUNK):
        links, linked_positions = [], []
        for group in joining[start : start + WRITE_CHUNK].tolist():
            members = order[starts[group] : ends[group]]
            targets = contact_of[members[existing[members]]].tolist()
            target = max(set(targets), key=targets.count)
            for position in members[waiting[members]].tolist():
                probability, evidence = score(position)
                links.append((target, LinkMethod.PROBABILISTIC, probability, evidence, int(ids[position])))
                linked_positions.append(position)
                contact_of[position] = target
            touched.add(target)
            for other in set(targets) - {target}:
                # Two contacts the data now says are one: a person decides.
                review_pairs.append((target, other, 1.0, 0.0, [], None, None))
        with transaction.atomic():
            bulk.records_link_many(links)
            _keys_store(ids, prepared, np.sort(np.array(linked_positions, dtype=np.int64)))
        report.linked += len(links)
        done += len(joining[start : start + WRITE_CHUNK])
        if progress:
            progress(done, total)

    # Clusters of waiting records only: a new contact each, with its records' keys, a chunk at a time.
    for start in range(0, len(fresh), WRITE_CHUNK):
        chunk = fresh[start : start + WRITE_CHUNK].tolist()
        positions = [order[starts[g] : ends[g]] for g in chunk]
        positions = [p[waiting[p]] for p in positions]
        flat = np.concatenate(positions)
        records = {r.pk: r for r in _records_load(ids[flat].tolist(), sources)}
        groups, scores = [], {}
        for members in positions:
            group = sorted(
                (records[int(ids[p])] for p in members.tolist()), key=lambda r: (r.updated_at, r.pk), reverse=True
            )
            groups.append(group)
            for record in group[1:]:
                scores[record.pk] = score(position_of[record.pk])
        with transaction.atomic():
            contact_ids = bulk.contacts_create_for_groups(actor=actor, groups=groups, scores=scores)
            _keys_store(ids, prepared, np.sort(flat))
        for contact_id, members in zip(contact_ids, positions, strict=True):
            contact_of[members] = contact_id
        report.new_contacts += len(contact_ids)
        report.linked += sum(len(group) - 1 for group in groups)
        done += len(chunk)
        if progress:
            progress(done, total)

    # The contacts that gained records: their golden record, and the records' own ids as external ids.
    bulk.golden_apply_many(actor=actor, contact_ids=touched)
    linked_to_touched = [int(ids[p]) for p in np.flatnonzero(waiting).tolist() if int(contact_of[p]) in touched]
    bulk.external_ids_add(actor=actor, records=_records_load(list(by_rule) + linked_to_touched, sources))
    with transaction.atomic():
        # Pairs between the two thresholds that ended in different contacts go to the review queue.
        for pair in np.flatnonzero(resolution.review).tolist():
            left, right = int(resolution.left[pair]), int(resolution.right[pair])
            a, b = int(contact_of[left]), int(contact_of[right])
            if not a or not b or a == b or not (waiting[left] or waiting[right]):
                continue
            review_pairs.append(
                (
                    a,
                    b,
                    float(resolution.probability[pair]),
                    float(resolution.weight[pair]),
                    explain(resolution.vectors[pair]),
                    int(ids[left]),
                    int(ids[right]),
                )
            )
        report.review_items += _reviews_add(review_pairs)


def _reviews_add(pairs: list[tuple[int, int, float, float, list, int | None, int | None]]) -> int:
    """Put many pairs of contacts to the review queue at once (see ``_review``); return how many are new.

    A pair is (contact, candidate, probability, weight, evidence, contact's record, candidate's record);
    of the same two contacts met more than once, the most probable is kept.
    """
    chosen: dict[tuple[int, int], tuple] = {}
    for a, b, probability, weight, evidence, record, other in pairs:
        if a > b:
            a, b, record, other = b, a, other, record
        if (a, b) not in chosen or probability > chosen[(a, b)][0]:
            chosen[(a, b)] = (probability, weight, evidence, record, other)
    known: set[tuple[int, int]] = set()
    contacts = sorted({a for a, _ in chosen})
    for start in range(0, len(contacts), 5_000):
        known.update(
            ReviewItem.objects.filter(contact_id__in=contacts[start : start + 5_000]).values_list(
                "contact_id", "candidate_id"
            )
        )
    rows = [
        (a, b, probability, weight, evidence, record, other, ReviewStatus.OPEN)
        for (a, b), (probability, weight, evidence, record, other) in chosen.items()
        if (a, b) not in known
    ]
    return bulk.insert_rows(
        ReviewItem,
        ("contact", "candidate", "probability", "weight", "evidence", "record", "candidate_record", "status"),
        rows,
    )


# --- review --------------------------------------------------------------------------------------------


@transaction.atomic
def review_accept(*, actor: Any, item: ReviewItem, reason: str = "") -> ReviewItem:
    """The two contacts are one person: merge the newer into the older, and close the question."""
    require_write(actor, "identity")
    item = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if item.status != ReviewStatus.OPEN:
        raise Conflict("this question has already been answered")
    survivor, other = item.contact, item.candidate  # the lower id (the older contact) stays
    # The merge answers every open question about the two, this one included; undoing it asks them again.
    contacts_merge(actor=actor, survivor=survivor, other=other, reason=reason or "accepted in the review queue")
    item.refresh_from_db()
    return item


@transaction.atomic
def review_reject(*, actor: Any, item: ReviewItem) -> ReviewItem:
    """The two contacts are different people: close the question; it is not asked again."""
    require_write(actor, "identity")
    item = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if item.status != ReviewStatus.OPEN:
        raise Conflict("this question has already been answered")
    item.status, item.decided_by, item.decided_at = ReviewStatus.REJECTED, actor, timezone.now()
    item.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="identity.review_reject",
        instance=item.contact,
        changes={"not_the_same_as": [None, item.candidate_id]},
    )
    return item


# --- export --------------------------------------------------------------------------------------------


def identity_export(out: IO[str]) -> int:
    """Write ``source,source_id,contact_id``, one row per source record; return the rows written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["source", "source_id", "contact_id"])
    rows = 0
    query = (
        SourceRecord.objects.order_by("source__name", "kind", "source_key")
        .values_list("source__name", "source_key", "contact_id", "parent__contact_id")
        .iterator(chunk_size=10_000)
    )
    for source, key, contact_id, parent_contact_id in query:
        contact = contact_id or parent_contact_id
        writer.writerow([source, key, "" if contact is None else contact])
        rows += 1
    return rows
