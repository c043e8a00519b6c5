"""The warehouse: a DuckDB file under the data directory, filled from the operational database as Arrow.

Extraction reads plain cursor queries in batches (``fetchmany``; a server-side cursor on PostgreSQL),
turns each batch into an Arrow RecordBatch and appends it to a DuckDB table; every extracted table is
replaced on every run. Amounts travel as integer cents, so nothing is lost to floating point
whichever database they come from; times become UTC dates.

The extracted tables (``TABLES``), all as of the run's date:

=================  ============================================================================
orders             id, contact_id, account_id, placed_on: the counted orders (status confirmed,
                   fulfilled, shipped or delivered, placed on or before ``as_of``)
order_lines        order_id, product_id, quantity, value_cents (line total), cost_cents
                   (quantity × unit cost): the lines of the counted orders
products           id, category_id, name
categories         id, parent_id, name
contacts           id, owner_id, team_id, lifecycle_stage, source, created_on
accounts           id, owner_id, team_id, industry, size
contact_accounts   contact_id, account_id
interactions       contact_id, channel, direction, occurred_on (those linked to a contact)
tickets            contact_id, opened_on, satisfaction (1–5 or NULL), breached (1 if either SLA clock was)
consents           contact_id, purpose, channel, status (granted / withdrawn), occurred_on
=================  ============================================================================

Besides them the warehouse keeps its history: ``score_history`` and ``account_score_history`` (every
run's scores, by run and date) and ``segment_membership`` (who was in each segment at each run).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from django.conf import settings
from django.db import connection, transaction

from cuore.contacts.models import Account, ConsentEvent, Contact, ContactAccount
from cuore.interactions.models import Interaction
from cuore.orders.models import Category, Order, OrderLine, OrderStatus, Product
from cuore.service.models import Ticket

COUNTED_STATUSES = (OrderStatus.CONFIRMED, OrderStatus.FULFILLED, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
FETCH_ROWS = 50_000

# The history columns besides run_id, as_of and the customer's id: pipeline.SCORE_COLUMNS.
HISTORY_COLUMNS = [
    ("recency_days", "INTEGER"),
    ("frequency", "INTEGER"),
    ("monetary_total", "DECIMAL(18, 2)"),
    ("monetary_avg", "DECIMAL(18, 2)"),
    ("margin", "DECIMAL(18, 2)"),
    ("tenure_days", "INTEGER"),
    ("preferred_category_id", "BIGINT"),
    ("r_score", "TINYINT"),
    ("f_score", "TINYINT"),
    ("m_score", "TINYINT"),
    ("rfm_segment", "VARCHAR"),
    ("abc_class", "VARCHAR"),
    ("expected_purchases", "DOUBLE"),
    ("p_alive", "DOUBLE"),
    ("clv", "DECIMAL(18, 2)"),
    ("value_tier", "VARCHAR"),
    ("churn_risk", "DOUBLE"),
    ("churn_reasons", "VARCHAR"),
    ("next_best_offers", "VARCHAR"),
]


def warehouse_path() -> Path:
    """Where the warehouse lives: ``DATA_DIR/warehouse/warehouse.duckdb``."""
    return Path(settings.DATA_DIR) / "warehouse" / "warehouse.duckdb"


class WarehouseBusy(Exception):
    """The warehouse file is locked by another process (an analytics run, or readers during a run's start)."""


def _connect_retrying(path: Path, *, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    # DuckDB lets one process write a file, or several read it: a reader waits out a run's lock
    # briefly, and a run waits for the short reads of web requests to end.
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except (duckdb.IOException, duckdb.ConnectionException) as error:
            # Another process's lock; or, within this process, the file open with the other mode.
            if "lock" not in str(error).lower() and "different configuration" not in str(error):
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    "the analytics warehouse is busy with a run; try again shortly"
                    if read_only
                    else "the analytics warehouse is in use by another process (another analytics run?)"
                ) from None
            time.sleep(0.1)


def warehouse_connect(*, read_only: bool = False, wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (created on first use; read-only opens of a missing file get an empty one).

    Raises ``WarehouseBusy`` when another process holds the file for longer than ``wait_seconds``
    (default: 2 s for readers, 30 s for a run).
    """
    path = warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if read_only and not path.exists():
        con = duckdb.connect(":memory:")
    else:
        wait = wait_seconds if wait_seconds is not None else (2.0 if read_only else 30.0)
        con = _connect_retrying(path, read_only=read_only, wait_seconds=wait)
        if read_only:
            return con
        con.execute(f"SET memory_limit = '{int(settings.ANALYTICS_MEMORY_MB)}MB'")
    history_tables_ensure(con)
    return con


def history_tables_ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create the history tables if they are missing, and add the columns later versions introduced."""
    for table, key in (("score_history", "contact_id"), ("account_score_history", "account_id")):
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (run_id BIGINT NOT NULL, as_of DATE NOT NULL, "
            f"{key} BIGINT NOT NULL, {', '.join(f'{name} {kind}' for name, kind in HISTORY_COLUMNS)})"
        )
        present = {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}
        for name, kind in HISTORY_COLUMNS:
            if name not in present:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    con.execute(
        "CREATE TABLE IF NOT EXISTS segment_membership (run_id BIGINT NOT NULL, as_of DATE NOT NULL, "
        "segment_id BIGINT NOT NULL, contact_id BIGINT NOT NULL)"
    )


# --- extraction -------------------------------------------------------------------------------


def _date_sql(column: str) -> str:
    """The UTC date of a timestamp column as 'YYYY-MM-DD' text, on either database."""
    if connection.vendor == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    return f"substr({column}, 1, 10)"  # SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS[.ffffff]'


def _cents_sql(expression: str) -> str:
    return f"CAST(ROUND({expression} * 100) AS BIGINT)"


def _batches(sql: str, params: list[Any], schema: pa.Schema, counter: dict[str, int], name: str) -> Iterator:
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


# Arrow carries what the cursor returns; DuckDB's column types (dates as DATE) are applied on insert.
_ARROW = {"BIGINT": pa.int64(), "INTEGER": pa.int64(), "VARCHAR": pa.string(), "DATE": pa.string()}


def _load(con: duckdb.DuckDBPyConnection, table: str, columns: str, sql: str, params: list[Any], counter) -> None:
    pairs = [column.split() for column in columns.split(",")]
    schema = pa.schema([(name, _ARROW[kind]) for name, kind in pairs])
    con.execute(f"CREATE OR REPLACE TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in pairs)})")
    # Batch by batch from this thread: a RecordBatchReader would be pulled by DuckDB's own threads,
    # which do not share this thread's database connection (nor its transaction).
    try:
        for batch in _batches(sql, params, schema, counter, table):
            con.register("arrow_source", batch)
            con.execute(f"INSERT INTO {table} SELECT * FROM arrow_source")
    finally:
        con.unregister("arrow_source")


@contextlib.contextmanager
def _snapshot() -> Iterator[None]:
    """Read every table of the extraction from one consistent snapshot of the operational database.

    PostgreSQL: a read-only REPEATABLE READ transaction. SQLite (WAL): one deferred read transaction
    on the raw connection, which takes no write lock, so the application keeps writing meanwhile.
    Inside a transaction opened by the caller (tests), that transaction's view is used as it is.
    """
    if not connection.get_autocommit():
        yield
    elif connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
    elif connection.vendor == "sqlite":
        connection.ensure_connection()
        raw = connection.connection
        raw.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            raw.execute("COMMIT")
    else:
        yield


def warehouse_extract(con: duckdb.DuckDBPyConnection, *, as_of: dt.date) -> dict[str, int]:
    """Replace the extracted tables with the operational data as of ``as_of``; return their row counts.

    All tables come from one snapshot (``_snapshot``), so an order and its lines always agree.
    """
    before = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    until = [connection.ops.adapt_datetimefield_value(before)]
    orders, lines = Order._meta.db_table, OrderLine._meta.db_table
    order_filter = f"o.status IN ({', '.join(['%s'] * len(COUNTED_STATUSES))}) AND o.placed_at < %s"
    order_params = [str(status) for status in COUNTED_STATUSES] + until
    counts: dict[str, int] = {}
    extracts: list[tuple[str, str, str, list[Any]]] = [
        (
            "orders",
            "id BIGINT, contact_id BIGINT, account_id BIGINT, placed_on DATE",
            f"SELECT o.id, o.contact_id, o.account_id, {_date_sql('o.placed_at')} FROM {orders} o WHERE {order_filter}",
            order_params,
        ),
        (
            "order_lines",
            "order_id BIGINT, product_id BIGINT, quantity BIGINT, value_cents BIGINT, cost_cents BIGINT",
            f"SELECT l.order_id, l.product_id, l.quantity, {_cents_sql('l.line_total')}, "
            f"{_cents_sql('l.quantity * l.unit_cost')} FROM {lines} l JOIN {orders} o ON o.id = l.order_id "
            f"WHERE {order_filter}",
            order_params,
        ),
        (
            "products",
            "id BIGINT, category_id BIGINT, name VARCHAR",
            f"SELECT id, category_id, name FROM {Product._meta.db_table}",
            [],
        ),
        (
            "categories",
            "id BIGINT, parent_id BIGINT, name VARCHAR",
            f"SELECT id, parent_id, name FROM {Category._meta.db_table}",
            [],
        ),
        (
            "contacts",
            "id BIGINT, owner_id BIGINT, team_id BIGINT, lifecycle_stage VARCHAR, source VARCHAR, created_on DATE",
            f"SELECT id, owner_id, team_id, lifecycle_stage, source, {_date_sql('created_at')} "
            f"FROM {Contact._meta.db_table}",
            [],
        ),
        (
            "accounts",
            "id BIGINT, owner_id BIGINT, team_id BIGINT, industry VARCHAR, size VARCHAR",
            f"SELECT id, owner_id, team_id, industry, size FROM {Account._meta.db_table}",
            [],
        ),
        (
            "contact_accounts",
            "contact_id BIGINT, account_id BIGINT",
            f"SELECT contact_id, account_id FROM {ContactAccount._meta.db_table}",
            [],
        ),
        (
            "interactions",
            "contact_id BIGINT, channel VARCHAR, direction VARCHAR, occurred_on DATE",
            f"SELECT contact_id, channel, direction, {_date_sql('occurred_at')} FROM {Interaction._meta.db_table} "
            "WHERE contact_id IS NOT NULL AND occurred_at < %s",
            until,
        ),
        (
            "tickets",
            "contact_id BIGINT, opened_on DATE, satisfaction INTEGER, breached INTEGER",
            f"SELECT contact_id, {_date_sql('created_at')}, satisfaction_rating, "
            "CASE WHEN first_response_breached OR resolution_breached THEN 1 ELSE 0 END FROM "
            f" {Ticket._meta.db_table} "
            "WHERE contact_id IS NOT NULL AND created_at < %s",
            until,
        ),
        (
            "consents",
            "contact_id BIGINT, purpose VARCHAR, channel VARCHAR, status VARCHAR, occurred_on DATE",
            f"SELECT contact_id, purpose, channel, status, {_date_sql('occurred_at')} "
            f"FROM {ConsentEvent._meta.db_table} WHERE occurred_at < %s",
            until,
        ),
    ]
    with _snapshot():
        for table, columns, sql, params in extracts:
            _load(con, table, columns, sql, params, counts)
    return counts
