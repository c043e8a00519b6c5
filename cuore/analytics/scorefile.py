"""Score a transactions file, or fit a lifetime-value model on a summary file, without a CRM database.

``score_file`` reads a CSV of transactions (one row per purchase: customer, date, amount and
optionally a category) into an in-memory DuckDB and runs the same pipeline steps as the warehouse
(``pipeline.base_steps``, ``rfm_step``, ``summary_step``, ``lifetime_value``): the per-customer
frequency, recency, T and monetary value of the lifetime-value models, the RFM figures, scores and
segment, the ABC class (by spend: a file has no costs, so the margin is the spend), the preferred
category, CLV and P(alive).

``clv_fit`` reads a summary (frequency, recency, T and, for Gamma-Gamma, monetary_value) and fits
one model by maximum likelihood.

Bad input raises ``FileProblem`` with the line (counting the header as line 1) and the reason.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from cuore.analytics import clv, pipeline

FREQ_DAYS = {"D": 1, "W": 7}
DATE_FORMATS = ("%Y-%m-%d", "%Y%m%d", "%d/%m/%Y")

OUTPUT_COLUMNS = [
    "customer",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "orders",
    "recency_days",
    "monetary_total",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "abc_class",
    "preferred_category",
    "expected_purchases",
    "p_alive",
    "clv",
]


class FileProblem(Exception):
    """A file that cannot be read as asked: the message says where and why."""


@dataclass(frozen=True)
class Columns:
    customer: str
    date: str
    amount: str
    category: str | None = None


def _read_csv(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Load ``path`` as all-text table ``raw`` with its file line numbers; return its header."""
    if not path.is_file():
        raise FileProblem(f"{path}: no such file")
    try:
        con.execute(
            "CREATE TABLE raw AS SELECT row_number() OVER () + 1 AS line, * "
            "FROM read_csv(?, header = true, all_varchar = true, auto_detect = true)",
            [str(path)],
        )
    except duckdb.Error as error:
        raise FileProblem(f"{path}: not a readable CSV file ({str(error).splitlines()[0]})") from None
    return [row[0] for row in con.execute("DESCRIBE raw").fetchall()][1:]


def _require(header: list[str], wanted: dict[str, str | None], path: Path) -> None:
    for option, column in wanted.items():
        if column is not None and column not in header:
            raise FileProblem(f"{path}: no column {column!r} (for {option}); the header has {', '.join(header)}")


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _first_bad(con: duckdb.DuckDBPyConnection, condition: str, column: str) -> tuple[int, str] | None:
    row = con.execute(f"SELECT line, {_quote(column)} FROM raw WHERE {condition} ORDER BY line LIMIT 1").fetchone()
    return (row[0], row[1]) if row else None


def _date_expression(con: duckdb.DuckDBPyConnection, column: str, path: Path) -> str:
    """The SQL that reads ``column`` as a date, in the first of DATE_FORMATS every row matches."""
    quoted = f"trim({_quote(column)})"
    for fmt in DATE_FORMATS:
        expression = f"CAST(try_strptime({quoted}, '{fmt}') AS DATE)"
        if _first_bad(con, f"{expression} IS NULL", column) is None:
            return expression
    # No format fits every row: report the first row the most common format cannot read.
    best = max(
        DATE_FORMATS,
        key=lambda fmt: con.execute(
            f"SELECT count(*) FROM raw WHERE try_strptime({quoted}, '{fmt}') IS NOT NULL"
        ).fetchone()[0],
    )
    line, value = _first_bad(con, f"try_strptime({quoted}, '{best}') IS NULL", column) or (0, "")
    raise FileProblem(
        f"{path} line {line}: column {column!r}: {value!r} is not a date "
        f"(YYYY-MM-DD, YYYYMMDD or DD/MM/YYYY, the same for every row)"
    )


