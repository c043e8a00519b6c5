"""Writes on SLA policies, queues, tickets (with their SLA clock) and knowledge-base articles.

SLA clocks run in calendar minutes from the ticket's creation: the first-response clock stops at the
first response, the resolution clock at the solve (and runs again on a reopen). A breach flag tells
whether the clock stopped, or is still running, past its due time; every service that moves a clock
keeps the flags true to that rule, and ``ticket_sla_mark_breaches`` flags the running clocks that
passed their due time since.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cuore.contacts.models import Account, Contact
from cuore.core.audit import apply_changes, audit_record, current_channel, diff, snapshot
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.models import AuditEntry
from cuore.core.roles import Role
from cuore.core.visibility import require_write
from cuore.service.models import (
    Article,
    Priority,
    Queue,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketChannel,
    TicketStatus,
)
from cuore.users.models import Team, User

# Five years: longer targets are typos, and the value must fit a 32-bit integer column.
MAX_SLA_MINUTES = 5 * 365 * 24 * 60
PRIORITY_ORDER: tuple[str, ...] = tuple(Priority.values)
AGENT_ROLES = frozenset({Role.SUPPORT, Role.MANAGER, Role.ADMIN})
OPEN_STATUSES: tuple[str, ...] = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING)
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    TicketStatus.NEW: frozenset({TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED}),
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING, TicketStatus.SOLVED}),
    TicketStatus.PENDING: frozenset({TicketStatus.OPEN, TicketStatus.SOLVED}),
    TicketStatus.SOLVED: frozenset({TicketStatus.OPEN, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}
# The fields the status, first-response and rating services change; they are re-read under a row lock.
STATE_FIELDS = (
    "status",
    "first_response_due",
    "resolution_due",
    "first_response_at",
    "solved_at",
    "closed_at",
    "first_response_breached",
    "resolution_breached",
    "satisfaction_rating",
    "satisfaction_comment",
)
TICKET_EDITABLE = {
    "subject",
    "description",
    "channel",
    "priority",
    "category",
    "queue",
    "assignee",
    "contact",
    "account",
}
ARTICLE_EDITABLE = {"title", "body", "language", "is_faq", "category"}
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,4})?$")
BREACH_BATCH = 500


def _created(instance, fields: Sequence[str] | None = None) -> dict[str, list[Any]]:
    return {name: [None, value] for name, value in snapshot(instance, fields).items() if value not in (None, "")}


def _text(errors: dict[str, str], field: str, value: Any, *, max_length: int, required: bool = False) -> str:
    """Return ``value`` stripped, recording in ``errors`` why it is not acceptable if it is not."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = "must be text"
        return ""
    value = value.strip()
    if "\x00" in value:
        errors[field] = "must not contain NUL characters"
    elif required and not value:
        errors[field] = "is required"
    elif len(value) > max_length:
        errors[field] = f"must be at most {max_length} characters"
    return value


# ---- SLA policies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetMinutes:
    """The first-response and resolution targets of one priority, in minutes."""

    priority: str
    first_response_minutes: int
    resolution_minutes: int


