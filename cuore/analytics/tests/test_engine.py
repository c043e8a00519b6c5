"""The analytics run: RFM figures and scores, segments, preferred category, ABC classes, history, failures."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import duckdb
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.analytics import pipeline, selectors
from cuore.analytics.models import AccountScore, AnalyticsRun, ContactScore, RfmSegment, RunStatus
from cuore.analytics.services import analytics_run
from cuore.contacts.models import ContactAccount
from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.errors import ValidationFailed
from cuore.orders.models import Order, OrderLine, OrderStatus
from cuore.orders.tests.factories import make_category, make_product

AS_OF = dt.date(2025, 6, 30)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _warehouse_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def _order(contact, day: dt.date, lines, *, status=OrderStatus.DELIVERED, account=None) -> Order:
    """An order placed at noon UTC on ``day`` with lines (product, quantity, unit price, unit cost, discount)."""
    placed_at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    order = Order.objects.create(
        number=f"T-{next(_numbers):06d}", contact=contact, account=account, placed_at=placed_at, status=status
    )
    for product, quantity, price, cost, discount in lines:
        price, cost, discount = Decimal(price), Decimal(cost), Decimal(discount)
        OrderLine.objects.create(
            order=order,
            product=product,
            quantity=quantity,
            unit_price=price,
            unit_cost=cost,
            discount=discount,
            line_total=quantity * price - discount,
        )
    return order


@pytest.fixture
def shop(db):
    """Five buyers with distinct recency, frequency and spend, a contact who never bought, and an account.

    =====  =======  =========  ========  =======  =========================
    who    recency  frequency  spent     margin   R F M, segment, ABC
    =====  =======  =========  ========  =======  =========================
    best   5        5          1000.00   600.00   5 5 5 champions, A
    gone   400      4          600.00    200.00   1 4 4 cant_lose_them, B
    fresh  10       1          30.00     20.00    4 1 1 promising, C
    old    200      2          90.00     50.00    2 2 2 hibernating, C
    loss   100      3          300.00    -60.00   3 3 3 loyal, C (negative)
    =====  =======  =========  ========  =======  =========================
    """
    shoes, bags = make_category(name="Shoes"), make_category(name="Bags")
    shoe, bag = make_product(category=shoes), make_product(category=bags)
    loose = make_product(category=None)
    people = {name: make_contact(first_name=name) for name in ("best", "gone", "fresh", "old", "loss", "never")}
    ago = lambda days: AS_OF - dt.timedelta(days=days)  # noqa: E731

    best = people["best"]
    for days in (149, 120, 91, 60):
        _order(best, ago(days), [(shoe, 2, "100.00", "40.00", "0")])
    _order(best, ago(5), [(bag, 1, "150.00", "60.00", "0"), (loose, 1, "50.00", "20.00", "0")])

    for days in (537, 506, 477, 400):
        _order(people["gone"], ago(days), [(bag, 1, "150.00", "100.00", "0")])

    fresh = people["fresh"]
    _order(fresh, ago(10), [(shoe, 1, "30.00", "10.00", "0")])
    _order(fresh, ago(2), [(shoe, 9, "30.00", "10.00", "0")], status=OrderStatus.CANCELLED)
    _order(fresh, ago(1), [(shoe, 9, "30.00", "10.00", "0")], status=OrderStatus.DRAFT)
    _order(fresh, AS_OF + dt.timedelta(days=5), [(shoe, 9, "30.00", "10.00", "0")])  # after as_of

    for days in (211, 200):
        _order(people["old"], ago(days), [(shoe, 1, "50.00", "20.00", "5.00")])

    for days in (160, 130, 100):
        _order(people["loss"], ago(days), [(bag, 1, "100.00", "120.00", "0")])

    account = make_account(name="Acme")
    ContactAccount.objects.create(contact=best, account=account)
    ContactAccount.objects.create(contact=people["gone"], account=account)
    return {"people": people, "shoes": shoes, "bags": bags, "account": account, "shoe": shoe}


def _scores() -> dict[str, ContactScore]:
    return {score.contact.first_name: score for score in ContactScore.objects.select_related("contact")}


def _values(score) -> tuple:
    return tuple(getattr(score, column) for column in pipeline.SCORE_COLUMNS[1:]) + (score.contact_id,)


def test_run_scores_each_buyer_with_rfm_figures_segment_and_abc(shop):
    run = analytics_run(as_of=AS_OF)

    assert run.status == RunStatus.SUCCEEDED
    assert run.finished_at is not None
    assert run.parameters == {
        "as_of": "2025-06-30",
        "abc_cuts": [80, 15, 5],
        "horizon_months": 12,
        "monthly_discount_rate": 0.01,
        "churn_days": 90,
    }
    assert [stage["stage"] for stage in run.figures["stages"]] == [
        "extract",
        "rfm",
        "lifetime_value",
        "churn",
        "next_best_offer",
        "assemble",
        "reports",
        "write",
    ]
    assert all(stage["seconds"] >= 0 and stage["peak_rss_mb"] > 0 for stage in run.figures["stages"])
    scores = _scores()
    assert set(scores) == {"best", "gone", "fresh", "old", "loss"}  # "never" bought nothing: no row
    expected = {
        # name: recency, frequency, spent, average, margin, tenure, R, F, M, segment, ABC
        "best": (5, 5, "1000.00", "200.00", "600.00", 149, 5, 5, 5, RfmSegment.CHAMPIONS, "A"),
        "gone": (400, 4, "600.00", "150.00", "200.00", 537, 1, 4, 4, RfmSegment.CANT_LOSE_THEM, "B"),
        "fresh": (10, 1, "30.00", "30.00", "20.00", 10, 4, 1, 1, RfmSegment.PROMISING, "C"),
        "old": (200, 2, "90.00", "45.00", "50.00", 211, 2, 2, 2, RfmSegment.HIBERNATING, "C"),
        "loss": (100, 3, "300.00", "100.00", "-60.00", 160, 3, 3, 3, RfmSegment.LOYAL, "C"),
    }
    for name, (recency, frequency, spent, average, margin, tenure, r, f, m, segment, abc) in expected.items():
        score = scores[name]
        assert (score.recency_days, score.frequency, score.tenure_days) == (recency, frequency, tenure), name
        assert (score.monetary_total, score.monetary_avg, score.margin) == (
            Decimal(spent),
            Decimal(average),
            Decimal(margin),
        ), name
        assert (score.r_score, score.f_score, score.m_score, score.rfm_segment, score.abc_class) == (
            r,
            f,
            m,
            segment,
            abc,
        ), name
        assert score.run_id == run.pk
    assert scores["best"].preferred_category == shop["shoes"]  # 800.00 on shoes against 150.00 on bags
    assert scores["gone"].preferred_category == shop["bags"]
    assert run.figures["scored"] == {"contact": 5, "account": 1}
    assert run.figures["contacts"]["abc"] == {"A": 1, "B": 1, "C": 3}
    assert run.figures["extracted"]["orders"] == 15  # the cancelled, draft and later orders are left out


def test_account_scores_add_up_the_orders_of_its_contacts(shop):
    run = analytics_run(as_of=AS_OF)

    score = AccountScore.objects.get()
    assert score.account == shop["account"]
    assert score.run_id == run.pk
    assert (score.frequency, score.recency_days, score.tenure_days) == (9, 5, 537)
    assert (score.monetary_total, score.margin) == (Decimal("1600.00"), Decimal("800.00"))
    assert score.preferred_category == shop["shoes"]


def test_abc_cut_points_are_configurable(shop):
    analytics_run(as_of=AS_OF, abc_cuts=(95, 3))

    # Cumulative share of the positive margin (870.00): best 69 %, gone 92 %, old 97.7 %, fresh 100 %.
    classes = {name: score.abc_class for name, score in _scores().items()}
    assert classes == {"best": "A", "gone": "A", "old": "B", "fresh": "C", "loss": "C"}


@pytest.mark.parametrize("cuts", [(0, 15), (90, 15), (80, -1)])
def test_abc_cut_points_must_make_sense(db, cuts):
    with pytest.raises(ValidationFailed):
        analytics_run(as_of=AS_OF, abc_cuts=cuts)
    assert not AnalyticsRun.objects.exists()


def test_as_of_decides_what_is_counted(shop):
    analytics_run(as_of=AS_OF + dt.timedelta(days=10))

    fresh = _scores()["fresh"]
    assert (fresh.frequency, fresh.recency_days, fresh.monetary_total) == (2, 5, Decimal("300.00"))


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, "champions"),
        (4, 4, 4, "champions"),
        (1, 5, 4, "cant_lose_them"),
        (3, 4, 3, "loyal"),
        (5, 3, 3, "loyal"),
        (2, 3, 1, "at_risk"),
        (1, 4, 2, "at_risk"),
        (5, 1, 5, "new"),
        (4, 1, 1, "promising"),
        (5, 2, 2, "potential_loyalists"),
        (4, 5, 2, "potential_loyalists"),
        (3, 2, 5, "need_attention"),
        (3, 1, 1, "about_to_sleep"),
        (1, 1, 5, "lost"),
        (2, 1, 1, "hibernating"),
        (1, 2, 2, "hibernating"),
    ],
)
def test_segment_rules(r, f, m, segment):
    con = duckdb.connect()
    assert (
        con.execute(f"SELECT {pipeline.segment_sql('r', 'f', 'm')} FROM (SELECT ? r, ? f, ? m)", [r, f, m]).fetchone()[
            0
        ]
        == segment
    )


def test_every_score_combination_has_a_segment():
    con = duckdb.connect()
    rows = con.execute(
        f"""
        SELECT {pipeline.segment_sql("r", "f", "m")} AS segment, count(*)
        FROM range(1, 6) a(r), range(1, 6) b(f), range(1, 6) c(m) GROUP BY segment
        """
    ).fetchall()
    assert sum(count for _, count in rows) == 125
    assert {segment for segment, _ in rows} == set(RfmSegment.values)


def test_running_twice_gives_the_same_scores_and_keeps_both_in_the_history(shop):
    first = analytics_run(as_of=AS_OF)
    before = sorted(_values(score) for score in ContactScore.objects.all())

    second = analytics_run(as_of=AS_OF)

    assert sorted(_values(score) for score in ContactScore.objects.all()) == before
    assert set(ContactScore.objects.values_list("run_id", flat=True)) == {second.pk}
    assert second.figures["contacts"] == first.figures["contacts"]
    best = shop["people"]["best"]
    history = selectors.contact_score_history(contact_id=best.pk)
    assert [(row["run_id"], row["as_of"], row["rfm_segment"]) for row in history] == [
        (first.pk, AS_OF, "champions"),
        (second.pk, AS_OF, "champions"),
    ]
    assert len(selectors.run_scores(run_id=first.pk)) == 5


def test_history_keeps_each_dated_run(shop):
    earlier = analytics_run(as_of=dt.date(2025, 1, 1))
    later = analytics_run(as_of=AS_OF)

    best = shop["people"]["best"]
    history = selectors.contact_score_history(contact_id=best.pk)
    assert [(row["run_id"], row["frequency"]) for row in history] == [(later.pk, 5)]  # no order by 1 January
    assert {row["contact_id"] for row in selectors.run_scores(run_id=earlier.pk)} == {
        shop["people"][name].pk for name in ("gone", "old")
    }
    assert ContactScore.objects.get(contact=best).run_id == later.pk


def test_a_failed_computation_keeps_the_last_good_scores(shop, monkeypatch):
    good = analytics_run(as_of=AS_OF)
    before = sorted(_values(score) for score in ContactScore.objects.all())

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "scores_step", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        analytics_run(as_of=AS_OF + dt.timedelta(days=30))

    failed = AnalyticsRun.objects.latest("id")
    assert failed.status == RunStatus.FAILED
    assert failed.error == "RuntimeError: disk full"
    assert failed.finished_at is not None
    assert sorted(_values(score) for score in ContactScore.objects.all()) == before
    assert set(ContactScore.objects.values_list("run_id", flat=True)) == {good.pk}
    assert selectors.analytics_run_last() == good


def test_a_write_back_failing_half_way_rolls_back_the_scores_and_the_history(shop, monkeypatch):
    good = analytics_run(as_of=AS_OF)
    before = sorted(_values(score) for score in ContactScore.objects.all())
    real_read = pipeline.scores_read

    def read_then_fail(con, *, kind, batch_rows):
        yield from real_read(con, kind=kind, batch_rows=2)
        raise OSError("connection lost")

    monkeypatch.setattr(pipeline, "scores_read", read_then_fail)
    with pytest.raises(OSError, match="connection lost"):
        analytics_run(as_of=AS_OF + dt.timedelta(days=30))

    failed = AnalyticsRun.objects.latest("id")
    assert failed.status == RunStatus.FAILED
    assert sorted(_values(score) for score in ContactScore.objects.all()) == before
    assert set(ContactScore.objects.values_list("run_id", flat=True)) == {good.pk}
    assert selectors.run_scores(run_id=failed.pk) == []


def test_write_back_is_bulk(shop):
    with CaptureQueriesContext(connection) as few:
        analytics_run(as_of=AS_OF)
    shoe = shop["shoe"]
    for n in range(40):
        _order(make_contact(first_name=f"extra{n}"), AS_OF - dt.timedelta(days=n), [(shoe, 1, "10.00", "5.00", "0")])

    with CaptureQueriesContext(connection) as many:
        analytics_run(as_of=AS_OF)

    assert ContactScore.objects.count() == 45
    assert len(many.captured_queries) == len(few.captured_queries)
    # a constant number: the run's bookkeeping, the segments, the alert rules and the previous run
    assert len(many.captured_queries) <= 22


def test_reset_forgets_runs_scores_and_the_warehouse(shop):
    from cuore.analytics.services import analytics_reset

    analytics_run(as_of=AS_OF)
    assert ContactScore.objects.exists()
    analytics_reset()
    assert not ContactScore.objects.exists() and not AccountScore.objects.exists()
    assert not AnalyticsRun.objects.exists()
    assert selectors.contact_score_history(contact_id=shop["people"]["best"].pk) == []
    again = analytics_run(as_of=AS_OF)
    assert {row["run_id"] for row in selectors.run_scores(run_id=again.pk)} == {again.pk}


def test_a_run_interrupted_by_a_dead_process_is_marked_failed_by_the_next(shop):
    dead = AnalyticsRun.objects.create(started_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC), as_of=AS_OF)
    run = analytics_run(as_of=AS_OF)
    dead.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert dead.status == RunStatus.FAILED and dead.error.startswith("interrupted")


def test_a_run_connection_holds_duckdb_to_the_configured_memory(db, settings):
    from cuore.analytics import warehouse

    # given a memory budget for analytics runs
    settings.ANALYTICS_MEMORY_MB = 256
    # when a run opens the warehouse
    con = warehouse.warehouse_connect()
    try:
        # then DuckDB holds at most that (256 MB = 244.1 MiB), not its default of 80 % of the RAM
        assert con.execute("SELECT current_setting('memory_limit')").fetchone() == ("244.1 MiB",)
    finally:
        con.close()


def test_the_warehouse_held_by_another_process_is_busy_not_broken(db, tmp_path):
    import subprocess
    import sys

    from cuore.analytics import warehouse

    path = warehouse.warehouse_path()
    warehouse.warehouse_connect().close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(warehouse.WarehouseBusy, match="busy with a run"):
            warehouse.warehouse_connect(read_only=True, wait_seconds=0.3)
        with pytest.raises(warehouse.WarehouseBusy, match="in use by another process"):
            warehouse.warehouse_connect(wait_seconds=0.3)
    finally:
        holder.kill()
        holder.wait()
    assert warehouse.warehouse_connect(read_only=True).execute("SELECT count(*) FROM score_history").fetchone() == (0,)


def test_a_second_run_while_the_warehouse_is_held_is_a_conflict(shop, monkeypatch):
    from cuore.analytics import warehouse
    from cuore.core.errors import Conflict

    def busy(**kwargs):
        raise warehouse.WarehouseBusy("the analytics warehouse is in use by another process (another analytics run?)")

    monkeypatch.setattr(warehouse, "warehouse_connect", busy)
    with pytest.raises(Conflict, match="another analytics run"):
        analytics_run(as_of=AS_OF)
    assert not AnalyticsRun.objects.exists()
