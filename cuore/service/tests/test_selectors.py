"""Reads: ticket filters and search, the SLA state of a ticket, knowledge-base visibility and ranking."""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.core.errors import NotFound, ValidationFailed
from cuore.service import selectors, services

from .conftest import START

pytestmark = pytest.mark.django_db

MIN = dt.timedelta(minutes=1)


def _subjects(tickets) -> list[str]:
    return sorted(t.subject for t in tickets)


# ---- ticket list -----------------------------------------------------------------------------------------


@pytest.fixture
def desk(make_user, make_ticket, contact, account, other_account, gold_queue, default_policy, clock):
    """Four tickets in different states, queues, assignees and customers."""
    me = make_user(role="support", username="me")
    other = make_user(role="support", username="other")
    tickets = {
        "a": make_ticket("alpha printer", priority="urgent", assignee=me, contact=contact),
        "b": make_ticket("beta invoice", priority="low", assignee=other, queue=gold_queue),
        "c": make_ticket("gamma Printer cable", priority="high", account=other_account),
        "d": make_ticket("delta login", priority="normal"),
    }
    services.ticket_set_status(actor=None, ticket=tickets["b"], status="pending")
    clock.advance(hours=3)
    # "c" (high: 60 / 480) is answered and solved at 180 minutes: late on the first response only.
    services.ticket_set_status(actor=None, ticket=tickets["c"], status="solved")
    # "a" (urgent: 15 / 120) is late on both clocks; "d" (normal: 240 / 2400) is not late yet.
    services.ticket_sla_mark_breaches()
    return {"me": me, "other": other, **tickets}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["alpha printer", "beta invoice", "delta login", "gamma Printer cable"]),
        ({"status": ["new"]}, ["alpha printer", "delta login"]),
        ({"status": ["pending", "solved"]}, ["beta invoice", "gamma Printer cable"]),
        ({"priority": "urgent"}, ["alpha printer"]),
        ({"assignee_id": "me"}, ["alpha printer"]),
        ({"assignee_id": "none"}, ["delta login", "gamma Printer cable"]),
        ({"breached": True}, ["alpha printer", "gamma Printer cable"]),
        ({"breached": False}, ["beta invoice", "delta login"]),
        ({"q": "printer"}, ["alpha printer", "gamma Printer cable"]),
        ({"q": "PRINTER cab"}, ["gamma Printer cable"]),
        ({"q": "nothing like it"}, []),
    ],
)
def test_ticket_list_filters(desk, filters, expected):
    tickets = selectors.ticket_list(actor=desk["me"], **filters)

    assert _subjects(tickets) == expected


def test_ticket_list_by_ids(desk, contact, account, other_account, gold_queue):
    actor = desk["me"]

    assert _subjects(selectors.ticket_list(actor=actor, assignee_id=desk["other"].pk)) == ["beta invoice"]
    assert _subjects(selectors.ticket_list(actor=actor, queue_id=gold_queue.pk)) == ["beta invoice"]
    assert _subjects(selectors.ticket_list(actor=actor, contact_id=contact.pk)) == ["alpha printer"]
    assert _subjects(selectors.ticket_list(actor=actor, account_id=account.pk)) == ["alpha printer"]
    assert _subjects(selectors.ticket_list(actor=actor, account_id=other_account.pk)) == ["gamma Printer cable"]


def test_ticket_list_refuses_other_assignee_words(desk):
    with pytest.raises(ValidationFailed) as exc:
        selectors.ticket_list(actor=desk["me"], assignee_id="them")

    assert list(exc.value.errors) == ["assignee_id"]


def test_ticket_search_by_number(desk):
    a = desk["a"]
    digits = str(a.pk)

    assert [t.pk for t in selectors.ticket_list(actor=desk["me"], q=a.number)] == [a.pk]
    assert [t.pk for t in selectors.ticket_list(actor=desk["me"], q=a.number.lower())] == [a.pk]
    assert [t.pk for t in selectors.ticket_list(actor=desk["me"], q=digits)] == [a.pk]
    assert len(selectors.ticket_list(actor=desk["me"], q="TCK-")) == 4


