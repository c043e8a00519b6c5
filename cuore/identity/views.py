"""Web pages of identity resolution: the duplicate review queue, merges and splits, sources, merging by hand.

Reads go through ``cuore.identity.selectors`` (a review pair is seen when both its contacts are, a merge
when the contact it kept is) and ``cuore.contacts.selectors``; writes through the identity services
(``review_accept``, ``review_reject``, ``source_update``) and ``cuore.identity.merging`` (merge, split,
undo). A merge or a split answers with a message holding an "Undo" button, so a wrong click costs one
more click. The contact page's "Sources" panel is ``templatetags/identity_tags.py``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cuore.contacts.models import Contact
from cuore.contacts.selectors import contact_get_for_actor, contact_search, contact_visible
from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cuore.core.htmx import is_htmx
from cuore.core.pagination import paginate
from cuore.core.visibility import can_write
from cuore.identity import merging, selectors, services
from cuore.identity.forms import ReasonForm, SourceForm, reason_in_language
from cuore.identity.models import MergeEvent, MergeKind, RecordKind, ReviewItem, ReviewStatus, Source
from cuore.identity.templatetags.identity_tags import merge_line

PAGE_SIZE = 50
SEARCH_RESULTS = 10
SEARCH_MIN_LENGTH = 2
MAX_ID = 2**63 - 1


# ---- helpers -------------------------------------------------------------------------------------


def _bounded(record_id: int) -> int:
    """An id from the path, or 404 when no database could hold it."""
    if not 0 < record_id <= MAX_ID:
        raise Http404
    return record_id


def _next(request: HttpRequest, default: str) -> str:
    """Where to go back to: the form's ``next`` when it is a page of this site, else ``default``."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return default


def _refused(request: HttpRequest, error: Exception, status: int, back: str | None = None) -> HttpResponse:
    """Answer a write the service refused (403 or 409) with its reason: a page, or the reason for HTMX."""
    reason = getattr(error, "reason", None) or str(error) or _("This action is not allowed.")
    reason = reason_in_language(reason)
    if is_htmx(request):
        response = HttpResponse(reason, status=status, content_type="text/plain; charset=utf-8")
        response["X-Cuore-Reason"] = quote(reason)
        return response
    context = {"reason": reason, "status": status, "back": back or reverse("identity:review")}
    return render(request, "identity/refused.html", context, status=status)


def _contact_url(contact_id: int) -> str:
    return reverse("customer:contact", args=[contact_id])


def _undo_message(request: HttpRequest, event: MergeEvent, text: str, back: str) -> None:
    """A success message with an "Undo" button that posts to ``merge_undo`` (the message is safe HTML)."""
    html = format_html(
        '{} <form method="post" action="{}" class="d-inline ms-2" data-testid="undo-message-form">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}"><input type="hidden" name="next" value="{}">'
        '<button type="submit" class="btn btn-sm btn-outline-secondary" data-testid="undo-message-button">'
        '<i class="bi bi-arrow-counterclockwise"></i> {}</button></form>',
        text,
        reverse("identity:merge_undo", args=[event.pk]),
        get_token(request),
        back,
        _("Undo"),
    )
    messages.success(request, html)


def _contact(request: HttpRequest, contact_id: int) -> Contact:
    try:
        return contact_get_for_actor(actor=request.user, contact_id=_bounded(contact_id))
    except NotFound:
        raise Http404 from None


def _side(request: HttpRequest, contact: Contact, highlight: int | None) -> dict[str, Any]:
    """One side of a pair (or of a merge): the contact with its points, addresses and source records."""
    records = selectors.contact_records(actor=request.user, contact=contact)
    points = list(contact.points.all())
    return {
        "contact": contact,
        "emails": [point for point in points if point.kind == "email"],
        "phones": [point for point in points if point.kind in ("phone", "mobile")],
        "addresses": list(contact.addresses.all()),
        "records": [record for record in records if record.kind == RecordKind.CONTACT],
        "highlight": highlight,
    }


