"""Churn risk: features at a cutoff, labels, the time-based holdout, the model's reasons and their words."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest
from django.utils import translation

from cuore.analytics import churn, pipeline

AS_OF = dt.date(2025, 6, 30)
CUTOFF = dt.date(2025, 1, 1)

WAREHOUSE_DDL = {
    "orders": "id BIGINT, contact_id BIGINT, account_id BIGINT, placed_on DATE",
    "order_lines": "order_id BIGINT, product_id BIGINT, quantity BIGINT, value_cents BIGINT, cost_cents BIGINT",
    "products": "id BIGINT, category_id BIGINT, name VARCHAR",
    "categories": "id BIGINT, parent_id BIGINT, name VARCHAR",
    "contacts": "id BIGINT, owner_id BIGINT, team_id BIGINT, lifecycle_stage VARCHAR, source VARCHAR, created_on DATE",
    "accounts": "id BIGINT, owner_id BIGINT, team_id BIGINT, industry VARCHAR, size VARCHAR",
    "contact_accounts": "contact_id BIGINT, account_id BIGINT",
    "interactions": "contact_id BIGINT, channel VARCHAR, direction VARCHAR, occurred_on DATE",
    "tickets": "contact_id BIGINT, opened_on DATE, satisfaction INTEGER, breached INTEGER",
    "consents": "contact_id BIGINT, purpose VARCHAR, channel VARCHAR, status VARCHAR, occurred_on DATE",
}


def _empty_warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for table, columns in WAREHOUSE_DDL.items():
        con.execute(f"CREATE TABLE {table} ({columns})")
    return con


def _orders(con, rows: list[tuple[int, str, int]]) -> None:
    """Orders (contact, day, value in cents), one line each, numbered on from the last order."""
    first = con.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM orders").fetchone()[0]
    for number, (contact, day, cents) in enumerate(rows, start=first):
        con.execute("INSERT INTO orders VALUES (?, ?, NULL, ?)", [number, contact, day])
        con.execute("INSERT INTO order_lines VALUES (?, 1, 1, ?, 0)", [number, cents])


def _features(con, cutoff: dt.date, horizon_days: int | None = None) -> dict[int, dict]:
    runner = pipeline.DuckDBRunner(con)
    for step in pipeline.base_steps():
        runner.execute(step)
    runner.execute(churn.orders_step())
    runner.execute(churn.features_step(cutoff, horizon_days=horizon_days))
    return {row["customer_id"]: row for row in runner.fetch("churn_features").to_pylist()}


# --- features and labels at a cutoff, by hand -----------------------------------------------------------


@pytest.fixture
def history():
    """Contact 1's orders, tickets, interactions and consents around the cutoff 2025-01-01.

    Windows at the cutoff: last 90 days from 2024-10-03, last 180 from 2024-07-05, the 180 before
    from 2024-01-07, last 365 from 2024-01-02.
    """
    con = _empty_warehouse()
    _orders(
        con,
        [
            (1, "2023-06-01", 5_000),  # older than 365 days
            (1, "2024-03-01", 20_000),  # the 180 days before the last 180
            (1, "2024-05-01", 10_000),  # the 180 days before the last 180
            (1, "2024-11-01", 6_000),  # the last 90 days
            (1, "2025-01-15", 99_900),  # after the cutoff: not seen, but it is a purchase in the horizon
            (2, "2025-01-01", 1_000),  # on the cutoff day: seen
            (2, "2025-04-01", 1_000),  # the last day of the 90-day horizon
            (3, "2024-06-01", 1_000),
            (3, "2025-04-02", 1_000),  # one day after the horizon
            (4, "2025-01-02", 1_000),  # first order after the cutoff: not a customer yet
        ],
    )
    con.executemany(
        "INSERT INTO tickets VALUES (1, ?, ?, ?)",
        [
            ("2023-12-01", 1, 0),  # older than 365 days
            ("2024-06-01", 1, 1),  # rated 1, breached: in the 365 days, not in the 180
            ("2024-12-01", 4, 0),
            ("2024-12-15", None, 0),  # unrated
            ("2025-01-10", 1, 1),  # after the cutoff
        ],
    )
    con.executemany(
        "INSERT INTO interactions VALUES (1, 'email', ?, ?)",
        [
            ("in", "2024-12-01"),
            ("out", "2024-11-15"),
            ("out", "2024-11-20"),
            ("in", "2024-09-01"),
            ("in", "2025-01-02"),
        ],
    )
    con.executemany(
        "INSERT INTO consents VALUES (1, ?, 'email', ?, ?)",
        [
            ("marketing", "granted", "2023-06-01"),
            ("marketing", "withdrawn", "2024-10-01"),
            ("newsletter", "granted", "2024-01-01"),
            ("newsletter", "withdrawn", "2024-12-31"),
            ("profiling", "granted", "2024-12-31"),  # not a marketing purpose
            ("marketing", "granted", "2025-01-05"),  # after the cutoff
        ],
    )
    return con


def test_features_of_a_contact_come_from_its_history_up_to_the_cutoff(history):
    features = _features(history, CUTOFF)

    assert set(features) == {1, 2, 3}  # contact 4 first bought after the cutoff
    one = features[1]
    assert one["days_since_last_order"] == 61  # 2024-11-01 → 2025-01-01
    assert one["tenure_days"] == 580  # 2023-06-01 → 2025-01-01
    assert (one["orders_total"], one["orders_90"], one["orders_365"]) == (4, 1, 3)
    assert one["spend_365"] == 360.0  # 200 + 100 + 60: the order after the cutoff is not seen
    assert one["avg_order_value"] == 102.5  # (50 + 200 + 100 + 60) / 4
    assert one["spend_change_180"] == -80.0  # 60 in the last 180 days against 300 in the 180 before
    assert one["days_between_orders"] == pytest.approx(519 / 3)  # 2023-06-01 → 2024-11-01 over 3 gaps
    assert one["tickets_180"] == 2  # 2024-12-01 and 2024-12-15
    assert one["satisfaction_365"] == 2.5  # (1 + 4) / 2: the unrated one does not count
    assert (one["low_rated_tickets_365"], one["sla_breaches_365"]) == (1, 1)
    assert (one["interactions_in_90"], one["interactions_out_90"]) == (1, 2)
    assert one["consent_withdrawn"] == 1  # both marketing purposes withdrawn; the later grant is not seen
    assert "churned" not in one

    two = features[2]
    assert (two["days_since_last_order"], two["orders_total"], two["tenure_days"]) == (0, 1, 0)
    assert two["days_between_orders"] is None  # one order day: no gap to average
    assert two["satisfaction_365"] is None
    assert (two["tickets_180"], two["interactions_in_90"], two["consent_withdrawn"]) == (0, 0, 0)
    assert two["spend_change_180"] == 100.0  # spending now, nothing in the 180 days before


def test_features_do_not_change_with_events_after_the_cutoff(history):
    before = _features(history, CUTOFF)
    history.execute("INSERT INTO tickets VALUES (1, '2025-01-02', 1, 1), (2, '2025-03-01', 1, 1)")
    history.execute("INSERT INTO interactions VALUES (2, 'phone', 'in', '2025-01-02')")
    history.execute("INSERT INTO consents VALUES (2, 'marketing', 'email', 'withdrawn', '2025-01-02')")
    _orders(history, [(3, "2025-01-02", 50_000)])

    assert _features(history, CUTOFF) == before


def test_a_later_grant_counts_at_a_later_cutoff_and_a_same_day_withdrawal_wins(history):
    assert _features(history, dt.date(2025, 2, 1))[1]["consent_withdrawn"] == 0  # marketing granted again
    history.execute("INSERT INTO consents VALUES (1, 'marketing', 'email', 'withdrawn', '2025-01-05')")
    assert _features(history, dt.date(2025, 2, 1))[1]["consent_withdrawn"] == 1


def test_label_is_no_order_in_the_horizon_after_the_cutoff(history):
    features = _features(history, CUTOFF, horizon_days=90)

    # 1 bought on 2025-01-15, 2 on 2025-04-01 (the last day of the horizon), 3 only on 2025-04-02.
    assert {customer: row["churned"] for customer, row in features.items()} == {1: 0, 2: 0, 3: 1}


# --- the model: reasons as JSON -------------------------------------------------------------------------


def test_reasons_are_the_largest_positive_contributions_in_order():
    import numpy as np

    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 10, size=(400, len(churn.FEATURES)))
    raw[:, churn.FEATURE_NAMES.index("spend_change_180")] = rng.uniform(-100, 100, 400)
    raw[:, churn.FEATURE_NAMES.index("consent_withdrawn")] = rng.integers(0, 2, 400)
    days = churn.FEATURE_NAMES.index("days_since_last_order")
    churned = (raw[:, days] + rng.normal(0, 2, 400) > 5).astype(int)
    model = churn.ChurnModel.fit(raw, churned)

    risk, contributions = model.score(raw)
    reasons = [json.loads(text) for text in churn.reasons_json(raw, contributions).to_pylist()]

    assert risk == pytest.approx(model.predict(raw))
    assert contributions == pytest.approx(model.contributions(raw))
    for row in (0, 1, 2, 3):
        expected = sorted(
            ((value, j) for j, value in enumerate(contributions[row]) if round(value, 3) >= churn.REASON_MIN_EFFECT),
            reverse=True,
        )[:3]
        assert [reason["feature"] for reason in reasons[row]] == [churn.FEATURE_NAMES[j] for _, j in expected]
        assert [reason["effect"] for reason in reasons[row]] == [round(value, 3) for value, _ in expected]
    top = max(range(400), key=lambda row: raw[row, days])  # the one gone the longest
    assert reasons[top][0]["feature"] == "days_since_last_order"
    assert reasons[top][0]["value"] == round(raw[top, days])


# --- the stage on a shop with a planted signal -----------------------------------------------------------


def synthetic_shop(
    con: duckdb.DuckDBPyConnection,
    *,
    contacts: int,
    as_of: dt.date = AS_OF,
    gaps: tuple[int, int] = (20, 120),
    seed: int = 1,
) -> None:
    """Create the warehouse tables of a shop of ``contacts`` buyers, in SQL (a million take seconds).

    Each buyer first bought 30 to 1100 days before ``as_of`` and buys at random (a Poisson process)
    every ``gap`` days on average, uniform in ``gaps``. Six in ten stop buying on a day of their own (churn_on,
    up to 1300 days after the first order, so possibly after as_of); in the 150 days before it their
    orders are worth 30 % of the usual, seven in ten of them open two tickets rated 1 or 2, and four
    in ten of those who gave marketing consent withdraw it. Everyone gets background tickets (rated
    3 to 5 or not at all), interactions and consents. With ``gaps`` (60, 360): about 3.8 orders and
    9.5 order lines per buyer.
    """
    day = f"DATE '{as_of.isoformat()}'"

    def u(key: str, k: int) -> str:  # a uniform number in [0, 1) for each (row key, k), deterministic
        return f"((hash({key}, {seed}, {k}) % 1000000) / 1000000.0)"

    for table, columns in WAREHOUSE_DDL.items():
        con.execute(f"CREATE OR REPLACE TABLE {table} ({columns})")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE synthetic_people AS
        SELECT *, CASE WHEN churner THEN first_on + CAST(1300 * {u("id", 5)} AS INTEGER)
                       ELSE {day} + 10000 END AS churn_on
        FROM (
            SELECT i AS id,
                   {day} - CAST(30 + 1070 * {u("i", 1)} AS INTEGER) AS first_on,
                   {gaps[0]} + {gaps[1] - gaps[0]} * {u("i", 2)} AS gap,
                   2000 + 20000 * {u("i", 3)} AS basket_cents,
                   {u("i", 4)} < 0.6 AS churner
            FROM range(1, {contacts} + 1) t(i)
        ) p
        """
    )
    # Buying is a Poisson process while alive: given their number, the orders of a buyer fall
    # uniformly between its first order and the end (churn_on or as_of); slot k of 60 is an order
    # with probability span / (60 × gap), so the count is Binomial(60, ·) ≈ Poisson(span / gap).
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE synthetic_orders AS
        SELECT row_number() OVER (ORDER BY id, k) AS order_id, id AS contact_id, placed_on,
               CAST(basket_cents * (0.7 + 0.6 * {u("id * 100 + k", 6)})
                    * CASE WHEN placed_on > churn_on - 150 THEN 0.3 ELSE 1.0 END AS BIGINT) AS value_cents
        FROM (
            SELECT id, k, churn_on, basket_cents,
                   first_on + CAST(CASE WHEN k = 0 THEN 0 ELSE {u("id * 100 + k", 7)} * span END AS INTEGER)
                       AS placed_on
            FROM (
                SELECT *, date_diff('day', first_on, least(churn_on, {day})) AS span FROM synthetic_people
            ) p, range(0, 61) r(k)
            WHERE k = 0 OR (span > 0 AND {u("id * 100 + k", 8)} < span / (60.0 * gap))
        ) candidates
        """
    )
    con.execute("INSERT INTO orders SELECT order_id, contact_id, NULL, placed_on FROM synthetic_orders")
    con.execute(
        f"""
        INSERT INTO order_lines
        SELECT order_id, 1 + (order_id * 7 + line) % 50, 1, value_cents // lines, (value_cents // lines) * 6 // 10
        FROM (SELECT *, 1 + CAST(floor(4 * {u("order_id", 25)}) AS INTEGER) AS lines FROM synthetic_orders) o,
             range(0, 4) l(line)
        WHERE line < lines
        """
    )
    con.execute("INSERT INTO categories SELECT i, NULL, 'category ' || i FROM range(1, 11) t(i)")
    con.execute("INSERT INTO products SELECT i, 1 + i % 10, 'product ' || i FROM range(1, 51) t(i)")
    con.execute("INSERT INTO contacts SELECT id, NULL, NULL, 'customer', 'web', first_on FROM synthetic_people")
    accounts = max(contacts // 25, 1)
    con.execute(f"INSERT INTO accounts SELECT i, NULL, NULL, 'retail', '1-9' FROM range(1, {accounts} + 1) t(i)")
    con.execute(f"INSERT INTO contact_accounts SELECT id, 1 + id % {accounts} FROM synthetic_people WHERE id % 10 = 0")
    con.execute(
        f"""
        INSERT INTO tickets
        SELECT id, opened_on, satisfaction, breached FROM (
            SELECT id, churn_on - CAST(10 + 100 * {u("id * 10 + k", 9)} AS INTEGER) AS opened_on,
                   1 + CAST(floor(2 * {u("id * 10 + k", 10)}) AS INTEGER) AS satisfaction,
                   CASE WHEN {u("id * 10 + k", 11)} < 0.4 THEN 1 ELSE 0 END AS breached
            FROM synthetic_people, range(0, 2) r(k) WHERE churner AND {u("id", 12)} < 0.7
            UNION ALL
            SELECT id, first_on + CAST({u("id * 10 + k", 13)} * (date_diff('day', first_on, {day}) + 200) AS INTEGER),
                   CASE WHEN {u("id * 10 + k", 14)} < 0.3 THEN NULL
                        ELSE 3 + CAST(floor(3 * {u("id * 10 + k", 15)}) AS INTEGER) END,
                   CASE WHEN {u("id * 10 + k", 16)} < 0.1 THEN 1 ELSE 0 END
            FROM synthetic_people, range(0, 3) r(k) WHERE {u("id * 10 + k", 17)} < 0.25
        ) t WHERE opened_on <= {day}
        """
    )
    con.execute(
        f"""
        INSERT INTO interactions
        SELECT id, 'email', CASE WHEN {u("id * 10 + k", 18)} < 0.5 THEN 'in' ELSE 'out' END, occurred_on FROM (
            SELECT id, k, first_on + CAST({u("id * 10 + k", 19)} * date_diff('day', first_on, {day}) AS INTEGER)
                AS occurred_on
            FROM synthetic_people, range(0, 4) r(k) WHERE {u("id * 10 + k", 20)} < 0.5
        ) t
        """
    )
    con.execute(
        f"""
        INSERT INTO consents
        SELECT id, 'marketing', 'email', status, occurred_on FROM (
            SELECT id, 'granted' AS status, first_on AS occurred_on FROM synthetic_people WHERE {u("id", 21)} < 0.8
            UNION ALL
            SELECT id, 'withdrawn', churn_on - 20 FROM synthetic_people
            WHERE churner AND {u("id", 21)} < 0.8 AND {u("id", 22)} < 0.4
            UNION ALL
            SELECT id, 'withdrawn', first_on + CAST({u("id", 23)} * date_diff('day', first_on, {day}) AS INTEGER)
            FROM synthetic_people WHERE NOT churner AND {u("id", 21)} < 0.8 AND {u("id", 24)} < 0.05
        ) t WHERE occurred_on <= {day}
        """
    )


def run_stages(con, params: pipeline.Parameters) -> dict:
    """Run the stages up to churn (RFM and lifetime value first, as the pipeline does); churn's figures."""
    runner = pipeline.DuckDBRunner(con)
    figures = {}
    for stage in pipeline.STAGES:
        figures[stage.name] = stage.run(runner, params)
        if stage.name == "churn":
            return figures["churn"]
    raise AssertionError("no churn stage")


