"""Service-layer rules: SLA arithmetic, the ticket workflow, breach flags, ratings, policies and articles."""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cuore.core.models import AuditEntry
from cuore.service import services
from cuore.service.models import Article, SlaPolicy, SlaTarget, Ticket
from cuore.service.services import TargetMinutes

from .conftest import DEFAULT_MINUTES, START, targets_of

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)
SEC = dt.timedelta(seconds=1)


# ---- creation, numbering and due times ---------------------------------------------------------------


def test_ticket_gets_number_from_its_id_and_due_times_from_default_policy(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="normal")

    ticket.refresh_from_db()
    assert ticket.number == f"TCK-{ticket.pk:06d}"
    assert ticket.created_at == START
    assert ticket.first_response_due == START + 240 * MIN
    assert ticket.resolution_due == START + 2400 * MIN
    assert ticket.status == "new"
    assert (ticket.first_response_breached, ticket.resolution_breached) == (False, False)


def test_numbers_are_unique_and_sequential(default_policy, make_ticket):
    first, second = make_ticket(), make_ticket()

    assert first.number != second.number
    assert [first.number, second.number] == [f"TCK-{first.pk:06d}", f"TCK-{first.pk + 1:06d}"]


@pytest.mark.parametrize(
    ("priority", "first", "resolution"), [("low", 120, 1440), ("normal", 60, 720), ("high", 30, 240), ("urgent", 5, 60)]
)
def test_queue_policy_wins_over_default(clock, default_policy, gold_queue, make_ticket, priority, first, resolution):
    ticket = make_ticket(priority=priority, queue=gold_queue)

    assert (ticket.first_response_due, ticket.resolution_due) == (START + first * MIN, START + resolution * MIN)


def test_queue_without_policy_uses_default_policy(clock, default_policy, plain_queue, make_ticket):
    ticket = make_ticket(priority="urgent", queue=plain_queue)

    assert (ticket.first_response_due, ticket.resolution_due) == (START + 15 * MIN, START + 120 * MIN)


def test_without_any_policy_there_are_no_due_times(clock, make_ticket):
    ticket = make_ticket(priority="high")

    assert (ticket.first_response_due, ticket.resolution_due) == (None, None)


def test_create_is_audited(make_user, default_policy):
    agent = make_user(role="support")

    ticket = services.ticket_create(actor=agent, subject="  No invoice  ", priority="high", channel="phone")

    entry = AuditEntry.objects.get(action="ticket.create")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (agent.pk, "service.ticket", str(ticket.pk))
    assert entry.changes["subject"] == [None, "No invoice"]
    assert entry.changes["number"] == [None, ticket.number]
    assert entry.changes["channel"] == [None, "phone"]


def test_contact_brings_its_primary_account(default_policy, contact, account, make_ticket):
    ticket = make_ticket(contact=contact)

    assert (ticket.contact_id, ticket.account_id) == (contact.pk, account.pk)


def test_explicit_account_is_kept(default_policy, contact, other_account, make_ticket):
    ticket = make_ticket(contact=contact, account=other_account)

    assert ticket.account_id == other_account.pk


@pytest.mark.parametrize("role", ["sales", "marketing", "analyst"])
def test_assignee_must_be_an_agent(make_user, make_ticket, role):
    with pytest.raises(ValidationFailed) as exc:
        make_ticket(assignee=make_user(role=role))

    assert exc.value.errors == {"assignee_id": "must be an active user with the support, manager or admin role"}
    assert not Ticket.objects.exists()


def test_inactive_agent_cannot_be_assigned(make_user, make_ticket):
    agent = make_user(role="support")
    agent.is_active = False
    agent.save()

    with pytest.raises(ValidationFailed) as exc:
        make_ticket(assignee=agent)

    assert list(exc.value.errors) == ["assignee_id"]


@pytest.mark.parametrize("role", ["support", "manager", "admin"])
def test_agents_can_be_assigned(make_user, make_ticket, role):
    agent = make_user(role=role)

    assert make_ticket(assignee=agent).assignee_id == agent.pk


def test_invalid_fields_are_reported_together(make_ticket):
    with pytest.raises(ValidationFailed) as exc:
        make_ticket(subject="  ", priority="asap", channel="fax", category="x" * 51)

    assert set(exc.value.errors) == {"subject", "priority", "channel", "category"}


