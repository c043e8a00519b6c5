"""The scoring pipeline: one definition, run on DuckDB (the default) or on Apache Spark.

The pipeline is a list of steps, each a table computed by one SELECT written in DuckDB's SQL
(``Step``), and a few stages in Python (the lifetime-value fit, the churn model) that read a table
as Arrow and hand one back. A ``Runner`` executes it: ``DuckDBRunner`` over the warehouse
connection; ``cuore.analytics.spark.SparkRunner`` transpiles each step to Spark SQL with SQLGlot.
The SQL sticks to what both engines share (no QUALIFY, no DuckDB-only functions).

The input tables are those of ``warehouse`` (orders, order lines, products, contacts…). What counts as an order: status confirmed, fulfilled, shipped or delivered, placed on or before the
run's ``as_of`` date (UTC). Drafts, cancelled orders and wholly returned orders (status returned)
are left out; partial returns are not yet subtracted. Amounts of all currencies are added as they
are (the demo and most installations sell in one currency).

Per customer (a contact, and an account: the orders placed for it plus the account-less orders of
its linked contacts):

- recency_days: days from the last order to ``as_of``; tenure_days: from the first order.
- frequency: the number of orders; monetary_total: the sum of the line totals (after discount);
  monetary_avg: monetary_total / frequency, to the cent (half up).
- margin: sum over lines of (unit price − unit cost) × quantity − discount, that is line_total −
  quantity × unit_cost, as ``Order.total − Order.cost_total``.
- preferred_category: the product category with the most spend (ties: the lowest category id).
- r_score, f_score, m_score: NTILE(5) over all scored customers, ordered by recency descending (the
  most recent get 5), frequency and monetary_total ascending; ties share the lowest score of their
  group, so two customers with the same figure always get the same score.
- rfm_segment: the first rule below that matches (every R, F, M combination matches one):

  ===================  ==========================  ==============================================
  segment              rule                        meaning
  ===================  ==========================  ==============================================
  champions            R ≥ 4, F ≥ 4, M ≥ 4         bought recently, often, and spend the most
  cant_lose_them       R = 1, F ≥ 4, M ≥ 4         were among the best, gone for long
  loyal                R ≥ 3, F ≥ 3, M ≥ 3         buy regularly and spend well
  at_risk              R ≤ 2, F ≥ 3                bought often, but not for a while
  new                  R = 5, F = 1                first order very recently
  promising            R = 4, F = 1                first order recently
  potential_loyalists  R ≥ 4                       recent, a few orders so far
  need_attention       R = 3, F ≥ 2                average recency and frequency
  about_to_sleep       R = 3                       one order, neither recent nor old
  lost                 R = 1, F = 1                one order, long ago
  hibernating          (the rest: R ≤ 2, F ≤ 2)    few orders, long ago
  ===================  ==========================  ==============================================

- abc_class: customers ordered by margin (highest first); with the default cut points (80, 15):
  A while the cumulative margin is at most 80 % of the total positive margin, B up to 95 %, C the
  rest. Customers with a margin of zero or less are always C.

Lifetime value (per contact and per account, each population fitted on its own), in weeks:

- the summary of ``clv.summarise``: frequency = purchase days after the first, recency and T in weeks,
  monetary = the mean value of the repeat purchase days;
- BG/NBD fitted by maximum likelihood gives ``expected_purchases`` over the horizon (default 12
  months) and ``p_alive``; Gamma-Gamma, fitted on the repeat buyers, the expected spend per purchase;
  ``clv`` is the discounted value of the expected purchases over the horizon (``clv.clv``). With too
  few customers to fit (fewer than 20, or fewer than 10 repeat buyers) the three stay empty.

- value_tier: ``below_zero`` when the margin is zero or less (the customer has cost more than they
  brought); ``most_valuable`` for class A; ``growable`` for the others whose CLV is in the top 20 %
  of all customers' (they are expected to bring much more than they have); ``steady`` for the rest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from cuore.analytics import clv

# (segment, condition on r, f, m): the table in the module docstring, in the order it is tried.
SEGMENT_RULES: list[tuple[str, str]] = [
    ("champions", "r >= 4 AND f >= 4 AND m >= 4"),
    ("cant_lose_them", "r = 1 AND f >= 4 AND m >= 4"),
    ("loyal", "r >= 3 AND f >= 3 AND m >= 3"),
    ("at_risk", "r <= 2 AND f >= 3"),
    ("new", "r = 5 AND f = 1"),
    ("promising", "r = 4 AND f = 1"),
    ("potential_loyalists", "r >= 4"),
    ("need_attention", "r = 3 AND f >= 2"),
    ("about_to_sleep", "r = 3"),
    ("lost", "r = 1 AND f = 1"),
]
SEGMENT_OTHERWISE = "hibernating"

SCORE_COLUMNS = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary_total",
    "monetary_avg",
    "margin",
    "tenure_days",
    "preferred_category_id",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "abc_class",
    "expected_purchases",
    "p_alive",
    "clv",
    "value_tier",
    "churn_risk",
    "churn_reasons",
    "next_best_offers",
]

PERIOD_DAYS = 7  # the lifetime-value models count time in weeks
MIN_CUSTOMERS_TO_FIT = 20
MIN_REPEAT_BUYERS_TO_FIT = 10
GROWABLE_TOP_SHARE = 0.2


@dataclass(frozen=True)
class Parameters:
    """What a run depends on besides the data."""

    as_of: dt.date
    abc_a: int = 80
    abc_b: int = 15
    horizon_months: int = 12
    monthly_discount_rate: float = 0.01
    churn_days: int = 90

    def as_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "abc_cuts": [self.abc_a, self.abc_b, 100 - self.abc_a - self.abc_b],
            "horizon_months": self.horizon_months,
            "monthly_discount_rate": self.monthly_discount_rate,
            "churn_days": self.churn_days,
        }

    def as_of_sql(self) -> str:
        return f"DATE '{self.as_of.isoformat()}'"


@dataclass(frozen=True)
class Step:
    """A table of the pipeline: ``table`` is the result of ``sql``, one SELECT in DuckDB's SQL."""

    table: str
    sql: str


