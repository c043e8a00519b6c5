"""The side by side: our BG/NBD + Gamma-Gamma (cuore.analytics.clv) against lifetimes 0.11.3 on one summary.

The summary is built once from the operational database: the counted orders (confirmed to delivered,
placed up to ``as_of``) with their totals, which equal the sums of their lines, summarised per customer
in DuckDB (frequency = repeat purchase days, recency and T in days, monetary = mean value of the repeat
purchases; same-day orders are one purchase, as ``clv.summarise`` counts them). ``clv.summarise`` is run
on the same transactions too, timed, and its result compared.

Both libraries then fit and predict on exactly those arrays: the BG/NBD fit, the Gamma-Gamma fit on the
repeat buyers, and for every customer the expected purchases in the next 365 days, P(alive), the expected
spend per purchase and the CLV over 12 months at 1 % a month. lifetimes counts a month as 30 days
(``freq="D"``); ours counts 365.25 / 12 days, so ours is called with ``period_days = 365.25 / 12 / 30``,
which makes a month 30 periods of the summary's days and the two CLVs the same quantity.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import statistics
import time
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
from django.db import connection

from bench.analytics.dataset import COUNTED_STATUSES
from cuore.analytics import clv
from cuore.orders.models import Order

HORIZON_DAYS = 365
CLV_MONTHS = 12
MONTHLY_DISCOUNT = 0.01
# Ours with lifetimes' 30-day months (see the module docstring).
PERIOD_DAYS_FOR_30_DAY_MONTHS = clv.DAYS_PER_MONTH / 30
# "Equal to 3 significant digits": a relative difference under half a unit of the third digit.
PARAMETER_TOLERANCE = 5e-4
PREDICTIONS = ("expected purchases, 365 days", "P(alive)", "expected spend per purchase", "CLV, 12 months")
# A repetition of ours longer than this is not repeated (the median of one is the run itself).
REPEAT_BUDGET_SECONDS = 60.0


@dataclass
class Transactions:
    """The counted orders: customer id, UTC day (days since 1970-01-01), total in cents."""

    customer: np.ndarray
    day: np.ndarray
    cents: np.ndarray
    seconds: float


def transactions_read(*, as_of: dt.date) -> Transactions:
    """Read the counted orders placed up to ``as_of`` from the operational database (SQLite)."""
    started = time.perf_counter()
    table = connection.ops.quote_name(Order._meta.db_table)
    before = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    marks = ", ".join(["%s"] * len(COUNTED_STATUSES))
    # SQLite keeps UTC timestamps as 'YYYY-MM-DD HH:MM:SS' text: julianday of the date part, minus
    # 1970-01-01's, is the day number.
    sql = (
        f"SELECT contact_id, CAST(julianday(substr(placed_at, 1, 10)) - 2440587.5 AS INTEGER), "
        f"CAST(ROUND(total * 100) AS INTEGER) FROM {table} "
        f"WHERE contact_id IS NOT NULL AND status IN ({marks}) AND placed_at < %s"
    )
    params = [str(status) for status in COUNTED_STATUSES] + [connection.ops.adapt_datetimefield_value(before)]
    parts: list[np.ndarray] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(500_000):
            parts.append(np.array(rows, dtype=np.int64))
    data = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
    return Transactions(
        customer=data[:, 0].copy(),
        day=data[:, 1].copy(),
        cents=data[:, 2].copy(),
        seconds=time.perf_counter() - started,
    )


SUMMARY_SQL = """
WITH purchases AS (  -- one purchase per customer and day
    SELECT customer, day, SUM(cents) AS cents FROM transactions GROUP BY customer, day
),
per_customer AS (
    SELECT customer,
           COUNT(*) - 1 AS frequency,
           MIN(day) AS first_day,
           MAX(day) AS last_day,
           SUM(cents) AS cents,
           arg_min(cents, day) AS first_cents
    FROM purchases GROUP BY customer
)
SELECT customer,
       CAST(frequency AS DOUBLE) AS frequency,
       CAST(last_day - first_day AS DOUBLE) AS recency,
       CAST($end - first_day AS DOUBLE) AS T,
       CASE WHEN frequency > 0 THEN (cents - first_cents) / 100.0 / frequency ELSE 0.0 END AS monetary