def score_file(
    path: Path,
    *,
    columns: Columns,
    period_end: dt.date | None = None,
    freq: str = "D",
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    abc_cuts: tuple[int, int] = (80, 15),
) -> list[dict[str, Any]]:
    """Score every customer of a transactions file; rows come out sorted by customer."""
    if freq not in FREQ_DAYS:
        raise FileProblem(f"--freq must be D (days) or W (weeks), not {freq!r}")
    con = duckdb.connect()
    try:
        header = _read_csv(con, path)
        _require(
            header,
            {
                "--customer": columns.customer,
                "--date": columns.date,
                "--amount": columns.amount,
                "--category": columns.category,
            },
            path,
        )
        customer, amount = _quote(columns.customer), _quote(columns.amount)
        bad = _first_bad(con, f"{customer} IS NULL OR trim({customer}) = ''", columns.customer)
        if bad:
            raise FileProblem(f"{path} line {bad[0]}: column {columns.customer!r} is empty")
        number = f"TRY_CAST(trim({amount}) AS DECIMAL(18, 2))"
        bad = _first_bad(con, f"{number} IS NULL", columns.amount)
        if bad:
            raise FileProblem(f"{path} line {bad[0]}: column {columns.amount!r}: {bad[1]!r} is not an amount")
        bad = _first_bad(con, f"{number} < 0", columns.amount)
        if bad:
            raise FileProblem(f"{path} line {bad[0]}: column {columns.amount!r}: {bad[1]!r} is negative")
        date = _date_expression(con, columns.date, path)
        end = period_end or con.execute(f"SELECT max({date}) FROM raw").fetchone()[0]
        if end is None:
            raise FileProblem(f"{path}: no transactions")
        category = _quote(columns.category) if columns.category else "NULL"
        con.execute(
            f"""
            CREATE TABLE tx AS
            SELECT line AS id, trim({customer}) AS customer, {date} AS placed_on,
                   CAST(round({number} * 100) AS BIGINT) AS value_cents,
                   nullif(trim({category}), '') AS category
            FROM raw WHERE {date} <= DATE '{end.isoformat()}'
            """
        )
        if con.execute("SELECT count(*) FROM tx").fetchone()[0] == 0:
            raise FileProblem(f"{path}: no transactions on or before {end.isoformat()}")
        _warehouse_from_transactions(con)
        params = pipeline.Parameters(
            as_of=end,
            abc_a=abc_cuts[0],
            abc_b=abc_cuts[1],
            horizon_months=horizon_months,
            monthly_discount_rate=monthly_discount_rate,
        )
        runner = pipeline.DuckDBRunner(con)
        for step in pipeline.base_steps()[:2]:
            runner.execute(step)
        runner.execute(pipeline.rfm_step("contact", params))
        runner.execute(pipeline.summary_step("contact", params, period_days=FREQ_DAYS[freq]))
        values, _fit = pipeline.lifetime_value(runner.fetch("contact_summary"), params, period_days=FREQ_DAYS[freq])
        runner.put("contact_clv", values)
        result = con.execute(
            """
            SELECT c.name AS customer, s.frequency, s.recency, s.t AS "T", s.monetary AS monetary_value,
                   r.frequency AS orders, r.recency_days, r.monetary_total, r.r_score, r.f_score, r.m_score,
                   r.rfm_segment, r.abc_class, cat.name AS preferred_category,
                   v.expected_purchases, v.p_alive, v.clv
            FROM contact_rfm r
            JOIN customers c ON c.id = r.customer_id
            JOIN contact_summary s ON s.customer_id = r.customer_id
            JOIN contact_clv v ON v.customer_id = r.customer_id
            LEFT JOIN categories cat ON cat.id = r.preferred_category_id
            ORDER BY c.name
            """
        )
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def _warehouse_from_transactions(con: duckdb.DuckDBPyConnection) -> None:
    """Shape ``tx`` as the warehouse tables the pipeline reads: one order of one line per transaction."""
    con.execute(
        "CREATE TABLE customers AS SELECT row_number() OVER (ORDER BY customer) AS id, customer AS name FROM (SELECT DISTINCT customer FROM tx)"
    )
    con.execute(
        "CREATE TABLE categories AS SELECT row_number() OVER (ORDER BY category) AS id, CAST(NULL AS BIGINT) AS parent_id, category AS name FROM (SELECT DISTINCT category FROM tx WHERE category IS NOT NULL)"
    )
    con.execute("CREATE TABLE products AS SELECT id, id AS category_id, name FROM categories")
    con.execute(
        "CREATE TABLE orders AS SELECT t.id, c.id AS contact_id, CAST(NULL AS BIGINT) AS account_id, t.placed_on "
        "FROM tx t JOIN customers c ON c.name = t.customer"
    )
    # Without a product per line, each category stands for a product; no costs, so margin = spend.
    con.execute(
        "CREATE TABLE order_lines AS SELECT t.id AS order_id, p.id AS product_id, 1 AS quantity, "
        "t.value_cents, 0 AS cost_cents FROM tx t LEFT JOIN products p ON p.name = t.category"
    )