# ---- the review queue ----------------------------------------------------------------------------


@login_required
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    """The open pairs that may be one person, the most likely first."""
    actor = request.user
    try:
        items = selectors.review_list(actor=actor, status=ReviewStatus.OPEN)
        page = paginate(
            items,
            ordering_key="-probability,id",
            ordering=("-probability", "id"),
            cursor=request.GET.get("cursor"),
            limit=PAGE_SIZE,
        )
    except (NotFound, ValidationFailed):  # a role that sees no identity data, or a cursor that is not ours
        raise Http404 from None
    contact_ids = {item.contact_id for item in page.items} | {item.candidate_id for item in page.items}
    names = selectors.contact_source_names(actor=actor, contact_ids=sorted(contact_ids))
    rows = [
        {
            "item": item,
            "contact_sources": names.get(item.contact_id, []),
            "candidate_sources": names.get(item.candidate_id, []),
        }
        for item in page.items
    ]
    return render(
        request,
        "identity/review.html",
        {
            "rows": rows,
            "next_cursor": page.next_cursor,
            "first_page": bool(request.GET.get("cursor")),
            "tab": "review",
        },
    )


def _item(request: HttpRequest, item_id: int) -> ReviewItem:
    try:
        return selectors.review_get_for_actor(actor=request.user, item_id=_bounded(item_id))
    except NotFound:
        raise Http404 from None


def _can_merge(actor: Any) -> bool:
    return can_write(actor, "identity") and can_write(actor, "contacts")


@login_required
@require_GET
def review_item(request: HttpRequest, item_id: int) -> HttpResponse:
    """A pair side by side — fields, emails and phones, addresses, source records — and why they match."""
    item = _item(request, item_id)
    left = _contact(request, item.contact_id)
    right = _contact(request, item.candidate_id)
    return render(
        request,
        "identity/review_item.html",
        {
            "item": item,
            "sides": [_side(request, left, item.record_id), _side(request, right, item.candidate_record_id)],
            "can_decide": item.status == ReviewStatus.OPEN and _can_merge(request.user),
            "form": ReasonForm(),
            "tab": "review",
        },
    )


@login_required
@require_POST
def review_accept(request: HttpRequest, item_id: int) -> HttpResponse:
    """Same person: merge the newer contact into the older one, then show the one kept with "Undo"."""
    item = _item(request, item_id)
    back = reverse("identity:review_item", args=[item.pk])
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    # The merge moves the question onto the contact kept: take the names and ids first.
    kept_id, merged_id = item.contact_id, item.candidate_id
    text = _("%(merged)s was merged into %(kept)s.") % {
        "merged": item.candidate.full_name,
        "kept": item.contact.full_name,
    }
    try:
        services.review_accept(actor=request.user, item=item, reason=reason)
    except Forbidden as error:
        return _refused(request, error, 403, back)
    except Conflict as error:
        return _refused(request, error, 409, back)
    event = (
        selectors.merge_list(actor=request.user, contact_id=kept_id)
        .filter(kind=MergeKind.MERGE, contact_id=kept_id, other_id=merged_id)
        .order_by("-id")
        .first()
    )
    kept = _contact_url(kept_id)
    if event is not None:
        _undo_message(request, event, text, kept)
    else:
        messages.success(request, text)
    return HttpResponseRedirect(kept)


@login_required
@require_POST
def review_reject(request: HttpRequest, item_id: int) -> HttpResponse:
    """Different people: close the question (it is not asked again) and go back to the queue."""
    item = _item(request, item_id)
    try:
        services.review_reject(actor=request.user, item=item)
    except Forbidden as error:
        return _refused(request, error, 403, reverse("identity:review_item", args=[item.pk]))
    except Conflict as error:
        return _refused(request, error, 409, reverse("identity:review_item", args=[item.pk]))
    messages.success(
        request,
        _("%(first)s and %(second)s are kept apart.")
        % {"first": item.contact.full_name, "second": item.candidate.full_name},
    )
    return HttpResponseRedirect(reverse("identity:review"))