PLANTED = 10_000_001  # a buyer added to the synthetic shop


def _plant_a_churner(con) -> None:
    """A monthly buyer, last seen 10 days ago, whose spend fell and who rated two recent tickets 1."""
    days = [AS_OF - dt.timedelta(days=10 + 30 * k) for k in range(24)]
    for k, day in enumerate(days):
        order_id = 20_000_000 + k
        cents = 3_000 if k < 5 else 10_000
        con.execute("INSERT INTO orders VALUES (?, ?, NULL, ?)", [order_id, PLANTED, day])
        con.execute("INSERT INTO order_lines VALUES (?, 1, 1, ?, 0)", [order_id, cents])
    con.execute(
        "INSERT INTO tickets VALUES (?, ?, 1, 0), (?, ?, 1, 0)",
        [PLANTED, AS_OF - dt.timedelta(days=40), PLANTED, AS_OF - dt.timedelta(days=20)],
    )


@pytest.fixture(scope="module")
def planted():
    con = duckdb.connect()
    synthetic_shop(con, contacts=6000)
    _plant_a_churner(con)
    figures = run_stages(con, pipeline.Parameters(as_of=AS_OF))
    yield con, figures
    con.close()


def test_model_finds_the_planted_signal_on_a_time_based_holdout(planted):
    con, figures = planted

    assert figures["horizon_days"] == 90
    assert (figures["train_cutoff"], figures["test_cutoff"]) == ("2025-01-01", "2025-04-01")
    assert figures["auc"] > 0.75
    assert 0 < figures["brier"] < figures["base_rate"] * (1 - figures["base_rate"])  # beats the base rate
    assert sum(n for _, _, n in figures["calibration"]) == figures["test_rows"]
    assert len(figures["calibration"]) == 10
    gap = sum(abs(predicted - observed) * n for predicted, observed, n in figures["calibration"])
    assert gap / figures["test_rows"] < 0.05  # calibrated on average, across the time shift
    assert 0.5 < figures["p_alive_auc"] < figures["auc"]
    assert figures["coefficients"]["low_rated_tickets_365"] > 0
    assert figures["coefficients"]["spend_change_180"] < 0  # a fall (negative change) raises the risk
    # one row per buyer of contact_rfm, every one scored
    assert con.execute("SELECT count(*), count(churn_risk) FROM contact_churn").fetchone() == (6001, 6001)
    assert con.execute("SELECT count(*) FROM contact_churn c JOIN contact_rfm r USING (customer_id)").fetchone() == (
        6001,
    )


