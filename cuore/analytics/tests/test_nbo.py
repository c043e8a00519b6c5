"""Next best offer: co-purchase rules, the offers and their reasons, on shops small enough to check by hand."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from django.utils import translation

from cuore.analytics import nbo, pipeline
from cuore.orders.tests.factories import make_category, make_product

AS_OF = dt.date(2025, 6, 30)

SHOES, SOCKS, BAGS, HATS, GADGETS = 10, 20, 30, 40, 50
TRAIL, ROAD, RUNNING_SOCKS, WOOL_SOCKS, BACKPACK, CAP, GADGET, GIFT_CARD = range(1, 9)
PRODUCTS = {
    TRAIL: ("Trail shoes", SHOES),
    ROAD: ("Road shoes", SHOES),
    RUNNING_SOCKS: ("Running socks", SOCKS),
    WOOL_SOCKS: ("Wool socks", SOCKS),
    BACKPACK: ("Backpack", BAGS),
    CAP: ("Cap", HATS),
    GADGET: ("Gadget", GADGETS),
    GIFT_CARD: ("Gift card", None),
}
CATEGORIES = {SHOES: "Shoes", SOCKS: "Socks", BAGS: "Bags", HATS: "Hats", GADGETS: "Gadgets"}

# Who bought what: 30 contacts, an order each. With 30 buyers a rule needs X bought by 5 contacts and X
# and Y together by 3.
#
# Products, buyers: Trail 10 (1-10), Road 4 (11-14), Running socks 9 (1-5, 11-14), Wool socks 5 (6, 7,
# 21-23), Backpack 9 (8-10, 15-20), Cap 6 (15-20), Gadget 4 (21-23, 25), Gift card 6 (24, 26-30).
# Together: Trail+Running socks 5, Trail+Wool socks 2, Trail+Backpack 3, Running socks+Road 4,
# Backpack+Cap 6, Wool socks+Gadget 3. The rules, best first:
#   Cap→Backpack 6/6, Backpack→Cap 6/9, Wool socks→Gadget 3/5, Running socks→Trail 5/9,
#   Trail→Running socks 5/10, Running socks→Road 4/9, Backpack→Trail 3/9, Trail→Backpack 3/10.
# Not rules: Trail→Wool socks (together 2), Road→… and Gadget→… (4 buyers), Gift card (bought alone).
#
# Categories, buyers: Shoes 14 (1-14), Socks 14 (1-7, 11-14, 21-23), Bags 9, Hats 6, Gadgets 4.
# Together: Shoes+Socks 11, Shoes+Bags 3, Bags+Hats 6, Socks+Gadgets 3. The rules: Hats→Bags 6/6,
# Shoes→Socks and Socks→Shoes 11/14, Bags→Hats 6/9, Bags→Shoes 3/9, Socks→Gadgets and Shoes→Bags 3/14
# (the same share: Gadgets has the higher lift, 3/14 ÷ 4/30 against 3/14 ÷ 9/30).
BASKETS: dict[int, list[int]] = {
    **{c: [TRAIL, RUNNING_SOCKS] for c in range(1, 6)},
    **{c: [TRAIL, WOOL_SOCKS] for c in (6, 7)},
    **{c: [TRAIL, BACKPACK] for c in (8, 9, 10)},
    **{c: [ROAD, RUNNING_SOCKS] for c in range(11, 15)},
    **{c: [BACKPACK, CAP] for c in range(15, 21)},
    **{c: [WOOL_SOCKS, GADGET] for c in (21, 22, 23)},
    **{c: [GIFT_CARD] for c in (24, 26, 27, 28, 29, 30)},
    25: [GADGET],
}


def _offer(kind: str, item: int, because: int, share: float, buyers: int) -> dict:
    return {"kind": kind, "id": item, "because_kind": kind, "because_id": because, "share": share, "buyers": buyers}


EXPECTED = {
    # Bought Trail and Running socks: Road (via Running socks), Backpack (via Trail); Socks→Gadgets fills.
    **{
        c: [
            _offer("product", ROAD, RUNNING_SOCKS, 0.4444, 9),
            _offer("product", BACKPACK, TRAIL, 0.3, 10),
            _offer("category", GADGETS, SOCKS, 0.2143, 14),
        ]
        for c in range(1, 6)
    },
    **{
        c: [
            _offer("product", GADGET, WOOL_SOCKS, 0.6, 5),
            _offer("product", RUNNING_SOCKS, TRAIL, 0.5, 10),
            _offer("product", BACKPACK, TRAIL, 0.3, 10),
        ]
        for c in (6, 7)
    },
    # Socks and Hats, the only categories left, are those of the two product offers: no fill.
    **{
        c: [_offer("product", CAP, BACKPACK, 0.6667, 9), _offer("product", RUNNING_SOCKS, TRAIL, 0.5, 10)]
        for c in (8, 9, 10)
    },
    **{
        c: [
            _offer("product", TRAIL, RUNNING_SOCKS, 0.5556, 9),
            _offer("category", GADGETS, SOCKS, 0.2143, 14),
            _offer("category", BAGS, SHOES, 0.2143, 14),
        ]
        for c in range(11, 15)
    },
    **{c: [_offer("product", TRAIL, BACKPACK, 0.3333, 9)] for c in range(15, 21)},
    **{c: [_offer("category", SHOES, SOCKS, 0.7857, 14)] for c in (21, 22, 23)},
    **{c: [] for c in (24, 25, 26, 27, 28, 29, 30)},
}


def _warehouse(
    con: duckdb.DuckDBPyConnection,
    baskets: dict[int, list[int]],
    *,
    inactive: tuple[int, ...] | None = None,
    reverse: bool = False,
) -> None:
    """Products, categories, one order a contact with their basket's lines; ``inactive`` adds products.active."""
    products = [(pid, category, name) for pid, (name, category) in PRODUCTS.items()]
    con.execute("CREATE TABLE categories (id BIGINT, parent_id BIGINT, name VARCHAR)")
    con.executemany("INSERT INTO categories VALUES (?, NULL, ?)", list(CATEGORIES.items()))
    if inactive is None:
        con.execute("CREATE TABLE products (id BIGINT, category_id BIGINT, name VARCHAR)")
        con.executemany("INSERT INTO products VALUES (?, ?, ?)", products)
    else:
        con.execute("CREATE TABLE products (id BIGINT, category_id BIGINT, name VARCHAR, active BOOLEAN)")
        con.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?)", [(*row, row[0] not in inactive) for row in products]
        )
    orders, lines = [], []
    for contact, items in baskets.items():
        orders.append((contact, contact, AS_OF - dt.timedelta(days=contact)))
        lines += [(contact, item, 1, 1000, 400) for item in items]
    if reverse:
        orders.reverse()
        lines.reverse()
    con.execute("CREATE TABLE orders (id BIGINT, contact_id BIGINT, account_id BIGINT, placed_on DATE)")
    if orders:
        con.executemany("INSERT INTO orders VALUES (?, ?, NULL, ?)", orders)
    con.execute(
        "CREATE TABLE order_lines (order_id BIGINT, product_id BIGINT, quantity BIGINT, value_cents BIGINT, "
        "cost_cents BIGINT)"
    )
    if lines:
        con.executemany("INSERT INTO order_lines VALUES (?, ?, ?, ?, ?)", lines)
    con.execute("CREATE TABLE contact_accounts (contact_id BIGINT, account_id BIGINT)")