# ---- merges and splits ---------------------------------------------------------------------------


@login_required
@require_GET
def merges(request: HttpRequest) -> HttpResponse:
    """Merges and splits, newest first: who, when, why, and "Undo"."""
    actor = request.user
    try:
        events = selectors.merge_list(actor=actor).select_related("contact")
        page = paginate(
            events, ordering_key="-id", ordering=("-id",), cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except (NotFound, ValidationFailed):
        raise Http404 from None
    others = {event.other_id for event in page.items}
    present = set(contact_visible(actor=actor).filter(pk__in=others).values_list("pk", flat=True))
    lines = []
    for event in page.items:
        line = merge_line(event)
        line["other_present"] = event.other_id in present
        lines.append(line)
    return render(
        request,
        "identity/merges.html",
        {
            "lines": lines,
            "next_cursor": page.next_cursor,
            "first_page": bool(request.GET.get("cursor")),
            "can_undo": can_write(actor, "contacts"),
            "tab": "merges",
        },
    )


@login_required
@require_POST
def merge_undo(request: HttpRequest, event_id: int) -> HttpResponse:
    """Undo a merge (the contact merged away comes back) or a split (the record goes back)."""
    try:
        event = selectors.merge_get_for_actor(actor=request.user, event_id=_bounded(event_id))
    except NotFound:
        raise Http404 from None
    back = _next(request, reverse("identity:merges"))
    try:
        merging.merge_undo(actor=request.user, event=event)
    except Forbidden as error:
        return _refused(request, error, 403, back)
    except Conflict as error:
        return _refused(request, error, 409, back)
    if event.kind == MergeKind.MERGE:
        name = merge_line(event)["other_name"]
        messages.success(request, _("Undone: %(name)s is a contact of their own again.") % {"name": name})
        return HttpResponseRedirect(back)
    messages.success(request, _("Undone: the record is back on its contact."))
    # The contact the split created may be gone: go to the one it was split from.
    if event.contact_id and back.startswith(_contact_url(event.other_id)):
        back = _contact_url(event.contact_id)
    return HttpResponseRedirect(back)


@login_required
@require_POST
def record_split(request: HttpRequest, record_id: int) -> HttpResponse:
    """Take a source record off its contact into a new contact, with the history imported under it."""
    try:
        record = selectors.record_get_for_actor(actor=request.user, record_id=_bounded(record_id))
    except NotFound:
        raise Http404 from None
    back = _contact_url(record.contact_id) if record.contact_id else reverse("identity:merges")
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        event = merging.record_split(actor=request.user, record=record, reason=reason)
    except Forbidden as error:
        return _refused(request, error, 403, back)
    except Conflict as error:
        return _refused(request, error, 409, back)
    text = _("The record %(record)s is now a contact of its own.") % {
        "record": f"{record.source.name}: {record.source_key}"
    }
    _undo_message(request, event, text, back)
    return HttpResponseRedirect(back)


# ---- merging two contacts by hand ----------------------------------------------------------------


def _search(actor: Any, contact: Contact, q: str) -> list[Contact]:
    if len(q.strip()) < SEARCH_MIN_LENGTH:
        return []
    found = (
        contact_search(contact_visible(actor=actor), q)
        .exclude(pk=contact.pk)
        .select_related("owner")
        .prefetch_related("points")
        .order_by("last_name_key", "first_name_key", "id")
    )
    return list(found[:SEARCH_RESULTS])


def _other_id(value: str | None) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 19) or not 0 < int(value) <= MAX_ID:
        raise Http404
    return int(value)