def _clean_targets(targets: Sequence[TargetMinutes], errors: dict[str, str]) -> list[TargetMinutes]:
    seen: set[str] = set()
    for index, target in enumerate(targets):
        prefix = f"targets.{index}"
        if target.priority not in PRIORITY_ORDER:
            errors[f"{prefix}.priority"] = f"must be one of {', '.join(PRIORITY_ORDER)}"
        elif target.priority in seen:
            errors[f"{prefix}.priority"] = "appears more than once"
        seen.add(target.priority)
        first, resolution = target.first_response_minutes, target.resolution_minutes
        for name, value in (("first_response_minutes", first), ("resolution_minutes", resolution)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SLA_MINUTES:
                errors[f"{prefix}.{name}"] = f"must be a whole number of minutes between 1 and {MAX_SLA_MINUTES}"
        minutes_valid = (
            f"{prefix}.first_response_minutes" not in errors and f"{prefix}.resolution_minutes" not in errors
        )
        if minutes_valid and resolution < first:
            errors[f"{prefix}.resolution_minutes"] = f"must be at least the first response time ({first} minutes)"
    missing = [priority for priority in PRIORITY_ORDER if priority not in seen]
    if missing and not errors:
        errors["targets"] = f"must give one target for each priority; missing: {', '.join(missing)}"
    return sorted(targets, key=lambda target: PRIORITY_ORDER.index(target.priority)) if not errors else []


def _targets_snapshot(targets: Iterable[TargetMinutes | SlaTarget]) -> list[list[Any]]:
    return [[t.priority, t.first_response_minutes, t.resolution_minutes] for t in targets]


def _policy_name(errors: dict[str, str], name: Any, *, exclude_id: int | None = None) -> str:
    name = _text(errors, "name", name, max_length=100, required=True)
    if name and "name" not in errors:
        clash = SlaPolicy.objects.filter(name__iexact=name)
        if exclude_id is not None:
            clash = clash.exclude(pk=exclude_id)
        if clash.exists():
            errors["name"] = "an SLA policy with this name already exists"
    return name


def _clear_default(*, actor: Any, keep_id: int | None) -> None:
    """Take the default flag off the current default policy, so that another one can take it."""
    defaults = SlaPolicy.objects.select_for_update().filter(is_default=True)
    if keep_id is not None:
        defaults = defaults.exclude(pk=keep_id)
    previous = defaults.first()
    if previous is not None:
        previous.is_default = False
        previous.save(update_fields=["is_default"])
        audit_record(actor=actor, action="sla_policy.update", instance=previous, changes={"is_default": [True, False]})


@transaction.atomic
def sla_policy_create(
    *, actor: Any, name: str, targets: Sequence[TargetMinutes], is_default: bool = False
) -> SlaPolicy:
    """Create an SLA policy with one target per priority; a new default replaces the previous one."""
    if actor is not None:
        require_write(actor, "service_config")
    errors: dict[str, str] = {}
    clean_name = _policy_name(errors, name)
    cleaned = _clean_targets(targets, errors)
    if errors:
        raise ValidationFailed(errors)
    if is_default:
        _clear_default(actor=actor, keep_id=None)
    policy = SlaPolicy.objects.create(name=clean_name, is_default=is_default)
    SlaTarget.objects.bulk_create(
        SlaTarget(
            policy=policy,
            priority=t.priority,
            first_response_minutes=t.first_response_minutes,
            resolution_minutes=t.resolution_minutes,
        )
        for t in cleaned
    )
    changes = _created(policy)
    changes["targets"] = [None, _targets_snapshot(cleaned)]
    audit_record(actor=actor, action="sla_policy.create", instance=policy, changes=changes)
    return policy


@transaction.atomic
def sla_policy_update(
    *,
    actor: Any,
    policy: SlaPolicy,
    data: dict[str, Any],
    targets: Sequence[TargetMinutes] | None = None,
) -> SlaPolicy:
    """Rename a policy, make it (or stop it being) the default, or replace its targets.

    Tickets keep the due times computed when they were created; new tickets get the new targets.
    """
    if actor is not None:
        require_write(actor, "service_config")
    unknown = set(data) - {"name", "is_default"}
    if unknown:
        raise ValidationFailed({field: "cannot be changed" for field in sorted(unknown)})
    errors: dict[str, str] = {}
    if "name" in data:
        data["name"] = _policy_name(errors, data["name"], exclude_id=policy.pk)
    if "is_default" in data and not isinstance(data["is_default"], bool):
        errors["is_default"] = "must be true or false"
    cleaned = _clean_targets(targets, errors) if targets is not None else None
    if errors:
        raise ValidationFailed(errors)
    if data.get("is_default") and not policy.is_default:
        _clear_default(actor=actor, keep_id=policy.pk)
    changes = apply_changes(policy, data)
    if changes:
        policy.save(update_fields=list(changes))
    if cleaned is not None:
        before = _targets_snapshot(SlaTarget.objects.filter(policy=policy).order_by("id"))
        before.sort(key=lambda row: PRIORITY_ORDER.index(row[0]))
        after = _targets_snapshot(cleaned)
        if before != after:
            SlaTarget.objects.filter(policy=policy).delete()
            SlaTarget.objects.bulk_create(
                SlaTarget(
                    policy=policy,
                    priority=t.priority,
                    first_response_minutes=t.first_response_minutes,
                    resolution_minutes=t.resolution_minutes,
                )
                for t in cleaned
            )
            changes["targets"] = [before, after]
        getattr(policy, "_prefetched_objects_cache", {}).pop("targets", None)
    if changes:
        audit_record(actor=actor, action="sla_policy.update", instance=policy, changes=changes)
    return policy


# ---- queues ------------------------------------------------------------------------------------------


def _queue_name(errors: dict[str, str], name: Any, *, exclude_id: int | None = None) -> str:
    name = _text(errors, "name", name, max_length=100, required=True)
    if name and "name" not in errors:
        clash = Queue.objects.filter(name__iexact=name)
        if exclude_id is not None:
            clash = clash.exclude(pk=exclude_id)
        if clash.exists():
            errors["name"] = "a queue with this name already exists"
    return name


@transaction.atomic
def queue_create(*, actor: Any, name: str, sla_policy: SlaPolicy | None = None, team: Team | None = None) -> Queue:
    """Create a queue, with the SLA policy its tickets follow (none: the default policy) and its team."""
    if actor is not None:
        require_write(actor, "service_config")
    errors: dict[str, str] = {}
    clean_name = _queue_name(errors, name)
    if errors:
        raise ValidationFailed(errors)
    queue = Queue.objects.create(name=clean_name, sla_policy=sla_policy, team=team)
    audit_record(actor=actor, action="queue.create", instance=queue, changes=_created(queue))
    return queue


@transaction.atomic
def queue_update(*, actor: Any, queue: Queue, data: dict[str, Any]) -> Queue:
    """Rename a queue or change its SLA policy or team; tickets already in it keep their due times."""
    if actor is not None:
        require_write(actor, "service_config")
    unknown = set(data) - {"name", "sla_policy", "team"}
    if unknown:
        raise ValidationFailed({field: "cannot be changed" for field in sorted(unknown)})
    errors: dict[str, str] = {}
    if "name" in data:
        data["name"] = _queue_name(errors, data["name"], exclude_id=queue.pk)
    if errors:
        raise ValidationFailed(errors)
    changes = apply_changes(queue, data)
    if changes:
        queue.save()
        audit_record(actor=actor, action="queue.update", instance=queue, changes=changes)
    return queue


# ---- tickets: SLA arithmetic ---------------------------------------------------------------------------


def sla_target_for(*, queue: Queue | None, priority: str) -> SlaTarget | None:
    """Return the target for ``priority`` of the queue's policy, or of the default policy; ``None`` if neither."""
    targets = SlaTarget.objects.filter(priority=priority)
    if queue is not None and queue.sla_policy_id is not None:
        return targets.filter(policy_id=queue.sla_policy_id).first()
    return targets.filter(policy__is_default=True).first()


def sla_due_times(
    *, target: SlaTarget | None, created_at: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Return the first-response and resolution due times of a ticket created at ``created_at``."""
    if target is None:
        return None, None
    return (
        created_at + dt.timedelta(minutes=target.first_response_minutes),
        created_at + dt.timedelta(minutes=target.resolution_minutes),
    )


def _refresh_breaches(ticket: Ticket, now: dt.datetime) -> None:
    """Set each breach flag to whether its clock stopped (or, still running, is now) past its due time."""
    first_end = ticket.first_response_at or now
    resolution_end = ticket.solved_at or now
    ticket.first_response_breached = ticket.first_response_due is not None and first_end > ticket.first_response_due
    ticket.resolution_breached = ticket.resolution_due is not None and resolution_end > ticket.resolution_due


def _lock_state(ticket: Ticket) -> None:
    """Re-read the ticket's state under a row lock so that concurrent changes queue up instead of clashing."""
    row = Ticket.objects.select_for_update().filter(pk=ticket.pk).values(*STATE_FIELDS).first()
    if row is None:
        raise Conflict("The ticket no longer exists.")
    for name, value in row.items():
        setattr(ticket, name, value)


def _moment(ticket: Ticket, at: dt.datetime | None) -> dt.datetime:
    """Return when a change happened: ``at`` (checked) or now."""
    now = timezone.now()
    if at is None:
        return now
    if timezone.is_naive(at):
        raise ValidationFailed(field="at", reason="must carry a time zone")
    if at < ticket.created_at:
        raise ValidationFailed(field="at", reason="must not be before the ticket was created")
    if at > now + dt.timedelta(minutes=1):
        raise ValidationFailed(field="at", reason="must not be in the future")
    return at


# ---- tickets: writes --------------------------------------------------------------------------------------


def _check_assignee(errors: dict[str, str], assignee: User | None) -> None:
    if assignee is not None and (not assignee.is_active or assignee.role not in AGENT_ROLES):
        errors["assignee_id"] = "must be an active user with the support, manager or admin role"


def _clean_ticket(data: dict[str, Any]) -> dict[str, Any]:
    """Validate the editable ticket fields present in ``data``; raise ``ValidationFailed`` naming each bad one."""
    errors: dict[str, str] = {}
    if "subject" in data:
        data["subject"] = _text(errors, "subject", data["subject"], max_length=200, required=True)
    if "description" in data:
        data["description"] = _text(errors, "description", data["description"], max_length=100_000)
    if "category" in data:
        data["category"] = _text(errors, "category", data["category"], max_length=50)
    if "channel" in data and data["channel"] not in TicketChannel.values:
        errors["channel"] = f"must be one of {', '.join(TicketChannel.values)}"
    if "priority" in data and data["priority"] not in Priority.values:
        errors["priority"] = f"must be one of {', '.join(Priority.values)}"
    if "assignee" in data:
        _check_assignee(errors, data["assignee"])
    if errors:
        raise ValidationFailed(errors)
    return data


def _primary_account_id(contact: Contact) -> int | None:
    """The contact's primary account, read through ``account_links`` (prefetched by ``contact_get_for_actor``)."""
    for link in contact.account_links.all():
        if link.is_primary:
            return link.account_id
    return None


def _placeholder_number() -> str:
    # Unique until the row has its id and with it its real number, a moment later in the same transaction.
    return f"NEW-{uuid.uuid4().hex[:28]}"  # 32 characters: the column's length


def ticket_number(ticket_id: int) -> str:
    """Return the number of the ticket with id ``ticket_id``: ``TCK-000123``."""
    return f"TCK-{ticket_id:06d}"


@transaction.atomic
def ticket_create(
    *,
    actor: Any,
    subject: str,
    description: str = "",
    channel: str = TicketChannel.EMAIL,
    priority: str = Priority.NORMAL,
    category: str = "",
    queue: Queue | None = None,
    contact: Contact | None = None,
    account: Account | None = None,
    assignee: User | None = None,
) -> Ticket:
    """Open a ticket, number it and start its SLA clocks from its creation time.

    A ticket for a contact with no account given belongs to the contact's primary account.
    """
    if actor is not None:
        require_write(actor, "tickets")
    data = _clean_ticket(
        {
            "subject": subject,
            "description": description,
            "channel": channel,
            "priority": priority,
            "category": category,
            "assignee": assignee,
        }
    )
    ticket = Ticket(number=_placeholder_number(), queue=queue, contact=contact, account=account, **data)
    if contact is not None and account is None:
        ticket.account_id = _primary_account_id(contact)
    ticket.save()
    ticket.number = ticket_number(ticket.pk)
    target = sla_target_for(queue=queue, priority=ticket.priority)
    ticket.first_response_due, ticket.resolution_due = sla_due_times(target=target, created_at=ticket.created_at)
    ticket.save(update_fields=["number", "first_response_due", "resolution_due"])
    audit_record(actor=actor, action="ticket.create", instance=ticket, changes=_created(ticket))
    return ticket


@transaction.atomic
def ticket_update(*, actor: Any, ticket: Ticket, data: dict[str, Any]) -> Ticket:
    """Change a ticket's subject, description, channel, priority, category, queue, assignee, contact or account.

    A new priority or queue recomputes the due times from the creation time (and the breach flags
    with them). A new contact with a primary account brings that account unless one is given.
    """
    if actor is not None:
        require_write(actor, "tickets")
    unknown = set(data) - TICKET_EDITABLE
    if unknown:
        raise ValidationFailed({field: "cannot be changed" for field in sorted(unknown)})
    data = _clean_ticket(dict(data))
    _lock_state(ticket)
    if ticket.status == TicketStatus.CLOSED:
        raise Conflict("A closed ticket cannot be changed.", field="status")
    if data.get("contact") is not None and "account" not in data:
        primary = _primary_account_id(data["contact"])
        if primary is not None:
            data["account_id"] = primary
    changes = apply_changes(ticket, data)
    if "priority" in changes or "queue" in changes:
        target = sla_target_for(queue=ticket.queue, priority=ticket.priority)
        first_due, resolution_due = sla_due_times(target=target, created_at=ticket.created_at)
        before = snapshot(ticket, ["first_response_breached", "resolution_breached"])
        changes.update(apply_changes(ticket, {"first_response_due": first_due, "resolution_due": resolution_due}))
        _refresh_breaches(ticket, timezone.now())
        changes.update(diff(before, snapshot(ticket, ["first_response_breached", "resolution_breached"])))
    if changes:
        ticket.save()
        audit_record(actor=actor, action="ticket.update", instance=ticket, changes=changes)
    return ticket


@transaction.atomic
def ticket_set_status(*, actor: Any, ticket: Ticket, status: str, at: dt.datetime | None = None) -> Ticket:
    """Move a ticket to ``status`` if its workflow allows it, stopping or restarting its SLA clocks.

    Leaving ``new`` records the first response (once); solving stops the resolution clock; reopening
    a solved ticket restarts it; a closed ticket moves no more.
    """
    if actor is not None:
        require_write(actor, "tickets")
    if status not in TicketStatus.values:
        raise ValidationFailed(field="status", reason=f"must be one of {', '.join(TicketStatus.values)}")
    _lock_state(ticket)
    previous = ticket.status
    if status not in ALLOWED_TRANSITIONS[previous]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[previous])) or "none"
        raise Conflict(f"A ticket cannot go from {previous} to {status} (allowed: {allowed}).", field="status")
    moment = _moment(ticket, at)
    before = snapshot(ticket, STATE_FIELDS)
    ticket.status = status
    if previous == TicketStatus.NEW and ticket.first_response_at is None:
        ticket.first_response_at = moment
    if status == TicketStatus.SOLVED:
        ticket.solved_at = moment
    elif status == TicketStatus.OPEN and previous == TicketStatus.SOLVED:
        ticket.solved_at = None
    elif status == TicketStatus.CLOSED:
        ticket.closed_at = moment
    _refresh_breaches(ticket, moment)
    ticket.save(update_fields=[*STATE_FIELDS, "updated_at"])
    audit_record(
        actor=actor, action="ticket.set_status", instance=ticket, changes=diff(before, snapshot(ticket, STATE_FIELDS))
    )
    return ticket