def _add_order(con, order_id: int, contact: int, day: dt.date, items: list[int]) -> None:
    con.execute("INSERT INTO orders VALUES (?, ?, NULL, ?)", [order_id, contact, day])
    con.executemany("INSERT INTO order_lines VALUES (?, ?, 1, 1000, 400)", [(order_id, item) for item in items])


def _run(con: duckdb.DuckDBPyConnection, as_of: dt.date = AS_OF) -> tuple[dict, dict[int, list[dict]]]:
    """The stages before the offers (orders, RFM), then the offers; its figures and each contact's offers."""
    runner = pipeline.DuckDBRunner(con)
    params = pipeline.Parameters(as_of=as_of)
    for step in pipeline.base_steps():
        runner.execute(step)
    runner.execute(pipeline.rfm_step("contact", params))
    figures = nbo.offer_stage(runner, params)
    rows = con.execute("SELECT customer_id, next_best_offers FROM contact_nbo ORDER BY customer_id").fetchall()
    return figures, {customer: json.loads(text) for customer, text in rows}


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_offers_are_the_best_rules_of_what_each_contact_bought_then_categories(con):
    _warehouse(con, BASKETS)

    figures, offers = _run(con)

    assert offers == EXPECTED
    assert figures == {
        "buyers": 30,
        "min_buyers": 5,
        "min_together": 3,
        "rules_per_item": 10,
        "active_flag": False,
        "rules": {"product": 8, "category": 7},
        # 5×2 + 2×3 + 3×2 + 4×1 + 6×1 products; 5×1 + 4×2 + 3×1 categories.
        "offers": {"product": 32, "category": 16},
        "contacts": 30,
        "contacts_with_offers": 23,
    }


