"""The order selectors: the category tree, product filters, order visibility through the customer, summaries."""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.errors import NotFound, ValidationFailed
from cuore.orders import selectors, services
from cuore.orders.tests.factories import make_category, make_order, make_product

pytestmark = pytest.mark.django_db


def test_the_category_tree_is_depth_first_with_paths(people):
    kitchen = make_category(name="Kitchen")
    garden = make_category(name="Garden")
    mugs = make_category(name="Mugs", parent=kitchen)
    cups = make_category(name="Cups", parent=kitchen)
    espresso = make_category(name="Espresso", parent=mugs)

    tree = selectors.category_tree(actor=people["support"])

    assert [(node.id, node.depth, node.path) for node in tree] == [
        (garden.pk, 0, "Garden"),
        (kitchen.pk, 0, "Kitchen"),
        (cups.pk, 1, "Kitchen / Cups"),
        (mugs.pk, 1, "Kitchen / Mugs"),
        (espresso.pk, 2, "Kitchen / Mugs / Espresso"),
    ]


def test_products_of_a_category_include_its_subcategories(people):
    kitchen = make_category(name="Kitchen")
    mugs = make_category(name="Mugs", parent=kitchen)
    espresso = make_category(name="Espresso", parent=mugs)
    garden = make_category(name="Garden")
    in_kitchen = make_product(category=kitchen)
    in_mugs = make_product(category=mugs)
    in_espresso = make_product(category=espresso)
    make_product(category=garden)
    make_product()

    def ids(category):
        return set(selectors.product_list(actor=people["rep"], category_id=category.pk).values_list("id", flat=True))

    assert ids(kitchen) == {in_kitchen.pk, in_mugs.pk, in_espresso.pk}
    assert ids(mugs) == {in_mugs.pk, in_espresso.pk}
    assert ids(espresso) == {in_espresso.pk}


def test_products_are_found_by_sku_or_name_prefix_and_active_flag(people):
    mug = make_product(sku="MUG-01", name="Tazza Città")
    pen = make_product(sku="PEN-01", name="Penna blu", active=False)
    make_product(sku="XMUG", name="Other")

    def ids(**filters):
        return set(selectors.product_list(actor=people["analyst"], **filters).values_list("id", flat=True))

    assert ids(q="mug") == {mug.pk}
    assert ids(q="MUG-0") == {mug.pk}
    assert ids(q="tazza citta") == {mug.pk}
    assert ids(q="Penna") == {pen.pk}
    assert ids(q="zzz") == set()
    assert ids(active=False) == {pen.pk}
    assert len(ids(active=True)) == 2


def test_a_sales_rep_sees_the_orders_of_their_and_their_teams_customers(people, team, other_team, product):
    rep, teammate, stranger = people["rep"], people["teammate"], people["stranger"]
    own_contact = make_order(contact=make_contact(owner=rep), products=[(product, 1)])
    team_contact = make_order(contact=make_contact(owner=teammate), products=[(product, 1)])
    unowned_team_contact = make_order(contact=make_contact(team=team), products=[(product, 1)])
    own_account = make_order(account=make_account(owner=rep), products=[(product, 1)])
    team_account = make_order(
        contact=make_contact(owner=stranger),
        account=make_account(owner=teammate),
        products=[(product, 1)],
    )
    strangers = make_order(contact=make_contact(owner=stranger), products=[(product, 1)])
    nobodys = make_order(account=make_account(), products=[(product, 1)])

    def visible(actor):
        return set(selectors.order_list(actor=actor).values_list("id", flat=True))

    everything = {
        o.pk for o in (own_contact, team_contact, unowned_team_contact, own_account, team_account, strangers, nobodys)
    }
    assert visible(rep) == {own_contact.pk, team_contact.pk, unowned_team_contact.pk, own_account.pk, team_account.pk}
    assert visible(stranger) == {team_account.pk, strangers.pk}
    assert visible(people["manager"]) == everything
    assert visible(people["analyst"]) == everything
    with pytest.raises(NotFound):
        selectors.order_get_for_actor(actor=rep, order_id=strangers.pk)
    with pytest.raises(NotFound):
        selectors.order_list(actor=people["support"])
    with pytest.raises(NotFound):
        selectors.order_get_for_actor(actor=people["marketing"], order_id=own_contact.pk)


