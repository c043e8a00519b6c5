"""Next best offer: for each contact, up to three products or categories they have not bought and are most likely to.

Co-purchase is counted over customers, not orders: a contact's basket is the set of distinct products
of their orders (``contact_orders``) placed on or before ``as_of``; their categories are the categories
the products are directly in (products without a category count only at product level). N is the
number of contacts with at least one order line.

Rules. For two products X ≠ Y, ``together`` = the contacts who bought both, ``buyers`` = those who
bought X, and

- share(X → Y) = together / buyers: how many of X's buyers also bought Y, the estimate of
  P(buys Y | bought X);
- lift(X → Y) = share / (buyers of Y / N): how much more likely Y is among X's buyers than among all.

A rule needs support, so that "1 of 1 buyers" is no reason: X bought by at least ``min_buyers``
contacts (1 % of N, at least ``MIN_BUYERS_SMALL_SHOP`` = 5 and at most ``MIN_BUYERS`` = 20: 5 up to
500 buying contacts, 20 from 2,000 on) and X and Y bought together by at least ``MIN_TOGETHER`` = 3.
Only what can be sold is offered: when the ``products`` table has an ``active`` column (1 / true),
inactive products are never a Y, nor categories without an active product (the warehouse extracts
no such column yet; then every product can be). An inactive product bought is still a reason. For
each X only its best ``RULES_PER_ITEM`` = 10 rules are kept (by share, then lift, then Y's id).

The rules are ordered, best first, by share (higher), lift (higher), X's buyers (more), Y's id, X's
id, and numbered in that order (``rule_rank``).

Offers. A contact's candidates are the Ys of the rules of the Xs they bought, less what they bought;
a candidate's reason is its best rule (the X whose buyers most often bought it), and the candidates
are ranked by their reasons, in the rules' order: the first three are the product offers. With fewer
than three, the list is filled with categories by the same method one level up (the rules between
categories, same thresholds, ten per category): categories the contact has not bought from and that
hold none of their product offers. Product offers come first, then category offers.

Keeping ten rules per X is what bounds the work: (distinct products of the baskets) × 10 candidates
whatever the number of customers, instead of every pair of products of every basket. It changes an
offer only for a contact who bought at least 8 of the 10 products most bought with one of theirs,
and then only to the next rule: on the synthetic shop of the tests (100,000 contacts, 288 products)
99.99 % of the lists are those of keeping every rule.

``contact_nbo(customer_id, next_best_offers)`` has one row per contact of ``contact_rfm``;
``next_best_offers`` is a JSON list, best first, of ``{"kind": "product" | "category", "id": Y,
"because_kind": the same kind, "because_id": X, "share": share(X → Y) rounded to 4 places, "buyers":
X's buyers}``, and ``[]`` for a contact with nothing to offer (no rule reaches their basket, or a
shop too small for any rule). ``offer_text`` words an offer in the user's language, with the names
from ``offer_names``.

How it runs. The baskets and the rules are SQL steps (one portable SELECT each). Picking each
contact's best candidates is done in numpy (``offers_pick``) on the baskets fetched as Arrow: in SQL
it takes an anti-join and a grouping of every (contact, candidate) pair (80 million rows at a million
contacts), which took 33 s and 2.6 GB there, against a few seconds and under 0.5 GB this way. The JSON lists
are assembled in Arrow and put back as ``contact_nbo``. The stage's large intermediate tables are
emptied once read (``_release``), to give their memory back to the rest of the run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.utils.translation import gettext, pgettext

from cuore.analytics import pipeline

OFFERS = 3
RULES_PER_ITEM = 10
MIN_BUYERS = 20
MIN_BUYERS_SMALL_SHOP = 5
MIN_BUYERS_SHARE = 0.01
MIN_TOGETHER = 3
KINDS = ("product", "category")
# offers_pick holds at most this many customers, and customers × items cells, at a time.
CHUNK_CUSTOMERS = 100_000
CHUNK_CELLS = 8_000_000
LOOKUP_SPAN = 16_000_000

Step = pipeline.Step


def support_thresholds(customers: int) -> tuple[int, int]:
    """The least buyers of X, and of X and Y together, for a rule X → Y among ``customers`` buying contacts."""
    min_buyers = min(MIN_BUYERS, max(MIN_BUYERS_SMALL_SHOP, math.ceil(customers * MIN_BUYERS_SHARE)))
    return min_buyers, MIN_TOGETHER


# --- SQL ----------------------------------------------------------------------------------------------


def baskets_steps(params: pipeline.Parameters, *, active_flag: bool) -> list[Step]:
    """Each contact's distinct products and categories, and the products and categories that may be offered."""
    sellable = "WHERE CAST(active AS INTEGER) = 1" if active_flag else ""
    return [
        Step(
            "nbo_product_baskets",
            f"""
            SELECT DISTINCT CAST(co.customer_id AS BIGINT) AS customer_id, CAST(l.product_id AS BIGINT) AS item
            FROM contact_orders co JOIN order_lines l ON l.order_id = co.order_id
            WHERE co.placed_on <= {params.as_of_sql()} AND l.product_id IS NOT NULL
            """,
        ),
        Step(
            "nbo_category_baskets",
            """
            SELECT DISTINCT b.customer_id, CAST(p.category_id AS BIGINT) AS item
            FROM nbo_product_baskets b JOIN products p ON p.id = b.item
            WHERE p.category_id IS NOT NULL
            """,
        ),
        Step("nbo_product_sellable", f"SELECT id AS item, category_id FROM products {sellable}"),
        Step(
            "nbo_category_sellable",
            "SELECT DISTINCT category_id AS item FROM nbo_product_sellable WHERE category_id IS NOT NULL"
            if active_flag
            else "SELECT id AS item FROM categories",
        ),
        Step("nbo_customers", "SELECT COUNT(DISTINCT customer_id) AS customers FROM nbo_product_baskets"),
    ]


