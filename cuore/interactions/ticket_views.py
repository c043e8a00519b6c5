"""A ticket's conversation: its interactions in time order, the reply to the customer and the internal note.

The ticket page belongs to the service app, which sits below this one and so cannot read interactions:
it loads this fragment by HTMX. A reply is an outbound e-mail interaction (logging it stops the ticket's
first-response clock, in ``interaction_log``); a note is an internal one the customer never sees.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from cuore.core.errors import Forbidden, NotFound, ValidationFailed
from cuore.core.htmx import is_htmx
from cuore.core.visibility import can_write, require_write
from cuore.interactions.models import Direction, InteractionChannel
from cuore.interactions.selectors import interaction_list
from cuore.interactions.services import interaction_log
from cuore.service.models import Ticket, TicketStatus
from cuore.service.selectors import ticket_get_for_actor

# The newest messages shown; a ticket's thread rarely reaches it, and the page stays bounded when one does.
CONVERSATION_LIMIT = 100
REPLY, NOTE = "reply", "note"
CHANNEL_OF = {REPLY: InteractionChannel.EMAIL, NOTE: InteractionChannel.NOTE}


class TicketMessageForm(forms.Form):
    """A reply to the customer (with a subject) or an internal note."""

    subject = forms.CharField(label=gettext_lazy("Subject"), required=False, max_length=200)
    body = forms.CharField(label=gettext_lazy("Message"), max_length=100_000, widget=forms.Textarea(attrs={"rows": 5}))

    def __init__(self, *args: Any, kind: str = REPLY, **kwargs: Any):
        super().__init__(*args, prefix=kind, **kwargs)
        self.kind = kind
        if kind == NOTE:
            del self.fields["subject"]
            self.fields["body"].label = gettext_lazy("Note")
        for name, field in self.fields.items():
            field.widget.attrs["class"] = "form-control"
            field.widget.attrs["data-testid"] = f"{kind}-{name}"

    def mark_invalid(self) -> None:
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] = "form-control is-invalid"


def _ticket_or_404(request: HttpRequest, ticket_id: int) -> Ticket:
    try:
        return ticket_get_for_actor(actor=request.user, ticket_id=ticket_id)
    except NotFound:
        raise Http404 from None


def _can_answer(actor: Any, ticket: Ticket) -> bool:
    return can_write(actor, "interactions") and can_write(actor, "tickets") and ticket.status != TicketStatus.CLOSED


def _render_conversation(
    request: HttpRequest,
    ticket: Ticket,
    *,
    bound: TicketMessageForm | None = None,
    status: int = 200,
    notice: str = "",
    error: str = "",
) -> HttpResponse:
    try:
        newest_first = list(
            interaction_list(actor=request.user, ticket_id=ticket.pk).order_by("-occurred_at", "-id")[
                : CONVERSATION_LIMIT + 1
            ]
        )
    except NotFound:
        raise Http404 from None
    forms_by_kind = {
        REPLY: TicketMessageForm(kind=REPLY, initial={"subject": _("Re: %(subject)s") % {"subject": ticket.subject}}),
        NOTE: TicketMessageForm(kind=NOTE),
    }
    if bound is not None:
        bound.mark_invalid()
        forms_by_kind[bound.kind] = bound
    context = {
        "ticket": ticket,
        "entries": list(reversed(newest_first[:CONVERSATION_LIMIT])),
        "truncated": len(newest_first) > CONVERSATION_LIMIT,
        "limit": CONVERSATION_LIMIT,
        "can_answer": _can_answer(request.user, ticket),
        "reply_form": forms_by_kind[REPLY],
        "note_form": forms_by_kind[NOTE],
        "open_form": bound.kind if bound is not None else "",
        "notice": notice,
        "error": error,
        "out": Direction.OUT,
        "note": InteractionChannel.NOTE,
    }
    response = render(request, "interactions/ticket_conversation.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@login_required
@require_GET
def ticket_conversation(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The ticket's interactions, oldest first, with the reply and note forms for those who may answer."""
    ticket = _ticket_or_404(request, ticket_id)
    if not is_htmx(request):  # the fragment lives inside the ticket page
        return HttpResponseRedirect(reverse("service:ticket", args=[ticket.pk]))
    return _render_conversation(request, ticket)


@login_required
@require_POST
def ticket_reply(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Send a reply to the customer or add an internal note; answer with the refreshed conversation."""
    ticket = _ticket_or_404(request, ticket_id)
    kind = NOTE if request.POST.get("kind") == NOTE else REPLY
    try:
        require_write(request.user, "tickets")
        require_write(request.user, "interactions")
    except (Forbidden, NotFound) as exc:
        return _forbidden(request, exc)
    if ticket.status == TicketStatus.CLOSED:
        reason = _("A closed ticket takes no more replies or notes.")
        if not is_htmx(request):
            messages.error(request, reason)
            return HttpResponseRedirect(reverse("service:ticket", args=[ticket.pk]))
        return _render_conversation(request, ticket, status=409, error=reason)
    form = TicketMessageForm(request.POST, kind=kind)
    if form.is_valid():
        try:
            interaction_log(
                actor=request.user,
                channel=CHANNEL_OF[kind],
                direction=Direction.OUT,
                ticket=ticket,
                subject=form.cleaned_data.get("subject", "").strip(),
                body=form.cleaned_data["body"].strip(),
            )
        except Forbidden as exc:
            return _forbidden(request, exc)
        except ValidationFailed as exc:
            for field, reason in exc.errors.items():
                form.add_error(
                    field if field in form.fields else None, reason if field in form.fields else f"{field}: {reason}"
                )
    if form.errors:
        if not is_htmx(request):
            for error in [*form.non_field_errors(), *[e for name in form.fields for e in form[name].errors]]:
                messages.error(request, error)
            return HttpResponseRedirect(reverse("service:ticket", args=[ticket.pk]))
        return _render_conversation(request, ticket, bound=form, status=422)
    notice = _("Your reply is recorded.") if kind == REPLY else _("Your note is added.")
    if not is_htmx(request):
        messages.success(request, notice)
        return HttpResponseRedirect(reverse("service:ticket", args=[ticket.pk]))
    ticket = _ticket_or_404(request, ticket.pk)  # a reply may have stopped the first-response clock
    response = _render_conversation(request, ticket, notice=notice)
    response["HX-Trigger"] = "ticket-changed"  # the ticket page refreshes its header and SLA clocks
    return response


def _forbidden(request: HttpRequest, error: Exception) -> HttpResponse:
    reason = str(error) if isinstance(error, Forbidden) else _("You may not answer on tickets.")
    if not is_htmx(request):
        raise PermissionDenied(reason)
    response = HttpResponseForbidden(reason)
    response["X-Cuore-Reason"] = quote(reason)
    return response
