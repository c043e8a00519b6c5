"""Web pages of segments and alert rules: the list, the editor with its live count, a segment's page, the rules.

Reads go through ``segments`` / ``alerts`` (the same functions as the API), writes through their
services: a read-only role gets 403 on a write, an invalid definition shows its errors beside each
condition (422 for HTMX), a busy warehouse shows a message instead of the members.

The editor's form names each condition by a row index (``c`` lists the rows present, in order):
``c3-field``, ``c3-op``, ``c3-value`` (several for a multiple choice; ``c3-value2`` is the high end of
``between``), ``c3-within_days``, ``c3-channel``, ``c3-purpose``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from cuore.analytics import alerts, segments
from cuore.analytics.models import AbcClass, AlertKind, RfmSegment, Segment
from cuore.core.errors import Forbidden, NotFound, ValidationFailed
from cuore.core.htmx import is_htmx
from cuore.core.visibility import can_write, require_read
from cuore.orders.selectors import category_tree, product_list
from cuore.users.selectors import team_list, user_list

ID_MAX = 2**63 - 1
MEMBERS_PAGE = 50
CHANGES_SHOWN = 20
PREVIEW_SIZE = 10
PRODUCT_HINTS = 500  # products offered as suggestions in the editor
RECENT_ALERTS = 20
NONE = "none"  # the option "no owner" / "no team"
GROUPS = [
    ("profile", gettext_lazy("Profile")),
    ("score", gettext_lazy("Scores")),
    ("behaviour", gettext_lazy("Behaviour")),
]
BUSY_MESSAGE = gettext_lazy("The warehouse is busy with a run, try again shortly.")

# The validator's reasons (English, for the API), told to the user in their language.
_REASONS: list[tuple[str, Any]] = [
    ("is required", gettext_lazy("This field is required.")),
    ("not found", gettext_lazy("Not found.")),
    ("is not a known field", gettext_lazy("Choose a field.")),
    ("must be one of", gettext_lazy("Choose one of the values offered.")),
    ("must be an id", gettext_lazy("Choose one of the values offered.")),
    ("must be a whole number of days", gettext_lazy("Enter a number of days from 1 to 36500, or leave it empty.")),
    ("must be a whole number", gettext_lazy("Enter a whole number.")),
    ("must be a number", gettext_lazy("Enter a number.")),
    ("must be zero or more", gettext_lazy("Enter zero or more.")),
    ("must be a date", gettext_lazy("Enter a valid date.")),
    ("must be text", gettext_lazy("Enter some text.")),
    ("must not contain NUL characters", gettext_lazy("Null characters are not allowed.")),
    ("must be at most", gettext_lazy("This text is too long.")),
    ("the low value must not be above the high one", gettext_lazy("The first value must not be above the second.")),
    ("must be a list of two values", gettext_lazy("Enter both values.")),
    ("must be a list of 1 to 30 conditions", gettext_lazy("Add at least one condition, at most 30.")),
    ("must be a list of 1 to", gettext_lazy("Choose at least one value, at most 100.")),
    ("can be null only with eq or ne", gettext_lazy("This field is required.")),
    ("is not allowed", gettext_lazy("This setting does not apply to the field.")),
    ("is already the name of another segment", gettext_lazy("Another segment already has this name.")),
    ("is already the name of another rule", gettext_lazy("Another rule already has this name.")),
    ("must be above 0 and below 1", gettext_lazy("Enter a share above 0 and below 1.")),
    ("must be above 0 and at most 1", gettext_lazy("Enter a value above 0 and at most 1.")),
    ("must be a list of one or more of A, B, C", gettext_lazy("Choose at least one class.")),
]


def reason_text(reason: str) -> str:
    """A validation reason in the user's language (the first known beginning that matches)."""
    for start, text in _REASONS:
        if reason.startswith(start):
            return str(text)
    return reason


