"""Segments: saved groups of contacts defined by conditions on profile, scores and behaviour.

A segment's ``definition`` is JSON::

    {"match": "all" | "any", "conditions": [condition, ...]}      # 1 to 30 conditions

``match`` (default ``all``) says whether a contact must meet every condition or at least one. A
condition is ``{"field": F, "op": OP, "value": V}`` plus, for some fields, the parameters below.
Operators: ``eq``, ``ne``, ``in`` (``value`` a list of 1–100 values), ``lt``, ``lte``, ``gt``,
``gte``, ``between`` (``value`` ``[low, high]``, both included).

=====================  ==============  =====================  =================================================
field                  value           operators              meaning
=====================  ==============  =====================  =================================================
lifecycle_stage        a stage         eq ne in               the contact's lifecycle stage
owner, team            a user/team id  eq ne in               null with eq/ne: no owner (team)
source                 text            eq ne in               where the contact came from (any case)
created_on             YYYY-MM-DD      all                    the day the contact was created
account_industry       text            eq ne in               a linked account has (ne: none has) that industry
account_size           a size          eq ne in               a linked account has (ne: none has) that size
recency_days …         a number        all                    the run's scores (the SCORE_FIELDS below); they
                                                              hold only for contacts scored at the run (who
                                                              bought), never for the others, even with ``ne``
rfm_segment,           a name          eq ne in
abc_class, value_tier
preferred_category     a category id   eq ne in               the category or any of its subcategories
bought_product         a product id    eq ne in               bought it (ne: did not); ``within_days``
bought_category        a category id   eq ne in               bought in it or its subcategories; ``within_days``
orders                 a count ≥ 0     all                    counted orders; ``within_days``
tickets                a count ≥ 0     all                    tickets opened; ``within_days``
interactions           a count ≥ 0     all                    interactions; ``within_days``, ``channel``
consent                granted |       eq ne                  the current consent for ``purpose`` and
                       withdrawn                              ``channel`` (both required)
=====================  ==============  =====================  =================================================

``within_days`` (1–36500; missing or null: ever) counts back from the run's date: an order placed
on ``as_of − within_days`` or later is within. The current consent is the latest entry of the
ledger for the purpose and channel; when a day holds both a grant and a withdrawal (the warehouse
keeps days, not times) the withdrawal wins.

A definition is validated strictly (``definition_clean``: every error with its path, such as
``definition.conditions[1].value``) and compiled into one parameterised DuckDB query
(``segment_query``; the user's values only ever travel as parameters) over the warehouse tables and
the scores of a run: during the run the temporary table ``contact_scores``, afterwards the run's rows
of ``score_history``. The population is every contact of the warehouse.

At every run ``segments_record`` stores each segment's members in the warehouse table
``segment_membership`` and a ``SegmentSnapshot`` with its size and how many entered and left
since the segment's previous run. The live count and preview (``segment_preview``) evaluate a
definition over the latest successful run, opening the warehouse read-only.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
from django.db import IntegrityError, transaction
from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cuore.analytics import warehouse
from cuore.analytics.models import (
    AbcClass,
    AnalyticsRun,
    RfmSegment,
    RunStatus,
    Segment,
    SegmentSnapshot,
    ValueTier,
)
from cuore.contacts.models import CompanySize, ConsentChannel, ConsentPurpose, Contact, LifecycleStage
from cuore.contacts.selectors import contact_visible
from cuore.core.audit import apply_changes, audit_record, snapshot
from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.pagination import decode_cursor, encode_cursor
from cuore.core.visibility import Scope, read_scope, require_read, require_write
from cuore.interactions.models import InteractionChannel
from cuore.orders.models import Category, Product
from cuore.users.models import Team, User

MAX_CONDITIONS = 30
MAX_LIST = 100
MAX_TEXT = 200
MAX_NUMBER = 1e15
MAX_ID = 2**63 - 1
MAX_DAYS = 36_500
MAX_PREVIEW = 50
NAME_MAX = 100
DESCRIPTION_MAX = 2_000

EQUALITY = ("eq", "ne", "in")
ORDERED = ("eq", "ne", "lt", "lte", "gt", "gte", "between", "in")
COMPARISONS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
OPERATOR_LABELS = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "in": gettext_lazy("is one of"),
    "lt": gettext_lazy("is below"),
    "lte": gettext_lazy("is at most"),
    "gt": gettext_lazy("is above"),
    "gte": gettext_lazy("is at least"),
    "between": gettext_lazy("is between"),
}


# Raised by the reads below while a run holds the warehouse (after a brief wait): try again shortly.
WarehouseBusy = warehouse.WarehouseBusy


# ---- the fields a condition may name ---------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One field of a condition: what its value is, which operators apply, and how it reads in SQL."""

    name: str
    group: str  # profile, score, behaviour
    kind: str  # choice, id, text, date, integer, number, bought, count, consent
    label: Any
    ops: tuple[str, ...]
    choices: tuple[tuple[str, Any], ...] = ()
    column: str = ""
    nullable: bool = False  # eq / ne null: the column is empty
    decimal: bool = False  # compared as an exact decimal (amounts in the scores)
    params: tuple[str, ...] = ()  # the parameters it takes besides field, op, value


def _choices(choices) -> tuple[tuple[str, Any], ...]:
    return tuple((value, label) for value, label in choices.choices)


_CONSENT_STATES = (("granted", gettext_lazy("granted")), ("withdrawn", gettext_lazy("withdrawn")))

FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in [
        # the contact's profile
        FieldSpec(
            "lifecycle_stage",
            "profile",
            "choice",
            gettext_lazy("Lifecycle stage"),
            EQUALITY,
            _choices(LifecycleStage),
            "c.lifecycle_stage",
        ),
        FieldSpec("owner", "profile", "id", gettext_lazy("Owner"), EQUALITY, column="c.owner_id", nullable=True),
        FieldSpec("team", "profile", "id", gettext_lazy("Team"), EQUALITY, column="c.team_id", nullable=True),
        FieldSpec("source", "profile", "text", gettext_lazy("Source"), EQUALITY, column="c.source"),
        FieldSpec("created_on", "profile", "date", gettext_lazy("Created on"), ORDERED, column="c.created_on"),
        FieldSpec("account_industry", "profile", "text", gettext_lazy("Account industry"), EQUALITY, column="industry"),
        FieldSpec(
            "account_size", "profile", "choice", gettext_lazy("Account size"), EQUALITY, _choices(CompanySize), "size"
        ),
        # the scores of the run
        FieldSpec("recency_days", "score", "integer", gettext_lazy("Days since the last order"), ORDERED),
        FieldSpec("frequency", "score", "integer", gettext_lazy("Orders"), ORDERED),
        FieldSpec("monetary_total", "score", "number", gettext_lazy("Spent"), ORDERED, decimal=True),
        FieldSpec("monetary_avg", "score", "number", gettext_lazy("Average order"), ORDERED, decimal=True),
        FieldSpec("margin", "score", "number", gettext_lazy("Margin"), ORDERED, decimal=True),
        FieldSpec("tenure_days", "score", "integer", gettext_lazy("Days since the first order"), ORDERED),
        FieldSpec("r_score", "score", "integer", gettext_lazy("Recency score (R)"), ORDERED),
        FieldSpec("f_score", "score", "integer", gettext_lazy("Frequency score (F)"), ORDERED),
        FieldSpec("m_score", "score", "integer", gettext_lazy("Monetary score (M)"), ORDERED),
        FieldSpec("rfm_segment", "score", "choice", gettext_lazy("RFM segment"), EQUALITY, _choices(RfmSegment)),
        FieldSpec("abc_class", "score", "choice", gettext_lazy("ABC class"), EQUALITY, _choices(AbcClass)),
        FieldSpec("value_tier", "score", "choice", gettext_lazy("Value tier"), EQUALITY, _choices(ValueTier)),
        FieldSpec("expected_purchases", "score", "number", gettext_lazy("Expected purchases"), ORDERED),
        FieldSpec("p_alive", "score", "number", gettext_lazy("P(alive)"), ORDERED),
        FieldSpec("clv", "score", "number", gettext_lazy("Lifetime value"), ORDERED, decimal=True),
        FieldSpec("churn_risk", "score", "number", gettext_lazy("Churn risk"), ORDERED),
        FieldSpec(
            "preferred_category",
            "score",
            "id",
            gettext_lazy("Preferred category"),
            EQUALITY,
            column="s.preferred_category_id",
        ),
        # behaviour
        FieldSpec(
            "bought_product", "behaviour", "bought", gettext_lazy("Bought product"), EQUALITY, params=("within_days",)
        ),
        FieldSpec(
            "bought_category",
            "behaviour",
            "bought",
            gettext_lazy("Bought in category"),
            EQUALITY,
            params=("within_days",),
        ),
        FieldSpec("orders", "behaviour", "count", gettext_lazy("Orders placed"), ORDERED, params=("within_days",)),
        FieldSpec("tickets", "behaviour", "count", gettext_lazy("Tickets opened"), ORDERED, params=("within_days",)),
        FieldSpec(
            "interactions",
            "behaviour",
            "count",
            gettext_lazy("Interactions"),
            ORDERED,
            params=("within_days", "channel"),
        ),
        FieldSpec(
            "consent",
            "behaviour",
            "consent",
            gettext_lazy("Consent"),
            ("eq", "ne"),
            _CONSENT_STATES,
            params=("purpose", "channel"),
        ),
    ]
}
SCORE_FIELDS = [name for name, spec in FIELDS.items() if spec.group == "score"]
# Whose ids name records: checked to exist when a definition is saved or counted.
REFERENCES: dict[str, type[Model]] = {
    "owner": User,
    "team": Team,
    "preferred_category": Category,
    "bought_product": Product,
    "bought_category": Category,
}
PARAM_CHOICES = {
    "interactions": {"channel": _choices(InteractionChannel)},
    "consent": {"purpose": _choices(ConsentPurpose), "channel": _choices(ConsentChannel)},
}
PARAM_LABELS = {
    "within_days": gettext_lazy("in the last … days"),
    "channel": gettext_lazy("channel"),
    "purpose": gettext_lazy("purpose"),
}


# ---- validation ------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _scalar(spec: FieldSpec, value: Any, path: str, errors: dict[str, str]) -> Any:
    """Check one value of ``spec``'s kind; record why not at ``path``. Returns the value as stored."""
    kind = spec.kind
    if kind in ("choice", "consent"):
        allowed = [choice for choice, _label in spec.choices]
        if not isinstance(value, str) or value not in allowed:
            errors[path] = f"must be one of {', '.join(allowed)}"
        return value
    if kind in ("id", "bought"):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
            errors[path] = "must be an id (a whole number from 1)"
        return value
    if kind == "text":
        if not isinstance(value, str):
            errors[path] = "must be text"
        elif "\x00" in value:
            errors[path] = "must not contain NUL characters"
        elif len(value) > MAX_TEXT:
            errors[path] = f"must be at most {MAX_TEXT} characters"
        return value
    if kind == "date":
        try:
            if not isinstance(value, str) or len(value) != 10:
                raise ValueError
            dt.date.fromisoformat(value)
        except ValueError:
            errors[path] = "must be a date as YYYY-MM-DD"
        return value
    if kind in ("integer", "count"):
        if not isinstance(value, int) or isinstance(value, bool) or abs(value) > MAX_NUMBER:
            errors[path] = "must be a whole number"
        elif kind == "count" and value < 0:
            errors[path] = "must be zero or more"
        return value
    # number
    if not _is_number(value) or not math.isfinite(value) or abs(value) > MAX_NUMBER:
        errors[path] = f"must be a number between {-MAX_NUMBER:.0e} and {MAX_NUMBER:.0e}"
    return value


