"""Forms of the ticket queue, the ticket page's actions and the knowledge base."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cuore.core.errors import ValidationFailed
from cuore.service.models import Priority, Queue, TicketStatus
from cuore.users.models import User

# A ticket's status as shown. The model's labels ("Open", "Closed") share their msgids with other apps'
# (a deal is "Aperta", a ticket "Aperto"), and the first catalogue loaded wins: a context keeps them apart.
STATUS_LABELS = {
    TicketStatus.NEW: pgettext_lazy("ticket status", "New"),
    TicketStatus.OPEN: pgettext_lazy("ticket status", "Open"),
    TicketStatus.PENDING: pgettext_lazy("ticket status", "Pending"),
    TicketStatus.SOLVED: pgettext_lazy("ticket status", "Solved"),
    TicketStatus.CLOSED: pgettext_lazy("ticket status", "Closed"),
}
ACTIVE = ""  # the queue's default status filter: every ticket not yet solved or closed
ANY_STATUS = "all"
QUEUE_ORDERINGS = [("due", _("Resolution due soonest")), ("newest", _("Newest first"))]
ARTICLE_ORDERINGS = [("", _("Best match")), ("newest", _("Newest first")), ("title", _("Title"))]


def user_label(user: User) -> str:
    return user.get_full_name() or user.username


class BootstrapForm(forms.Form):
    """A form whose widgets carry Bootstrap's classes, ``is-invalid`` on the fields with errors."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = css

    def make_small(self) -> None:
        """Use Bootstrap's small controls (the ticket header's compact forms)."""
        for field in self.fields.values():
            css = field.widget.attrs.get("class", "")
            if "form-select" in css.split():
                field.widget.attrs["class"] = f"{css} form-select-sm"
            elif "form-control" in css.split():
                field.widget.attrs["class"] = f"{css} form-control-sm"

    def full_clean(self) -> None:
        super().full_clean()
        self._mark_invalid()

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        self._mark_invalid()

    def _mark_invalid(self) -> None:
        for name in self._errors or {}:
            if name in self.fields:
                widget = self.fields[name].widget
                if "is-invalid" not in widget.attrs.get("class", ""):
                    widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


class TicketQueueForm(BootstrapForm):
    """The ticket queue's filters and ordering, read from the query string."""

    q = forms.CharField(label=_("Number or subject"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[(ACTIVE, _("Not solved or closed")), (ANY_STATUS, _("Any status")), *STATUS_LABELS.items()],
    )
    queue = forms.TypedChoiceField(label=_("Queue"), required=False, coerce=int, empty_value=None)
    priority = forms.ChoiceField(
        label=_("Priority"), required=False, choices=[("", _("Any priority")), *Priority.choices]
    )
    assignee = forms.ChoiceField(label=_("Assignee"), required=False)
    sort = forms.ChoiceField(label=_("Sort by"), required=False, choices=QUEUE_ORDERINGS)

    def __init__(self, *args: Any, queues: Iterable[Queue] = (), assignees: Iterable[User] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", _("Any queue")), *[(queue.pk, queue.name) for queue in queues]]
        self.fields["assignee"].choices = [
            ("", _("Anyone")),
            ("me", _("Mine")),
            ("none", _("Unassigned")),
            *[(str(user.pk), user_label(user)) for user in assignees],
        ]

    def value(self, name: str) -> Any:
        """The cleaned value of a valid field; an invalid one counts as not given (its error is shown)."""
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or None


class TicketAssignForm(BootstrapForm):
    """Assign a ticket: ``me``, a user's id, or empty for nobody."""

    assignee = forms.ChoiceField(label=_("Assignee"), required=False)

    def __init__(self, *args: Any, assignees: Iterable[User] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [
            ("", _("Unassigned")),
            ("me", _("Me")),
            *[(str(user.pk), user_label(user)) for user in assignees],
        ]
        self.make_small()


class TicketPropertiesForm(BootstrapForm):
    """Change a ticket's priority and queue."""

    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    queue = forms.TypedChoiceField(label=_("Queue"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, queues: Iterable[Queue] = (), **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["queue"].choices = [("", _("No queue")), *[(queue.pk, queue.name) for queue in queues]]
        self.make_small()


class ArticleFilterForm(BootstrapForm):
    """The knowledge base's search box and filters."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    language = forms.ChoiceField(label=_("Language"), required=False)
    faq = forms.ChoiceField(
        label=_("FAQ"), required=False, choices=[("", _("All articles")), ("yes", _("FAQ only")), ("no", _("Not FAQ"))]
    )
    state = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=[("", _("Published and drafts")), ("published", _("Published")), ("draft", _("Drafts"))],
    )
    ordering = forms.ChoiceField(label=_("Sort by"), required=False, choices=ARTICLE_ORDERINGS)

    def __init__(self, *args: Any, languages: Iterable[str] = (), writer: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("Any language")), *[(code, code) for code in languages]]
        if not writer:  # drafts are only listed to those who write articles
            del self.fields["state"]

    def value(self, name: str) -> Any:
        if not hasattr(self, "cleaned_data"):
            self.is_valid()
        return self.cleaned_data.get(name) or None


class ArticleForm(BootstrapForm):
    """Write or edit a knowledge-base article; the service checks the values again."""

    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 14}))
    language = forms.CharField(
        label=_("Language"), max_length=8, help_text=_("A language code such as en, it or pt-br.")
    )
    category = forms.CharField(label=_("Category"), required=False, max_length=50)
    is_faq = forms.BooleanField(label=_("Frequently asked question"), required=False)
    published = forms.BooleanField(label=_("Publish now"), required=False)

    def __init__(self, *args: Any, creating: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if not creating:  # an existing article is published and unpublished with its own buttons
            del self.fields["published"]


def add_service_errors(form: forms.Form, error: ValidationFailed, aliases: dict[str, str] | None = None) -> None:
    """Show a service's validation errors beside the form's fields (or above the form for the others)."""
    aliases = aliases or {}
    for field, reason in error.errors.items():
        name = aliases.get(field, field)
        if name in form.errors:
            continue  # the form's own check already tells what is wrong with it
        if name in form.fields:
            form.add_error(name, reason)
        else:
            form.add_error(None, f"{field}: {reason}")
