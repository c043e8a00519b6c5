"""The analytics API: runs, their reports, and the customers' scores, as each role may see them."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.analytics.models import AccountScore, AnalyticsRun, ContactScore, RunStatus
from cuore.analytics.services import analytics_run
from cuore.contacts.models import ContactAccount
from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core import jobs
from cuore.core.models import Job, JobStatus
from cuore.orders.models import Order, OrderLine, OrderStatus
from cuore.orders.tests.factories import make_category, make_product
from cuore.users.models import Team

AS_OF = dt.date(2025, 6, 30)
BUYERS = 24  # enough to fit the lifetime-value models (20 customers, 10 repeat buyers)
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _warehouse_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def _order(contact, day: dt.date, lines, *, account=None) -> Order:
    """A delivered order placed at noon UTC on ``day`` with lines (product, unit price, unit cost), one unit each."""
    order = Order.objects.create(
        number=f"A-{next(_numbers):06d}",
        contact=contact,
        account=account,
        placed_at=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
        status=OrderStatus.DELIVERED,
    )
    for product, price, cost in lines:
        OrderLine.objects.create(
            order=order,
            product=product,
            quantity=1,
            unit_price=Decimal(price),
            unit_cost=Decimal(cost),
            discount=Decimal(0),
            line_total=Decimal(price),
        )
    return order


@pytest.fixture
def shop(db, make_user, api_for):
    """24 buyers, half owned by a rep of North and half by a rep of South, a contact who never bought, two accounts.

    Buyer i places 1 + i % 5 orders, the first 300 + 10 i days before AS_OF, every 40 + 3 i days.
    Every order has a mug (20.00, cost 8.00); the first order of an even i also a plate (30.00,
    cost 12.00); the last order of i divisible by 3 also a bowl (15.00, cost 5.00). Mug and plate
    are Kitchen, the bowl Table. So the mug has 24 buyers, the plate 12, the bowl 8: a buyer of the
    mug alone is offered the plate (12 of the 24 mug buyers bought it) and then the bowl (8 of 24).
    """
    north, south = Team.objects.create(name="North"), Team.objects.create(name="South")
    users = {
        "admin": make_user(role="admin"),
        "manager": make_user(role="manager"),
        "sales": make_user(role="sales", team=north),
        "sales_other": make_user(role="sales", team=south),
        "support": make_user(role="support"),
        "marketing": make_user(role="marketing"),
        "analyst": make_user(role="analyst"),
    }
    kitchen, table = make_category(name="Kitchen"), make_category(name="Table")
    mug = make_product(name="Mug", category=kitchen)
    plate = make_product(name="Plate", category=kitchen)
    bowl = make_product(name="Bowl", category=table)
    buyers = []
    for i in range(BUYERS):
        owner = users["sales"] if i < BUYERS // 2 else users["sales_other"]
        contact = make_contact(first_name=f"Buyer{i:02d}", last_name="Test", owner=owner)
        buyers.append(contact)
        count, first, gap = 1 + i % 5, 300 + 10 * i, 40 + 3 * i
        for k in range(count):
            lines = [(mug, "20.00", "8.00")]
            if k == 0 and i % 2 == 0:
                lines.append((plate, "30.00", "12.00"))
            if k == count - 1 and i % 3 == 0:
                lines.append((bowl, "15.00", "5.00"))
            _order(contact, AS_OF - dt.timedelta(days=first - k * gap), lines)
    never = make_contact(first_name="Never", last_name="Bought", owner=users["sales"])
    acme = make_account(name="Acme", owner=users["sales"])
    globex = make_account(name="Globex", owner=users["sales_other"])
    ContactAccount.objects.create(contact=buyers[4], account=acme)
    ContactAccount.objects.create(contact=buyers[20], account=globex)
    return {
        "users": users,
        "clients": {role: api_for(user) for role, user in users.items()},
        "buyers": buyers,
        "never": never,
        "acme": acme,
        "globex": globex,
        "products": {"mug": mug, "plate": plate, "bowl": bowl},
        "categories": {"kitchen": kitchen, "table": table},
    }


@pytest.fixture
def scored(shop):
    """The shop after one successful run as of AS_OF."""
    shop["run"] = analytics_run(as_of=AS_OF)
    return shop


def _score_fields(score) -> dict:
    """A score row's figures as the API writes them (amounts as decimal strings)."""
    money = lambda value: None if value is None else str(value)  # noqa: E731
    return {
        "run_id": score.run_id,
        "recency_days": score.recency_days,
        "frequency": score.frequency,
        "monetary_total": money(score.monetary_total),
        "monetary_avg": money(score.monetary_avg),
        "margin": money(score.margin),
        "tenure_days": score.tenure_days,
        "preferred_category_id": score.preferred_category_id,
        "preferred_category": score.preferred_category.name if score.preferred_category else None,
        "r_score": score.r_score,
        "f_score": score.f_score,
        "m_score": score.m_score,
        "rfm_segment": score.rfm_segment,
        "abc_class": score.abc_class,
        "value_tier": score.value_tier,
        "expected_purchases": score.expected_purchases,
        "p_alive": score.p_alive,
        "clv": money(score.clv),
        "churn_risk": score.churn_risk,
    }


