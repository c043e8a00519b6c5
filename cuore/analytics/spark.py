"""The scoring pipeline on Apache Spark: each step's DuckDB SQL transpiled to Spark SQL with SQLGlot.

``SparkRunner`` is the Spark twin of ``pipeline.DuckDBRunner``: a step becomes a temporary view
holding its materialised (cached) result, so later steps read it instead of recomputing its
lineage; tables move in and out as Arrow. ``pipeline_run_spark`` copies the warehouse tables from
DuckDB into a Spark session and runs the whole pipeline there.

SQLGlot translates the syntax (``date_diff``, ``::``, NULL ordering: DuckDB puts NULLs last by
default, Spark first in ascending order, so SQLGlot writes ``NULLS LAST``). Two of DuckDB's
semantics it does not carry over, and ``spark_sql`` adds them:

- ``/`` is floating-point division in DuckDB whatever its operands (``DECIMAL / INTEGER`` and
  ``days / 7.0`` are DOUBLE), while Spark divides as DECIMAL, rounded to 6 or so places, as soon as
  one operand is a decimal (``7.0`` is one). Every ``/`` therefore divides
  ``CAST(dividend AS DOUBLE)``, which is what DuckDB computes, to the bit: the lifetime-value and
  churn fits then see the same numbers on both engines.
- ``date_diff('day', a, b)`` counts the day boundaries from a to b in DuckDB (from 23:00 to 01:00 the
  next day is 1); SQLGlot writes ``DATEDIFF(DAY, a, b)``, Spark's whole days between timestamps (0
  there). Spark's ``datediff(b, a)`` counts calendar days, as DuckDB does. (On dates they agree.)

What stays different, so the pipeline's SQL avoids it: dividing by zero (DuckDB gives ±inf or NaN;
Spark, in its default ANSI mode, fails), casting a fractional number to an integer (DuckDB rounds,
Spark truncates: floor() or round() first), ``log(x)`` (base 10 in DuckDB; write ``log10`` or
``ln``), and DuckDB-only functions (lists, structs, ``arg_max``, ``string_agg``, QUALIFY).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from sqlglot import exp

from cuore.analytics import pipeline

# The extracted tables of cuore.analytics.warehouse (its module docstring): the pipeline's input.
WAREHOUSE_TABLES = (
    "orders",
    "order_lines",
    "products",
    "categories",
    "contacts",
    "accounts",
    "contact_accounts",
    "interactions",
    "tickets",
    "consents",
)


def _double_division(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Div):
        dividend = node.this
        if not (isinstance(dividend, exp.Cast) and dividend.to.is_type(exp.DataType.Type.DOUBLE)):
            node.set("this", exp.cast(dividend, exp.DataType.Type.DOUBLE))
    return node


def _calendar_day_difference(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.DateDiff) and node.unit and node.unit.name.upper() == "DAY":
        # Without a unit SQLGlot writes Spark's two-argument datediff(end, start): calendar days.
        return exp.DateDiff(this=node.this, expression=node.expression)
    return node


def spark_sql(sql: str) -> str:
    """``sql``, one statement in DuckDB's dialect, as Spark SQL with DuckDB's meaning (module docstring)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    tree = tree.transform(_double_division).transform(_calendar_day_difference)
    return tree.sql(dialect="spark")


class SparkRunner:
    """Run the pipeline in a Spark session; its tables are cached temporary views."""

    def __init__(self, spark: SparkSession):
        self.spark = spark
        self._frames: dict[str, DataFrame] = {}

    def execute(self, step: pipeline.Step) -> None:
        self._replace(step.table, self.spark.sql(spark_sql(step.sql)))

    def fetch(self, table: str) -> pa.Table:
        return self.spark.table(table).toArrow()

    def put(self, table: str, data: pa.Table) -> None:
        self._replace(table, self.spark.createDataFrame(data))

    def count(self, table: str) -> int:
        return self.spark.table(table).count()

    def _replace(self, table: str, frame: DataFrame) -> None:
        # Materialise now (count fills the cache): later steps read the cached rows instead of
        # recomputing the lineage, and the table is a snapshot, like DuckDB's CREATE TABLE AS.
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
        frame.count()
        frame.createOrReplaceTempView(table)
        previous = self._frames.pop(table, None)
        if previous is not None:
            previous.unpersist()
        self._frames[table] = frame

    def release(self) -> None:
        """Drop every table this runner made (views and cached rows)."""
        for table, frame in self._frames.items():
            self.spark.catalog.dropTempView(table)
            frame.unpersist()
        self._frames.clear()


def spark_session_local(*, app_name: str = "cuore-analytics", cores: int = 2, memory: str = "1g") -> SparkSession:
    """A local Spark session tuned for tests and small data: no UI, one shuffle partition, UTC, Arrow on.

    ``getOrCreate``: a session already running in this process is reused, with its own settings.
    """
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(app_name)
        .config("spark.driver.memory", memory)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")  # the test data is tiny: one task per shuffle
        .config("spark.sql.adaptive.enabled", "false")
        # A short-lived JVM: the quick C1 compiler only (halves a test run's time) and the serial GC.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def warehouse_to_spark(con: duckdb.DuckDBPyConnection, spark: SparkSession) -> SparkRunner:
    """Copy the warehouse tables from DuckDB into ``spark`` as Arrow; return a runner that holds them.

    Each table passes whole through this process's memory (about 400 MB for 10 million order lines).
    """
    runner = SparkRunner(spark)
    # A cursor of its own (it sees the warehouse's tables, not ``con``'s temporary ones): reading
    # through ``con`` fails while it holds an unfinished result, as after DuckDBRunner.count().
    with con.cursor() as reader:
        for table in WAREHOUSE_TABLES:
            runner.put(table, reader.sql(f"SELECT * FROM {table}").to_arrow_table())
    return runner


@dataclass
class SparkRun:
    """What a pipeline run on Spark gives back: the stages' figures and the scores, ordered by customer."""

    figures: dict[str, Any]
    contact_scores: pa.Table
    account_scores: pa.Table


def pipeline_run_spark(
    con: duckdb.DuckDBPyConnection, params: pipeline.Parameters, *, spark: SparkSession | None = None
) -> SparkRun:
    """Run the whole pipeline on Spark from the warehouse in ``con``; the scores come back as Arrow.

    Without ``spark`` a local session is started (``spark_session_local``) and left running for reuse.
    """
    spark = spark or spark_session_local()
    runner = warehouse_to_spark(con, spark)
    try:
        figures = pipeline.pipeline_run(runner, params)
        scores = {
            kind: spark.table(f"{kind}_scores").orderBy("customer_id").toArrow() for kind in ("contact", "account")
        }
    finally:
        runner.release()
    return SparkRun(figures=figures, contact_scores=scores["contact"], account_scores=scores["account"])
