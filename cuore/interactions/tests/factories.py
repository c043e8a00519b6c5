"""Factories for interactions and the other entries of a timeline, straight through the ORM (tests only)."""

from __future__ import annotations

import datetime as dt

from cuore.interactions.models import Conversation, Interaction
from cuore.sales.models import Deal, DealStageChange
from cuore.service import services as service_services
from cuore.service.models import Ticket

# A fixed moment in the past, so that no "in the future" rule gets in the way of timeline tests.
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def make_interaction(
    *,
    contact=None,
    account=None,
    user=None,
    channel: str = "email",
    direction: str = "in",
    occurred_at: dt.datetime = T0,
    subject: str = "",
    body: str = "",
    **fields,
) -> Interaction:
    return Interaction.objects.create(
        contact=contact,
        account=account,
        user=user,
        channel=channel,
        direction=direction,
        occurred_at=occurred_at,
        subject=subject,
        body=body,
        **fields,
    )


def make_conversation(*, contact=None, channel: str = "email", subject: str = "", at: dt.datetime = T0) -> Conversation:
    return Conversation.objects.create(contact=contact, channel=channel, subject=subject, started_at=at, last_at=at)


def make_ticket(*, subject: str = "Printer jammed", created_at: dt.datetime | None = None, **fields) -> Ticket:
    """A ticket through ``ticket_create`` (as the system), its creation time moved to ``created_at`` if given."""
    ticket = service_services.ticket_create(actor=None, subject=subject, **fields)
    if created_at is not None:
        Ticket.objects.filter(pk=ticket.pk).update(created_at=created_at)
        ticket.created_at = created_at
    return ticket


def make_stage_change(*, deal: Deal, at: dt.datetime, to_status: str = "open") -> DealStageChange:
    return DealStageChange.objects.create(
        deal=deal, from_stage=None, to_stage=deal.stage, from_status="", to_status=to_status, changed_at=at
    )
