"""The customer 360 pages: a contact's or an account's profile, what is open with them, and their timeline.

They merge contacts, sales, orders, service and interactions, which is why they live here (the one app
that may import all of those). Every read goes through the apps' selectors, every write through their
services; a section whose kind of record the user's role may not read is left out of the page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cuore.contacts.models import Account, Contact
from cuore.contacts.selectors import (
    CONTACT_ROW_FIELDS,
    account_addresses,
    account_get_for_actor,
    account_visible,
    consent_state,
    contact_get_for_actor,
    contact_list,
    contact_rows,
)
from cuore.contacts.services import contact_update
from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cuore.core.htmx import is_htmx
from cuore.core.visibility import Scope, can_write, read_scope
from cuore.interactions import selectors
from cuore.interactions.forms import ContactBasicsForm, LogForm, add_service_errors
from cuore.interactions.models import InteractionChannel
from cuore.interactions.services import interaction_log
from cuore.orders.selectors import order_list, order_summary
from cuore.sales.selectors import activity_list, deal_list
from cuore.service.models import TicketStatus
from cuore.service.selectors import ticket_list

SECTION_SIZE = 10  # rows of each "what is open" section; the full lists are one link away
PEOPLE_SIZE = 50
TIMELINE_PAGE = 20
OPEN_TICKET_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)
MAX_ID = 2**63 - 1

# The detail pages of the other apps, tried in order: the sections link to the first that exists.
DETAIL_URLS = {
    "deal": ("sales:deal", "sales:deal_detail"),
    "order": ("orders:order", "orders:detail", "orders:order_detail"),
    "ticket": ("service:ticket", "service:ticket_detail"),
    "interaction": (),
}
ICONS = {
    "email": "bi-envelope",
    "phone": "bi-telephone",
    "sms": "bi-chat-text",
    "chat": "bi-chat-dots",
    "social": "bi-share",
    "web_form": "bi-ui-checks",
    "meeting": "bi-people",
    "store": "bi-shop",
    "letter": "bi-mailbox",
    "note": "bi-sticky",
    "order": "bi-bag",
    "ticket": "bi-life-preserver",
    "deal": "bi-kanban",
}


# ---- helpers -------------------------------------------------------------------------------------


def _bounded(record_id: int) -> int:
    """An id from the path, or 404 when no database could hold it."""
    if not 0 < record_id <= MAX_ID:
        raise Http404
    return record_id


def _url(names: tuple[str, ...], *args: Any) -> str | None:
    """The first of ``names`` that resolves, or None while the page it names does not exist."""
    for name in names:
        try:
            return reverse(name, args=args)
        except NoReverseMatch:
            continue
    return None


def _refused(request: HttpRequest, error: Exception, status: int) -> HttpResponse:
    """Answer a write the service refused (403 or 409); HTMX shows the reason from the header."""
    reason = getattr(error, "reason", None) or str(error) or _("This action is not allowed.")
    response = HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
    response["X-Cuore-Reason"] = quote(reason)
    return response


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    try:
        return contact_get_for_actor(actor=request.user, contact_id=_bounded(contact_id))
    except NotFound:
        raise Http404 from None


def _account(request: HttpRequest, account_id: int) -> Account:
    try:
        return account_get_for_actor(actor=request.user, account_id=_bounded(account_id))
    except NotFound:
        raise Http404 from None


def _readable(actor: Any, resource: str) -> bool:
    return read_scope(actor, resource) is not Scope.NONE


# ---- the timeline --------------------------------------------------------------------------------


def _timeline_channels(actor: Any) -> list[tuple[str, str]]:
    """The filter chips: the interaction channels, then orders, tickets and deals, as far as the role reads them."""
    chips: list[tuple[str, str]] = []
    if _readable(actor, "interactions"):
        chips += [(str(value), str(label)) for value, label in InteractionChannel.choices]
    chips += [
        (kind, label)
        for kind, resource, label in (
            ("order", "orders", _("Orders")),
            ("ticket", "tickets", _("Tickets")),
            ("deal", "deals", _("Deal changes")),
        )
        if _readable(actor, resource)
    ]
    return chips


def _wanted_channels(request: HttpRequest, chips: list[tuple[str, str]]) -> list[str]:
    known = {value for value, _label in chips}
    return [value for value in dict.fromkeys(request.GET.getlist("channel")) if value in known]


def _timeline_context(
    request: HttpRequest, *, customer: Contact | Account, channels: list[str], cursor: str | None = None
) -> dict[str, Any]:
    """One page of a contact's or an account's timeline, with the link to the next page."""
    wanted = set(channels) or None
    if isinstance(customer, Contact):
        url_name = "customer:timeline"
        entries, next_cursor = selectors.contact_timeline(
            actor=request.user, contact=customer, channels=wanted, cursor=cursor, limit=TIMELINE_PAGE
        )
    else:
        url_name = "customer:account_timeline"
        entries, next_cursor = selectors.account_timeline(
            actor=request.user, account=customer, channels=wanted, cursor=cursor, limit=TIMELINE_PAGE
        )
    base = reverse(url_name, args=[customer.pk])
    next_url = None
    if next_cursor:
        next_url = f"{base}?{urlencode([*(('channel', channel) for channel in channels), ('cursor', next_cursor)])}"
    labels = dict(InteractionChannel.choices)
    return {
        "entries": [
            {
                "entry": entry,
                "url": _url(DETAIL_URLS[entry.kind], entry.object_id),
                "icon": ICONS.get(entry.channel, "bi-dot"),
                "channel_label": labels.get(entry.channel, ""),
            }
            for entry in entries
        ],
        "next_url": next_url,
        "first_page": cursor is None,
        "timeline_url": base,
        "channels": channels,
    }


def _timeline_page(request: HttpRequest, customer: Contact | Account) -> HttpResponse:
    """The entries for the channel chips (a fresh first page) or for the scroll (the page after ``cursor``)."""
    chips = _timeline_channels(request.user)
    if not chips:
        raise Http404
    try:
        context = _timeline_context(
            request,
            customer=customer,
            channels=_wanted_channels(request, chips),
            cursor=request.GET.get("cursor") or None,
        )
    except ValidationFailed:
        return HttpResponse(_("This timeline link is no longer valid."), status=400)
    return render(request, "interactions/_timeline_entries.html", context)


# ---- the contact 360 -----------------------------------------------------------------------------


def _contact_sections(request: HttpRequest, contact: Contact) -> dict[str, Any]:
    """What the contact page shows besides the profile: each section only for the roles that read it."""
    actor = request.user
    context: dict[str, Any] = {"now": timezone.now()}
    links = list(contact.account_links.all())
    if links and _readable(actor, "accounts"):
        # Only the accounts the user may open: a rep does not see another team's account through a contact.
        visible = set(
            account_visible(actor=actor).filter(pk__in=[link.account_id for link in links]).values_list("pk", flat=True)
        )
        context["account_links"] = [link for link in links if link.account_id in visible]
    if _readable(actor, "consents"):
        context["show_consents"] = True
        context["consents"] = consent_state(actor=actor, contact=contact)
    if _readable(actor, "deals"):
        deals = deal_list(actor=actor, contact_id=contact.pk, status="open")
        context["deals"] = _section(
            deals.select_related("owner").order_by(F("expected_close").asc(nulls_last=True), "id")
        )
    if _readable(actor, "orders"):
        orders = order_list(actor=actor, contact_id=contact.pk).order_by("-placed_at", "-id")
        context["orders"] = _section(orders)
        context["order_summary"] = order_summary(actor=actor, contact_id=contact.pk)
    if _readable(actor, "tickets"):
        tickets = ticket_list(actor=actor, contact_id=contact.pk, status=OPEN_TICKET_STATUSES)
        context["tickets"] = _section(tickets.order_by("-created_at", "-id"))
    if _readable(actor, "activities"):
        tasks = activity_list(actor=actor, contact_id=contact.pk, done=False).select_related("assignee")
        context["tasks"] = _section(tasks.order_by(F("due_at").asc(nulls_last=True), "id"))
    return context


def _section(queryset) -> dict[str, Any]:
    """The first rows of a section and whether there are more, in one query."""
    rows = list(queryset[: SECTION_SIZE + 1])
    return {
        "rows": [(row, _url(DETAIL_URLS.get(row._meta.model_name, ()), row.pk)) for row in rows[:SECTION_SIZE]],
        "more": len(rows) > SECTION_SIZE,
    }


def _contact_page(
    request: HttpRequest,
    contact: Contact,
    *,
    log_form: LogForm | None = None,
    profile_form: ContactBasicsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = request.user
    chips = _timeline_channels(actor)
    channels = _wanted_channels(request, chips)
    context: dict[str, Any] = {
        "contact": contact,
        "can_edit": can_write(actor, "contacts"),
        "can_log": can_write(actor, "interactions"),
        "log_form": log_form or LogForm(),
        "log_url": reverse("customer:log", args=[contact.pk]),
        "profile_form": profile_form,
        "chips": chips,
        **_contact_sections(request, contact),
    }
    if chips:
        context.update(_timeline_context(request, customer=contact, channels=channels))
    return render(request, "interactions/contact_detail.html", context, status=status)


@login_required
@require_GET
def contact_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The contact 360: who they are, how to reach them, what is open with them, and everything that happened."""
    return _contact_page(request, _contact(request, contact_id))


