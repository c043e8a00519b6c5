"""The home of the web application: a dashboard of what the user's role looks after, and the global search.

Both only read, and only through the selectors of the apps that own the data, so they show exactly
what the API would show the same user.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import dateformat, formats, timezone
from django.utils.translation import gettext as _

from cuore.contacts.selectors import (
    CONTACT_ROW_FIELDS,
    account_search,
    account_visible,
    contact_rows,
    contact_search,
    contact_visible,
    contacts_created_by_month,
)
from cuore.core.errors import NotFound
from cuore.core.roles import Role
from cuore.core.templatetags.cuore import money
from cuore.core.visibility import Scope, read_scope
from cuore.orders.selectors import order_list
from cuore.sales.selectors import deal_list, pipeline_by_stage, revenue_won_by_month, tasks_due_count
from cuore.service.models import TicketStatus
from cuore.service.selectors import sla_compliance_by_month, ticket_list, tickets_by_status

# ---- dashboard -----------------------------------------------------------------------------------

ALL_CHARTS = ("pipeline", "revenue", "tickets", "sla", "customers")
# What each role looks at first; a chart also needs its resource to be readable (the matrix decides).
CHARTS_BY_ROLE: dict[str, tuple[str, ...]] = {
    Role.SALES: ("pipeline", "revenue"),
    Role.SUPPORT: ("tickets", "sla"),
    Role.MARKETING: ("customers",),
    Role.MANAGER: ALL_CHARTS,
    Role.ADMIN: ALL_CHARTS,
    Role.ANALYST: ALL_CHARTS,
}
CHART_RESOURCE = {
    "pipeline": "deals",
    "revenue": "deals",
    "tickets": "tickets",
    "sla": "tickets",
    "customers": "contacts",
}
OPEN_TICKET_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)


def dashboard_charts(actor: Any) -> list[str]:
    """The charts ``actor``'s dashboard shows, in page order."""
    return [
        chart
        for chart in CHARTS_BY_ROLE.get(actor.role, ())
        if read_scope(actor, CHART_RESOURCE[chart]) is not Scope.NONE
    ]


def _month_label(month) -> str:
    return dateformat.format(month, "M Y")


def _int_param(value: str | None) -> int | None:
    """A positive id from a query parameter, or ``None`` for anything else (the dashboard never fails on it)."""
    if value and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def _scope_label(actor: Any, resource: str) -> str:
    if read_scope(actor, resource) is Scope.TEAM:
        return _("Yours and your team's")
    return _("Everyone's")


def _pipeline_context(actor: Any, pipeline_id: int | None) -> dict[str, Any]:
    try:
        summary = pipeline_by_stage(actor=actor, pipeline_id=pipeline_id)
    except NotFound:  # a pipeline that is gone (or never was): the default one instead
        summary = pipeline_by_stage(actor=actor)
    datasets = []
    for currency in summary.currencies:
        for key, label in (("amount", _("Amount")), ("weighted_amount", _("Weighted"))):
            datasets.append(
                {
                    "label": f"{label} ({currency})",
                    "currency": currency,
                    "data": [
                        float(getattr(total, key)) if (total := stage.total_in(currency)) else 0
                        for stage in summary.stages
                    ],
                }
            )
    return {
        "pipeline": summary,
        "pipeline_chart": {"labels": [stage.name for stage in summary.stages], "datasets": datasets},
        "pipeline_scope": _scope_label(actor, "deals"),
    }


def _revenue_context(actor: Any) -> dict[str, Any]:
    lines = revenue_won_by_month(actor=actor)
    months = list(dict.fromkeys(line.month for line in lines))
    currencies = sorted({line.currency for line in lines})
    datasets = [
        {
            "label": currency,
            "currency": currency,
            "data": [float(line.amount) for line in lines if line.currency == currency],
        }
        for currency in currencies
    ]
    totals = [
        {
            "currency": currency,
            "deals": sum(line.deals for line in lines if line.currency == currency),
            "amount": sum(line.amount for line in lines if line.currency == currency),
        }
        for currency in currencies
    ]
    return {
        "revenue": lines,
        "revenue_totals": totals,
        "revenue_chart": {"labels": [_month_label(month) for month in months], "datasets": datasets},
        "revenue_scope": _scope_label(actor, "deals"),
    }