def rules_step(kind: str, *, customers: int, min_buyers: int, min_together: int) -> Step:
    """``nbo_{kind}_rules``: the best RULES_PER_ITEM rules X → Y of each X, numbered in the module's order."""
    baskets = f"nbo_{kind}_baskets"
    return Step(
        f"nbo_{kind}_rules",
        f"""
    WITH buyers AS (
        SELECT item, COUNT(*) AS buyers FROM {baskets} GROUP BY item
    ),
    pairs AS (
        SELECT a.item AS x, b.item AS y, COUNT(*) AS together
        FROM {baskets} a
        JOIN buyers bx ON bx.item = a.item AND bx.buyers >= {min_buyers}
        JOIN {baskets} b ON b.customer_id = a.customer_id AND b.item <> a.item
        JOIN nbo_{kind}_sellable s ON s.item = b.item
        GROUP BY a.item, b.item
        HAVING COUNT(*) >= {min_together}
    ),
    measured AS (
        SELECT p.x, p.y, p.together, bx.buyers,
               CAST(p.together AS DOUBLE) / bx.buyers AS share,
               CAST(p.together AS DOUBLE) * {customers} / (CAST(bx.buyers AS DOUBLE) * b_y.buyers) AS lift
        FROM pairs p JOIN buyers bx ON bx.item = p.x JOIN buyers b_y ON b_y.item = p.y
    ),
    kept AS (
        SELECT * FROM (
            SELECT *, row_number() OVER (PARTITION BY x ORDER BY share DESC, lift DESC, y) AS position
            FROM measured
        ) ranked WHERE position <= {RULES_PER_ITEM}
    )
    SELECT x, y, together, buyers, share, lift,
           row_number() OVER (ORDER BY share DESC, lift DESC, buyers DESC, y, x) AS rule_rank
    FROM kept
    """,
    )


