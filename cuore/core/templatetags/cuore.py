"""Template tags of the web application: the navigation, money and small formatting helpers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import format_currency, format_decimal
from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cuore.core.visibility import Scope, read_scope

register = template.Library()

# url name, label, icon, the resource whose read scope decides whether the entry shows, and whether
# that scope must be ALL (not just the team's): the analytics pages report on every customer.
NAVIGATION = [
    ("home", _("Home"), "bi-speedometer2", None, False),
    ("contacts:list", _("Contacts"), "bi-person-lines-fill", "contacts", False),
    ("contacts:accounts", _("Accounts"), "bi-building", "accounts", False),
    ("sales:board", _("Deals"), "bi-kanban", "deals", False),
    ("sales:tasks", _("Tasks"), "bi-check2-square", "activities", False),
    ("service:queue", _("Tickets"), "bi-life-preserver", "tickets", False),
    ("service:articles", _("Knowledge base"), "bi-journal-text", "articles", False),
    ("orders:list", _("Orders"), "bi-bag", "orders", False),
    ("orders:products", _("Products"), "bi-box-seam", "catalog", False),
    # By url name only: core may not import the analytics app.
    ("analytics:overview", _("Analytics"), "bi-graph-up-arrow", "analytics", True),
    ("imports:list", _("Imports"), "bi-upload", "imports", False),
    ("identity:review", _("Duplicates"), "bi-people", "identity", False),
]


@dataclass(frozen=True)
class NavItem:
    url: str
    label: str
    icon: str
    active: bool


@register.simple_tag(takes_context=True)
def navigation(context) -> list[NavItem]:
    """The sections the signed-in user may open, the current one marked active."""
    request = context["request"]
    items = []
    for name, label, icon, resource, needs_all in NAVIGATION:
        if resource is not None:
            scope = read_scope(request.user, resource)
            if scope is Scope.NONE or (needs_all and scope is not Scope.ALL):
                continue
        try:
            url = reverse(name)
        except NoReverseMatch:  # a section whose app is not installed
            continue
        active = request.path == url or (url != "/" and request.path.startswith(url))
        items.append(NavItem(url, str(label), icon, active))
    return items


@register.filter
def money(amount, currency: str = "EUR") -> str:
    """``1234.5|money:"EUR"`` → ``€1,234.50`` in English, ``1.234,50 €`` in Italian."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    return format_currency(value, currency or "EUR", locale=_locale())


@register.filter
def number(value, digits: int = 0) -> str:
    """A number with the user's grouping and decimal separators."""
    if value is None or value == "":
        return ""
    pattern = "#,##0" + ("." + "0" * int(digits) if int(digits) > 0 else "")
    return format_decimal(value, format=pattern, locale=_locale())


def _locale() -> str:
    return {"it": "it_IT", "en": "en_GB"}.get((get_language() or "en")[:2], "en_GB")