def test_nul_characters_are_refused(make_ticket):
    with pytest.raises(ValidationFailed) as exc:
        make_ticket(subject="a\x00b")

    assert exc.value.errors == {"subject": "must not contain NUL characters"}


def test_placeholder_number_fits_the_column():
    assert len(services._placeholder_number()) <= Ticket._meta.get_field("number").max_length


def test_roles_without_ticket_rights_are_refused(make_user):
    with pytest.raises(Forbidden):
        services.ticket_create(actor=make_user(role="analyst"), subject="x")
    with pytest.raises(NotFound):
        services.ticket_create(actor=make_user(role="sales"), subject="x")


# ---- updates --------------------------------------------------------------------------------------------------


def test_new_priority_recomputes_due_times_from_creation(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="low")
    clock.advance(hours=3)

    services.ticket_update(actor=None, ticket=ticket, data={"priority": "urgent"})

    ticket.refresh_from_db()
    assert (ticket.first_response_due, ticket.resolution_due) == (START + 15 * MIN, START + 120 * MIN)
    # Three hours after creation both urgent targets are already missed.
    assert (ticket.first_response_breached, ticket.resolution_breached) == (True, True)
    entry = AuditEntry.objects.get(action="ticket.update")
    assert entry.changes["priority"] == ["low", "urgent"]
    assert entry.changes["first_response_due"] == [(START + 480 * MIN).isoformat(), (START + 15 * MIN).isoformat()]
    assert entry.changes["first_response_breached"] == [False, True]


def test_new_queue_recomputes_due_times_with_its_policy(clock, default_policy, gold_queue, make_ticket):
    ticket = make_ticket(priority="normal")
    clock.advance(minutes=10)

    services.ticket_update(actor=None, ticket=ticket, data={"queue": gold_queue})

    assert (ticket.first_response_due, ticket.resolution_due) == (START + 60 * MIN, START + 720 * MIN)
    assert (ticket.first_response_breached, ticket.resolution_breached) == (False, False)


def test_subject_change_leaves_due_times(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="normal")
    clock.advance(days=1)

    services.ticket_update(actor=None, ticket=ticket, data={"subject": "Printer on fire", "category": "hardware"})

    ticket.refresh_from_db()
    assert (ticket.subject, ticket.category) == ("Printer on fire", "hardware")
    assert ticket.first_response_due == START + 240 * MIN
    assert AuditEntry.objects.get(action="ticket.update").changes == {
        "subject": ["Printer jammed", "Printer on fire"],
        "category": ["", "hardware"],
    }


def test_linking_a_contact_later_brings_its_primary_account(make_ticket, contact, account):
    ticket = make_ticket()

    services.ticket_update(actor=None, ticket=ticket, data={"contact": contact})

    ticket.refresh_from_db()
    assert (ticket.contact_id, ticket.account_id) == (contact.pk, account.pk)


def test_update_refuses_bad_assignee_and_unknown_fields(make_user, make_ticket):
    ticket = make_ticket()

    with pytest.raises(ValidationFailed) as bad_assignee:
        services.ticket_update(actor=None, ticket=ticket, data={"assignee": make_user(role="sales")})
    with pytest.raises(ValidationFailed) as unknown:
        services.ticket_update(actor=None, ticket=ticket, data={"status": "closed", "number": "X"})

    assert list(bad_assignee.value.errors) == ["assignee_id"]
    assert unknown.value.errors == {"number": "cannot be changed", "status": "cannot be changed"}


def test_closed_ticket_cannot_be_edited(make_ticket):
    ticket = make_ticket()
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    services.ticket_set_status(actor=None, ticket=ticket, status="closed")

    with pytest.raises(Conflict) as exc:
        services.ticket_update(actor=None, ticket=ticket, data={"subject": "Again"})

    assert exc.value.field == "status"
    assert Ticket.objects.get().subject == "Printer jammed"


# ---- the workflow -----------------------------------------------------------------------------------------------

