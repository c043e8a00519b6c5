"""REST endpoints for interactions, conversations and the customer timeline."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from ninja import Field, Query, Router, Schema, Status

from cuore.contacts.selectors import account_get_for_actor, contact_get_for_actor
from cuore.core.api import IDEMPOTENCY_HEADER, Id, PathId, idempotent_create, page_of, page_response, patch_data
from cuore.core.errors import Conflict, ValidationFailed, reference
from cuore.core.models import IdempotencyRecord
from cuore.core.pagination import paginate
from cuore.core.visibility import require_write
from cuore.interactions import selectors, services
from cuore.orders.selectors import order_get_for_actor
from cuore.sales.selectors import deal_get_for_actor
from cuore.service.selectors import ticket_get_for_actor

router = Router(tags=["interactions"])

ChannelName = Literal["email", "phone", "sms", "chat", "social", "web_form", "meeting", "store", "letter", "note"]
DirectionName = Literal["in", "out"]
TimelineChannel = Literal[ChannelName, "order", "ticket", "deal"]
Limit = Annotated[int, Field(ge=1, le=200)]


# ---- schemas -------------------------------------------------------------------------------------


class InteractionOut(Schema):
    id: int
    channel: str
    direction: str
    occurred_at: dt.datetime
    contact_id: int | None
    account_id: int | None
    user_id: int | None
    subject: str
    body: str
    conversation_id: int | None
    ticket_id: int | None
    deal_id: int | None
    order_id: int | None
    source: str
    external_id: str
    created_at: dt.datetime


class InteractionIn(Schema):
    channel: ChannelName
    direction: DirectionName
    occurred_at: dt.datetime | None = Field(None, description="when it happened; now if left out")
    contact_id: Id | None = None
    account_id: Id | None = None
    subject: str = Field("", max_length=200)
    body: str = Field("", max_length=100_000)
    conversation_id: Id | None = None
    start_conversation: bool = Field(False, description="open a new conversation with this as its first message")
    ticket_id: Id | None = None
    deal_id: Id | None = None
    order_id: Id | None = None
    source: str = Field("", max_length=50, description="the system it came from, e.g. `mailchimp`")
    external_id: str = Field("", max_length=128, description="its id in that system: the same one is logged once")


class InteractionPatch(Schema):
    channel: ChannelName | None = None
    direction: DirectionName | None = None
    occurred_at: dt.datetime | None = None
    subject: str | None = Field(None, max_length=200)
    body: str | None = Field(None, max_length=100_000)


class InteractionFilters(Schema):
    contact_id: Id | None = None
    account_id: Id | None = None
    channel: ChannelName | None = None
    direction: DirectionName | None = None
    ticket_id: Id | None = None
    deal_id: Id | None = None
    order_id: Id | None = None
    conversation_id: Id | None = None
    since: dt.datetime | None = Field(None, description="occurred at or after (inclusive)")
    until: dt.datetime | None = Field(None, description="occurred before (exclusive)")
    cursor: str | None = None
    limit: Limit = 50


class ConversationOut(Schema):
    id: int
    subject: str
    channel: str
    contact_id: int | None
    started_at: dt.datetime
    last_at: dt.datetime


class ConversationIn(Schema):
    contact_id: Id
    channel: ChannelName
    subject: str = Field("", max_length=200)


class ConversationFilters(Schema):
    contact_id: Id | None = None
    cursor: str | None = None
    limit: Limit = 50


class TimelineEntryOut(Schema):
    kind: Literal["interaction", "order", "ticket", "deal"]
    id: int
    at: dt.datetime
    channel: str
    title: str
    detail: str
    object_id: int = Field(description="the interaction, order, ticket or deal the entry is about")


class TimelineFilters(Schema):
    channel: list[TimelineChannel] = Field(
        default_factory=list, description="repeat to keep several channels; orders, tickets and deals count as one"
    )
    cursor: str | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 30


class TimelineOut(Schema):
    results: list[TimelineEntryOut]
    next_cursor: str | None


def _aware(value: dt.datetime | None, field: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise ValidationFailed(field=field, reason="must include a time zone")
    return value


# ---- interactions --------------------------------------------------------------------------------


@router.get("/interactions", response=page_of(InteractionOut))
def list_interactions(request, filters: Query[InteractionFilters]):
    interactions = selectors.interaction_list(
        actor=request.auth,
        contact_id=filters.contact_id,
        account_id=filters.account_id,
        channel=filters.channel,
        direction=filters.direction,
        ticket_id=filters.ticket_id,
        deal_id=filters.deal_id,
        order_id=filters.order_id,
        conversation_id=filters.conversation_id,
        since=_aware(filters.since, "since"),
        until=_aware(filters.until, "until"),
    )
    return page_response(
        paginate(
            interactions,
            ordering_key="-occurred",
            ordering=("-occurred_at", "-id"),
            cursor=filters.cursor,
            limit=filters.limit,
        )
    )


@router.post("/interactions", response={200: InteractionOut, 201: InteractionOut})
def log_interaction(request, payload: InteractionIn):
    """Log a touch with a customer. With `source` + `external_id` the same message is logged once:
    sending it again answers 200 with the first copy."""
    actor = request.auth
    # Before the lookup below: a role that may not log must not learn which ids are recorded.
    require_write(actor, "interactions")
    # A retry under an Idempotency-Key already used is answered by ``idempotent_create`` (the stored
    # answer, or a 422 for another body), not by the lookup of the external id.
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    replay = bool(key) and IdempotencyRecord.objects.filter(user=actor, key=key).exists()
    if not replay and payload.external_id.strip() and payload.source.strip():
        existing = selectors.interaction_find_external(
            source=payload.source.strip(), external_id=payload.external_id.strip()
        )
        if existing is not None:
            if not selectors.interaction_visible(actor=actor).filter(pk=existing.pk).exists():
                raise Conflict("This source's id is already recorded.", field="external_id")
            return Status(200, existing)

    def log():
        links = {
            "contact": payload.contact_id
            and reference("contact_id", lambda: contact_get_for_actor(actor=actor, contact_id=payload.contact_id)),
            "account": payload.account_id
            and reference("account_id", lambda: account_get_for_actor(actor=actor, account_id=payload.account_id)),
            "conversation": payload.conversation_id
            and reference(
                "conversation_id",
                lambda: selectors.conversation_get_for_actor(actor=actor, conversation_id=payload.conversation_id),
            ),
            "ticket": payload.ticket_id
            and reference("ticket_id", lambda: ticket_get_for_actor(actor=actor, ticket_id=payload.ticket_id)),
            "deal": payload.deal_id
            and reference("deal_id", lambda: deal_get_for_actor(actor=actor, deal_id=payload.deal_id)),
            "order": payload.order_id
            and reference("order_id", lambda: order_get_for_actor(actor=actor, order_id=payload.order_id)),
        }
        return services.interaction_log(
            actor=actor,
            channel=payload.channel,
            direction=payload.direction,
            occurred_at=payload.occurred_at,
            subject=payload.subject,
            body=payload.body,
            start_conversation=payload.start_conversation,
            source=payload.source,
            external_id=payload.external_id,
            **{name: value or None for name, value in links.items()},
        ).interaction

    return idempotent_create(request, log, InteractionOut)


@router.get("/interactions/{interaction_id}", response=InteractionOut)
def get_interaction(request, interaction_id: PathId):
    return selectors.interaction_get_for_actor(actor=request.auth, interaction_id=interaction_id)


@router.patch("/interactions/{interaction_id}", response=InteractionOut)
def update_interaction(request, interaction_id: PathId, payload: InteractionPatch):
    interaction = selectors.interaction_get_for_actor(actor=request.auth, interaction_id=interaction_id)
    return services.interaction_update(actor=request.auth, interaction=interaction, data=patch_data(payload))


@router.delete("/interactions/{interaction_id}", response={204: None})
def delete_interaction(request, interaction_id: PathId):
    interaction = selectors.interaction_get_for_actor(actor=request.auth, interaction_id=interaction_id)
    services.interaction_delete(actor=request.auth, interaction=interaction)
    return Status(204, None)


# ---- conversations -------------------------------------------------------------------------------


@router.get("/conversations", response=page_of(ConversationOut))
def list_conversations(request, filters: Query[ConversationFilters]):
    conversations = selectors.conversation_list(actor=request.auth, contact_id=filters.contact_id)
    return page_response(
        paginate(
            conversations,
            ordering_key="-last",
            ordering=("-last_at", "-id"),
            cursor=filters.cursor,
            limit=filters.limit,
        )
    )


@router.post("/conversations", response={201: ConversationOut})
def create_conversation(request, payload: ConversationIn):
    def create():
        contact = reference(
            "contact_id", lambda: contact_get_for_actor(actor=request.auth, contact_id=payload.contact_id)
        )
        return services.conversation_create(
            actor=request.auth, contact=contact, channel=payload.channel, subject=payload.subject
        )

    return idempotent_create(request, create, ConversationOut)


@router.get("/conversations/{conversation_id}", response=ConversationOut)
def get_conversation(request, conversation_id: PathId):
    return selectors.conversation_get_for_actor(actor=request.auth, conversation_id=conversation_id)


# ---- the timeline --------------------------------------------------------------------------------


@router.get("/contacts/{contact_id}/timeline", response=TimelineOut)
def contact_timeline(request, contact_id: PathId, filters: Query[TimelineFilters]):
    """A contact's interactions, orders, tickets and deal changes on every channel, newest first.

    Whoever sees the contact sees its timeline, with the kinds of entry their role may read."""
    contact = selectors.timeline_contact_for_actor(actor=request.auth, contact_id=contact_id)
    entries, next_cursor = selectors.contact_timeline(
        actor=request.auth,
        contact=contact,
        channels=set(filters.channel) or None,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"results": entries, "next_cursor": next_cursor}
