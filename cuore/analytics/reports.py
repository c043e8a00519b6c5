"""The figures behind the analytics pages, computed once per run from its scores and kept on the run.

Pages and the API read them from ``AnalyticsRun.reports`` (a few kilobytes), so they answer at once
at any size and never wait for the warehouse. All figures are over contacts who bought.

- ``rfm_grid``: for each recency score R and frequency score F (1–5), the customers and their
  average spend.
- ``segments``, ``abc``, ``tiers``: customers, spend, margin and lifetime value per RFM segment, ABC
  class and value tier; ``abc`` also the share of the margin.
- ``pareto``: the Pareto curve, 101 points: the share of the total positive margin brought by the
  top p % of customers ranked by margin, p = 0…100.
- ``clv_distribution``: lifetime value in 20 bins of equal width from 0 to the 99th percentile,
  plus the customers above it and those without a value.
- ``churn_by_tier``: per value tier, the mean churn risk and P(alive), and how many are at high
  risk (churn risk ≥ 0.5).
- ``segments_over_time``: the customers per RFM segment at each run kept in the history.
"""

from __future__ import annotations

from typing import Any

import duckdb

HIGH_RISK = 0.5
CLV_BINS = 20


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    result = con.execute(sql, params or [])
    names = [column[0] for column in result.description]
    return [dict(zip(names, (_plain(value) for value in row), strict=True)) for row in result.fetchall()]


def _plain(value: Any) -> Any:
    """JSON-able: decimals as floats rounded to the cent, dates as ISO text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is not None and not isinstance(value, (int, float, str, bool)):
        return round(float(value), 2)
    if isinstance(value, float):
        return round(value, 4)
    return value


def reports_compute(con: duckdb.DuckDBPyConnection, *, scores: str = "contact_scores") -> dict[str, Any]:
    """Every report of the module docstring, from the scores table ``scores`` and the history."""
    reports: dict[str, Any] = {}
    reports["rfm_grid"] = _rows(
        con,
        f"SELECT r_score AS r, f_score AS f, count(*) AS customers, avg(monetary_total) AS monetary_avg "
        f"FROM {scores} GROUP BY r_score, f_score ORDER BY r_score, f_score",
    )
    for key, column in (("segments", "rfm_segment"), ("abc", "abc_class"), ("tiers", "value_tier")):
        reports[key] = _rows(
            con,
            f"SELECT {column} AS name, count(*) AS customers, sum(monetary_total) AS monetary_total, "
            f"sum(margin) AS margin, sum(clv) AS clv, "
            f"sum(greatest(margin, 0)) / nullif((SELECT sum(greatest(margin, 0)) FROM {scores}), 0) AS margin_share "
            f"FROM {scores} GROUP BY {column} ORDER BY customers DESC, name",
        )
    reports["pareto"] = _rows(
        con,
        f"""
        WITH ranked AS (
            SELECT row_number() OVER (ORDER BY margin DESC, customer_id) AS position,
                   sum(greatest(margin, 0)) OVER (ORDER BY margin DESC, customer_id) AS cumulative
            FROM {scores}
        ), total AS (SELECT count(*) AS n, max(cumulative) AS margin FROM ranked),
        points AS (SELECT range AS percent FROM range(0, 101))
        SELECT p.percent AS customers_percent,
               coalesce(100.0 * (SELECT max(r.cumulative) FROM ranked r
                                 WHERE r.position <= p.percent * t.n / 100.0) / nullif(t.margin, 0), 0)
                   AS margin_percent
        FROM points p, total t ORDER BY p.percent
        """,
    )
    top = con.execute(f"SELECT quantile_cont(clv, 0.99) FROM {scores} WHERE clv IS NOT NULL").fetchone()[0]
    top = float(top or 0)
    width = top / CLV_BINS if top > 0 else 1.0
    bins = _rows(
        con,
        f"SELECT least(CAST(floor(greatest(clv, 0) / ?) AS INTEGER), ?) AS bin, count(*) AS customers "
        f"FROM {scores} WHERE clv IS NOT NULL GROUP BY ALL ORDER BY bin",
        [width, CLV_BINS],
    )
    counts = {row["bin"]: row["customers"] for row in bins}
    reports["clv_distribution"] = {
        "bins": [
            {"from": round(i * width, 2), "to": round((i + 1) * width, 2), "customers": counts.get(i, 0)}
            for i in range(CLV_BINS)
        ],
        "above": counts.get(CLV_BINS, 0),
        "without_value": con.execute(f"SELECT count(*) FROM {scores} WHERE clv IS NULL").fetchone()[0],
    }
    reports["churn_by_tier"] = _rows(
        con,
        f"SELECT value_tier AS name, count(*) AS customers, avg(churn_risk) AS churn_risk, avg(p_alive) AS p_alive, "
        f"count(*) FILTER (WHERE churn_risk >= {HIGH_RISK}) AS high_risk "
        f"FROM {scores} GROUP BY value_tier ORDER BY name",
    )
    reports["segments_over_time"] = _rows(
        con,
        "SELECT run_id, as_of, rfm_segment AS name, count(*) AS customers FROM score_history "
        "GROUP BY ALL ORDER BY as_of, run_id, name",
    )
    return reports