def _labelled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each row its RFM segment's name in the user's language (``rfm_label``)."""
    names = dict(RfmSegment.choices)
    for row in rows:
        segment = str(row.get("rfm_segment") or "")
        row["rfm_label"] = str(names.get(segment, segment))
    return rows


def _refuse(exc: Exception) -> NoReturn:
    if isinstance(exc, Forbidden):
        raise PermissionDenied(_("Your role may not make this change.")) from None
    raise Http404 from None


def _segment(request: HttpRequest, segment_id: int) -> Segment:
    if segment_id > ID_MAX:
        raise Http404
    try:
        return segments.segment_get_for_actor(actor=request.user, segment_id=segment_id)
    except NotFound as exc:
        _refuse(exc)


def _read_segments(request: HttpRequest) -> None:
    try:
        require_read(request.user, "segments")
    except NotFound as exc:
        _refuse(exc)


def _may_write(request: HttpRequest) -> None:
    if not can_write(request.user, "segments"):
        _read_segments(request)
        raise PermissionDenied(_("Your role may not make this change."))


# ---- the editor's rows ---------------------------------------------------------------------------


@dataclass
class Row:
    """One condition as the form holds it (texts), with its errors."""

    index: int
    field: str = "abc_class"
    op: str = "eq"
    values: list[str] = dataclasses.field(default_factory=list)
    within_days: str = ""
    channel: str = ""
    purpose: str = ""
    errors: list[str] = dataclasses.field(default_factory=list)


def _text(value: Any) -> str:
    if value is None:
        return NONE
    return str(value)


def rows_from_definition(definition: Any) -> tuple[str, list[Row]]:
    """A stored definition as editor rows (``match`` and the rows)."""
    if not isinstance(definition, dict):
        return "all", [Row(index=0)]
    rows = []
    for index, condition in enumerate(definition.get("conditions") or []):
        if not isinstance(condition, dict):
            continue
        value = condition.get("value")
        values = [_text(item) for item in value] if isinstance(value, list) else [_text(value)]
        rows.append(
            Row(
                index=index,
                field=str(condition.get("field", "")),
                op=str(condition.get("op", "")),
                values=values,
                within_days=_text(condition["within_days"]) if condition.get("within_days") else "",
                channel=str(condition.get("channel") or ""),
                purpose=str(condition.get("purpose") or ""),
            )
        )
    return str(definition.get("match", "all")), rows or [Row(index=0)]


def rows_from_post(data) -> tuple[str, list[Row]]:
    """The editor's rows as posted, in their order on the page."""
    rows = []
    seen = set()
    for raw in data.getlist("c"):
        if not raw.isdigit() or int(raw) in seen or int(raw) > 10_000:
            continue
        index = int(raw)
        seen.add(index)
        prefix = f"c{index}-"
        values = [value for value in data.getlist(prefix + "value")]
        if data.get(prefix + "op") == "between":
            values = [data.get(prefix + "value", ""), data.get(prefix + "value2", "")]
        rows.append(
            Row(
                index=index,
                field=data.get(prefix + "field", ""),
                op=data.get(prefix + "op", ""),
                values=values,
                within_days=data.get(prefix + "within_days", "").strip(),
                channel=data.get(prefix + "channel", ""),
                purpose=data.get(prefix + "purpose", ""),
            )
        )
    return data.get("match", "all"), rows


_INTEGER = re.compile(r"-?\d{1,19}")


def _typed(spec: segments.FieldSpec | None, text: str) -> Any:
    """A form text as the definition's value: numbers become numbers when they read as one."""
    text = text.strip()
    if spec is None:
        return text
    if spec.nullable and text == NONE:
        return None
    if spec.kind in ("id", "bought", "integer", "count"):
        return int(text) if _INTEGER.fullmatch(text) else text
    if spec.kind == "number":
        try:
            number = Decimal(text.replace(",", "."))
        except InvalidOperation:
            return text
        if not number.is_finite():
            return text
        return int(number) if number == number.to_integral_value() and abs(number) < 10**15 else float(number)
    return text