PATH_TO = {
    "new": [],
    "open": ["open"],
    "pending": ["pending"],
    "solved": ["solved"],
    "closed": ["solved", "closed"],
}
ALLOWED = {
    ("new", "open"),
    ("new", "pending"),
    ("new", "solved"),
    ("open", "pending"),
    ("open", "solved"),
    ("pending", "open"),
    ("pending", "solved"),
    ("solved", "open"),
    ("solved", "closed"),
}
ALL_PAIRS = [(a, b) for a in PATH_TO for b in PATH_TO]


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS)
def test_transitions(make_ticket, source, target):
    ticket = make_ticket()
    for step in PATH_TO[source]:
        services.ticket_set_status(actor=None, ticket=ticket, status=step)

    if (source, target) in ALLOWED:
        services.ticket_set_status(actor=None, ticket=ticket, status=target)
        assert Ticket.objects.get().status == target
    else:
        with pytest.raises(Conflict) as exc:
            services.ticket_set_status(actor=None, ticket=ticket, status=target)
        assert exc.value.reason.startswith(f"A ticket cannot go from {source} to {target} ")
        assert exc.value.field == "status"
        assert Ticket.objects.get().status == source


def test_unknown_status_is_422(make_ticket):
    with pytest.raises(ValidationFailed) as exc:
        services.ticket_set_status(actor=None, ticket=make_ticket(), status="archived")

    assert list(exc.value.errors) == ["status"]


def test_leaving_new_records_first_response_once(clock, default_policy, make_ticket):
    ticket = make_ticket()
    opened_at = clock.advance(minutes=30)
    services.ticket_set_status(actor=None, ticket=ticket, status="open")
    clock.advance(minutes=30)

    services.ticket_set_status(actor=None, ticket=ticket, status="pending")
    services.ticket_record_first_response(actor=None, ticket=ticket)

    ticket.refresh_from_db()
    assert ticket.first_response_at == opened_at
    assert ticket.first_response_breached is False
    assert AuditEntry.objects.filter(action="ticket.first_response").count() == 0


def test_recorded_first_response_is_not_overwritten_by_leaving_new(clock, default_policy, make_ticket):
    ticket = make_ticket()
    answered_at = clock.advance(minutes=5)
    services.ticket_record_first_response(actor=None, ticket=ticket)
    clock.advance(minutes=500)

    services.ticket_set_status(actor=None, ticket=ticket, status="open")

    ticket.refresh_from_db()
    assert ticket.first_response_at == answered_at
    assert ticket.first_response_breached is False
    entry = AuditEntry.objects.get(action="ticket.first_response")
    assert entry.changes == {"first_response_at": [None, answered_at.isoformat()]}


@pytest.mark.parametrize(("offset", "breached"), [(-SEC, False), (dt.timedelta(0), False), (SEC, True)])
def test_first_response_breach_on_both_sides_of_due(clock, default_policy, make_ticket, offset, breached):
    ticket = make_ticket(priority="high")  # first response due in 60 minutes
    clock.set(START + 60 * MIN + offset)

    services.ticket_record_first_response(actor=None, ticket=ticket)

    ticket.refresh_from_db()
    assert ticket.first_response_at == START + 60 * MIN + offset
    assert ticket.first_response_breached is breached


@pytest.mark.parametrize(("offset", "breached"), [(-SEC, False), (dt.timedelta(0), False), (SEC, True)])
def test_resolution_breach_on_both_sides_of_due(clock, default_policy, make_ticket, offset, breached):
    ticket = make_ticket(priority="high")  # resolution due in 480 minutes
    clock.set(START + 10 * MIN)
    services.ticket_set_status(actor=None, ticket=ticket, status="open")
    clock.set(START + 480 * MIN + offset)

    services.ticket_set_status(actor=None, ticket=ticket, status="solved")

    ticket.refresh_from_db()
    assert ticket.solved_at == START + 480 * MIN + offset
    assert ticket.resolution_breached is breached
    assert ticket.first_response_breached is False


def test_solving_a_new_ticket_records_first_response_and_solve(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="urgent")  # 15 / 120 minutes
    done = clock.advance(minutes=20)

    services.ticket_set_status(actor=None, ticket=ticket, status="solved")

    ticket.refresh_from_db()
    assert (ticket.first_response_at, ticket.solved_at) == (done, done)
    assert (ticket.first_response_breached, ticket.resolution_breached) == (True, False)
    entry = AuditEntry.objects.get(action="ticket.set_status")
    assert entry.changes == {
        "status": ["new", "solved"],
        "first_response_at": [None, done.isoformat()],
        "solved_at": [None, done.isoformat()],
        "first_response_breached": [False, True],
    }


