"""Web pages of contacts and accounts: their lists, with filters, columns, saved views and bulk actions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cuore.contacts import selectors, services
from cuore.contacts.forms import AccountFilterForm, ContactFilterForm
from cuore.contacts.models import Account, Contact, LifecycleStage
from cuore.core.errors import Forbidden, NotFound, ValidationFailed
from cuore.core.lists import (
    Column,
    ListSpec,
    export_response,
    list_context,
    list_page,
    render_list,
    selected_ids,
    value_of,
)
from cuore.core.visibility import Scope, can_write, read_scope, require_read
from cuore.users.selectors import user_list

STAGES = dict(LifecycleStage.choices)

# ---- the scores' badges ----------------------------------------------------------------------------
# The analytics app scores the customers (RFM segment, ABC class, value tier) in a one-to-one table
# named "score" from each contact and account. It sits above contacts in the layers, so the lists
# never import it: they read its three columns by the relation's name, in the page's own query (a
# LEFT JOIN, no query per row), and the cell is a template of the analytics app (analytics/_cell_badges.html).
SCORE_FIELDS = {
    "score_segment": "score__rfm_segment",
    "score_abc": "score__abc_class",
    "score_tier": "score__value_tier",
}


def _score_column() -> Column:
    return Column(
        "value_badges",
        gettext_lazy("Value"),
        template="analytics/_cell_badges.html",
        export=lambda row: _score_text(value_of(row, "value_badges")),
    )


def _score_labels(model) -> dict[str, dict[str, str]]:
    """The labels of the segment, class and tier, from the scores model reached through ``model.score``."""
    try:
        scores = model._meta.get_field("score").related_model
    except FieldDoesNotExist:  # the analytics app is not installed
        return {}
    return {
        name: {str(key): str(label) for key, label in scores._meta.get_field(name).choices}
        for name in ("rfm_segment", "abc_class", "value_tier")
    }


def _score_text(badges: tuple[str | None, ...] | None) -> str:
    """The CSV cell of the badges: the segment, class and tier by their labels."""
    if not badges:
        return ""
    labels = _score_labels(Contact)
    names = ("rfm_segment", "abc_class", "value_tier")
    return " · ".join(
        labels.get(name, {}).get(value, value) for name, value in zip(names, badges, strict=True) if value
    )


def _scores_shown(request: HttpRequest, spec: ListSpec, model, resource: str) -> bool:
    """Whether the list reads the scores: the column is chosen and the user sees the scores of its rows.

    The scores follow the customers one may see (all, or the team's as for the list itself).
    """
    if "value_badges" not in {column.key for column in spec.chosen_columns(request.GET)}:
        return False
    try:
        model._meta.get_field("score")
    except FieldDoesNotExist:  # the analytics app is not installed
        return False
    scope = read_scope(request.user, "analytics")
    return scope is Scope.ALL or (scope is Scope.TEAM and read_scope(request.user, resource) is Scope.TEAM)


def _with_scores(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(**{name: F(path) for name, path in SCORE_FIELDS.items()})


CONTACTS = ListSpec(
    name="contacts",
    columns=(
        Column("full_name", gettext_lazy("Name"), sort="name", template="contacts/_cell_contact.html"),
        Column("email", gettext_lazy("Email")),
        Column("phone", gettext_lazy("Phone")),
        Column(
            "lifecycle_stage",
            gettext_lazy("Stage"),
            export=lambda row: row["lifecycle_stage"],
            template="contacts/_cell_stage.html",
        ),
        _score_column(),
        Column("owner_name", gettext_lazy("Owner")),
        Column(
            "tags", gettext_lazy("Tags"), template="contacts/_cell_tags.html", export=lambda row: ", ".join(row["tags"])
        ),
        Column("title", gettext_lazy("Job title"), default=False),
        Column("created_at", gettext_lazy("Created"), sort="-id", default=False, template="contacts/_cell_date.html"),
        Column("updated_at", gettext_lazy("Updated"), sort="-updated", template="contacts/_cell_date.html"),
    ),
    orderings={
        "-id": ("-id",),
        "id": ("id",),
        "name": ("last_name_key", "first_name_key", "id"),
        "-name": ("-last_name_key", "-first_name_key", "-id"),
        "-updated": ("-updated_at", "-id"),
        "updated": ("updated_at", "id"),
    },
    default_ordering="-id",
)

ACCOUNTS = ListSpec(
    name="accounts",
    columns=(
        Column("name", gettext_lazy("Name"), sort="name", template="contacts/_cell_account.html"),
        Column("vat_number", gettext_lazy("VAT number")),
        Column("industry", gettext_lazy("Industry")),
        Column("size", gettext_lazy("Size"), default=False),
        Column("owner_name", gettext_lazy("Owner")),
        Column("email", gettext_lazy("Email"), default=False),
        Column("phone", gettext_lazy("Phone"), default=False),
        Column("website", gettext_lazy("Website"), default=False),
        Column(
            "tag_names",
            gettext_lazy("Tags"),
            template="contacts/_cell_tags.html",
            export=lambda row: ", ".join(row.tag_names),
        ),
        _score_column(),
        Column("updated_at", gettext_lazy("Updated"), sort="-updated", template="contacts/_cell_date.html"),
    ),
    orderings={
        "-id": ("-id",),
        "id": ("id",),
        "name": ("name_key", "id"),
        "-name": ("-name_key", "-id"),
        "-updated": ("-updated_at", "-id"),
    },
    default_ordering="name",
)


def _badges(row: dict[str, Any]) -> tuple[str | None, ...] | None:
    """The row's segment, class and tier (None when the customer was never scored)."""
    values = tuple(row.get(name) for name in SCORE_FIELDS)
    return values if any(values) else None


def _people(actor: Any) -> list[Any]:
    """The users who can own records, for the owner filter and the assign action."""
    return [u for u in user_list(actor=actor).filter(is_active=True) if u.role in ("admin", "manager", "sales")]


def _names(people: list[Any]) -> dict[int, str]:
    return {u.pk: u.get_full_name() or u.username for u in people}


@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    try:
        require_read(request.user, "contacts")
    except NotFound:
        raise Http404 from None
    people = _people(request.user)
    tags = list(selectors.tag_list(actor=request.user))
    form = ContactFilterForm(request.GET or None, owners=people, tags=tags)
    filters = form.cleaned_data if form.is_valid() else {}
    contacts = selectors.contact_list(
        actor=request.user,
        q=filters.get("q") or None,
        owner_id=filters.get("owner"),
        lifecycle_stage=filters.get("lifecycle_stage") or None,
        tag=filters.get("tag") or None,
    )
    scores = _scores_shown(request, CONTACTS, Contact, "contacts")
    if scores:
        contacts = _with_scores(contacts)
    contacts = contacts.values(*selectors.CONTACT_ROW_FIELDS, *(SCORE_FIELDS if scores else ()))
    names = _names(people)

    def rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = selectors.contact_rows(items)
        for row in rows:
            row["owner_name"] = names.get(row["owner_id"], "")
            row["stage_label"] = STAGES.get(row["lifecycle_stage"], row["lifecycle_stage"])
            row["value_badges"] = _badges(row) if scores else None
        return rows

    if request.GET.get("export") == "csv":
        return export_response(CONTACTS, contacts, request.GET, filename="contacts.csv", to_rows=rows)
    page = list_page(request, CONTACTS, contacts, to_rows=rows)
    writable = can_write(request.user, "contacts")
    context = {
        "form": form,
        "title": _("Contacts"),
        "people": people,
        "tags": tags,
        **list_context(
            request,
            page,
            bulk_url=reverse("contacts:bulk") if writable else "",
            bulk_template="contacts/_bulk.html" if writable else "",
        ),
    }
    return render_list(request, "contacts/list.html", context)


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    try:
        require_read(request.user, "accounts")
    except NotFound:
        raise Http404 from None
    people = _people(request.user)
    tags = list(selectors.tag_list(actor=request.user))
    form = AccountFilterForm(request.GET or None, owners=people, tags=tags)
    filters = form.cleaned_data if form.is_valid() else {}
    accounts = selectors.account_list(
        actor=request.user,
        q=filters.get("q") or None,
        owner_id=filters.get("owner"),
        industry=filters.get("industry") or None,
        tag=filters.get("tag") or None,
    )
    scores = _scores_shown(request, ACCOUNTS, Account, "accounts")
    if scores:
        accounts = _with_scores(accounts)
    names = _names(people)

    def rows(items: list[Any]) -> list[Any]:
        for account in items:
            account.owner_name = names.get(account.owner_id, "")
            account.tag_names = [tag.name for tag in account.tags.all()]
            account.value_badges = _badges(vars(account)) if scores else None
        return items

    if request.GET.get("export") == "csv":
        return export_response(ACCOUNTS, accounts, request.GET, filename="accounts.csv", to_rows=rows)
    page = list_page(request, ACCOUNTS, accounts, to_rows=rows)
    writable = can_write(request.user, "accounts")
    context = {
        "form": form,
        "title": _("Accounts"),
        "people": people,
        "tags": tags,
        **list_context(
            request,
            page,
            bulk_url=reverse("contacts:accounts_bulk") if writable else "",
            bulk_template="contacts/_bulk.html" if writable else "",
        ),
    }
    return render_list(request, "contacts/list.html", context)


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = fallback
    return HttpResponseRedirect(target)


def _bulk(request: HttpRequest, *, resource: str, visible, fallback: str) -> HttpResponse:
    """Apply a bulk action to the selected rows the user may see and change; report what happened."""
    actor = request.user
    if not can_write(actor, resource):
        try:
            require_read(actor, resource)
        except NotFound:
            raise Http404 from None
        return HttpResponseForbidden(_("Your role may not change these records."))
    try:
        ids = selected_ids(request.POST.getlist("ids"))
        action = request.POST.get("action", "")
        records = list(visible(actor=actor).filter(pk__in=ids))
        if action == "assign_owner":
            owner_id = request.POST.get("owner", "")
            owner = next((u for u in _people(actor) if str(u.pk) == owner_id), None)
            if owner is None:
                raise ValidationFailed(field="owner", reason=_("choose an owner"))
            update = services.contact_update if resource == "contacts" else services.account_update
            for record in records:
                if resource == "contacts":
                    update(actor=actor, contact=record, data={"owner": owner})
                else:
                    update(actor=actor, account=record, data={"owner": owner})
            messages.success(
                request,
                _("%(count)d records assigned to %(name)s.")
                % {"count": len(records), "name": owner.get_full_name() or owner.username},
            )
        elif action == "add_tag":
            tag_id = request.POST.get("tag", "")
            tag = next((t for t in selectors.tag_list(actor=actor) if str(t.pk) == tag_id), None)
            if tag is None:
                raise ValidationFailed(field="tag", reason=_("choose a tag"))
            for record in records:
                services.tag_attach(actor=actor, target=record, tag=tag)
            messages.success(
                request, _("Tag %(tag)s added to %(count)d records.") % {"tag": tag.name, "count": len(records)}
            )
        else:
            raise ValidationFailed(field="action", reason=_("choose an action"))
        if len(records) < len(ids):
            messages.warning(
                request, _("%(count)d selected records were not found.") % {"count": len(ids) - len(records)}
            )
    except ValidationFailed as exc:
        messages.error(request, "; ".join(str(reason) for reason in exc.errors.values()))
    except Forbidden as exc:
        return HttpResponseForbidden(str(exc))
    return _back(request, fallback)


@login_required
@require_POST
def contact_bulk(request: HttpRequest) -> HttpResponse:
    return _bulk(request, resource="contacts", visible=selectors.contact_visible, fallback=reverse("contacts:list"))


@login_required
@require_POST
def account_bulk(request: HttpRequest) -> HttpResponse:
    return _bulk(request, resource="accounts", visible=selectors.account_visible, fallback=reverse("contacts:accounts"))
