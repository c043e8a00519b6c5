"""Reads on accounts, contacts, their points, addresses, tags and consents, scoped to the actor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from cuore.contacts.models import (
    Account,
    Address,
    ConsentEvent,
    Contact,
    ContactAccount,
    ContactPoint,
    PointKind,
    Tag,
)
from cuore.core.errors import NotFound
from cuore.core.months import aggregate_by_month, recent_month_starts
from cuore.core.normalize import phone_search_key, text_key, vat_normalize
from cuore.core.pagination import prefix_q
from cuore.core.visibility import require_read, scope_queryset


def account_visible(*, actor: Any) -> QuerySet[Account]:
    """Every account ``actor`` may see, unordered and without related data."""
    return scope_queryset(Account.objects.all(), actor=actor, resource="accounts", through_index=False)


def contact_visible(*, actor: Any) -> QuerySet[Contact]:
    """Every contact ``actor`` may see, unordered and without related data."""
    return scope_queryset(Contact.objects.all(), actor=actor, resource="contacts", through_index=False)


def account_get_for_actor(*, actor: Any, account_id: int) -> Account:
    """Return the account or raise ``NotFound`` if it does not exist or ``actor`` may not see it."""
    # "score" is the analytics app's one-to-one AccountScore, reached by its name: contacts may not import
    # cuore.analytics (a layer above). One LEFT JOIN, so the API shows the scores without another query.
    account = account_visible(actor=actor).select_related("owner", "team", "score").filter(pk=account_id).first()
    if account is None:
        raise NotFound("account")
    return account


def contact_get_for_actor(*, actor: Any, contact_id: int) -> Contact:
    """Return the contact with its points, addresses, accounts and tags, or raise ``NotFound``."""
    contact = (
        contact_visible(actor=actor)
        # "score": the analytics app's one-to-one ContactScore, by name (see account_get_for_actor).
        .select_related("owner", "team", "score")
        .prefetch_related(
            Prefetch("points", queryset=ContactPoint.objects.order_by("kind", "-is_primary", "id")),
            Prefetch("addresses", queryset=Address.objects.order_by("-is_primary", "id")),
            Prefetch(
                "account_links", queryset=ContactAccount.objects.select_related("account").order_by("-is_primary", "id")
            ),
            "tags",
        )
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise NotFound("contact")
    return contact


# What a row of a contact list shows, besides the primary email, phone and tags that ``contact_rows`` adds.
CONTACT_ROW_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "title",
    "lifecycle_stage",
    "owner_id",
    "team_id",
    "created_at",
    "updated_at",
    "first_name_key",
    "last_name_key",
)


def contact_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Complete a page of ``contacts.values(*CONTACT_ROW_FIELDS)`` rows, in two queries for the whole page.

    Each row gets ``full_name``, its primary (else first) ``email`` and ``phone`` (mobile or landline)
    and its ``tags`` by name. Plain rows instead of model instances keep a 50-row page to a few ms.
    """
    ids = [row["id"] for row in rows]
    emails: dict[int, str] = {}
    phones: dict[int, str] = {}
    points = (
        ContactPoint.objects.filter(contact_id__in=ids, kind__in=[PointKind.EMAIL, PointKind.PHONE, PointKind.MOBILE])
        .order_by("-is_primary", "id")
        .values_list("contact_id", "kind", "value")
    )
    for contact_id, kind, value in points:
        (emails if kind == PointKind.EMAIL else phones).setdefault(contact_id, value)
    tags: dict[int, list[str]] = {}
    links = Contact.tags.through.objects.filter(contact_id__in=ids).order_by("tag__name")
    for contact_id, name in links.values_list("contact_id", "tag__name"):
        tags.setdefault(contact_id, []).append(name)
    for row in rows:
        contact_id = row["id"]
        row["full_name"] = f"{row['first_name']} {row['last_name']}".strip()
        row["email"] = emails.get(contact_id)
        row["phone"] = phones.get(contact_id)
        row["tags"] = tags.get(contact_id, [])
    return rows


def contact_list(
    *,
    actor: Any,
    q: str | None = None,
    owner_id: int | None = None,
    team_id: int | None = None,
    lifecycle_stage: str | None = None,
    tag: str | None = None,
    account_id: int | None = None,
) -> QuerySet[Contact]:
    """Return the contacts ``actor`` may see that match the filters (rows for a list: ``contact_rows``)."""
    contacts = contact_visible(actor=actor)
    if owner_id is not None:
        contacts = contacts.filter(owner_id=owner_id)
    if team_id is not None:
        contacts = contacts.filter(team_id=team_id)
    if lifecycle_stage:
        contacts = contacts.filter(lifecycle_stage=lifecycle_stage)
    if tag:
        contacts = contacts.filter(tags__name=tag)
    if account_id is not None:
        contacts = contacts.filter(account_links__account_id=account_id)
    if q:
        contacts = contact_search(contacts, q)
    return contacts


