"""Web pages of the orders app: the order list and page with its fulfilment flow, the product list and page.

Reads go through ``selectors`` and writes through ``services``, as in the API, so the web enforces the
same visibility matrix: an order out of scope is a 404, a change a read-only role tries is a 403, an
action the order's state refuses is a 409 with the reason beside its form, an invalid value is shown
beside its field.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, reference
from cuore.core.htmx import is_htmx
from cuore.core.lists import Column, ListSpec, export_response, list_context, list_page, render_list, selected_ids
from cuore.core.visibility import can_write, require_read
from cuore.orders import selectors, services
from cuore.orders.api import ORDER_ORDERINGS, PRODUCT_ORDERINGS
from cuore.orders.forms import (
    ID_MAX,
    CancelForm,
    LineAddForm,
    LineForm,
    OrderFilterForm,
    ProductFilterForm,
    ProductForm,
    ReturnForm,
    ReturnStatusForm,
    ShipForm,
    reason_text,
    refusal_text,
)
from cuore.orders.models import Order, OrderChannel, OrderStatus, Product, ReturnStatus
from cuore.orders.services import LineInput, ReturnLineInput

STATUS_LABELS = dict(OrderStatus.choices)
CHANNEL_LABELS = dict(OrderChannel.choices)
PICKER_SIZE = 10
HUNDRED = Decimal(100)
TENTH = Decimal("0.1")


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _local_iso(value: Any) -> str:
    return timezone.localtime(value).isoformat() if value else ""


ORDERS = ListSpec(
    name="orders",
    columns=(
        Column("number", gettext_lazy("Number"), template="orders/_cell_order.html"),
        Column(
            "placed_at",
            gettext_lazy("Placed"),
            sort="placed",
            template="orders/_cell_date.html",
            export=lambda row: _local_iso(row["placed_at"]),
        ),
        Column("customer", gettext_lazy("Customer"), template="orders/_cell_customer.html"),
        Column("channel_label", gettext_lazy("Channel"), export=lambda row: row["channel"]),
        Column("status", gettext_lazy("Status"), template="orders/_cell_status.html"),
        Column("total", gettext_lazy("Total"), sort="-total", template="orders/_cell_money.html"),
        Column("currency", gettext_lazy("Currency"), default=False),
        Column("items", gettext_lazy("Items"), default=False, template="orders/_cell_number.html"),
        Column("margin", gettext_lazy("Margin"), default=False, template="orders/_cell_money.html"),
    ),
    orderings=ORDER_ORDERINGS,
    default_ordering="-placed",
)

PRODUCTS = ListSpec(
    name="products",
    columns=(
        Column("sku", gettext_lazy("SKU"), sort="sku", template="orders/_cell_product.html"),
        Column("name", gettext_lazy("Name"), sort="name"),
        Column("category_path", gettext_lazy("Category")),
        Column("price", gettext_lazy("Price"), sort="-price", template="orders/_cell_money.html"),
        Column("cost", gettext_lazy("Cost"), template="orders/_cell_money.html"),
        Column("margin_pct", gettext_lazy("Margin %"), template="orders/_cell_percent.html"),
        Column("currency", gettext_lazy("Currency"), default=False),
        Column(
            "active", gettext_lazy("Active"), template="orders/_cell_active.html", export=lambda p: _yes_no(p.active)
        ),
        Column(
            "updated_at",
            gettext_lazy("Updated"),
            default=False,
            template="orders/_cell_date.html",
            export=lambda p: _local_iso(p.updated_at),
        ),
    ),
    orderings=PRODUCT_ORDERINGS,
    default_ordering="name",
)


# ---- helpers -------------------------------------------------------------------------------------


def _checked_id(value: int) -> int:
    if value > ID_MAX:  # larger than any id the database can hold
        raise Http404
    return value


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _read_or_404(actor: Any, resource: str) -> None:
    try:
        require_read(actor, resource)
    except NotFound:
        raise Http404(_("Not found, or you may not see it.")) from None


def _write_or_refuse(actor: Any, resource: str) -> None:
    """404 for a role that sees nothing of ``resource``, 403 for one that only reads it."""
    _read_or_404(actor, resource)
    if not can_write(actor, resource):
        raise PermissionDenied(_("Your role may not make this change."))


def _page(request: HttpRequest, spec: ListSpec, queryset: Any, rows: Callable[[list[Any]], list[Any]]):
    try:
        return list_page(request, spec, queryset, to_rows=rows)
    except ValidationFailed:  # a cursor that is not ours, or of another ordering: start from the first page
        request.GET = request.GET.copy()
        request.GET.pop("cursor", None)
        return list_page(request, spec, queryset, to_rows=rows)


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    return HttpResponseRedirect(_safe_next(request, fallback))


# ---- the order list ------------------------------------------------------------------------------


def _order_rows(actor: Any, *, with_items: bool) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    """Complete a page of order rows: the customer's name (one query per kind), labels, margin, units."""

    def rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        contacts, accounts = selectors.order_customer_names(
            actor=actor,
            contact_ids=[row["contact_id"] for row in items],
            account_ids=[row["account_id"] for row in items],
        )
        counts = selectors.order_item_counts(order_ids=[row["id"] for row in items]) if with_items else {}
        for row in items:
            contact_name = contacts.get(row["contact_id"], "")
            account_name = accounts.get(row["account_id"], "")
            row["customer"] = contact_name or account_name
            row["customer_kind"] = "contact" if contact_name else ("account" if account_name else "")
            row["customer_id"] = row["contact_id"] if contact_name else row["account_id"]
            row["channel_label"] = str(CHANNEL_LABELS.get(row["channel"], row["channel"]))
            row["status_label"] = str(STATUS_LABELS.get(row["status"], row["status"]))
            row["margin"] = row["total"] - row["cost_total"]
            row["items"] = counts.get(row["id"], 0)
        return items

    return rows


