"""Template tags of identity resolution: the "Sources" panel of the contact page, evidence tables, labels.

The contact page belongs to an app that does not import identity in Python (cuore.contacts sits below
it; the 360 page of cuore.interactions only loads this library): ``{% load identity_tags %}`` and
``{% identity_panel contact %}`` is a template-level dependency import-linter does not see, on
purpose, as with ``analytics_tags``.

- ``{% identity_panel contact %}``: the contact's source records (with how each was linked, its
  evidence and a "Split off" button), the golden record explained field by field, "Merge with another
  contact…" and the contact's merge history with "Undo";
- ``{% evidence_table evidence %}``: the comparisons of a match with their weights as bars;
- ``probability`` filter: 0.953 → "95%" in the user's language.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from babel.numbers import format_percent
from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cuore.contacts.models import Contact
from cuore.core.errors import NotFound
from cuore.core.visibility import Scope, can_write, read_scope
from cuore.identity import selectors
from cuore.identity.models import MergeEvent, MergeKind, RecordKind

register = template.Library()

MERGES_SHOWN = 20
VALUES_SHOWN = 12

# What the matching engine compares (cuore/identity/matching/compare.py), in words.
COMPARISON_LABELS = {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "birth_date": _("Birth date"),
    "email": _("Email"),
    "phone": _("Phone"),
    "tax_code": _("Tax code"),
    "line1": _("Address"),
    "line2": _("Address line 2"),
    "postal_code": _("Postal code"),
    "city": _("City"),
    "province": _("Province"),
    "place": _("Place"),
    "country": _("Country"),
}
# The other values a source record may hold (the fields of a contacts import), labelled.
VALUE_LABELS = {
    **COMPARISON_LABELS,
    "source_id": _("Id in the source"),
    "mobile": _("Mobile"),
    "title": _("Job title"),
    "job_title": _("Job title"),
    "language": _("Language"),
    "company": _("Company"),
    "lifecycle_stage": _("Lifecycle stage"),
    "created_at": _("Created"),
    "email_consent": _("Email consent"),
    "notes": _("Notes"),
    "external_ids": _("Ids in other systems"),
}
LEVEL_LABELS = {
    "exact": _("identical"),
    "same name or nickname": _("same name or nickname"),
    "swapped with last name": _("swapped with the last name"),
    "swapped with first name": _("swapped with the first name"),
    "jaro-winkler ≥ 0.92": _("very similar"),
    "jaro-winkler ≥ 0.90": _("very similar"),
    "jaro-winkler ≥ 0.80": _("similar"),
    "initial matches": _("initial matches"),
    "one surname shared": _("one surname shared"),
    "day and month swapped": _("day and month swapped"),
    "within 1 edit": _("one character off"),
    "within 2 edits": _("two characters off"),
    "same year and month": _("same year and month"),
    "same year": _("same year"),
    "same user name": _("same user name, another domain"),
    "same last 8 digits": _("same last 8 digits"),
    "same words in another order": _("same words in another order"),
    "same postal code and city": _("same postal code and city"),
    "same postal code": _("same postal code"),
    "same city": _("same city"),
    "postal code within 1 edit or same province": _("postal code one character off, or same province"),
    "different": _("different"),
    "missing": _("missing on one side"),
}
RULE_LABELS = {
    "most_trusted": _("from the most trusted source"),
    "most_recent": _("from the most recent record"),
    "most_frequent": _("the value most records agree on"),
    "most_complete": _("the most complete value"),
    "manual": _("edited by hand: kept"),
    "unchanged": _("no record has it"),
}
# Values of a source record shown first, in this order; the others follow.
VALUE_ORDER = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "birth_date",
    "tax_code",
    "line1",
    "postal_code",
    "city",
    "province",
    "country",
)


def _locale() -> str:
    return {"it": "it_IT", "en": "en_GB"}.get((get_language() or "en")[:2], "en_GB")


@register.filter
def probability(value: Any) -> str:
    """A probability (0–1) as a percentage in the user's language: 0.953 → "95%"."""
    if value is None or value == "":
        return ""
    return format_percent(float(value), locale=_locale())


@register.filter
def comparison_label(name: str) -> str:
    return str(COMPARISON_LABELS.get(name, name))


@register.filter
def level_label(level: str) -> str:
    return str(LEVEL_LABELS.get(level, level))


@register.filter
def rule_label(rule: str) -> str:
    return str(RULE_LABELS.get(rule, rule))


