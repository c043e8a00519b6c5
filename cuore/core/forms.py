"""Form helpers shared by the web pages of every app."""

from __future__ import annotations

from typing import Any

from django import forms

from cuore.core.errors import ValidationFailed


class BootstrapForm(forms.Form):
    """A form whose widgets carry Bootstrap's classes, and ``is-invalid`` once a field has an error.

    An app's forms subclass it and set ``reason_text`` to turn its services' reasons into the user's
    language.
    """

    @staticmethod
    def reason_text(reason: str) -> str:
        return reason

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.HiddenInput):
                continue
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self) -> None:
        super().full_clean()
        self._mark_invalid()

    def _mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()

    def add_service_errors(self, exc: ValidationFailed, fields: dict[str, str | None] | None = None) -> None:
        """Show a service's refusal beside the field it names (``fields`` maps its names to the form's)."""
        fields = fields or {}
        for name, reason in exc.errors.items():
            target = fields.get(name, name)
            self.add_error(target if target in self.fields else None, self.reason_text(reason))
        self._mark_invalid()
