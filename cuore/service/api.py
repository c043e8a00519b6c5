"""REST endpoints for SLA policies, queues, tickets (with their SLA state and actions) and the knowledge base."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Literal

from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import field_validator

from cuore.contacts.selectors import account_get_for_actor, contact_get_for_actor
from cuore.core.api import Id, PathId, Text, idempotent_create, page_of, page_response
from cuore.core.errors import reference
from cuore.core.pagination import paginate
from cuore.core.visibility import require_write
from cuore.service import selectors, services
from cuore.service.models import Article, Ticket
from cuore.users.selectors import team_get_for_actor, user_get_for_actor

router = Router(tags=["service"])

PriorityName = Literal["low", "normal", "high", "urgent"]
StatusName = Literal["new", "open", "pending", "solved", "closed"]
ChannelName = Literal["email", "phone", "chat", "web_form", "social", "store"]


# ---- schemas -------------------------------------------------------------------------------------------


class SlaTargetSchema(Schema):
    priority: PriorityName
    first_response_minutes: int
    resolution_minutes: int


class SlaPolicyOut(Schema):
    id: int
    name: str
    is_default: bool
    targets: list[SlaTargetSchema]

    @staticmethod
    def resolve_targets(obj) -> list[Any]:
        return list(obj.targets.all())


class SlaPolicyIn(Schema):
    name: Text = Field(min_length=1, max_length=100)
    is_default: bool = False
    targets: list[SlaTargetSchema]


class SlaPolicyPatch(Schema):
    name: Text | None = Field(None, min_length=1, max_length=100)
    is_default: bool | None = None
    targets: list[SlaTargetSchema] | None = None


class QueueOut(Schema):
    id: int
    name: str
    sla_policy_id: int | None
    team_id: int | None


class QueueIn(Schema):
    name: Text = Field(min_length=1, max_length=100)
    sla_policy_id: Id | None = None
    team_id: Id | None = None


class QueuePatch(Schema):
    name: Text | None = Field(None, min_length=1, max_length=100)
    sla_policy_id: Id | None = None
    team_id: Id | None = None


class QueueFilters(Schema):
    sla_policy_id: Id | None = None
    team_id: Id | None = None
    cursor: str | None = None
    limit: int = 50


class TicketOut(Schema):
    """A row of the ticket list."""

    id: int
    number: str
    subject: str
    channel: str
    status: str
    priority: str
    category: str
    queue_id: int | None
    queue_name: str | None
    contact_id: int | None
    contact_name: str | None
    account_id: int | None
    assignee_id: int | None
    assignee_username: str | None
    first_response_due: dt.datetime | None
    resolution_due: dt.datetime | None
    first_response_at: dt.datetime | None
    solved_at: dt.datetime | None
    closed_at: dt.datetime | None
    first_response_breached: bool
    resolution_breached: bool
    satisfaction_rating: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_queue_name(obj) -> str | None:
        return obj.queue.name if obj.queue_id is not None else None

    @staticmethod
    def resolve_contact_name(obj) -> str | None:
        return obj.contact.full_name if obj.contact_id is not None else None

    @staticmethod
    def resolve_assignee_username(obj) -> str | None:
        return obj.assignee.username if obj.assignee_id is not None else None


class SlaClockOut(Schema):
    due: dt.datetime | None
    stopped_at: dt.datetime | None
    remaining_minutes: int | None
    breached: bool
    running: bool


class TicketSlaOut(Schema):
    first_response: SlaClockOut
    resolution: SlaClockOut


class TicketDetailOut(TicketOut):
    """A ticket with its description, the satisfaction comment and the state of its SLA clocks now."""

    description: str
    satisfaction_comment: str
    sla: TicketSlaOut

    @staticmethod
    def resolve_sla(obj) -> selectors.TicketSla:
        return selectors.ticket_sla_status(obj, timezone.now())


class TicketIn(Schema):
    subject: Text = Field(min_length=1, max_length=200)
    description: Text = ""
    channel: ChannelName = "email"
    priority: PriorityName = "normal"
    category: Text = Field("", max_length=50)
    queue_id: Id | None = None
    contact_id: Id | None = None
    account_id: Id | None = None
    assignee_id: Id | None = None


class TicketPatch(Schema):
    subject: Text | None = Field(None, min_length=1, max_length=200)
    description: Text | None = None
    channel: ChannelName | None = None
    priority: PriorityName | None = None
    category: Text | None = Field(None, max_length=50)
    queue_id: Id | None = None
    contact_id: Id | None = None
    account_id: Id | None = None
    assignee_id: Id | None = None


class TicketFilters(Schema):
    status: list[StatusName] | None = None
    priority: PriorityName | None = None
    queue_id: Id | None = None
    assignee_id: Text | None = Field(None, description="A user id, `me` or `none` (unassigned).")
    contact_id: Id | None = None
    account_id: Id | None = None
    breached: bool | None = None
    q: Text | None = Field(None, max_length=200)
    ordering: Literal["-created", "resolution_due"] = "-created"
    cursor: str | None = None
    limit: int = 50

    @field_validator("assignee_id")
    @classmethod
    def user_id_me_or_none(cls, value: str | None) -> int | str | None:
        if value is None or value in {"me", "none"}:
            return value
        if value.isascii() and value.isdigit() and len(value) <= 18:
            return int(value)
        raise ValueError("must be a user id, me or none")

    @field_validator("status", mode="before")
    @classmethod
    def split_commas(cls, value: Any) -> Any:
        """Accept ``status=open&status=pending`` and ``status=open,pending`` alike."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [part.strip() for item in value for part in str(item).split(",") if part.strip()]
        return value


