"""Web pages of the sales app: the deal board, list and page, the forecast, and the tasks of the day.

Reads go through ``selectors`` and writes through ``services``, as in the API, so the web enforces the
same visibility matrix: a record out of scope is a 404, a change a read-only role tries is a 403, an
action the record's state refuses is a 409 with the reason, an invalid value is shown beside its field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NoReturn
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from cuore.contacts.selectors import account_list, account_visible, contact_list, contact_visible
from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, reference
from cuore.core.htmx import is_htmx
from cuore.core.lists import Column, ListSpec, export_response, list_context, list_page, render_list, selected_ids
from cuore.core.pagination import paginate
from cuore.core.roles import Role
from cuore.core.visibility import Scope, can_write, read_scope, require_read, require_write
from cuore.sales import selectors, services
from cuore.sales.api import DEAL_ORDERINGS, HISTORY_ORDERING, TASK_ORDERING
from cuore.sales.forms import (
    ID_MAX,
    ActivityFilterForm,
    DealFilterForm,
    DealForm,
    ForecastFilterForm,
    LoseForm,
    MoveForm,
    TaskForm,
    reason_text,
)
from cuore.sales.models import ActivityKind, Deal, DealStatus
from cuore.users.selectors import team_list, user_get_for_actor, user_list

BOARD_CAP = 50  # cards per column; the column's "more" link opens the list filtered on the stage
PAGE_SIZE = 50
PICKER_SIZE = 10
OWNER_ROLES = (Role.ADMIN, Role.MANAGER, Role.SALES)
TEAM_TASK_ROLES = (Role.ADMIN, Role.MANAGER)  # who may switch the tasks page to the whole team's


# ---- helpers -------------------------------------------------------------------------------------


def _refusal_reason(exc: Exception, conflict: str) -> str:
    if isinstance(exc, Forbidden):
        return _("Your role may not make this change.")
    if isinstance(exc, Conflict):
        return conflict
    if isinstance(exc, ValidationFailed):
        return " ".join(reason_text(reason) for reason in exc.errors.values())
    return _("Not found, or you may not see it.")


def _status_of(exc: Exception) -> int:
    return {NotFound: 404, Forbidden: 403, Conflict: 409, ValidationFailed: 422}[type(exc)]


def _refuse_fragment(exc: Exception, conflict: str) -> HttpResponse:
    """An HTMX action refused: the status, and the reason as text and in the header ``cuore.js`` shows."""
    reason = _refusal_reason(exc, conflict)
    return HttpResponse(
        reason, status=_status_of(exc), content_type="text/plain", headers={"X-Cuore-Reason": quote(reason)}
    )


def _page_refusal(exc: Exception) -> NoReturn:
    """A full page refused: 404 for what the user may not see, 403 for what they may only read."""
    if isinstance(exc, Forbidden):
        raise PermissionDenied(_refusal_reason(exc, "")) from None
    raise Http404(_refusal_reason(exc, "")) from None


def _checked_id(value: int) -> int:
    if value > ID_MAX:  # larger than any id the database can hold
        raise Http404
    return value


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _owners(actor: Any) -> list[Any]:
    """The users who may own a deal: for a team-scoped writer, themselves and their team."""
    people = list(user_list(actor=actor).filter(is_active=True, role__in=OWNER_ROLES).order_by("username"))
    if read_scope(actor, "deals") is Scope.TEAM:
        return [u for u in people if u.pk == actor.pk or (actor.team_id and u.team_id == actor.team_id)]
    return people


def _visible_names(
    actor: Any, *, contact_ids: Iterable[int | None], account_ids: Iterable[int | None]
) -> tuple[dict[int, str], dict[int, str]]:
    """The names of the contacts and accounts the actor may see among these: one query per kind."""
    contacts: dict[int, str] = {}
    accounts: dict[int, str] = {}
    wanted_contacts = {pk for pk in contact_ids if pk is not None}
    wanted_accounts = {pk for pk in account_ids if pk is not None}
    if wanted_contacts:
        rows = contact_visible(actor=actor).filter(pk__in=wanted_contacts).values_list("pk", "first_name", "last_name")
        contacts = {pk: f"{first} {last}".strip() for pk, first, last in rows}
    if wanted_accounts:
        accounts = dict(account_visible(actor=actor).filter(pk__in=wanted_accounts).values_list("pk", "name"))
    return contacts, accounts


def _label_customers(actor: Any, deals: list[Deal]) -> None:
    """Give each deal the name of its account (or contact) when the actor may see it, else nothing."""
    contacts, accounts = _visible_names(
        actor, contact_ids=(d.contact_id for d in deals), account_ids=(d.account_id for d in deals)
    )
    for deal in deals:
        deal.account_name = accounts.get(deal.account_id, "")  # type: ignore[attr-defined]
        deal.contact_name = contacts.get(deal.contact_id, "")  # type: ignore[attr-defined]


def _page(queryset, *, ordering_key: str, ordering, cursor: str | None):
    """One page of a list; a cursor that is no longer valid starts again from the first page."""
    try:
        return paginate(queryset, ordering_key=ordering_key, ordering=ordering, cursor=cursor, limit=PAGE_SIZE), False
    except ValidationFailed:
        return paginate(queryset, ordering_key=ordering_key, ordering=ordering, cursor=None, limit=PAGE_SIZE), True


def _query_with(request: HttpRequest, **changes: Any) -> str:
    """The current query string with some parameters replaced (``None`` removes one)."""
    params = request.GET.copy()
    for key, value in changes.items():
        params.pop(key, None)
        if value is not None:
            params[key] = value
    return params.urlencode()


# ---- the board -----------------------------------------------------------------------------------


@login_required
@require_safe
def board(request: HttpRequest) -> HttpResponse:
    """The Kanban board of one pipeline (the default one unless ``?pipeline=`` names another)."""
    actor = request.user
    try:
        require_read(actor, "deals", "deal")
        pipelines = list(selectors.pipeline_list(actor=actor))
    except NotFound as exc:
        _page_refusal(exc)
    pipeline = None
    wanted = request.GET.get("pipeline")
    if wanted:
        pipeline = next((p for p in pipelines if str(p.pk) == wanted), None)
        if pipeline is None:
            raise Http404(_("Not found, or you may not see it."))
    else:
        pipeline = next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None)
    columns = selectors.deal_board(actor=actor, pipeline=pipeline, per_stage=BOARD_CAP) if pipeline else []
    _label_customers(actor, [deal for column in columns for deal in column.deals])
    return render(
        request,
        "sales/board.html",
        {
            "pipelines": pipelines,
            "pipeline": pipeline,
            "columns": columns,
            "can_move": can_write(actor, "deals"),
            "cap": BOARD_CAP,
            "section": "board",
        },
    )


def _column_totals_html(request: HttpRequest, totals: dict[int, list], stages: list[Any]) -> dict[str, str]:
    return {
        str(stage.pk): render_to_string(
            "sales/_column_totals.html",
            {"stage": stage, "totals": totals[stage.pk], "count": sum(t.deals for t in totals[stage.pk])},
            request=request,
        )
        for stage in stages
    }


@login_required
@require_POST
def deal_move(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Move a deal to another stage: from the board (JSON in and out) or from the deal page (a form)."""
    actor = request.user
    conflict = _("Only an open deal can be moved: reopen it first.")
    form = MoveForm(request.POST)
    try:
        deal = selectors.deal_get_for_write(actor=actor, deal_id=_checked_id(deal_id))
        if not form.is_valid():
            raise ValidationFailed(field="stage", reason="is required")
        stage = reference(
            "stage", lambda: selectors.stage_get_for_actor(actor=actor, stage_id=form.cleaned_data["stage"])
        )
        from_stage = deal.stage
        deal = services.deal_move_to_stage(actor=actor, deal=deal, stage=stage)
    except (NotFound, Forbidden, Conflict, ValidationFailed) as exc:
        if _wants_json(request):
            body: dict[str, Any] = {"detail": _refusal_reason(exc, conflict)}
            if isinstance(exc, ValidationFailed):
                body["errors"] = {name: reason_text(reason) for name, reason in exc.errors.items()}
            return JsonResponse(body, status=_status_of(exc))
        if isinstance(exc, (NotFound, Forbidden)):
            _page_refusal(exc)
        deal = selectors.deal_get_for_actor(actor=actor, deal_id=deal_id)
        if isinstance(exc, Conflict):
            return _render_deal(request, deal, status=409, error=conflict)
        form.add_error("stage", _refusal_reason(exc, conflict))
        return _render_deal(request, deal, move_form=form)
    if _wants_json(request):
        stages = [from_stage, stage] if from_stage.pk != stage.pk else [stage]
        totals = selectors.deal_stage_totals(actor=actor, stages=stages)
        return JsonResponse(
            {
                "deal": deal.pk,
                "stage": stage.pk,
                "stage_name": stage.name,
                "columns": _column_totals_html(request, totals, stages),
            }
        )
    messages.success(request, _("The deal is now in the stage “%(stage)s”.") % {"stage": stage.name})
    return HttpResponseRedirect(reverse("sales:deal", args=[deal.pk]))