def test_the_rules_are_those_with_enough_support(con):
    _warehouse(con, BASKETS)

    _run(con)

    rules = con.execute("SELECT x, y, together, buyers, rule_rank FROM nbo_product_rules ORDER BY rule_rank").fetchall()
    assert rules == [
        (CAP, BACKPACK, 6, 6, 1),
        (BACKPACK, CAP, 6, 9, 2),
        (WOOL_SOCKS, GADGET, 3, 5, 3),
        (RUNNING_SOCKS, TRAIL, 5, 9, 4),
        (TRAIL, RUNNING_SOCKS, 5, 10, 5),
        (RUNNING_SOCKS, ROAD, 4, 9, 6),
        (BACKPACK, TRAIL, 3, 9, 7),
        (TRAIL, BACKPACK, 3, 10, 8),
    ]
    lift = con.execute(f"SELECT lift FROM nbo_product_rules WHERE x = {CAP}").fetchone()[0]
    assert lift == pytest.approx(1.0 * 30 / 9)


def test_a_fifth_buyer_makes_a_product_a_reason(con):
    # Gadget has 4 buyers (21-23, 25): "3 of 4 Gadget buyers bought Wool socks" is no reason yet.
    _warehouse(con, {**BASKETS, 24: [GIFT_CARD, GADGET]})

    _figures, offers = _run(con)

    # 5 buyers: Gadget → Wool socks (3 of 5) is a rule, offered to the Gadget buyers without Wool socks.
    assert offers[25] == [_offer("product", WOOL_SOCKS, GADGET, 0.6, 5)]
    assert offers[24] == [_offer("product", WOOL_SOCKS, GADGET, 0.6, 5)]


def test_what_a_contact_bought_is_never_offered(con):
    _warehouse(con, BASKETS)

    _figures, offers = _run(con)

    for contact, items in BASKETS.items():
        offered = {offer["id"] for offer in offers[contact] if offer["kind"] == "product"}
        bought_categories = {PRODUCTS[item][1] for item in items}
        offered_categories = {offer["id"] for offer in offers[contact] if offer["kind"] == "category"}
        assert not offered & set(items), contact
        assert not offered_categories & bought_categories, contact
        # Nor a category one of their product offers is in.
        assert not offered_categories & {PRODUCTS[item][1] for item in offered}, contact


def test_a_product_bought_twice_counts_once_and_orders_after_as_of_do_not_count(con):
    _warehouse(con, BASKETS)
    _add_order(con, 101, 1, AS_OF - dt.timedelta(days=40), [TRAIL, RUNNING_SOCKS, RUNNING_SOCKS])
    _add_order(con, 102, 2, AS_OF + dt.timedelta(days=1), [CAP, GADGET])

    _figures, offers = _run(con)

    assert offers == EXPECTED


def test_inactive_products_are_not_offered_nor_their_categories_when_nothing_else_sells(con):
    _warehouse(con, BASKETS, inactive=(BACKPACK,))

    figures, offers = _run(con)

    assert figures["active_flag"] is True
    # Backpack is gone, and Bags with it (nothing else in it sells); Gadgets fills as before.
    assert offers[1] == [
        _offer("product", ROAD, RUNNING_SOCKS, 0.4444, 9),
        _offer("category", GADGETS, SOCKS, 0.2143, 14),
    ]
    assert offers[11] == [
        _offer("product", TRAIL, RUNNING_SOCKS, 0.5556, 9),
        _offer("category", GADGETS, SOCKS, 0.2143, 14),
    ]
    # The inactive Backpack is still a reason: its buyers are offered Cap.
    assert offers[15] == [_offer("product", TRAIL, BACKPACK, 0.3333, 9)]
    assert offers[8][0] == _offer("product", CAP, BACKPACK, 0.6667, 9)


def test_the_offers_do_not_depend_on_the_order_of_the_data(con):
    _warehouse(con, BASKETS)
    _run(con)
    first = con.execute("SELECT * FROM contact_nbo ORDER BY customer_id").fetchall()
    _run(con)
    again = con.execute("SELECT * FROM contact_nbo ORDER BY customer_id").fetchall()
    other = duckdb.connect()
    _warehouse(other, BASKETS, reverse=True)
    _run(other)
    reversed_rows = other.execute("SELECT * FROM contact_nbo ORDER BY customer_id").fetchall()
    other.close()

    assert first == again == reversed_rows


