"""One pipeline, two engines: the scores computed on local Spark are DuckDB's, row by row.

A synthetic warehouse (a few hundred contacts buying over two years, with accounts, tickets,
interactions and consents) runs through ``pipeline.pipeline_run`` on DuckDB and through
``spark.pipeline_run_spark`` on a local Spark session started once for the module.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from cuore.analytics import pipeline
from cuore.analytics import spark as spark_engine

pytestmark = pytest.mark.slow

AS_OF = dt.date(2025, 6, 30)
FIRST_DAY = dt.date(2023, 7, 1)
FLOAT_TOLERANCE = 1e-9  # relative: the fits see the same rows in the same order
JSON_COLUMNS = ("churn_reasons", "next_best_offers")


# --- a synthetic warehouse ------------------------------------------------------------------------


def _days(offsets: np.ndarray) -> pa.Array:
    return pa.array(np.datetime64(FIRST_DAY.isoformat()) + offsets.astype("timedelta64[D]"), pa.date32())


def _ids(values, mask=None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), pa.int64(), mask=mask)


def synthetic_warehouse(
    *, contacts: int = 400, accounts: int = 60, products: int = 40, seed: int = 4
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding the warehouse tables (``warehouse`` module docstring), deterministic.

    Each contact buys from a first day at its own rate (Gamma-distributed) until it drops out
    (exponential lifetime), spending at its own level; a third of the contacts belong to an account,
    which gets some of their orders, some of them placed for the account alone.
    """
    rng = np.random.default_rng(seed)
    span = (AS_OF - FIRST_DAY).days
    contact_ids = np.arange(1, contacts + 1)
    account_ids = np.arange(1, accounts + 1)
    product_ids = np.arange(1, products + 1)
    tables: dict[str, pa.Table] = {}

    tables["categories"] = pa.table(
        {
            "id": _ids(range(1, 7)),
            "parent_id": pa.array([None, None, 1, 1, 2, None], pa.int64()),
            "name": [f"Category {i}" for i in range(1, 7)],
        }
    )
    uncategorised = np.isin(product_ids, [6, 18])
    tables["products"] = pa.table(
        {
            "id": _ids(product_ids),
            "category_id": _ids(rng.integers(1, 7, products), mask=uncategorised),
            "name": [f"Product {i}" for i in product_ids],
        }
    )
    tables["contacts"] = pa.table(
        {
            "id": _ids(contact_ids),
            "owner_id": _ids(rng.integers(1, 5, contacts)),
            "team_id": _ids(rng.integers(1, 3, contacts)),
            "lifecycle_stage": rng.choice(["lead", "customer", "former_customer"], contacts).tolist(),
            "source": rng.choice(["web", "referral", "event"], contacts).tolist(),
            "created_on": _days(rng.integers(0, span // 2, contacts)),
        }
    )
    tables["accounts"] = pa.table(
        {
            "id": _ids(account_ids),
            "owner_id": _ids(rng.integers(1, 5, accounts)),
            "team_id": _ids(rng.integers(1, 3, accounts)),
            "industry": rng.choice(["retail", "food", "tech"], accounts).tolist(),
            "size": rng.choice(["small", "large"], accounts).tolist(),
        }
    )
    members = rng.choice(contact_ids, contacts // 3, replace=False)
    account_of = np.zeros(contacts + 1, dtype=np.int64)  # by contact id; 0: none
    account_of[members] = rng.choice(account_ids, len(members))
    second = members[:10]  # a few contacts belong to a second account too
    links = np.unique(
        np.column_stack(
            [np.concatenate([members, second]), np.concatenate([account_of[members], rng.choice(account_ids, 10)])]
        ),
        axis=0,
    )
    tables["contact_accounts"] = pa.table({"contact_id": _ids(links[:, 0]), "account_id": _ids(links[:, 1])})

    # Orders: a first one on the contact's first day, then a Poisson number until it drops out.
    first = rng.integers(0, span, contacts)
    last = np.minimum(span, first + rng.exponential(300, contacts)).astype(np.int64)
    counts = 1 + rng.poisson(rng.gamma(0.8, 1 / 20, contacts) * (last - first))
    buyer = np.repeat(contact_ids, counts)
    start, stop = np.repeat(first, counts), np.repeat(last, counts)
    is_first = np.concatenate([[True], buyer[1:] != buyer[:-1]])
    placed = np.where(is_first, start, start + np.floor(rng.random(len(buyer)) * (stop - start + 1)).astype(np.int64))
    order_ids = np.arange(1, len(buyer) + 1) * 3  # ids with gaps
    for_account = (account_of[buyer] > 0) & (rng.random(len(buyer)) < 0.3)
    account_alone = for_account & (rng.random(len(buyer)) < 0.3)
    tables["orders"] = pa.table(
        {
            "id": _ids(order_ids),
            "contact_id": _ids(buyer, mask=account_alone),
            "account_id": _ids(account_of[buyer], mask=~for_account),
            "placed_on": _days(placed),
        }
    )

    # Lines: 1–4 per order; a contact spends at its own level; some lines discounted, some sold at a loss.
    lines = rng.integers(1, 5, len(buyer))
    line_order, line_buyer = np.repeat(order_ids, lines), np.repeat(buyer, lines)
    product = rng.integers(1, products + 1, len(line_order))
    quantity = rng.integers(1, 4, len(line_order))
    price_cents = rng.integers(5, 200, products) * 100 + rng.choice([0, 50, 99], products)
    cost_share = rng.uniform(0.3, 1.1, products)
    level = rng.gamma(4.0, 0.25, contacts + 1)
    gross = np.round(quantity * price_cents[product - 1] * level[line_buyer]).astype(np.int64)
    discount = np.where(rng.random(len(line_order)) < 0.2, rng.integers(1, 500, len(line_order)), 0)
    tables["order_lines"] = pa.table(
        {
            "order_id": _ids(line_order),
            "product_id": _ids(product),
            "quantity": _ids(quantity),
            "value_cents": _ids(np.maximum(gross - discount, 0)),
            "cost_cents": _ids(np.round(quantity * price_cents[product - 1] * cost_share[product - 1])),
        }
    )

    n = contacts * 4
    tables["interactions"] = pa.table(
        {
            "contact_id": _ids(rng.choice(contact_ids, n)),
            "channel": rng.choice(["email", "phone", "meeting"], n).tolist(),
            "direction": rng.choice(["in", "out"], n).tolist(),
            "occurred_on": _days(rng.integers(0, span + 1, n)),
        }
    )
    n = contacts
    tables["tickets"] = pa.table(
        {
            "contact_id": _ids(rng.choice(contact_ids, n)),
            "opened_on": _days(rng.integers(0, span + 1, n)),
            "satisfaction": _ids(rng.integers(1, 6, n), mask=rng.random(n) < 0.4),
            "breached": _ids(rng.random(n) < 0.2),
        }
    )
    tables["consents"] = pa.table(
        {
            "contact_id": _ids(rng.choice(contact_ids, n)),
            "purpose": rng.choice(["marketing", "newsletter", "profiling"], n).tolist(),
            "channel": rng.choice(["email", "sms"], n).tolist(),
            "status": rng.choice(["granted", "withdrawn"], n, p=[0.7, 0.3]).tolist(),
            "occurred_on": _days(rng.integers(0, span + 1, n)),
        }
    )

    con = duckdb.connect()
    for name, table in tables.items():
        con.register("incoming", table)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM incoming")
        con.unregister("incoming")
    return con


# --- comparing two engines' tables ------------------------------------------------------------------


def _same_json(expected: Any, actual: Any) -> bool:
    """Equal JSON values, floats within FLOAT_TOLERANCE."""
    if isinstance(expected, float) or isinstance(actual, float):
        return (
            isinstance(expected, int | float)
            and isinstance(actual, int | float)
            and math.isclose(expected, actual, rel_tol=FLOAT_TOLERANCE)
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(_same_json(expected[key], actual[key]) for key in expected)
        )
    if isinstance(expected, list | tuple):
        return (
            isinstance(actual, list | tuple)
            and len(expected) == len(actual)
            and all(_same_json(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return expected == actual


def _differences(expected: pa.Table, actual: pa.Table) -> Iterator[str]:
    """What differs between two score tables ordered by customer_id (nothing when they agree)."""
    if expected.column_names != actual.column_names:
        yield f"columns: {expected.column_names} != {actual.column_names}"
        return
    if expected.num_rows != actual.num_rows:
        yield f"rows: {expected.num_rows} != {actual.num_rows}"
        return
    ids = expected.column("customer_id").to_pylist()
    for name in expected.column_names:
        left, right = expected.column(name), actual.column(name)
        if left.type != right.type:
            yield f"{name}: type {left.type} != {right.type}"
            continue
        if pa.types.is_floating(left.type):
            a = left.to_numpy(zero_copy_only=False).astype(float)
            b = right.to_numpy(zero_copy_only=False).astype(float)
            same = (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=FLOAT_TOLERANCE, atol=0.0)
            bad = np.flatnonzero(~same)
        elif name in JSON_COLUMNS:
            pairs = zip(left.to_pylist(), right.to_pylist(), strict=True)
            bad = [i for i, (a, b) in enumerate(pairs) if not _same_json(json.loads(a), json.loads(b))]
        else:  # integers, strings, decimals (Decimal("1.50") == Decimal("1.5")), NULLs
            pairs = zip(left.to_pylist(), right.to_pylist(), strict=True)
            bad = [i for i, (a, b) in enumerate(pairs) if a != b]
        for i in list(bad)[:3]:
            yield f"{name} of customer {ids[i]}: {left[i].as_py()!r} != {right[i].as_py()!r}"
        if len(bad) > 3:
            yield f"{name}: {len(bad) - 3} more rows differ"


def assert_same_scores(expected: pa.Table, actual: pa.Table) -> None:
    problems = list(_differences(expected, actual))
    assert not problems, "the engines disagree:\n" + "\n".join(problems)


# --- the runs ---------------------------------------------------------------------------------------


class RecordingDuckDBRunner(pipeline.DuckDBRunner):
    """A DuckDB runner that remembers the SQL of the steps it ran."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        super().__init__(con)
        self.steps: list[str] = []

    def execute(self, step: pipeline.Step) -> None:
        super().execute(step)
        self.steps.append(step.sql)


@pytest.fixture(scope="module")
def spark():
    session = spark_engine.spark_session_local()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def runs(spark):
    """The same warehouse through the whole pipeline on DuckDB and on Spark."""
    con = synthetic_warehouse()
    params = pipeline.Parameters(as_of=AS_OF)
    duckdb_runner = RecordingDuckDBRunner(con)
    duckdb_figures = pipeline.pipeline_run(duckdb_runner, params)
    con.complete()  # the last count() leaves its result open
    duckdb_scores = {
        kind: con.sql(f"SELECT * FROM {kind}_scores ORDER BY customer_id").to_arrow_table()
        for kind in ("contact", "account")
    }
    spark_steps: list[tuple[str, str]] = []
    translate = spark_engine.spark_sql

    def recording_translate(sql: str) -> str:
        spark_steps.append((sql, translate(sql)))
        return spark_steps[-1][1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spark_engine, "spark_sql", recording_translate)
        spark_run = spark_engine.pipeline_run_spark(con, params, spark=spark)
    con.close()
    return {
        "duckdb": {"figures": duckdb_figures, "steps": duckdb_runner.steps, **duckdb_scores},
        "spark": {
            "figures": spark_run.figures,
            "steps": spark_steps,
            "contact": spark_run.contact_scores,
            "account": spark_run.account_scores,
        },
    }


def test_contact_scores_are_the_same_on_spark(runs):
    assert_same_scores(runs["duckdb"]["contact"], runs["spark"]["contact"])


def test_account_scores_are_the_same_on_spark(runs):
    assert_same_scores(runs["duckdb"]["account"], runs["spark"]["account"])


def test_stage_figures_are_the_same_on_spark(runs):
    """The fitted parameters, the churn model's test figures and the offers' figures."""
    expected, actual = runs["duckdb"]["figures"], runs["spark"]["figures"]
    assert _same_json(expected, actual), f"{expected}\n!=\n{actual}"


def test_every_step_ran_on_spark(runs):
    """Each step DuckDB ran was transpiled and ran on Spark (it would have raised otherwise), in the same order."""
    duckdb_steps, spark_steps = runs["duckdb"]["steps"], runs["spark"]["steps"]
    assert [duckdb_sql for duckdb_sql, _ in spark_steps] == duckdb_steps
    assert len(duckdb_steps) > 20


def test_the_synthetic_data_exercises_every_model(runs):
    """The comparison is only worth something if the fits ran and scores vary."""
    figures = runs["duckdb"]["figures"]
    for kind in ("contact", "account"):
        assert "skipped" not in figures["lifetime_value"][kind]
    assert "skipped" not in figures["churn"]
    assert figures["churn"]["auc"] > 0.6
    contacts = runs["duckdb"]["contact"]
    assert len(set(contacts.column("rfm_segment").to_pylist())) >= 8
    assert set(contacts.column("value_tier").to_pylist()) == {"below_zero", "most_valuable", "growable", "steady"}
    assert any(json.loads(text) for text in contacts.column("churn_reasons").to_pylist())
    assert any(json.loads(text) for text in contacts.column("next_best_offers").to_pylist())
    assert contacts.column("preferred_category_id").null_count < contacts.num_rows


def test_the_comparison_fails_when_the_engines_disagree(runs):
    """A float off by a millionth, a decimal off by a cent and reordered JSON reasons are all caught."""
    expected = runs["duckdb"]["contact"]
    for column, applies, change in (
        ("p_alive", lambda value: value is not None, lambda value: value * (1 + 1e-6)),
        ("clv", lambda value: value is not None, lambda value: value + Decimal("0.01")),
        ("churn_reasons", lambda text: len(json.loads(text)) > 1, lambda text: json.dumps(json.loads(text)[::-1])),
    ):
        values = expected.column(column).to_pylist()
        row = next(i for i, value in enumerate(values) if applies(value))
        values[row] = change(values[row])
        index = expected.column_names.index(column)
        changed = expected.set_column(index, column, pa.array(values, expected.schema.field(column).type))
        with pytest.raises(AssertionError, match=f"{column} of customer"):
            assert_same_scores(expected, changed)


# --- SQL semantics --------------------------------------------------------------------------------


def test_spark_sql_keeps_duckdb_meaning(spark):
    """Division, day differences, NULL ordering, tiles, ranks and filters give DuckDB's values on Spark.

    The session's time zone is one with daylight saving time: day differences must not depend on it.
    """
    rows = pa.table(
        {
            "id": pa.array([1, 2, 3, 4, 5, 6, 7], pa.int64()),
            "cents": pa.array([1999, 5, None, 10, 7, 7, 123456789], pa.int64()),
            "day": pa.array([dt.date(2024, 3, 30), dt.date(2024, 3, 31), None, dt.date(2023, 10, 29),
                             dt.date(2024, 2, 29), dt.date(2025, 1, 1), dt.date(2020, 1, 1)], pa.date32()),
        }
    )  # fmt: skip
    queries = [
        """
        SELECT id,
               CAST(cents AS DECIMAL(18, 0)) / 100 AS divided_decimal,
               cents / 3 AS divided_integer,
               cents / 7.0 AS divided_by_literal,
               CAST(cents * 0.01 AS DECIMAL(18, 2)) AS scaled,
               date_diff('day', day, DATE '2025-06-30') AS days,
               row_number() OVER (ORDER BY cents, id) AS by_cents,
               row_number() OVER (ORDER BY cents DESC, id) AS by_cents_desc,
               ntile(3) OVER (ORDER BY id) AS tile,
               percent_rank() OVER (ORDER BY cents) AS rank,
               'it''s' AS quoted
        FROM rows ORDER BY id
        """,
        """
        SELECT count(*) FILTER (WHERE cents > 6) AS above_six, AVG(cents) AS mean, SUM(cents) / COUNT(*) AS ratio,
               date_diff('day', TIMESTAMP '2024-03-30 23:00:00', TIMESTAMP '2024-03-31 01:00:00') AS boundaries
        FROM rows
        """,
    ]
    con = duckdb.connect()
    con.register("rows", rows)
    spark.createDataFrame(rows).createOrReplaceTempView("rows")
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Europe/Rome")
    try:
        for sql in queries:
            expected = con.sql(sql).to_arrow_table()
            actual = spark.sql(spark_engine.spark_sql(sql)).toArrow()
            assert actual.to_pylist() == expected.to_pylist()
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
        spark.catalog.dropTempView("rows")
    assert con.sql(queries[0]).to_arrow_table().schema.field("divided_decimal").type == pa.float64()


def test_spark_sql_divides_as_duckdb_does():
    """DuckDB's `/` is floating point whatever the operands; Spark's counts days between calendar dates."""
    assert spark_engine.spark_sql("SELECT a / b, a // b FROM t") == "SELECT CAST(a AS DOUBLE) / b, a DIV b FROM t"
    assert spark_engine.spark_sql("SELECT CAST(a AS DOUBLE) / 7 FROM t") == "SELECT CAST(a AS DOUBLE) / 7 FROM t"
    assert (
        spark_engine.spark_sql("SELECT date_diff('day', a, b), date_diff('month', a, b) FROM t")
        == "SELECT DATEDIFF(b, a), DATEDIFF(MONTH, a, b) FROM t"
    )