class StatusIn(Schema):
    status: StatusName


class AssignIn(Schema):
    assignee_id: Id | None


class RatingIn(Schema):
    rating: int
    comment: Text = Field("", max_length=2000)


class ArticleOut(Schema):
    id: int
    title: str
    body: str
    language: str
    published: bool
    is_faq: bool
    category: str
    author_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ArticleIn(Schema):
    title: Text = Field(min_length=1, max_length=200)
    body: Text = Field(min_length=1)
    language: Text = Field("en", min_length=2, max_length=8)
    is_faq: bool = False
    category: Text = Field("", max_length=50)
    published: bool = False


class ArticlePatch(Schema):
    title: Text | None = Field(None, min_length=1, max_length=200)
    body: Text | None = Field(None, min_length=1)
    language: Text | None = Field(None, min_length=2, max_length=8)
    is_faq: bool | None = None
    category: Text | None = Field(None, max_length=50)


class ArticleFilters(Schema):
    q: Text | None = Field(None, max_length=200)
    language: Text | None = Field(None, max_length=8)
    published: bool | None = None
    is_faq: bool | None = None
    category: Text | None = Field(None, max_length=50)
    ordering: Literal["-created", "title"] | None = None
    cursor: str | None = None
    limit: int = 50


# ---- helpers ----------------------------------------------------------------------------------------------


