"""Forms of the import pages: the upload (file, kind, source) and the column mapping."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cuore.core.forms import BootstrapForm
from cuore.imports import reading
from cuore.imports.models import ImportKind

# The reasons the import services give in English (to the API), in the user's language. The reasons
# that come from reading the file are translated where they are raised.
SERVICE_REASONS = {
    "a name of letters, digits, - and _, at most 50 characters": _(
        "a name of letters, digits, - and _, at most 50 characters"
    ),
    "is required": _("is required"),
}
LEAVE_OUT = ""


class ImportUploadForm(BootstrapForm):
    """A file to import, what it holds and which system it comes from."""

    file = forms.FileField(label=_("File"), help_text=_("CSV (any delimiter and encoding) or Excel XLSX"))
    kind = forms.ChoiceField(label=_("What the file holds"), choices=ImportKind.choices)
    source = forms.CharField(
        label=_("Source"),
        max_length=50,
        help_text=_("The system the file comes from, e.g. web-shop, till, old-crm: a new name creates a source"),
    )

    @staticmethod
    def reason_text(reason: str) -> str:
        return str(SERVICE_REASONS.get(reason, reason))

    def __init__(self, *args: Any, kinds: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kinds is not None:
            self.fields["kind"].choices = [(value, label) for value, label in ImportKind.choices if value in kinds]
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,.tsv,.xlsx,text/csv"
        self.fields["source"].widget.attrs.update({"list": "import-sources", "autocomplete": "off"})

    def clean_source(self) -> str:
        return self.cleaned_data["source"].strip().lower()


class MappingForm(BootstrapForm):
    """One select per column of the file: the field it fills, or "leave out"."""

    def __init__(self, *args: Any, kind: str, headers: list[str], mapping: dict[str, str | None], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = [(LEAVE_OUT, _("— leave out —"))] + [
            (field.name, f"{field.label} *" if field.required else field.label) for field in reading.KINDS[kind]
        ]
        for position, header in enumerate(headers):
            self.fields[self.field_name(position)] = forms.ChoiceField(
                label=header,
                choices=choices,
                required=False,
                initial=mapping.get(header) or LEAVE_OUT,
                widget=forms.Select(attrs={"class": "form-select form-select-sm"}),
            )

    @staticmethod
    def field_name(position: int) -> str:
        return f"column_{position}"

    def columns(self) -> list[tuple[str, forms.BoundField]]:
        """(header, its select), in the file's order."""
        return [(header, self[self.field_name(position)]) for position, header in enumerate(self.headers)]

    def mapping(self) -> dict[str, str | None]:
        """The chosen mapping: header → field name, or None for a column left out."""
        return {
            header: self.cleaned_data.get(self.field_name(position)) or None
            for position, header in enumerate(self.headers)
        }