@transaction.atomic
def ticket_record_first_response(*, actor: Any, ticket: Ticket, at: dt.datetime | None = None) -> Ticket:
    """Record the first answer to the customer, once; later calls leave the first one in place."""
    if actor is not None:
        require_write(actor, "tickets")
    _lock_state(ticket)
    if ticket.first_response_at is not None:
        return ticket
    moment = _moment(ticket, at)
    before = snapshot(ticket, STATE_FIELDS)
    ticket.first_response_at = moment
    _refresh_breaches(ticket, moment)
    ticket.save(update_fields=[*STATE_FIELDS, "updated_at"])
    audit_record(
        actor=actor,
        action="ticket.first_response",
        instance=ticket,
        changes=diff(before, snapshot(ticket, STATE_FIELDS)),
    )
    return ticket


@transaction.atomic
def ticket_rate(*, actor: Any, ticket: Ticket, rating: int, comment: str = "") -> Ticket:
    """Record the customer's satisfaction (1–5 and a comment) with a solved or closed ticket."""
    if actor is not None:
        require_write(actor, "tickets")
    errors: dict[str, str] = {}
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        errors["rating"] = "must be a whole number from 1 to 5"
    comment = _text(errors, "comment", comment, max_length=2000)
    if errors:
        raise ValidationFailed(errors)
    _lock_state(ticket)
    if ticket.status not in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        raise Conflict(f"Only a solved or closed ticket can be rated; this one is {ticket.status}.", field="status")
    changes = apply_changes(ticket, {"satisfaction_rating": rating, "satisfaction_comment": comment})
    if changes:
        ticket.save(update_fields=["satisfaction_rating", "satisfaction_comment", "updated_at"])
        audit_record(actor=actor, action="ticket.rate", instance=ticket, changes=changes)
    return ticket