def test_rules_with_the_same_share_go_by_lift_then_buyers_of_x_then_id(con):
    # 35 contacts. A bought by 1-10, B by 11-30; P by 1-5 and 31-35, Q by 11-20, R and S by 6-10.
    # A→P, B→Q, A→R, A→S all have a share of 1/2; lift: A→R = A→S = 1/2 ÷ 5/35 > A→P = B→Q = 1/2 ÷ 10/35.
    a, b, p, q, r, s = 1, 2, 3, 4, 5, 6
    rows = [(c, a) for c in range(1, 11)] + [(c, b) for c in range(11, 31)]
    rows += [(c, p) for c in [*range(1, 6), *range(31, 36)]] + [(c, q) for c in range(11, 21)]
    rows += [(c, item) for c in range(6, 11) for item in (r, s)]
    con.execute("CREATE TABLE nbo_product_baskets (customer_id BIGINT, item BIGINT)")
    con.executemany("INSERT INTO nbo_product_baskets VALUES (?, ?)", rows)
    con.execute(
        "CREATE TABLE nbo_product_sellable AS SELECT DISTINCT item, NULL AS category_id FROM nbo_product_baskets"
    )

    pipeline.DuckDBRunner(con).execute(nbo.rules_step("product", customers=35, min_buyers=5, min_together=3))

    ranks = dict(
        ((x, y), rank) for x, y, rank in con.execute("SELECT x, y, rule_rank FROM nbo_product_rules").fetchall()
    )
    assert ranks[(a, r)] < ranks[(a, s)] < ranks[(b, q)] < ranks[(a, p)]


def test_each_contact_gets_the_best_ranked_rules_of_what_they_did_not_buy():
    rules = nbo.Rules(
        "product",
        x=np.array([1, 1, 2, 2, 2]),
        y=np.array([10, 11, 12, 13, 14]),
        rank=np.arange(1, 6),
        offers=[f"offer {n}" for n in range(1, 6)],
    )
    # Contact 7 bought 1, 2 and 12 (and 1 twice); contact 8 bought 2 only; 11 reaches 7 from 1 only once.
    picks = nbo.offers_pick(np.array([8, 7, 7, 7, 7]), np.array([2, 1, 2, 12, 1]), rules)

    assert picks.customer.tolist() == [7, 7, 7, 8, 8, 8]
    assert picks.position.tolist() == [1, 2, 3, 1, 2, 3]
    assert picks.rank.tolist() == [1, 2, 4, 3, 4, 5]


def test_an_empty_shop_has_no_offers(con):
    _warehouse(con, {})

    figures, offers = _run(con)

    assert offers == {}
    assert figures["rules"] == {"product": 0, "category": 0}
    assert figures["offers"] == {"product": 0, "category": 0}
    assert figures["contacts"] == 0


def test_a_shop_too_small_for_any_rule_gives_empty_lists(con):
    _warehouse(con, {c: [TRAIL, RUNNING_SOCKS] for c in (1, 2, 3, 4)})

    figures, offers = _run(con)

    assert offers == {1: [], 2: [], 3: [], 4: []}  # 4 buyers of each: below 5
    assert figures["contacts_with_offers"] == 0


# --- words -------------------------------------------------------------------------------------------

NAMES = {
    ("product", TRAIL): "Trail shoes",
    ("product", RUNNING_SOCKS): "Running socks",
    ("category", SHOES): "Shoes",
    ("category", SOCKS): "Socks",
}