def _condition(condition: Any, path: str, errors: dict[str, str]) -> dict[str, Any] | None:
    if not isinstance(condition, dict):
        errors[path] = "must be an object with field, op and value"
        return None
    name = condition.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        errors[f"{path}.field"] = "is required" if name is None else "is not a known field"
        return None
    for key in condition:
        if key not in ("field", "op", "value", *spec.params):
            errors[f"{path}.{key}"] = f"is not allowed for the field {spec.name}"
    op = condition.get("op")
    if op not in spec.ops:
        reason = "is required" if op is None else f"must be one of {', '.join(spec.ops)} for the field {spec.name}"
        errors[f"{path}.op"] = reason
        return None
    value_path = f"{path}.value"
    if "value" not in condition:
        errors[value_path] = "is required"
        return None
    value = condition["value"]
    if value is None:
        if not (spec.nullable and op in ("eq", "ne")):
            errors[value_path] = "is required" if not spec.nullable else "can be null only with eq or ne"
    elif op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST:
            errors[value_path] = f"must be a list of 1 to {MAX_LIST} values"
        else:
            for index, item in enumerate(value):
                _scalar(spec, item, f"{value_path}[{index}]", errors)
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            errors[value_path] = "must be a list of two values: [low, high]"
        else:
            before = len(errors)
            for index, item in enumerate(value):
                _scalar(spec, item, f"{value_path}[{index}]", errors)
            if len(errors) == before and value[0] > value[1]:
                errors[value_path] = "the low value must not be above the high one"
    else:
        _scalar(spec, value, value_path, errors)
    cleaned = {"field": spec.name, "op": op, "value": value}
    if "within_days" in spec.params:
        days = condition.get("within_days")
        if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS):
            errors[f"{path}.within_days"] = f"must be a whole number of days from 1 to {MAX_DAYS}, or null for ever"
        cleaned["within_days"] = days
    for name, choices in PARAM_CHOICES.get(spec.name, {}).items():
        given = condition.get(name)
        allowed = [choice for choice, _label in choices]
        required = spec.kind == "consent"
        if given is None and not required:
            cleaned[name] = None
        elif given not in allowed:
            reason = "is required" if given is None else "must be one of " + ", ".join(allowed)
            errors[f"{path}.{name}"] = reason
        else:
            cleaned[name] = given
    return cleaned


def definition_clean(definition: Any, *, path: str = "definition") -> dict[str, Any]:
    """Return ``definition`` checked and complete, or raise ``ValidationFailed`` naming every wrong place."""
    errors: dict[str, str] = {}
    if not isinstance(definition, dict):
        raise ValidationFailed(field=path, reason="must be an object with match and conditions")
    for key in definition:
        if key not in ("match", "conditions"):
            errors[f"{path}.{key}"] = "is not allowed (match, conditions)"
    match = definition.get("match", "all")
    if match not in ("all", "any"):
        errors[f"{path}.match"] = "must be all or any"
    conditions = definition.get("conditions")
    cleaned: list[dict[str, Any]] = []
    if not isinstance(conditions, list) or not 1 <= len(conditions) <= MAX_CONDITIONS:
        errors[f"{path}.conditions"] = f"must be a list of 1 to {MAX_CONDITIONS} conditions"
    else:
        for index, condition in enumerate(conditions):
            item = _condition(condition, f"{path}.conditions[{index}]", errors)
            if item is not None:
                cleaned.append(item)
    if errors:
        raise ValidationFailed(errors)
    return {"match": match, "conditions": cleaned}


def _referenced_ids(definition: dict[str, Any]) -> dict[str, set[int]]:
    """The ids each referencing field names, by field: ``{"bought_product": {3, 4}}``."""
    wanted: dict[str, set[int]] = {}
    for condition in definition["conditions"]:
        if condition["field"] in REFERENCES and condition["value"] is not None:
            values = condition["value"] if isinstance(condition["value"], list) else [condition["value"]]
            wanted.setdefault(condition["field"], set()).update(values)
    return wanted


def reference_names(definition: dict[str, Any]) -> dict[str, dict[int, str]]:
    """The names of the users, teams, categories and products a clean definition names, by field and id."""
    names: dict[str, dict[int, str]] = {}
    for name, ids in _referenced_ids(definition).items():
        model = REFERENCES[name]
        if model is User:
            rows = {u.pk: (u.get_full_name() or u.username) for u in User.objects.filter(pk__in=ids)}
        else:
            rows = dict(model.objects.filter(pk__in=ids).values_list("pk", "name"))
        names[name] = rows
    return names


def definition_check_references(definition: dict[str, Any], *, path: str = "definition") -> None:
    """Raise ``ValidationFailed`` on the values of a clean definition that name a missing record."""
    names = reference_names(definition)
    errors: dict[str, str] = {}
    for index, condition in enumerate(definition["conditions"]):
        known = names.get(condition["field"])
        if known is None or condition["value"] is None:
            continue
        value = condition["value"]
        where = f"{path}.conditions[{index}].value"
        if isinstance(value, list):
            for position, item in enumerate(value):
                if item not in known:
                    errors[f"{where}[{position}]"] = "not found"
        elif value not in known:
            errors[where] = "not found"
    if errors:
        raise ValidationFailed(errors)


# ---- compilation to DuckDB SQL ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreSource:
    """Where a run's scores are: the run's temporary table, or the run's rows of the history."""

    sql: str
    params: tuple[Any, ...] = ()

    @classmethod
    def during_run(cls) -> ScoreSource:
        return cls("SELECT customer_id AS contact_id, * EXCLUDE (customer_id) FROM contact_scores")

    @classmethod
    def history(cls, run_id: int) -> ScoreSource:
        return cls("SELECT * FROM score_history WHERE run_id = ?", (run_id,))