def test_the_planted_churner_is_at_risk_for_the_planted_reasons(planted):
    con, _ = planted

    risk, text = con.execute(
        "SELECT churn_risk, churn_reasons FROM contact_churn WHERE customer_id = ?", [PLANTED]
    ).fetchone()
    reasons = json.loads(text)

    median = con.execute("SELECT median(churn_risk) FROM contact_churn").fetchone()[0]
    assert risk > median
    assert reasons[0]["feature"] in {"low_rated_tickets_365", "satisfaction_365", "spend_change_180"}
    by_feature = {reason["feature"]: reason for reason in reasons}
    if "low_rated_tickets_365" in by_feature:
        assert by_feature["low_rated_tickets_365"]["value"] == 2
    if "spend_change_180" in by_feature:
        assert by_feature["spend_change_180"]["value"] == -58.33  # 5 × 30 + 1 × 100 against 6 × 100
    assert all(reason["effect"] >= churn.REASON_MIN_EFFECT for reason in reasons)
    effects = [reason["effect"] for reason in reasons]
    assert effects == sorted(effects, reverse=True)


def test_the_evaluation_does_not_see_events_after_the_test_cutoff(planted):
    con, figures = planted
    # given the same shop where every customer who churned in the test window complains and withdraws
    # consent after the test cutoff (orders unchanged, so the labels are the same)
    copy = duckdb.connect()
    synthetic_shop(copy, contacts=6000)
    _plant_a_churner(copy)
    copy.execute(
        "INSERT INTO tickets SELECT id, DATE '2025-04-15', 1, 1 FROM synthetic_people WHERE churn_on <= DATE '2025-06-30'"
    )
    copy.execute(
        "INSERT INTO consents SELECT id, 'marketing', 'email', 'withdrawn', DATE '2025-04-15' FROM synthetic_people"
    )

    again = run_stages(copy, pipeline.Parameters(as_of=AS_OF))

    for figure in ("auc", "brier", "base_rate", "train_rows", "test_rows", "calibration", "p_alive_auc"):
        assert again[figure] == figures[figure], figure
    # the final model is refitted on the test rows (features up to the test cutoff): the same too
    assert again["coefficients"] == figures["coefficients"]
    # today's scores, from the features as of as_of, do see them
    first, second = (
        dict(c.execute("SELECT customer_id, churn_risk FROM contact_churn").fetchall()) for c in (con, copy)
    )
    assert first.keys() == second.keys()
    assert sum(second[customer] > first[customer] for customer in first) > len(first) / 2
    copy.close()