@pytest.mark.parametrize(
    ("language", "offer", "text"),
    [
        (
            "en",
            _offer("product", RUNNING_SOCKS, TRAIL, 0.3449, 120),
            "bought Trail shoes; 34 % of Trail shoes buyers also bought Running socks",
        ),
        (
            "it",
            _offer("product", RUNNING_SOCKS, TRAIL, 0.3449, 120),
            "ha comprato Trail shoes; il 34 % di chi ha comprato Trail shoes ha comprato anche Running socks",
        ),
        (
            "it",
            _offer("product", RUNNING_SOCKS, TRAIL, 0.0805, 120),
            "ha comprato Trail shoes; l'8 % di chi ha comprato Trail shoes ha comprato anche Running socks",
        ),
        (
            "en",
            _offer("product", RUNNING_SOCKS, TRAIL, 0.0805, 120),
            "bought Trail shoes; 8 % of Trail shoes buyers also bought Running socks",
        ),
        (
            "en",
            _offer("category", SOCKS, SHOES, 0.785, 14),
            "bought from Shoes; 79 % of Shoes buyers also bought from Socks",  # half up
        ),
        (
            "it",
            _offer("category", SOCKS, SHOES, 0.785, 14),
            "ha comprato nella categoria Shoes; il 79 % di chi ha comprato in Shoes ha comprato anche in Socks",
        ),
        (
            "it",
            _offer("category", SOCKS, SHOES, 0.8, 14),
            "ha comprato nella categoria Shoes; l'80 % di chi ha comprato in Shoes ha comprato anche in Socks",
        ),
        (
            "en",
            _offer("product", 99, TRAIL, 1.0, 20),
            "bought Trail shoes; 100 % of Trail shoes buyers also bought #99",  # a name that is gone
        ),
    ],
)
def test_offer_text_words_the_reason(language, offer, text):
    with translation.override(language):
        assert nbo.offer_text(offer, NAMES) == text


def test_offer_names_fetches_the_names_in_one_query_per_kind(db, django_assert_num_queries):
    shoes, socks = make_category(name="Shoes"), make_category(name="Socks")
    trail = make_product(name="Trail shoes", category=shoes)
    running = make_product(name="Running socks", category=socks)
    lists = [
        json.dumps([_offer("product", running.pk, trail.pk, 0.5, 10), _offer("category", socks.pk, shoes.pk, 0.4, 9)]),
        [_offer("product", trail.pk, running.pk, 0.3, 9)],
        "[]",
        None,
    ]

    with django_assert_num_queries(2):
        names = nbo.offer_names(lists)

    assert names == {
        ("product", trail.pk): "Trail shoes",
        ("product", running.pk): "Running socks",
        ("category", shoes.pk): "Shoes",
        ("category", socks.pk): "Socks",
    }
    with translation.override("en"):
        assert nbo.offer_text(json.loads(lists[0])[0], names) == (
            "bought Trail shoes; 50 % of Trail shoes buyers also bought Running socks"
        )