def definition_from_rows(match: str, rows: list[Row]) -> dict[str, Any]:
    """The definition the rows say, for the validator (which names what is wrong)."""
    conditions = []
    for row in rows:
        spec = segments.FIELDS.get(row.field)
        condition: dict[str, Any] = {"field": row.field, "op": row.op}
        texts = [text for text in row.values if text.strip()] if row.op != "between" else row.values
        if row.op == "in":
            if len(texts) == 1 and "," in texts[0]:
                texts = [part for part in texts[0].split(",") if part.strip()]
            condition["value"] = [_typed(spec, text) for text in texts]
        elif row.op == "between":
            condition["value"] = [_typed(spec, text) if text.strip() else None for text in row.values]
        elif texts:
            condition["value"] = _typed(spec, texts[0])
        elif spec is not None and spec.kind == "text":
            condition["value"] = ""
        if spec is not None and "within_days" in spec.params:
            days = row.within_days
            condition["within_days"] = (int(days) if days.isdigit() and len(days) < 10 else days) if days else None
        if spec is not None and "channel" in spec.params:
            condition["channel"] = row.channel or None
        if spec is not None and "purpose" in spec.params:
            condition["purpose"] = row.purpose or None
        conditions.append(condition)
    return {"match": match, "conditions": conditions}


_CONDITION = re.compile(r"^definition\.conditions\[(\d+)\](?:\.(.*))?$")


def _spread_errors(errors: dict[str, str], rows: list[Row]) -> dict[str, str]:
    """Put each condition's errors on its row; return the others (name, description, the whole definition)."""
    others = {}
    for key, reason in errors.items():
        found = _CONDITION.match(key)
        if found and int(found.group(1)) < len(rows):
            rows[int(found.group(1))].errors.append(reason_text(reason))
        else:
            others[key] = reason_text(reason)
    return others


# ---- what a row offers -------------------------------------------------------------------------


class Options:
    """The choices the editor offers, fetched once per request and only when a row needs them."""

    def __init__(self, actor: Any):
        self.actor = actor
        self._cache: dict[str, list[tuple[str, str]]] = {}

    def _get(self, name: str, load) -> list[tuple[str, str]]:
        if name not in self._cache:
            self._cache[name] = load()
        return self._cache[name]

    def users(self) -> list[tuple[str, str]]:
        return self._get(
            "users",
            lambda: [
                (str(user.pk), user.get_full_name() or user.username)
                for user in user_list(actor=self.actor).order_by("username")
            ],
        )

    def teams(self) -> list[tuple[str, str]]:
        return self._get(
            "teams", lambda: [(str(team.pk), team.name) for team in team_list(actor=self.actor).order_by("name")]
        )

    def categories(self) -> list[tuple[str, str]]:
        return self._get("categories", lambda: [(str(node.id), node.path) for node in category_tree(actor=self.actor)])

    def products(self) -> list[tuple[str, str]]:
        return self._get(
            "products",
            lambda: [
                (str(product.pk), product.name)
                for product in product_list(actor=self.actor).order_by("name", "id")[:PRODUCT_HINTS]
            ],
        )

    def for_field(self, spec: segments.FieldSpec) -> list[tuple[str, str]]:
        if spec.choices:
            return [(value, str(label)) for value, label in spec.choices]
        if spec.name == "owner":
            return [(NONE, _("(nobody)")), *self.users()]
        if spec.name == "team":
            return [(NONE, _("(no team)")), *self.teams()]
        if spec.name in ("preferred_category", "bought_category"):
            return self.categories()
        return []


def _widget(spec: segments.FieldSpec | None, op: str) -> str:
    """How a row's value is entered: select, multi, number, date, text, products, between-number, between-date."""
    if spec is None:
        return "text"
    if spec.name == "bought_product":
        return "products"
    if spec.choices or spec.kind == "id" or spec.kind == "bought":
        return "multi" if op == "in" else "select"
    if op == "between":
        return "between-date" if spec.kind == "date" else "between-number"
    if op == "in":
        return "text"
    if spec.kind == "date":
        return "date"
    if spec.kind in ("integer", "number", "count"):
        return "number"
    return "text"