@login_required
@require_GET
def contact_timeline(request: HttpRequest, contact_id: int) -> HttpResponse:
    """A page of the contact's timeline, for the channel chips and the endless scroll."""
    return _timeline_page(request, _contact(request, contact_id))


@login_required
@require_GET
def contact_profile(request: HttpRequest, contact_id: int) -> HttpResponse:
    """The profile card (what the edit form's Cancel brings back)."""
    contact = _contact(request, contact_id)
    if not is_htmx(request):
        return HttpResponseRedirect(reverse("customer:contact", args=[contact.pk]))
    context = {"contact": contact, "can_edit": can_write(request.user, "contacts")}
    return render(request, "interactions/_profile.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def contact_profile_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Change the contact's basic fields through ``contact_update``."""
    contact = _contact(request, contact_id)
    if not can_write(request.user, "contacts"):
        return _refused(request, Forbidden(_("Your role may not change contacts.")), 403)
    if request.method == "GET":
        form = ContactBasicsForm.for_contact(contact)
        if is_htmx(request):
            return render(request, "interactions/_profile_form.html", {"contact": contact, "form": form})
        return _contact_page(request, contact, profile_form=form)
    form = ContactBasicsForm.for_contact(contact, data=request.POST)
    if form.is_valid():
        try:
            contact_update(actor=request.user, contact=contact, data=form.changes())
        except ValidationFailed as error:
            add_service_errors(form, error)
        except Forbidden as error:
            return _refused(request, error, 403)
        except Conflict as error:
            return _refused(request, error, 409)
    if form.errors:
        if is_htmx(request):
            return render(request, "interactions/_profile_form.html", {"contact": contact, "form": form}, status=422)
        return _contact_page(request, contact, profile_form=form)
    if is_htmx(request):
        context = {"contact": contact, "can_edit": True, "refreshed": True}
        return render(request, "interactions/_profile.html", context)
    return HttpResponseRedirect(reverse("customer:contact", args=[contact.pk]))


def _log(request: HttpRequest, customer: Contact | Account) -> tuple[LogForm, HttpResponse | None]:
    """Validate the log form and call ``interaction_log``; answer a refusal, or None to go on."""
    if _readable(request.user, "interactions") and not can_write(request.user, "interactions"):
        return LogForm(), _refused(request, Forbidden(_("Your role may not log interactions.")), 403)
    form = LogForm(data=request.POST)
    if form.is_valid():
        data = form.cleaned_data
        target = {"contact": customer} if isinstance(customer, Contact) else {"account": customer}
        try:
            interaction_log(
                actor=request.user,
                channel=data["channel"],
                direction=data["direction"],
                subject=data["subject"],
                body=data["body"],
                occurred_at=data["occurred_at"],
                **target,
            )
        except ValidationFailed as error:
            add_service_errors(form, error)
        except Forbidden as error:
            return form, _refused(request, error, 403)
        except NotFound:
            raise Http404 from None
        except Conflict as error:
            return form, _refused(request, error, 409)
    return form, None


def _log_answer(request: HttpRequest, customer: Contact | Account, form: LogForm, page) -> HttpResponse:
    """After a log: the fresh timeline (the new entry first) and an empty form; or the form with its errors."""
    log_url = reverse("customer:log" if isinstance(customer, Contact) else "customer:account_log", args=[customer.pk])
    if form.errors:
        if not is_htmx(request):
            return page(request, customer, log_form=form)
        response = render(request, "interactions/_log_form.html", {"log_form": form, "log_url": log_url}, status=422)
        response["HX-Retarget"] = "#log-form"
        response["HX-Reswap"] = "outerHTML"
        return response
    if not is_htmx(request):
        name = "customer:contact" if isinstance(customer, Contact) else "customer:account"
        return HttpResponseRedirect(reverse(name, args=[customer.pk]))
    context = {
        "chips": _timeline_channels(request.user),
        "log_form": LogForm(),
        "log_url": log_url,
        "oob": True,
        **_timeline_context(request, customer=customer, channels=[]),
    }
    return render(request, "interactions/_logged.html", context)


@login_required
@require_POST
def contact_log(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Log a call, note, email or meeting with the contact; answer the top of the refreshed timeline."""
    contact = _contact(request, contact_id)
    form, refused = _log(request, contact)
    return refused or _log_answer(request, contact, form, _contact_page)


# ---- the account 360 -----------------------------------------------------------------------------


def _account_sections(request: HttpRequest, account: Account) -> dict[str, Any]:
    actor = request.user
    people = contact_list(actor=actor, account_id=account.pk).order_by("last_name_key", "first_name_key", "id")
    rows = contact_rows(list(people.values(*CONTACT_ROW_FIELDS)[: PEOPLE_SIZE + 1]))
    context: dict[str, Any] = {
        "tags": list(account.tags.all()),
        "addresses": list(account_addresses(account=account)),
        "people": rows[:PEOPLE_SIZE],
        "more_people": len(rows) > PEOPLE_SIZE,
        "now": timezone.now(),
    }
    if _readable(actor, "deals"):
        deals = deal_list(actor=actor, account_id=account.pk, status="open")
        context["deals"] = _section(
            deals.select_related("owner").order_by(F("expected_close").asc(nulls_last=True), "id")
        )
    if _readable(actor, "orders"):
        orders = order_list(actor=actor, account_id=account.pk).order_by("-placed_at", "-id")
        context["orders"] = _section(orders)
        context["order_summary"] = order_summary(actor=actor, account_id=account.pk)
    if _readable(actor, "tickets"):
        tickets = ticket_list(actor=actor, account_id=account.pk, status=OPEN_TICKET_STATUSES)
        context["tickets"] = _section(tickets.order_by("-created_at", "-id"))
    if _readable(actor, "activities"):
        tasks = activity_list(actor=actor, account_id=account.pk, done=False).select_related("assignee")
        context["tasks"] = _section(tasks.order_by(F("due_at").asc(nulls_last=True), "id"))
    return context


def _account_page(
    request: HttpRequest, account: Account, *, log_form: LogForm | None = None, status: int = 200
) -> HttpResponse:
    actor = request.user
    chips = _timeline_channels(actor)
    context: dict[str, Any] = {
        "account": account,
        # Only a web address is a link: a website stored as ``javascript:…`` stays plain text.
        "website_url": account.website if account.website.lower().startswith(("http://", "https://")) else None,
        "can_log": can_write(actor, "interactions"),
        "log_form": log_form or LogForm(),
        "log_url": reverse("customer:account_log", args=[account.pk]),
        "chips": chips,
        **_account_sections(request, account),
    }
    if chips:
        context.update(_timeline_context(request, customer=account, channels=_wanted_channels(request, chips)))
    return render(request, "interactions/account_detail.html", context, status=status)


@login_required
@require_GET
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    """The account 360: the company, its people, what is open with it, and its timeline."""
    return _account_page(request, _account(request, account_id))


@login_required
@require_GET
def account_timeline(request: HttpRequest, account_id: int) -> HttpResponse:
    """A page of the account's timeline, for the channel chips and the endless scroll."""
    return _timeline_page(request, _account(request, account_id))


@login_required
@require_POST
def account_log(request: HttpRequest, account_id: int) -> HttpResponse:
    """Log a call, note, email or meeting with the account; answer the top of the refreshed timeline."""
    account = _account(request, account_id)
    form, refused = _log(request, account)
    return refused or _log_answer(request, account, form, _account_page)