class Runner(Protocol):
    """An engine that runs the pipeline's steps and moves tables in and out as Arrow."""

    def execute(self, step: Step) -> None: ...

    def fetch(self, table: str) -> pa.Table: ...

    def put(self, table: str, data: pa.Table) -> None: ...

    def count(self, table: str) -> int: ...


class DuckDBRunner:
    """Run the pipeline in a DuckDB connection (the warehouse); its tables are temporary tables."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def execute(self, step: Step) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {step.table} AS {step.sql}")

    def fetch(self, table: str) -> pa.Table:
        return self.con.sql(f"SELECT * FROM {table}").to_arrow_table()

    def put(self, table: str, data: pa.Table) -> None:
        self.con.register("arrow_put", data)
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM arrow_put")
        finally:
            self.con.unregister("arrow_put")

    def count(self, table: str) -> int:
        return self.con.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]


# --- RFM, category, ABC -----------------------------------------------------------------------------


def segment_sql(r: str = "r_score", f: str = "f_score", m: str = "m_score") -> str:
    """The CASE expression that names the segment of the scores in columns ``r``, ``f``, ``m``."""
    names = {"r": r, "f": f, "m": m}
    whens = []
    for segment, condition in SEGMENT_RULES:
        sql = " ".join(names.get(token, token) for token in condition.split(" "))
        whens.append(f"WHEN {sql} THEN '{segment}'")
    return f"CASE {' '.join(whens)} ELSE '{SEGMENT_OTHERWISE}' END"


def base_steps() -> list[Step]:
    """Each counted order's value and margin; the orders of each contact and each account."""
    return [
        Step(
            "order_values",
            "SELECT order_id, SUM(value_cents) AS value_cents, SUM(value_cents - cost_cents) AS margin_cents "
            "FROM order_lines GROUP BY order_id",
        ),
        Step(
            "contact_orders",
            "SELECT contact_id AS customer_id, id AS order_id, placed_on FROM orders WHERE contact_id IS NOT NULL",
        ),
        # An account's orders: those placed for it, and the account-less orders of its contacts.
        Step(
            "account_orders",
            """
            SELECT account_id AS customer_id, id AS order_id, placed_on FROM orders WHERE account_id IS NOT NULL
            UNION ALL
            SELECT ca.account_id AS customer_id, o.id AS order_id, o.placed_on
            FROM orders o JOIN contact_accounts ca ON ca.contact_id = o.contact_id
            WHERE o.account_id IS NULL
            """,
        ),
    ]