def test_reopen_clears_solved_at_and_restarts_the_resolution_clock(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="urgent")  # resolution due at START + 120 minutes
    clock.advance(minutes=60)
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    clock.set(START + 121 * MIN)

    services.ticket_set_status(actor=None, ticket=ticket, status="open")

    ticket.refresh_from_db()
    assert (ticket.status, ticket.solved_at) == ("open", None)
    # The resolution clock runs again and is already past its due time.
    assert ticket.resolution_breached is True


def test_closing_records_closed_at(clock, make_ticket):
    ticket = make_ticket()
    solved = clock.advance(hours=1)
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    closed = clock.advance(days=3)

    services.ticket_set_status(actor=None, ticket=ticket, status="closed")

    ticket.refresh_from_db()
    assert (ticket.solved_at, ticket.closed_at) == (solved, closed)


def test_status_change_uses_state_stored_not_stale_copy(make_ticket):
    ticket = make_ticket()
    stale = Ticket.objects.get(pk=ticket.pk)
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")
    services.ticket_set_status(actor=None, ticket=ticket, status="closed")

    with pytest.raises(Conflict):
        services.ticket_set_status(actor=None, ticket=stale, status="open")

    assert Ticket.objects.get().status == "closed"


def test_at_before_creation_is_refused(make_ticket):
    ticket = make_ticket()

    with pytest.raises(ValidationFailed) as exc:
        services.ticket_record_first_response(actor=None, ticket=ticket, at=ticket.created_at - SEC)

    assert list(exc.value.errors) == ["at"]


# ---- satisfaction ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status_path", [["open"], ["pending"], []])
def test_rating_an_unsolved_ticket_is_a_conflict(make_ticket, status_path):
    ticket = make_ticket()
    for step in status_path:
        services.ticket_set_status(actor=None, ticket=ticket, status=step)

    with pytest.raises(Conflict) as exc:
        services.ticket_rate(actor=None, ticket=ticket, rating=5)

    assert exc.value.field == "status"
    assert Ticket.objects.get().satisfaction_rating is None


@pytest.mark.parametrize("rating", [0, 6, -1, True])
def test_rating_outside_one_to_five_is_422(make_ticket, rating):
    ticket = make_ticket()
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")

    with pytest.raises(ValidationFailed) as exc:
        services.ticket_rate(actor=None, ticket=ticket, rating=rating)

    assert list(exc.value.errors) == ["rating"]


@pytest.mark.parametrize("path", [["solved"], ["solved", "closed"]])
def test_rating_a_solved_or_closed_ticket(make_user, make_ticket, path):
    agent = make_user(role="support")
    ticket = make_ticket()
    for step in path:
        services.ticket_set_status(actor=None, ticket=ticket, status=step)

    services.ticket_rate(actor=agent, ticket=ticket, rating=4, comment=" Quick and kind ")

    ticket.refresh_from_db()
    assert (ticket.satisfaction_rating, ticket.satisfaction_comment) == (4, "Quick and kind")
    entry = AuditEntry.objects.get(action="ticket.rate")
    assert entry.actor_id == agent.pk
    assert entry.changes == {"satisfaction_rating": [None, 4], "satisfaction_comment": ["", "Quick and kind"]}


# ---- the breach job -----------------------------------------------------------------------------------------