def _tickets_context(actor: Any) -> dict[str, Any]:
    counts = tickets_by_status(actor=actor)
    return {
        "tickets": counts,
        "tickets_open": sum(line.count for line in counts if line.status in OPEN_TICKET_STATUSES),
        "tickets_chart": {
            "labels": [line.label for line in counts],
            "datasets": [{"label": _("Tickets"), "data": [line.count for line in counts]}],
        },
    }


def _sla_context(actor: Any) -> dict[str, Any]:
    months = sla_compliance_by_month(actor=actor)
    # The last month with a verdict: the current one may have none yet.
    latest = next((month for month in reversed(months) if month.first_response_measured), None)
    return {
        "sla": months,
        "sla_latest": latest,
        "sla_chart": {
            "labels": [_month_label(month.month) for month in months],
            "datasets": [
                {"label": _("First response in time"), "data": [month.first_response_rate for month in months]},
                {"label": _("Resolved in time"), "data": [month.resolution_rate for month in months]},
            ],
        },
    }


def _customers_context(actor: Any) -> dict[str, Any]:
    months = contacts_created_by_month(actor=actor)
    return {
        "customers": months,
        "customers_this_month": months[-1].count if months else 0,
        "customers_total": sum(month.count for month in months),
        "customers_chart": {
            "labels": [_month_label(month.month) for month in months],
            "datasets": [{"label": _("New contacts"), "data": [month.count for month in months]}],
        },
        "customers_scope": _scope_label(actor, "contacts"),
    }


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The charts of what the user's role looks after, each with its numbers in a table beside it."""
    actor = request.user
    charts = dashboard_charts(actor)
    context: dict[str, Any] = {"charts": charts, "today": timezone.localdate()}
    if read_scope(actor, "activities") is not Scope.NONE:
        context["tasks"] = tasks_due_count(actor=actor, day=context["today"])
    if "pipeline" in charts:
        context.update(_pipeline_context(actor, _int_param(request.GET.get("pipeline"))))
    if "revenue" in charts:
        context.update(_revenue_context(actor))
    if "tickets" in charts:
        context.update(_tickets_context(actor))
    if "sla" in charts:
        context.update(_sla_context(actor))
    if "customers" in charts:
        context.update(_customers_context(actor))
    return render(request, "home/dashboard.html", context)


# ---- global search -------------------------------------------------------------------------------

MAX_QUERY_LENGTH = 200
FRAGMENT_ROWS = 5
PAGE_ROWS = 25


@dataclass(frozen=True)
class SearchHit:
    """One result: what it is called, a line about it, and the page it opens (by URL name and id)."""

    title: str
    detail: str
    url_name: str
    pk: int


@dataclass
class SearchGroup:
    """The results of one kind of record; ``more`` tells there were more than shown."""

    key: str
    label: str
    icon: str
    list_url_name: str
    hits: list[SearchHit] = field(default_factory=list)
    more: bool = False


def clean_query(raw: str | None) -> str:
    """What the user typed, without NUL characters (no database stores one), bounded and trimmed."""
    return (raw or "").replace("\x00", "")[:MAX_QUERY_LENGTH].strip()


def _first(rows, limit: int) -> tuple[list, bool]:
    """The first ``limit`` of ``rows`` (a sliced queryset asked for one more) and whether there were more."""
    rows = list(rows[: limit + 1])
    return rows[:limit], len(rows) > limit