def rfm_step(kind: str, params: Parameters) -> Step:
    """Score the customers of ``{kind}_orders`` (customer_id, order_id, placed_on): the module docstring's rules."""
    source = f"{kind}_orders"
    as_of = params.as_of_sql()
    cut_a, cut_b = params.abc_a, params.abc_a + params.abc_b
    return Step(
        f"{kind}_rfm",
        f"""
    WITH base AS (
        SELECT s.customer_id,
               date_diff('day', MAX(s.placed_on), {as_of}) AS recency_days,
               date_diff('day', MIN(s.placed_on), {as_of}) AS tenure_days,
               COUNT(*) AS frequency,
               COALESCE(SUM(v.value_cents), 0) AS monetary_cents,
               COALESCE(SUM(v.margin_cents), 0) AS margin_cents
        FROM {source} s LEFT JOIN order_values v ON v.order_id = s.order_id
        GROUP BY s.customer_id
    ),
    category_spend AS (
        SELECT s.customer_id, p.category_id, SUM(l.value_cents) AS spend
        FROM {source} s
        JOIN order_lines l ON l.order_id = s.order_id
        JOIN products p ON p.id = l.product_id
        WHERE p.category_id IS NOT NULL
        GROUP BY s.customer_id, p.category_id
    ),
    preferred AS (
        SELECT customer_id, category_id FROM (
            SELECT customer_id, category_id,
                   row_number() OVER (PARTITION BY customer_id ORDER BY spend DESC, category_id) AS position
            FROM category_spend
        ) ranked WHERE position = 1
    ),
    tiles AS (
        SELECT *,
               ntile(5) OVER (ORDER BY recency_days DESC, customer_id) AS r_tile,
               ntile(5) OVER (ORDER BY frequency, customer_id) AS f_tile,
               ntile(5) OVER (ORDER BY monetary_cents, customer_id) AS m_tile,
               SUM(margin_cents) OVER (
                   ORDER BY margin_cents DESC, customer_id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
               ) AS cumulative_margin,
               SUM(greatest(margin_cents, 0)) OVER () AS positive_margin
        FROM base
    ),
    scores AS (
        SELECT *,
               min(r_tile) OVER (PARTITION BY recency_days) AS r_score,
               min(f_tile) OVER (PARTITION BY frequency) AS f_score,
               min(m_tile) OVER (PARTITION BY monetary_cents) AS m_score
        FROM tiles
    )
    SELECT sc.customer_id,
           CAST(sc.recency_days AS INTEGER) AS recency_days,
           CAST(sc.frequency AS INTEGER) AS frequency,
           CAST(sc.monetary_cents * 0.01 AS DECIMAL(18, 2)) AS monetary_total,
           CAST(CAST(floor((2 * sc.monetary_cents + sc.frequency) / (2.0 * sc.frequency)) AS BIGINT) * 0.01
                AS DECIMAL(18, 2)) AS monetary_avg,
           CAST(sc.margin_cents * 0.01 AS DECIMAL(18, 2)) AS margin,
           sc.margin_cents,
           CAST(sc.tenure_days AS INTEGER) AS tenure_days,
           pr.category_id AS preferred_category_id,
           CAST(sc.r_score AS INTEGER) AS r_score,
           CAST(sc.f_score AS INTEGER) AS f_score,
           CAST(sc.m_score AS INTEGER) AS m_score,
           {segment_sql()} AS rfm_segment,
           CASE
               WHEN sc.margin_cents <= 0 THEN 'C'
               WHEN sc.cumulative_margin * 100 <= {cut_a} * sc.positive_margin THEN 'A'
               WHEN sc.cumulative_margin * 100 <= {cut_b} * sc.positive_margin THEN 'B'
               ELSE 'C'
           END AS abc_class
    FROM scores sc LEFT JOIN preferred pr ON pr.customer_id = sc.customer_id
    """,
    )


# --- lifetime value --------------------------------------------------------------------------------


def summary_step(kind: str, params: Parameters, *, period_days: int = PERIOD_DAYS) -> Step:
    """The per-customer summary the lifetime-value models read (see ``clv.summarise``), in weeks."""
    as_of = params.as_of_sql()
    return Step(
        f"{kind}_summary",
        f"""
    WITH days AS (
        SELECT s.customer_id, s.placed_on, SUM(COALESCE(v.value_cents, 0)) AS value_cents
        FROM {kind}_orders s LEFT JOIN order_values v ON v.order_id = s.order_id
        GROUP BY s.customer_id, s.placed_on
    ),
    numbered AS (
        SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY placed_on) AS position FROM days
    )
    SELECT customer_id,
           CAST(COUNT(*) - 1 AS DOUBLE) AS frequency,
           date_diff('day', MIN(placed_on), MAX(placed_on)) / {period_days}.0 AS recency,
           date_diff('day', MIN(placed_on), {as_of}) / {period_days}.0 AS t,
           CASE WHEN COUNT(*) > 1
                THEN SUM(CASE WHEN position > 1 THEN value_cents ELSE 0 END) / (100.0 * (COUNT(*) - 1))
                ELSE 0.0 END AS monetary
    FROM numbered GROUP BY customer_id
    ORDER BY customer_id -- the fits read the rows in this order: the same on every engine, so the same fit
    """,
    )


