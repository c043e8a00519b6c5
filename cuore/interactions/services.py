"""Writes on interactions and conversations: logging a touch on any channel, idempotently."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from cuore.contacts.models import Account, Contact
from cuore.core.audit import apply_changes, audit_record, snapshot
from cuore.core.errors import Forbidden, ValidationFailed
from cuore.core.visibility import require_write
from cuore.interactions.models import Conversation, Direction, Interaction, InteractionChannel
from cuore.orders.models import Order
from cuore.sales.models import Deal
from cuore.service.models import Ticket
from cuore.service.services import ticket_record_first_response


@dataclass(frozen=True)
class Logged:
    interaction: Interaction
    created: bool


def _check(channel: str, direction: str, occurred_at: dt.datetime) -> None:
    errors: dict[str, str] = {}
    if channel not in InteractionChannel.values:
        errors["channel"] = f"must be one of {', '.join(InteractionChannel.values)}"
    if direction not in Direction.values:
        errors["direction"] = "must be in or out"
    if timezone.is_naive(occurred_at):
        errors["occurred_at"] = "must include a time zone"
    elif occurred_at > timezone.now() + dt.timedelta(days=1):
        errors["occurred_at"] = "cannot be more than a day in the future"
    if errors:
        raise ValidationFailed(errors)


@transaction.atomic
def interaction_log(
    *,
    actor: Any,
    channel: str,
    direction: str,
    contact: Contact | None = None,
    account: Account | None = None,
    occurred_at: dt.datetime | None = None,
    subject: str = "",
    body: str = "",
    conversation: Conversation | None = None,
    start_conversation: bool = False,
    ticket: Ticket | None = None,
    deal: Deal | None = None,
    order: Order | None = None,
    source: str = "",
    external_id: str = "",
) -> Logged:
    """Record one touch with a customer; the same ``source`` + ``external_id`` is recorded only once."""
    require_write(actor, "interactions")
    source, external_id = source.strip(), external_id.strip()
    if external_id and not source:
        raise ValidationFailed(field="source", reason="is required with an external id")
    if external_id:
        existing = Interaction.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return Logged(existing, False)
    contact = (
        contact
        or (ticket.contact if ticket else None)
        or (deal.contact if deal else None)
        or (order.contact if order else None)
    )
    account = (
        account
        or (ticket.account if ticket else None)
        or (deal.account if deal else None)
        or (order.account if order else None)
    )
    if contact is None and account is None:
        raise ValidationFailed(field="contact_id", reason="an interaction needs a contact or an account")
    when = occurred_at or timezone.now()
    _check(channel, direction, when)
    when = when.astimezone(dt.UTC)  # stored and answered in UTC, whatever offset it came with
    if conversation is not None and conversation.contact_id not in (None, getattr(contact, "pk", None)):
        raise ValidationFailed(field="conversation_id", reason="belongs to another contact")
    if start_conversation and conversation is None:
        conversation = Conversation.objects.create(
            subject=subject[:200], channel=channel, contact=contact, started_at=when, last_at=when
        )
    interaction = Interaction(
        channel=channel,
        direction=direction,
        occurred_at=when,
        contact=contact,
        account=account,
        user=actor if getattr(actor, "pk", None) else None,
        subject=subject.strip()[:200],
        body=body,
        conversation=conversation,
        ticket=ticket,
        deal=deal,
        order=order,
        source=source,
        external_id=external_id,
    )
    try:
        with transaction.atomic():
            interaction.save()
    except IntegrityError:
        # A concurrent ingestion of the same message won the race: answer with its row.
        existing = Interaction.objects.filter(source=source, external_id=external_id).first() if external_id else None
        if existing is None:
            raise
        return Logged(existing, False)
    if ticket is not None and direction == Direction.OUT and channel != InteractionChannel.NOTE:
        # The first answer sent to the customer stops the ticket's first-response clock. That clock runs
        # from the ticket's creation to now: a reply imported from before the ticket was opened, or
        # stamped a little ahead by a fast clock (allowed above), stops it at the nearer end instead of
        # failing the whole log on the ticket's own rule.
        answered_at = min(max(when, ticket.created_at), timezone.now())
        ticket_record_first_response(actor=actor, ticket=ticket, at=answered_at)
    if conversation is not None and when > conversation.last_at:
        Conversation.objects.filter(pk=conversation.pk).update(last_at=when)
    audit_record(
        actor=actor,
        action="interaction.create",
        instance=interaction,
        changes={
            k: [None, v]
            for k, v in snapshot(
                interaction,
                ["channel", "direction", "contact", "account", "ticket", "deal", "order", "source", "external_id"],
            ).items()
            if v not in (None, "")
        },
    )
    return Logged(interaction, True)


EDITABLE = {"subject", "body", "occurred_at", "channel", "direction"}


@transaction.atomic
def interaction_update(*, actor: Any, interaction: Interaction, data: dict[str, Any]) -> Interaction:
    """Correct an interaction's subject, body, time, channel or direction; only its author or a manager may."""
    require_write(actor, "interactions")
    if interaction.user_id not in (None, actor.pk) and actor.role not in ("admin", "manager"):
        raise Forbidden("Only the author or a manager can change this interaction.")
    unknown = set(data) - EDITABLE
    if unknown:
        raise ValidationFailed({name: "cannot be changed" for name in unknown})
    _check(
        data.get("channel", interaction.channel),
        data.get("direction", interaction.direction),
        data.get("occurred_at", interaction.occurred_at),
    )
    if "occurred_at" in data:
        data = {**data, "occurred_at": data["occurred_at"].astimezone(dt.UTC)}
    changes = apply_changes(interaction, data)
    if changes:
        interaction.save()
        audit_record(actor=actor, action="interaction.update", instance=interaction, changes=changes)
    return interaction


@transaction.atomic
def interaction_delete(*, actor: Any, interaction: Interaction) -> None:
    """Delete an interaction; only its author or a manager may."""
    require_write(actor, "interactions")
    if interaction.user_id not in (None, actor.pk) and actor.role not in ("admin", "manager"):
        raise Forbidden("Only the author or a manager can delete this interaction.")
    before = snapshot(interaction)
    interaction.delete()
    audit_record(
        actor=actor,
        action="interaction.delete",
        object_type="interactions.interaction",
        object_id=before["id"],
        changes={k: [v, None] for k, v in before.items() if k != "body"},
    )


@transaction.atomic
def conversation_create(*, actor: Any, contact: Contact, channel: str, subject: str = "") -> Conversation:
    """Open a conversation thread with a contact."""
    require_write(actor, "interactions")
    if channel not in InteractionChannel.values:
        raise ValidationFailed(field="channel", reason=f"must be one of {', '.join(InteractionChannel.values)}")
    now = timezone.now()
    conversation = Conversation.objects.create(
        subject=subject.strip()[:200], channel=channel, contact=contact, started_at=now, last_at=now
    )
    audit_record(
        actor=actor,
        action="conversation.create",
        instance=conversation,
        changes={"contact": [None, contact.pk], "channel": [None, channel]},
    )
    return conversation
