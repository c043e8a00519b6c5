"""Forms of the identity pages: a source's label and trust, the reason of a merge or a split."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cuore.core.forms import BootstrapForm

# The reasons the identity services give in English (to the API), in the user's language.
SERVICE_REASONS = {
    "from 0 to 100": _("from 0 to 100"),
    "a contact cannot be merged into itself": _("a contact cannot be merged into itself"),
    "this question has already been answered": _("this question has already been answered"),
    "this change has already been undone": _("this change has already been undone"),
    "the contact it kept has since been merged away or deleted: undo that first": _(
        "the contact it kept has since been merged away or deleted: undo that first"
    ),
    "the contact it created has since been merged into another: undo that merge first": _(
        "the contact it created has since been merged into another: undo that merge first"
    ),
    "the merged contact's id is taken again; it cannot be re-created": _(
        "the merged contact's id is taken again; it cannot be re-created"
    ),
    "only a contact record linked to a contact can be split off": _(
        "only a contact record linked to a contact can be split off"
    ),
    "this is the contact's only record: there is nothing to split it from": _(
        "this is the contact's only record: there is nothing to split it from"
    ),
}


def reason_in_language(reason: str) -> str:
    """A service's reason in the user's language (as it is when we do not know it)."""
    return str(SERVICE_REASONS.get(reason, reason))


class IdentityForm(BootstrapForm):
    @staticmethod
    def reason_text(reason: str) -> str:
        return reason_in_language(reason)


class SourceForm(IdentityForm):
    """A source's label and trust (0–100: survivorship prefers the most trusted source)."""

    label = forms.CharField(label=_("Label"), max_length=100, required=False)
    trust = forms.IntegerField(label=_("Trust"), min_value=0, max_value=100)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["label"].widget.attrs["class"] += " form-control-sm"
        self.fields["label"].widget.attrs["placeholder"] = _("Label")
        self.fields["trust"].widget.attrs.update(
            {"class": self.fields["trust"].widget.attrs["class"] + " form-control-sm", "style": "max-width: 6rem"}
        )


class ReasonForm(IdentityForm):
    """Why: written in the merge history (optional)."""

    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