@transaction.atomic
def ticket_sla_mark_breaches(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Flag the open tickets whose first-response or resolution due time has passed; return how many of each.

    Set-based: each batch is one SELECT of ids, one UPDATE and one bulk INSERT of audit entries, so a
    run costs a handful of queries however many tickets breach. Meant to run every minute as a job.
    """
    now = now or timezone.now()
    checks = {
        "first_response_breached": Q(first_response_at__isnull=True, first_response_due__lt=now),
        "resolution_breached": Q(resolution_due__lt=now),
    }
    counts: dict[str, int] = {}
    for flag, condition in checks.items():
        candidates = Ticket.objects.filter(condition, status__in=OPEN_STATUSES, **{flag: False})
        counts[flag] = 0
        while True:
            rows = list(candidates.select_for_update().order_by("id").values_list("id", "number")[:BREACH_BATCH])
            if not rows:
                break
            updated = Ticket.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                **{flag: True, "updated_at": timezone.now()}
            )
            counts[flag] += updated
            channel = current_channel()
            AuditEntry.objects.bulk_create(
                AuditEntry(
                    actor=None,
                    actor_label="system",
                    action="ticket.sla_breach",
                    object_type=Ticket._meta.label_lower,
                    object_id=str(pk),
                    object_repr=number,
                    changes={flag: [False, True]},
                    channel=channel,
                )
                for pk, number in rows
            )
            if len(rows) < BREACH_BATCH:
                break
    return {"first_response": counts["first_response_breached"], "resolution": counts["resolution_breached"]}


# ---- knowledge base ------------------------------------------------------------------------------------------


def _clean_article(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if "title" in data:
        data["title"] = _text(errors, "title", data["title"], max_length=200, required=True)
    if "body" in data:
        data["body"] = _text(errors, "body", data["body"], max_length=200_000, required=True)
    if "category" in data:
        data["category"] = _text(errors, "category", data["category"], max_length=50)
    if "language" in data:
        language = _text(errors, "language", data["language"], max_length=8, required=True)
        if "language" not in errors:
            language = (language or "").lower()
            if not LANGUAGE_RE.match(language):
                errors["language"] = "must be a language code such as en, it or pt-br"
        data["language"] = language
    if "is_faq" in data and not isinstance(data["is_faq"], bool):
        errors["is_faq"] = "must be true or false"
    if errors:
        raise ValidationFailed(errors)
    return data


@transaction.atomic
def article_create(
    *,
    actor: Any,
    title: str,
    body: str,
    language: str = "en",
    is_faq: bool = False,
    category: str = "",
    published: bool = False,
) -> Article:
    """Write a knowledge-base article (a draft unless ``published``), signed by ``actor``."""
    if actor is not None:
        require_write(actor, "articles")
    data = _clean_article({"title": title, "body": body, "language": language, "is_faq": is_faq, "category": category})
    author = actor if getattr(actor, "pk", None) is not None else None
    article = Article.objects.create(**data, published=bool(published), author=author)
    audit_record(actor=actor, action="article.create", instance=article, changes=_created(article))
    return article


@transaction.atomic
def article_update(*, actor: Any, article: Article, data: dict[str, Any]) -> Article:
    """Change an article's title, body, language, FAQ flag or category."""
    if actor is not None:
        require_write(actor, "articles")
    unknown = set(data) - ARTICLE_EDITABLE
    if unknown:
        raise ValidationFailed({field: "cannot be changed" for field in sorted(unknown)})
    changes = apply_changes(article, _clean_article(dict(data)))
    if changes:
        article.save()
        audit_record(actor=actor, action="article.update", instance=article, changes=changes)
    return article


def _set_published(*, actor: Any, article: Article, published: bool) -> Article:
    if actor is not None:
        require_write(actor, "articles")
    if article.published != published:
        article.published = published
        article.save(update_fields=["published", "updated_at"])
        audit_record(
            actor=actor,
            action="article.publish" if published else "article.unpublish",
            instance=article,
            changes={"published": [not published, published]},
        )
    return article


@transaction.atomic
def article_publish(*, actor: Any, article: Article) -> Article:
    """Make an article visible to every role; publishing a published article changes nothing."""
    return _set_published(actor=actor, article=article, published=True)


@transaction.atomic
def article_unpublish(*, actor: Any, article: Article) -> Article:
    """Take an article back to draft, visible only to those who write articles."""
    return _set_published(actor=actor, article=article, published=False)


@transaction.atomic
def article_delete(*, actor: Any, article: Article) -> None:
    """Delete an article; the audit entry keeps what it said."""
    if actor is not None:
        require_write(actor, "articles")
    changes = {name: [value, None] for name, value in snapshot(article).items()}
    audit_record(actor=actor, action="article.delete", instance=article, changes=changes)
    article.delete()