def test_mark_breaches_flags_only_open_tickets_past_due(clock, default_policy, make_ticket):
    late_first = make_ticket(subject="no answer", priority="urgent")  # 15 / 120
    answered = make_ticket(subject="answered", priority="urgent")
    clock.advance(minutes=10)
    services.ticket_set_status(actor=None, ticket=answered, status="open")
    solved = make_ticket(subject="solved", priority="urgent")  # created at +10: due +25 / +130
    services.ticket_set_status(actor=None, ticket=solved, status="solved")
    not_yet = make_ticket(subject="later", priority="low")
    clock.set(START + 121 * MIN)
    fresh = make_ticket(subject="fresh", priority="urgent")

    counts = services.ticket_sla_mark_breaches()

    assert counts == {"first_response": 1, "resolution": 2}
    flags = {
        t.subject: (t.first_response_breached, t.resolution_breached)
        for t in Ticket.objects.filter(pk__in=[late_first.pk, answered.pk, solved.pk, not_yet.pk, fresh.pk])
    }
    assert flags == {
        "no answer": (True, True),
        "answered": (False, True),
        "solved": (False, False),
        "later": (False, False),
        "fresh": (False, False),
    }
    entries = AuditEntry.objects.filter(action="ticket.sla_breach").order_by("id")
    assert [(e.object_id, e.changes, e.actor_label) for e in entries] == [
        (str(late_first.pk), {"first_response_breached": [False, True]}, "system"),
        (str(late_first.pk), {"resolution_breached": [False, True]}, "system"),
        (str(answered.pk), {"resolution_breached": [False, True]}, "system"),
    ]


def test_mark_breaches_counts_nothing_twice_and_respects_the_due_instant(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="urgent")

    at_due = services.ticket_sla_mark_breaches(now=START + 15 * MIN)
    after_due = services.ticket_sla_mark_breaches(now=START + 15 * MIN + SEC)
    again = services.ticket_sla_mark_breaches(now=START + 15 * MIN + SEC)

    assert at_due == {"first_response": 0, "resolution": 0}
    assert after_due == {"first_response": 1, "resolution": 0}
    assert again == {"first_response": 0, "resolution": 0}
    ticket.refresh_from_db()
    assert (ticket.first_response_breached, ticket.resolution_breached) == (True, False)


def test_mark_breaches_is_set_based(clock, default_policy, make_ticket, django_assert_num_queries):
    for _ in range(7):
        make_ticket(priority="urgent")
    clock.advance(hours=3)

    # Per flag: one SELECT of the ids, one UPDATE, one bulk INSERT of audit entries; plus the savepoint pair.
    with django_assert_num_queries(8):
        counts = services.ticket_sla_mark_breaches()

    assert counts == {"first_response": 7, "resolution": 7}


def test_mark_breaches_works_through_batches(clock, default_policy, make_ticket, monkeypatch):
    monkeypatch.setattr(services, "BREACH_BATCH", 3)
    for _ in range(7):
        make_ticket(priority="urgent")
    clock.advance(hours=3)

    counts = services.ticket_sla_mark_breaches()

    assert counts == {"first_response": 7, "resolution": 7}
    assert Ticket.objects.filter(first_response_breached=True, resolution_breached=True).count() == 7
    assert AuditEntry.objects.filter(action="ticket.sla_breach").count() == 14


# ---- SLA policies and queues ----------------------------------------------------------------------------------


def test_policy_with_resolution_before_first_response_is_422(db):
    minutes = dict(DEFAULT_MINUTES, normal=(240, 200))

    with pytest.raises(ValidationFailed) as exc:
        services.sla_policy_create(actor=None, name="Broken", targets=targets_of(minutes))

    assert exc.value.errors == {
        "targets.1.resolution_minutes": "must be at least the first response time (240 minutes)"
    }
    assert not SlaPolicy.objects.exists()


def test_policy_needs_every_priority_once(db):
    partial = [TargetMinutes("low", 10, 20), TargetMinutes("high", 5, 10)]
    doubled = [*targets_of(DEFAULT_MINUTES), TargetMinutes("low", 1, 2)]

    with pytest.raises(ValidationFailed) as missing:
        services.sla_policy_create(actor=None, name="Partial", targets=partial)
    with pytest.raises(ValidationFailed) as twice:
        services.sla_policy_create(actor=None, name="Twice", targets=doubled)

    assert missing.value.errors == {"targets": "must give one target for each priority; missing: normal, urgent"}
    assert twice.value.errors == {"targets.4.priority": "appears more than once"}


@pytest.mark.parametrize("minutes", [0, -5, 10**10])
def test_policy_minutes_must_be_in_range(db, minutes):
    targets = targets_of(dict(DEFAULT_MINUTES, low=(minutes, 4800)))

    with pytest.raises(ValidationFailed) as exc:
        services.sla_policy_create(actor=None, name="Odd", targets=targets)

    assert list(exc.value.errors) == ["targets.0.first_response_minutes"]


