"""Selectors of the interactions app: who sees which interaction, and the contact timeline."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.errors import NotFound, ValidationFailed
from cuore.interactions import selectors
from cuore.interactions.tests.factories import (
    T0,
    make_conversation,
    make_interaction,
    make_stage_change,
    make_ticket,
)
from cuore.orders.tests.factories import make_order
from cuore.sales.tests.factories import make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


def ids(queryset) -> set[int]:
    return set(queryset.values_list("id", flat=True))


# ---- visibility ----------------------------------------------------------------------------------


@pytest.fixture
def world(rep, teammate, stranger):
    """Interactions reached through every path of the TEAM scope, and some out of the rep's reach."""
    stranger_contact = make_contact(owner=stranger)
    return {
        "own_contact": make_interaction(contact=make_contact(owner=rep)),
        "team_contact": make_interaction(contact=make_contact(owner=teammate)),
        "own_account": make_interaction(account=make_account(owner=rep)),
        "team_account": make_interaction(account=make_account(owner=teammate)),
        # a contact without an owner that the team looks after
        "team_only": make_interaction(contact=make_contact(team=rep.team)),
        "logged_elsewhere": make_interaction(contact=stranger_contact, user=rep),
        "other_team": make_interaction(contact=stranger_contact, user=stranger),
        "other_team_account": make_interaction(account=make_account(owner=stranger)),
        "nobody_s": make_interaction(contact=make_contact()),
    }


VISIBLE_TO_REP = {"own_contact", "team_contact", "own_account", "team_account", "team_only", "logged_elsewhere"}


def test_a_sales_rep_sees_their_and_their_team_s_customers_and_what_they_logged(rep, world):
    visible = ids(selectors.interaction_list(actor=rep))

    assert visible == {world[name].id for name in VISIBLE_TO_REP}


def test_a_rep_of_another_team_sees_the_other_side(stranger, world):
    visible = ids(selectors.interaction_list(actor=stranger))

    assert visible == {world["logged_elsewhere"].id, world["other_team"].id, world["other_team_account"].id}


def test_a_rep_without_a_team_sees_only_their_own(make_user, world):
    loner = make_user(role="sales", team=None)
    theirs = make_interaction(contact=make_contact(owner=loner))

    assert ids(selectors.interaction_list(actor=loner)) == {theirs.id}


@pytest.mark.parametrize("role", ["admin", "manager", "support", "analyst"])
def test_the_other_reading_roles_see_every_interaction(make_user, world, role):
    assert ids(selectors.interaction_list(actor=make_user(role=role))) == {i.id for i in world.values()}


def test_marketing_sees_no_interactions(make_user, world):
    marketer = make_user(role="marketing")

    with pytest.raises(NotFound):
        selectors.interaction_list(actor=marketer)
    with pytest.raises(NotFound):
        selectors.interaction_get_for_actor(actor=marketer, interaction_id=world["nobody_s"].id)
    with pytest.raises(NotFound):
        selectors.conversation_list(actor=marketer)
    assert not selectors.interaction_visible(actor=marketer).exists()


def test_get_for_actor_follows_the_same_rule(rep, world):
    assert (
        selectors.interaction_get_for_actor(actor=rep, interaction_id=world["logged_elsewhere"].id)
        == (world["logged_elsewhere"])
    )
    with pytest.raises(NotFound):
        selectors.interaction_get_for_actor(actor=rep, interaction_id=world["other_team"].id)
    with pytest.raises(NotFound):
        selectors.interaction_get_for_actor(actor=rep, interaction_id=999_999)


def test_a_deactivated_user_sees_nothing(rep, world):
    rep.is_active = False

    with pytest.raises(NotFound):
        selectors.interaction_list(actor=rep)


# ---- filters -------------------------------------------------------------------------------------


def test_filter_by_a_visible_contact_gives_its_whole_history(rep, stranger):
    contact = make_contact(owner=rep)
    by_rep = make_interaction(contact=contact, user=rep)
    by_stranger = make_interaction(contact=contact, user=stranger)
    make_interaction(contact=make_contact(owner=rep))

    assert ids(selectors.interaction_list(actor=rep, contact_id=contact.id)) == {by_rep.id, by_stranger.id}


def test_filter_by_a_contact_the_actor_cannot_see_is_not_found(rep, stranger):
    hidden = make_contact(owner=stranger)
    # the rep logged something on it, which they see in their list, but the contact stays hidden
    make_interaction(contact=hidden, user=rep)

    with pytest.raises(NotFound):
        selectors.interaction_list(actor=rep, contact_id=hidden.id)
    with pytest.raises(NotFound):
        selectors.interaction_list(actor=rep, contact_id=999_999)


