"""Forms of the sales pages: editing, moving and closing a deal, the deal and forecast filters, a new task."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cuore.core.forms import BootstrapForm as CoreBootstrapForm
from cuore.sales.models import ActivityKind, DealStatus

ID_MAX = 2**63 - 1  # ids are 64-bit in the database; a larger one is no id at all

# The reasons the services give (in English, for the API), told to the user in their language.
REASONS = {
    "is required": _("This field is required."),
    "not found": _("Not found, or you may not see it."),
    "belongs to another pipeline": _("This stage belongs to another pipeline."),
    "must be you or a member of your team": _("Choose yourself or a member of your team."),
    "is not an active user": _("This user is no longer active."),
    "must be a number": _("Enter a number."),
    "must have at most 2 decimal places": _("Enter at most 2 decimal places."),
    "must be an ISO 4217 currency code, such as EUR": _("Enter a currency code, such as EUR."),
    "must be a date": _("Enter a valid date."),
    "must be a date and time": _("Enter a valid date and time."),
    "must include a time zone": _("Enter a valid date and time."),
    "is out of range": _("This value is out of range."),
    "must not contain NUL characters": _("Null characters are not allowed."),
}


def reason_text(reason: str) -> str:
    """The reason a service gave, in the user's language when it is a known one."""
    return str(REASONS.get(reason, reason))


class BootstrapForm(CoreBootstrapForm):
    """Bootstrap classes and errors beside the fields, with this app's reasons in the user's language."""

    reason_text = staticmethod(reason_text)


def _id_field(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(min_value=1, max_value=ID_MAX, **kwargs)


def _choice_id(value: str) -> int:
    number = int(value)
    if not 1 <= number <= ID_MAX:
        raise ValueError(value)
    return number


class DealForm(BootstrapForm):
    """The fields of a deal one may edit; the stage and the status change through their own actions."""

    name = forms.CharField(label=_("Name"), max_length=200)
    amount = forms.DecimalField(
        label=_("Amount"),
        min_value=0,
        max_digits=14,
        decimal_places=2,
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    currency = forms.CharField(label=_("Currency"), min_length=3, max_length=3)
    expected_close = forms.DateField(
        label=_("Expected close"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=_choice_id, required=False, empty_value=None)
    contact = _id_field(label=_("Contact"), required=False, widget=forms.HiddenInput)
    account = _id_field(label=_("Account"), required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, owners: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "—")] + [(u.pk, u.get_full_name() or u.username) for u in owners]

    def clean_currency(self) -> str:
        return self.cleaned_data["currency"].strip().upper()


class LoseForm(BootstrapForm):
    reason = forms.CharField(label=_("Why was it lost?"), max_length=200)


class MoveForm(forms.Form):
    stage = _id_field()


DEAL_ORDERING_LABELS = {
    "-created": _("Newest first"),
    "created": _("Oldest first"),
    "name": _("Name"),
    "-name": _("Name, Z to A"),
    "-amount": _("Largest amount"),
    "amount": _("Smallest amount"),
    "expected_close": _("Closing soonest"),
    "-expected_close": _("Closing latest"),
}


class DealFilterForm(BootstrapForm):
    """The filters of the deal list; invalid ones are shown beside their field and not applied."""

    q = forms.CharField(label=_("Name starts with"), required=False, max_length=200)
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), coerce=_choice_id, required=False, empty_value=None)
    stage = forms.TypedChoiceField(label=_("Stage"), coerce=_choice_id, required=False, empty_value=None)
    status = forms.ChoiceField(label=_("Status"), required=False)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=_choice_id, required=False, empty_value=None)
    sort = forms.ChoiceField(label=_("Order by"), required=False)

    def __init__(self, *args: Any, pipelines: list[Any], owners: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        self.fields["pipeline"].choices = everything + [(p.pk, p.name) for p in pipelines]
        self.fields["stage"].choices = everything + [
            (p.name, [(s.pk, s.name) for s in p.stages.all()]) for p in pipelines
        ]
        self.fields["status"].choices = everything + list(DealStatus.choices)
        self.fields["owner"].choices = everything + [(u.pk, u.get_full_name() or u.username) for u in owners]
        self.fields["sort"].choices = list(DEAL_ORDERING_LABELS.items())


class ForecastFilterForm(BootstrapForm):
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), coerce=_choice_id, required=False, empty_value=None)

    def __init__(self, *args: Any, pipelines: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = [("", _("All pipelines"))] + [(p.pk, p.name) for p in pipelines]


class TaskForm(BootstrapForm):
    """A new task for oneself: what, which kind, when, and optionally about whom."""

    subject = forms.CharField(label=_("Subject"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=ActivityKind.choices, initial=ActivityKind.TODO)
    due_at = forms.DateTimeField(
        label=_("Due"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    contact = _id_field(label=_("Contact"), required=False, widget=forms.HiddenInput)


class ActivityFilterForm(BootstrapForm):
    """The filters of the activity list; invalid ones are shown beside their field and not applied."""

    kind = forms.ChoiceField(label=_("Kind"), required=False)
    done = forms.ChoiceField(label=_("Done"), required=False)
    assignee = forms.TypedChoiceField(label=_("Assigned to"), coerce=_choice_id, required=False, empty_value=None)
    due_from = forms.DateField(
        label=_("Due from"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    due_to = forms.DateField(
        label=_("Due to"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, assignees: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        everything = [("", _("All"))]
        self.fields["kind"].choices = everything + list(ActivityKind.choices)
        self.fields["done"].choices = everything + [("no", _("To do")), ("yes", _("Done"))]
        self.fields["assignee"].choices = everything + [(u.pk, u.get_full_name() or u.username) for u in assignees]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("due_from"), data.get("due_to")
        if start and end and end < start:
            self.add_error("due_to", _("The end of the range comes before its start."))
        return data