def search_groups(actor: Any, q: str, limit: int) -> list[SearchGroup]:
    """Search every kind of record ``actor`` may read for ``q``: at most ``limit`` hits per kind.

    One query per kind (two more for the contacts' email and phone), whatever the number of matches.
    """
    groups: list[SearchGroup] = []
    if read_scope(actor, "contacts") is not Scope.NONE:
        group = SearchGroup("people", _("People"), "bi-person", "contacts:list")
        contacts = contact_search(contact_visible(actor=actor), q).values(*CONTACT_ROW_FIELDS)
        rows, group.more = _first(contacts.order_by("last_name_key", "first_name_key", "id"), limit)
        for row in contact_rows(rows):
            detail = " · ".join(part for part in (row["email"], row["phone"], row["title"]) if part)
            group.hits.append(SearchHit(row["full_name"], detail, "customer:contact", row["id"]))
        groups.append(group)
    if read_scope(actor, "accounts") is not Scope.NONE:
        group = SearchGroup("companies", _("Companies"), "bi-building", "contacts:accounts")
        accounts = account_search(account_visible(actor=actor), q).only("id", "name", "vat_number", "industry")
        rows, group.more = _first(accounts.order_by("name_key", "id"), limit)
        for account in rows:
            detail = " · ".join(part for part in (account.vat_number, account.industry) if part)
            group.hits.append(SearchHit(account.name, detail, "customer:account", account.pk))
        groups.append(group)
    if read_scope(actor, "deals") is not Scope.NONE:
        group = SearchGroup("deals", _("Deals"), "bi-kanban", "sales:deals")
        rows, group.more = _first(deal_list(actor=actor, q=q).order_by("name_key", "id"), limit)
        for deal in rows:
            group.hits.append(SearchHit(deal.name, _deal_detail(deal), "sales:deal", deal.pk))
        groups.append(group)
    if read_scope(actor, "tickets") is not Scope.NONE:
        group = SearchGroup("tickets", _("Tickets"), "bi-life-preserver", "service:queue")
        rows, group.more = _first(ticket_list(actor=actor, q=q).order_by("-id"), limit)
        for ticket in rows:
            detail = " · ".join(
                part
                for part in (ticket.get_status_display(), ticket.contact.full_name if ticket.contact else "")
                if part
            )
            group.hits.append(SearchHit(f"{ticket.number} {ticket.subject}", detail, "service:ticket", ticket.pk))
        groups.append(group)
    if read_scope(actor, "orders") is not Scope.NONE:
        group = SearchGroup("orders", _("Orders"), "bi-bag", "orders:list")
        # By number, newest first: the walk of the number index that the prefix search already uses, no sort.
        rows, group.more = _first(order_list(actor=actor, q=q).order_by("-number"), limit)
        for order in rows:
            group.hits.append(SearchHit(order.number, _order_detail(order), "orders:detail", order.pk))
        groups.append(group)
    return groups


def _deal_detail(deal) -> str:
    return " · ".join((deal.stage.name, deal.get_status_display(), money(deal.amount, deal.currency)))


def _order_detail(order) -> str:
    customer = order.contact.full_name if order.contact else (order.account.name if order.account else "")
    placed = formats.date_format(timezone.localtime(order.placed_at), "SHORT_DATE_FORMAT")
    return " · ".join(part for part in (placed, customer, money(order.total, order.currency)) if part)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Search people, companies, deals, tickets and orders at once.

    With ``fragment`` (the search box, as one types): the drop-down menu, at most five hits per kind.
    Without: the results page, more hits per kind. Kinds the user's role may not read are not searched.
    """
    q = clean_query(request.GET.get("q"))
    fragment = bool(request.GET.get("fragment"))
    limit = FRAGMENT_ROWS if fragment else PAGE_ROWS
    groups = [group for group in search_groups(request.user, q, limit) if group.hits] if q else []
    context = {"q": q, "groups": groups, "limit": limit}
    if fragment:
        response = render(request, "home/_search_results.html", context)
        # The fragment is the whole menu, so that it can show itself (Bootstrap's "show") when it has hits.
        response["HX-Reswap"] = "outerHTML"
        return response
    return render(request, "home/search.html", context)