def _resolve_ids(data: dict[str, Any], resolvers: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """Replace each ``<name>_id`` in ``data`` by the record it names (``None`` stays ``None``); 422 if not found."""
    for id_field, (name, fetch) in resolvers.items():
        if id_field in data:
            value = data.pop(id_field)
            data[name] = None if value is None else reference(id_field, functools.partial(fetch, value))
    return data


def _ticket_resolvers(actor) -> dict[str, tuple[str, Any]]:
    return {
        "queue_id": ("queue", lambda pk: selectors.queue_get_for_actor(actor=actor, queue_id=pk)),
        "contact_id": ("contact", lambda pk: contact_get_for_actor(actor=actor, contact_id=pk)),
        "account_id": ("account", lambda pk: account_get_for_actor(actor=actor, account_id=pk)),
        "assignee_id": ("assignee", lambda pk: user_get_for_actor(actor=actor, user_id=pk)),
    }


def _queue_resolvers(actor) -> dict[str, tuple[str, Any]]:
    return {
        "sla_policy_id": ("sla_policy", lambda pk: selectors.sla_policy_get_for_actor(actor=actor, policy_id=pk)),
        "team_id": ("team", lambda pk: team_get_for_actor(actor=actor, team_id=pk)),
    }


def _targets(items: list[SlaTargetSchema]) -> list[services.TargetMinutes]:
    return [
        services.TargetMinutes(
            priority=item.priority,
            first_response_minutes=item.first_response_minutes,
            resolution_minutes=item.resolution_minutes,
        )
        for item in items
    ]


# ---- SLA policies ----------------------------------------------------------------------------------------


@router.get("/sla-policies", response=page_of(SlaPolicyOut))
def list_sla_policies(request, cursor: str | None = None, limit: int = 50):
    page = paginate(
        selectors.sla_policy_list(actor=request.auth),
        ordering_key="name",
        ordering=("name", "id"),
        cursor=cursor,
        limit=limit,
    )
    return page_response(page)


@router.get("/sla-policies/{policy_id}", response=SlaPolicyOut)
def get_sla_policy(request, policy_id: PathId):
    return selectors.sla_policy_get_for_actor(actor=request.auth, policy_id=policy_id)


@router.post("/sla-policies", response={201: SlaPolicyOut})
def create_sla_policy(request, payload: SlaPolicyIn):
    def create():
        return services.sla_policy_create(
            actor=request.auth, name=payload.name, is_default=payload.is_default, targets=_targets(payload.targets)
        )

    return idempotent_create(request, create, SlaPolicyOut)


@router.patch("/sla-policies/{policy_id}", response=SlaPolicyOut)
def update_sla_policy(request, policy_id: PathId, payload: SlaPolicyPatch):
    policy = selectors.sla_policy_get_for_actor(actor=request.auth, policy_id=policy_id)
    data = payload.dict(exclude_unset=True)
    data.pop("targets", None)
    targets = _targets(payload.targets) if payload.targets is not None else None
    return services.sla_policy_update(actor=request.auth, policy=policy, data=data, targets=targets)


# ---- queues --------------------------------------------------------------------------------------------------


@router.get("/queues", response=page_of(QueueOut))
def list_queues(request, filters: Query[QueueFilters]):
    queues = selectors.queue_list(actor=request.auth, sla_policy_id=filters.sla_policy_id, team_id=filters.team_id)
    page = paginate(queues, ordering_key="name", ordering=("name", "id"), cursor=filters.cursor, limit=filters.limit)
    return page_response(page)


@router.get("/queues/{queue_id}", response=QueueOut)
def get_queue(request, queue_id: PathId):
    return selectors.queue_get_for_actor(actor=request.auth, queue_id=queue_id)


@router.post("/queues", response={201: QueueOut})
def create_queue(request, payload: QueueIn):
    def create():
        require_write(request.auth, "service_config")
        data = _resolve_ids(payload.dict(), _queue_resolvers(request.auth))
        return services.queue_create(actor=request.auth, **data)

    return idempotent_create(request, create, QueueOut)


@router.patch("/queues/{queue_id}", response=QueueOut)
def update_queue(request, queue_id: PathId, payload: QueuePatch):
    queue = selectors.queue_get_for_actor(actor=request.auth, queue_id=queue_id)
    require_write(request.auth, "service_config")
    data = _resolve_ids(payload.dict(exclude_unset=True), _queue_resolvers(request.auth))
    return services.queue_update(actor=request.auth, queue=queue, data=data)


# ---- tickets ---------------------------------------------------------------------------------------------------

TICKET_ORDERINGS = {
    # Ids grow with creation time, and every ticket filter's index ends in -id.
    "-created": ("-id",),
    "resolution_due": ("resolution_due", "id"),
}


@router.get(
    "/tickets",
    response=page_of(TicketOut),
    description=(
        "Filters combine with AND; `status` may repeat (or list values separated by commas); "
        "`assignee_id` may be `me` or `none`; `q` matches a number prefix or words in the subject. "
        "`ordering=resolution_due` lists the tickets with a resolution due time, soonest first."
    ),
)
def list_tickets(request, filters: Query[TicketFilters]):
    tickets = selectors.ticket_list(
        actor=request.auth,
        status=filters.status,
        priority=filters.priority,
        queue_id=filters.queue_id,
        assignee_id=filters.assignee_id,
        contact_id=filters.contact_id,
        account_id=filters.account_id,
        breached=filters.breached,
        q=filters.q,
    )
    if filters.ordering == "resolution_due":
        tickets = tickets.filter(resolution_due__isnull=False)
    page = paginate(
        tickets,
        ordering_key=filters.ordering,
        ordering=TICKET_ORDERINGS[filters.ordering],
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.get("/tickets/{ticket_id}", response=TicketDetailOut)
def get_ticket(request, ticket_id: PathId):
    return selectors.ticket_get_for_actor(actor=request.auth, ticket_id=ticket_id)


@router.post("/tickets", response={201: TicketDetailOut})
def create_ticket(request, payload: TicketIn):
    def create():
        # Refuse roles that may not write tickets before telling them anything about the ids they sent.
        require_write(request.auth, "tickets")
        data = _resolve_ids(payload.dict(), _ticket_resolvers(request.auth))
        return services.ticket_create(actor=request.auth, **data)

    return idempotent_create(request, create, TicketDetailOut)


def _ticket_for_write(request, ticket_id: int) -> Ticket:
    ticket = selectors.ticket_get_for_actor(actor=request.auth, ticket_id=ticket_id)
    require_write(request.auth, "tickets")
    return ticket


@router.patch("/tickets/{ticket_id}", response=TicketDetailOut)
def update_ticket(request, ticket_id: PathId, payload: TicketPatch):
    ticket = _ticket_for_write(request, ticket_id)
    data = _resolve_ids(payload.dict(exclude_unset=True), _ticket_resolvers(request.auth))
    return services.ticket_update(actor=request.auth, ticket=ticket, data=data)


@router.post("/tickets/{ticket_id}/status", response=TicketDetailOut)
def set_ticket_status(request, ticket_id: PathId, payload: StatusIn):
    ticket = _ticket_for_write(request, ticket_id)
    return services.ticket_set_status(actor=request.auth, ticket=ticket, status=payload.status)


@router.post("/tickets/{ticket_id}/assign", response=TicketDetailOut)
def assign_ticket(request, ticket_id: PathId, payload: AssignIn):
    ticket = _ticket_for_write(request, ticket_id)
    data = _resolve_ids({"assignee_id": payload.assignee_id}, _ticket_resolvers(request.auth))
    return services.ticket_update(actor=request.auth, ticket=ticket, data=data)


@router.post("/tickets/{ticket_id}/first-response", response=TicketDetailOut)
def record_first_response(request, ticket_id: PathId):
    ticket = _ticket_for_write(request, ticket_id)
    return services.ticket_record_first_response(actor=request.auth, ticket=ticket)


@router.post("/tickets/{ticket_id}/rating", response=TicketDetailOut)
def rate_ticket(request, ticket_id: PathId, payload: RatingIn):
    ticket = _ticket_for_write(request, ticket_id)
    return services.ticket_rate(actor=request.auth, ticket=ticket, rating=payload.rating, comment=payload.comment)


# ---- knowledge base ---------------------------------------------------------------------------------------------

ARTICLE_ORDERINGS = {"-created": ("-id",), "title": ("title", "id")}


@router.get(
    "/articles",
    response=page_of(ArticleOut),
    description=(
        "Search the knowledge base with `q`: articles holding every word in their title or body, "
        "title matches first (unless an `ordering` is asked for). Drafts are listed only to those who write articles."
    ),
)
def list_articles(request, filters: Query[ArticleFilters]):
    articles = selectors.article_list(
        actor=request.auth,
        q=filters.q,
        language=filters.language,
        published=filters.published,
        is_faq=filters.is_faq,
        category=filters.category,
    )
    if filters.q and filters.q.strip() and filters.ordering is None:
        page = selectors.article_page_by_relevance(articles, cursor=filters.cursor, limit=filters.limit)
    else:
        ordering = filters.ordering or "-created"
        page = paginate(
            articles,
            ordering_key=ordering,
            ordering=ARTICLE_ORDERINGS[ordering],
            cursor=filters.cursor,
            limit=filters.limit,
        )
    return page_response(page)


@router.get("/articles/{article_id}", response=ArticleOut)
def get_article(request, article_id: PathId):
    return selectors.article_get_for_actor(actor=request.auth, article_id=article_id)


@router.post("/articles", response={201: ArticleOut})
def create_article(request, payload: ArticleIn):
    return idempotent_create(request, lambda: services.article_create(actor=request.auth, **payload.dict()), ArticleOut)


def _article_for_write(request, article_id: int) -> Article:
    article = selectors.article_get_for_actor(actor=request.auth, article_id=article_id)
    require_write(request.auth, "articles")
    return article


@router.patch("/articles/{article_id}", response=ArticleOut)
def update_article(request, article_id: PathId, payload: ArticlePatch):
    article = _article_for_write(request, article_id)
    return services.article_update(actor=request.auth, article=article, data=payload.dict(exclude_unset=True))


@router.delete("/articles/{article_id}", response={204: None})
def delete_article(request, article_id: PathId):
    article = _article_for_write(request, article_id)
    services.article_delete(actor=request.auth, article=article)
    return Status(204, None)


@router.post("/articles/{article_id}/publish", response=ArticleOut)
def publish_article(request, article_id: PathId):
    return services.article_publish(actor=request.auth, article=_article_for_write(request, article_id))


@router.post("/articles/{article_id}/unpublish", response=ArticleOut)
def unpublish_article(request, article_id: PathId):
    return services.article_unpublish(actor=request.auth, article=_article_for_write(request, article_id))
