"""The account timeline, and what timeline entries carry for a page to show."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.errors import ValidationFailed
from cuore.interactions import selectors
from cuore.interactions.tests.factories import T0, make_interaction, make_stage_change, make_ticket
from cuore.orders.tests.factories import make_order, make_product
from cuore.sales.tests.factories import make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def keys(entries) -> list[tuple[str, int]]:
    return [(entry.kind, entry.id) for entry in entries]


@pytest.fixture
def account_history(rep):
    """An account with one entry of each kind, plus records of one of its people that are not the account's."""
    account = make_account(owner=rep)
    person = make_contact(owner=rep)
    deal = make_deal(stage=stage_of(make_pipeline(), "Lead"), owner=rep, account=account, name="Fleet renewal")
    rows = {
        "email": make_interaction(account=account, contact=person, channel="email", occurred_at=at(0)),
        "order": make_order(account=account, placed_at=at(1)),
        "ticket": make_ticket(account=account, created_at=at(2)),
        "deal": make_stage_change(deal=deal, at=at(3)),
        "phone": make_interaction(account=account, channel="phone", direction="out", occurred_at=at(4)),
    }
    # the person's own records, not linked to the account: on their timeline, not the account's
    make_interaction(contact=person, occurred_at=at(5))
    make_order(contact=person, placed_at=at(5))
    # another account's
    other = make_account(owner=rep)
    make_interaction(account=other, occurred_at=at(6))
    make_order(account=other, placed_at=at(6))
    return account, deal, rows


EXPECTED = ["phone", "deal", "ticket", "order", "email"]


def expected(rows, *names) -> list[tuple[str, int]]:
    kinds = {"email": "interaction", "phone": "interaction"}
    return [(kinds.get(name, name), rows[name].id) for name in names]


def test_the_account_timeline_merges_the_account_s_own_records_newest_first(manager, account_history):
    account, deal, rows = account_history

    entries, next_cursor = selectors.account_timeline(actor=manager, account=account)

    assert keys(entries) == expected(rows, *EXPECTED)
    assert next_cursor is None


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5])
def test_the_account_timeline_pages_every_entry_once(manager, account_history, limit):
    account, deal, rows = account_history

    seen, cursor = [], None
    for _page in range(10):
        entries, cursor = selectors.account_timeline(actor=manager, account=account, cursor=cursor, limit=limit)
        seen += keys(entries)
        if cursor is None:
            break

    assert seen == expected(rows, *EXPECTED)


def test_the_account_timeline_filters_by_channel(manager, account_history):
    account, deal, rows = account_history

    def kept(*channels):
        return keys(selectors.account_timeline(actor=manager, account=account, channels=set(channels))[0])

    assert kept("email") == expected(rows, "email")
    assert kept("order", "deal") == expected(rows, "deal", "order")
    assert kept("letter") == []


@pytest.mark.parametrize(
    ("role", "kinds"),
    [
        ("admin", {"interaction", "order", "ticket", "deal"}),
        ("manager", {"interaction", "order", "ticket", "deal"}),
        ("analyst", {"interaction", "order", "ticket", "deal"}),
        ("sales", {"interaction", "order", "deal"}),
    ],
)
def test_each_role_sees_the_kinds_it_may_read_on_an_account(make_user, account_history, rep, role, kinds):
    account, deal, rows = account_history
    actor = rep if role == "sales" else make_user(role=role)

    entries, _ = selectors.account_timeline(actor=actor, account=account, limit=100)

    assert {entry.kind for entry in entries} == kinds


def test_an_account_timeline_shows_a_rep_only_their_team_s_deal_changes(rep, stranger, account_history):
    account, deal, rows = account_history
    theirs = make_deal(stage=stage_of(make_pipeline(), "Lead"), owner=stranger, account=account)
    make_stage_change(deal=theirs, at=at(7))

    for_rep = keys(selectors.account_timeline(actor=rep, account=account, channels={"deal"})[0])

    assert for_rep == expected(rows, "deal")


def test_the_account_timeline_checks_its_cursor_and_limit(manager, account_history):
    account, deal, rows = account_history

    with pytest.raises(ValidationFailed) as bad_cursor:
        selectors.account_timeline(actor=manager, account=account, cursor="garbage!!")
    with pytest.raises(ValidationFailed) as bad_limit:
        selectors.account_timeline(actor=manager, account=account, limit=0)

    assert list(bad_cursor.value.errors) == ["cursor"]
    assert list(bad_limit.value.errors) == ["limit"]


def test_entries_carry_what_a_page_shows(manager, rep):
    contact = make_contact(owner=rep)
    rep.first_name, rep.last_name = "Rita", "Rep"
    rep.save()
    deal = make_deal(stage=stage_of(make_pipeline(), "Proposal"), owner=rep, contact=contact)
    call = make_interaction(
        contact=contact, user=rep, channel="phone", direction="out", body="x" * 400, occurred_at=at(0)
    )
    anonymous = make_interaction(contact=contact, channel="email", occurred_at=at(0.5))
    order = make_order(contact=contact, products=[(make_product(price="12.50"), 2)], placed_at=at(1))
    ticket = make_ticket(contact=contact, created_at=at(2))
    change = make_stage_change(deal=deal, at=at(3), to_status="won")

    entries = {(e.kind, e.id): e for e in selectors.contact_timeline(actor=manager, contact=contact)[0]}

    logged = entries[("interaction", call.id)]
    assert (logged.direction, logged.author, logged.body) == ("out", "Rita Rep", "x" * 300)
    assert entries[("interaction", anonymous.id)].author == ""
    sold = entries[("order", order.id)]
    assert (sold.amount, sold.currency, sold.status) == (Decimal("25.00"), "EUR", "Draft")
    assert entries[("ticket", ticket.id)].status == "New"
    moved = entries[("deal", change.id)]
    assert (moved.stage, moved.status) == ("Proposal", "Won")