def fill_baskets_step() -> Step:
    """``nbo_fill_baskets``: the categories of the contacts with fewer than OFFERS product offers.

    ``basket`` = 1: a category they bought from (a reason, and not to be offered); 0: the category of
    one of their product offers (not to be offered either).
    """
    return Step(
        "nbo_fill_baskets",
        f"""
    WITH short AS (
        SELECT b.customer_id
        FROM (SELECT DISTINCT customer_id FROM nbo_category_baskets) b
        LEFT JOIN (SELECT customer_id, COUNT(*) AS offered FROM nbo_product_picks GROUP BY customer_id) po
            ON po.customer_id = b.customer_id
        WHERE COALESCE(po.offered, 0) < {OFFERS}
    )
    SELECT b.customer_id, b.item, 1 AS basket
    FROM nbo_category_baskets b JOIN short s ON s.customer_id = b.customer_id
    UNION ALL
    SELECT DISTINCT pk.customer_id, CAST(p.category_id AS BIGINT) AS item, 0 AS basket
    FROM nbo_product_picks pk
    JOIN short s ON s.customer_id = pk.customer_id
    JOIN products p ON p.id = pk.item
    WHERE p.category_id IS NOT NULL
    """,
    )


# --- picking the offers -------------------------------------------------------------------------------


@dataclass
class Rules:
    """The kept rules of one kind, by rank (``rank`` = 1 + their index), and each one's offer as JSON."""

    kind: str
    x: np.ndarray
    y: np.ndarray
    rank: np.ndarray
    offers: list[str]

    @classmethod
    def fetch(cls, runner: pipeline.Runner, kind: str) -> Rules:
        table = runner.fetch(f"nbo_{kind}_rules").sort_by("rule_rank")
        x, y, rank = _int64(table, "x"), _int64(table, "y"), _int64(table, "rule_rank")
        if not np.array_equal(rank, np.arange(1, rank.size + 1)):
            raise ValueError(f"nbo_{kind}_rules: the ranks are not 1..{rank.size}")
        shares = table.column("share").to_numpy(zero_copy_only=False)
        buyers = _int64(table, "buyers")
        offers = [
            json.dumps(
                {
                    "kind": kind,
                    "id": int(offer),
                    "because_kind": kind,
                    "because_id": int(because),
                    "share": round(float(share), 4),
                    "buyers": int(count),
                }
            )
            for because, offer, share, count in zip(x, y, shares, buyers, strict=True)
        ]
        return cls(kind, x, y, rank, offers)


@dataclass
class Picks:
    """Offers as (customer, position from 1, rule rank) rows, by customer and position."""

    customer: np.ndarray
    position: np.ndarray
    rank: np.ndarray

    def __len__(self) -> int:
        return int(self.customer.size)

    def put(self, runner: pipeline.Runner, table: str, rules: Rules) -> None:
        runner.put(
            table,
            pa.table(
                {
                    "customer_id": pa.array(self.customer, pa.int64()),
                    "position": pa.array(self.position, pa.int64()),
                    "rule_rank": pa.array(self.rank, pa.int64()),
                    "item": pa.array(rules.y[self.rank - 1], pa.int64()),
                }
            ),
        )


