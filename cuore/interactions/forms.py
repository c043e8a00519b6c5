"""Forms of the customer 360 pages: logging a touch, changing a contact's basic fields."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cuore.contacts.models import Contact, LifecycleStage
from cuore.core.errors import ValidationFailed
from cuore.interactions.models import Direction, InteractionChannel

# The channels a person logs by hand from the page; the others arrive from the integrations.
LOG_CHANNELS = (
    InteractionChannel.PHONE,
    InteractionChannel.NOTE,
    InteractionChannel.EMAIL,
    InteractionChannel.MEETING,
)

# The reasons the services give, in the user's language (the services speak English to the API).
SERVICE_REASONS = {
    "is invalid": _("is invalid"),
    "is required": _("is required"),
    "must include a time zone": _("must include a time zone"),
    "cannot be more than a day in the future": _("cannot be more than a day in the future"),
    "must be in or out": _("must be inbound or outbound"),
    "must be between 1900 and today": _("must be between 1900 and today"),
    "a contact needs a first or a last name": _("a contact needs a first or a last name"),
    "an interaction needs a contact or an account": _("an interaction needs a contact or an account"),
}


def add_service_errors(form: forms.Form, error: ValidationFailed) -> None:
    """Show a service's validation errors beside the fields they name (the others above the form)."""
    for field, reason in error.errors.items():
        message = SERVICE_REASONS.get(reason, reason)
        form.add_error(field if field in form.fields else None, str(message))


class BootstrapForm(forms.Form):
    """A form whose widgets carry Bootstrap's classes, ``is-invalid`` on the fields with errors."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.RadioSelect):
                continue  # rendered by hand as a button group
            base = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {base}".strip()

    def full_clean(self) -> None:
        super().full_clean()
        self.mark_invalid()

    def mark_invalid(self) -> None:
        """Add ``is-invalid`` to the widgets of the fields that have errors (also after ``add_error``)."""
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if isinstance(widget, forms.RadioSelect):
                    continue
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] += " is-invalid"

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        self.mark_invalid()


class LogForm(BootstrapForm):
    """A call, note, email or meeting with the customer, as the user logs it from the 360 page."""

    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[(c.value, c.label) for c in LOG_CHANNELS],
        initial=InteractionChannel.PHONE,
        widget=forms.RadioSelect,
    )
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices, initial=Direction.OUT)
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    body = forms.CharField(
        label=_("Notes"), required=False, max_length=100_000, widget=forms.Textarea(attrs={"rows": 3})
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Now, if left empty."),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("initial", {"occurred_at": timezone.localtime().replace(second=0, microsecond=0)})
        kwargs.setdefault("auto_id", "log_%s")
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            "subject" not in self.errors
            and not (data.get("subject") or "").strip()
            and not (data.get("body") or "").strip()
        ):
            self.add_error("subject", gettext("Write a subject or some notes."))
        return data


class ContactBasicsForm(BootstrapForm):
    """A contact's basic fields, as ``contact_update`` takes them."""

    first_name = forms.CharField(label=_("First name"), max_length=100, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=100, required=False)
    title = forms.CharField(label=_("Title"), max_length=100, required=False)
    language = forms.CharField(label=_("Language"), max_length=8, required=False, help_text=_("e.g. it, en"))
    birth_date = forms.DateField(
        label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    lifecycle_stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=LifecycleStage.choices)
    source = forms.CharField(label=_("Source"), max_length=50, required=False)

    FIELDS = ("first_name", "last_name", "title", "language", "birth_date", "lifecycle_stage", "source")

    @classmethod
    def for_contact(cls, contact: Contact, data: Any = None) -> ContactBasicsForm:
        return cls(data=data, initial={name: getattr(contact, name) for name in cls.FIELDS}, auto_id="profile_%s")

    def changes(self) -> dict[str, Any]:
        """The cleaned values for ``contact_update`` (which records only the ones that changed)."""
        return {name: self.cleaned_data[name] for name in self.FIELDS}