def _filtered_orders(actor: Any, form: OrderFilterForm):
    data = form.cleaned_data
    filters = {
        "status": data.get("status") or None,
        "channel": data.get("channel") or None,
        "contact_id": data.get("contact"),
        "account_id": data.get("account"),
        "q": data.get("q") or None,
    }
    try:
        return selectors.order_list(
            actor=actor, placed_after=form.placed_after(), placed_before=form.placed_before(), **filters
        )
    except (ValidationFailed, OverflowError):  # a day no database can hold: said beside the field, not applied
        form.add_error("placed_from", _("This value is out of range."))
        return selectors.order_list(actor=actor, **filters)


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    """The orders the user may see: filters, columns, sorting, saved views, CSV export, bulk cancel."""
    actor = request.user
    _read_or_404(actor, "orders")
    form = OrderFilterForm(request.GET)
    form.is_valid()
    orders = _filtered_orders(actor, form).values(*selectors.ORDER_ROW_FIELDS)
    with_items = any(column.key == "items" for column in ORDERS.chosen_columns(request.GET))
    rows = _order_rows(actor, with_items=with_items)
    if request.GET.get("export") == "csv":
        return export_response(ORDERS, orders, request.GET, filename="orders.csv", to_rows=rows)
    page = _page(request, ORDERS, orders, rows)
    writable = can_write(actor, "orders")
    context = {
        "form": form,
        "title": _("Orders"),
        **list_context(
            request,
            page,
            bulk_url=reverse("orders:bulk") if writable else "",
            bulk_template="orders/_bulk_orders.html" if writable else "",
        ),
    }
    return render_list(request, "orders/list.html", context)


