"""Reads on interactions and conversations, and the customer timeline across every channel."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from cuore.contacts.models import Account, Contact
from cuore.contacts.selectors import contact_visible
from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.visibility import Scope, read_scope, require_read, scope_queryset
from cuore.interactions.models import Conversation, Interaction
from cuore.orders.models import Order
from cuore.sales.models import DealStageChange, DealStatus
from cuore.service.models import Ticket

OWNER_PATHS = ("contact__owner", "account__owner", "user")
TEAM_PATHS = ("contact__team", "account__team")


def interaction_visible(*, actor: Any) -> QuerySet[Interaction]:
    """Every interaction ``actor`` may see: through its contact or account, or because they logged it."""
    return scope_queryset(
        Interaction.objects.all(),
        actor=actor,
        resource="interactions",
        owner_paths=OWNER_PATHS,
        team_paths=TEAM_PATHS,
    )


def interaction_list(
    *,
    actor: Any,
    contact_id: int | None = None,
    account_id: int | None = None,
    channel: str | None = None,
    direction: str | None = None,
    ticket_id: int | None = None,
    deal_id: int | None = None,
    order_id: int | None = None,
    conversation_id: int | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> QuerySet[Interaction]:
    """Return the interactions ``actor`` may see that match the filters."""
    require_read(actor, "interactions")
    if contact_id is not None:
        # A visible contact's whole history is visible; checking the contact once spares a join per row.
        contact_for_actor(actor=actor, contact_id=contact_id)
        interactions = Interaction.objects.filter(contact_id=contact_id)
    else:
        interactions = interaction_visible(actor=actor)
    filters = {
        "account_id": account_id,
        "channel": channel,
        "direction": direction,
        "ticket_id": ticket_id,
        "deal_id": deal_id,
        "order_id": order_id,
        "conversation_id": conversation_id,
        "occurred_at__gte": since,
        "occurred_at__lt": until,
    }
    return interactions.filter(**{k: v for k, v in filters.items() if v is not None}).select_related("user")


def contact_for_actor(*, actor: Any, contact_id: int) -> Contact:
    """Return a contact whose history ``actor`` may read, or raise ``NotFound``."""
    require_read(actor, "interactions", "contact")
    contact = contact_visible(actor=actor).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("contact")
    return contact


def timeline_contact_for_actor(*, actor: Any, contact_id: int) -> Contact:
    """Return a contact ``actor`` may see, for its timeline (which shows what the actor's role may read)."""
    require_read(actor, "contacts", "contact")
    contact = contact_visible(actor=actor).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("contact")
    return contact


def interaction_get_for_actor(*, actor: Any, interaction_id: int) -> Interaction:
    interaction = interaction_visible(actor=actor).select_related("user").filter(pk=interaction_id).first()
    if interaction is None:
        raise NotFound("interaction")
    return interaction


def interaction_find_external(*, source: str, external_id: str) -> Interaction | None:
    return Interaction.objects.filter(source=source, external_id=external_id).first()


def conversation_list(*, actor: Any, contact_id: int | None = None) -> QuerySet[Conversation]:
    require_read(actor, "interactions")
    if contact_id is not None:
        contact_for_actor(actor=actor, contact_id=contact_id)
        return Conversation.objects.filter(contact_id=contact_id)
    return scope_queryset(
        Conversation.objects.all(),
        actor=actor,
        resource="interactions",
        owner_paths=("contact__owner",),
        team_paths=("contact__team",),
    )


def conversation_get_for_actor(*, actor: Any, conversation_id: int) -> Conversation:
    conversation = conversation_list(actor=actor).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("conversation")
    return conversation


# ---- the timeline ----------------------------------------------------------------------------------

TIMELINE_KINDS = ("interaction", "order", "ticket", "deal")


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # interaction, order, ticket, deal
    id: int
    at: dt.datetime
    channel: str
    title: str
    detail: str
    object_id: int
    # What a page shows beside the title (the API answers the fields above only).
    direction: str = ""  # interactions: in or out
    body: str = ""  # interactions: the start of the body
    author: str = ""  # interactions: who logged it
    status: str = ""  # orders, tickets, deals: the status's label in the active language
    stage: str = ""  # deals: the stage moved to
    amount: Decimal | None = None  # orders: the total
    currency: str = ""


def _encode(at: dt.datetime, kind: str, row_id: int) -> str:
    raw = json.dumps([at.isoformat(), kind, row_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[dt.datetime, str, int]:
    try:
        at_text, kind, row_id = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        at = parse_datetime(at_text)
        if at is None or kind not in TIMELINE_KINDS or not isinstance(row_id, int):
            raise ValueError
        return at, kind, row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(field="cursor", reason="is not a valid timeline cursor") from None


def _before(field: str, kind: str, cursor: tuple[dt.datetime, str, int] | None, id_field: str = "id") -> Q:
    """Rows strictly before the cursor in (time desc, kind desc, id desc) order."""
    if cursor is None:
        return Q()
    at, cursor_kind, row_id = cursor
    if kind < cursor_kind:
        return Q(**{f"{field}__lte": at})
    if kind > cursor_kind:
        return Q(**{f"{field}__lt": at})
    return Q(**{f"{field}__lt": at}) | Q(**{field: at, f"{id_field}__lt": row_id})


def contact_timeline(
    *, actor: Any, contact: Contact, channels: set[str] | None = None, cursor: str | None = None, limit: int = 30
) -> tuple[list[TimelineEntry], str | None]:
    """Merge a contact's interactions, orders, tickets and deal changes, newest first, one page at a time.

    ``channels`` filters by channel; orders count as channel ``order``, tickets ``ticket``, deals ``deal``.
    Each source contributes at most ``limit`` rows before the cursor, so a page costs four indexed queries.
    """
    return _timeline(
        actor=actor,
        interactions=Interaction.objects.filter(contact=contact),
        orders=Order.objects.filter(contact=contact),
        tickets=Ticket.objects.filter(contact=contact),
        deal_changes=DealStageChange.objects.filter(deal__contact=contact),
        channels=channels,
        cursor=cursor,
        limit=limit,
    )


def account_timeline(
    *, actor: Any, account: Account, channels: set[str] | None = None, cursor: str | None = None, limit: int = 30
) -> tuple[list[TimelineEntry], str | None]:
    """Merge an account's interactions, orders, tickets and deal changes, newest first, one page at a time.

    The account's own records: those linked to the account itself (what is linked only to one of its
    people is on that person's timeline). Whoever sees the account (``account_get_for_actor``) sees its
    timeline, with the kinds of entry their role may read, and paging works as in ``contact_timeline``.
    """
    return _timeline(
        actor=actor,
        interactions=Interaction.objects.filter(account=account),
        orders=Order.objects.filter(account=account),
        tickets=Ticket.objects.filter(account=account),
        deal_changes=DealStageChange.objects.filter(deal__account=account),
        channels=channels,
        cursor=cursor,
        limit=limit,
    )


def _timeline(
    *,
    actor: Any,
    interactions: QuerySet[Interaction],
    orders: QuerySet[Order],
    tickets: QuerySet[Ticket],
    deal_changes: QuerySet[DealStageChange],
    channels: set[str] | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[TimelineEntry], str | None]:
    """Merge one customer's four sources, each already narrowed to the customer, into a page of entries."""
    if not 1 <= limit <= 100:
        raise ValidationFailed(field="limit", reason="must be between 1 and 100")
    position = _decode(cursor) if cursor else None
    wanted = channels or None
    fetch = limit + 1  # one more than a page from each source tells whether another page exists
    entries: list[TimelineEntry] = []

    if read_scope(actor, "interactions") is not Scope.NONE:
        interactions = interactions.filter(_before("occurred_at", "interaction", position))
        if wanted is not None:
            interactions = interactions.filter(channel__in=wanted)
        rows = (
            interactions.select_related("user")
            .order_by("-occurred_at", "-id")
            .only(
                "id",
                "occurred_at",
                "channel",
                "direction",
                "subject",
                "body",
                "user__username",
                "user__first_name",
                "user__last_name",
            )
        )
        for row in rows[:fetch]:
            entries.append(
                TimelineEntry(
                    "interaction",
                    row.id,
                    row.occurred_at,
                    row.channel,
                    row.subject or row.get_channel_display(),
                    f"{row.direction}: {row.body[:200]}",
                    row.id,
                    direction=row.direction,
                    body=row.body[:300],
                    author=(row.user.get_full_name() or row.user.username) if row.user else "",
                )
            )
    if read_scope(actor, "orders") is not Scope.NONE and (wanted is None or "order" in wanted):
        orders = orders.filter(_before("placed_at", "order", position))
        for order in orders.order_by("-placed_at", "-id").only(
            "id", "number", "placed_at", "status", "total", "currency"
        )[:fetch]:
            entries.append(
                TimelineEntry(
                    "order",
                    order.id,
                    order.placed_at,
                    "order",
                    order.number,
                    f"{order.get_status_display()} · {order.total} {order.currency}",
                    order.id,
                    status=order.get_status_display(),
                    amount=order.total,
                    currency=order.currency,
                )
            )
    if read_scope(actor, "tickets") is not Scope.NONE and (wanted is None or "ticket" in wanted):
        tickets = tickets.filter(_before("created_at", "ticket", position))
        for ticket in tickets.order_by("-created_at", "-id").only(
            "id", "number", "subject", "created_at", "status", "priority"
        )[:fetch]:
            entries.append(
                TimelineEntry(
                    "ticket",
                    ticket.id,
                    ticket.created_at,
                    "ticket",
                    f"{ticket.number} {ticket.subject}",
                    f"{ticket.get_status_display()} · {ticket.get_priority_display()}",
                    ticket.id,
                    status=ticket.get_status_display(),
                )
            )
    if read_scope(actor, "deals") is not Scope.NONE and (wanted is None or "deal" in wanted):
        deals = scope_queryset(
            deal_changes,
            actor=actor,
            resource="deals",
            owner_paths=("deal__owner",),
            team_paths=("deal__team",),
        )
        deals = deals.filter(_before("changed_at", "deal", position)).select_related("deal", "to_stage")
        for change in deals.order_by("-changed_at", "-id")[:fetch]:
            stage = change.to_stage.name if change.to_stage else ""
            entries.append(
                TimelineEntry(
                    "deal",
                    change.id,
                    change.changed_at,
                    "deal",
                    change.deal.name,
                    " · ".join(p for p in [stage, change.to_status] if p),
                    change.deal_id,
                    status=str(DealStatus(change.to_status).label) if change.to_status in DealStatus.values else "",
                    stage=stage,
                )
            )

    entries.sort(key=lambda e: (e.at, e.kind, e.id), reverse=True)
    page = entries[:limit]
    next_cursor = _encode(page[-1].at, page[-1].kind, page[-1].id) if len(entries) > limit else None
    return page, next_cursor