@login_required
@require_http_methods(["GET", "POST"])
def contact_merge(request: HttpRequest, contact_id: int) -> HttpResponse:
    """Merge another contact into this one: find it, check both side by side, confirm."""
    actor = request.user
    contact = _contact(request, contact_id)
    back = _contact_url(contact.pk)
    if not can_write(actor, "contacts"):
        return _refused(request, Forbidden(_("Your role may not merge contacts.")), 403, back)
    q = request.GET.get("q", "")
    if request.method == "GET" and is_htmx(request):
        results = _search(actor, contact, q)
        return render(request, "identity/_merge_results.html", {"contact": contact, "results": results, "q": q})
    source = request.POST if request.method == "POST" else request.GET
    other_id = _other_id(source.get("other"))
    other = _contact(request, other_id) if other_id is not None else None
    form = ReasonForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if other is None:
            raise Http404
        if form.is_valid():
            try:
                event = merging.contacts_merge(
                    actor=actor, survivor=contact, other=other, reason=form.cleaned_data["reason"]
                )
            except ValidationFailed as error:
                form.add_service_errors(error)
                status = 422 if is_htmx(request) else 200
            except Forbidden as error:
                return _refused(request, error, 403, back)
            except Conflict as error:
                return _refused(request, error, 409, back)
            else:
                text = _("%(merged)s was merged into %(kept)s.") % {
                    "merged": other.full_name,
                    "kept": contact.full_name,
                }
                _undo_message(request, event, text, back)
                return HttpResponseRedirect(back)
    context: dict[str, Any] = {
        "contact": contact,
        "other": other,
        "q": q,
        "results": _search(actor, contact, q) if other is None else [],
        "form": form,
    }
    if other is not None:
        context["sides"] = [_side(request, contact, None), _side(request, other, None)]
    return render(request, "identity/merge.html", context, status=status)


# ---- sources -----------------------------------------------------------------------------------------


def _source_row(source: Source, counts: dict[int, dict[str, int]], form: SourceForm | None = None) -> dict[str, Any]:
    if form is None:
        form = SourceForm(initial={"label": source.label, "trust": source.trust}, prefix=f"source-{source.pk}")
    return {"source": source, "counts": counts.get(source.pk, {}), "form": form}


@login_required
@require_GET
def sources(request: HttpRequest) -> HttpResponse:
    """The systems records come from: label, trust (survivorship prefers the most trusted), record counts."""
    return _sources_page(request)


def _sources_page(request: HttpRequest, bound: tuple[int, SourceForm] | None = None) -> HttpResponse:
    actor = request.user
    try:
        listed = list(selectors.source_list(actor=actor))
    except NotFound:
        raise Http404 from None
    counts = selectors.source_record_counts(actor=actor)
    rows = [_source_row(source, counts, bound[1] if bound and bound[0] == source.pk else None) for source in listed]
    context = {"rows": rows, "can_edit": can_write(actor, "identity"), "tab": "sources"}
    return render(request, "identity/sources.html", context)


@login_required
@require_POST
def source_update(request: HttpRequest, source_id: int) -> HttpResponse:
    """Change a source's label and trust (0–100)."""
    actor = request.user
    try:
        source = selectors.source_get_for_actor(actor=actor, source_id=_bounded(source_id))
    except NotFound:
        raise Http404 from None
    back = reverse("identity:sources")
    if not can_write(actor, "identity"):
        return _refused(request, Forbidden(_("Your role may not change sources.")), 403, back)
    form = SourceForm(request.POST, prefix=f"source-{source.pk}")
    if form.is_valid():
        try:
            source = services.source_update(
                actor=actor, source=source, label=form.cleaned_data["label"], trust=form.cleaned_data["trust"]
            )
        except ValidationFailed as error:
            form.add_service_errors(error)
        except Forbidden as error:
            return _refused(request, error, 403, back)
    if is_htmx(request):
        counts = selectors.source_record_counts(actor=actor)
        row = _source_row(source, counts, form if form.errors else None)
        context = {"row": row, "can_edit": True, "saved": not form.errors}
        return render(request, "identity/_source_row.html", context, status=422 if form.errors else 200)
    if form.errors:
        return _sources_page(request, bound=(source.pk, form))
    messages.success(request, _("Source %(name)s saved.") % {"name": source.name})
    return HttpResponseRedirect(back)