@login_required
@require_POST
def order_bulk(request: HttpRequest) -> HttpResponse:
    """Cancel the selected draft orders (through the service); orders in another state are left as they are."""
    actor = request.user
    _write_or_refuse(actor, "orders")
    fallback = reverse("orders:list")
    try:
        ids = selected_ids(request.POST.getlist("ids"))
        if request.POST.get("action") != "cancel_drafts":
            raise ValidationFailed(field="action", reason=_("choose an action"))
        reason = request.POST.get("reason", "").strip()[:500]
        cancelled = skipped = 0
        for order in selectors.order_visible(actor=actor).filter(pk__in=ids).order_by("id"):
            if order.status != OrderStatus.DRAFT:
                skipped += 1
                continue
            try:
                services.order_cancel(actor=actor, order=order, reason=reason)
            except Conflict:  # confirmed in the meantime
                skipped += 1
            else:
                cancelled += 1
    except ValidationFailed as exc:
        messages.error(request, " ".join(reason_text(reason) for reason in exc.errors.values()))
        return _back(request, fallback)
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from None
    messages.success(
        request,
        ngettext("%(count)d draft order cancelled.", "%(count)d draft orders cancelled.", cancelled)
        % {"count": cancelled},
    )
    missing = len(ids) - cancelled - skipped
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(count)d selected order is not a draft: left as it is.",
                "%(count)d selected orders are not drafts: left as they are.",
                skipped,
            )
            % {"count": skipped},
        )
    if missing:
        messages.warning(
            request,
            ngettext("%(count)d selected order was not found.", "%(count)d selected orders were not found.", missing)
            % {"count": missing},
        )
    return _back(request, fallback)


# ---- the order page ------------------------------------------------------------------------------


def _order_or_404(actor: Any, order_id: int) -> Order:
    try:
        return selectors.order_get_for_actor(actor=actor, order_id=_checked_id(order_id))
    except NotFound:
        raise Http404(_("Not found, or you may not see it.")) from None


def _order_for_write(request: HttpRequest, order_id: int) -> Order:
    """The order to change: 404 if the user may not see it, 403 if they may only read it."""
    order = _order_or_404(request.user, order_id)
    if not can_write(request.user, "orders"):
        raise PermissionDenied(_("Your role may not make this change."))
    return order


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part * HUNDRED / whole).quantize(TENTH, rounding=ROUND_HALF_UP)


def _returnable(order: Order) -> list[tuple[Any, int]]:
    """Each line of a fetched order with the units that may still be returned (from the prefetched returns).

    Units on their way back (in any return not rejected) cannot be returned twice: the service's rule.
    """
    taken: dict[int, int] = defaultdict(int)
    for order_return in order.returns.all():
        if order_return.status != ReturnStatus.REJECTED:
            for item in order_return.lines.all():
                taken[item.order_line_id] += item.quantity
    return [(line, line.quantity - taken[line.pk]) for line in order.lines.all()]


