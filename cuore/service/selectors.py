"""Reads on SLA policies, queues, tickets (with their SLA state) and the knowledge base, scoped to the actor."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When

from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.pagination import prefix_q
from cuore.core.visibility import can_write, require_read, scope_queryset
from cuore.service.models import Article, Priority, Queue, SlaPolicy, SlaTarget, Ticket

# ---- SLA policies and queues ----------------------------------------------------------------------

TARGETS_IN_PRIORITY_ORDER = Prefetch(
    "targets",
    queryset=SlaTarget.objects.order_by(
        Case(
            *(When(priority=priority, then=Value(rank)) for rank, priority in enumerate(Priority.values)),
            output_field=IntegerField(),
        ),
        "id",
    ),
)


def sla_policy_list(*, actor: Any) -> QuerySet[SlaPolicy]:
    """Return the SLA policies with their targets, lowest priority first."""
    require_read(actor, "service_config", "SLA policy")
    return SlaPolicy.objects.prefetch_related(TARGETS_IN_PRIORITY_ORDER)


def sla_policy_get_for_actor(*, actor: Any, policy_id: int) -> SlaPolicy:
    """Return the SLA policy with its targets, or raise ``NotFound``."""
    policy = sla_policy_list(actor=actor).filter(pk=policy_id).first()
    if policy is None:
        raise NotFound("SLA policy")
    return policy


def queue_list(*, actor: Any, sla_policy_id: int | None = None, team_id: int | None = None) -> QuerySet[Queue]:
    """Return the queues, optionally those of one SLA policy or team."""
    require_read(actor, "service_config", "queue")
    queues = Queue.objects.select_related("sla_policy", "team")
    if sla_policy_id is not None:
        queues = queues.filter(sla_policy_id=sla_policy_id)
    if team_id is not None:
        queues = queues.filter(team_id=team_id)
    return queues


def queue_get_for_actor(*, actor: Any, queue_id: int) -> Queue:
    """Return the queue, or raise ``NotFound``."""
    queue = queue_list(actor=actor).filter(pk=queue_id).first()
    if queue is None:
        raise NotFound("queue")
    return queue


# ---- tickets -------------------------------------------------------------------------------------------


def ticket_visible(*, actor: Any) -> QuerySet[Ticket]:
    """Every ticket ``actor`` may see, unordered and without related data.

    A TEAM scope (none today) would cover the tickets assigned to the actor or in a queue of their team.
    """
    return scope_queryset(
        Ticket.objects.all(), actor=actor, resource="tickets", owner_paths=("assignee",), team_paths=("queue__team",)
    )


def _with_related(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    return tickets.select_related("contact", "queue", "assignee")


def ticket_list(
    *,
    actor: Any,
    status: Sequence[str] | None = None,
    priority: str | None = None,
    queue_id: int | None = None,
    assignee_id: int | str | None = None,
    contact_id: int | None = None,
    account_id: int | None = None,
    breached: bool | None = None,
    q: str | None = None,
) -> QuerySet[Ticket]:
    """Return the tickets ``actor`` may see that match the filters, with what a list row shows.

    ``assignee_id`` may be ``"me"`` (the actor's tickets) or ``"none"`` (unassigned); ``breached``
    keeps the tickets with (or without) a breached first-response or resolution target.
    """
    require_read(actor, "tickets", "ticket")
    tickets = _with_related(ticket_visible(actor=actor))
    if status:
        tickets = tickets.filter(status__in=list(status))
    if priority:
        tickets = tickets.filter(priority=priority)
    if queue_id is not None:
        tickets = tickets.filter(queue_id=queue_id)
    if assignee_id == "me":
        tickets = tickets.filter(assignee_id=actor.pk)
    elif assignee_id == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif isinstance(assignee_id, int):
        tickets = tickets.filter(assignee_id=assignee_id)
    elif assignee_id is not None:
        raise ValidationFailed(field="assignee_id", reason="must be a user id, me or none")
    if contact_id is not None:
        tickets = tickets.filter(contact_id=contact_id)
    if account_id is not None:
        tickets = tickets.filter(account_id=account_id)
    if breached is True:
        tickets = tickets.filter(Q(first_response_breached=True) | Q(resolution_breached=True))
    elif breached is False:
        tickets = tickets.filter(first_response_breached=False, resolution_breached=False)
    if q:
        tickets = ticket_search(tickets, q)
    return tickets


def ticket_search(tickets: QuerySet[Ticket], q: str) -> QuerySet[Ticket]:
    """Narrow ``tickets`` to those whose number starts with ``q`` (``TCK-0001``, or just ``123``) or whose
    subject contains it."""
    text = q.replace("\x00", "").strip()
    if not text:
        return tickets
    condition = prefix_q("number", text.upper()) | Q(subject__icontains=text)
    if text.isascii() and text.isdigit() and len(text) <= 18:
        condition |= Q(number=f"TCK-{int(text):06d}")
    return tickets.filter(condition)


def ticket_get_for_actor(*, actor: Any, ticket_id: int) -> Ticket:
    """Return the ticket with its contact, queue and assignee, or raise ``NotFound``."""
    require_read(actor, "tickets", "ticket")
    ticket = _with_related(ticket_visible(actor=actor)).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound("ticket")
    return ticket


@dataclass(frozen=True)
class SlaClock:
    """One SLA clock of a ticket: when it is due, when it stopped, how many minutes are left."""

    due: dt.datetime | None
    stopped_at: dt.datetime | None
    # Whole minutes from the stop (or now, while running) to the due time; negative when late.
    remaining_minutes: int | None
    breached: bool

    @property
    def running(self) -> bool:
        return self.due is not None and self.stopped_at is None


@dataclass(frozen=True)
class TicketSla:
    first_response: SlaClock
    resolution: SlaClock


def _clock(due: dt.datetime | None, stopped_at: dt.datetime | None, now: dt.datetime) -> SlaClock:
    if due is None:
        return SlaClock(due=None, stopped_at=stopped_at, remaining_minutes=None, breached=False)
    end = stopped_at or now
    remaining = math.floor((due - end).total_seconds() / 60)
    return SlaClock(due=due, stopped_at=stopped_at, remaining_minutes=remaining, breached=end > due)


def ticket_sla_status(ticket: Ticket, now: dt.datetime) -> TicketSla:
    """Return the state of the ticket's two SLA clocks at ``now``, computed from the ticket alone (no query)."""
    return TicketSla(
        first_response=_clock(ticket.first_response_due, ticket.first_response_at, now),
        resolution=_clock(ticket.resolution_due, ticket.solved_at, now),
    )


# ---- knowledge base ----------------------------------------------------------------------------------------

SEARCH_WORDS = 8


def article_visible(*, actor: Any) -> QuerySet[Article]:
    """Every article ``actor`` may see: all of them for those who write articles, else only published ones."""
    require_read(actor, "articles", "article")
    articles = Article.objects.all()
    if not can_write(actor, "articles"):
        articles = articles.filter(published=True)
    return articles


def article_list(
    *,
    actor: Any,
    q: str | None = None,
    language: str | None = None,
    published: bool | None = None,
    is_faq: bool | None = None,
    category: str | None = None,
) -> QuerySet[Article]:
    """Return the articles ``actor`` may see that match the filters; with ``q``, annotated with ``search_rank``."""
    articles = article_visible(actor=actor)
    if language:
        articles = articles.filter(language=language.lower())
    if published is not None:
        articles = articles.filter(published=published)
    if is_faq is not None:
        articles = articles.filter(is_faq=is_faq)
    if category:
        articles = articles.filter(category=category)
    if q:
        articles = article_search(articles, q)
    return articles


def article_search(articles: QuerySet[Article], q: str) -> QuerySet[Article]:
    """Keep the articles holding every word of ``q`` in their title or body, ranked in ``search_rank``.

    Rank 0: the title holds the whole phrase; 1: the title holds every word; 2: the rest (body matches).
    Plain case-insensitive containment, so the same on SQLite and PostgreSQL; a knowledge base is
    small enough for the scan it costs.
    """
    words = q.replace("\x00", "").split()[:SEARCH_WORDS]
    if not words:
        return articles.annotate(search_rank=Value(2, output_field=IntegerField()))
    phrase = " ".join(words)
    for word in words:
        articles = articles.filter(Q(title__icontains=word) | Q(body__icontains=word))
    every_word_in_title = Q()
    for word in words:
        every_word_in_title &= Q(title__icontains=word)
    return articles.annotate(
        search_rank=Case(
            When(title__icontains=phrase, then=Value(0)),
            When(every_word_in_title, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    )


def article_get_for_actor(*, actor: Any, article_id: int) -> Article:
    """Return the article, or raise ``NotFound`` (also for a draft the actor may not see)."""
    article = article_visible(actor=actor).filter(pk=article_id).first()
    if article is None:
        raise NotFound("article")
    return article
