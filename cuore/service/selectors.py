"""Reads on SLA policies, queues, tickets (with their SLA state) and the knowledge base, scoped to the actor."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.months import aggregate_by_month, recent_month_starts
from cuore.core.pagination import MAX_LIMIT, Page, encode_cursor, prefix_q
from cuore.core.visibility import can_write, require_read, scope_queryset
from cuore.service.models import Article, Priority, Queue, SlaPolicy, SlaTarget, Ticket, TicketStatus
from cuore.service.services import AGENT_ROLES
from cuore.users.models import User
from cuore.users.selectors import user_list

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


def ticket_assignee_choices(*, actor: Any) -> QuerySet[User]:
    """Return the active users a ticket may be assigned to (support, manager and admin roles), by username."""
    require_read(actor, "tickets", "ticket")
    return user_list(actor=actor).filter(role__in=sorted(AGENT_ROLES), is_active=True).order_by("username")


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


def article_languages(*, actor: Any) -> list[str]:
    """Return the languages of the articles ``actor`` may see, alphabetically: the knowledge base's language filter."""
    languages = article_visible(actor=actor).order_by("language").values_list("language", flat=True).distinct()
    return list(languages)


RELEVANCE = "relevance"


def _decode_relevance_cursor(cursor: str) -> tuple[int, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key, values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        rank, last_id = values
        if key != RELEVANCE or type(rank) is not int or type(last_id) is not int:
            raise ValueError
        return rank, last_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(field="cursor", reason="is not a valid cursor for this list and ordering") from None


def article_page_by_relevance(articles: QuerySet[Article], *, cursor: str | None, limit: int) -> Page:
    """Return one page of searched ``articles`` (from ``article_search``): best ``search_rank`` first, then newest.

    Keyset pagination over the annotation; ``core.pagination.paginate`` reads cursors back through
    model fields, which an annotation is not.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(field="limit", reason=f"must be between 1 and {MAX_LIMIT}")
    # ``search_rank`` is an annotation, which the type checker's model of Article does not know.
    articles = articles.order_by("search_rank", "-id")  # type: ignore[misc]
    if cursor:
        rank, last_id = _decode_relevance_cursor(cursor)
        articles = articles.filter(Q(search_rank__gt=rank) | Q(search_rank=rank, id__lt=last_id))
    rows = list(articles[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(RELEVANCE, [rows[-1].search_rank, rows[-1].id])  # type: ignore[attr-defined]
    return Page(items=rows, next_cursor=next_cursor)


# ---- dashboard aggregations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusCount:
    """How many tickets are in one status."""

    status: str
    label: str
    count: int


def tickets_by_status(*, actor: Any) -> list[StatusCount]:
    """Return how many tickets ``actor`` may see are in each status, every status in workflow order (one query)."""
    require_read(actor, "tickets", "ticket")
    rows = ticket_visible(actor=actor).values("status").annotate(count=Count("id")).order_by()
    counts = {row["status"]: row["count"] for row in rows}
    return [
        StatusCount(status=value, label=str(label), count=counts.get(value, 0)) for value, label in TicketStatus.choices
    ]


@dataclass(frozen=True)
class SlaMonth:
    """The SLA record of the tickets opened in one month.

    ``*_measured`` counts the tickets whose clock has a verdict (stopped, or past due while running);
    ``*_met`` those of them that stopped in time. Tickets still within their target are not counted.
    """

    month: dt.date
    tickets: int
    first_response_measured: int
    first_response_met: int
    resolution_measured: int
    resolution_met: int

    @staticmethod
    def _share(met: int, measured: int) -> float | None:
        return round(100 * met / measured, 1) if measured else None

    @property
    def first_response_rate(self) -> float | None:
        """The share (0–100, one decimal) of first responses in time, or ``None`` with nothing measured."""
        return self._share(self.first_response_met, self.first_response_measured)

    @property
    def resolution_rate(self) -> float | None:
        return self._share(self.resolution_met, self.resolution_measured)


def sla_compliance_by_month(*, actor: Any, months: int = 12, now: dt.datetime | None = None) -> list[SlaMonth]:
    """Return, for the tickets ``actor`` may see opened in each of the last ``months`` months, how many met
    their first-response and resolution targets.

    A clock met its target when it stopped (first response given, ticket solved) by its due time, and
    missed it when it stopped later or is still running past due at ``now``; tickets without a target
    or still within it are left out of the shares. Computed from the times themselves, so it does not
    depend on the breach flags having been refreshed. One query of range scans on the creation-time index.
    """
    require_read(actor, "tickets", "ticket")
    now = now or timezone.now()
    starts = recent_month_starts(months=months, now=now)

    def verdicts(due: str, stopped: str) -> tuple[Q, Q]:
        met = Q(**{f"{due}__isnull": False, f"{stopped}__isnull": False, f"{stopped}__lte": F(due)})
        missed = Q(**{f"{due}__isnull": False}) & (
            Q(**{f"{stopped}__gt": F(due)}) | Q(**{f"{stopped}__isnull": True, f"{due}__lt": now})
        )
        return met, missed

    first_met, first_missed = verdicts("first_response_due", "first_response_at")
    resolution_met, resolution_missed = verdicts("resolution_due", "solved_at")
    rows = aggregate_by_month(
        ticket_visible(actor=actor),
        field="created_at",
        months=starts,
        tickets=Count("id"),
        first_met=Count("id", filter=first_met),
        first_missed=Count("id", filter=first_missed),
        resolution_met=Count("id", filter=resolution_met),
        resolution_missed=Count("id", filter=resolution_missed),
    )
    result = []
    for month in starts:
        row = rows.get(month)
        if row is None:
            result.append(SlaMonth(month, 0, 0, 0, 0, 0))
            continue
        result.append(
            SlaMonth(
                month=month,
                tickets=row["tickets"],
                first_response_measured=row["first_met"] + row["first_missed"],
                first_response_met=row["first_met"],
                resolution_measured=row["resolution_met"] + row["resolution_missed"],
                resolution_met=row["resolution_met"],
            )
        )
    return result
