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
from collections.abc import Callable, Iterable
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
    one query finds the existing ones, one insert writes the new ones; changed ones are updated."""
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
    SourceRecord.objects.bulk_create(new, batch_size=1_000)
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


def _keys_store(record_ids: list[int], prepared: matching.Prepared, positions: np.ndarray | None = None) -> None:
    """Store the blocking keys of the given prepared rows (all when ``positions`` is None)."""
    per_rule = matching.record_keys(prepared)
    rows = []
    take = range(len(prepared)) if positions is None else positions.tolist()
    for position in take:
        record_id = record_ids[position]
        seen = set()
        for keys in per_rule:
            key = str(keys[position])
            if key and key not in seen:
                seen.add(key)
                rows.append(BlockKey(record_id=record_id, key=key[:160]))
    stale = [record_ids[p] for p in take]
    for start in range(0, len(stale), 10_000):  # within SQLite's limit of variables per statement
        BlockKey.objects.filter(record_id__in=stale[start : start + 10_000]).delete()
    bulk.insert_many(BlockKey, rows)


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
    values = record.values or {}
    for system, value in (values.get("external_ids") or {}).items():
        point = ContactPoint.objects.filter(
            kind=PointKind.EXTERNAL_ID, label=str(system), value_normalized=str(value)
        ).first()
        if point is not None:
            return point.contact, LinkMethod.EXTERNAL_ID
    point = ContactPoint.objects.filter(
        kind=PointKind.EXTERNAL_ID, label=record.source.name, value_normalized=record.source_key
    ).first()
    if point is not None:
        return point.contact, LinkMethod.EXTERNAL_ID
    email = (values.get("email") or "").strip()
    if email:
        try:
            normalized = email_normalize(email)
        except ValueError:
            normalized = ""
        if normalized:
            point = ContactPoint.objects.filter(
                kind=PointKind.EMAIL, value_normalized=normalized, is_verified=True
            ).first()
            if point is not None:
                return point.contact, LinkMethod.EMAIL
    tax_code = matching.normalise_tax_code(values.get("tax_code"))
    if len(tax_code) >= 11:  # an Italian codice fiscale (16) or partita IVA (11): a personal id, not a 4-digit code
        # Through the indexed blocking keys: a JSON lookup would read every record.
        twin = (
            SourceRecord.objects.filter(
                pk__in=BlockKey.objects.filter(key=f"tax_code:{tax_code}").values("record_id"),
                kind=RecordKind.CONTACT,
                status=LinkStatus.LINKED,
            )
            .exclude(pk=record.pk)
            .exclude(contact=None)
            .first()
        )
        if twin is not None:
            return twin.contact, LinkMethod.TAX_CODE
    return None, ""


def _review(contact: Contact, candidate: Contact, probability: float, weight: float, evidence, record=None, other=None):
    first, second = sorted((contact, candidate), key=lambda c: c.pk)
    if first.pk == second.pk:
        return None
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
        (contact,) = bulk.contacts_create_for_groups(actor=actor, groups=[[record]])
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
        with transaction.atomic():
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


def _deterministic_many(records: list[SourceRecord]) -> dict[int, tuple[int, str]]:
    """``_deterministic`` for many records at once, a few queries per thousand: record id → (contact id, rule)."""
    found: dict[int, tuple[int, str]] = {}
    for start in range(0, len(records), 1_000):
        chunk = records[start : start + 1_000]
        wanted: dict[tuple[str, str], list[SourceRecord]] = defaultdict(list)
        emails: dict[str, list[SourceRecord]] = defaultdict(list)
        tax_codes: dict[str, list[SourceRecord]] = defaultdict(list)
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


def _resolve_batch(
    actor: Any,
    report: ResolveReport,
    link_threshold: float,
    review_threshold: float,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Resolve all contact records together: rules first, then one probabilistic pass over everything."""
    pending_records = list(
        SourceRecord.objects.filter(kind=RecordKind.CONTACT, status=LinkStatus.PENDING)
        .select_related("source")
        .order_by("-updated_at", "-pk")
    )
    touched: set[int] = set()  # existing contacts that gained records: their golden record is recomputed
    # Rules first: they need no model.
    by_rule = _deterministic_many(pending_records)
    for record_id, (contact_id, method) in by_rule.items():
        SourceRecord.objects.filter(pk=record_id).update(
            contact_id=contact_id,
            status=LinkStatus.LINKED,
            link_method=method,
            link_score=1.0,
            linked_at=timezone.now(),
        )
        touched.add(contact_id)
    report.by_rule = len(by_rule)
    rows = list(
        SourceRecord.objects.filter(kind=RecordKind.CONTACT)
        .order_by("pk")
        .values("id", "values", "contact_id", "status")
    )
    ids, columns = _columns(rows)
    prepared = matching.prepare(np.array(ids, dtype=np.int64), columns)
    given = _default_model(len(rows)) if len(rows) < MIN_TRAIN_RECORDS else None
    resolution, model = matching.resolve(
        prepared, given, link_threshold=link_threshold, review_threshold=review_threshold
    )
    if given is None:
        _model_save(model, len(rows))
        report.model_trained = True
    report.figures.update({"candidate_pairs": int(resolution.left.size), "linked_pairs": int(resolution.linked.sum())})
    # The best linked pair of each record, for its score and evidence.
    best_pair: dict[int, int] = {}
    for pair in np.flatnonzero(resolution.linked):
        for position in (int(resolution.left[pair]), int(resolution.right[pair])):
            current = best_pair.get(position)
            if current is None or resolution.probability[pair] > resolution.probability[current]:
                best_pair[position] = int(pair)

    def score(position: int) -> tuple[float | None, list]:
        pair = best_pair.get(position)
        if pair is None:
            return None, []
        return float(resolution.probability[pair]), _evidence(model, resolution.vectors[pair])

    contact_of: list[int | None] = [row["contact_id"] for row in rows]
    pending = {r.pk: r for r in pending_records if r.pk not in by_rule}
    position_of = {record_id: i for i, record_id in enumerate(ids)}
    for record_id, (contact_id, _) in by_rule.items():
        contact_of[position_of[record_id]] = contact_id
    groups: dict[int, list[int]] = defaultdict(list)
    for position, label in enumerate(resolution.cluster.tolist()):
        groups[int(label)].append(position)
    new_groups: list[list[SourceRecord]] = []
    new_positions: list[list[int]] = []
    scores: dict[int, tuple[float | None, list]] = {}
    for members in groups.values():
        waiting = [p for p in members if ids[p] in pending]
        if not waiting:
            continue
        existing = [c for p in members if (c := contact_of[p]) is not None and ids[p] not in pending]
        if existing:
            target_id = max(set(existing), key=existing.count)  # the contact most of the group belongs to
            for position in waiting:
                probability, evidence = score(position)
                _link([ids[position]], Contact(pk=target_id), LinkMethod.PROBABILISTIC, probability, evidence)
                contact_of[position] = target_id
            touched.add(target_id)
            report.linked += len(waiting)
            for other_id in set(existing) - {target_id}:
                # Two contacts the data now says are one: a person decides.
                if _review(Contact.objects.get(pk=target_id), Contact.objects.get(pk=other_id), 1.0, 0.0, []):
                    report.review_items += 1
        else:
            waiting.sort(key=lambda p: (pending[ids[p]].updated_at, ids[p]), reverse=True)
            new_groups.append([pending[ids[p]] for p in waiting])
            new_positions.append(waiting)
            for position in waiting[1:]:
                scores[ids[position]] = score(position)
    for start in range(0, len(new_groups), 2_000):
        contacts = bulk.contacts_create_for_groups(actor=actor, groups=new_groups[start : start + 2_000], scores=scores)
        for contact, positions in zip(contacts, new_positions[start : start + 2_000], strict=True):
            for position in positions:
                contact_of[position] = contact.pk
        report.new_contacts += len(contacts)
        report.linked += sum(len(g) - 1 for g in new_groups[start : start + 2_000])
        if progress:
            progress(min(start + 2_000, len(new_groups)), len(new_groups))
    for contact in Contact.objects.filter(pk__in=touched):
        golden.golden_apply(actor=actor, contact=contact)
    for record in SourceRecord.objects.filter(
        pk__in=list(by_rule) + [ids[p] for p in range(len(ids)) if ids[p] in pending and contact_of[p] in touched]
    ).select_related("source", "contact"):
        if record.contact is not None:
            _external_id_point(actor, record.contact, record)
    # Pairs between the two thresholds that ended in different contacts go to the review queue.
    for pair in np.flatnonzero(resolution.review):
        left, right = int(resolution.left[pair]), int(resolution.right[pair])
        a, b = contact_of[left], contact_of[right]
        if a is None or b is None or a == b or (ids[left] not in pending and ids[right] not in pending):
            continue
        item = _review(
            Contact.objects.get(pk=a),
            Contact.objects.get(pk=b),
            float(resolution.probability[pair]),
            float(resolution.weight[pair]),
            _evidence(model, resolution.vectors[pair]),
            record=SourceRecord(pk=ids[left]),
            other=SourceRecord(pk=ids[right]),
        )
        if item is not None:
            report.review_items += 1
    newly = np.array(sorted(position_of[r] for r in list(pending) + list(by_rule)), dtype=np.int64)
    _keys_store(ids, prepared, newly)


# --- review --------------------------------------------------------------------------------------------


@transaction.atomic
def review_accept(*, actor: Any, item: ReviewItem, reason: str = "") -> ReviewItem:
    """The two contacts are one person: merge the newer into the older, and close the question."""
    require_write(actor, "identity")
    item = ReviewItem.objects.select_for_update().get(pk=item.pk)
    if item.status != ReviewStatus.OPEN:
        raise Conflict("this question has already been answered")
    survivor, other = item.contact, item.candidate  # the lower id (the older contact) stays
    item.status, item.decided_by, item.decided_at = ReviewStatus.ACCEPTED, actor, timezone.now()
    item.save(update_fields=["status", "decided_by", "decided_at"])
    contacts_merge(actor=actor, survivor=survivor, other=other, reason=reason or "accepted in the review queue")
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
