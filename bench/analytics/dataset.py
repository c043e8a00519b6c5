"""The bench's data set: customers who buy the BG/NBD way, products in a category tree, service history.

Every customer buys a first time during the three years before ``AS_OF`` (more of them lately: the
shop grows), then, as Fader, Hardie & Lee's BG/NBD model says, makes repeat purchases as a Poisson
process of rate λ ~ Gamma(r, α) and, after each repeat purchase, drops out with probability
p ~ Beta(a, b). The process runs in seasonal time: the clock goes faster in November and December and
at the end of the week, slower in August. An order's value is drawn the Gamma-Gamma way (z ~ Gamma(p, ν),
with ν ~ Gamma(q, γ) per customer) and spread over its lines. A line's product comes from one of the
customer's three favourite categories three times in four, and a later line of an order often from the
category that goes with its first line's (smartphones → phone accessories), so "bought X → also buys Y"
patterns exist. Interactions, tickets (rated 1–5) and consent events follow each customer's activity:
those who drop out complain more, rate lower and withdraw their consent more often.

The first order of a customer is always a counted one (confirmed to delivered), so every customer is in
the analytics; later orders are sometimes drafts, cancelled or returned. Each customer has
``LINES_PER_CUSTOMER`` order lines on average (exactly that many in total), about 2.5 per order.

Rows are written with ``executemany`` on the Django connection, chunk by chunk in one transaction per
chunk, with ids handed out here (the database must be freshly migrated and empty). Every NOT NULL
column gets an explicit value (``_insert`` checks that against the model, since raw SQL gets no Django
defaults); amounts stay whole cents until they are written; order totals are the sums of their lines.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection, models, transaction

from cuore.contacts.models import ConsentEvent, Contact, LifecycleStage
from cuore.core.normalize import text_key
from cuore.interactions.models import Interaction
from cuore.orders.models import Category, Order, OrderLine, OrderStatus, Product
from cuore.service.models import Ticket, TicketStatus

AS_OF = dt.date(2026, 3, 31)
HISTORY_DAYS = 3 * 365
LINES_PER_CUSTOMER = 10
SEED = 20260331
DAY = 86_400
# The buying behaviour the data are drawn from: BG/NBD per day (FHL 2005 notation), spend in euro.
TRUE_BGNBD = {"r": 0.6, "alpha": 50.0, "a": 0.7, "b": 3.5}
TRUE_SPEND = {"p": 4.0, "q": 3.0, "gamma": 40.0}
# The statuses the analytics count as a purchase (analytics/engine.py: confirmed to delivered).
COUNTED_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)

# Six departments of four categories each, with a typical price in euro. Categories 2k and 2k + 1 of a
# department go together: whoever buys from one often buys from the other in the same order.
CATALOGUE: dict[str, list[tuple[str, float]]] = {
    "Electronics": [("Smartphones", 320), ("Phone accessories", 18), ("Cameras", 450), ("Memory cards", 22)],
    "Home": [("Bedding", 60), ("Pillows", 25), ("Lighting", 45), ("Light bulbs", 8)],
    "Kitchen": [("Coffee machines", 140), ("Coffee", 12), ("Cookware", 55), ("Knives", 40)],
    "Fashion": [("Shoes", 85), ("Socks", 9), ("Jackets", 120), ("Scarves", 30)],
    "Sport": [("Running shoes", 110), ("Running apparel", 35), ("Bicycles", 600), ("Cycling accessories", 28)],
    "Beauty": [("Skincare", 28), ("Make-up", 22), ("Fragrances", 65), ("Hair care", 15)],
}
PRODUCTS_PER_CATEGORY = 12
MODEL_NAMES = ["Alba", "Brezza", "Corallo", "Duna", "Eco", "Fiore", "Gemma", "Luna", "Mare", "Nova", "Onda", "Sole"]
MONTH_WEIGHTS = [0.85, 0.8, 0.9, 0.95, 1.0, 0.95, 0.9, 0.7, 1.0, 1.05, 1.35, 1.55]
WEEKDAY_WEIGHTS = [0.92, 0.95, 0.97, 1.0, 1.05, 1.1, 1.01]  # Monday first
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3.5, 5, 6, 6.5, 6, 5.5, 5.5, 6, 6.5, 7, 7.5, 8, 7, 5, 3.5, 2]
FAVOURITE_SHARE = 0.75  # of the lines that come from the customer's favourite categories
FAVOURITE_WEIGHTS = [0.5, 0.3, 0.2]
COMPANION_SHARE = 0.35  # of the later lines of an order that come from the category going with the first
ORDER_CHANNELS = ["web", "store", "marketplace", "phone", "sales"]
ORDER_CHANNEL_WEIGHTS = [0.55, 0.2, 0.12, 0.08, 0.05]

FIRST_NAMES = ["Giulia", "Marco", "Francesca", "Luca", "Chiara", "Alessandro", "Sara", "Matteo", "Martina", "Andrea",
               "Elena", "Lorenzo", "Valentina", "Davide", "Federica", "Simone", "Silvia", "Giorgio", "Anna", "Paolo",
               "Laura", "Stefano", "Elisa", "Nicolò", "Emma", "James", "Olivia", "Thomas", "Sophie", "Daniel"]  # fmt: skip
LAST_NAMES = ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
              "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
              "Barbieri", "Fontana", "Santoro", "Mariani", "D'Amico", "Smith", "Jones", "Taylor", "Brown", "Wilson"]  # fmt: skip
CONTACT_SOURCES = ["webshop", "store", "web_form", "referral", "ads"]
INTERACTION_CHANNELS = ["email", "phone", "chat", "sms", "social", "store"]
INTERACTION_WEIGHTS = [0.4, 0.15, 0.15, 0.1, 0.1, 0.1]
INTERACTION_SUBJECTS = ["Newsletter", "Order question", "Delivery update", "Product advice", "Promotion", "Follow-up"]
TICKET_SUBJECTS = ["Late delivery", "Damaged item", "Wrong size", "Refund request", "Invoice copy", "Warranty claim"]
TICKET_CHANNELS = ["email", "phone", "chat", "web_form"]
TICKET_PRIORITIES = ["low", "normal", "high", "urgent"]
# Satisfaction 1..5 of customers who drop out and of the others.
RATINGS_CHURNED = [0.3, 0.3, 0.2, 0.12, 0.08]
RATINGS_ACTIVE = [0.03, 0.07, 0.2, 0.35, 0.35]
INSERT_BATCH = 50_000
ORDER_CHUNK = 250_000


def window_start() -> dt.date:
    """The first day of the history: ``HISTORY_DAYS`` days up to and including ``AS_OF``."""
    return AS_OF - dt.timedelta(days=HISTORY_DAYS - 1)


def _epoch_seconds(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp())


# --- the population ------------------------------------------------------------------------------


@dataclass
class Population:
    """The customers' hidden traits and their orders in time order (times in days from the window start)."""

    first_t: np.ndarray  # continuous day of the first purchase
    end_t: np.ndarray  # until when the customer is active: the drop-out time, or the end of the window
    churned: np.ndarray  # dropped out before AS_OF
    nu: np.ndarray  # Gamma-Gamma spend rate (euro⁻¹)
    favourites: np.ndarray  # (customers, 3) leaf category indexes
    channel: np.ndarray  # preferred order channel index
    order_customer: np.ndarray  # customer index of each order, orders in time order
    order_seconds: np.ndarray  # epoch seconds
    order_first: np.ndarray  # the customer's first order
    order_lines: np.ndarray  # lines per order
    repeat_purchases: int = 0