def _order_context(
    request: HttpRequest,
    order: Order,
    *,
    errors: dict[str, str] | None = None,
    forms: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the order page shows; ``errors`` (by section) and ``forms`` replace the defaults after a refusal."""
    actor = request.user
    errors = errors or {}
    forms = forms or {}
    contacts, accounts = selectors.order_customer_names(
        actor=actor, contact_ids=[order.contact_id], account_ids=[order.account_id]
    )
    lines = list(order.lines.all())
    lines_by_id = {line.pk: line for line in lines}
    shipments = list(order.shipments.all())
    returns = list(order.returns.all())
    returnable = _returnable(order)
    writable = can_write(actor, "orders")
    allowed = services.TRANSITIONS.get(order.status, set()) if writable else set()
    draft = writable and order.status == OrderStatus.DRAFT
    can_return = writable and order.status in services.RETURNABLE and any(left > 0 for _l, left in returnable)
    actions = {
        "confirm": OrderStatus.CONFIRMED in allowed,
        "fulfil": OrderStatus.FULFILLED in allowed,
        "ship": writable and order.status in (OrderStatus.FULFILLED, OrderStatus.SHIPPED),
        "cancel": OrderStatus.CANCELLED in allowed,
        "return": can_return,
    }
    edited_line = forms.get("line")  # (line id, bound form) of a line change that was refused
    line_rows = []
    for line in lines:
        form = None
        if draft:
            if edited_line and edited_line[0] == line.pk:
                form = edited_line[1]
            else:
                form = LineForm(
                    initial={"quantity": line.quantity, "unit_price": line.unit_price, "discount": line.discount},
                    prefix=f"line{line.pk}",
                    form_id=f"line-form-{line.pk}",
                )
        line_rows.append({"line": line, "form": form, "error": errors.get(f"line-{line.pk}")})
    edited_return = forms.get("return_status")
    return_rows = []
    for order_return in returns:
        following = services.RETURN_TRANSITIONS.get(order_return.status, set()) if writable else set()
        if edited_return and edited_return[0] == order_return.pk:
            status_form = edited_return[1]
        else:
            status_form = ReturnStatusForm(prefix=f"return{order_return.pk}")
        return_rows.append(
            {
                "return": order_return,
                "items": [(lines_by_id.get(item.order_line_id), item.quantity) for item in order_return.lines.all()],
                "can_receive": ReturnStatus.RECEIVED in following,
                "can_refund": ReturnStatus.REFUNDED in following,
                "can_reject": ReturnStatus.REJECTED in following,
                "form": status_form,
                "error": errors.get(f"return-{order_return.pk}"),
            }
        )
    shipment_rows = [
        {
            "shipment": shipment,
            "can_deliver": writable and shipment.delivered_at is None,
            "error": errors.get(f"shipment-{shipment.pk}"),
        }
        for shipment in shipments
    ]
    margin = order.total - order.cost_total
    return {
        "order": order,
        "status_label": STATUS_LABELS.get(order.status, order.status),
        "channel_label": CHANNEL_LABELS.get(order.channel, order.channel),
        "contact_name": contacts.get(order.contact_id, ""),
        "account_name": accounts.get(order.account_id, ""),
        "lines": line_rows,
        "shipments": shipment_rows,
        "returns": return_rows,
        "margin": margin,
        "margin_pct": _percent(margin, order.total),
        "can_write": writable,
        "draft": draft,
        "actions": actions,
        "any_action": any(actions.values()),
        "errors": errors,
        "add_line_form": forms.get("add_line") or LineAddForm(initial={"quantity": 1}),
        "product_label": forms.get("product_label", ""),
        "cancel_form": forms.get("cancel") or CancelForm(),
        "ship_form": forms.get("ship") or ShipForm(),
        "return_form": forms.get("return") or ReturnForm(lines=returnable),
        "open_panel": forms.get("open", ""),
    }


def _render_order(
    request: HttpRequest,
    order_id: int,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    forms: dict[str, Any] | None = None,
) -> HttpResponse:
    """The order page as it is now, with the reason a change was refused beside its form."""
    order = _order_or_404(request.user, order_id)
    context = _order_context(request, order, errors=errors, forms=forms)
    return render(request, "orders/detail.html", context, status=status)


def _invalid_status(request: HttpRequest) -> int:
    """A form shown again with its errors: 422 for HTMX (which swaps it in), 200 for a whole page."""
    return 422 if is_htmx(request) else 200


def _refused(request: HttpRequest, order_id: int, section: str, check: Callable[..., None], order: Order):
    """The page with the reason the order's state refuses this change (409), before its form is read."""
    try:
        check(order=order)
    except Conflict as exc:
        return _render_order(request, order_id, status=409, errors={section: refusal_text(exc)})
    return None


def _done(request: HttpRequest, order_id: int, message: str) -> HttpResponseRedirect:
    messages.success(request, message)
    return HttpResponseRedirect(reverse("orders:detail", args=[order_id]))


@login_required
@require_GET
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order: customer, status and the actions it allows, lines and totals, shipments and returns."""
    return _render_order(request, order_id)


def _transition(request: HttpRequest, order_id: int, status: str, done: str) -> HttpResponse:
    order = _order_for_write(request, order_id)
    try:
        services.order_set_status(actor=request.user, order=order, status=status)
    except (Conflict, ValidationFailed) as exc:
        return _render_order(request, order_id, status=409, errors={"status": refusal_text(exc)})
    return _done(request, order_id, done)


@login_required
@require_POST
def order_confirm(request: HttpRequest, order_id: int) -> HttpResponse:
    return _transition(request, order_id, OrderStatus.CONFIRMED, _("The order is confirmed."))


@login_required
@require_POST
def order_fulfil(request: HttpRequest, order_id: int) -> HttpResponse:
    return _transition(request, order_id, OrderStatus.FULFILLED, _("The order is fulfilled: ready to ship."))


@login_required
@require_POST
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    order = _order_for_write(request, order_id)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _render_order(
            request, order_id, status=_invalid_status(request), forms={"cancel": form, "open": "cancel"}
        )
    try:
        services.order_cancel(actor=request.user, order=order, reason=form.cleaned_data["reason"])
    except Conflict as exc:
        return _render_order(
            request,
            order_id,
            status=409,
            errors={"cancel": refusal_text(exc)},
            forms={"cancel": form, "open": "cancel"},
        )
    return _done(request, order_id, _("The order is cancelled."))


@login_required
@require_POST
def order_ship(request: HttpRequest, order_id: int) -> HttpResponse:
    """Record a parcel: a fulfilled order becomes shipped; a shipped one gets another parcel."""
    order = _order_for_write(request, order_id)
    form = ShipForm(request.POST)
    panel = {"ship": form, "open": "ship"}
    if not form.is_valid():
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    try:
        services.shipment_create(actor=request.user, order=order, **form.cleaned_data)
    except Conflict as exc:
        return _render_order(request, order_id, status=409, errors={"ship": refusal_text(exc)}, forms=panel)
    except ValidationFailed as exc:
        form.add_service_errors(exc, {"shipped_at": None})
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    return _done(request, order_id, _("The shipment is recorded."))


@login_required
@require_POST
def shipment_delivered(request: HttpRequest, order_id: int, shipment_id: int) -> HttpResponse:
    """Record that a parcel arrived; once every parcel has, the order is delivered."""
    order = _order_for_write(request, order_id)
    try:
        shipment = selectors.shipment_get_for_actor(actor=request.user, shipment_id=_checked_id(shipment_id))
    except NotFound:
        raise Http404(_("Not found, or you may not see it.")) from None
    if shipment.order_id != order.pk:
        raise Http404(_("Not found, or you may not see it."))
    try:
        services.shipment_mark_delivered(actor=request.user, shipment=shipment)
    except (Conflict, ValidationFailed) as exc:
        status = 409 if isinstance(exc, Conflict) else _invalid_status(request)
        return _render_order(request, order_id, status=status, errors={f"shipment-{shipment.pk}": refusal_text(exc)})
    return _done(request, order_id, _("The shipment is delivered."))


@login_required
@require_POST
def line_add(request: HttpRequest, order_id: int) -> HttpResponse:
    """Add a product to a draft order."""
    actor = request.user
    order = _order_for_write(request, order_id)
    refused = _refused(request, order_id, "lines", services.check_lines_editable, order)
    if refused:
        return refused
    form = LineAddForm(request.POST)
    panel = {"add_line": form, "product_label": request.POST.get("product_label", "")[:200]}
    if not form.is_valid():
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    data = form.cleaned_data
    try:
        product = selectors.products_by_id(actor=actor, product_ids=[data["product"]]).get(data["product"])
        if product is None:
            raise ValidationFailed(field="product_id", reason="not found")
        line = LineInput(
            product=product,
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            discount=data["discount"] if data["discount"] is not None else services.ZERO,
        )
        services.order_line_add(actor=actor, order=order, line=line)
    except Conflict as exc:
        return _render_order(request, order_id, status=409, errors={"lines": refusal_text(exc)}, forms=panel)
    except ValidationFailed as exc:
        form.add_service_errors(exc, {"product_id": "product", "unit_cost": None, "lines": None})
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    return _done(request, order_id, _("The line is added."))


def _line_or_404(order: Order, line_id: int):
    try:
        return selectors.order_line_get(order=order, line_id=_checked_id(line_id))
    except NotFound:
        raise Http404(_("Not found, or you may not see it.")) from None


@login_required
@require_POST
def line_update(request: HttpRequest, order_id: int, line_id: int) -> HttpResponse:
    """Change a draft order's line: quantity, unit price, discount."""
    order = _order_for_write(request, order_id)
    line = _line_or_404(order, line_id)
    refused = _refused(request, order_id, f"line-{line.pk}", services.check_lines_editable, order)
    if refused:
        return refused
    form = LineForm(request.POST, prefix=f"line{line.pk}", form_id=f"line-form-{line.pk}")
    panel = {"line": (line.pk, form)}
    if not form.is_valid():
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    try:
        services.order_line_update(actor=request.user, line=line, data=form.cleaned_data)
    except Conflict as exc:
        return _render_order(request, order_id, status=409, errors={f"line-{line.pk}": refusal_text(exc)})
    except ValidationFailed as exc:
        form.add_service_errors(exc, {"lines": None, "unit_cost": None})
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    return _done(request, order_id, _("The line is saved."))


@login_required
@require_POST
def line_remove(request: HttpRequest, order_id: int, line_id: int) -> HttpResponse:
    order = _order_for_write(request, order_id)
    line = _line_or_404(order, line_id)
    try:
        services.order_line_remove(actor=request.user, line=line)
    except (Conflict, ValidationFailed) as exc:
        return _render_order(request, order_id, status=409, errors={f"line-{line.pk}": refusal_text(exc)})
    return _done(request, order_id, _("The line is removed."))


@login_required
@require_POST
def return_create(request: HttpRequest, order_id: int) -> HttpResponse:
    """Open a return for some units of a shipped or delivered order."""
    order = _order_for_write(request, order_id)
    refused = _refused(request, order_id, "return", services.check_returnable, order)
    if refused:
        return refused
    form = ReturnForm(request.POST, lines=_returnable(order))
    panel = {"return": form, "open": "return"}
    if not form.is_valid():
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    chosen = form.chosen()
    items = [ReturnLineInput(order_line_id=line_id, quantity=units) for _name, line_id, units in chosen]
    try:
        services.return_create(actor=request.user, order=order, reason=form.cleaned_data["reason"], lines=items)
    except Conflict as exc:
        return _render_order(request, order_id, status=409, errors={"return": refusal_text(exc)}, forms=panel)
    except ValidationFailed as exc:
        fields: dict[str, str | None] = {"lines": None}
        for index, (name, _line_id, _units) in enumerate(chosen):
            fields[f"lines.{index}.quantity"] = name
            fields[f"lines.{index}.order_line_id"] = name
        form.add_service_errors(exc, fields)
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    return _done(request, order_id, _("The return is opened."))


@login_required
@require_POST
def return_status(request: HttpRequest, order_id: int, return_id: int) -> HttpResponse:
    """Move a return along: received, refunded (with the amount), or rejected."""
    order = _order_for_write(request, order_id)
    try:
        order_return = selectors.return_get_for_actor(actor=request.user, return_id=_checked_id(return_id))
    except NotFound:
        raise Http404(_("Not found, or you may not see it.")) from None
    if order_return.order_id != order.pk:
        raise Http404(_("Not found, or you may not see it."))
    form = ReturnStatusForm(request.POST, prefix=f"return{order_return.pk}")
    panel = {"return_status": (order_return.pk, form)}
    if not form.is_valid():
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    status = form.cleaned_data["status"]
    refund = form.cleaned_data["refund_amount"] if status == ReturnStatus.REFUNDED else None
    try:
        services.return_set_status(actor=request.user, order_return=order_return, status=status, refund_amount=refund)
    except Conflict as exc:
        return _render_order(
            request, order_id, status=409, errors={f"return-{order_return.pk}": refusal_text(exc)}, forms=panel
        )
    except ValidationFailed as exc:
        form.add_service_errors(exc)
        return _render_order(request, order_id, status=_invalid_status(request), forms=panel)
    labels = {
        ReturnStatus.RECEIVED: _("The return is received."),
        ReturnStatus.REFUNDED: _("The return is refunded."),
        ReturnStatus.REJECTED: _("The return is rejected."),
    }
    return _done(request, order_id, labels[status])


@login_required
@require_GET
def pick_product(request: HttpRequest) -> HttpResponse:
    """The first products on sale whose SKU or name starts with what was typed (in the order's currency)."""
    typed = (request.GET.get("product_label") or request.GET.get("q") or "").replace("\x00", "").strip()[:200]
    currency = (request.GET.get("currency") or "").strip()[:3] or None
    items: list[tuple[int, str, Decimal, str]] = []
    if typed:
        found = selectors.product_list(actor=request.user, active=True, q=typed, currency=currency)
        items = [
            (p.pk, f"{p.sku} — {p.name}", p.price, p.currency) for p in found.order_by("name_key", "id")[:PICKER_SIZE]
        ]
    return render(request, "orders/_picker_results.html", {"items": items, "q": typed})


# ---- products ------------------------------------------------------------------------------------


def _product_rows(paths: dict[int, str]) -> Callable[[list[Product]], list[Product]]:
    def rows(items: list[Product]) -> list[Product]:
        for product in items:
            product.category_path = paths.get(product.category_id, "")  # type: ignore[attr-defined]
            product.margin_pct = _percent(product.price - product.cost, product.price)  # type: ignore[attr-defined]
        return items

    return rows


@login_required
@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    """The catalogue: filters (category tree, active, SKU or name), columns, saved views, export, bulk."""
    actor = request.user
    _read_or_404(actor, "catalog")
    tree = selectors.category_tree(actor=actor)
    form = ProductFilterForm(request.GET, tree=tree)
    form.is_valid()
    data = form.cleaned_data
    products = selectors.product_list(
        actor=actor, category_id=data.get("category"), active=form.active_value(), q=data.get("q") or None
    )
    rows = _product_rows({node.id: node.path for node in tree})
    if request.GET.get("export") == "csv":
        return export_response(PRODUCTS, products, request.GET, filename="products.csv", to_rows=rows)
    page = _page(request, PRODUCTS, products, rows)
    writable = can_write(actor, "catalog")
    context = {
        "form": form,
        "title": _("Products"),
        "new_url": reverse("orders:product_create") if writable else "",
        **list_context(
            request,
            page,
            bulk_url=reverse("orders:products_bulk") if writable else "",
            bulk_template="orders/_bulk_products.html" if writable else "",
        ),
    }
    return render_list(request, "orders/list.html", context)


@login_required
@require_POST
def product_bulk(request: HttpRequest) -> HttpResponse:
    """Take the selected products off sale (or back on sale), through the catalogue services."""
    actor = request.user
    _write_or_refuse(actor, "catalog")
    fallback = reverse("orders:products")
    try:
        ids = selected_ids(request.POST.getlist("ids"))
        action = request.POST.get("action", "")
        if action not in ("deactivate", "activate"):
            raise ValidationFailed(field="action", reason=_("choose an action"))
        products = list(selectors.product_list(actor=actor).filter(pk__in=ids).order_by("id"))
        for product in products:
            if action == "deactivate":
                services.product_deactivate(actor=actor, product=product)
            else:
                services.product_update(actor=actor, product=product, data={"active": True})
    except ValidationFailed as exc:
        messages.error(request, " ".join(reason_text(reason) for reason in exc.errors.values()))
        return _back(request, fallback)
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from None
    if action == "deactivate":
        messages.success(
            request,
            ngettext("%(count)d product taken off sale.", "%(count)d products taken off sale.", len(products))
            % {"count": len(products)},
        )
    else:
        messages.success(
            request,
            ngettext("%(count)d product back on sale.", "%(count)d products back on sale.", len(products))
            % {"count": len(products)},
        )
    if len(products) < len(ids):
        messages.warning(
            request,
            ngettext(
                "%(count)d selected product was not found.",
                "%(count)d selected products were not found.",
                len(ids) - len(products),
            )
            % {"count": len(ids) - len(products)},
        )
    return _back(request, fallback)


def _product_data(actor: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The form's values as the services take them; the category is fetched through its selector."""
    values = {key: data[key] for key in ("sku", "name", "price", "cost", "currency", "active")}
    category_id = data.get("category")
    values["category"] = (
        None
        if category_id is None
        else reference("category_id", lambda: selectors.category_get_for_actor(actor=actor, category_id=category_id))
    )
    return values


def _render_product(
    request: HttpRequest, product: Product | None, form: ProductForm | None, *, status: int = 200
) -> HttpResponse:
    tree = selectors.category_tree(actor=request.user)
    context = {
        "product": product,
        "category_path": next((node.path for node in tree if product and node.id == product.category_id), ""),
        "form": form,
        "can_write": can_write(request.user, "catalog"),
        "margin_pct": _percent(product.price - product.cost, product.price) if product else None,
    }
    return render(request, "orders/product.html", context, status=status)


PRODUCT_FIELD_MAP: dict[str, str | None] = {"category_id": "category"}


@login_required
@require_http_methods(["GET", "POST"])
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    """A product: its figures for everyone; the edit form for those who write the catalogue."""
    actor = request.user
    try:
        product = selectors.product_get_for_actor(actor=actor, product_id=_checked_id(product_id))
    except NotFound:
        raise Http404(_("Not found, or you may not see it.")) from None
    writable = can_write(actor, "catalog")
    if request.method == "POST" and not writable:
        raise PermissionDenied(_("Your role may not make this change."))
    if not writable:
        return _render_product(request, product, None)
    tree = selectors.category_tree(actor=actor)
    initial = {
        "sku": product.sku,
        "name": product.name,
        "category": product.category_id,
        "price": product.price,
        "cost": product.cost,
        "currency": product.currency,
        "active": product.active,
    }
    form = ProductForm(request.POST if request.method == "POST" else None, initial=initial, tree=tree)
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update(actor=actor, product=product, data=_product_data(actor, form.cleaned_data))
        except ValidationFailed as exc:
            form.add_service_errors(exc, PRODUCT_FIELD_MAP)
        else:
            messages.success(request, _("The product is saved."))
            return HttpResponseRedirect(reverse("orders:product", args=[product.pk]))
        product.refresh_from_db()
    status = _invalid_status(request) if request.method == "POST" else 200
    return _render_product(request, product, form, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def product_create(request: HttpRequest) -> HttpResponse:
    """A new product in the catalogue (for those who write it)."""
    actor = request.user
    _write_or_refuse(actor, "catalog")
    tree = selectors.category_tree(actor=actor)
    form = ProductForm(request.POST if request.method == "POST" else None, tree=tree)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(actor=actor, **_product_data(actor, form.cleaned_data))
        except ValidationFailed as exc:
            form.add_service_errors(exc, PRODUCT_FIELD_MAP)
        else:
            messages.success(request, _("The product is created."))
            return HttpResponseRedirect(reverse("orders:product", args=[product.pk]))
    status = _invalid_status(request) if request.method == "POST" else 200
    return _render_product(request, None, form, status=status)
