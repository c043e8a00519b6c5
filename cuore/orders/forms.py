"""Forms of the order and product pages, and the services' refusals told in the user's language."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.forms import BootstrapForm as CoreBootstrapForm
from cuore.core.templatetags.cuore import number
from cuore.orders.models import OrderChannel, OrderStatus, ReturnStatus

ID_MAX = 2**63 - 1  # ids are 64-bit in the database; a larger one is no id at all
MAX_QUANTITY = 1_000_000
STATUS_LABELS = dict(OrderStatus.choices)
RETURN_STATUS_LABELS = dict(ReturnStatus.choices)

# ---- the services' reasons (English, for the API) in the user's language -------------------------

REASONS = {
    "is required": _("This field is required."),
    "not found": _("Not found, or you may not see it."),
    "is out of range": _("This value is out of range."),
    "is already used by another product": _("Another product already has this SKU."),
    "is already used by another order": _("Another order already has this number."),
    "must be an amount of money": _("Enter an amount of money."),
    "must not be negative": _("The amount cannot be negative."),
    "must have at most two decimal places": _("Enter at most 2 decimal places."),
    "must be an ISO 4217 currency code such as EUR": _("Enter a currency code, such as EUR."),
    "must be true or false": _("Choose yes or no."),
    "is not on sale (the product is inactive)": _("This product is not on sale (it is inactive)."),
    "makes the line total too large": _("This quantity makes the line total too large."),
    "must include a time zone": _("Enter a valid date and time."),
    "cannot be before 1900": _("The date cannot be before 1900."),
    "cannot be in the future": _("The date cannot be in the future."),
    "cannot be before the order was placed": _("The date cannot be before the order was placed."),
    "cannot be before the shipment left": _("The date cannot be before the shipment left."),
    "a return needs at least one line": _("Return at least one unit."),
    "is not a line of this order": _("This is not a line of this order."),
    "only a refunded return has a refund amount": _("Only a refunded return has a refund amount."),
    "An order without lines cannot be confirmed.": _("An order without lines cannot be confirmed."),
    "The shipment was already delivered.": _("This shipment was already delivered."),
    "an order needs a contact or an account": _("An order needs a contact or an account."),
    "must be row ids": _("Select rows of the list."),
    "select at least one row": _("Select at least one row."),
}

# Reasons with figures in them: a pattern, and the message its named groups fill in.
PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"^must be at most (?P<n>\d+) characters$"), _("Enter at most %(n)s characters.")),
    (re.compile(r"^must be at most (?P<n>[\d.]+)$"), _("Enter at most %(n)s.")),
    (
        re.compile(r"^must be a whole number between 1 and (?P<n>\d+)$"),
        _("Enter a whole number between 1 and %(n)s."),
    ),
    (
        re.compile(r"^is priced in (?P<product>\w+), the order in (?P<order>\w+)$"),
        _("This product is priced in %(product)s, the order in %(order)s."),
    ),
    (
        re.compile(r"^cannot exceed quantity × unit price \((?P<n>[\d.]+)\)$"),
        _("The discount cannot exceed quantity × unit price (%(n)s)."),
    ),
    (re.compile(r"^select at most (?P<n>\d+) rows at a time$"), _("Select at most %(n)s rows at a time.")),
    (re.compile(r"^the order total would exceed (?P<n>[\d.]+)$"), _("The order total would exceed %(n)s.")),
    (
        re.compile(r"^at most (?P<n>\d+) of this line can still be returned$"),
        _("At most %(n)s of this line can still be returned."),
    ),
    (
        re.compile(r"^the order's refunds cannot exceed its total: at most (?P<n>-?[\d.]+)$"),
        _("The order's refunds cannot exceed its total: at most %(n)s."),
    ),
    (
        re.compile(r"^.+ only while the order is a draft; this one is (?P<status>\w+)\.$"),
        _("This can change only while the order is a draft; this one is “%(status)s”."),
    ),
    (
        re.compile(r"^An order cannot go from (?P<from>\w+) to (?P<to>\w+)\.$"),
        _("An order cannot go from “%(from)s” to “%(to)s”."),
    ),
    (
        re.compile(r"^Only shipped or delivered orders can be returned; this one is (?P<status>\w+)\.$"),
        _("Only shipped or delivered orders can be returned; this one is “%(status)s”."),
    ),
    (
        re.compile(r"^A return cannot go from (?P<from>\w+) to (?P<to>\w+)\.$"),
        _("A return cannot go from “%(from)s” to “%(to)s”."),
    ),
]


def _label(value: str, *, returns: bool) -> str:
    labels = RETURN_STATUS_LABELS if returns else STATUS_LABELS
    return str(labels.get(value, value))


def _figure(value: str) -> str:
    """A figure quoted in a reason, with the user's separators (``1234.50`` → ``1.234,50`` in Italian)."""
    if re.fullmatch(r"-?\d+\.\d+", value):
        return number(Decimal(value), len(value.split(".")[1]))
    if re.fullmatch(r"\d+", value):
        return number(int(value))
    return value