def test_run_is_deterministic(planted):
    con, figures = planted
    first = dict(con.execute("SELECT customer_id, churn_reasons FROM contact_churn").fetchall())

    assert run_stages(con, pipeline.Parameters(as_of=AS_OF)) == figures
    assert dict(con.execute("SELECT customer_id, churn_reasons FROM contact_churn").fetchall()) == first


# --- not enough data --------------------------------------------------------------------------------------


def test_too_few_customers_falls_back_to_p_alive_or_null():
    con = _empty_warehouse()
    _orders(con, [(1, "2025-01-10", 1_000), (2, "2025-02-10", 1_000), (3, "2025-03-10", 1_000)])
    runner = pipeline.DuckDBRunner(con)
    for step in pipeline.base_steps():
        runner.execute(step)
    runner.execute(pipeline.rfm_step("contact", pipeline.Parameters(as_of=AS_OF)))
    con.execute("CREATE TEMP TABLE contact_clv AS SELECT * FROM (VALUES (1, 0.8), (2, NULL)) v(customer_id, p_alive)")

    figures = churn.churn_stage(runner, pipeline.Parameters(as_of=AS_OF))

    assert figures == {
        "skipped": "0 customers had bought by 2025-01-01: fewer than 100",
        "horizon_days": 90,
        "train_cutoff": "2025-01-01",
        "test_cutoff": "2025-04-01",
    }
    rows = {row[0]: row[1:] for row in con.execute("SELECT * FROM contact_churn").fetchall()}
    assert rows[1][0] == pytest.approx(0.2)
    assert json.loads(rows[1][1]) == [{"feature": "p_alive", "value": 0.8, "effect": None}]
    assert rows[2] == (None, "[]")  # no P(alive) either
    assert rows[3] == (None, "[]")  # not in contact_clv at all