@dataclass
class LifetimeFit:
    """The fitted parameters of one population, or why there are none."""

    purchases: clv.BGNBDParams | None = None
    spend: clv.GammaGammaParams | None = None
    skipped: str = ""

    def as_json(self) -> dict[str, Any]:
        if self.skipped:
            return {"skipped": self.skipped}
        assert self.purchases is not None and self.spend is not None
        return {
            "bgnbd": {k: round(v, 6) for k, v in vars(self.purchases).items()},
            "gamma_gamma": {k: round(v, 6) for k, v in vars(self.spend).items()},
        }


def lifetime_value(
    summary: pa.Table, params: Parameters, *, period_days: int = PERIOD_DAYS
) -> tuple[pa.Table, LifetimeFit]:
    """Fit BG/NBD and Gamma-Gamma on a summary table and predict each customer's purchases, P(alive) and CLV."""
    summary = summary.sort_by("customer_id")  # the fit sees the same rows in the same order on any engine
    ids = summary.column("customer_id").to_numpy()
    x = summary.column("frequency").to_numpy(zero_copy_only=False).astype(float)
    t_x = summary.column("recency").to_numpy(zero_copy_only=False).astype(float)
    t_cal = summary.column("t").to_numpy(zero_copy_only=False).astype(float)
    m = summary.column("monetary").to_numpy(zero_copy_only=False).astype(float)
    fit = LifetimeFit()
    repeat = (x > 0) & (m > 0)
    if len(ids) < MIN_CUSTOMERS_TO_FIT or repeat.sum() < MIN_REPEAT_BUYERS_TO_FIT:
        fit.skipped = f"{len(ids)} customers, {int(repeat.sum())} repeat buyers: too few to fit"
        empty = pa.nulls(len(ids), pa.float64())
        return pa.table({"customer_id": ids, "expected_purchases": empty, "p_alive": empty, "clv": empty}), fit
    fit.purchases = clv.fit_bgnbd(x, t_x, t_cal)
    fit.spend = clv.fit_gamma_gamma(x[repeat], m[repeat])
    horizon = params.horizon_months * clv.DAYS_PER_MONTH / period_days
    expected = clv.expected_purchases(fit.purchases, horizon, x, t_x, t_cal)
    alive = clv.probability_alive(fit.purchases, x, t_x, t_cal)
    try:
        value = clv.clv(
            fit.purchases,
            fit.spend,
            frequency=x,
            recency=t_x,
            T=t_cal,
            monetary=np.where(repeat, m, 0.0),
            period_days=period_days,
            months=params.horizon_months,
            monthly_discount_rate=params.monthly_discount_rate,
        )
    except ValueError as error:  # q <= 1: the spend model has no finite mean
        fit.skipped = str(error)
        value = np.full(len(ids), np.nan)
    return (
        pa.table(
            {
                "customer_id": ids,
                "expected_purchases": pa.array(expected, mask=~np.isfinite(expected)),
                "p_alive": pa.array(alive, mask=~np.isfinite(alive)),
                "clv": pa.array(np.round(value, 2), mask=~np.isfinite(value)),
            }
        ),
        fit,
    )


# --- assembly ---------------------------------------------------------------------------------------


def scores_step(kind: str) -> Step:
    """The final scores of ``kind``: RFM, ABC, lifetime value, tier, and for contacts churn and offers."""
    churn = (
        "ch.churn_risk, COALESCE(ch.churn_reasons, '[]') AS churn_reasons, "
        "COALESCE(nb.next_best_offers, '[]') AS next_best_offers"
        if kind == "contact"
        else "CAST(NULL AS DOUBLE) AS churn_risk, '[]' AS churn_reasons, '[]' AS next_best_offers"
    )
    joins = (
        "LEFT JOIN contact_churn ch ON ch.customer_id = r.customer_id "
        "LEFT JOIN contact_nbo nb ON nb.customer_id = r.customer_id"
        if kind == "contact"
        else ""
    )
    return Step(
        f"{kind}_scores",
        f"""
    SELECT r.customer_id, r.recency_days, r.frequency, r.monetary_total, r.monetary_avg, r.margin,
           r.tenure_days, r.preferred_category_id, r.r_score, r.f_score, r.m_score, r.rfm_segment, r.abc_class,
           v.expected_purchases, v.p_alive, CAST(v.clv AS DECIMAL(18, 2)) AS clv,
           CASE
               WHEN r.margin_cents <= 0 THEN 'below_zero'
               WHEN r.abc_class = 'A' THEN 'most_valuable'
               WHEN v.clv IS NOT NULL
                    AND percent_rank() OVER (ORDER BY v.clv) >= {1 - GROWABLE_TOP_SHARE} THEN 'growable'
               ELSE 'steady'
           END AS value_tier,
           {churn}
    FROM {kind}_rfm r LEFT JOIN {kind}_clv v ON v.customer_id = r.customer_id {joins}
    """,
    )