def write_csv(rows: list[dict[str, Any]], out) -> None:
    """Write scored rows as CSV (floats to 6 significant decimals, empty for missing values)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(OUTPUT_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in OUTPUT_COLUMNS])


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}" if abs(value) < 1e6 else f"{value:.2f}"
    return value


# --- clv-fit ----------------------------------------------------------------------------------------

MODELS = ("bgnbd", "paretonbd", "gammagamma")


def _summary_columns(path: Path, model: str) -> dict[str, np.ndarray]:
    wanted = ["frequency", "recency", "T"] + (["monetary_value"] if model == "gammagamma" else [])
    if not path.is_file():
        raise FileProblem(f"{path}: no such file")
    values: dict[str, list[float]] = {name: [] for name in wanted}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            try:
                dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
            except csv.Error:
                dialect = csv.excel
            reader = csv.DictReader(handle, dialect=dialect)
            header = reader.fieldnames or []
            missing = [name for name in wanted if name not in header]
            if missing:
                raise FileProblem(f"{path}: no column {missing[0]!r}; the header has {', '.join(header) or 'nothing'}")
            for line, row in enumerate(reader, start=2):
                for name in wanted:
                    text = (row.get(name) or "").strip()
                    try:
                        number = float(text)
                    except ValueError:
                        raise FileProblem(f"{path} line {line}: column {name!r}: {text!r} is not a number") from None
                    if not math.isfinite(number) or number < 0:
                        raise FileProblem(f"{path} line {line}: column {name!r}: {text!r} must be 0 or more")
                    values[name].append(number)
                if values["recency"][-1] > values["T"][-1]:
                    raise FileProblem(
                        f"{path} line {line}: recency {values['recency'][-1]} is after T {values['T'][-1]}"
                    )
                if values["frequency"][-1] != int(values["frequency"][-1]):
                    raise FileProblem(f"{path} line {line}: frequency {values['frequency'][-1]} is not a whole number")
    except UnicodeDecodeError:
        raise FileProblem(f"{path}: not a UTF-8 text file") from None
    if not values["frequency"]:
        raise FileProblem(f"{path}: no customers")
    return {name: np.asarray(column, dtype=float) for name, column in values.items()}


def clv_fit(path: Path, *, model: str) -> dict[str, Any]:
    """Fit ``model`` on a summary file; return its parameters and log-likelihood."""
    if model not in MODELS:
        raise FileProblem(f"--model must be one of {', '.join(MODELS)}, not {model!r}")
    data = _summary_columns(path, model)
    try:
        if model == "bgnbd":
            fitted: Any = clv.fit_bgnbd(data["frequency"], data["recency"], data["T"])
            names = ("r", "alpha", "a", "b")
        elif model == "paretonbd":
            fitted = clv.fit_pareto_nbd(data["frequency"], data["recency"], data["T"])
            names = ("r", "alpha", "s", "beta")
        else:
            repeat = (data["frequency"] > 0) & (data["monetary_value"] > 0)
            if repeat.sum() < 2:
                raise FileProblem(f"{path}: Gamma-Gamma needs at least 2 repeat buyers with a monetary value")
            fitted = clv.fit_gamma_gamma(data["frequency"][repeat], data["monetary_value"][repeat])
            names = ("p", "q", "gamma")
    except ValueError as error:
        raise FileProblem(f"{path}: {error}") from None
    return {
        "model": model,
        "params": {name: getattr(fitted, name) for name in names},
        "log_likelihood": fitted.log_likelihood,
        "customers": fitted.n_customers,
    }
