"""Web pages of customer service: the ticket queue, the ticket page and the knowledge base.

Every read goes through ``cuore.service.selectors`` and every write through ``cuore.service.services``,
so the pages follow the same visibility rules as the API. The ticket's conversation belongs to the
interactions app (above this one): the ticket page loads it by HTMX from ``ticketconv:conversation``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cuore.core.htmx import is_htmx, wants_fragment
from cuore.core.lists import Column, ListSpec, export_response, list_context, list_page, render_list, selected_ids
from cuore.core.pagination import Page, paginate
from cuore.core.visibility import can_write, require_read, require_write
from cuore.service import selectors, services
from cuore.service.forms import (
    ANY_STATUS,
    STATUS_LABELS,
    ArticleFilterForm,
    ArticleForm,
    TicketAssignForm,
    TicketPropertiesForm,
    TicketQueueForm,
    add_service_errors,
)
from cuore.service.models import Article, Priority, Ticket, TicketStatus

QUEUE_PAGE_SIZE = 50
ARTICLE_PAGE_SIZE = 25
PICKER_SIZE = 8
NEAR_DUE_MINUTES = 60
ARTICLE_ORDERINGS = {"newest": ("-created", ("-id",)), "title": ("title", ("title", "id"))}
# The button that moves a ticket to a status, by its status.
STATUS_ACTIONS = {
    TicketStatus.OPEN: pgettext_lazy("ticket action", "Open"),
    TicketStatus.PENDING: gettext_lazy("Set pending"),
    TicketStatus.SOLVED: gettext_lazy("Mark solved"),
    TicketStatus.CLOSED: gettext_lazy("Close"),
}


# ---- helpers ---------------------------------------------------------------------------------------------


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _forbidden(request: HttpRequest, error: Forbidden) -> HttpResponse:
    """403: a page for a browser, the reason in ``X-Cuore-Reason`` for HTMX (``cuore.js`` shows it)."""
    if not is_htmx(request):
        raise PermissionDenied(str(error))
    response = HttpResponseForbidden(str(error))
    response["X-Cuore-Reason"] = quote(str(error))
    return response


def _url_or_none(name: str, *args: Any) -> str | None:
    """The URL of a page that another app provides, or ``None`` when that app does not (yet) provide it."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _with_cursor(params: QueryDict, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = params.copy()
    query.pop("fragment", None)
    query["cursor"] = cursor
    return "?" + query.urlencode()