def reason_text(reason: str) -> str:
    """The reason a service gave, in the user's language when it is a known one."""
    if reason in REASONS:
        return str(REASONS[reason])
    for pattern, message in PATTERNS:
        found = pattern.match(reason)
        if found:
            returns = reason.startswith("A return")
            values = {
                name: _label(value, returns=returns) if name in ("status", "from", "to") else _figure(value)
                for name, value in found.groupdict().items()
            }
            return str(message) % values
    return reason


def refusal_text(exc: Exception) -> str:
    """What to tell the user about a refused change, in their language."""
    if isinstance(exc, Conflict):
        return reason_text(exc.reason)
    if isinstance(exc, ValidationFailed):
        return " ".join(reason_text(reason) for reason in exc.errors.values())
    return str(_("Your role may not make this change."))


# ---- shared form behaviour -----------------------------------------------------------------------


class BootstrapForm(CoreBootstrapForm):
    """Bootstrap classes and errors beside the fields, with this app's reasons in the user's language."""

    reason_text = staticmethod(reason_text)


def _money_field(label: Any, *, required: bool = True, max_digits: int = 12) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=0,
        max_digits=max_digits,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _quantity_field(label: Any, *, min_value: int = 1, max_value: int = MAX_QUANTITY, **kwargs: Any):
    return forms.IntegerField(
        label=label,
        min_value=min_value,
        max_value=max_value,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        **kwargs,
    )


def _choice_id(value: str) -> int:
    number = int(value)
    if not 1 <= number <= ID_MAX:
        raise ValueError(value)
    return number


def category_choices(tree: Sequence[Any], *, empty: Any, paths: bool = False) -> list[tuple[Any, str]]:
    """The category tree as options, each name indented by its depth (or written as its path from the root)."""
    return [("", str(empty))] + [
        (node.id, node.path if paths else "\u00a0\u00a0\u00a0" * node.depth + node.name) for node in tree
    ]


# ---- lists ---------------------------------------------------------------------------------------


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