def _all_pages(client, path: str, params: dict | None = None) -> list[dict]:
    rows, cursor = [], None
    while True:
        response = client.get(path, {**(params or {}), **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json_body
        rows += response.json_body["results"]
        cursor = response.json_body["next_cursor"]
        if cursor is None:
            return rows


# ---- a contact's scores --------------------------------------------------------------------------


def test_a_contacts_scores_come_with_churn_reasons_and_next_best_offers_in_words(scored):
    buyer = scored["buyers"][1]  # two orders, 310 and 267 days ago, a mug each
    products, kitchen = scored["products"], scored["categories"]["kitchen"]

    response = scored["clients"]["marketing"].get(f"/analytics/contacts/{buyer.pk}")

    assert response.status_code == 200
    score = ContactScore.objects.select_related("preferred_category").get(contact=buyer)
    body = response.json_body
    assert body["contact_id"] == buyer.pk
    scores = body["scores"]
    assert {key: scores[key] for key in _score_fields(score)} == _score_fields(score)
    assert (scores["run_id"], scores["as_of"]) == (scored["run"].pk, "2025-06-30")
    assert (scores["recency_days"], scores["tenure_days"], scores["frequency"]) == (267, 310, 2)
    assert (scores["monetary_total"], scores["margin"]) == ("40.00", "24.00")
    assert (scores["preferred_category_id"], scores["preferred_category"]) == (kitchen.pk, "Kitchen")
    # Too few contacts for the churn model: the risk is 1 − P(alive), and that is the reason given.
    assert scores["churn_risk"] == pytest.approx(1 - score.p_alive)
    percent = f"{100 * score.p_alive:.0f}"
    assert scores["churn_reasons"] == [
        {
            "feature": "p_alive",
            "value": round(score.p_alive, 2),
            "effect": None,
            "text": f"{percent} % likely to be still active (purchase model)",
        }
    ]
    mug, plate, bowl = products["mug"].pk, products["plate"].pk, products["bowl"].pk
    assert scores["next_best_offers"] == [
        {
            "kind": "product",
            "id": plate,
            "name": "Plate",
            "because_kind": "product",
            "because_id": mug,
            "because_name": "Mug",
            "share": 0.5,
            "buyers": 24,
            "text": "bought Mug; 50 % of Mug buyers also bought Plate",
        },
        {
            "kind": "product",
            "id": bowl,
            "name": "Bowl",
            "because_kind": "product",
            "because_id": mug,
            "because_name": "Mug",
            "share": 0.3333,
            "buyers": 24,
            "text": "bought Mug; 33 % of Mug buyers also bought Bowl",
        },
    ]


def test_the_words_follow_the_callers_language(scored):
    buyer = scored["buyers"][1]

    response = scored["clients"]["admin"].get(f"/analytics/contacts/{buyer.pk}", headers={"Accept-Language": "it"})

    assert response.status_code == 200
    offers = response.json_body["scores"]["next_best_offers"]
    assert [offer["name"] for offer in offers] == ["Plate", "Bowl"]
    assert offers[0]["text"] == "ha comprato Mug; il 50 % di chi ha comprato Mug ha comprato anche Plate"
    [reason] = response.json_body["scores"]["churn_reasons"]
    assert reason["text"].endswith(" % di probabilità che sia ancora attivo (modello d'acquisto)")


def test_a_contact_who_never_bought_has_no_scores(scored):
    response = scored["clients"]["admin"].get(f"/analytics/contacts/{scored['never'].pk}")

    assert response.status_code == 200
    assert response.json_body == {"contact_id": scored["never"].pk, "scores": None}


def test_an_accounts_scores_add_up_its_contacts_orders(scored):
    acme = scored["acme"]  # linked to buyer 4: five orders, a plate in the first, none of them bowls

    response = scored["clients"]["analyst"].get(f"/analytics/accounts/{acme.pk}")

    assert response.status_code == 200
    score = AccountScore.objects.select_related("preferred_category").get(account=acme)
    scores = response.json_body["scores"]
    assert response.json_body["account_id"] == acme.pk
    assert {key: scores[key] for key in _score_fields(score)} == _score_fields(score)
    assert (scores["frequency"], scores["monetary_total"], scores["margin"]) == (5, "130.00", "78.00")
    assert scores["as_of"] == "2025-06-30"
    assert scores["churn_risk"] is None  # churn and offers are per contact
    assert "next_best_offers" not in scores


# ---- lists ----------------------------------------------------------------------------------------


def test_the_contact_scores_list_pages_by_contact_and_filters(scored):
    client = scored["clients"]["admin"]

    rows = _all_pages(client, "/analytics/contacts", {"limit": 10})

    assert [row["contact_id"] for row in rows] == sorted(buyer.pk for buyer in scored["buyers"])
    first = ContactScore.objects.select_related("preferred_category").get(contact=scored["buyers"][0])
    assert {key: rows[0][key] for key in _score_fields(first)} == _score_fields(first)
    assert rows[0]["contact_name"] == "Buyer00 Test"
    assert rows[0]["churn_reasons"][0]["feature"] == "p_alive"
    for filters, expected in [
        ({"segment": "champions"}, ContactScore.objects.filter(rfm_segment="champions")),
        ({"abc_class": "B"}, ContactScore.objects.filter(abc_class="B")),
        ({"value_tier": "growable"}, ContactScore.objects.filter(value_tier="growable")),
        ({"min_churn_risk": "0.5"}, ContactScore.objects.filter(churn_risk__gte=0.5)),
        (
            {"segment": "champions", "abc_class": "A"},
            ContactScore.objects.filter(rfm_segment="champions", abc_class="A"),
        ),
    ]:
        listed = [row["contact_id"] for row in _all_pages(client, "/analytics/contacts", filters)]
        assert listed == sorted(expected.values_list("contact_id", flat=True)), filters
        assert listed, filters  # every filter keeps some of the shop's buyers


def test_the_account_scores_list(scored):
    rows = _all_pages(scored["clients"]["manager"], "/analytics/accounts")

    assert [(row["account_id"], row["account_name"]) for row in rows] == [
        (scored["acme"].pk, "Acme"),
        (scored["globex"].pk, "Globex"),
    ]
    globex = AccountScore.objects.select_related("preferred_category").get(account=scored["globex"])
    assert {key: rows[1][key] for key in _score_fields(globex)} == _score_fields(globex)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"segment": "vip"}, "segment"),
        ({"abc_class": "D"}, "abc_class"),
        ({"value_tier": "gold"}, "value_tier"),
        ({"min_churn_risk": "1.5"}, "min_churn_risk"),
        ({"min_churn_risk": "NaN"}, "min_churn_risk"),
        ({"limit": "0"}, "limit"),
        ({"cursor": "nonsense"}, "cursor"),
    ],
)
def test_bad_list_filters_are_422_on_the_field(shop, params, field):
    response = shop["clients"]["admin"].get("/analytics/contacts", params)

    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == [field]