def row_context(row: Row, options: Options) -> dict[str, Any]:
    """What ``_condition.html`` shows for one row."""
    spec = segments.FIELDS.get(row.field)
    if spec is not None and row.op not in spec.ops:
        row.op = spec.ops[0]
    fields = [
        (label, [(name, str(item.label)) for name, item in segments.FIELDS.items() if item.group == group])
        for group, label in GROUPS
    ]
    widget = _widget(spec, row.op)
    return {
        "row": row,
        "spec": spec,
        "fields": fields,
        "ops": [(op, str(segments.OPERATOR_LABELS[op])) for op in (spec.ops if spec else segments.ORDERED)],
        "widget": widget,
        "choices": options.for_field(spec) if spec else [],
        "products": options.products() if widget == "products" else [],
        "value_text": ", ".join(row.values)
        if widget in ("text", "products")
        else (row.values[0] if row.values else ""),
        "low": row.values[0] if row.values else "",
        "high": row.values[1] if len(row.values) > 1 else "",
        "takes_days": spec is not None and "within_days" in spec.params,
        "channels": [(v, str(label)) for v, label in segments.PARAM_CHOICES.get(row.field, {}).get("channel", ())],
        "purposes": [(v, str(label)) for v, label in segments.PARAM_CHOICES.get(row.field, {}).get("purpose", ())],
        "channel_required": spec is not None and spec.kind == "consent",
    }


def _editor_context(request, *, segment, name, description, match, rows, errors=None) -> dict[str, Any]:
    options = Options(request.user)
    return {
        "segment": segment,
        "name": name,
        "description": description,
        "match": match,
        "rows": [row_context(row, options) for row in rows],
        "next_index": max((row.index for row in rows), default=-1) + 1,
        "errors": errors or {},
        "orders": [(key, str(label)) for key, label in segments.ORDER_LABELS.items()],
        "order": "-clv",
    }


# ---- pages ---------------------------------------------------------------------------------------


@login_required
@require_safe
def segment_list(request: HttpRequest) -> HttpResponse:
    """Every segment with its size at the last run and the change since the one before."""
    _read_segments(request)
    rows = list(segments.segment_list(actor=request.user).order_by("name", "id"))
    for segment in rows:
        segment.change = (segment.entered or 0) - (segment.left or 0) if segment.size is not None else None
    return render(
        request,
        "analytics/segments/list.html",
        {"segments": rows, "can_edit": can_write(request.user, "segments")},
    )