def test_offer_names_of_no_offers_asks_nothing(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert nbo.offer_names([[], "[]"]) == {}


# --- a larger shop: the method finds a planted pattern ---------------------------------------------------

LEAVES, PER_LEAF = 24, 12


def synthetic_shop(con: duckdb.DuckDBPyConnection, *, customers: int, orders_per_customer: int = 4, seed: int = 1):
    """24 leaf categories of 12 products; each customer prefers a leaf L and, with it, its companion L xor 1.

    A line comes from L 55 % of the time, from the companion 25 %, from anywhere 15 % (popular models
    first within a leaf), so "bought X in L → buys Y in L or its companion" is there to be found.
    Orders are spread over 1,000 days before AS_OF; everything is drawn from hashes (reproducible).
    """
    con.execute(f"""
        CREATE OR REPLACE TABLE categories AS
        SELECT CAST(i AS BIGINT) AS id, CAST(NULL AS BIGINT) AS parent_id, 'Department ' || i AS name
        FROM range(1, 7) t(i)
        UNION ALL SELECT CAST(7 + l AS BIGINT), CAST(1 + l // 4 AS BIGINT), 'Leaf ' || l FROM range({LEAVES}) t(l)""")
    con.execute(f"""
        CREATE OR REPLACE TABLE products AS
        SELECT CAST(1 + l * {PER_LEAF} + k AS BIGINT) AS id, CAST(7 + l AS BIGINT) AS category_id,
               'Product ' || l || '-' || k AS name
        FROM range({LEAVES}) a(l), range({PER_LEAF}) b(k)""")
    spread = 2 * orders_per_customer - 1
    con.execute(f"""
        CREATE OR REPLACE TABLE orders AS
        SELECT CAST(row_number() OVER (ORDER BY c, k) AS BIGINT) AS id, CAST(c AS BIGINT) AS contact_id,
               CAST(NULL AS BIGINT) AS account_id,
               DATE '{AS_OF}' - CAST(hash(c, k, {seed}, 1) % 1000 AS INTEGER) AS placed_on
        FROM range(1, {customers} + 1) a(c), range({spread}) b(k)
        WHERE k <= hash(c, {seed}, 2) % {spread}""")
    con.execute(f"""
        CREATE OR REPLACE TABLE order_lines AS
        WITH drawn AS (
            SELECT o.id AS order_id, hash(o.id, j, {seed}, 3) % 100 AS u,
                   (hash(o.id, j, {seed}, 4) % 1000) / 1000.0 AS v,
                   hash(o.contact_id, {seed}, 5) % {LEAVES} AS favourite,
                   hash(o.id, j, {seed}, 6) % {LEAVES} AS anywhere
            FROM orders o, range(4) b(j) WHERE j <= hash(o.id, {seed}, 7) % 4
        )
        SELECT order_id,
               CAST(1 + (CASE WHEN u < 55 THEN favourite WHEN u < 80 THEN xor(favourite, 1) ELSE anywhere END)
                   * {PER_LEAF} + CAST(floor({PER_LEAF} * v * v) AS BIGINT) AS BIGINT) AS product_id,
               CAST(1 AS BIGINT) AS quantity, CAST(1000 AS BIGINT) AS value_cents, CAST(600 AS BIGINT) AS cost_cents
        FROM drawn""")
    con.execute("CREATE OR REPLACE TABLE contact_accounts (contact_id BIGINT, account_id BIGINT)")


def test_on_a_larger_shop_the_offers_predict_later_purchases_better_than_popularity(con):
    # Given three years of orders: the offers as of a cutoff 300 days earlier, and what came after it.
    synthetic_shop(con, customers=3000)
    cutoff = AS_OF - dt.timedelta(days=300)
    con.execute("CREATE TABLE all_orders AS SELECT * FROM orders")
    con.execute(f"DELETE FROM orders WHERE placed_on > DATE '{cutoff}'")

    figures, offers = _run(con, as_of=cutoff)

    assert figures["min_buyers"] == 20
    assert figures["rules"]["product"] == LEAVES * PER_LEAF * nbo.RULES_PER_ITEM
    later = con.execute(f"""
        SELECT DISTINCT o.contact_id, l.product_id FROM all_orders o JOIN order_lines l ON l.order_id = o.id
        WHERE o.placed_on > DATE '{cutoff}'""").fetchall()
    before = con.execute(
        "SELECT DISTINCT o.contact_id, l.product_id FROM orders o JOIN order_lines l ON l.order_id = o.id"
    ).fetchall()
    bought: dict[int, set[int]] = {}
    for contact, product in before:
        bought.setdefault(contact, set()).add(product)
    new: dict[int, set[int]] = {}
    for contact, product in later:
        if contact in bought and product not in bought[contact]:
            new.setdefault(contact, set()).add(product)
    popular = [p for p, _n in con.execute(
        "SELECT product_id, COUNT(DISTINCT o.contact_id) AS n FROM orders o JOIN order_lines l ON l.order_id = o.id "
        "GROUP BY product_id ORDER BY n DESC, product_id"
    ).fetchall()]  # fmt: skip

    offered_hits = popular_hits = 0
    for contact, products in new.items():
        offered = {offer["id"] for offer in offers[contact] if offer["kind"] == "product"}
        assert len(offered) == 3
        baseline = [p for p in popular if p not in bought[contact]][:3]
        offered_hits += bool(offered & products)
        popular_hits += bool(set(baseline) & products)

    # Then: the co-purchase offers are bought later clearly more often than the three best sellers.
    assert len(new) > 1000
    assert offered_hits > 3 * popular_hits  # about 38 % against 8 %
    # And they follow the planted pattern: Y in the leaf of the X that is its reason, or in its companion.
    leaf = lambda product: (product - 1) // PER_LEAF  # noqa: E731
    in_pattern = [
        leaf(offer["id"]) in (leaf(offer["because_id"]), leaf(offer["because_id"]) ^ 1)
        for contact_offers in offers.values()
        for offer in contact_offers
    ]
    assert np.mean(in_pattern) > 0.95  # against 2 leaves of 24 by chance


def test_the_offer_lists_are_built_for_every_contact():
    rules = nbo.Rules("product", np.array([1]), np.array([2]), np.array([1]), ['{"id": 2}'])
    picks = nbo.Picks(np.array([5]), np.array([1]), np.array([1]))

    table = nbo._offer_lists(np.array([3, 5, 9]), [(picks, rules)])

    assert table.column("customer_id").to_pylist() == [3, 5, 9]
    assert table.column("next_best_offers").to_pylist() == ["[]", '[{"id": 2}]', "[]"]
    assert table.schema.field("next_best_offers").type in (pa.string(), pa.large_string())