# ---- the deal page -------------------------------------------------------------------------------


def _deal_context(request: HttpRequest, deal: Deal) -> dict[str, Any]:
    actor = request.user
    pipeline = selectors.pipeline_get_for_actor(actor=actor, pipeline_id=deal.pipeline_id)
    contact = account = None
    contact_hidden = account_hidden = False
    if deal.contact_id:
        try:
            contact = selectors.contact_for_link(actor=actor, contact_id=deal.contact_id)
        except NotFound:
            contact_hidden = True
    if deal.account_id:
        try:
            account = selectors.account_for_link(actor=actor, account_id=deal.account_id)
        except NotFound:
            account_hidden = True
    history, _stale = _page(
        selectors.deal_history(deal=deal).select_related("changed_by"),
        ordering_key="-changed",
        ordering=HISTORY_ORDERING,
        cursor=request.GET.get("history"),
    )
    activities = list(
        selectors.activity_list(actor=actor, deal_id=deal.pk)
        .select_related("assignee")
        .order_by("-created_at", "-id")[: PAGE_SIZE + 1]
    )
    return {
        "deal": deal,
        "pipeline": pipeline,
        "stages": list(pipeline.stages.all()),
        "weighted": (deal.amount * deal.stage.probability / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        "owner": deal.owner,
        "contact": contact,
        "contact_hidden": contact_hidden,
        "account": account,
        "account_hidden": account_hidden,
        "history": history,
        "history_more": _query_with(request, history=history.next_cursor) if history.next_cursor else None,
        "activities": activities[:PAGE_SIZE],
        "activities_more": len(activities) > PAGE_SIZE,
        "can_write": can_write(actor, "deals"),
        "section": "deal",
    }


def _edit_form(request: HttpRequest, deal: Deal, data: Any = None) -> DealForm:
    initial = {
        "name": deal.name,
        "amount": deal.amount,
        "currency": deal.currency,
        "expected_close": deal.expected_close,
        "owner": deal.owner_id,
        "contact": deal.contact_id,
        "account": deal.account_id,
    }
    return DealForm(data, initial=initial, owners=_owners(request.user))


def _render_deal(
    request: HttpRequest,
    deal: Deal,
    *,
    status: int = 200,
    error: str | None = None,
    edit_form: DealForm | None = None,
    lose_form: LoseForm | None = None,
    move_form: MoveForm | None = None,
) -> HttpResponse:
    context = _deal_context(request, deal)
    context.update(
        {
            "error": error,
            "edit_form": edit_form,
            "lose_form": lose_form or LoseForm(),
            "lose_open": lose_form is not None,
            "move_form": move_form,
        }
    )
    if edit_form is not None:
        context.update(_picker_labels(request, context))
    return render(request, "sales/deal.html", context, status=status)


def _picker_labels(request: HttpRequest, context: dict[str, Any]) -> dict[str, str]:
    """The names shown in the contact and account pickers: what was typed back, or the deal's own."""
    if request.method == "POST":
        return {
            "contact_label": request.POST.get("contact_label", ""),
            "account_label": request.POST.get("account_label", ""),
        }
    return {
        "contact_label": str(context["contact"] or ""),
        "account_label": str(context["account"] or ""),
    }


@login_required
@require_safe
def deal_detail(request: HttpRequest, deal_id: int) -> HttpResponse:
    """The deal page: its figures, contact and account, history, activities and actions."""
    try:
        deal = selectors.deal_get_for_actor(actor=request.user, deal_id=_checked_id(deal_id))
    except NotFound as exc:
        _page_refusal(exc)
    return _render_deal(request, deal)


DEALS = ListSpec(
    name="deals",
    columns=(
        Column("name", gettext_lazy("Name"), sort="name", template="sales/_cell_deal.html"),
        Column("customer_name", gettext_lazy("Customer")),
        Column("pipeline_name", gettext_lazy("Pipeline"), default=False),
        Column("stage_name", gettext_lazy("Stage")),
        Column("status_label", gettext_lazy("Status")),
        Column(
            "amount",
            gettext_lazy("Amount"),
            sort="-amount",
            template="sales/_cell_money.html",
            export=lambda d: d.amount,
        ),
        Column("weighted", gettext_lazy("Weighted"), default=False, template="sales/_cell_money.html"),
        Column(
            "expected_close",
            gettext_lazy("Expected close"),
            sort="expected_close",
            template="sales/_cell_date.html",
            export=lambda d: d.expected_close.isoformat() if d.expected_close else "",
        ),
        Column("owner_name", gettext_lazy("Owner")),
        Column("contact_name", gettext_lazy("Contact"), default=False),
        Column(
            "created_at",
            pgettext_lazy("deal", "Created"),
            sort="-created",
            default=False,
            template="sales/_cell_date.html",
            export=lambda d: d.created_at.isoformat(),
        ),
    ),
    orderings={
        **DEAL_ORDERINGS,
        "created": ("created_at", "id"),
        "-name": ("-name_key", "-id"),
        "amount": ("amount", "id"),
        "-expected_close": ("-expected_close", "-id"),
    },
    default_ordering="-created",
    page_size=PAGE_SIZE,
)


def _spec_with_page_size(spec: ListSpec, size: int) -> ListSpec:
    return spec if spec.page_size == size else replace(spec, page_size=size)


@login_required
@require_safe
def deal_list(request: HttpRequest) -> HttpResponse:
    """The deals the user may see: filters, chosen columns, saved views, CSV export and bulk actions."""
    actor = request.user
    try:
        require_read(actor, "deals", "deal")
        pipelines = list(selectors.pipeline_list(actor=actor))
    except NotFound as exc:
        _page_refusal(exc)
    owners = _owners(actor)
    form = DealFilterForm(request.GET, pipelines=pipelines, owners=owners)
    form.is_valid()
    filters = form.cleaned_data
    spec = _spec_with_page_size(DEALS, PAGE_SIZE)
    deals = selectors.deal_list(
        actor=actor,
        pipeline_id=filters.get("pipeline"),
        stage_id=filters.get("stage"),
        status=filters.get("status") or None,
        owner_id=filters.get("owner"),
        q=filters.get("q") or None,
    ).select_related("owner", "stage__pipeline")
    if spec.ordering_key(request.GET).lstrip("-") == "expected_close":
        deals = deals.filter(expected_close__isnull=False)
    statuses = dict(DealStatus.choices)

    def rows(items: list[Deal]) -> list[Deal]:
        _label_customers(actor, items)
        for deal in items:
            deal.customer_name = deal.account_name or deal.contact_name  # type: ignore[attr-defined]
            deal.pipeline_name = deal.stage.pipeline.name  # type: ignore[attr-defined]
            deal.stage_name = deal.stage.name  # type: ignore[attr-defined]
            deal.status_label = str(statuses.get(deal.status, deal.status))  # type: ignore[attr-defined]
            deal.weighted = (  # type: ignore[attr-defined]
                (deal.amount * deal.stage.probability / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
                if deal.amount is not None
                else None
            )
            owner = deal.owner
            deal.owner_name = (owner.get_full_name() or owner.username) if owner else ""  # type: ignore[attr-defined]
        return items

    if request.GET.get("export") == "csv":
        return export_response(spec, deals, request.GET, filename="deals.csv", to_rows=rows)
    page = list_page(request, spec, deals, to_rows=rows)
    writable = can_write(actor, "deals")
    context = {
        "form": form,
        "title": _("All deals"),
        "section": "list",
        "people": owners,
        "pipelines": pipelines,
        **list_context(
            request,
            page,
            bulk_url=reverse("sales:deals_bulk") if writable else "",
            bulk_template="sales/_deal_bulk.html" if writable else "",
        ),
    }
    return render_list(request, "sales/deal_list.html", context)


def _bulk_refusal(actor: Any, resource: str) -> HttpResponse | None:
    """403 for a role that only reads ``resource``; 404 for one that does not even see it."""
    if can_write(actor, resource):
        return None
    try:
        require_read(actor, resource)
    except NotFound:
        raise Http404 from None
    return HttpResponseForbidden(_("Your role may not change these records."))


def _bulk_outcome(request: HttpRequest, *, asked: int, found: int, done: int, skipped: list[str]) -> None:
    if done:
        messages.success(request, _("%(count)d records changed.") % {"count": done})
    if found < asked:
        messages.warning(request, _("%(count)d selected records were not found.") % {"count": asked - found})
    if skipped:
        messages.warning(
            request,
            _("%(count)d records were left as they were: %(reasons)s")
            % {"count": len(skipped), "reasons": "; ".join(dict.fromkeys(skipped))},
        )


@login_required
@require_POST
def deal_bulk(request: HttpRequest) -> HttpResponse:
    """Assign the selected deals to an owner, or move them to a stage of their pipeline."""
    actor = request.user
    refusal = _bulk_refusal(actor, "deals")
    if refusal is not None:
        return refusal
    fallback = reverse("sales:deals")
    try:
        ids = selected_ids(request.POST.getlist("ids"))
        action = request.POST.get("action", "")
        deals = list(selectors.deal_visible(actor=actor).select_related("stage").filter(pk__in=ids).order_by("id"))
        skipped: list[str] = []
        done = 0
        if action == "assign_owner":
            owner = next((u for u in _owners(actor) if str(u.pk) == request.POST.get("owner", "")), None)
            if owner is None:
                raise ValidationFailed(field="owner", reason=_("choose an owner"))
            for deal in deals:
                try:
                    services.deal_update(actor=actor, deal=deal, data={"owner": owner})
                    done += 1
                except (ValidationFailed, Conflict) as exc:
                    skipped.append(_refusal_reason(exc, _("the deal changed meanwhile")))
        elif action == "move_stage":
            value = request.POST.get("stage", "")
            if not value.isdigit() or not 0 < int(value) <= ID_MAX:
                raise ValidationFailed(field="stage", reason=_("choose a stage"))
            try:
                stage = selectors.stage_get_for_actor(actor=actor, stage_id=int(value))
            except NotFound:
                raise ValidationFailed(field="stage", reason=_("choose a stage")) from None
            for deal in deals:
                if deal.pipeline_id != stage.pipeline_id:
                    skipped.append(_("the stage belongs to another pipeline"))
                    continue
                try:
                    services.deal_move_to_stage(actor=actor, deal=deal, stage=stage)
                    done += 1
                except (ValidationFailed, Conflict) as exc:
                    skipped.append(_refusal_reason(exc, _("only open deals move between stages")))
        else:
            raise ValidationFailed(field="action", reason=_("choose an action"))
        _bulk_outcome(request, asked=len(ids), found=len(deals), done=done, skipped=skipped)
    except ValidationFailed as exc:
        messages.error(request, "; ".join(str(reason) for reason in exc.errors.values()))
    except Forbidden as exc:
        return HttpResponseForbidden(str(exc))
    return HttpResponseRedirect(_safe_next(request, fallback))


@login_required
@require_http_methods(["GET", "POST"])
def deal_edit(request: HttpRequest, deal_id: int) -> HttpResponse:
    """The deal's edit form (GET, as an HTMX fragment or in the page) and its saving (POST)."""
    actor = request.user
    try:
        deal = selectors.deal_get_for_write(actor=actor, deal_id=_checked_id(deal_id))
    except (NotFound, Forbidden) as exc:
        if is_htmx(request):
            return _refuse_fragment(exc, "")
        _page_refusal(exc)
    form = _edit_form(request, deal, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            deal = services.deal_update(actor=actor, deal=deal, data=_deal_changes(actor, deal, form.cleaned_data))
        except ValidationFailed as exc:
            form.add_service_errors(
                exc, {"owner_id": "owner", "team_id": "owner", "contact_id": "contact", "account_id": "account"}
            )
        else:
            if is_htmx(request):
                context = _deal_context(request, deal)
                return render(request, "sales/_deal_saved.html", context)
            messages.success(request, _("The deal has been saved."))
            return HttpResponseRedirect(reverse("sales:deal", args=[deal.pk]))
    invalid = request.method == "POST"
    if is_htmx(request):
        context = {"deal": deal, "edit_form": form}
        context.update(_picker_labels(request, _deal_context(request, deal)))
        return render(request, "sales/_deal_form.html", context, status=422 if invalid else 200)
    return _render_deal(request, deal, edit_form=form)


def _deal_changes(actor: Any, deal: Deal, data: dict[str, Any]) -> dict[str, Any]:
    """The form's values as the service takes them; links are resolved only when they change."""
    changes: dict[str, Any] = {
        "name": data["name"],
        "amount": data["amount"],
        "currency": data["currency"],
        "expected_close": data["expected_close"],
    }
    if data["owner"] != deal.owner_id:
        owner_id = data["owner"]
        changes["owner"] = (
            None
            if owner_id is None
            else reference("owner_id", lambda: user_get_for_actor(actor=actor, user_id=owner_id))
        )
    if data["contact"] != deal.contact_id:
        contact_id = data["contact"]
        changes["contact"] = (
            None
            if contact_id is None
            else reference("contact_id", lambda: selectors.contact_for_link(actor=actor, contact_id=contact_id))
        )
    if data["account"] != deal.account_id:
        account_id = data["account"]
        changes["account"] = (
            None
            if account_id is None
            else reference("account_id", lambda: selectors.account_for_link(actor=actor, account_id=account_id))
        )
    return changes


def _close_action(request: HttpRequest, deal_id: int, action, *, done: str, conflict: str) -> HttpResponse:
    """Win or reopen a deal: back to the page it came from, or the deal page with the reason it was refused."""
    actor = request.user
    try:
        deal = selectors.deal_get_for_write(actor=actor, deal_id=_checked_id(deal_id))
        action(actor=actor, deal=deal)
    except (NotFound, Forbidden) as exc:
        _page_refusal(exc)
    except Conflict:
        deal = selectors.deal_get_for_actor(actor=actor, deal_id=deal_id)
        return _render_deal(request, deal, status=409, error=conflict)
    messages.success(request, done)
    return HttpResponseRedirect(_safe_next(request, reverse("sales:deal", args=[deal_id])))


@login_required
@require_POST
def deal_win(request: HttpRequest, deal_id: int) -> HttpResponse:
    return _close_action(
        request,
        deal_id,
        services.deal_win,
        done=_("The deal is won. Well done!"),
        conflict=_("This deal is already closed: reopen it first."),
    )


@login_required
@require_POST
def deal_reopen(request: HttpRequest, deal_id: int) -> HttpResponse:
    return _close_action(
        request,
        deal_id,
        services.deal_reopen,
        done=_("The deal is open again."),
        conflict=_("This deal is already open."),
    )


@login_required
@require_POST
def deal_lose(request: HttpRequest, deal_id: int) -> HttpResponse:
    """Mark a deal as lost; the reason is required and shown as an error beside its field when missing."""
    actor = request.user
    conflict = _("This deal is already closed: reopen it first.")
    try:
        deal = selectors.deal_get_for_write(actor=actor, deal_id=_checked_id(deal_id))
    except (NotFound, Forbidden) as exc:
        _page_refusal(exc)
    form = LoseForm(request.POST)
    if form.is_valid():
        try:
            services.deal_lose(actor=actor, deal=deal, reason=form.cleaned_data["reason"])
        except Conflict:
            return _render_deal(request, deal, status=409, error=conflict)
        except ValidationFailed as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("The deal is marked as lost."))
            return HttpResponseRedirect(_safe_next(request, reverse("sales:deal", args=[deal.pk])))
    return _render_deal(request, deal, lose_form=form, status=422 if is_htmx(request) else 200)


# ---- the forecast --------------------------------------------------------------------------------

CHART_COLOURS = ("#0d6efd", "#198754", "#6f42c1", "#fd7e14", "#20c997", "#d63384")


@login_required
@require_safe
def forecast(request: HttpRequest) -> HttpResponse:
    """The open pipeline by month of expected close: amounts and weighted amounts, per currency."""
    actor = request.user
    try:
        pipelines = list(selectors.pipeline_list(actor=actor))
        form = ForecastFilterForm(request.GET, pipelines=pipelines)
        form.is_valid()
        pipeline_id = form.cleaned_data.get("pipeline")
        result = selectors.forecast(actor=actor, pipeline_id=pipeline_id)
    except NotFound as exc:
        _page_refusal(exc)
    no_date = _("No date")
    months = sorted({line.month for line in result.months}, key=lambda m: (m is None, m or dt.date.min))
    labels = [formats.date_format(m, "YEAR_MONTH_FORMAT") if m else no_date for m in months]
    datasets = []
    currencies = sorted({line.currency for line in result.months})
    for index, currency in enumerate(currencies):
        by_month = {line.month: line for line in result.months if line.currency == currency}
        colour = CHART_COLOURS[index % len(CHART_COLOURS)]
        for key, label, alpha in (
            ("amount", _("Amount (%(currency)s)"), "55"),
            ("weighted_amount", _("Weighted (%(currency)s)"), ""),
        ):
            datasets.append(
                {
                    "label": label % {"currency": currency},
                    "data": [float(getattr(by_month[m], key)) if m in by_month else 0 for m in months],
                    "backgroundColor": colour + alpha,
                    "borderColor": colour,
                    "borderWidth": 1,
                }
            )
    return render(
        request,
        "sales/forecast.html",
        {
            "form": form,
            "forecast": result,
            "chart": {"labels": labels, "datasets": datasets},
            "section": "forecast",
        },
    )


# ---- tasks ---------------------------------------------------------------------------------------


def _render_tasks(request: HttpRequest, form: TaskForm, *, status: int = 200, error: str | None = None) -> HttpResponse:
    actor = request.user
    today = timezone.localdate()
    leads_team = actor.role in TEAM_TASK_ROLES
    team_view = leads_team and request.GET.get("scope") == "team"
    teams: list[Any] = []
    team_id = None
    try:
        if team_view:
            teams = list(team_list(actor=actor))
            wanted = request.GET.get("team")
            if wanted is None:
                team_id = actor.team_id
            elif wanted:
                team_id = next((t.pk for t in teams if str(t.pk) == wanted), None)
                if team_id is None:
                    raise NotFound("team")
            tasks = selectors.tasks_due_for_team(actor=actor, day=today, team_id=team_id)
        else:
            tasks = selectors.tasks_due(actor=actor, day=today)
    except NotFound as exc:
        _page_refusal(exc)
    page, stale = _page(
        tasks.select_related("assignee"),
        ordering_key="due_at",
        ordering=TASK_ORDERING,
        cursor=request.GET.get("cursor"),
    )
    contacts, _accounts = _visible_names(actor, contact_ids=(t.contact_id for t in page.items), account_ids=())
    deal_ids = {t.deal_id for t in page.items if t.deal_id}
    deals = {}
    if deal_ids and read_scope(actor, "deals") is not Scope.NONE:
        deals = dict(selectors.deal_visible(actor=actor).filter(pk__in=deal_ids).values_list("pk", "name"))
    start_of_today = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    for task in page.items:
        task.contact_name = contacts.get(task.contact_id, "")
        task.deal_name = deals.get(task.deal_id, "")
        task.overdue = task.due_at < start_of_today
    can_change = can_write(actor, "activities")
    return render(
        request,
        "sales/tasks.html",
        {
            "form": form,
            "overdue": [t for t in page.items if t.overdue],
            "due_today": [t for t in page.items if not t.overdue],
            "today": today,
            "next_query": _query_with(request, cursor=page.next_cursor) if page.next_cursor else None,
            "stale_cursor": stale,
            "leads_team": leads_team,
            "team_view": team_view,
            "teams": teams,
            "team_id": team_id,
            "can_change": can_change,
            "error": error,
            "contact_label": request.POST.get("contact_label", "") if request.method == "POST" else "",
            "current": request.get_full_path(),
        },
        status=status,
    )


@login_required
@require_safe
def tasks(request: HttpRequest) -> HttpResponse:
    """My tasks for today: the overdue ones and those due today; the whole team's for managers."""
    return _render_tasks(request, TaskForm())


@login_required
@require_POST
def task_create(request: HttpRequest) -> HttpResponse:
    """Create a task assigned to oneself, due at a given time, optionally about a contact."""
    actor = request.user
    try:
        require_write(actor, "activities")
    except (NotFound, Forbidden) as exc:
        _page_refusal(exc)
    form = TaskForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            contact = None
            if data["contact"]:
                contact_id = data["contact"]
                contact = reference(
                    "contact_id", lambda: selectors.contact_for_link(actor=actor, contact_id=contact_id)
                )
            services.activity_create(
                actor=actor, subject=data["subject"], kind=data["kind"], due_at=data["due_at"], contact=contact
            )
        except ValidationFailed as exc:
            form.add_service_errors(exc, {"contact_id": "contact", "assignee_id": None, "team_id": None})
        else:
            messages.success(request, _("The task has been created."))
            return HttpResponseRedirect(_safe_next(request, reverse("sales:tasks")))
    return _render_tasks(request, form, status=422 if is_htmx(request) else 200)


@login_required
@require_POST
def task_done(request: HttpRequest, activity_id: int) -> HttpResponse:
    """Mark a task as done: the row is redrawn for HTMX, the page reloaded otherwise."""
    actor = request.user
    conflict = _("This task is already done.")
    try:
        activity = selectors.activity_get_for_write(actor=actor, activity_id=_checked_id(activity_id))
        activity = services.activity_complete(actor=actor, activity=activity)
    except (NotFound, Forbidden, Conflict) as exc:
        if is_htmx(request):
            return _refuse_fragment(exc, conflict)
        if isinstance(exc, Conflict):
            return _render_tasks(request, TaskForm(), status=409, error=conflict)
        _page_refusal(exc)
    if is_htmx(request):
        return render(request, "sales/_task_done.html", {"task": activity})
    messages.success(request, _("Done: “%(subject)s”.") % {"subject": activity.subject})
    return HttpResponseRedirect(_safe_next(request, reverse("sales:tasks")))


# ---- pickers -------------------------------------------------------------------------------------


def _picker_query(request: HttpRequest, field: str) -> str:
    """What was typed in a picker (sent under the name of its visible input, or as ``q``)."""
    typed = request.GET.get(f"{field}_label") or request.GET.get("q") or ""
    return typed.replace("\x00", "").strip()[:200]


@login_required
@require_safe
def pick_contact(request: HttpRequest) -> HttpResponse:
    """The first contacts the user may see whose name, email or phone starts with what they typed."""
    q = _picker_query(request, "contact")
    items: list[tuple[int, str]] = []
    if q:
        found = contact_list(actor=request.user, q=q).order_by("last_name_key", "first_name_key", "id")
        items = [(c.pk, c.full_name) for c in found[:PICKER_SIZE]]
    return render(request, "sales/_picker_results.html", {"items": items, "q": q})


@login_required
@require_safe
def pick_account(request: HttpRequest) -> HttpResponse:
    """The first accounts the user may see whose name or VAT number starts with what they typed."""
    q = _picker_query(request, "account")
    items: list[tuple[int, str]] = []
    if q:
        try:
            found = account_list(actor=request.user, q=q).order_by("name_key", "id")
            items = [(a.pk, a.name) for a in found[:PICKER_SIZE]]
        except NotFound:
            items = []
    return render(request, "sales/_picker_results.html", {"items": items, "q": q})


# ---- the list of all activities ------------------------------------------------------------------

ACTIVITIES = ListSpec(
    name="activities",
    columns=(
        Column("subject", gettext_lazy("Subject"), sort="subject"),
        Column("kind_label", gettext_lazy("Kind")),
        Column(
            "due_at",
            gettext_lazy("Due"),
            sort="due_at",
            template="sales/_cell_datetime.html",
            export=lambda a: a.due_at.isoformat() if a.due_at else "",
        ),
        Column("assignee_name", gettext_lazy("Assigned to")),
        Column("contact_name", gettext_lazy("Contact")),
        Column("deal_name", gettext_lazy("Deal"), template="sales/_cell_activity_deal.html"),
        Column(
            "done", gettext_lazy("Done"), template="sales/_cell_done.html", export=lambda a: "yes" if a.done else "no"
        ),
        Column(
            "created_at",
            pgettext_lazy("activity", "Created"),
            sort="-created",
            default=False,
            template="sales/_cell_date.html",
            export=lambda a: a.created_at.isoformat(),
        ),
    ),
    orderings={
        "-created": ("-created_at", "-id"),
        "created": ("created_at", "id"),
        "due_at": ("due_at", "id"),
        "-due_at": ("-due_at", "-id"),
        "subject": ("subject", "id"),
        "-subject": ("-subject", "-id"),
    },
    default_ordering="-created",
    page_size=PAGE_SIZE,
)


def _assignees(actor: Any) -> list[Any]:
    """Whom the actor may give an activity to: anyone active, or themselves and their team when team-scoped."""
    people = list(user_list(actor=actor).filter(is_active=True).order_by("username"))
    if read_scope(actor, "activities") is Scope.TEAM:
        return [u for u in people if u.pk == actor.pk or (actor.team_id and u.team_id == actor.team_id)]
    return people


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _deal_names(actor: Any, deal_ids: Iterable[int | None]) -> dict[int, str]:
    """The names of the deals the actor may see among these, in one query (none if they see no deals)."""
    wanted = {pk for pk in deal_ids if pk is not None}
    if not wanted:
        return {}
    try:
        require_read(actor, "deals", "deal")
    except NotFound:
        return {}
    return dict(selectors.deal_visible(actor=actor).filter(pk__in=wanted).values_list("pk", "name"))


@login_required
@require_safe
def activity_list(request: HttpRequest) -> HttpResponse:
    """Every activity the user may see: filters, chosen columns, saved views, CSV export and bulk actions."""
    actor = request.user
    try:
        require_read(actor, "activities", "activity")
    except NotFound as exc:
        _page_refusal(exc)
    assignees = _assignees(actor)
    form = ActivityFilterForm(request.GET, assignees=assignees)
    form.is_valid()
    filters = form.cleaned_data
    spec = _spec_with_page_size(ACTIVITIES, PAGE_SIZE)
    done = {"yes": True, "no": False}.get(filters.get("done") or "")
    due_from, due_to = filters.get("due_from"), filters.get("due_to")
    activities = selectors.activity_list(
        actor=actor,
        kind=filters.get("kind") or None,
        done=done,
        assignee_id=filters.get("assignee"),
        due_after=_day_start(due_from) if due_from else None,
        due_before=_day_start(due_to + dt.timedelta(days=1)) if due_to else None,
    ).select_related("assignee")
    if spec.ordering_key(request.GET).lstrip("-") == "due_at":
        activities = activities.filter(due_at__isnull=False)
    kinds = dict(ActivityKind.choices)

    def rows(items: list[Any]) -> list[Any]:
        contacts, _accounts = _visible_names(actor, contact_ids=(a.contact_id for a in items), account_ids=())
        deals = _deal_names(actor, (a.deal_id for a in items))
        for activity in items:
            activity.kind_label = str(kinds.get(activity.kind, activity.kind))
            person = activity.assignee
            activity.assignee_name = (person.get_full_name() or person.username) if person else ""
            activity.contact_name = contacts.get(activity.contact_id, "")
            activity.deal_name = deals.get(activity.deal_id, "")
        return items

    if request.GET.get("export") == "csv":
        return export_response(spec, activities, request.GET, filename="activities.csv", to_rows=rows)
    page = list_page(request, spec, activities, to_rows=rows)
    writable = can_write(actor, "activities")
    context = {
        "form": form,
        "title": _("All activities"),
        "people": assignees,
        **list_context(
            request,
            page,
            bulk_url=reverse("sales:activities_bulk") if writable else "",
            bulk_template="sales/_activity_bulk.html" if writable else "",
        ),
    }
    return render_list(request, "sales/activity_list.html", context)


@login_required
@require_POST
def activity_bulk(request: HttpRequest) -> HttpResponse:
    """Mark the selected activities done, or give them to someone."""
    actor = request.user
    refusal = _bulk_refusal(actor, "activities")
    if refusal is not None:
        return refusal
    try:
        ids = selected_ids(request.POST.getlist("ids"))
        action = request.POST.get("action", "")
        activities = list(selectors.activity_visible(actor=actor).filter(pk__in=ids).order_by("id"))
        skipped: list[str] = []
        done = 0
        if action == "mark_done":
            for activity in activities:
                try:
                    services.activity_complete(actor=actor, activity=activity)
                    done += 1
                except Conflict:
                    skipped.append(_("already done"))
        elif action == "assign":
            assignee = next((u for u in _assignees(actor) if str(u.pk) == request.POST.get("assignee", "")), None)
            if assignee is None:
                raise ValidationFailed(field="assignee", reason=_("choose whom to assign to"))
            for activity in activities:
                try:
                    services.activity_update(actor=actor, activity=activity, data={"assignee": assignee})
                    done += 1
                except (ValidationFailed, Conflict) as exc:
                    skipped.append(_refusal_reason(exc, _("the activity changed meanwhile")))
        else:
            raise ValidationFailed(field="action", reason=_("choose an action"))
        _bulk_outcome(request, asked=len(ids), found=len(activities), done=done, skipped=skipped)
    except ValidationFailed as exc:
        messages.error(request, "; ".join(str(reason) for reason in exc.errors.values()))
    except Forbidden as exc:
        return HttpResponseForbidden(str(exc))
    return HttpResponseRedirect(_safe_next(request, reverse("sales:activities")))