@dataclass
class Stage:
    """A named part of the pipeline, timed and measured by the caller."""

    name: str
    run: Callable[[Runner, Parameters], dict[str, Any]]


@dataclass
class Outcome:
    """What the pipeline reports: counts and figures per stage."""

    figures: dict[str, Any] = field(default_factory=dict)


def _rfm_stage(runner: Runner, params: Parameters) -> dict[str, Any]:
    for step in base_steps():
        runner.execute(step)
    counts = {}
    for kind in ("contact", "account"):
        runner.execute(rfm_step(kind, params))
        counts[kind] = runner.count(f"{kind}_rfm")
    return {"customers": counts}


def _lifetime_stage(runner: Runner, params: Parameters) -> dict[str, Any]:
    figures = {}
    for kind in ("contact", "account"):
        runner.execute(summary_step(kind, params))
        table, fit = lifetime_value(runner.fetch(f"{kind}_summary"), params)
        runner.put(f"{kind}_clv", table)
        figures[kind] = fit.as_json()
    return figures


def _churn_stage(runner: Runner, params: Parameters) -> dict[str, Any]:
    from cuore.analytics import churn

    return churn.churn_stage(runner, params)


def _offer_stage(runner: Runner, params: Parameters) -> dict[str, Any]:
    from cuore.analytics import nbo

    return nbo.offer_stage(runner, params)


def _assemble_stage(runner: Runner, params: Parameters) -> dict[str, Any]:
    counts = {}
    for kind in ("contact", "account"):
        runner.execute(scores_step(kind))
        counts[kind] = runner.count(f"{kind}_scores")
    return {"scored": counts}


STAGES = [
    Stage("rfm", _rfm_stage),
    Stage("lifetime_value", _lifetime_stage),
    Stage("churn", _churn_stage),
    Stage("next_best_offer", _offer_stage),
    Stage("assemble", _assemble_stage),
]


def pipeline_run(runner: Runner, params: Parameters, *, measure: Callable[[str], Any] | None = None) -> dict:
    """Run every stage on ``runner``; ``measure(name)`` is a context manager timing each stage."""
    figures: dict[str, Any] = {}
    for stage in STAGES:
        if measure is None:
            figures[stage.name] = stage.run(runner, params)
        else:
            with measure(stage.name):
                figures[stage.name] = stage.run(runner, params)
    return figures


# --- reading the results (DuckDB) -------------------------------------------------------------------


def scores_summary(con: duckdb.DuckDBPyConnection, *, kind: str = "contact") -> dict[str, dict[str, int]]:
    """How many customers of ``kind`` fall in each ABC class, segment and value tier."""
    summary = {}
    for column, key in (("abc_class", "abc"), ("rfm_segment", "segments"), ("value_tier", "tiers")):
        summary[key] = dict(
            con.execute(f"SELECT {column}, count(*) FROM {kind}_scores GROUP BY ALL ORDER BY 2 DESC, 1").fetchall()
        )
    return summary


def history_append(con: duckdb.DuckDBPyConnection, *, run_id: int, as_of: dt.date) -> None:
    """Keep this run's scores in the dated history (replacing any earlier copy of the same run)."""
    columns = ", ".join(SCORE_COLUMNS[1:])
    for kind, table in (("contact", "score_history"), ("account", "account_score_history")):
        con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        con.execute(
            f"INSERT INTO {table} (run_id, as_of, {kind}_id, {columns}) "
            f"SELECT ?, ?, customer_id, {columns} FROM {kind}_scores",
            [run_id, as_of],
        )


def scores_read(con: duckdb.DuckDBPyConnection, *, kind: str, batch_rows: int) -> Iterator[list[tuple]]:
    """The computed scores of ``kind``, in batches of rows ordered as SCORE_COLUMNS (JSON columns parsed)."""
    result = con.execute(f"SELECT {', '.join(SCORE_COLUMNS)} FROM {kind}_scores ORDER BY customer_id")
    while rows := result.fetchmany(batch_rows):
        yield rows


def json_or_empty(text: str | None) -> Any:
    """A JSON column's value, or an empty list when it is NULL."""
    return json.loads(text) if text else []