class OrderFilterForm(BootstrapForm):
    """The filters of the order list; invalid ones are shown beside their field and not applied."""

    q = forms.CharField(label=_("Number starts with"), required=False, max_length=32)
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Any status")), *OrderStatus.choices])
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("Any channel")), *OrderChannel.choices]
    )
    placed_from = forms.DateField(
        label=_("Placed from"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    placed_to = forms.DateField(
        label=_("Placed until"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    # Set by links from a customer's page; kept as hidden inputs while the other filters change.
    contact = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)
    account = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("placed_from"), data.get("placed_to")
        if start and end and start > end:
            self.add_error("placed_to", _("The end comes before the start."))
        return data

    def placed_after(self) -> dt.datetime | None:
        """The start of the first day, in the current time zone."""
        day = self.cleaned_data.get("placed_from")
        return _day_start(day) if day else None

    def placed_before(self) -> dt.datetime | None:
        """The start of the day after the last one (the last day is included)."""
        day = self.cleaned_data.get("placed_to")
        if not day or day == dt.date.max:
            return None
        return _day_start(day + dt.timedelta(days=1))


ACTIVE_CHOICES = [("", _("Active or not")), ("yes", _("Active")), ("no", _("Inactive"))]


class ProductFilterForm(BootstrapForm):
    q = forms.CharField(label=_("SKU or name starts with"), required=False, max_length=200)
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=_choice_id, empty_value=None)
    active = forms.ChoiceField(label=_("Active"), required=False, choices=ACTIVE_CHOICES)

    def __init__(self, *args: Any, tree: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices(tree, empty=_("Any category"))

    def active_value(self) -> bool | None:
        return {"yes": True, "no": False}.get(self.cleaned_data.get("active") or "")


# ---- products ------------------------------------------------------------------------------------


class ProductForm(BootstrapForm):
    sku = forms.CharField(label=_("SKU"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=200)
    category = forms.TypedChoiceField(label=_("Category"), required=False, coerce=_choice_id, empty_value=None)
    price = _money_field(_("Price"))
    cost = _money_field(_("Cost"))
    currency = forms.CharField(label=_("Currency"), min_length=3, max_length=3, initial="EUR")
    active = forms.BooleanField(label=_("On sale (active)"), required=False, initial=True)

    def __init__(self, *args: Any, tree: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = category_choices(tree, empty=_("No category"), paths=True)

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()


# ---- orders --------------------------------------------------------------------------------------


class LineAddForm(BootstrapForm):
    """A new line of a draft order: the product (found by SKU or name), how many, and optionally the price."""

    product = forms.IntegerField(
        label=_("Product"), min_value=1, max_value=ID_MAX, widget=forms.HiddenInput, required=False
    )
    quantity = _quantity_field(_("Quantity"), initial=1)
    unit_price = _money_field(_("Unit price"), required=False)
    discount = _money_field(_("Discount"), required=False)

    def clean_product(self) -> int:
        product = self.cleaned_data.get("product")
        if product is None:
            raise forms.ValidationError(_("Choose a product."))
        return product


class LineForm(BootstrapForm):
    """A line of a draft order changed in place."""

    quantity = _quantity_field(_("Quantity"))
    unit_price = _money_field(_("Unit price"))
    discount = _money_field(_("Discount"))

    def __init__(self, *args: Any, form_id: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The inputs sit in the cells of the line's table row; the <form> they belong to is in its last cell.
        for field in self.fields.values():
            field.widget.attrs["form"] = form_id
            field.widget.attrs["class"] += " form-control-sm"


class CancelForm(BootstrapForm):
    reason = forms.CharField(label=_("Why is it cancelled?"), required=False, max_length=500)


class ShipForm(BootstrapForm):
    carrier = forms.CharField(label=_("Carrier"), required=False, max_length=50)
    tracking_number = forms.CharField(label=_("Tracking number"), required=False, max_length=64)


class ReturnForm(BootstrapForm):
    """A return: the reason, and per line how many units come back (up to what may still be returned)."""

    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args: Any, lines: Sequence[tuple[Any, int]] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = [(line, available) for line, available in lines if available > 0]
        for line, available in self.lines:
            self.fields[self.field_name(line)] = _quantity_field(
                line.product.name, min_value=0, max_value=available, required=False, initial=0
            )
            self.fields[self.field_name(line)].widget.attrs["class"] = "form-control form-control-sm"

    @staticmethod
    def field_name(line: Any) -> str:
        return f"line_{line.pk}"

    def rows(self) -> list[tuple[Any, int, Any]]:
        """Each returnable line with the units still returnable and its quantity field."""
        return [(line, available, self[self.field_name(line)]) for line, available in self.lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(data.get(self.field_name(line)) for line, _available in self.lines):
            raise forms.ValidationError(_("Return at least one unit."))
        return data

    def chosen(self) -> list[tuple[str, int, int]]:
        """(field name, order line id, units) of the lines with units to return, in the form's order."""
        chosen = []
        for line, _available in self.lines:
            units = self.cleaned_data.get(self.field_name(line))
            if units:
                chosen.append((self.field_name(line), line.pk, units))
        return chosen


class ReturnStatusForm(BootstrapForm):
    status = forms.ChoiceField(
        choices=[
            (s, RETURN_STATUS_LABELS[s]) for s in (ReturnStatus.RECEIVED, ReturnStatus.REFUNDED, ReturnStatus.REJECTED)
        ]
    )
    refund_amount = _money_field(_("Refund"), required=False, max_digits=14)