def evidence_rows(evidence: Any) -> list[dict[str, Any]]:
    """The items of a match's evidence with their labels and bars: green agrees, red disagrees, grey missing."""
    items = [item for item in (evidence or []) if isinstance(item, dict)]
    weights = []
    for item in items:
        try:
            weights.append(float(item.get("weight") or 0))
        except (TypeError, ValueError):
            weights.append(0.0)
    top = max((abs(weight) for weight in weights), default=0.0) or 1.0
    rows = []
    for item, weight in zip(items, weights, strict=True):
        level = str(item.get("level", ""))
        missing = level == "missing"
        tone = "missing" if missing or weight == 0 else "agrees" if weight > 0 else "disagrees"
        rows.append(
            {
                "comparison": str(item.get("comparison", "")),
                "label": comparison_label(str(item.get("comparison", ""))),
                "level": level,
                "level_label": level_label(level),
                "weight": weight,
                "percent": round(100 * abs(weight) / top),
                "tone": tone,
            }
        )
    return rows


@register.inclusion_tag("identity/_evidence.html")
def evidence_table(evidence: Any, total: Any = None) -> dict[str, Any]:
    """``{% evidence_table item.evidence %}``: each comparison, its level and its weight as a bar."""
    return {"rows": evidence_rows(evidence), "total": total}


def record_values(record: Any) -> list[tuple[str, Any]]:
    """A source record's values as (label, value), the usual fields first."""
    values = dict(record.values or {})
    ordered = [(name, values.pop(name)) for name in VALUE_ORDER if name in values]
    ordered += sorted(values.items())
    shown = []
    for name, value in ordered[:VALUES_SHOWN]:
        if value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{key}: {item}" for key, item in value.items())
        elif isinstance(value, bool):
            value = _("yes") if value else _("no")
        elif isinstance(value, str) and len(value) == 10 and name.endswith("date"):
            value = _iso_date(value)
        shown.append((str(VALUE_LABELS.get(name, name.replace("_", " "))), value))
    return shown


def _iso_date(value: str) -> str:
    """An ISO date kept in a record's values, written the user's way."""
    try:
        return formats.date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
    except ValueError:
        return value


@register.simple_tag
def values_of(record: Any) -> list[tuple[str, Any]]:
    """``{% values_of record as values %}``: the record's values to show, labelled."""
    return record_values(record)


def _field_label(name: str) -> str:
    try:
        return str(capfirst(Contact._meta.get_field(name).verbose_name))
    except FieldDoesNotExist:  # a golden field that is not a model field keeps its name
        return name


def _golden_value(name: str, value: Any) -> Any:
    if name == "birth_date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def merge_line(event: MergeEvent, contact_id: int | None = None) -> dict[str, Any]:
    """What a merge or a split did, for the history: the other contact's name and whether it can be undone."""
    snapshot = event.snapshot or {}
    if event.kind == MergeKind.MERGE:
        other_name = f"{snapshot.get('first_name', '')} {snapshot.get('last_name', '')}".strip()
    else:
        record = event.record
        other_name = f"{record.source.name}: {record.source_key}" if record is not None else ""
    return {
        "event": event,
        "other_name": other_name or f"#{event.other_id}",
        # On the page of the contact a merge took away and its undo brought back, or that a split created.
        "is_other": contact_id is not None and event.contact_id != contact_id,
    }


@register.inclusion_tag("identity/_contact_panel.html", takes_context=True)
def identity_panel(context: template.Context, contact: Contact) -> dict[str, Any]:
    """``{% identity_panel contact %}``: the contact's sources, golden record, merging and merge history."""
    request = context.get("request")
    actor = getattr(request, "user", None)
    if contact is None or read_scope(actor, "identity") is Scope.NONE:
        return {"show": False}
    try:
        records = selectors.contact_records(actor=actor, contact=contact)
        decisions = selectors.golden_explain(actor=actor, contact=contact)
        merges = list(
            selectors.merge_list(actor=actor, contact_id=contact.pk)
            .select_related("record__source")
            .order_by("-id")[:MERGES_SHOWN]
        )
    except NotFound:
        return {"show": False}
    contact_records = [record for record in records if record.kind == RecordKind.CONTACT]
    can_change = can_write(actor, "contacts")
    return {
        "show": True,
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "contact": contact,
        "records": contact_records,
        "other_records": len(records) - len(contact_records),
        "can_split": can_change and len(contact_records) >= 2,
        "can_merge": can_change,
        "can_undo": can_change,
        "golden": [
            {
                "field": decision.field,
                "label": _field_label(decision.field),
                "value": _golden_value(decision.field, decision.value),
                "rule": decision.rule,
                "rule_label": rule_label(decision.rule),
                "source": decision.source,
            }
            for decision in decisions
        ],
        "merges": [merge_line(event, contact.pk) for event in merges],
        "next": request.get_full_path() if request is not None else "",
    }