def test_new_default_policy_takes_the_flag_from_the_old_one(default_policy, make_user):
    admin = make_user(role="admin")

    newer = services.sla_policy_create(actor=admin, name="Newer", is_default=True, targets=targets_of(DEFAULT_MINUTES))

    default_policy.refresh_from_db()
    assert (default_policy.is_default, newer.is_default) == (False, True)
    assert list(AuditEntry.objects.filter(action="sla_policy.update").values_list("object_id", "changes")) == [
        (str(default_policy.pk), {"is_default": [True, False]})
    ]


def test_policy_update_replaces_targets_and_audits_them(default_policy, make_user):
    manager = make_user(role="manager")
    new_minutes = dict(DEFAULT_MINUTES, urgent=(10, 90))

    services.sla_policy_update(
        actor=manager, policy=default_policy, data={"name": "Standard 2"}, targets=targets_of(new_minutes)
    )

    rows = SlaTarget.objects.filter(policy=default_policy).values_list("priority", "first_response_minutes")
    assert dict(rows) == {"low": 480, "normal": 240, "high": 60, "urgent": 10}
    changes = AuditEntry.objects.get(action="sla_policy.update").changes
    assert changes["name"] == ["Standard", "Standard 2"]
    assert changes["targets"][0][3] == ["urgent", 15, 120]
    assert changes["targets"][1][3] == ["urgent", 10, 90]


def test_policy_and_queue_names_are_unique(default_policy, plain_queue):
    with pytest.raises(ValidationFailed) as policy:
        services.sla_policy_create(actor=None, name="standard", targets=targets_of(DEFAULT_MINUTES))
    with pytest.raises(ValidationFailed) as queue:
        services.queue_create(actor=None, name="GENERAL")

    assert policy.value.errors == {"name": "an SLA policy with this name already exists"}
    assert queue.value.errors == {"name": "a queue with this name already exists"}


@pytest.mark.parametrize(("role", "error"), [("support", Forbidden), ("analyst", Forbidden), ("sales", NotFound)])
def test_only_admins_and_managers_configure_service(make_user, role, error):
    with pytest.raises(error):
        services.queue_create(actor=make_user(role=role), name="Mine")


def test_queue_update_is_audited(plain_queue, gold_policy, make_user, team):
    manager = make_user(role="manager")

    services.queue_update(actor=manager, queue=plain_queue, data={"sla_policy": gold_policy, "team": team})

    entry = AuditEntry.objects.get(action="queue.update")
    assert entry.changes == {"sla_policy": [None, gold_policy.pk], "team": [None, team.pk]}


# ---- knowledge base ---------------------------------------------------------------------------------------------


def test_article_lifecycle_is_audited(make_user):
    writer = make_user(role="support")

    article = services.article_create(actor=writer, title="Reset a password", body="Open settings.", language="IT")
    services.article_update(actor=writer, article=article, data={"title": "Reset your password"})
    services.article_publish(actor=writer, article=article)
    services.article_publish(actor=writer, article=article)
    services.article_unpublish(actor=writer, article=article)
    article_id = article.pk
    services.article_delete(actor=writer, article=article)

    assert not Article.objects.exists()
    actions = list(
        AuditEntry.objects.filter(object_id=str(article_id), object_type="service.article")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["article.create", "article.update", "article.publish", "article.unpublish", "article.delete"]
    created = AuditEntry.objects.get(action="article.create").changes
    assert (created["language"], created["author"]) == ([None, "it"], [None, writer.pk])
    assert AuditEntry.objects.get(action="article.delete").changes["title"] == ["Reset your password", None]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": " "}, "title"),
        ({"body": ""}, "body"),
        ({"language": "english!"}, "language"),
        ({"is_faq": "y"}, "is_faq"),
    ],
)
def test_article_validation(make_article, data, field):
    with pytest.raises(ValidationFailed) as exc:
        services.article_update(actor=None, article=make_article("Title"), data=data)

    assert list(exc.value.errors) == [field]


@pytest.mark.parametrize("role", ["sales", "marketing", "analyst"])
def test_readers_cannot_write_articles(make_user, role):
    with pytest.raises(Forbidden):
        services.article_create(actor=make_user(role=role), title="T", body="B")
