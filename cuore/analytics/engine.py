"""The warehouse: extract orders from the operational database as Arrow, score customers in DuckDB.

Extraction reads plain cursor queries in batches (``fetchmany``), turns each batch into an Arrow
RecordBatch and streams them into DuckDB tables (``orders``, ``order_lines``, ``products``,
``contact_accounts``), replaced on every run. Amounts travel as integer cents, so nothing is lost to
floating point whichever database they come from.

What counts as an order: status confirmed, fulfilled, shipped or delivered, placed on or before the
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
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from django.conf import settings
from django.db import connection

from cuore.contacts.models import ContactAccount
from cuore.orders.models import Order, OrderLine, OrderStatus, Product

COUNTED_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
FETCH_ROWS = 50_000

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
]


@dataclass(frozen=True)
class Parameters:
    """What a run depends on besides the data: the date it looks from and the ABC cut points (%)."""

    as_of: dt.date
    abc_a: int = 80
    abc_b: int = 15

    def as_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "abc_cuts": [self.abc_a, self.abc_b, 100 - self.abc_a - self.abc_b]}


def warehouse_path() -> Path:
    """Where the warehouse lives: ``DATA_DIR/warehouse/warehouse.duckdb``."""
    return Path(settings.DATA_DIR) / "warehouse" / "warehouse.duckdb"


def warehouse_connect(*, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (created on first use)."""
    path = warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only and path.exists())
    if not read_only:
        _history_tables_ensure(con)
    return con


def _history_tables_ensure(con: duckdb.DuckDBPyConnection) -> None:
    for table, key in (("score_history", "contact_id"), ("account_score_history", "account_id")):
        con.execute(
            f"""
            CREATE TABLE IF NOT EXISTS {table} (
                run_id BIGINT NOT NULL, as_of DATE NOT NULL, {key} BIGINT NOT NULL,
                recency_days INTEGER, frequency INTEGER, monetary_total DECIMAL(18, 2),
                monetary_avg DECIMAL(18, 2), margin DECIMAL(18, 2), tenure_days INTEGER,
                preferred_category_id BIGINT, r_score TINYINT, f_score TINYINT, m_score TINYINT,
                rfm_segment VARCHAR, abc_class VARCHAR
            )
            """
        )


# --- extraction -------------------------------------------------------------------------------


def _date_sql(column: str) -> str:
    """The UTC date of a timestamp column as 'YYYY-MM-DD' text, on either database."""
    if connection.vendor == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"substr({column}, 1, 10)"  # SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS[.ffffff]'


def _cents_sql(expression: str) -> str:
    return f"CAST(ROUND({expression} * 100) AS BIGINT)"


def _batches(
    sql: str, params: list[Any], schema: pa.Schema, counter: dict[str, int], name: str
) -> Iterator[pa.RecordBatch]:
    """Run ``sql`` and yield its rows as Arrow record batches of at most FETCH_ROWS rows."""
    counter[name] = 0
    # chunked_cursor: a server-side cursor on PostgreSQL, so the rows are not all held by the client.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(FETCH_ROWS):
            columns = list(zip(*rows, strict=True))
            counter[name] += len(rows)
            yield pa.RecordBatch.from_arrays(
                [pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)],
                schema=schema,
            )


def _load(con: duckdb.DuckDBPyConnection, table: str, sql: str, params: list[Any], schema: pa.Schema, counter):
    # Batch by batch from this thread: a RecordBatchReader would be pulled by DuckDB's own threads,
    # which do not share this thread's database connection (nor its transaction).
    con.register("arrow_source", schema.empty_table())
    con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM arrow_source")
    try:
        for batch in _batches(sql, params, schema, counter, table):
            con.register("arrow_source", batch)
            con.execute(f"INSERT INTO {table} SELECT * FROM arrow_source")
    finally:
        con.unregister("arrow_source")


def warehouse_extract(con: duckdb.DuckDBPyConnection, *, as_of: dt.date) -> dict[str, int]:
    """Copy the counted orders, their lines, the products and the contact-account links into the warehouse."""
    order_table = Order._meta.db_table
    line_table = OrderLine._meta.db_table
    before = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    order_filter = f"o.status IN ({', '.join(['%s'] * len(COUNTED_STATUSES))}) AND o.placed_at < %s"
    params = [str(status) for status in COUNTED_STATUSES] + [connection.ops.adapt_datetimefield_value(before)]
    counts: dict[str, int] = {}
    int64 = pa.int64()
    _load(
        con,
        "orders",
        f"SELECT o.id, o.contact_id, o.account_id, {_date_sql('o.placed_at')} FROM {order_table} o WHERE {order_filter}",
        params,
        pa.schema([("id", int64), ("contact_id", int64), ("account_id", int64), ("placed_on", pa.string())]),
        counts,
    )
    _load(
        con,
        "order_lines",
        f"SELECT l.order_id, l.product_id, {_cents_sql('l.line_total')}, {_cents_sql('l.quantity * l.unit_cost')} "
        f"FROM {line_table} l JOIN {order_table} o ON o.id = l.order_id WHERE {order_filter}",
        params,
        pa.schema([("order_id", int64), ("product_id", int64), ("value_cents", int64), ("cost_cents", int64)]),
        counts,
    )
    _load(
        con,
        "products",
        f"SELECT id, category_id FROM {Product._meta.db_table}",
        [],
        pa.schema([("id", int64), ("category_id", int64)]),
        counts,
    )
    _load(
        con,
        "contact_accounts",
        f"SELECT contact_id, account_id FROM {ContactAccount._meta.db_table}",
        [],
        pa.schema([("contact_id", int64), ("account_id", int64)]),
        counts,
    )
    return counts