def test_filters_combine(rep, clock):
    contact, account = make_contact(owner=rep), make_account(owner=rep)
    ticket = make_ticket(contact=contact)
    deal = make_deal(stage=stage_of(make_pipeline(), "Lead"), owner=rep, contact=contact)
    order = make_order(contact=contact)
    conversation = make_conversation(contact=contact)
    early = make_interaction(contact=contact, channel="email", direction="in", occurred_at=T0)
    phone = make_interaction(contact=contact, channel="phone", direction="out", occurred_at=T0 + dt.timedelta(days=1))
    on_account = make_interaction(account=account, channel="email", direction="out", occurred_at=T0)
    on_ticket = make_interaction(contact=contact, ticket=ticket, occurred_at=T0 + dt.timedelta(days=2))
    on_deal = make_interaction(contact=contact, deal=deal, occurred_at=T0 + dt.timedelta(days=2))
    on_order = make_interaction(contact=contact, order=order, occurred_at=T0 + dt.timedelta(days=2))
    threaded = make_interaction(contact=contact, conversation=conversation, occurred_at=T0 + dt.timedelta(days=3))

    def found(**filters):
        return ids(selectors.interaction_list(actor=rep, **filters))

    assert found(channel="phone") == {phone.id}
    assert found(direction="out") == {phone.id, on_account.id}
    assert found(account_id=account.id) == {on_account.id}
    assert found(ticket_id=ticket.id) == {on_ticket.id}
    assert found(deal_id=deal.id) == {on_deal.id}
    assert found(order_id=order.id) == {on_order.id}
    assert found(conversation_id=conversation.id) == {threaded.id}
    # since is inclusive, until exclusive
    assert found(since=T0 + dt.timedelta(days=1), until=T0 + dt.timedelta(days=3)) == {
        phone.id,
        on_ticket.id,
        on_deal.id,
        on_order.id,
    }
    assert found(contact_id=contact.id, channel="email", until=T0 + dt.timedelta(days=1)) == {early.id}


def test_conversations_follow_their_contact(rep, stranger):
    mine = make_conversation(contact=make_contact(owner=rep))
    theirs = make_conversation(contact=make_contact(owner=stranger))

    assert ids(selectors.conversation_list(actor=rep)) == {mine.id}
    assert ids(selectors.conversation_list(actor=rep, contact_id=mine.contact_id)) == {mine.id}
    assert selectors.conversation_get_for_actor(actor=stranger, conversation_id=theirs.id) == theirs
    with pytest.raises(NotFound):
        selectors.conversation_get_for_actor(actor=rep, conversation_id=theirs.id)
    with pytest.raises(NotFound):
        selectors.conversation_list(actor=rep, contact_id=theirs.contact_id)


# ---- the timeline --------------------------------------------------------------------------------


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


@pytest.fixture
def history(rep):
    """A contact with interactions, orders, tickets and deal changes, four of them at the same moment."""
    contact = make_contact(owner=rep)
    deal = make_deal(stage=stage_of(make_pipeline(), "Lead"), owner=rep, contact=contact, name="Big one")
    rows = {
        "email_old": make_interaction(contact=contact, channel="email", subject="Hello", occurred_at=at(0)),
        "order_old": make_order(contact=contact, placed_at=at(1)),
        "ticket_old": make_ticket(contact=contact, created_at=at(2)),
        "deal_old": make_stage_change(deal=deal, at=at(3)),
        # the tie: two of each kind at the same moment
        "phone_tie_a": make_interaction(contact=contact, channel="phone", direction="out", occurred_at=at(5)),
        "email_tie_b": make_interaction(contact=contact, channel="email", occurred_at=at(5)),
        "order_tie_a": make_order(contact=contact, placed_at=at(5)),
        "order_tie_b": make_order(contact=contact, placed_at=at(5)),
        "ticket_tie_a": make_ticket(contact=contact, created_at=at(5)),
        "ticket_tie_b": make_ticket(contact=contact, created_at=at(5)),
        "deal_tie_a": make_stage_change(deal=deal, at=at(5)),
        "deal_tie_b": make_stage_change(deal=deal, at=at(5), to_status="won"),
        "sms_new": make_interaction(contact=contact, channel="sms", occurred_at=at(8)),
    }
    # someone else's history is not this contact's
    other = make_contact(owner=rep)
    make_interaction(contact=other, occurred_at=at(6))
    make_order(contact=other, placed_at=at(6))
    make_ticket(contact=other, created_at=at(6))
    return contact, deal, rows