def _seasonal_clock(start: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Day boundaries 0..H and the seasonal time elapsed at each (mean speed 1 over the window)."""
    days = np.arange(HISTORY_DAYS)
    dates = np.datetime64(start.isoformat(), "D") + days
    months = dates.astype("datetime64[M]").astype(np.int64) % 12
    weekdays = (dates.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    speed = np.asarray(MONTH_WEIGHTS)[months] * np.asarray(WEEKDAY_WEIGHTS)[weekdays]
    speed /= speed.mean()
    return np.arange(HISTORY_DAYS + 1, dtype=float), np.concatenate(([0.0], np.cumsum(speed)))


def population_draw(customers: int, rng: np.random.Generator) -> Population:
    """Draw every customer's traits and purchase times (numpy only, no database)."""
    boundaries, clock = _seasonal_clock(window_start())
    horizon = float(HISTORY_DAYS)
    n = customers
    # First purchases: seasonal, and growing from half to one and a half times the mean rate.
    speed = np.diff(clock)
    growth = speed * (0.5 + (np.arange(HISTORY_DAYS) + 0.5) / horizon)
    arrivals = np.concatenate(([0.0], np.cumsum(growth)))
    first_t = np.interp(rng.random(n) * arrivals[-1], arrivals, boundaries)

    bg = TRUE_BGNBD
    rate = rng.gamma(bg["r"], 1 / bg["alpha"], n)
    dropout = rng.beta(bg["a"], bg["b"], n)
    first_clock = np.interp(first_t, boundaries, clock)
    exposure = clock[-1] - first_clock  # seasonal time from the first purchase to the end
    possible = rng.poisson(rate * exposure)  # repeat purchases if nobody dropped out
    lasting = rng.geometric(dropout)  # the repeat purchase after which the customer drops out
    repeats = np.minimum(possible, lasting)
    churned = lasting <= possible
    # The first `repeats` of `possible` uniform times on the exposure: exponential spacings, normalised by
    # the spacings of all `possible` + 1 gaps (the rest drawn at once as one Gamma).
    owner = np.repeat(np.arange(n), repeats)
    steps = rng.exponential(size=owner.size)
    cumulative = np.cumsum(steps)
    group_start = np.concatenate(([0], np.cumsum(repeats)[:-1]))
    before = np.concatenate(([0.0], cumulative))[group_start]
    within = cumulative - np.repeat(before, repeats)
    tail = np.zeros(n)
    has = repeats > 0
    tail[has] = rng.gamma(possible[has] - repeats[has] + 1.0)
    total = np.repeat(within[np.cumsum(repeats)[has] - 1] if has.any() else np.zeros(0), repeats[has])
    total = total + np.repeat(tail[has], repeats[has])
    repeat_clock = np.repeat(first_clock, repeats) + within / total * np.repeat(exposure, repeats)
    repeat_t = np.minimum(np.interp(repeat_clock, clock, boundaries), horizon - 1e-9)

    last_t = first_t.copy()
    if owner.size:
        last_index = np.cumsum(repeats)[has] - 1
        last_t[has] = repeat_t[last_index]
    end_t = np.where(churned, last_t, horizon)

    spend = TRUE_SPEND
    nu = rng.gamma(spend["q"], 1 / spend["gamma"], n)

    leaves_per_root = len(next(iter(CATALOGUE.values())))
    roots = len(CATALOGUE)
    leaf_popularity = _leaf_popularity()
    root = rng.choice(roots, size=n, p=leaf_popularity.reshape(roots, leaves_per_root).sum(axis=1))
    favourites = np.stack(
        [
            root * leaves_per_root + rng.integers(0, leaves_per_root, n),
            root * leaves_per_root + rng.integers(0, leaves_per_root, n),
            rng.choice(leaf_popularity.size, size=n, p=leaf_popularity),
        ],
        axis=1,
    )
    channel = rng.choice(len(ORDER_CHANNELS), size=n, p=ORDER_CHANNEL_WEIGHTS)

    order_customer = np.concatenate((np.arange(n), owner))
    order_t = np.concatenate((first_t, repeat_t))
    order_first = np.concatenate((np.ones(n, dtype=bool), np.zeros(owner.size, dtype=bool)))
    # Keep the day, pick the time of day from the shop's hours.
    hours = rng.choice(24, size=order_t.size, p=np.asarray(HOUR_WEIGHTS) / sum(HOUR_WEIGHTS))
    seconds_of_day = hours * 3600 + rng.integers(0, 3600, order_t.size)
    order_seconds = _epoch_seconds(window_start()) + np.floor(order_t).astype(np.int64) * DAY + seconds_of_day
    order = np.argsort(order_seconds, kind="stable")
    orders = order.size
    lines_total = LINES_PER_CUSTOMER * n
    if lines_total < orders:
        raise ValueError(f"{lines_total} lines cannot cover {orders} orders")
    order_lines = 1 + np.bincount(rng.integers(0, orders, lines_total - orders), minlength=orders)
    return Population(
        first_t=first_t,
        end_t=end_t,
        churned=churned,
        nu=nu,
        favourites=favourites,
        channel=channel,
        order_customer=order_customer[order],
        order_seconds=order_seconds[order],
        order_first=order_first[order],
        order_lines=order_lines,
        repeat_purchases=int(repeats.sum()),
    )


def _leaf_popularity() -> np.ndarray:
    """Cheap categories sell more often."""
    prices = np.array([price for leaves in CATALOGUE.values() for _name, price in leaves])
    weights = 1 / np.sqrt(prices)
    return weights / weights.sum()


# --- rows ---------------------------------------------------------------------------------------


def _timestamps(seconds: np.ndarray) -> list[str]:
    """Epoch seconds as the text Django keeps for an aware datetime on SQLite: ``2026-03-31 17:30:00``."""
    text = np.datetime_as_string(np.asarray(seconds, dtype="datetime64[s]"), unit="s").astype("S19")
    text.view(np.uint8).reshape(-1, 19)[:, 10] = ord(" ")
    return text.astype("U19").tolist()


def _money(cents: np.ndarray) -> list[float]:
    # SQLite stores a decimal column's value as a number (NUMERIC affinity): a float of two places is what
    # Django itself writes there, and ROUND(x * 100) gives the cents back exactly.
    return (np.asarray(cents, dtype=np.int64) / 100).tolist()


def _insert(model: type[models.Model], columns: dict[str, Any], count: int) -> int:
    """Insert ``count`` rows into ``model``'s table; a column is a sequence of ``count`` values or one value for all.

    Every NOT NULL column of the model must be given: raw SQL gets none of Django's defaults.
    """
    meta = model._meta
    fields = {model_field.attname: model_field for model_field in meta.concrete_fields}
    unknown = sorted(set(columns) - set(fields))
    missing = sorted(name for name, model_field in fields.items() if name not in columns and not model_field.null)
    if unknown or missing:
        raise RuntimeError(f"{meta.label}: unknown columns {unknown}, NOT NULL columns without a value {missing}")
    values = []
    for name, value in columns.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        if isinstance(value, list):
            if len(value) != count:
                raise RuntimeError(f"{meta.label}.{name}: {len(value)} values for {count} rows")
            values.append(value)
        else:
            values.append(itertools.repeat(value, count))
    quote = connection.ops.quote_name
    names = ", ".join(quote(fields[name].column) for name in columns)
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"
    rows = zip(*values, strict=False)
    with connection.cursor() as cursor:
        while batch := list(itertools.islice(rows, INSERT_BATCH)):
            cursor.executemany(sql, batch)
    return count


@dataclass
class Catalogue:
    """The products as arrays, indexed 0..n-1 (ids are index + 1), grouped by leaf category."""

    leaf: np.ndarray
    price_cents: np.ndarray
    cost_cents: np.ndarray
    leaf_cdf: np.ndarray  # leaf index + cumulative popularity within the leaf, for searchsorted
    companion: np.ndarray  # per leaf: the leaf that goes with it


def catalogue_write(rng: np.random.Generator, *, created: str) -> Catalogue:
    """Write the category tree and the products; return the products as arrays."""
    names, parents = [], []
    for root, leaves in CATALOGUE.items():
        names.append(root)
        parents.append(None)
        root_id = len(names)
        for leaf, _price in leaves:
            names.append(leaf)
            parents.append(root_id)
    _insert(Category, {"id": list(range(1, len(names) + 1)), "name": names, "parent_id": parents}, len(names))
    leaf_ids = [index + 1 for index, parent in enumerate(parents) if parent is not None]
    base_prices = [price for leaves in CATALOGUE.values() for _name, price in leaves]
    leaf_names = [name for leaves in CATALOGUE.values() for name, _price in leaves]
    per = PRODUCTS_PER_CATEGORY
    leaf = np.repeat(np.arange(len(leaf_ids)), per)
    price_euro = np.repeat(base_prices, per) * rng.lognormal(0.0, 0.45, leaf.size)
    price_cents = np.maximum(np.rint(price_euro) * 100 - 1, 99).astype(np.int64)  # 319.99
    cost_cents = np.rint(price_cents * rng.uniform(0.4, 0.75, leaf.size)).astype(np.int64)
    product_names = [f"{MODEL_NAMES[index % per]} {leaf_names[leaf[index]].lower()}" for index in range(leaf.size)]
    count = leaf.size
    _insert(
        Product,
        {
            "id": list(range(1, count + 1)),
            "sku": [f"BA-{leaf[index] + 1:02d}-{index % per + 1:02d}" for index in range(count)],
            "name": product_names,
            "name_key": [text_key(name) for name in product_names],
            "category_id": [leaf_ids[value] for value in leaf.tolist()],
            "price": _money(price_cents),
            "cost": _money(cost_cents),
            "currency": "EUR",
            "active": True,
            "created_at": created,
            "updated_at": created,
        },
        count,
    )
    # Within a leaf, a Zipf-like popularity: the first models sell most.
    popularity = 1 / (np.arange(per) + 1.0) ** 1.1
    within = np.cumsum(popularity) / popularity.sum()
    leaf_cdf = (leaf + np.tile(within, len(leaf_ids))).astype(float)
    leaf_cdf[np.arange(per - 1, count, per)] = leaf[np.arange(per - 1, count, per)] + 1.0
    companion = np.arange(len(leaf_ids)) ^ 1
    return Catalogue(leaf=leaf, price_cents=price_cents, cost_cents=cost_cents, leaf_cdf=leaf_cdf, companion=companion)


def contacts_write(population: Population, rng: np.random.Generator, *, sales: list[tuple[int, int]]) -> int:
    """Write one contact per customer (id = customer index + 1), created shortly before their first order."""
    n = population.first_t.size
    start = _epoch_seconds(window_start())
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    first_keys = [text_key(name) for name in FIRST_NAMES]
    last_keys = [text_key(name) for name in LAST_NAMES]
    created = start + ((population.first_t - rng.uniform(0, 30, n)) * DAY).astype(np.int64)
    created_text = _timestamps(created)
    birth = np.datetime64("1950-01-01") + rng.integers(0, 55 * 365, n)
    owned = rng.random(n) < 0.25
    rep = rng.integers(0, max(len(sales), 1), n)
    owners = [
        sales[index][0] if own and sales else None for own, index in zip(owned.tolist(), rep.tolist(), strict=True)
    ]
    teams = [
        sales[index][1] if own and sales else None for own, index in zip(owned.tolist(), rep.tolist(), strict=True)
    ]
    return _insert(
        Contact,
        {
            "id": np.arange(1, n + 1),
            "first_name": [FIRST_NAMES[index] for index in first.tolist()],
            "last_name": [LAST_NAMES[index] for index in last.tolist()],
            "first_name_key": [first_keys[index] for index in first.tolist()],
            "last_name_key": [last_keys[index] for index in last.tolist()],
            "title": "",
            "language": np.where(rng.random(n) < 0.85, "it", "en"),
            "birth_date": np.datetime_as_string(birth, unit="D"),
            "lifecycle_stage": LifecycleStage.CUSTOMER.value,
            "source": np.asarray(CONTACT_SOURCES)[rng.integers(0, len(CONTACT_SOURCES), n)],
            "owner_id": owners,
            "team_id": teams,
            "created_at": created_text,
            "updated_at": created_text,
        },
        n,
    )


def _order_statuses(population: Population, rng: np.random.Generator, lo: int, hi: int) -> np.ndarray:
    seconds = population.order_seconds[lo:hi]
    age_days = (_epoch_seconds(AS_OF + dt.timedelta(days=1)) - seconds) / DAY
    status = np.select(
        [age_days < 2, age_days < 4, age_days < 7],
        [OrderStatus.CONFIRMED.value, OrderStatus.FULFILLED.value, OrderStatus.SHIPPED.value],
        OrderStatus.DELIVERED.value,
    ).astype(object)
    u = rng.random(hi - lo)
    repeat = ~population.order_first[lo:hi]
    status[repeat & (u < 0.003)] = OrderStatus.DRAFT.value
    status[repeat & (u >= 0.003) & (u < 0.028)] = OrderStatus.CANCELLED.value
    status[repeat & (u >= 0.028) & (u < 0.043)] = OrderStatus.RETURNED.value
    return status


def orders_write(population: Population, catalogue: Catalogue, rng: np.random.Generator) -> tuple[int, int]:
    """Write the orders (ids in time order) and their lines, chunk by chunk; totals are the sums of the lines."""
    orders = population.order_seconds.size
    line_end = np.cumsum(population.order_lines)
    end_of_window = _epoch_seconds(AS_OF + dt.timedelta(days=1)) - 1
    years = np.asarray(population.order_seconds, dtype="datetime64[s]").astype("datetime64[Y]").astype(int) + 1970
    channels = np.asarray(ORDER_CHANNELS, dtype=object)
    favourite_cdf = np.cumsum(FAVOURITE_WEIGHTS)[:-1]
    leaf_popularity = _leaf_popularity()
    spend_p = TRUE_SPEND["p"]
    lines_written = 0
    for lo in range(0, orders, ORDER_CHUNK):
        hi = min(orders, lo + ORDER_CHUNK)
        count = hi - lo
        per_order = population.order_lines[lo:hi]
        first_line = int(line_end[lo - 1]) if lo else 0
        n_lines = int(line_end[hi - 1]) - first_line
        line_order = np.repeat(np.arange(count), per_order)  # order index within the chunk
        order_start = np.concatenate(([0], np.cumsum(per_order)[:-1]))
        position = np.arange(n_lines) - order_start[line_order]
        customer = population.order_customer[lo:hi]
        line_customer = customer[line_order]

        # Category: a favourite most of the time, else any by popularity; later lines often the companion
        # of the first line's category.
        slot = np.searchsorted(favourite_cdf, rng.random(n_lines), side="right")
        favourite = population.favourites[line_customer, slot]
        anywhere = rng.choice(leaf_popularity.size, size=n_lines, p=leaf_popularity)
        leaf = np.where(rng.random(n_lines) < FAVOURITE_SHARE, favourite, anywhere)
        first_leaf = leaf[order_start][line_order]
        companion = (position > 0) & (rng.random(n_lines) < COMPANION_SHARE)
        leaf = np.where(companion, catalogue.companion[first_leaf], leaf)

        # Value: the order's Gamma-Gamma amount, shared among its lines; each line takes, of three popular
        # products of its category, the one priced nearest its share, in the quantity that comes closest.
        order_value = rng.gamma(spend_p, 1 / population.nu[customer]) * 100  # cents
        weights = rng.exponential(size=n_lines)
        share = weights / np.add.reduceat(weights, order_start)[line_order]
        target = np.maximum(order_value[line_order] * share, 1.0)
        candidates = np.searchsorted(catalogue.leaf_cdf, leaf[:, None] + rng.random((n_lines, 3)), side="right")
        candidates = np.minimum(candidates, catalogue.leaf.size - 1)
        misfit = np.abs(np.log(catalogue.price_cents[candidates]) - np.log(target)[:, None])
        product = candidates[np.arange(n_lines), np.argmin(misfit, axis=1)]
        price = catalogue.price_cents[product]
        quantity = np.clip(np.rint(target / price), 1, 10).astype(np.int64)
        gross = quantity * price
        discounted = rng.random(n_lines) < 0.15
        discount = np.where(discounted, np.rint(gross * rng.uniform(0.05, 0.25, n_lines)), 0).astype(np.int64)
        line_total = gross - discount
        line_cost = quantity * catalogue.cost_cents[product]

        seconds = population.order_seconds[lo:hi]
        status = _order_statuses(population, rng, lo, hi)
        updated = np.where(status == OrderStatus.DRAFT.value, seconds, np.minimum(seconds + 4 * DAY, end_of_window))
        channel = np.where(
            rng.random(count) < 0.75,
            population.channel[customer],
            rng.choice(len(ORDER_CHANNELS), size=count, p=ORDER_CHANNEL_WEIGHTS),
        )
        ids = np.arange(lo + 1, hi + 1)
        with transaction.atomic():
            _insert(
                Order,
                {
                    "id": ids,
                    "number": [
                        f"ORD-{year}-{pk:06d}" for year, pk in zip(years[lo:hi].tolist(), ids.tolist(), strict=True)
                    ],
                    "contact_id": customer + 1,
                    "account_id": None,
                    "channel": channels[channel],
                    "placed_at": _timestamps(seconds),
                    "status": status,
                    "currency": "EUR",
                    "subtotal": _money(np.add.reduceat(gross, order_start)),
                    "discount_total": _money(np.add.reduceat(discount, order_start)),
                    "total": _money(np.add.reduceat(line_total, order_start)),
                    "cost_total": _money(np.add.reduceat(line_cost, order_start)),
                    "notes": "",
                    "created_at": _timestamps(seconds),
                    "updated_at": _timestamps(updated),
                },
                count,
            )
            _insert(
                OrderLine,
                {
                    "id": np.arange(first_line + 1, first_line + n_lines + 1),
                    "order_id": ids[line_order],
                    "product_id": product + 1,
                    "quantity": quantity,
                    "unit_price": _money(price),
                    "discount": _money(discount),
                    "unit_cost": _money(catalogue.cost_cents[product]),
                    "line_total": _money(line_total),
                },
                n_lines,
            )
        lines_written += n_lines
    return orders, lines_written


def _uniform_between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return lo + rng.random(lo.size) * np.maximum(hi - lo, 0.0)


def engagement_write(population: Population, rng: np.random.Generator, *, support: list[int]) -> dict[str, int]:
    """Write interactions, tickets and consent events that follow each customer's activity."""
    start = _epoch_seconds(window_start())
    horizon = float(HISTORY_DAYS)
    last_second = horizon - 1 / DAY
    n = population.first_t.size
    churned = population.churned
    active_from = np.maximum(population.first_t - 30, 0.0)
    active_to = np.minimum(np.where(churned, population.end_t + 45, horizon), last_second)
    counts: dict[str, int] = {}

    # Interactions: about one every 150 active days, on any channel.
    per_customer = rng.poisson((active_to - active_from) / 150)
    who = np.repeat(np.arange(n), per_customer)
    when = start + (_uniform_between(rng, active_from[who], active_to[who]) * DAY).astype(np.int64)
    channel = rng.choice(len(INTERACTION_CHANNELS), size=who.size, p=INTERACTION_WEIGHTS)
    outbound = np.isin(channel, [0, 3]) & (rng.random(who.size) < 0.7)
    when_text = _timestamps(when)
    with transaction.atomic():
        counts["interactions"] = _insert(
            Interaction,
            {
                "id": np.arange(1, who.size + 1),
                "channel": np.asarray(INTERACTION_CHANNELS, dtype=object)[channel],
                "direction": np.where(outbound, "out", "in"),
                "occurred_at": when_text,
                "contact_id": who + 1,
                "subject": np.asarray(INTERACTION_SUBJECTS, dtype=object)[
                    rng.integers(0, len(INTERACTION_SUBJECTS), who.size)
                ],
                "body": "",
                "source": "",
                "external_id": "",
                "created_at": when_text,
            },
            who.size,
        )

    # Tickets: customers who drop out open more, shortly before they go, and rate them lower.
    tickets = (rng.random(n) < np.where(churned, 0.22, 0.08)).astype(np.int64)
    tickets += (tickets > 0) & (rng.random(n) < 0.2)
    who = np.repeat(np.arange(n), tickets)
    left = churned[who]
    lo = np.where(left, np.maximum(population.end_t[who] - 60, population.first_t[who]), population.first_t[who])
    hi = np.where(left, np.minimum(population.end_t[who] + 10, last_second), last_second)
    opened_t = _uniform_between(rng, lo, hi)
    opened = start + (opened_t * DAY).astype(np.int64)
    end = start + HISTORY_DAYS * DAY - 1
    recent = opened_t > horizon - 3
    status = np.where(rng.random(who.size) < 0.3, TicketStatus.SOLVED.value, TicketStatus.CLOSED.value).astype(object)
    status[recent] = np.asarray(["new", "open", "pending"], dtype=object)[rng.integers(0, 3, int(recent.sum()))]
    done = ~recent
    responded = np.minimum(opened + rng.integers(1800, 30 * 3600, who.size), end)
    solved = np.minimum(responded + rng.integers(3600, 5 * DAY, who.size), end)
    closed = np.minimum(solved + 2 * DAY, end)
    rated = done & (rng.random(who.size) < 0.55)
    rating = (
        np.where(
            left,
            rng.choice(5, size=who.size, p=RATINGS_CHURNED),
            rng.choice(5, size=who.size, p=RATINGS_ACTIVE),
        )
        + 1
    )
    ids = np.arange(1, who.size + 1)
    is_closed = status == TicketStatus.CLOSED.value
    with transaction.atomic():
        counts["tickets"] = _insert(
            Ticket,
            {
                "id": ids,
                "number": [f"TCK-{pk:06d}" for pk in ids.tolist()],
                "contact_id": who + 1,
                "subject": np.asarray(TICKET_SUBJECTS, dtype=object)[rng.integers(0, len(TICKET_SUBJECTS), who.size)],
                "description": "",
                "channel": np.asarray(TICKET_CHANNELS, dtype=object)[rng.integers(0, len(TICKET_CHANNELS), who.size)],
                "status": status,
                "priority": np.asarray(TICKET_PRIORITIES, dtype=object)[
                    rng.choice(4, size=who.size, p=[0.2, 0.6, 0.15, 0.05])
                ],
                "category": "",
                "assignee_id": [
                    support[index] if support else None
                    for index in rng.integers(0, max(len(support), 1), who.size).tolist()
                ],
                "first_response_at": [
                    text if ok else None for text, ok in zip(_timestamps(responded), done.tolist(), strict=True)
                ],
                "solved_at": [
                    text if ok else None for text, ok in zip(_timestamps(solved), done.tolist(), strict=True)
                ],
                "closed_at": [
                    text if ok else None for text, ok in zip(_timestamps(closed), is_closed.tolist(), strict=True)
                ],
                "first_response_breached": False,
                "resolution_breached": False,
                "satisfaction_rating": [
                    int(value) if ok else None for value, ok in zip(rating.tolist(), rated.tolist(), strict=True)
                ],
                "satisfaction_comment": "",
                "created_at": _timestamps(opened),
                "updated_at": _timestamps(np.where(is_closed, closed, np.where(done, solved, opened))),
            },
            who.size,
        )

    # Consent: granted when the contact signs up; withdrawn by one in three of those who drop out.
    purposes = [("marketing", "email", 0.7), ("newsletter", "email", 0.45), ("profiling", "any", 0.25)]
    who_parts, purpose_parts, channel_parts, status_parts, when_parts = [], [], [], [], []
    for purpose, channel_name, share in purposes:
        granted = np.flatnonzero(rng.random(n) < share)
        who_parts.append(granted)
        purpose_parts.append(np.full(granted.size, purpose, dtype=object))
        channel_parts.append(np.full(granted.size, channel_name, dtype=object))
        status_parts.append(np.full(granted.size, "granted", dtype=object))
        when_parts.append(active_from[granted] + rng.uniform(0, 1, granted.size))
        withdraws = granted[rng.random(granted.size) < np.where(churned[granted], 0.35, 0.04)]
        later = np.where(
            churned[withdraws],
            population.end_t[withdraws] + rng.uniform(10, 120, withdraws.size),
            _uniform_between(rng, population.first_t[withdraws], np.full(withdraws.size, horizon)),
        )
        keep = later < last_second
        withdraws, later = withdraws[keep], later[keep]
        who_parts.append(withdraws)
        purpose_parts.append(np.full(withdraws.size, purpose, dtype=object))
        channel_parts.append(np.full(withdraws.size, channel_name, dtype=object))
        status_parts.append(np.full(withdraws.size, "withdrawn", dtype=object))
        when_parts.append(later)
    who = np.concatenate(who_parts)
    when = start + (np.concatenate(when_parts) * DAY).astype(np.int64)
    order = np.lexsort((who, when))
    when_text = _timestamps(when[order])
    with transaction.atomic():
        counts["consent events"] = _insert(
            ConsentEvent,
            {
                "id": np.arange(1, who.size + 1),
                "contact_id": who[order] + 1,
                "purpose": np.concatenate(purpose_parts)[order],
                "channel": np.concatenate(channel_parts)[order],
                "status": np.concatenate(status_parts)[order],
                "source": "bench",
                "proof": "",
                "occurred_at": when_text,
                "created_at": when_text,
            },
            who.size,
        )
    return counts


# --- the whole build ------------------------------------------------------------------------------


@dataclass
class BuildResult:
    """What the builder wrote: rows per table, the seconds each step took, and the hidden truths."""

    counts: dict[str, int]
    seconds: dict[str, float]
    repeat_purchases: int
    churned: int


def dataset_build(*, customers: int, seed: int = SEED) -> BuildResult:
    """Write the whole data set into the default database, which must be freshly migrated."""
    from cuore.demo.generator import demo_users_ensure
    from cuore.users.models import User

    rng = np.random.default_rng(seed)
    seconds: dict[str, float] = {}
    mark = time.perf_counter()
    demo_users_ensure()
    sales = list(User.objects.filter(role="sales").order_by("id").values_list("id", "team_id"))
    support = list(User.objects.filter(role="support").order_by("id").values_list("id", flat=True))

    population = population_draw(customers, rng)
    seconds["draw"] = time.perf_counter() - mark
    counts: dict[str, int] = {}
    loaded = [Contact, Order, OrderLine, Interaction, Ticket, ConsentEvent]
    with _bulk_pragmas():
        with _indexes_deferred(loaded):
            mark = time.perf_counter()
            created = _timestamps(np.array([_epoch_seconds(window_start()) - 400 * DAY]))[0]
            with transaction.atomic():
                catalogue = catalogue_write(rng, created=created)
                counts["categories"] = len(CATALOGUE) + sum(len(leaves) for leaves in CATALOGUE.values())
                counts["products"] = catalogue.leaf.size
                counts["contacts"] = contacts_write(population, rng, sales=sales)
            seconds["contacts"] = time.perf_counter() - mark
            mark = time.perf_counter()
            counts["orders"], counts["order lines"] = orders_write(population, catalogue, rng)
            seconds["orders"] = time.perf_counter() - mark
            mark = time.perf_counter()
            counts.update(engagement_write(population, rng, support=support))
            seconds["engagement"] = time.perf_counter() - mark
            mark = time.perf_counter()
        seconds["indexes"] = time.perf_counter() - mark
    return BuildResult(
        counts=counts,
        seconds=seconds,
        repeat_purchases=population.repeat_purchases,
        churned=int(population.churned.sum()),
    )


@contextlib.contextmanager
def _bulk_pragmas() -> Iterator[None]:
    """On SQLite, skip the fsync at each commit, cache more pages and defer the foreign keys while loading."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        (synchronous,) = cursor.fetchone()
        cursor.execute("PRAGMA cache_size")
        (cache_size,) = cursor.fetchone()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-524288")
    try:
        # Every id is handed out here, parents first, so the foreign keys are checked once at the end
        # (dataset_foreign_key_violations) instead of row by row.
        with connection.constraint_checks_disabled():
            yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={int(synchronous)}")
            cursor.execute(f"PRAGMA cache_size={int(cache_size)}")


@contextlib.contextmanager
def _indexes_deferred(model_list: list[type[models.Model]]) -> Iterator[None]:
    """Drop the secondary indexes of these tables while loading and create them again after, from their own SQL.

    Building an index from a full table sorts once; keeping it up to date row by row costs a random
    B-tree insert per row and index. The indexes SQLite makes itself (primary keys, ``unique=True``
    columns) have no SQL and stay. If the build dies half-way the indexes are missing, but then the
    data set is not marked as built either (``__main__`` writes its meta file last), so it is rebuilt.
    """
    if connection.vendor != "sqlite":
        yield
        return
    tables = [model._meta.db_table for model in model_list]
    marks = ", ".join(["%s"] * len(tables))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
            tables,
        )
        indexes = cursor.fetchall()
        for name, _sql in indexes:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _name, sql in indexes:
                cursor.execute(sql)


TABLES = {
    "contacts": Contact,
    "categories": Category,
    "products": Product,
    "orders": Order,
    "order lines": OrderLine,
    "interactions": Interaction,
    "tickets": Ticket,
    "consent events": ConsentEvent,
}


def dataset_counts() -> dict[str, int]:
    """Count the rows of the bench's tables."""
    counts = {}
    with connection.cursor() as cursor:
        for name, model in TABLES.items():
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(model._meta.db_table)}")
            (counts[name],) = cursor.fetchone()
    return counts


def dataset_totals_check() -> dict[str, int]:
    """Sum the order totals and the line totals (in cents) over the whole database: they must be equal."""
    order_table = connection.ops.quote_name(Order._meta.db_table)
    line_table = connection.ops.quote_name(OrderLine._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT SUM(CAST(ROUND(total * 100) AS INTEGER)) FROM {order_table}")
        (orders,) = cursor.fetchone()
        cursor.execute(f"SELECT SUM(CAST(ROUND(line_total * 100) AS INTEGER)) FROM {line_table}")
        (lines,) = cursor.fetchone()
    return {"orders_total_cents": int(orders or 0), "lines_total_cents": int(lines or 0)}


def dataset_foreign_key_violations() -> int:
    """Count the rows whose foreign keys point nowhere (SQLite's own check over every table)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA foreign_key_check")
        return len(cursor.fetchall())