FROM per_customer
ORDER BY customer
"""


def summary_duckdb(transactions: Transactions, *, as_of: dt.date) -> tuple[clv.CustomerSummary, float]:
    """Summarise the transactions per customer in DuckDB (periods of one day); return it and the seconds."""
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        con.register(
            "transactions",
            pa.table({"customer": transactions.customer, "day": transactions.day, "cents": transactions.cents}),
        )
        end = (as_of - dt.date(1970, 1, 1)).days
        result = con.execute(SUMMARY_SQL, {"end": end}).fetchnumpy()
    finally:
        con.close()
    summary = clv.CustomerSummary(
        customer_ids=np.asarray(result["customer"]),
        frequency=np.asarray(result["frequency"], dtype=float),
        recency=np.asarray(result["recency"], dtype=float),
        T=np.asarray(result["T"], dtype=float),
        monetary=np.asarray(result["monetary"], dtype=float),
    )
    return summary, time.perf_counter() - started


def summary_clv(transactions: Transactions, *, as_of: dt.date) -> tuple[clv.CustomerSummary, float]:
    """The same summary through ``clv.summarise`` (a Python loop over the transactions); return it and the seconds."""
    first = int(transactions.day.min()) if transactions.day.size else 0
    span = int(transactions.day.max()) - first + 1 if transactions.day.size else 0
    epoch = dt.date(1970, 1, 1)
    dates = [epoch + dt.timedelta(days=first + offset) for offset in range(span)]
    started = time.perf_counter()
    rows = zip(
        transactions.customer.tolist(),
        (dates[day - first] for day in transactions.day.tolist()),
        (transactions.cents / 100).tolist(),
        strict=True,
    )
    summary = clv.summarise(rows, observation_end=as_of, period_days=1)
    return summary, time.perf_counter() - started


def summaries_equal(left: clv.CustomerSummary, right: clv.CustomerSummary) -> bool:
    """Whether two summaries hold the same customers and figures (monetary to a millionth of a euro)."""
    return (
        np.array_equal(left.customer_ids, right.customer_ids)
        and np.array_equal(left.frequency, right.frequency)
        and np.array_equal(left.recency, right.recency)
        and np.array_equal(left.T, right.T)
        and bool(np.allclose(left.monetary, right.monetary, rtol=0, atol=1e-6))
    )


@dataclass
class FitResult:
    """One library's parameters, predictions per customer and seconds per step (medians when repeated).

    The steps are wall-clock seconds; "total CPU" is the CPU time of the process over the whole, which
    a busy machine does not inflate (numpy and scipy run these on one thread).
    """

    name: str
    params: dict[str, float]
    predictions: dict[str, np.ndarray]
    seconds: dict[str, float]
    repetitions: int = 1
    log_likelihood: dict[str, float] = field(default_factory=dict)
    # Per optimizer call: (fit, likelihood evaluations, the optimizer's stopping message).
    optimizer: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return self.seconds["total"]


def _timed(steps: dict[str, float], name: str, action: Callable):
    started = time.perf_counter()
    value = action()
    steps[name] = time.perf_counter() - started
    return value


@contextlib.contextmanager
def _optimizer_calls(log: list[tuple[str, int, str]], fit: str) -> Iterator[None]:
    """Record how many likelihood evaluations each of clv's optimizer calls makes, and why it stopped.

    clv calls ``optimize.minimize`` through its module global ``optimize``; for the duration of the
    block that global is a stand-in that calls scipy's and notes the result. Nothing else changes.
    """
    real = clv.optimize

    def minimize(*args, **kwargs):
        result = real.minimize(*args, **kwargs)
        log.append((fit, int(result.nfev), str(result.message)))
        return result

    clv.optimize = types.SimpleNamespace(minimize=minimize)  # type: ignore[assignment]
    try:
        yield
    finally:
        clv.optimize = real


def ours_once(summary: clv.CustomerSummary) -> FitResult:
    """Fit and predict with cuore.analytics.clv, timing each step."""
    x, t_x, t_cal, m = summary.frequency, summary.recency, summary.T, summary.monetary
    steps: dict[str, float] = {}
    calls: list[tuple[str, int, str]] = []
    started, started_cpu = time.perf_counter(), time.process_time()
    with _optimizer_calls(calls, "BG/NBD"):
        bg = _timed(steps, "fit BG/NBD", lambda: clv.fit_bgnbd(x, t_x, t_cal))
    with _optimizer_calls(calls, "Gamma-Gamma"):
        gg = _timed(steps, "fit Gamma-Gamma", lambda: clv.fit_gamma_gamma(x, m))
    mark = time.perf_counter()
    predictions = {
        PREDICTIONS[0]: clv.expected_purchases(bg, HORIZON_DAYS, x, t_x, t_cal),
        PREDICTIONS[1]: clv.probability_alive(bg, x, t_x, t_cal),
        PREDICTIONS[2]: clv.expected_spend(gg, x, m),
        PREDICTIONS[3]: clv.clv(
            bg,
            gg,
            frequency=x,
            recency=t_x,
            T=t_cal,
            monetary=m,
            period_days=PERIOD_DAYS_FOR_30_DAY_MONTHS,
            months=CLV_MONTHS,
            monthly_discount_rate=MONTHLY_DISCOUNT,
        ),
    }
    steps["predictions"] = time.perf_counter() - mark
    steps["total"] = time.perf_counter() - started
    steps["total CPU"] = time.process_time() - started_cpu
    return FitResult(
        name="ours (cuore.analytics.clv)",
        params={"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b, "p": gg.p, "q": gg.q, "gamma": gg.gamma},
        predictions=predictions,
        seconds=steps,
        log_likelihood={"BG/NBD": bg.log_likelihood, "Gamma-Gamma": gg.log_likelihood},
        optimizer=calls,
    )


def ours(summary: clv.CustomerSummary, *, repeat: int) -> FitResult:
    """Ours, repeated up to ``repeat`` times while a run is cheap; the seconds are medians over the runs."""
    runs = [ours_once(summary)]
    while len(runs) < repeat and runs[0].total_seconds * (len(runs) + 1) <= REPEAT_BUDGET_SECONDS:
        runs.append(ours_once(summary))
    result = runs[0]
    result.seconds = {step: statistics.median(run.seconds[step] for run in runs) for step in result.seconds}
    result.repetitions = len(runs)
    return result


def lifetimes_once(summary: clv.CustomerSummary) -> FitResult:
    """Fit and predict with lifetimes 0.11.3 (BetaGeoFitter, GammaGammaFitter), timing each step."""
    with warnings.catch_warnings():
        # lifetimes sets a pandas option that pandas 3 deprecates, on import.
        warnings.simplefilter("ignore")
        import pandas as pd
        from lifetimes import BetaGeoFitter, GammaGammaFitter

    x, t_x, t_cal, m = summary.frequency, summary.recency, summary.T, summary.monetary
    repeat = x > 0
    steps: dict[str, float] = {}
    started, started_cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bgf = _timed(steps, "fit BG/NBD", lambda: BetaGeoFitter().fit(x, t_x, t_cal))
        ggf = _timed(steps, "fit Gamma-Gamma", lambda: GammaGammaFitter().fit(x[repeat], m[repeat]))
        mark = time.perf_counter()
        frequency, recency, age, monetary = (pd.Series(values) for values in (x, t_x, t_cal, m))
        predictions = {
            PREDICTIONS[0]: np.asarray(
                bgf.conditional_expected_number_of_purchases_up_to_time(HORIZON_DAYS, frequency, recency, age)
            ),
            PREDICTIONS[1]: np.asarray(bgf.conditional_probability_alive(frequency, recency, age)),
            PREDICTIONS[2]: np.asarray(ggf.conditional_expected_average_profit(frequency, monetary)),
            PREDICTIONS[3]: np.asarray(
                ggf.customer_lifetime_value(
                    bgf,
                    frequency,
                    recency,
                    age,
                    monetary,
                    time=CLV_MONTHS,
                    discount_rate=MONTHLY_DISCOUNT,
                    freq="D",
                )
            ),
        }
        steps["predictions"] = time.perf_counter() - mark
    steps["total"] = time.perf_counter() - started
    steps["total CPU"] = time.process_time() - started_cpu
    bg_params, gg_params = bgf.params_, ggf.params_
    return FitResult(
        name="lifetimes 0.11.3",
        params={
            "r": float(bg_params["r"]),
            "alpha": float(bg_params["alpha"]),
            "a": float(bg_params["a"]),
            "b": float(bg_params["b"]),
            "p": float(gg_params["p"]),
            "q": float(gg_params["q"]),
            "gamma": float(gg_params["v"]),
        },
        predictions=predictions,
        seconds=steps,
    )


@dataclass
class Agreement:
    """How far ours is from lifetimes: per parameter and per prediction."""

    parameter_differences: dict[str, float]
    prediction_differences: dict[str, tuple[float, float]]  # (max relative where |theirs| >= floor, max absolute)

    @property
    def largest_parameter_difference(self) -> float:
        return max(self.parameter_differences.values())

    @property
    def parameters_agree(self) -> bool:
        return self.largest_parameter_difference < PARAMETER_TOLERANCE

    @property
    def largest_prediction_difference(self) -> float:
        return max(relative for relative, _absolute in self.prediction_differences.values())


RELATIVE_FLOOR = 1e-6  # predictions smaller than this (P(alive) of long-gone customers) count by absolute difference


def agreement(ours_result: FitResult, theirs: FitResult) -> Agreement:
    """Compare the parameters (relative difference) and every customer's predictions."""
    parameters = {
        name: abs(value - theirs.params[name]) / abs(theirs.params[name]) for name, value in ours_result.params.items()
    }
    predictions = {}
    for name in PREDICTIONS:
        mine, other = ours_result.predictions[name], theirs.predictions[name]
        absolute = np.abs(mine - other)
        sizeable = np.abs(other) >= RELATIVE_FLOOR
        relative = float(np.max(absolute[sizeable] / np.abs(other[sizeable]))) if sizeable.any() else 0.0
        predictions[name] = (relative, float(absolute.max()) if absolute.size else 0.0)
    return Agreement(parameter_differences=parameters, prediction_differences=predictions)


def significant(value: float, digits: int = 3) -> str:
    """``value`` rounded to ``digits`` significant digits."""
    return f"{value:.{digits}g}"


def summary_sample(summary: clv.CustomerSummary, *, size: int, seed: int) -> clv.CustomerSummary:
    """A random subset of ``size`` customers of the summary, in the summary's order."""
    chosen = np.sort(np.random.default_rng(seed).choice(summary.customer_ids.size, size=size, replace=False))
    return clv.CustomerSummary(
        customer_ids=summary.customer_ids[chosen],
        frequency=summary.frequency[chosen],
        recency=summary.recency[chosen],
        T=summary.T[chosen],
        monetary=summary.monetary[chosen],
    )