def _save(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    match, rows = rows_from_post(request.POST)
    name, description = request.POST.get("name", ""), request.POST.get("description", "")
    definition = definition_from_rows(match, rows)
    try:
        if segment is None:
            saved = segments.segment_create(
                actor=request.user, name=name, description=description, definition=definition
            )
        else:
            saved = segments.segment_update(
                actor=request.user,
                segment=segment,
                data={"name": name, "description": description, "definition": definition},
            )
    except ValidationFailed as exc:
        errors = _spread_errors(exc.errors, rows)
        context = _editor_context(
            request, segment=segment, name=name, description=description, match=match, rows=rows, errors=errors
        )
        return render(request, "analytics/segments/editor.html", context, status=422 if is_htmx(request) else 200)
    except (Forbidden, NotFound) as exc:
        _refuse(exc)
    messages.success(request, _("The segment is saved. Its members are recorded at every analytics run."))
    return redirect("segments:detail", segment_id=saved.pk)


@login_required
@require_http_methods(["GET", "POST"])
def segment_new(request: HttpRequest) -> HttpResponse:
    """The editor of a new segment."""
    _may_write(request)
    if request.method == "POST":
        return _save(request, None)
    context = _editor_context(request, segment=None, name="", description="", match="all", rows=[Row(index=0)])
    return render(request, "analytics/segments/editor.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, segment_id: int) -> HttpResponse:
    """The editor of an existing segment."""
    segment = _segment(request, segment_id)
    _may_write(request)
    if request.method == "POST":
        return _save(request, segment)
    match, rows = rows_from_definition(segment.definition)
    context = _editor_context(
        request, segment=segment, name=segment.name, description=segment.description, match=match, rows=rows
    )
    return render(request, "analytics/segments/editor.html", context)


@login_required
@require_POST
def segment_delete(request: HttpRequest, segment_id: int) -> HttpResponse:
    segment = _segment(request, segment_id)
    try:
        segments.segment_delete(actor=request.user, segment=segment)
    except (Forbidden, NotFound) as exc:
        _refuse(exc)
    messages.success(request, _("The segment “%(name)s” is deleted.") % {"name": segment.name})
    return redirect("segments:list")


@login_required
@require_http_methods(["GET", "POST"])
def segment_condition(request: HttpRequest) -> HttpResponse:
    """One condition row (HTMX): a new one after the rows present, or one redrawn for its new field or operator."""
    _read_segments(request)
    options = Options(request.user)
    data = request.POST if request.method == "POST" else request.GET
    if data.get("add"):
        present = [int(raw) for raw in data.getlist("c") if raw.isdigit() and len(raw) < 6]
        row = Row(index=max(present, default=-1) + 1)
    else:
        _match, rows = rows_from_post(data)
        wanted = data.get("row", "")
        row = next((r for r in rows if str(r.index) == wanted), None) or Row(index=0)
        spec = segments.FIELDS.get(row.field)
        if data.get("changed") == "field" or (spec is not None and row.op not in spec.ops):
            row.op = spec.ops[0] if spec else "eq"
            row.values, row.channel, row.purpose = [], "", ""
    response = render(request, "analytics/segments/_condition.html", row_context(row, options))
    response["HX-Trigger-After-Settle"] = "segment-changed"
    return response


@login_required
@require_POST
def segment_preview(request: HttpRequest) -> HttpResponse:
    """The live count and the first contacts of the definition being edited (HTMX), errors beside each condition."""
    _read_segments(request)
    match, rows = rows_from_post(request.POST)
    order = request.POST.get("order", "-clv")
    order = order if order in segments.PREVIEW_ORDERS else "-clv"
    context: dict[str, Any] = {"rows": rows, "preview": None, "busy": False, "errors": {}}
    status = 200
    try:
        context["preview"] = segments.segment_preview(
            actor=request.user, definition=definition_from_rows(match, rows), limit=PREVIEW_SIZE, order=order
        )
        _labelled(context["preview"].rows)
    except ValidationFailed as exc:
        context["errors"] = _spread_errors(exc.errors, rows)
        status = 422
    except segments.WarehouseBusy:
        context["busy"] = True
    return render(request, "analytics/segments/_preview.html", context, status=status)


def _changes_and_members(request: HttpRequest, segment: Segment) -> dict[str, Any]:
    try:
        changes = segments.segment_changes(actor=request.user, segment=segment, limit=CHANGES_SHOWN)
        members = segments.segment_members(actor=request.user, segment=segment, limit=MEMBERS_PAGE)
    except segments.WarehouseBusy:
        return {"busy": True}
    _labelled(members.items)
    return {"busy": False, "changes": changes, "members": members}


@login_required
@require_safe
def segment_detail(request: HttpRequest, segment_id: int) -> HttpResponse:
    """A segment: its definition in words, its size over time, who entered and left, its members."""
    segment = _segment(request, segment_id)
    lead, lines = segments.definition_text(segment.definition)
    history = segments.segment_history(actor=request.user, segment=segment)
    chart = {
        "labels": [snapshot.as_of.isoformat() for snapshot in history],
        "size": [snapshot.customers for snapshot in history],
        "entered": [snapshot.entered for snapshot in history],
        "left": [snapshot.left for snapshot in history],
        "names": {"size": _("Contacts"), "entered": _("Entered"), "left": _("Left")},
    }
    context = {
        "segment": segment,
        "lead": lead,
        "lines": lines,
        "history": history,
        "chart": chart,
        "can_edit": can_write(request.user, "segments"),
        **_changes_and_members(request, segment),
    }
    return render(request, "analytics/segments/detail.html", context)


@login_required
@require_safe
def segment_members(request: HttpRequest, segment_id: int) -> HttpResponse:
    """The next page of a segment's members (HTMX "load more")."""
    segment = _segment(request, segment_id)
    run = request.GET.get("run", "")
    try:
        page = segments.segment_members(
            actor=request.user,
            segment=segment,
            run_id=int(run) if run.isdigit() and len(run) < 19 else None,
            cursor=request.GET.get("cursor") or None,
            limit=MEMBERS_PAGE,
        )
    except ValidationFailed:
        raise Http404 from None
    except segments.WarehouseBusy:
        return render(request, "analytics/segments/_busy_row.html", {}, status=503)
    _labelled(page.items)
    return render(request, "analytics/segments/_members.html", {"segment": segment, "members": page})


# ---- alert rules ---------------------------------------------------------------------------------


def _rule_rows(rules, errors_for: dict[int, dict[str, str]] | None = None, values: dict | None = None) -> list:
    errors_for = errors_for or {}
    return [
        {
            "rule": rule,
            "kind": str(AlertKind(rule.kind).label) if rule.kind in AlertKind.values else rule.kind,
            "errors": errors_for.get(rule.pk, {}),
            "values": (values or {}).get(rule.pk, {}),
        }
        for rule in rules
    ]


@login_required
@require_safe
def alert_rules(request: HttpRequest) -> HttpResponse:
    """The alert rules (editable by those allowed) and the latest alerts on contacts one may see."""
    try:
        rules = list(alerts.alert_rule_list(actor=request.user))
        recent = list(alerts.alert_list(actor=request.user).order_by("-id")[:RECENT_ALERTS])
    except NotFound as exc:
        _refuse(exc)
    for alert in recent:
        alert.reason_shown = alerts.reason_text(alert.reason)
    return render(
        request,
        "analytics/segments/alert_rules.html",
        {
            "rules": _rule_rows(rules),
            "recent": recent,
            "classes": AbcClass.values,
            "can_edit": can_write(request.user, "alert_rules"),
        },
    )


@login_required
@require_POST
def alert_rule_update(request: HttpRequest, rule_id: int) -> HttpResponse:
    """Save one rule's threshold, classes and whether it is active (HTMX: the row again)."""
    if rule_id > ID_MAX:
        raise Http404
    try:
        rule = alerts.alert_rule_get_for_actor(actor=request.user, rule_id=rule_id)
    except NotFound as exc:
        _refuse(exc)
    text = request.POST.get("threshold", "").strip().replace(",", ".")
    try:
        threshold: Any = float(text)
    except ValueError:
        threshold = text
    data = {
        "threshold": threshold,
        "abc_classes": request.POST.getlist("abc_classes"),
        "active": request.POST.get("active") == "on",
    }
    status = 200
    errors: dict[str, str] = {}
    try:
        rule = alerts.alert_rule_update(actor=request.user, rule=rule, data=data)
    except ValidationFailed as exc:
        errors = {key: reason_text(reason) for key, reason in exc.errors.items()}
        status = 422
    except (Forbidden, NotFound) as exc:
        _refuse(exc)
    if not is_htmx(request):
        if errors:
            messages.error(request, " ".join(errors.values()))
        return redirect(reverse("segments:alert_rules"))
    row = _rule_rows([rule], {rule.pk: errors}, {rule.pk: {"threshold": text}} if errors else None)[0]
    context = {"item": row, "classes": AbcClass.values, "can_edit": True, "saved": not errors}
    return render(request, "analytics/segments/_rule_row.html", context, status=status)