def keys(entries) -> list[tuple[str, int]]:
    return [(entry.kind, entry.id) for entry in entries]


def expected(rows, *names) -> list[tuple[str, int]]:
    kinds = {"email": "interaction", "phone": "interaction", "sms": "interaction"}
    return [(kinds.get(name.split("_")[0], name.split("_")[0]), rows[name].id) for name in names]


# Newest first; at the same moment tickets, then orders, then interactions, then deal changes, newest id first.
FULL_ORDER = (
    "sms_new",
    "ticket_tie_b",
    "ticket_tie_a",
    "order_tie_b",
    "order_tie_a",
    "email_tie_b",
    "phone_tie_a",
    "deal_tie_b",
    "deal_tie_a",
    "deal_old",
    "ticket_old",
    "order_old",
    "email_old",
)


def test_the_timeline_merges_every_kind_newest_first(manager, history):
    contact, deal, rows = history

    entries, next_cursor = selectors.contact_timeline(actor=manager, contact=contact)

    assert keys(entries) == expected(rows, *FULL_ORDER)
    assert next_cursor is None


def test_timeline_entries_say_what_happened(manager, history):
    contact, deal, rows = history

    entries = {(e.kind, e.id): e for e in selectors.contact_timeline(actor=manager, contact=contact)[0]}

    email = entries[("interaction", rows["email_old"].id)]
    phone = entries[("interaction", rows["phone_tie_a"].id)]
    order = entries[("order", rows["order_old"].id)]
    ticket = entries[("ticket", rows["ticket_old"].id)]
    won = entries[("deal", rows["deal_tie_b"].id)]
    assert (email.at, email.channel, email.title, email.detail, email.object_id) == (
        at(0),
        "email",
        "Hello",
        "in: ",
        rows["email_old"].id,
    )
    assert (phone.channel, phone.title, phone.detail) == ("phone", "Phone", "out: ")
    assert (order.at, order.channel, order.title, order.object_id) == (
        at(1),
        "order",
        rows["order_old"].number,
        rows["order_old"].id,
    )
    assert (ticket.at, ticket.channel, ticket.title, ticket.detail) == (
        at(2),
        "ticket",
        f"{rows['ticket_old'].number} Printer jammed",
        "New · Normal",
    )
    assert (won.channel, won.title, won.detail, won.object_id) == ("deal", "Big one", "Lead · won", deal.id)


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 12, 13])
def test_paging_gives_every_entry_once_even_across_ties(manager, history, limit):
    contact, deal, rows = history

    seen, cursor, pages = [], None, 0
    while pages <= len(FULL_ORDER):  # a cursor that does not advance fails here instead of looping
        entries, cursor = selectors.contact_timeline(actor=manager, contact=contact, cursor=cursor, limit=limit)
        assert 1 <= len(entries) <= limit
        seen += keys(entries)
        pages += 1
        if cursor is None:
            break

    assert seen == expected(rows, *FULL_ORDER)
    assert len(set(seen)) == len(seen)
    assert pages == -(-len(FULL_ORDER) // limit)


def test_a_timeline_with_a_page_s_worth_of_entries_has_no_next_page(manager):
    contact = make_contact()
    for hour in range(3):
        make_interaction(contact=contact, occurred_at=at(hour))

    entries, next_cursor = selectors.contact_timeline(actor=manager, contact=contact, limit=3)

    assert (len(entries), next_cursor) == (3, None)


def test_an_entry_added_behind_the_cursor_does_not_come_back(manager, history):
    contact, deal, rows = history
    first, cursor = selectors.contact_timeline(actor=manager, contact=contact, limit=4)
    make_interaction(contact=contact, occurred_at=at(9))

    rest, _ = selectors.contact_timeline(actor=manager, contact=contact, cursor=cursor, limit=100)

    assert keys(first) + keys(rest) == expected(rows, *FULL_ORDER)


def test_the_channel_filter_keeps_the_channels_asked_for(manager, history):
    contact, deal, rows = history

    def kept(*channels):
        return keys(selectors.contact_timeline(actor=manager, contact=contact, channels=set(channels))[0])

    assert kept("email") == expected(rows, "email_tie_b", "email_old")
    assert kept("phone", "sms") == expected(rows, "sms_new", "phone_tie_a")
    assert kept("order") == expected(rows, "order_tie_b", "order_tie_a", "order_old")
    assert kept("ticket", "deal") == expected(
        rows, "ticket_tie_b", "ticket_tie_a", "deal_tie_b", "deal_tie_a", "deal_old", "ticket_old"
    )
    assert kept("email", "order") == expected(
        rows, "order_tie_b", "order_tie_a", "email_tie_b", "order_old", "email_old"
    )
    assert kept("letter") == []
    assert keys(selectors.contact_timeline(actor=manager, contact=contact, channels=set())[0]) == expected(
        rows, *FULL_ORDER
    )


def test_the_channel_filter_pages_too(manager, history):
    contact, deal, rows = history

    first, cursor = selectors.contact_timeline(actor=manager, contact=contact, channels={"order", "deal"}, limit=4)
    second, end = selectors.contact_timeline(
        actor=manager, contact=contact, channels={"order", "deal"}, cursor=cursor, limit=4
    )

    assert keys(first) == expected(rows, "order_tie_b", "order_tie_a", "deal_tie_b", "deal_tie_a")
    assert keys(second) == expected(rows, "deal_old", "order_old")
    assert end is None


@pytest.mark.parametrize(
    ("role", "kinds"),
    [
        ("admin", {"interaction", "order", "ticket", "deal"}),
        ("manager", {"interaction", "order", "ticket", "deal"}),
        ("analyst", {"interaction", "order", "ticket", "deal"}),
        ("support", {"interaction", "ticket"}),
        ("sales", {"interaction", "order", "deal"}),
        ("marketing", set()),
    ],
)
def test_each_role_sees_the_kinds_of_entry_it_may_read(users_by_role, history, role, kinds):
    contact, deal, rows = history

    entries, _ = selectors.contact_timeline(actor=users_by_role[role], contact=contact, limit=100)

    assert {entry.kind for entry in entries} == kinds


def test_a_rep_sees_only_the_deal_changes_of_their_team_s_deals(rep, stranger, history):
    contact, deal, rows = history
    their_deal = make_deal(stage=stage_of(make_pipeline(), "Lead"), owner=stranger, contact=contact)
    hidden = make_stage_change(deal=their_deal, at=at(7))

    for_rep = keys(selectors.contact_timeline(actor=rep, contact=contact, channels={"deal"})[0])
    for_stranger = keys(selectors.contact_timeline(actor=stranger, contact=contact, channels={"deal"})[0])

    assert for_rep == expected(rows, "deal_tie_b", "deal_tie_a", "deal_old")
    assert for_stranger == [("deal", hidden.id)]


def test_timeline_contact_lookup_follows_contact_visibility(rep, stranger, make_user):
    mine, theirs = make_contact(owner=rep), make_contact(owner=stranger)

    assert selectors.timeline_contact_for_actor(actor=rep, contact_id=mine.id) == mine
    # marketing sees contacts, so it reaches the (for it, empty) timeline
    assert selectors.timeline_contact_for_actor(actor=make_user(role="marketing"), contact_id=theirs.id) == theirs
    with pytest.raises(NotFound):
        selectors.timeline_contact_for_actor(actor=rep, contact_id=theirs.id)
    with pytest.raises(NotFound):
        selectors.timeline_contact_for_actor(actor=rep, contact_id=999_999)


def encoded(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        "x",
        encoded("just text"),
        encoded(42),
        encoded(["2026-03-02T09:00:00+00:00", "interaction"]),
        encoded(["2026-03-02T09:00:00+00:00", "meeting", 1]),
        encoded(["2026-03-02T09:00:00+00:00", "interaction", "1"]),
        encoded(["not a time", "order", 1]),
        encoded([None, "order", 1]),
        encoded([12, "order", 1]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_an_invalid_cursor_is_a_validation_error_on_cursor(manager, cursor):
    with pytest.raises(ValidationFailed) as raised:
        selectors.contact_timeline(actor=manager, contact=make_contact(), cursor=cursor)

    assert list(raised.value.errors) == ["cursor"]


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_limit_is_between_1_and_100(manager, limit):
    with pytest.raises(ValidationFailed) as raised:
        selectors.contact_timeline(actor=manager, contact=make_contact(), limit=limit)

    assert raised.value.errors == {"limit": "must be between 1 and 100"}


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_inclusive(manager, limit):
    contact = make_contact()
    for hour in range(101):
        make_interaction(contact=contact, occurred_at=at(hour))

    entries, next_cursor = selectors.contact_timeline(actor=manager, contact=contact, limit=limit)

    assert len(entries) == limit
    assert next_cursor is not None