def test_a_sales_rep_without_a_team_sees_only_their_customers(make_user, product):
    loner = make_user(role="sales")
    mine = make_order(contact=make_contact(owner=loner), products=[(product, 1)])
    make_order(contact=make_contact(), products=[(product, 1)])

    assert list(selectors.order_list(actor=loner).values_list("id", flat=True)) == [mine.pk]


def test_order_filters(people, customer, product):
    admin = people["admin"]
    account = make_account(name="Acme")
    early = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)
    late = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)
    web = make_order(contact=customer, products=[(product, 1)], placed_at=early, number="WEB-0001")
    phone = make_order(account=account, products=[(product, 1)], placed_at=late, channel="phone", number="TEL-0001")
    services.order_set_status(actor=None, order=phone, status="confirmed")

    def ids(**filters):
        return set(selectors.order_list(actor=admin, **filters).values_list("id", flat=True))

    assert ids(status="confirmed") == {phone.pk}
    assert ids(channel="web") == {web.pk}
    assert ids(contact_id=customer.pk) == {web.pk}
    assert ids(account_id=account.pk) == {phone.pk}
    assert ids(placed_after=dt.datetime(2026, 2, 1, tzinfo=dt.UTC)) == {phone.pk}
    assert ids(placed_before=dt.datetime(2026, 2, 1, tzinfo=dt.UTC)) == {web.pk}
    assert ids(placed_after=early, placed_before=late) == {web.pk}
    assert ids(q="web-") == {web.pk}
    assert ids(q="TEL") == {phone.pk}
    assert ids(q="ORD") == set()
    with pytest.raises(ValidationFailed) as naive:
        ids(placed_after=dt.datetime(2026, 2, 1))
    assert naive.value.errors == {"placed_after": "must include a time zone"}


def test_order_summary_per_currency_counts_sold_orders_only(people, customer):
    mug = make_product(price="19.99", cost="7.50")
    dollar_mug = make_product(price="25.00", cost="10.00", currency="USD")
    first = make_order(contact=customer, products=[(mug, 2)], placed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    second = make_order(contact=customer, products=[(mug, 1)], placed_at=dt.datetime(2026, 2, 1, tzinfo=dt.UTC))
    dollars = make_order(contact=customer, products=[(dollar_mug, 1)])
    make_order(contact=customer, products=[(mug, 5)])  # still a draft: not sold
    for order in (first, second, dollars):
        services.order_set_status(actor=None, order=order, status="confirmed")

    summary = selectors.order_summary(actor=people["rep"], contact_id=customer.pk)

    assert [(s.currency, s.orders, str(s.total), str(s.margin)) for s in summary] == [
        ("EUR", 2, "59.97", "37.47"),
        ("USD", 1, "25.00", "15.00"),
    ]
    assert (summary[0].first_placed_at, summary[0].last_placed_at) == (first.placed_at, second.placed_at)
    with pytest.raises(NotFound):
        selectors.order_summary(actor=people["stranger"], contact_id=customer.pk)


def test_the_customer_names_of_a_page_are_those_the_actor_may_see(people, team, other_team):
    mine = make_contact(first_name="Anna", last_name="Mia", owner=people["rep"])
    theirs = make_contact(first_name="Bruno", last_name="Altro", owner=people["stranger"])
    acme = make_account(name="Acme", owner=people["rep"])
    zeta = make_account(name="Zeta", owner=people["stranger"])

    contacts, accounts = selectors.order_customer_names(
        actor=people["rep"], contact_ids=[mine.pk, theirs.pk, None], account_ids=[acme.pk, zeta.pk]
    )
    everything = selectors.order_customer_names(
        actor=people["analyst"], contact_ids=[mine.pk, theirs.pk], account_ids=[acme.pk, zeta.pk]
    )

    assert contacts == {mine.pk: "Anna Mia"} and accounts == {acme.pk: "Acme"}
    assert everything == ({mine.pk: "Anna Mia", theirs.pk: "Bruno Altro"}, {acme.pk: "Acme", zeta.pk: "Zeta"})


def test_item_counts_sum_the_units_of_each_order(customer):
    two_lines = make_order(contact=customer, products=[(make_product(), 2), (make_product(), 3)])
    one_line = make_order(contact=customer)

    assert selectors.order_item_counts(order_ids=[two_lines.pk, one_line.pk]) == {two_lines.pk: 5, one_line.pk: 1}