@dataclass
class _Builder:
    as_of: dt.date
    ctes: list[str] = field(default_factory=list)
    cte_params: list[Any] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def values(self, values: list[Any]) -> str:
        self.params.extend(values)
        return ", ".join("?" * len(values))

    def value(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def since(self, days: int | None, column: str) -> str:
        if days is None:
            return ""
        return f" AND {column} >= {self.value(self.as_of - dt.timedelta(days=days))}"

    def category_tree(self, ids: list[int]) -> str:
        """A CTE of the categories ``ids`` and every subcategory below them; returns its name."""
        name = f"category_tree_{len(self.ctes)}"
        self.ctes.append(
            f"{name}(id) AS (SELECT id FROM categories WHERE id IN ({', '.join('?' * len(ids))}) "
            f"UNION SELECT child.id FROM categories child JOIN {name} ON child.parent_id = {name}.id)"
        )
        self.cte_params.extend(ids)
        return name


def _typed(spec: FieldSpec, value: Any) -> Any:
    if spec.kind == "date":
        return dt.date.fromisoformat(value)
    if spec.kind == "text":
        return value.lower()
    if spec.decimal:
        return Decimal(str(value))
    return value


def _compare(b: _Builder, spec: FieldSpec, expression: str, op: str, value: Any, *, null_safe: bool) -> str:
    """``expression op value`` with the value as parameters; ``null_safe`` makes ``ne`` hold for empty columns."""
    if op == "in":
        return f"{expression} IN ({b.values([_typed(spec, item) for item in value])})"
    if op == "between":
        low, high = (_typed(spec, item) for item in value)
        return f"{expression} BETWEEN {b.value(low)} AND {b.value(high)}"
    if value is None:
        return f"{expression} IS {'NOT ' if op == 'ne' else ''}NULL"
    if op == "ne" and null_safe:
        return f"{expression} IS DISTINCT FROM {b.value(_typed(spec, value))}"
    return f"{expression} {COMPARISONS[op]} {b.value(_typed(spec, value))}"


def _positive(op: str) -> tuple[str, str]:
    """For set conditions: ``ne`` is the negation of ``eq``; returns (the operator to test, IN or NOT IN)."""
    return ("eq", "NOT IN") if op == "ne" else (op, "IN")


def _condition_sql(b: _Builder, condition: dict[str, Any]) -> str:
    spec = FIELDS[condition["field"]]
    op, value = condition["op"], condition["value"]
    if spec.group == "score":
        if spec.name == "preferred_category":
            _, membership = _positive(op)
            tree = b.category_tree(value if isinstance(value, list) else [value])
            return f"s.preferred_category_id {membership} (SELECT id FROM {tree})"
        return _compare(b, spec, f"s.{spec.name}", op, value, null_safe=False)
    if spec.name in ("account_industry", "account_size"):
        test, membership = _positive(op)
        column = f"lower(a.{spec.column})" if spec.kind == "text" else f"a.{spec.column}"
        inner = _compare(b, spec, column, test, value, null_safe=False)
        return (
            f"c.id {membership} (SELECT ca.contact_id FROM contact_accounts ca "
            f"JOIN accounts a ON a.id = ca.account_id WHERE {inner})"
        )
    if spec.group == "profile":
        column = f"lower({spec.column})" if spec.kind == "text" else spec.column
        return _compare(b, spec, column, op, value, null_safe=True)
    if spec.kind == "bought":
        test, membership = _positive(op)
        ids = value if isinstance(value, list) else [value]
        if spec.name == "bought_product":
            what = f"l.product_id IN ({b.values(ids)})"
        else:
            what = f"l.product_id IN (SELECT p.id FROM products p WHERE p.category_id IN (SELECT id FROM {b.category_tree(ids)}))"
        since = b.since(condition.get("within_days"), "o.placed_on")
        return (
            f"c.id {membership} (SELECT o.contact_id FROM orders o JOIN order_lines l ON l.order_id = o.id "
            f"WHERE o.contact_id IS NOT NULL AND {what}{since})"
        )
    if spec.kind == "count":
        if spec.name == "orders":
            counted = f"SELECT count(*) FROM orders o WHERE o.contact_id = c.id{b.since(condition.get('within_days'), 'o.placed_on')}"
        elif spec.name == "tickets":
            counted = f"SELECT count(*) FROM tickets t WHERE t.contact_id = c.id{b.since(condition.get('within_days'), 't.opened_on')}"
        else:
            channel = f" AND i.channel = {b.value(condition['channel'])}" if condition.get("channel") else ""
            counted = (
                f"SELECT count(*) FROM interactions i WHERE i.contact_id = c.id{channel}"
                f"{b.since(condition.get('within_days'), 'i.occurred_on')}"
            )
        return _compare(b, spec, f"({counted})", op, value, null_safe=False)
    # consent: the state of the latest day for the purpose and channel; a withdrawal that day wins,
    # so the state is "withdrawn" exactly when the latest withdrawal is on the latest day.
    membership = "NOT IN" if op == "ne" else "IN"
    last_withdrawal = "max(CASE WHEN e.status = 'withdrawn' THEN e.occurred_on END)"
    state = (
        f"{last_withdrawal} = max(e.occurred_on)"
        if value == "withdrawn"
        else f"({last_withdrawal} IS NULL OR {last_withdrawal} < max(e.occurred_on))"
    )
    purpose, channel = b.value(condition["purpose"]), b.value(condition["channel"])
    return (
        f"c.id {membership} (SELECT e.contact_id FROM consents e WHERE e.purpose = {purpose} "
        f"AND e.channel = {channel} AND e.contact_id IS NOT NULL GROUP BY e.contact_id HAVING {state})"
    )


MEMBER_COLUMNS = ["contact_id", "owner_id", "team_id", *(name for name in SCORE_FIELDS if name != "preferred_category")]


def segment_query(definition: Any, *, source: ScoreSource, as_of: dt.date) -> tuple[str, list[Any]]:
    """The SQL (and its parameters) that selects the contacts of ``definition`` with their scores.

    Columns: MEMBER_COLUMNS plus preferred_category_id. The definition is validated again here:
    only known fields and operators ever reach the SQL, and every value is a parameter.
    """
    definition = definition_clean(definition)
    b = _Builder(as_of=as_of)
    conditions = [f"COALESCE(({_condition_sql(b, c)}), FALSE)" for c in definition["conditions"]]
    joiner = " AND " if definition["match"] == "all" else " OR "
    scores = ", ".join(f"s.{name}" for name in MEMBER_COLUMNS[3:])
    ctes = ", ".join([f"s AS ({source.sql})", *b.ctes])
    sql = (
        f"WITH RECURSIVE {ctes} "
        f"SELECT c.id AS contact_id, c.owner_id, c.team_id, {scores}, s.preferred_category_id "
        f"FROM contacts c LEFT JOIN s ON s.contact_id = c.id WHERE {joiner.join(conditions)}"
    )
    return sql, [*source.params, *b.cte_params, *b.params]


# ---- the warehouse, read-only ----------------------------------------------------------------------


@contextmanager
def warehouse_reader() -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse read-only; ``warehouse.WarehouseBusy`` when a run holds it past a short wait."""
    con = warehouse.warehouse_connect(read_only=True)
    try:
        yield con
    finally:
        con.close()


def _has_tables(con: duckdb.DuckDBPyConnection, *names: str) -> bool:
    present = {row[0] for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return set(names) <= present


# ---- live count and preview ------------------------------------------------------------------------

PREVIEW_ORDERS = {
    "-clv": "clv DESC NULLS LAST",
    "-monetary_total": "monetary_total DESC NULLS LAST",
    "-margin": "margin DESC NULLS LAST",
    "recency_days": "recency_days ASC NULLS LAST",
    "-recency_days": "recency_days DESC NULLS LAST",
    "p_alive": "p_alive ASC NULLS LAST",
    "-churn_risk": "churn_risk DESC NULLS LAST",
    "-expected_purchases": "expected_purchases DESC NULLS LAST",
    "contact_id": "",
}
ORDER_LABELS = {
    "-clv": gettext_lazy("Highest lifetime value"),
    "-monetary_total": gettext_lazy("Highest spend"),
    "-margin": gettext_lazy("Highest margin"),
    "recency_days": gettext_lazy("Most recent buyers"),
    "-recency_days": gettext_lazy("Longest without buying"),
    "p_alive": gettext_lazy("Lowest P(alive)"),
    "-churn_risk": gettext_lazy("Highest churn risk"),
    "-expected_purchases": gettext_lazy("Most expected purchases"),
    "contact_id": gettext_lazy("Contact id"),
}
TRACKED_WAREHOUSE_TABLES = ("contacts", "score_history", "segment_membership")


@dataclass
class Preview:
    """The live count of a definition at a run and the first contacts the actor may see."""

    run: AnalyticsRun | None
    count: int
    rows: list[dict[str, Any]]


def _scope_filter(actor: Any, alias: str) -> tuple[str, list[Any]]:
    """A team-scoped actor's filter on warehouse rows (owner / team as of the last extraction)."""
    if read_scope(actor, "contacts") is not Scope.TEAM:
        return "", []
    if actor.team_id is None:
        return f" AND {alias}.owner_id = ?", [actor.pk]
    return f" AND ({alias}.owner_id = ? OR {alias}.team_id = ?)", [actor.pk, actor.team_id]


def _visible_rows(actor: Any, rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Keep the rows whose contact ``actor`` may see now (the warehouse may lag), named, in order."""
    ids = [row["contact_id"] for row in rows]
    contacts = {
        contact["id"]: contact
        for contact in contact_visible(actor=actor).filter(pk__in=ids).values("id", "first_name", "last_name")
    }
    kept = []
    for row in rows:
        contact = contacts.get(row["contact_id"])
        if contact is None:
            continue
        row["name"] = f"{contact['first_name']} {contact['last_name']}".strip()
        kept.append(row)
    return kept[:limit]


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    result = con.execute(sql, params)
    names = [column[0] for column in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def segment_preview(*, actor: Any, definition: Any, limit: int = 10, order: str = "-clv") -> Preview:
    """Count the contacts of ``definition`` at the latest successful run and show the first ``limit``.

    The count is over every contact; the preview only lists those ``actor`` may see.
    """
    require_read(actor, "segments")
    definition = definition_clean(definition)
    definition_check_references(definition)
    if order not in PREVIEW_ORDERS:
        raise ValidationFailed(field="order", reason=f"must be one of {', '.join(PREVIEW_ORDERS)}")
    if not 0 <= limit <= MAX_PREVIEW:
        raise ValidationFailed(field="limit", reason=f"must be between 0 and {MAX_PREVIEW}")
    run = AnalyticsRun.objects.filter(status=RunStatus.SUCCEEDED).order_by("-started_at", "-id").first()
    if run is None:
        return Preview(run=None, count=0, rows=[])
    sql, params = segment_query(definition, source=ScoreSource.history(run.pk), as_of=run.as_of)
    with warehouse_reader() as con:
        if not _has_tables(con, *TRACKED_WAREHOUSE_TABLES):
            return Preview(run=run, count=0, rows=[])
        count = con.execute(f"SELECT count(*) FROM ({sql}) m", params).fetchone()[0]
        rows: list[dict[str, Any]] = []
        if limit:
            scope, scope_params = _scope_filter(actor, "m")
            ordering = ", ".join(filter(None, [PREVIEW_ORDERS[order], "contact_id"]))
            rows = _fetch(
                con,
                f"SELECT * FROM ({sql}) m WHERE TRUE{scope} ORDER BY {ordering} LIMIT ?",
                [*params, *scope_params, limit + 10],
            )
    return Preview(run=run, count=count, rows=_visible_rows(actor, rows, limit))


# ---- membership at each run ------------------------------------------------------------------------


def segments_record(con: duckdb.DuckDBPyConnection, run: AnalyticsRun) -> dict[str, Any]:
    """Store each segment's members at ``run`` (inside the run's warehouse transaction) and their snapshot.

    Reads the run's temporary ``contact_scores``. Entered and left are counted against the segment's
    previous successful run (all its members entered at its first). A segment whose stored definition
    no longer validates is skipped and named in the figures; any SQL error fails the run, as a failed
    statement would leave the warehouse transaction unusable anyway.
    """
    con.execute("DELETE FROM segment_membership WHERE run_id = ?", [run.pk])
    figures: dict[str, Any] = {"recorded": 0, "skipped": {}}
    saved = list(Segment.objects.order_by("id"))
    if saved:
        # Snapshots of runs that failed after recording them (their membership was rolled back).
        SegmentSnapshot.objects.filter(run__status=RunStatus.FAILED).delete()
    source = ScoreSource.during_run()
    for segment in saved:
        try:
            sql, params = segment_query(segment.definition, source=source, as_of=run.as_of)
        except ValidationFailed as error:
            figures["skipped"][str(segment.pk)] = str(error)
            continue
        con.execute(
            f"INSERT INTO segment_membership (run_id, as_of, segment_id, contact_id) "
            f"SELECT ?, ?, ?, contact_id FROM ({sql}) m",
            [run.pk, run.as_of, segment.pk, *params],
        )
        previous = (
            SegmentSnapshot.objects.filter(segment=segment, run__status=RunStatus.SUCCEEDED)
            .exclude(run=run)
            .order_by("-run__started_at", "-run_id")
            .first()
        )
        previous_id = previous.run_id if previous is not None else -1
        customers, entered, left = con.execute(
            """
            SELECT (SELECT count(*) FROM segment_membership WHERE run_id = $run AND segment_id = $segment),
                   (SELECT count(*) FROM segment_membership cur WHERE cur.run_id = $run AND cur.segment_id = $segment
                      AND cur.contact_id NOT IN (SELECT contact_id FROM segment_membership
                                                 WHERE run_id = $previous AND segment_id = $segment)),
                   (SELECT count(*) FROM segment_membership old WHERE old.run_id = $previous
                      AND old.segment_id = $segment
                      AND old.contact_id NOT IN (SELECT contact_id FROM segment_membership
                                                 WHERE run_id = $run AND segment_id = $segment))
            """,
            {"run": run.pk, "segment": segment.pk, "previous": previous_id},
        ).fetchone()
        SegmentSnapshot.objects.update_or_create(
            segment=segment,
            run=run,
            defaults={
                "as_of": run.as_of,
                "customers": customers,
                "entered": entered,
                "left": left,
                "previous_run_id": previous.run_id if previous is not None else None,
            },
        )
        Segment.objects.filter(pk=segment.pk).update(last_run=run, last_count=customers)
        figures["recorded"] += 1
    return figures


# ---- the segments: reads ---------------------------------------------------------------------------


def _succeeded_snapshots() -> QuerySet[SegmentSnapshot]:
    return SegmentSnapshot.objects.filter(run__status=RunStatus.SUCCEEDED)


def segment_list(*, actor: Any) -> QuerySet[Segment]:
    """Every segment, each with its size at its latest successful run and the change since the one before.

    Annotations: ``size``, ``entered``, ``left``, ``size_run_id`` and ``size_as_of`` (None before any run).
    """
    require_read(actor, "segments")
    latest = _succeeded_snapshots().filter(segment=OuterRef("pk")).order_by("-run__started_at", "-run_id")
    return Segment.objects.select_related("created_by").annotate(
        size=Subquery(latest.values("customers")[:1]),
        entered=Subquery(latest.values("entered")[:1]),
        left=Subquery(latest.values("left")[:1]),
        size_run_id=Subquery(latest.values("run_id")[:1]),
        size_as_of=Subquery(latest.values("as_of")[:1]),
    )


def segment_get_for_actor(*, actor: Any, segment_id: int) -> Segment:
    """One segment (annotated as in ``segment_list``), or ``NotFound``."""
    segment = segment_list(actor=actor).filter(pk=segment_id).first()
    if segment is None:
        raise NotFound("segment")
    return segment


def segment_history(*, actor: Any, segment: Segment, limit: int = 90) -> list[SegmentSnapshot]:
    """The segment's size, entered and left at its latest ``limit`` successful runs, oldest first."""
    require_read(actor, "segments")
    if not 1 <= limit <= 1000:
        raise ValidationFailed(field="limit", reason="must be between 1 and 1000")
    snapshots = list(_succeeded_snapshots().filter(segment=segment).order_by("-run__started_at", "-run_id")[:limit])
    return snapshots[::-1]


def _snapshot_at(segment: Segment, run_id: int | None) -> SegmentSnapshot | None:
    """The segment's snapshot at ``run_id`` (its latest when None); a run it was not evaluated at is a 422."""
    snapshots = _succeeded_snapshots().filter(segment=segment)
    if run_id is None:
        return snapshots.order_by("-run__started_at", "-run_id").first()
    found = snapshots.filter(run_id=run_id).first()
    if found is None:
        raise ValidationFailed(field="run", reason="the segment was not evaluated at this run")
    return found


@dataclass
class MembersPage:
    """A page of a segment's members at a run, by contact id."""

    run_id: int | None
    as_of: dt.date | None
    items: list[dict[str, Any]]
    next_cursor: str | None


MEMBER_SCORES = ["abc_class", "rfm_segment", "value_tier", "monetary_total", "clv", "p_alive", "churn_risk"]


def _with_scores(con: duckdb.DuckDBPyConnection, run_id: int, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = _fetch(
        con,
        f"SELECT contact_id, {', '.join(MEMBER_SCORES)} FROM score_history "
        f"WHERE run_id = ? AND contact_id IN ({', '.join('?' * len(ids))})",
        [run_id, *ids],
    )
    return {row.pop("contact_id"): row for row in rows}


def _member_rows(
    con: duckdb.DuckDBPyConnection, actor: Any, run_id: int, sql: str, params: list[Any], limit: int
) -> list[dict[str, Any]]:
    """Run ``sql`` (contact ids of members, in order, limited) and complete the rows the actor may see."""
    ids = [row[0] for row in con.execute(sql, params).fetchall()]
    scores = _with_scores(con, run_id, ids)
    rows = [{"contact_id": contact_id, **scores.get(contact_id, dict.fromkeys(MEMBER_SCORES))} for contact_id in ids]
    return _visible_rows(actor, rows, limit)


def segment_members(
    *, actor: Any, segment: Segment, run_id: int | None = None, cursor: str | None = None, limit: int = 50
) -> MembersPage:
    """The members of ``segment`` at a run (its latest by default) that ``actor`` may see, by contact id."""
    require_read(actor, "segments")
    if not 1 <= limit <= 200:
        raise ValidationFailed(field="limit", reason="must be between 1 and 200")
    after = 0
    if cursor:
        after = decode_cursor(cursor, "members", Contact, ["id"])[0]
    snapshot_ = _snapshot_at(segment, run_id)
    if snapshot_ is None:
        return MembersPage(run_id=None, as_of=None, items=[], next_cursor=None)
    with warehouse_reader() as con:
        if not _has_tables(con, *TRACKED_WAREHOUSE_TABLES):
            return MembersPage(run_id=snapshot_.run_id, as_of=snapshot_.as_of, items=[], next_cursor=None)
        scope, scope_params = _scope_filter(actor, "c")
        join = " JOIN contacts c ON c.id = m.contact_id" if scope else ""
        sql = (
            f"SELECT m.contact_id FROM segment_membership m{join} "
            f"WHERE m.run_id = ? AND m.segment_id = ? AND m.contact_id > ?{scope} ORDER BY m.contact_id LIMIT ?"
        )
        params = [snapshot_.run_id, segment.pk, after, *scope_params, limit + 1]
        raw = [row[0] for row in con.execute(sql, params).fetchall()]
        more = len(raw) > limit
        raw = raw[:limit]
        scores = _with_scores(con, snapshot_.run_id, raw)
    rows = [{"contact_id": contact_id, **scores.get(contact_id, dict.fromkeys(MEMBER_SCORES))} for contact_id in raw]
    items = _visible_rows(actor, rows, limit)
    next_cursor = encode_cursor("members", [raw[-1]]) if more else None
    return MembersPage(run_id=snapshot_.run_id, as_of=snapshot_.as_of, items=items, next_cursor=next_cursor)


@dataclass
class Changes:
    """Who entered and who left a segment at a run, against its previous run (the first ``limit`` of each)."""

    run_id: int | None
    as_of: dt.date | None
    previous_run_id: int | None
    entered_count: int
    left_count: int
    entered: list[dict[str, Any]]
    left: list[dict[str, Any]]


def segment_changes(*, actor: Any, segment: Segment, run_id: int | None = None, limit: int = 100) -> Changes:
    """Who entered and left ``segment`` at a run (its latest by default); the lists hold contacts ``actor`` sees.

    The counts are the segment's totals; each list holds at most ``limit`` contacts, by id.
    """
    require_read(actor, "segments")
    if not 1 <= limit <= 500:
        raise ValidationFailed(field="limit", reason="must be between 1 and 500")
    snapshot_ = _snapshot_at(segment, run_id)
    if snapshot_ is None:
        return Changes(None, None, None, 0, 0, [], [])
    changes = Changes(
        run_id=snapshot_.run_id,
        as_of=snapshot_.as_of,
        previous_run_id=snapshot_.previous_run_id,
        entered_count=snapshot_.entered,
        left_count=snapshot_.left,
        entered=[],
        left=[],
    )
    with warehouse_reader() as con:
        if not _has_tables(con, *TRACKED_WAREHOUSE_TABLES):
            return changes
        previous = snapshot_.previous_run_id or -1
        scope, scope_params = _scope_filter(actor, "c")
        join = " JOIN contacts c ON c.id = a.contact_id" if scope else ""
        for side, (here, there, scores_run) in {
            "entered": (snapshot_.run_id, previous, snapshot_.run_id),
            "left": (previous, snapshot_.run_id, previous),
        }.items():
            sql = (
                f"SELECT a.contact_id FROM segment_membership a{join} WHERE a.run_id = ? AND a.segment_id = ?{scope} "
                "AND a.contact_id NOT IN (SELECT contact_id FROM segment_membership WHERE run_id = ? AND segment_id = ?) "
                "ORDER BY a.contact_id LIMIT ?"
            )
            params = [here, segment.pk, *scope_params, there, segment.pk, limit + 10]
            setattr(changes, side, _member_rows(con, actor, scores_run, sql, params, limit))
    return changes


# ---- the segments: writes --------------------------------------------------------------------------


def _clean_fields(data: dict[str, Any], *, segment: Segment | None = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip():
            errors["name"] = "is required"
        elif "\x00" in name:
            errors["name"] = "must not contain NUL characters"
        elif len(name.strip()) > NAME_MAX:
            errors["name"] = f"must be at most {NAME_MAX} characters"
        else:
            cleaned["name"] = name.strip()
            taken = Segment.objects.filter(name__iexact=cleaned["name"])
            if segment is not None:
                taken = taken.exclude(pk=segment.pk)
            if taken.exists():
                errors["name"] = "is already the name of another segment"
    if "description" in data:
        description = data["description"] if data["description"] is not None else ""
        if not isinstance(description, str):
            errors["description"] = "must be text"
        elif "\x00" in description:
            errors["description"] = "must not contain NUL characters"
        elif len(description) > DESCRIPTION_MAX:
            errors["description"] = f"must be at most {DESCRIPTION_MAX} characters"
        else:
            cleaned["description"] = description.strip()
    if "definition" in data:
        try:
            cleaned["definition"] = definition_clean(data["definition"])
            definition_check_references(cleaned["definition"])
        except ValidationFailed as error:
            errors.update(error.errors)
    unknown = set(data) - {"name", "description", "definition"}
    errors.update({name: "cannot be changed" for name in sorted(unknown)})
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _saved(save):
    """Run ``save``; the unique name index catching a concurrent twin answers as validation does."""
    try:
        with transaction.atomic():
            return save()
    except IntegrityError:
        raise ValidationFailed(field="name", reason="is already the name of another segment") from None


def segment_create(*, actor: Any, name: str, definition: Any, description: str = "") -> Segment:
    """Save a segment definition; its members are recorded from the next run on."""
    require_write(actor, "segments")
    data = _clean_fields({"name": name, "description": description, "definition": definition})

    def save() -> Segment:
        segment = Segment.objects.create(**data, created_by=actor)
        changes = {key: [None, value] for key, value in snapshot(segment, data.keys()).items() if value}
        audit_record(actor=actor, action="segment.create", instance=segment, changes=changes)
        return segment

    return segment_get_for_actor(actor=actor, segment_id=_saved(save).pk)


def segment_update(*, actor: Any, segment: Segment, data: dict[str, Any]) -> Segment:
    """Change a segment's name, description or definition (the recorded members stay as they were)."""
    require_write(actor, "segments")
    cleaned = _clean_fields(dict(data), segment=segment)

    def save() -> Segment:
        locked = Segment.objects.select_for_update().get(pk=segment.pk)
        changes = apply_changes(locked, cleaned)
        if changes:
            locked.save()
            audit_record(actor=actor, action="segment.update", instance=locked, changes=changes)
        return locked

    return segment_get_for_actor(actor=actor, segment_id=_saved(save).pk)


@transaction.atomic
def segment_delete(*, actor: Any, segment: Segment) -> None:
    """Delete a segment and its snapshots (the warehouse keeps the rows of past runs, unread)."""
    require_write(actor, "segments")
    changes = {key: [value, None] for key, value in snapshot(segment, ["name", "definition"]).items()}
    audit_record(actor=actor, action="segment.delete", instance=segment, changes=changes)
    segment.delete()


# ---- in words --------------------------------------------------------------------------------------


def _value_text(spec: FieldSpec, value: Any, names: dict[int, str]) -> str:
    if value is None:
        return _("empty")
    if isinstance(value, list):
        return ", ".join(_value_text(spec, item, names) for item in value)
    if spec.choices:
        return str(dict(spec.choices).get(value, value))
    if spec.kind in ("id", "bought"):
        return names.get(value, f"#{value}")
    if spec.kind == "date":
        return formats.date_format(dt.date.fromisoformat(value), "SHORT_DATE_FORMAT")
    if isinstance(value, float):
        return formats.number_format(value, decimal_pos=2 if abs(value) < 100 else 0, use_l10n=True)
    return str(value)


def condition_text(condition: dict[str, Any], names: dict[str, dict[int, str]] | None = None) -> str:
    """One condition of a clean definition in words, in the active language."""
    spec = FIELDS[condition["field"]]
    names = names or {}
    op, value = condition["op"], condition["value"]
    shown = _value_text(spec, value, names.get(spec.name, {}))
    if op == "between":
        low, high = (_value_text(spec, item, names.get(spec.name, {})) for item in value)
        shown = _("%(low)s and %(high)s") % {"low": low, "high": high}
    days = condition.get("within_days")
    when = _(" in the last %(days)s days") % {"days": days} if days else ""
    if spec.kind == "bought":
        what = _("bought %(what)s") if op != "ne" else _("did not buy %(what)s")
        if spec.name == "bought_category":
            shown = _("in %(category)s (or its subcategories)") % {"category": shown}
        return (what % {"what": shown}) + when
    if spec.kind == "consent":
        purpose = dict(PARAM_CHOICES["consent"]["purpose"]).get(condition["purpose"], condition["purpose"])
        channel = dict(PARAM_CHOICES["consent"]["channel"]).get(condition["channel"], condition["channel"])
        verb = OPERATOR_LABELS[op]
        return _("consent to %(purpose)s by %(channel)s %(verb)s %(state)s") % {
            "purpose": str(purpose).lower(),
            "channel": str(channel).lower(),
            "verb": verb,
            "state": shown,
        }
    label = str(spec.label)
    if spec.name == "interactions" and condition.get("channel"):
        channel = dict(PARAM_CHOICES["interactions"]["channel"]).get(condition["channel"], condition["channel"])
        label = _("%(label)s by %(channel)s") % {"label": label, "channel": str(channel).lower()}
    return f"{label} {OPERATOR_LABELS[op]} {shown}{when}"


def definition_text(definition: Any) -> tuple[str, list[str]]:
    """A definition in words: the joining sentence ("all of" / "any of") and one line per condition."""
    try:
        definition = definition_clean(definition)
    except ValidationFailed:
        return _("This definition is no longer valid."), []
    names = reference_names(definition)
    lead = (
        _("Contacts who meet all of these conditions:")
        if definition["match"] == "all"
        else _("Contacts who meet at least one of these conditions:")
    )
    return lead, [condition_text(condition, names) for condition in definition["conditions"]]