# --- scoring ----------------------------------------------------------------------------------


def segment_sql(r: str = "r_score", f: str = "f_score", m: str = "m_score") -> str:
    """The CASE expression that names the segment of the scores in columns ``r``, ``f``, ``m``."""
    names = {"r": r, "f": f, "m": m}
    whens = []
    for segment, condition in SEGMENT_RULES:
        sql = " ".join(names.get(token, token) for token in condition.split(" "))
        whens.append(f"WHEN {sql} THEN '{segment}'")
    return f"CASE {' '.join(whens)} ELSE '{SEGMENT_OTHERWISE}' END"


def _score_sql(source: str, params: Parameters) -> str:
    """Score the customers of ``source`` (customer_id, order_id, placed_on) as of ``params.as_of``."""
    as_of = f"DATE '{params.as_of.isoformat()}'"
    cut_a, cut_b = params.abc_a, params.abc_a + params.abc_b
    return f"""
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
    preferred AS (
        SELECT s.customer_id, p.category_id
        FROM {source} s
        JOIN order_lines l ON l.order_id = s.order_id
        JOIN products p ON p.id = l.product_id
        WHERE p.category_id IS NOT NULL
        GROUP BY s.customer_id, p.category_id
        QUALIFY row_number() OVER (
            PARTITION BY s.customer_id ORDER BY SUM(l.value_cents) DESC, p.category_id
        ) = 1
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
           CAST(sc.monetary_cents * 0.01::DECIMAL(18, 2) AS DECIMAL(18, 2)) AS monetary_total,
           CAST(((2 * sc.monetary_cents + sc.frequency) // (2 * sc.frequency)) * 0.01::DECIMAL(18, 2)
                AS DECIMAL(18, 2)) AS monetary_avg,
           CAST(sc.margin_cents * 0.01::DECIMAL(18, 2) AS DECIMAL(18, 2)) AS margin,
           CAST(sc.tenure_days AS INTEGER) AS tenure_days,
           pr.category_id AS preferred_category_id,
           CAST(sc.r_score AS TINYINT) AS r_score,
           CAST(sc.f_score AS TINYINT) AS f_score,
           CAST(sc.m_score AS TINYINT) AS m_score,
           {segment_sql()} AS rfm_segment,
           CASE
               WHEN sc.margin_cents <= 0 THEN 'C'
               WHEN sc.cumulative_margin * 100 <= {cut_a} * sc.positive_margin THEN 'A'
               WHEN sc.cumulative_margin * 100 <= {cut_b} * sc.positive_margin THEN 'B'
               ELSE 'C'
           END AS abc_class
    FROM scores sc LEFT JOIN preferred pr ON pr.customer_id = sc.customer_id
    ORDER BY sc.customer_id
    """


def scores_compute(con: duckdb.DuckDBPyConnection, *, params: Parameters) -> dict[str, int]:
    """Compute the contact and account scores into the tables ``contact_scores`` and ``account_scores``."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE order_values AS
        SELECT order_id, SUM(value_cents) AS value_cents, SUM(value_cents - cost_cents) AS margin_cents
        FROM order_lines GROUP BY order_id
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE contact_orders AS
        SELECT contact_id AS customer_id, id AS order_id, CAST(placed_on AS DATE) AS placed_on
        FROM orders WHERE contact_id IS NOT NULL
        """
    )
    # An account's orders: those placed for it, and the account-less orders of its contacts.
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE account_orders AS
        SELECT account_id AS customer_id, id AS order_id, CAST(placed_on AS DATE) AS placed_on
        FROM orders WHERE account_id IS NOT NULL
        UNION ALL
        SELECT ca.account_id, o.id, CAST(o.placed_on AS DATE)
        FROM orders o JOIN contact_accounts ca ON ca.contact_id = o.contact_id
        WHERE o.account_id IS NULL
        """
    )
    counts: dict[str, int] = {}
    for kind in ("contact", "account"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {kind}_scores AS {_score_sql(f'{kind}_orders', params)}")
        (counts[kind],) = con.execute(f"SELECT count(*) FROM {kind}_scores").fetchall()[0]
    return counts


def scores_summary(con: duckdb.DuckDBPyConnection, *, kind: str = "contact") -> dict[str, dict[str, int]]:
    """How many customers of ``kind`` fall in each ABC class and each segment."""
    abc = dict(con.execute(f"SELECT abc_class, count(*) FROM {kind}_scores GROUP BY ALL ORDER BY 1").fetchall())
    segments = dict(
        con.execute(f"SELECT rfm_segment, count(*) FROM {kind}_scores GROUP BY ALL ORDER BY 2 DESC, 1").fetchall()
    )
    return {"abc": abc, "segments": segments}


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
    """The computed scores of ``kind``, in batches of rows ordered as SCORE_COLUMNS."""
    result = con.execute(f"SELECT {', '.join(SCORE_COLUMNS)} FROM {kind}_scores ORDER BY customer_id")
    while rows := result.fetchmany(batch_rows):
        yield rows