def duration_text(minutes: int) -> str:
    """``2 d 3 h``, ``4 h 5 min`` or ``12 min``, for a number of minutes either side of zero."""
    days, rest = divmod(abs(minutes), 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": mins}
    return _("%(minutes)s min") % {"minutes": mins}


@dataclass(frozen=True)
class ClockView:
    """How one SLA clock of a ticket is shown: ``none``, ``running``, ``near``, ``overdue``, ``met`` or ``missed``."""

    state: str
    due: dt.datetime | None
    text: str

    @property
    def running(self) -> bool:
        return self.state in ("running", "near", "overdue")

    @property
    def css(self) -> str:
        return {"near": "text-warning-emphasis", "overdue": "text-danger", "missed": "text-danger"}.get(
            self.state, "text-success" if self.state == "met" else "text-body-secondary"
        )


def clock_view(clock: selectors.SlaClock) -> ClockView:
    if clock.due is None or clock.remaining_minutes is None:
        return ClockView("none", None, "—")
    if not clock.running:
        return ClockView("missed", clock.due, _("Missed")) if clock.breached else ClockView("met", clock.due, _("Met"))
    minutes = clock.remaining_minutes
    if clock.breached or minutes < 0:
        return ClockView("overdue", clock.due, _("%(time)s overdue") % {"time": duration_text(minutes)})
    state = "near" if minutes < NEAR_DUE_MINUTES else "running"
    return ClockView(state, clock.due, _("%(time)s left") % {"time": duration_text(minutes)})


@dataclass(frozen=True)
class TicketSlaView:
    first_response: ClockView
    resolution: ClockView
    breached: bool
    near_due: bool

    @property
    def row_class(self) -> str:
        return "table-danger" if self.breached else "table-warning" if self.near_due else ""


def ticket_sla_view(ticket: Ticket, now: dt.datetime) -> TicketSlaView:
    """The ticket's two SLA clocks as shown, from ``selectors.ticket_sla_status`` (no query)."""
    sla = selectors.ticket_sla_status(ticket, now)
    first, resolution = clock_view(sla.first_response), clock_view(sla.resolution)
    breached = (
        ticket.first_response_breached
        or ticket.resolution_breached
        or sla.first_response.breached
        or sla.resolution.breached
    )
    near_due = not breached and "near" in (first.state, resolution.state)
    return TicketSlaView(first, resolution, breached, near_due)


# ---- the ticket queue -------------------------------------------------------------------------------------


def status_label(ticket: Ticket) -> str:
    return str(STATUS_LABELS.get(ticket.status, ticket.status))


def _labelled(ticket: Ticket) -> Ticket:
    """Give the ticket the label of its status as the pages show it (``status_label``)."""
    ticket.status_label = status_label(ticket)  # type: ignore[attr-defined]
    return ticket


def _status_filter(value: str | None) -> list[str] | None:
    if not value:
        return list(services.OPEN_STATUSES)
    if value == ANY_STATUS:
        return None
    return [value]


def _assignee_filter(value: str | None) -> int | str | None:
    if value in (None, "", "me", "none"):
        return value or None
    return int(value)  # the form only accepts the ids of the users it lists


def _sla_cell(which: str) -> Callable[[Any], str]:
    def export(ticket: Any) -> str:
        clock = getattr(ticket.sla, which)
        return clock.due.isoformat() if clock.due else ""

    return export


QUEUE = ListSpec(
    name="queue",
    columns=(
        Column("number", gettext_lazy("Number"), template="service/_cell_ticket_number.html"),
        Column("subject", gettext_lazy("Subject"), template="service/_cell_ticket_subject.html"),
        Column("customer_name", gettext_lazy("Customer")),
        Column("priority", gettext_lazy("Priority"), template="service/_cell_priority.html"),
        Column("status_label", gettext_lazy("Status"), template="service/_cell_status.html"),
        Column("assignee_name", gettext_lazy("Assignee"), template="service/_cell_assignee.html"),
        Column(
            "first_response",
            gettext_lazy("First response"),
            template="service/_cell_sla_first.html",
            export=_sla_cell("first_response"),
        ),
        Column(
            "resolution",
            gettext_lazy("Resolution"),
            sort="due",
            template="service/_cell_sla_resolution.html",
            export=_sla_cell("resolution"),
        ),
        Column("queue_name", gettext_lazy("Queue"), default=False),
        Column(
            "created_at",
            pgettext_lazy("ticket", "Created"),
            sort="newest",
            default=False,
            template="service/_cell_datetime.html",
            export=lambda t: t.created_at.isoformat(),
        ),
    ),
    orderings={"due": ("resolution_due", "id"), "newest": ("-id",)},
    default_ordering="due",
    page_size=QUEUE_PAGE_SIZE,
)


def _queue_row(ticket: Ticket, now: dt.datetime) -> Ticket:
    _labelled(ticket)
    ticket.sla = ticket_sla_view(ticket, now)  # type: ignore[attr-defined]
    ticket.customer_name = ticket.contact.full_name if ticket.contact else ""  # type: ignore[attr-defined]
    person = ticket.assignee
    ticket.assignee_name = (person.get_full_name() or person.username) if person else ""  # type: ignore[attr-defined]
    ticket.queue_name = ticket.queue.name if ticket.queue else ""  # type: ignore[attr-defined]
    return ticket


@login_required
@require_http_methods(["GET", "POST"])
def ticket_queue(request: HttpRequest) -> HttpResponse:
    """The ticket queue: filters, chosen columns, saved views, CSV export; a POST is a bulk action."""
    if request.method == "POST":
        return _queue_bulk(request)
    actor = request.user
    try:
        assignees = list(selectors.ticket_assignee_choices(actor=actor))
        queues = list(selectors.queue_list(actor=actor).order_by("name"))
    except NotFound:
        raise Http404 from None
    form = TicketQueueForm(request.GET, queues=queues, assignees=assignees)
    form.is_valid()  # invalid filters are shown beside their field and left out
    spec = QUEUE if QUEUE.page_size == QUEUE_PAGE_SIZE else replace(QUEUE, page_size=QUEUE_PAGE_SIZE)
    tickets = selectors.ticket_list(
        actor=actor,
        status=_status_filter(form.value("status")),
        priority=form.value("priority"),
        queue_id=form.value("queue"),
        assignee_id=_assignee_filter(form.value("assignee")),
        q=form.value("q"),
    )
    sort = spec.ordering_key(request.GET)
    undated = None
    if sort == "due":
        # A keyset ordering needs values: tickets without an SLA due time are listed under "newest".
        if not request.GET.get("cursor") and request.GET.get("export") != "csv":
            undated = tickets.filter(resolution_due__isnull=True).count()
        tickets = tickets.filter(resolution_due__isnull=False)
    now = timezone.now()

    def rows(items: list[Ticket]) -> list[Ticket]:
        return [_queue_row(ticket, now) for ticket in items]

    if request.GET.get("export") == "csv":
        return export_response(spec, tickets, request.GET, filename="tickets.csv", to_rows=rows)
    page = list_page(request, spec, tickets, to_rows=rows)
    writable = can_write(actor, "tickets")
    newest = QueryDict(page.query, mutable=True)
    newest["sort"] = "newest"
    context = {
        "form": form,
        "undated": undated,
        "newest_url": "?" + newest.urlencode(),
        "assignees": assignees,
        "priorities": Priority.choices,
        # The shared list, with the queue's rows (SLA highlighting, stable ids) and its footnote.
        "row_attrs": "service/_queue_row_attrs.html",
        "table_testid": "ticket-queue",
        "list_footer": "service/_queue_footer.html",
        **list_context(
            request,
            page,
            bulk_url=reverse("service:queue") if writable else "",
            bulk_template="service/_queue_bulk.html" if writable else "",
        ),
    }
    return render_list(request, "service/queue.html", context)


def _queue_bulk(request: HttpRequest) -> HttpResponse:
    """Assign the selected tickets, or set their priority; tickets the user may not see are left out."""
    actor = request.user
    if not can_write(actor, "tickets"):
        try:
            require_read(actor, "tickets", "ticket")
        except NotFound:
            raise Http404 from None
        return HttpResponseForbidden(_("Your role may not change these tickets."))
    try:
        ids = selected_ids(request.POST.getlist("ids"))
        action = request.POST.get("action", "")
        tickets = list(selectors.ticket_visible(actor=actor).filter(pk__in=ids).order_by("id"))
        if action == "assign":
            choice = request.POST.get("assignee", "")
            people = {str(user.pk): user for user in selectors.ticket_assignee_choices(actor=actor)}
            if choice == "me":
                people["me"] = actor
            if choice not in people and choice != "none":
                raise ValidationFailed(field="assignee", reason=_("choose whom to assign to"))
            data: dict[str, Any] = {"assignee": people.get(choice)}
        elif action == "set_priority":
            priority = request.POST.get("priority", "")
            if priority not in Priority.values:
                raise ValidationFailed(field="priority", reason=_("choose a priority"))
            data = {"priority": priority}
        else:
            raise ValidationFailed(field="action", reason=_("choose an action"))
        changed = 0
        skipped: list[str] = []
        for ticket in tickets:
            try:
                services.ticket_update(actor=actor, ticket=ticket, data=data)
                changed += 1
            except (ValidationFailed, Conflict) as exc:
                skipped.append(str(exc))
        if changed:
            messages.success(request, _("%(count)d tickets changed.") % {"count": changed})
        if len(tickets) < len(ids):
            messages.warning(
                request, _("%(count)d selected tickets were not found.") % {"count": len(ids) - len(tickets)}
            )
        if skipped:
            messages.warning(request, _("%(count)d tickets were left as they were.") % {"count": len(skipped)})
    except ValidationFailed as exc:
        messages.error(request, "; ".join(str(reason) for reason in exc.errors.values()))
    except Forbidden as exc:
        return HttpResponseForbidden(str(exc))
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("service:queue")
    return HttpResponseRedirect(target)


# ---- the ticket page --------------------------------------------------------------------------------------


def _ticket_or_404(request: HttpRequest, ticket_id: int) -> Ticket:
    try:
        return selectors.ticket_get_for_actor(actor=request.user, ticket_id=ticket_id)
    except NotFound:
        raise Http404 from None


def _transitions(ticket: Ticket) -> list[tuple[str, str]]:
    allowed = services.ALLOWED_TRANSITIONS[ticket.status]
    actions = []
    for status, label in STATUS_ACTIONS.items():
        if status in allowed:
            if status == TicketStatus.OPEN and ticket.status == TicketStatus.SOLVED:
                label = gettext_lazy("Reopen")
            actions.append((str(status), str(label)))
    return actions


def _header_context(request: HttpRequest, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    """What ``service/_ticket_header.html`` shows: the ticket's state, SLA clocks and the actions on it."""
    actor = request.user
    changeable = can_write(actor, "tickets") and ticket.status != TicketStatus.CLOSED
    context: dict[str, Any] = {
        "ticket": _labelled(ticket),
        "sla": ticket_sla_view(ticket, timezone.now()),
        "can_change": changeable,
        "transitions": _transitions(ticket) if can_write(actor, "tickets") else [],
        "error": None,
        "notice": None,
    }
    if changeable:
        assignees = list(selectors.ticket_assignee_choices(actor=actor))
        queues = list(selectors.queue_list(actor=actor).order_by("name"))
        context["assign_form"] = TicketAssignForm(
            initial={"assignee": str(ticket.assignee_id or "")}, assignees=assignees, auto_id="id_assign_%s"
        )
        context["properties_form"] = TicketPropertiesForm(
            initial={"priority": ticket.priority, "queue": ticket.queue_id}, queues=queues, auto_id="id_ticket_%s"
        )
    context.update(extra)
    return context


def _page_context(request: HttpRequest, ticket: Ticket, **extra: Any) -> dict[str, Any]:
    context = _header_context(request, ticket, **extra)
    context.update(
        {
            "customer_url": _url_or_none("customer:contact", ticket.contact_id) if ticket.contact_id else None,
            "conversation_url": _url_or_none("ticketconv:conversation", ticket.pk),
        }
    )
    return context


@login_required
@require_GET
def ticket_detail(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The ticket page: its state and SLA clocks, the customer, the conversation and the knowledge base."""
    ticket = _ticket_or_404(request, ticket_id)
    return _render(request, "service/ticket.html", _page_context(request, ticket))


@login_required
@require_GET
def ticket_header(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """The ticket page's header alone, refreshed after a reply moved the SLA clocks."""
    ticket = _ticket_or_404(request, ticket_id)
    return _render(request, "service/_ticket_header.html", _header_context(request, ticket))


Perform = Callable[[HttpRequest, Ticket, dict[str, forms.Form]], str]


def _ticket_action(request: HttpRequest, ticket_id: int, perform: Perform) -> HttpResponse:
    """Run one change on a ticket through its service and answer with the refreshed header (HTMX) or page.

    ``perform`` calls the service and returns the message that confirms the change; it puts the forms
    it bound in the dict it is given, so that validation errors show beside their fields.
    """
    ticket = _ticket_or_404(request, ticket_id)
    bound: dict[str, forms.Form] = {}
    try:
        require_write(request.user, "tickets")
        notice = perform(request, ticket, bound)
    except Forbidden as exc:
        return _forbidden(request, exc)
    except Conflict as exc:
        error, status = exc.reason, 409
    except ValidationFailed as exc:
        for form in bound.values():
            add_service_errors(form, exc, aliases={"assignee_id": "assignee"})
        error, status = _("The change was not saved: %(reason)s") % {"reason": exc}, 422 if is_htmx(request) else 200
    else:
        if not is_htmx(request):
            messages.success(request, notice)
            return HttpResponseRedirect(reverse("service:ticket", args=[ticket.pk]))
        ticket = _ticket_or_404(request, ticket.pk)
        return _render(request, "service/_ticket_header.html", _header_context(request, ticket, notice=notice))
    ticket = _ticket_or_404(request, ticket.pk)  # the service may have changed the instance before it refused
    if is_htmx(request):
        return _render(
            request, "service/_ticket_header.html", _header_context(request, ticket, error=error, **bound), status
        )
    return _render(request, "service/ticket.html", _page_context(request, ticket, error=error, **bound), status)


@login_required
@require_POST
def ticket_status(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Move a ticket to the status of the button pressed, if its workflow allows it."""

    def perform(request: HttpRequest, ticket: Ticket, bound: dict[str, forms.Form]) -> str:
        status = request.POST.get("status", "")
        ticket = services.ticket_set_status(actor=request.user, ticket=ticket, status=status)
        return _("The ticket is now %(status)s.") % {"status": status_label(ticket)}

    return _ticket_action(request, ticket_id, perform)


@login_required
@require_POST
def ticket_assign(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Assign a ticket to the signed-in user, to another agent, or to nobody."""

    def perform(request: HttpRequest, ticket: Ticket, bound: dict[str, forms.Form]) -> str:
        assignees = {user.pk: user for user in selectors.ticket_assignee_choices(actor=request.user)}
        form = TicketAssignForm(request.POST, assignees=assignees.values(), auto_id="id_assign_%s")
        bound["assign_form"] = form
        if not form.is_valid():
            raise ValidationFailed({name: "; ".join(errors) for name, errors in form.errors.items()})
        choice = form.cleaned_data["assignee"]
        assignee = request.user if choice == "me" else assignees[int(choice)] if choice else None
        ticket = services.ticket_update(actor=request.user, ticket=ticket, data={"assignee": assignee})
        if ticket.assignee is None:
            return _("The ticket is unassigned.")
        return _("The ticket is assigned to %(name)s.") % {
            "name": ticket.assignee.get_full_name() or ticket.assignee.username
        }

    return _ticket_action(request, ticket_id, perform)


@login_required
@require_POST
def ticket_update(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """Change a ticket's priority or queue (which recomputes its SLA due times)."""

    def perform(request: HttpRequest, ticket: Ticket, bound: dict[str, forms.Form]) -> str:
        queues = {queue.pk: queue for queue in selectors.queue_list(actor=request.user)}
        form = TicketPropertiesForm(request.POST, queues=queues.values(), auto_id="id_ticket_%s")
        bound["properties_form"] = form
        if not form.is_valid():
            raise ValidationFailed({name: "; ".join(errors) for name, errors in form.errors.items()})
        data: dict[str, Any] = {}
        if form.cleaned_data["priority"] != ticket.priority:
            data["priority"] = form.cleaned_data["priority"]
        queue_id = form.cleaned_data["queue"]
        if queue_id != ticket.queue_id:
            data["queue"] = queues[queue_id] if queue_id is not None else None
        services.ticket_update(actor=request.user, ticket=ticket, data=data)
        return _("The ticket is saved.")

    return _ticket_action(request, ticket_id, perform)


# ---- the knowledge base -------------------------------------------------------------------------------------


def _article_or_404(request: HttpRequest, article_id: int) -> Article:
    try:
        return selectors.article_get_for_actor(actor=request.user, article_id=article_id)
    except NotFound:
        raise Http404 from None


def _require_writer(request: HttpRequest) -> None:
    try:
        require_write(request.user, "articles")
    except NotFound:
        raise Http404 from None
    except Forbidden as exc:
        raise PermissionDenied(str(exc)) from None


@login_required
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    """The knowledge base: search by words, filter by language and FAQ; drafts only for those who write."""
    actor = request.user
    try:
        languages = selectors.article_languages(actor=actor)
    except NotFound:
        raise Http404 from None
    writer = can_write(actor, "articles")
    form = ArticleFilterForm(request.GET, languages=languages, writer=writer)
    form.is_valid()
    state = form.value("state") if writer else None
    faq = form.value("faq")
    q = (form.value("q") or "").strip()
    articles = selectors.article_list(
        actor=actor,
        q=q or None,
        language=form.value("language"),
        is_faq=None if faq is None else faq == "yes",
        published=None if state is None else state == "published",
    )
    ordering = form.value("ordering") or ("" if q else "newest")
    cursor = request.GET.get("cursor") or None
    cursor_error = False

    def page_of(cursor: str | None) -> Page:
        if not ordering:  # best match first: only with search words
            return selectors.article_page_by_relevance(articles, cursor=cursor, limit=ARTICLE_PAGE_SIZE)
        key, fields = ARTICLE_ORDERINGS[ordering]
        return paginate(articles, ordering_key=key, ordering=fields, cursor=cursor, limit=ARTICLE_PAGE_SIZE)

    try:
        page = page_of(cursor)
    except ValidationFailed:
        cursor_error = True
        page = page_of(None)
    params = request.GET.copy()
    for name in ("cursor", "fragment"):
        params.pop(name, None)
    context = {
        "form": form,
        "articles": page.items,
        "next_url": _with_cursor(request.GET, page.next_cursor),
        "first_page": not cursor or cursor_error,
        "first_url": "?" + params.urlencode(),
        "cursor_error": cursor_error,
        "can_write": writer,
        "searching": bool(q),
    }
    template = "service/_article_results.html" if wants_fragment(request) else "service/articles.html"
    return _render(request, template, context)


@login_required
@require_GET
def article_picker(request: HttpRequest) -> HttpResponse:
    """The published articles matching the words typed on a ticket page, to insert into a reply."""
    q = request.GET.get("q", "")[:200].strip()
    articles: list[Article] = []
    if q:
        try:
            found = selectors.article_list(actor=request.user, q=q, published=True)
        except NotFound:
            raise Http404 from None
        articles = selectors.article_page_by_relevance(found, cursor=None, limit=PICKER_SIZE).items
    items = [
        {"article": article, "url": request.build_absolute_uri(reverse("service:article", args=[article.pk]))}
        for article in articles
    ]
    # The insert buttons fill the reply form, shown to those who may answer on tickets.
    can_insert = can_write(request.user, "tickets") and can_write(request.user, "interactions")
    return _render(request, "service/_article_picker.html", {"items": items, "q": q, "can_insert": can_insert})


@login_required
@require_GET
def article_detail(request: HttpRequest, article_id: int) -> HttpResponse:
    """Read an article; those who write articles also edit, publish and unpublish it from here."""
    article = _article_or_404(request, article_id)
    return _render(
        request, "service/article.html", {"article": article, "can_write": can_write(request.user, "articles")}
    )


def _article_data(form: ArticleForm) -> dict[str, Any]:
    names = ("title", "body", "language", "category", "is_faq")
    return {name: form.cleaned_data[name] for name in names}


@login_required
def article_create(request: HttpRequest) -> HttpResponse:
    """Write a new article, a draft unless published at once."""
    _require_writer(request)
    language = (getattr(request.user, "language", "") or "en")[:8]
    form = ArticleForm(request.POST or None, creating=True, initial={"language": language})
    if request.method == "POST" and form.is_valid():
        try:
            article = services.article_create(
                actor=request.user, published=form.cleaned_data["published"], **_article_data(form)
            )
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from None
        else:
            messages.success(request, _("The article is saved."))
            return HttpResponseRedirect(reverse("service:article", args=[article.pk]))
    return _render(request, "service/article_form.html", {"form": form, "article": None})


@login_required
def article_edit(request: HttpRequest, article_id: int) -> HttpResponse:
    """Change an article's title, text, language, category or FAQ flag."""
    article = _article_or_404(request, article_id)
    _require_writer(request)
    initial = {name: getattr(article, name) for name in ("title", "body", "language", "category", "is_faq")}
    form = ArticleForm(request.POST or None, creating=False, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.article_update(actor=request.user, article=article, data=_article_data(form))
        except ValidationFailed as exc:
            add_service_errors(form, exc)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from None
        else:
            messages.success(request, _("The article is saved."))
            return HttpResponseRedirect(reverse("service:article", args=[article.pk]))
    return _render(request, "service/article_form.html", {"form": form, "article": article})


def _set_published(request: HttpRequest, article_id: int, *, published: bool) -> HttpResponse:
    article = _article_or_404(request, article_id)
    _require_writer(request)
    if published:
        services.article_publish(actor=request.user, article=article)
        messages.success(request, _("The article is published."))
    else:
        services.article_unpublish(actor=request.user, article=article)
        messages.success(request, _("The article is back to draft."))
    return HttpResponseRedirect(reverse("service:article", args=[article.pk]))


@login_required
@require_POST
def article_publish(request: HttpRequest, article_id: int) -> HttpResponse:
    """Publish an article: every role may read it from now on."""
    return _set_published(request, article_id, published=True)


@login_required
@require_POST
def article_unpublish(request: HttpRequest, article_id: int) -> HttpResponse:
    """Take an article back to draft."""
    return _set_published(request, article_id, published=False)