def contact_search(contacts: QuerySet[Contact], q: str) -> QuerySet[Contact]:
    """Narrow ``contacts`` to those whose email, phone or name starts with what the user typed."""
    text = q.strip()
    if "@" in text:
        points = ContactPoint.objects.filter(prefix_q("value_normalized", text.lower()), kind=PointKind.EMAIL)
        return contacts.filter(pk__in=points.values("contact_id"))
    digits = sum(ch.isdigit() for ch in text)
    if digits >= 4 and digits >= len(text.replace(" ", "")) - 2:
        key = phone_search_key(text)
        if key:
            points = ContactPoint.objects.filter(
                prefix_q("value_normalized", key), kind__in=[PointKind.PHONE, PointKind.MOBILE]
            )
            return contacts.filter(pk__in=points.values("contact_id"))
    words = text_key(text).split()
    if not words:
        return contacts.none()
    if len(words) == 1:
        return contacts.filter(prefix_q("last_name_key", words[0]) | prefix_q("first_name_key", words[0]))
    first, rest = words[0], " ".join(words[1:])
    # "Mario Rossi" or "Rossi Mario": either order of given and family name.
    return contacts.filter(
        (prefix_q("first_name_key", first) & prefix_q("last_name_key", rest))
        | (prefix_q("last_name_key", first) & prefix_q("first_name_key", rest))
        | prefix_q("last_name_key", " ".join(words))
    )


def account_list(
    *,
    actor: Any,
    q: str | None = None,
    owner_id: int | None = None,
    team_id: int | None = None,
    industry: str | None = None,
    tag: str | None = None,
) -> QuerySet[Account]:
    """Return the accounts ``actor`` may see that match the filters."""
    require_read(actor, "accounts")
    accounts = account_visible(actor=actor).select_related("owner").prefetch_related("tags")
    if owner_id is not None:
        accounts = accounts.filter(owner_id=owner_id)
    if team_id is not None:
        accounts = accounts.filter(team_id=team_id)
    if industry:
        accounts = accounts.filter(industry=industry)
    if tag:
        accounts = accounts.filter(tags__name=tag)
    if q:
        accounts = account_search(accounts, q)
    return accounts


def account_search(accounts: QuerySet[Account], q: str) -> QuerySet[Account]:
    """Narrow ``accounts`` to those whose VAT number or name starts with what the user typed."""
    text = q.strip()
    compact = text.replace(" ", "").upper()
    if sum(ch.isdigit() for ch in compact) >= 4:
        try:
            vat = vat_normalize(compact)
        except ValueError:
            vat = compact if compact[:2].isalpha() else "IT" + compact
        return accounts.filter(prefix_q("vat_number", vat))
    key = text_key(text)
    if not key:
        return accounts.none()
    return accounts.filter(prefix_q("name_key", key))


def contact_points(*, contact: Contact) -> QuerySet[ContactPoint]:
    return ContactPoint.objects.filter(contact=contact).order_by("kind", "-is_primary", "id")


def contact_point_get(*, contact: Contact, point_id: int) -> ContactPoint:
    point = ContactPoint.objects.filter(contact=contact, pk=point_id).first()
    if point is None:
        raise NotFound("contact point")
    return point


def address_get(*, owner: Contact | Account, address_id: int) -> Address:
    field = "contact" if isinstance(owner, Contact) else "account"
    address = Address.objects.filter(**{field: owner}, pk=address_id).first()
    if address is None:
        raise NotFound("address")
    return address


def account_addresses(*, account: Account) -> QuerySet[Address]:
    return Address.objects.filter(account=account).order_by("-is_primary", "id")


def tag_list(*, actor: Any) -> QuerySet[Tag]:
    require_read(actor, "tags")
    return Tag.objects.all()


def tag_get_for_actor(*, actor: Any, tag_id: int) -> Tag:
    require_read(actor, "tags")
    tag = Tag.objects.filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("tag")
    return tag


def consent_events(*, actor: Any, contact: Contact) -> QuerySet[ConsentEvent]:
    """The consent ledger of a contact the actor can see, newest first."""
    require_read(actor, "consents", "consent")
    return ConsentEvent.objects.filter(contact=contact).order_by("-occurred_at", "-id")


def consent_state(*, actor: Any, contact: Contact) -> list[ConsentEvent]:
    """The current consent per purpose × channel: the latest ledger entry of each pair."""
    return consent_state_from_events(list(consent_events(actor=actor, contact=contact)))


def consent_state_from_events(events: list[ConsentEvent]) -> list[ConsentEvent]:
    """Reduce a ledger ordered newest first to its latest entry per purpose × channel."""
    latest: dict[tuple[str, str], ConsentEvent] = {}
    for event in events:
        latest.setdefault((event.purpose, event.channel), event)
    return sorted(latest.values(), key=lambda e: (e.purpose, e.channel))


# ---- dashboard aggregations ----------------------------------------------------------------------


@dataclass(frozen=True)
class MonthCount:
    """How many records fell in one month."""

    month: dt.date
    count: int


def contacts_created_by_month(*, actor: Any, months: int = 12, now: dt.datetime | None = None) -> list[MonthCount]:
    """Return how many contacts ``actor`` may see were created in each of the last ``months`` months.

    One query (``aggregate_by_month``) of range counts on the creation-time index; months without new
    contacts count zero.
    """
    require_read(actor, "contacts")
    starts = recent_month_starts(months=months, now=now)
    rows = aggregate_by_month(contact_visible(actor=actor), field="created_at", months=starts, count=Count("id"))
    return [MonthCount(month=month, count=rows[month]["count"] if month in rows else 0) for month in starts]