def _int64(table: pa.Table, column: str) -> np.ndarray:
    return table.column(column).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _positions_in(universe: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The index of each value in the sorted ``universe``, or -1 where it is not there."""
    if universe.size == 0:
        return np.full(values.size, -1, np.int64)
    low, high = int(universe[0]), int(universe[-1])
    if high - low < LOOKUP_SPAN:  # ids are usually dense: a lookup table beats a binary search
        table = np.full(high - low + 1, -1, np.int64)
        table[universe - low] = np.arange(universe.size)
        inside = (values >= low) & (values <= high)
        return np.where(inside, table[np.clip(values - low, 0, high - low)], -1)
    index = np.minimum(np.searchsorted(universe, values), universe.size - 1)
    return np.where(universe[index] == values, index, -1)


def offers_pick(
    customer: np.ndarray,
    item: np.ndarray,
    rules: Rules,
    *,
    source: np.ndarray | None = None,
    wanted: int = OFFERS,
) -> Picks:
    """Each customer's ``wanted`` best rules X → Y: X one of their items, Y none of them, one rule per Y.

    ``customer``, ``item``: a row per item of a customer (any order; a repeat does no harm); where ``source`` is
    False the item only keeps Y out (it is no X). The rules are numbered by ``rule_rank``, lowest
    best. Returns (customer, position 1.., rule_rank), by customer and position. Customers are taken a
    chunk at a time into a dense matrix customer × item of the best rule rank reaching each item
    (``CHUNK_CELLS`` cells at most; the items are those of the rules).
    """
    empty = np.zeros(0, np.int64)
    if customer.size == 0 or rules.rank.size == 0:
        return Picks(empty, empty, empty)
    rule_x, rule_y, rule_rank = rules.x, rules.y, rules.rank
    if source is None:
        source = np.ones(customer.size, bool)
    universe = np.unique(np.concatenate([rule_x, rule_y]))
    width = universe.size
    item_index = _positions_in(universe, item)
    known = item_index >= 0  # an item in no rule is neither a reason nor an offer
    customer, item_index, source = customer[known], item_index[known], source[known]
    if customer.size == 0:
        return Picks(empty, empty, empty)
    # Row X of `targets` / `ranks`: the items of X's rules and their ranks (padded with no rule).
    # Ranks fit in 32 bits: there is at most a rule per pair of items.
    x_index, y_index = _positions_in(universe, rule_x), _positions_in(universe, rule_y)
    rules_of = np.bincount(x_index, minlength=width)
    order = np.argsort(x_index, kind="stable")
    x_index, y_index, rule_rank = x_index[order], y_index[order], rule_rank[order]
    slot = np.arange(x_index.size) - (np.cumsum(rules_of) - rules_of)[x_index]
    none = np.iinfo(np.int32).max
    targets = np.zeros((width, int(rules_of.max())), np.int64)
    ranks = np.full(targets.shape, none, np.int32)
    targets[x_index, slot], ranks[x_index, slot] = y_index, rule_rank
    # The rows of each customer together.
    order = np.argsort(customer, kind="stable")
    customer, item_index, source = customer[order], item_index[order], source[order]
    row_start = np.concatenate(([0], np.flatnonzero(np.diff(customer)) + 1, [customer.size]))
    ids = customer[row_start[:-1]]
    customer_index = np.repeat(np.arange(ids.size), np.diff(row_start))
    chunk = max(1, min(CHUNK_CUSTOMERS, CHUNK_CELLS // width))
    picked: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for lo in range(0, ids.size, chunk):
        hi = min(lo + chunk, ids.size)
        rows = slice(row_start[lo], row_start[hi])
        local, items, sources = customer_index[rows] - lo, item_index[rows], source[rows]
        best = np.full((hi - lo) * width, none, np.int32)
        reasons = items[sources]
        cells = (local[sources] * width)[:, None] + targets[reasons]
        np.minimum.at(best, cells.ravel(), ranks[reasons].ravel())
        best[local * width + items] = none  # bought (or kept out): never offered
        best = best.reshape(hi - lo, width)
        everyone = np.arange(hi - lo)
        chosen = np.empty((hi - lo, wanted), np.int32)
        for position in range(wanted):
            column = np.argmin(best, axis=1)
            chosen[:, position] = best[everyone, column]
            best[everyone, column] = none
        found = (chosen != none).ravel()
        picked.append(
            (
                np.repeat(ids[lo:hi], wanted)[found],
                np.tile(np.arange(1, wanted + 1), hi - lo)[found],
                chosen.ravel()[found].astype(np.int64),
            )
        )
    return Picks(*(np.concatenate(parts) for parts in zip(*picked, strict=True)))


def _counts_of(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """How many times each of ``values`` occurs in ``sorted_values``."""
    return np.searchsorted(sorted_values, values, side="right") - np.searchsorted(sorted_values, values, side="left")


def _offer_lists(contacts: np.ndarray, parts: list[tuple[Picks, Rules]]) -> pa.Table:
    """``contact_nbo``: each of ``contacts`` with the JSON list of their offers, each part's after the previous part's.

    Each list is made of pieces taken from a small table of texts: "[" + offer for a first offer,
    ", " + offer for the others, "]" to close, and "[]" for a contact without offers; so the texts of
    the offers are written once.
    """
    if contacts.size == 0:
        return pa.table({"customer_id": pa.array([], pa.int64()), "next_best_offers": pa.array([], pa.large_string())})
    texts: list[str] = []
    pieces, owners = [], []
    for picks, rules in parts:
        mine = _counts_of(contacts, picks.customer) > 0  # offers only for the contacts scored
        first = len(texts)
        texts += ["[" + offer for offer in rules.offers] + [", " + offer for offer in rules.offers]
        later = np.where(picks.position[mine] > 1, len(rules.offers), 0)
        pieces.append(first + picks.rank[mine] - 1 + later)
        owners.append(picks.customer[mine])
    with_offers = np.unique(np.concatenate(owners)) if owners else np.zeros(0, np.int64)
    texts += ["]", "[]"]
    # After a contact's offers, "]"; "[]" alone for the others. A stable sort keeps each contact's order.
    owners.append(contacts)
    pieces.append(np.where(_counts_of(with_offers, contacts) > 0, len(texts) - 2, len(texts) - 1))
    owner, piece = np.concatenate(owners), np.concatenate(pieces)
    order = np.argsort(owner, kind="stable")
    owner, piece = owner[order], piece[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(owner)) + 1, [owner.size]))
    # A contact's pieces are consecutive in the taken array: their concatenation is its data between the
    # offsets of the first piece and of the next contact's, so the lists are that data with fewer offsets.
    taken = pa.array(texts, pa.large_string()).take(pa.array(piece))
    _validity, offsets, data = taken.buffers()
    piece_offsets = np.frombuffer(offsets, np.int64, count=len(taken) + 1, offset=8 * taken.offset)
    lists = pa.LargeStringArray.from_buffers(contacts.size, pa.py_buffer(piece_offsets[starts].copy()), data)
    return pa.table({"customer_id": pa.array(contacts, pa.int64()), "next_best_offers": lists})


# --- the stage ----------------------------------------------------------------------------------------


def _release(runner: pipeline.Runner, table: str) -> None:
    """Empty a table of the stage once it has been read, to give its memory back for the rest of the run."""
    runner.execute(Step(table, "SELECT CAST(NULL AS BIGINT) AS released WHERE 1 = 0"))


def _has_active_flag(runner: pipeline.Runner) -> bool:
    runner.execute(Step("nbo_product_columns", "SELECT * FROM products WHERE 1 = 0"))
    return "active" in runner.fetch("nbo_product_columns").column_names


def offer_stage(runner: pipeline.Runner, params: pipeline.Parameters) -> dict[str, Any]:
    """Create ``contact_nbo`` (customer_id, next_best_offers) and return the rules' and offers' counts."""
    active_flag = _has_active_flag(runner)
    for step in baskets_steps(params, active_flag=active_flag):
        runner.execute(step)
    customers = int(runner.fetch("nbo_customers").column("customers")[0].as_py() or 0)
    min_buyers, min_together = support_thresholds(customers)
    rules = {}
    for kind in KINDS:
        runner.execute(rules_step(kind, customers=max(customers, 1), min_buyers=min_buyers, min_together=min_together))
        rules[kind] = Rules.fetch(runner, kind)

    baskets = runner.fetch("nbo_product_baskets")
    _release(runner, "nbo_product_baskets")
    products = offers_pick(_int64(baskets, "customer_id"), _int64(baskets, "item"), rules["product"])
    del baskets
    products.put(runner, "nbo_product_picks", rules["product"])
    runner.execute(fill_baskets_step())
    fill = runner.fetch("nbo_fill_baskets")
    for table in ("nbo_category_baskets", "nbo_product_picks", "nbo_fill_baskets"):
        _release(runner, table)
    categories = offers_pick(
        _int64(fill, "customer_id"), _int64(fill, "item"), rules["category"], source=_int64(fill, "basket") == 1
    )
    del fill
    # Categories come after the contact's product offers, up to OFFERS in all.
    categories.position += _counts_of(products.customer, categories.customer)
    kept = categories.position <= OFFERS
    categories = Picks(categories.customer[kept], categories.position[kept], categories.rank[kept])
    runner.execute(Step("nbo_contacts", "SELECT customer_id FROM contact_rfm"))
    contacts = np.sort(_int64(runner.fetch("nbo_contacts"), "customer_id"))
    offers = _offer_lists(contacts, [(products, rules["product"]), (categories, rules["category"])])
    runner.put("contact_nbo", offers)
    with_offers = int(pc.sum(pc.not_equal(offers.column("next_best_offers"), "[]")).as_py() or 0)
    del offers
    return {
        "buyers": customers,
        "min_buyers": min_buyers,
        "min_together": min_together,
        "rules_per_item": RULES_PER_ITEM,
        "active_flag": active_flag,
        "rules": {kind: int(kept_rules.rank.size) for kind, kept_rules in rules.items()},
        "offers": {"product": len(products), "category": len(categories)},
        "contacts": int(contacts.size),
        "contacts_with_offers": with_offers,
    }


# --- words --------------------------------------------------------------------------------------------


def _percent(share: float) -> int:
    """A share (0..1) as a whole percentage, half up."""
    return int((Decimal(str(share)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _elided(percent: int) -> bool:
    """Whether the number's Italian name starts with a vowel (uno, otto, undici, ottanta…): "l'8 %", not "il 8 %"."""
    return percent in (1, 8, 11) or 80 <= percent <= 89


def offer_text(offer: dict[str, Any], names: dict[tuple[str, int], str]) -> str:
    """An offer's reason in words, in the active language: "bought X; 34 % of X buyers also bought Y"."""
    kind = offer.get("kind", "product")
    because_kind = offer.get("because_kind", kind)
    percent = _percent(float(offer.get("share") or 0))
    values = {
        "offer": names.get((kind, offer.get("id")), f"#{offer.get('id')}"),
        "because": names.get((because_kind, offer.get("because_id")), f"#{offer.get('because_id')}"),
        "percent": percent,
    }
    # The same sentence with a context for the numbers before which some languages change their article.
    elided = _elided(percent)
    if kind == "category":
        text = (
            pgettext(
                "percent starting with a vowel sound",
                "bought from %(because)s; %(percent)s %% of %(because)s buyers also bought from %(offer)s",
            )
            if elided
            else gettext("bought from %(because)s; %(percent)s %% of %(because)s buyers also bought from %(offer)s")
        )
    else:
        text = (
            pgettext(
                "percent starting with a vowel sound",
                "bought %(because)s; %(percent)s %% of %(because)s buyers also bought %(offer)s",
            )
            if elided
            else gettext("bought %(because)s; %(percent)s %% of %(because)s buyers also bought %(offer)s")
        )
    return text % values


def offer_names(offers_lists: Iterable[list[dict[str, Any]] | str | None]) -> dict[tuple[str, int], str]:
    """The names of every product and category the offers mention, in one query per kind."""
    # Imported here: the stage itself runs on the warehouse alone, without the operational models.
    from cuore.orders.models import Category, Product

    wanted: dict[str, set[int]] = {kind: set() for kind in KINDS}
    for offers in offers_lists:
        if isinstance(offers, str) or offers is None:
            offers = pipeline.json_or_empty(offers)
        for offer in offers:
            for kind_key, id_key in (("kind", "id"), ("because_kind", "because_id")):
                kind, item = offer.get(kind_key), offer.get(id_key)
                if kind in wanted and item is not None:
                    wanted[kind].add(int(item))
    names: dict[tuple[str, int], str] = {}
    for kind, model in (("product", Product), ("category", Category)):
        if wanted[kind]:
            for pk, name in model.objects.filter(pk__in=wanted[kind]).values_list("pk", "name"):
                names[(kind, pk)] = name
    return names