@pytest.mark.parametrize("role", ["sales", "marketing"])
def test_roles_without_tickets_see_none(desk, make_user, role):
    user = make_user(role=role)

    with pytest.raises(NotFound):
        selectors.ticket_list(actor=user)
    assert list(selectors.ticket_visible(actor=user)) == []
    with pytest.raises(NotFound):
        selectors.ticket_get_for_actor(actor=user, ticket_id=desk["a"].pk)


def test_ticket_get_for_unknown_id_is_not_found(desk):
    with pytest.raises(NotFound):
        selectors.ticket_get_for_actor(actor=desk["me"], ticket_id=10**9)


# ---- SLA state ---------------------------------------------------------------------------------------------


def test_sla_status_counts_down_while_running(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="high")  # 60 / 480 minutes

    state = selectors.ticket_sla_status(ticket, START + 20 * MIN + dt.timedelta(seconds=30))

    assert state.first_response == selectors.SlaClock(
        due=START + 60 * MIN, stopped_at=None, remaining_minutes=39, breached=False
    )
    assert state.first_response.running is True
    assert state.resolution.remaining_minutes == 459
    assert state.resolution.breached is False


def test_sla_status_goes_negative_once_late(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="high")

    at_due = selectors.ticket_sla_status(ticket, START + 60 * MIN)
    late = selectors.ticket_sla_status(ticket, START + 75 * MIN)

    assert (at_due.first_response.remaining_minutes, at_due.first_response.breached) == (0, False)
    assert (late.first_response.remaining_minutes, late.first_response.breached) == (-15, True)


def test_sla_status_stops_at_first_response_and_solve(clock, default_policy, make_ticket):
    ticket = make_ticket(priority="high")
    clock.set(START + 50 * MIN)
    services.ticket_set_status(actor=None, ticket=ticket, status="open")
    clock.set(START + 500 * MIN)
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")

    state = selectors.ticket_sla_status(ticket, START + 10_000 * MIN)

    assert state.first_response == selectors.SlaClock(
        due=START + 60 * MIN, stopped_at=START + 50 * MIN, remaining_minutes=10, breached=False
    )
    assert state.resolution == selectors.SlaClock(
        due=START + 480 * MIN, stopped_at=START + 500 * MIN, remaining_minutes=-20, breached=True
    )
    assert (state.first_response.running, state.resolution.running) == (False, False)


def test_sla_status_without_due_times(clock, make_ticket):
    state = selectors.ticket_sla_status(make_ticket(), START + 10 * MIN)

    assert state.first_response == selectors.SlaClock(due=None, stopped_at=None, remaining_minutes=None, breached=False)
    assert state.resolution.running is False


# ---- knowledge base ----------------------------------------------------------------------------------------


@pytest.fixture
def kb(make_article):
    return {
        "body_only": make_article("Shipping times", "How to reset the router after a power cut.", published=True),
        "title_words": make_article("Router: how to reset it", "Steps.", published=True),
        "title_phrase": make_article("Reset router quickly", "Unplug it.", published=True),
        "draft": make_article("Reset router (draft)", "Work in progress.", published=False),
        "other": make_article("Invoices", "Where to find them.", published=True, is_faq=True, language="it"),
    }


def test_search_ranks_title_phrase_then_title_words_then_body(kb, make_user):
    reader = make_user(role="sales")

    found = selectors.article_list(actor=reader, q="reset router").order_by("search_rank", "-id")

    assert [a.title for a in found] == ["Reset router quickly", "Router: how to reset it", "Shipping times"]
    assert [a.search_rank for a in found] == [0, 1, 2]


def test_writers_see_drafts_readers_do_not(kb, make_user):
    writer, reader = make_user(role="support"), make_user(role="marketing")

    assert kb["draft"] in selectors.article_list(actor=writer, q="router")
    assert kb["draft"] not in selectors.article_list(actor=reader, q="router")
    assert list(selectors.article_list(actor=reader, published=False)) == []
    assert selectors.article_get_for_actor(actor=writer, article_id=kb["draft"].pk) == kb["draft"]
    with pytest.raises(NotFound):
        selectors.article_get_for_actor(actor=reader, article_id=kb["draft"].pk)


def test_article_filters(kb, make_user):
    admin = make_user(role="admin")

    assert list(selectors.article_list(actor=admin, language="IT")) == [kb["other"]]
    assert list(selectors.article_list(actor=admin, is_faq=True)) == [kb["other"]]
    assert list(selectors.article_list(actor=admin, published=False)) == [kb["draft"]]