def test_lists_cost_the_same_queries_however_many_rows(scored):
    client = scored["clients"]["sales"]
    client.get("/me")  # the token's last use is written once a minute at most
    for path in ("/analytics/contacts", "/analytics/accounts", "/analytics/runs"):
        with CaptureQueriesContext(connection) as few:
            assert client.get(path, {"limit": 2}).status_code == 200
        with CaptureQueriesContext(connection) as many:
            assert client.get(path, {"limit": 200}).status_code == 200
        assert len(many) == len(few) <= 3, path


# ---- who sees what --------------------------------------------------------------------------------


def test_each_role_sees_the_scores_of_the_customers_it_may_see(scored):
    buyers, clients = scored["buyers"], scored["clients"]
    north = sorted(buyer.pk for buyer in buyers[: BUYERS // 2])
    south = sorted(buyer.pk for buyer in buyers[BUYERS // 2 :])
    expected_contacts = {
        "admin": north + south,
        "manager": north + south,
        "sales": north,
        "sales_other": south,
        "support": north + south,
        "marketing": north + south,
        "analyst": north + south,
    }
    acme, globex = scored["acme"].pk, scored["globex"].pk
    expected_accounts = {
        "admin": [acme, globex],
        "manager": [acme, globex],
        "sales": [acme],
        "sales_other": [globex],
        "analyst": [acme, globex],
    }
    for role, client in clients.items():
        listed = [row["contact_id"] for row in _all_pages(client, "/analytics/contacts")]
        assert listed == expected_contacts[role], role
        statuses = {
            client.get(f"/analytics/contacts/{buyers[0].pk}").status_code,
            client.get(f"/analytics/contacts/{buyers[0].pk}/history").status_code,
        }
        assert statuses == {200 if buyers[0].pk in listed else 404}, role
        if role in expected_accounts:
            listed = [row["account_id"] for row in _all_pages(client, "/analytics/accounts")]
            assert listed == expected_accounts[role], role
        else:  # support and marketing see no accounts, so no account's scores either
            assert client.get("/analytics/accounts").status_code == 404, role
        statuses = {
            client.get(f"/analytics/accounts/{acme}").status_code,
            client.get(f"/analytics/accounts/{acme}/history").status_code,
        }
        assert statuses == {200 if role in ("admin", "manager", "sales", "analyst") else 404}, role


def test_the_reports_and_the_whole_base_figures_are_only_for_roles_that_read_every_score(scored):
    run = scored["run"]
    for role, client in scored["clients"].items():
        reads_all = role not in ("sales", "sales_other")
        report = client.get("/analytics/reports/segments")
        assert report.status_code == (200 if reads_all else 404), role
        detail = client.get(f"/analytics/runs/{run.pk}")
        assert detail.status_code == 200, role  # every analytics reader sees the runs
        figures = detail.json_body["figures"]
        assert ("contacts" in figures, "accounts" in figures) == (reads_all, reads_all), role
        assert figures["scored"] == {"contact": 24, "account": 2}


# ---- reports --------------------------------------------------------------------------------------

REPORT_PATHS = {
    "rfm-grid": "rfm_grid",
    "pareto": "pareto",
    "clv-distribution": "clv_distribution",
    "segments": "segments",
    "segments-over-time": "segments_over_time",
    "abc": "abc",
    "tiers": "tiers",
    "churn-by-tier": "churn_by_tier",
}


def test_every_report_answers_the_runs_figures(scored):
    run, client = scored["run"], scored["clients"]["analyst"]
    answers = {}
    for path, key in REPORT_PATHS.items():
        response = client.get(f"/analytics/reports/{path}")
        assert response.status_code == 200, path
        assert (response.json_body["run_id"], response.json_body["as_of"]) == (run.pk, "2025-06-30")
        answers[key] = response.json_body["data"]
    assert answers == {key: run.reports[key] for key in REPORT_PATHS.values()}

    scores = ContactScore.objects.all()
    assert sum(cell["customers"] for cell in answers["rfm_grid"]) == BUYERS
    assert len(answers["pareto"]) == 101
    assert (answers["pareto"][0], answers["pareto"][-1]) == (
        {"customers_percent": 0, "margin_percent": 0},
        {"customers_percent": 100, "margin_percent": 100.0},
    )
    distribution = answers["clv_distribution"]
    assert len(distribution["bins"]) == 20
    assert sum(b["customers"] for b in distribution["bins"]) + distribution["above"] == BUYERS
    assert distribution["without_value"] == 0
    for key, column in (("segments", "rfm_segment"), ("abc", "abc_class"), ("tiers", "value_tier")):
        counts = {row["name"]: row["customers"] for row in answers[key]}
        expected = {}
        for value in scores.values_list(column, flat=True):
            expected[value] = expected.get(value, 0) + 1
        assert counts == expected, key
    abc_margin = {row["name"]: Decimal(str(row["margin"])) for row in answers["abc"]}
    assert sum(abc_margin.values()) == sum(score.margin for score in scores)
    assert {(row["run_id"], row["as_of"]) for row in answers["segments_over_time"]} == {(run.pk, "2025-06-30")}
    by_tier = {row["name"]: row for row in answers["churn_by_tier"]}
    for tier, row in by_tier.items():
        risks = [s.churn_risk for s in scores.filter(value_tier=tier)]
        assert row["customers"] == len(risks)
        assert row["churn_risk"] == pytest.approx(sum(risks) / len(risks), abs=1e-4)
        assert row["high_risk"] == sum(risk >= 0.5 for risk in risks)


def test_a_report_of_an_earlier_run_and_of_runs_that_have_none(scored):
    client = scored["clients"]["admin"]
    later = analytics_run(as_of=AS_OF + dt.timedelta(days=30))
    failed = AnalyticsRun.objects.create(
        started_at=later.started_at + dt.timedelta(minutes=1), as_of=AS_OF, status=RunStatus.FAILED, error="disk full"
    )

    latest = client.get("/analytics/reports/segments-over-time")
    earlier = client.get("/analytics/reports/abc", {"run": scored["run"].pk})

    assert latest.json_body["run_id"] == later.pk  # the latest successful run, not the failed one
    assert [(row["run_id"], row["as_of"]) for row in latest.json_body["data"]][:1] == [(scored["run"].pk, "2025-06-30")]
    assert {row["run_id"] for row in latest.json_body["data"]} == {scored["run"].pk, later.pk}
    assert (earlier.json_body["run_id"], earlier.json_body["data"]) == (scored["run"].pk, scored["run"].reports["abc"])
    assert client.get("/analytics/reports/abc", {"run": failed.pk}).status_code == 409
    assert client.get("/analytics/reports/abc", {"run": failed.pk + 100}).status_code == 404
    assert client.get("/analytics/reports/abc", {"run": "0"}).status_code == 422


def test_reports_before_any_run_are_a_conflict(shop):
    response = shop["clients"]["admin"].get("/analytics/reports/pareto")

    assert response.status_code == 409
    assert "No analytics run has succeeded yet" in response.json_body["detail"]


# ---- runs -----------------------------------------------------------------------------------------


def test_runs_newest_first_with_their_figures_and_the_latest(scored):
    client = scored["clients"]["analyst"]
    first = scored["run"]
    second = analytics_run(as_of=AS_OF, abc_cuts=(70, 20), horizon_months=6)
    failed = AnalyticsRun.objects.create(
        started_at=second.started_at + dt.timedelta(minutes=1), as_of=AS_OF, status=RunStatus.FAILED, error="boom"
    )

    listed = _all_pages(client, "/analytics/runs", {"limit": 1})
    detail = client.get(f"/analytics/runs/{second.pk}").json_body
    latest = client.get("/analytics/runs/latest").json_body
    latest_good = client.get("/analytics/runs/latest", {"status": "succeeded"}).json_body

    assert [run["id"] for run in listed] == [failed.pk, second.pk, first.pk]
    assert [run["id"] for run in _all_pages(client, "/analytics/runs", {"status": "succeeded"})] == [
        second.pk,
        first.pk,
    ]
    assert (latest["id"], latest["status"], latest["error"]) == (failed.pk, "failed", "boom")
    assert latest_good["id"] == second.pk
    assert detail["status"] == "succeeded" and detail["as_of"] == "2025-06-30" and detail["error"] == ""
    assert detail["parameters"] == {
        "as_of": "2025-06-30",
        "abc_cuts": [70, 20, 10],
        "horizon_months": 6,
        "monthly_discount_rate": 0.01,
        "churn_days": 90,
    }
    second.refresh_from_db()
    assert detail["figures"] == second.figures
    assert [stage["stage"] for stage in detail["figures"]["stages"]][:3] == ["extract", "rfm", "lifetime_value"]
    assert detail["figures"]["churn"]["skipped"]  # 24 contacts are too few for the churn model
    assert client.get(f"/analytics/runs/{failed.pk + 100}").status_code == 404


def test_latest_without_runs_is_not_found(shop):
    assert shop["clients"]["admin"].get("/analytics/runs/latest").status_code == 404


# ---- starting a run -------------------------------------------------------------------------------


def test_starting_a_run_queues_a_job_that_the_worker_runs(shop):
    client = shop["clients"]["analyst"]

    response = client.post(
        "/analytics/runs",
        {"as_of": "2025-06-30", "abc_cuts": [70, 20], "horizon_months": 6, "monthly_discount_rate": 0.02},
    )

    assert response.status_code == 202
    job = Job.objects.get()
    assert response["Location"] == f"/api/v1/analytics/jobs/{job.pk}"
    assert (job.name, job.status, job.max_attempts) == ("analytics.run", JobStatus.QUEUED, 1)
    parameters = {
        "as_of": "2025-06-30",
        "abc_cuts": [70, 20],
        "horizon_months": 6,
        "monthly_discount_rate": 0.02,
        "churn_days": 90,
    }
    assert job.payload == parameters
    assert response.json_body["job_id"] == job.pk
    assert (response.json_body["status"], response.json_body["run_id"]) == ("queued", None)
    assert not AnalyticsRun.objects.exists()  # nothing is computed inside the request

    again = client.post("/analytics/runs", {})
    assert again.status_code == 409
    assert f"job {job.pk}" in again.json_body["detail"]

    assert jobs.Worker(schedules=[], say=lambda line: None).run_once() == 1  # no periodic jobs: only ours
    polled = client.get(response["Location"])
    run = AnalyticsRun.objects.get()
    assert polled.status_code == 200
    assert (polled.json_body["status"], polled.json_body["run_id"], polled.json_body["error"]) == (
        "succeeded",
        run.pk,
        "",
    )
    assert run.parameters == {**parameters, "abc_cuts": [70, 20, 10]}
    assert client.get("/analytics/runs/latest").json_body["id"] == run.pk
    assert ContactScore.objects.count() == BUYERS


def test_a_run_without_parameters_scores_as_of_today(shop):
    response = shop["clients"]["admin"].post("/analytics/runs", {})

    assert response.status_code == 202
    payload = Job.objects.get().payload
    assert payload["as_of"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert payload["abc_cuts"] == [80, 15]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"as_of": "2999-01-01"}, "as_of"),
        ({"as_of": "1899-12-31"}, "as_of"),
        ({"as_of": "2025-02-30"}, "as_of"),
        ({"abc_cuts": [0, 15]}, "abc_cuts"),
        ({"abc_cuts": [90, 15]}, "abc_cuts"),
        ({"abc_cuts": [80, 15, 10]}, "abc_cuts"),
        ({"abc_cuts": [80]}, "abc_cuts"),
        ({"abc_cuts": [80, -1]}, "abc_cuts.1"),
        ({"horizon_months": 0}, "horizon_months"),
        ({"horizon_months": 121}, "horizon_months"),
        ({"monthly_discount_rate": 1}, "monthly_discount_rate"),
        ({"monthly_discount_rate": -0.1}, "monthly_discount_rate"),
        ({"churn_days": 6}, "churn_days"),
        ({"churn_days": 731}, "churn_days"),
    ],
)
def test_bad_run_parameters_are_422_on_the_field(shop, body, field):
    response = shop["clients"]["admin"].post("/analytics/runs", body)

    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == [field]
    assert all(error["reason"] for error in response.json_body["errors"])
    assert not Job.objects.exists()


def test_only_roles_that_write_analytics_start_runs(shop):
    statuses = {role: client.post("/analytics/runs", {}).status_code for role, client in shop["clients"].items()}
    Job.objects.all().delete()

    assert statuses == {
        "admin": 202,
        "manager": 409,  # the admin's run is still queued
        "sales": 403,
        "sales_other": 403,
        "support": 403,
        "marketing": 403,
        "analyst": 409,
    }


def test_a_job_that_is_not_an_analytics_run_is_not_found(shop):
    other = jobs.enqueue("core.jobs_prune")

    assert shop["clients"]["admin"].get(f"/analytics/jobs/{other.pk}").status_code == 404


# ---- history --------------------------------------------------------------------------------------


def test_history_is_what_each_run_scored_up_to_as_of(shop):
    client, buyer = shop["clients"]["sales"], shop["buyers"][1]
    earlier = AS_OF - dt.timedelta(days=280)  # 2024-09-23: buyer 1's first order is 30 days old, the second to come
    autumn = analytics_run(as_of=earlier)
    summer = analytics_run(as_of=AS_OF)

    everything = client.get(f"/analytics/contacts/{buyer.pk}/history")
    until_october = client.get(f"/analytics/contacts/{buyer.pk}/history", {"as_of": "2024-10-31"})
    before_any = client.get(f"/analytics/contacts/{buyer.pk}/history", {"as_of": "2024-09-22"})

    assert everything.status_code == 200
    rows = everything.json_body["results"]
    assert everything.json_body["contact_id"] == buyer.pk
    assert [(row["run_id"], row["as_of"]) for row in rows] == [(autumn.pk, "2024-09-23"), (summer.pk, "2025-06-30")]
    assert [(row["recency_days"], row["frequency"], row["monetary_total"]) for row in rows] == [
        (30, 1, "20.00"),
        (267, 2, "40.00"),
    ]
    current = ContactScore.objects.get(contact=buyer)
    assert (rows[1]["rfm_segment"], rows[1]["p_alive"], rows[1]["clv"]) == (
        current.rfm_segment,
        current.p_alive,
        str(current.clv),
    )
    assert rows[1]["churn_reasons"] == current.churn_reasons
    assert rows[1]["next_best_offers"] == current.next_best_offers
    assert [row["run_id"] for row in until_october.json_body["results"]] == [autumn.pk]
    assert before_any.json_body == {"contact_id": buyer.pk, "results": []}

    account = client.get(f"/analytics/accounts/{shop['acme'].pk}/history").json_body
    # Acme's orders are buyer 4's: 340, 288, 236, 184 and 132 days before 30 June.
    assert [(row["run_id"], row["frequency"]) for row in account["results"]] == [(autumn.pk, 2), (summer.pk, 5)]


def test_history_before_any_run_is_empty_and_a_bad_date_is_422(shop):
    client, buyer = shop["clients"]["admin"], shop["buyers"][0]

    assert client.get(f"/analytics/contacts/{buyer.pk}/history").json_body == {"contact_id": buyer.pk, "results": []}
    bad = client.get(f"/analytics/contacts/{buyer.pk}/history", {"as_of": "2025-13-01"})
    assert bad.status_code == 422
    assert bad.json_body["errors"][0]["field"] == "as_of"


def test_history_while_a_run_holds_the_warehouse_is_a_conflict(scored, monkeypatch):
    from cuore.analytics import warehouse

    def busy(**kwargs):
        raise warehouse.WarehouseBusy("the analytics warehouse is busy with a run; try again shortly")

    monkeypatch.setattr(warehouse, "warehouse_connect", busy)
    response = scored["clients"]["admin"].get(f"/analytics/contacts/{scored['buyers'][0].pk}/history")

    assert response.status_code == 409
    assert response.json_body["detail"] == "the analytics warehouse is busy with a run; try again shortly"


# ---- the scores on the contact and account API ------------------------------------------------------


def _compact(score) -> dict:
    return {
        "run_id": score.run_id,
        "rfm_segment": score.rfm_segment,
        "r_score": score.r_score,
        "f_score": score.f_score,
        "m_score": score.m_score,
        "abc_class": score.abc_class,
        "value_tier": score.value_tier,
        "clv": None if score.clv is None else str(score.clv),
        "p_alive": score.p_alive,
        "churn_risk": score.churn_risk,
        "expected_purchases": score.expected_purchases,
    }


def test_contacts_and_accounts_carry_their_scores(scored):
    client = scored["clients"]["sales"]
    buyer, never, acme = scored["buyers"][3], scored["never"], scored["acme"]

    detail = client.get(f"/contacts/{buyer.pk}").json_body
    rows = {row["id"]: row for row in _all_pages(client, "/contacts")}
    account = client.get(f"/accounts/{acme.pk}").json_body
    accounts = {row["id"]: row for row in _all_pages(client, "/accounts")}

    assert detail["scores"] == _compact(ContactScore.objects.get(contact=buyer))
    assert rows[buyer.pk]["scores"] == detail["scores"]
    assert client.get(f"/contacts/{never.pk}").json_body["scores"] is None
    assert rows[never.pk]["scores"] is None
    assert set(rows) == {b.pk for b in scored["buyers"][: BUYERS // 2]} | {never.pk}
    assert account["scores"] == _compact(AccountScore.objects.get(account=acme))
    assert accounts[acme.pk]["scores"] == account["scores"]
    assert set(accounts) == {acme.pk}


def test_contacts_have_no_scores_before_any_run(shop):
    client = shop["clients"]["admin"]

    assert client.get(f"/contacts/{shop['buyers'][0].pk}").json_body["scores"] is None
    assert {row["scores"] is None for row in _all_pages(client, "/contacts")} == {True}
    assert client.get(f"/accounts/{shop['acme'].pk}").json_body["scores"] is None


def test_the_contact_api_reads_the_scores_without_more_queries(scored):
    client = scored["clients"]["admin"]
    client.get("/me")
    with CaptureQueriesContext(connection) as detail:
        assert client.get(f"/contacts/{scored['buyers'][0].pk}").json_body["scores"] is not None
    with CaptureQueriesContext(connection) as listed:
        assert client.get("/contacts", {"limit": 25}).status_code == 200
    with CaptureQueriesContext(connection) as accounts:
        assert client.get("/accounts").status_code == 200

    assert (len(detail), len(listed), len(accounts)) == (6, 4, 3)
    assert "analytics_contactscore" in listed.captured_queries[1]["sql"]  # the page's own query, joined


def test_reasons_and_offers_that_cannot_be_worded_are_left_out_not_a_500(make_user, api_for):
    admin = make_user(role="admin")
    contact = make_contact(first_name="Odd")
    run = AnalyticsRun.objects.create(
        started_at=dt.datetime(2025, 6, 30, tzinfo=dt.UTC), as_of=AS_OF, status="succeeded"
    )
    product = make_product(name="Lamp")
    ContactScore.objects.create(
        contact=contact,
        run=run,
        recency_days=1,
        frequency=1,
        monetary_total=Decimal("10.00"),
        monetary_avg=Decimal("10.00"),
        margin=Decimal("4.00"),
        tenure_days=1,
        r_score=5,
        f_score=1,
        m_score=1,
        rfm_segment="new",
        abc_class="C",
        churn_reasons=[{"feature": "orders_90", "value": "many"}, "junk", {"feature": "orders_90", "value": 2}],
        next_best_offers=[{"kind": "product", "id": product.pk, "because_kind": "product", "because_id": 10**9}],
    )

    response = api_for(admin).get(f"/analytics/contacts/{contact.pk}")

    assert response.status_code == 200
    scores = response.json_body["scores"]
    assert [reason["text"] for reason in scores["churn_reasons"]] == ["2 orders in the last 90 days"]
    [offer] = scores["next_best_offers"]
    assert (offer["name"], offer["because_name"], offer["share"], offer["buyers"]) == ("Lamp", f"#{10**9}", None, None)