def test_one_outcome_only_falls_back():
    # given 150 customers who each buy every 10 days for two years: nobody churns
    con = _empty_warehouse()
    con.execute(
        f"""
        INSERT INTO orders
        SELECT 100 * c + k, c, NULL, DATE '{AS_OF.isoformat()}' - CAST(10 * k + c % 10 AS INTEGER)
        FROM range(1, 151) t(c), range(0, 73) s(k)
        """
    )
    con.execute("INSERT INTO order_lines SELECT id, 1, 1, 1000, 0 FROM orders")

    figures = run_stages(con, pipeline.Parameters(as_of=AS_OF))

    assert figures["skipped"] == "0 of the 150 customers of 2025-01-01 churned: fewer than 20 of one outcome"
    risks = con.execute("SELECT count(*), count(churn_risk), max(churn_risk) FROM contact_churn").fetchone()
    assert risks[:2] == (150, 150)  # 1 − P(alive) from the lifetime-value stage
    assert risks[2] < 0.05


# --- words ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "english", "italian"),
    [
        ({"feature": "days_since_last_order", "value": 412}, "no order for 412 days", "nessun ordine da 412 giorni"),
        ({"feature": "days_since_last_order", "value": 1}, "no order for 1 day", "nessun ordine da 1 giorno"),
        (
            {"feature": "spend_change_180", "value": -60.0},
            "spend down 60 % on the previous 6 months",
            "spesa in calo del 60 % rispetto ai 6 mesi precedenti",
        ),
        (
            {"feature": "spend_change_180", "value": 50.0},  # a = 2b
            "spend up 100 % on the previous 6 months",
            "spesa in aumento del 100 % rispetto ai 6 mesi precedenti",
        ),
        (
            {"feature": "low_rated_tickets_365", "value": 2},
            "2 tickets rated 2 or less",
            "2 ticket valutati 2 o meno",
        ),
        ({"feature": "low_rated_tickets_365", "value": 1}, "1 ticket rated 2 or less", "1 ticket valutato 2 o meno"),
        ({"feature": "consent_withdrawn", "value": 1}, "marketing consent withdrawn", "consenso al marketing revocato"),
        ({"feature": "orders_90", "value": 0}, "no order in the last 90 days", "nessun ordine negli ultimi 90 giorni"),
        (
            {"feature": "satisfaction_365", "value": 1.5},
            "tickets rated 1.5 of 5 on average",
            "ticket valutati in media 1,5 su 5",
        ),
        (
            {"feature": "p_alive", "value": 0.25, "effect": None},
            "25 % likely to be still active (purchase model)",
            "25 % di probabilità che sia ancora attivo (modello d'acquisto)",
        ),
    ],
)
def test_reason_text_in_english_and_italian(reason, english, italian):
    with translation.override("en"):
        assert churn.reason_text(reason) == english
    with translation.override("it"):
        assert churn.reason_text(reason) == italian


def test_every_feature_has_words_and_a_label():
    with translation.override("it"):
        for feature in churn.FEATURES:
            text = churn.reason_text({"feature": feature.name, "value": 3, "effect": 0.5})
            assert feature.name not in text
            assert str(feature.label)
