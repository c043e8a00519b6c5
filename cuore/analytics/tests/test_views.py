"""The analytics pages and the scores where people work: the 360 value panel, the list badges, the navigation."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import itertools
import json
import random
from decimal import Decimal

import duckdb
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cuore.analytics import selectors
from cuore.analytics.models import AnalyticsRun, ContactScore, RunStatus
from cuore.analytics.services import analytics_run
from cuore.contacts.models import ContactAccount
from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import Job, JobStatus
from cuore.orders.models import Order, OrderLine, OrderStatus
from cuore.orders.tests.factories import make_category, make_product

AS_OF = dt.date(2025, 6, 30)
CUSTOMERS = 30
ROLES = ["admin", "manager", "sales", "support", "marketing", "analyst"]
READ_ALL = {"admin", "manager", "support", "marketing", "analyst"}  # the MATRIX: analytics read scope ALL
WRITERS = {"admin", "manager", "analyst"}
_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def _warehouse_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def people(make_user, team, other_team):
    users = {role: make_user(role=role, team=team if role == "sales" else None) for role in ROLES}
    users["sales_other"] = make_user(role="sales", team=other_team)
    return users


def _order(contact, day: dt.date, lines, *, account=None) -> Order:
    placed_at = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    order = Order.objects.create(
        number=f"V-{next(_numbers):06d}",
        contact=contact,
        account=account,
        placed_at=placed_at,
        status=OrderStatus.DELIVERED,
    )
    for product, quantity, price, cost in lines:
        price, cost = Decimal(price), Decimal(cost)
        OrderLine.objects.create(
            order=order,
            product=product,
            quantity=quantity,
            unit_price=price,
            unit_cost=cost,
            discount=Decimal("0"),
            line_total=quantity * price,
        )
    return order


@pytest.fixture
def shop(db, people):
    """Thirty buyers with irregular histories (a seeded draw), enough to fit the lifetime-value models.

    Everyone buys shoes; two in three also bags (so "Walking shoe → Leather bag" is a rule and the
    others are offered the bag); one in four a belt. The first ten belong to the sales rep's team,
    the next ten to the other team; one contact never bought; an account groups the first two buyers.
    """
    draw = random.Random(7)
    shoes, bags, extras = make_category(name="Shoes"), make_category(name="Bags"), make_category(name="Extras")
    shoe = make_product(name="Walking shoe", category=shoes)
    bag = make_product(name="Leather bag", category=bags)
    belt = make_product(name="Belt", category=extras)
    buyers = []
    for i in range(CUSTOMERS):
        owner = people["sales"] if i < 10 else people["sales_other"] if i < 20 else None
        contact = make_contact(first_name=f"Buyer{i:02d}", last_name="Shop", owner=owner)
        day = AS_OF - dt.timedelta(days=draw.randint(60, 700))
        level = draw.choice([30, 60, 120, 250, 500, 1000])  # what this customer spends on a visit
        for _k in range(draw.choice([1, 1, 2, 3, 4, 6])):
            if day > AS_OF:
                break
            lines = [(shoe, 1, f"{level * draw.uniform(0.8, 1.2):.2f}", "20.00")]
            if i % 3:
                lines.append((bag, 1, f"{level * draw.uniform(0.8, 1.2):.2f}", "10.00"))
            if i % 4 == 0:
                lines.append((belt, 2, "25.00", "10.00"))
            _order(contact, day, lines)
            day += dt.timedelta(days=draw.randint(10, 150))
        buyers.append(contact)
    never = make_contact(first_name="Never", last_name="Bought", owner=people["sales"])
    account = make_account(name="Shop Group", owner=people["sales"])
    for contact in buyers[:2]:
        ContactAccount.objects.create(contact=contact, account=account)
    return {"buyers": buyers, "never": never, "account": account, "bag": bag, "shoe": shoe}


@pytest.fixture
def scored(shop):
    """The shop scored twice: a month before AS_OF and at AS_OF (the history has two runs)."""
    earlier = analytics_run(as_of=AS_OF - dt.timedelta(days=30))
    latest = analytics_run(as_of=AS_OF)
    return {**shop, "earlier": earlier, "run": latest}


def login(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    return response.content.decode()


def between(page: str, start: str, end: str = "</section>") -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


# ---- who may open what ----------------------------------------------------------------------------

PAGES = ["analytics:overview", "analytics:scores", "analytics:runs"]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_opens_the_pages_its_analytics_scope_allows(client, people, role):
    login(client, people[role])

    statuses = {name: client.get(reverse(name)).status_code for name in PAGES}

    # The overview aggregates every customer: only for those who read all scores (sales read the team's).
    assert statuses == {
        "analytics:overview": 200 if role in READ_ALL else 404,
        "analytics:scores": 200,
        "analytics:runs": 200,
    }


@pytest.mark.parametrize("name", [*PAGES, "analytics:run_start"])
def test_anonymous_visitors_are_sent_to_sign_in(client, name):
    response = client.post(reverse(name)) if name == "analytics:run_start" else client.get(reverse(name))

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ROLES)
def test_the_navigation_shows_analytics_to_those_who_read_all_scores(client, people, role):
    page = text(login(client, people[role]).get(reverse("home")))

    assert (f'href="{reverse("analytics:overview")}"' in page) is (role in READ_ALL)


# ---- the overview ------------------------------------------------------------------------------------


def test_without_a_run_the_overview_says_how_to_run_one(client, people):
    analyst_page = text(login(client, people["analyst"]).get(reverse("analytics:overview")))
    support_page = text(login(client, people["support"]).get(reverse("analytics:overview")))

    assert 'data-testid="analytics-empty"' in analyst_page and "cuore analytics run" in analyst_page
    assert 'data-testid="run-now"' in analyst_page
    assert 'data-testid="analytics-empty"' in support_page and 'data-testid="run-now"' not in support_page
    assert "<canvas" not in analyst_page


def test_the_overview_draws_the_reports_of_the_latest_run(client, people, scored):
    response = login(client, people["manager"]).get(reverse("analytics:overview"))
    page = text(response)
    charts = response.context["charts"]
    reports = scored["run"].reports

    for name in ("pareto", "clv", "churn", "segments"):
        assert f'data-testid="chart-{name}"' in page
    assert 'id="analytics-charts"' in page and "chart.umd.min.js" in page
    # The grid: 25 cells, each with the customers of its R and F, linking to the scores list filtered.
    assert page.count('data-testid="rfm-cell"') == 25
    r, f = reports["rfm_grid"][0]["r"], reports["rfm_grid"][0]["f"]
    customers = reports["rfm_grid"][0]["customers"]
    assert f'data-r="{r}" data-f="{f}" data-customers="{customers}"' in page
    assert f'href="{reverse("analytics:scores")}?r={r}&amp;f={f}"' in page
    # The charts' data.
    assert [point for point in charts["pareto"]["datasets"][0]["data"]][-1] == pytest.approx(100)
    assert charts["pareto"]["datasets"][1]["data"][0] == 80
    assert sum(charts["clv"]["datasets"][0]["data"]) == CUSTOMERS - reports["clv_distribution"]["without_value"]
    assert len(charts["segments"]["labels"]) == 2  # the two runs of the history
    assert sum(sum(d["data"]) for d in charts["segments"]["datasets"]) == sum(
        row["customers"] for row in reports["segments_over_time"]
    )
    assert charts["churn"]["labels"] and len(charts["churn"]["datasets"]) == 2
    # The tables: tiers, ABC and segments, with their totals.
    assert 'data-testid="table-tiers"' in page and 'data-testid="table-abc"' in page
    assert response.context["tiers"]["totals"]["customers"] == CUSTOMERS
    assert response.context["headline"]["customers"] == CUSTOMERS
    assert f"Run {scored['run'].pk}, as of" in page


def test_a_past_run_is_chosen_with_the_run_selector(client, people, scored):
    login(client, people["analyst"])
    earlier = scored["earlier"]

    page = text(client.get(reverse("analytics:overview"), {"run": earlier.pk}))

    assert f"Run {earlier.pk}, as of" in page and "see the latest run" in page
    assert f'<option value="{earlier.pk}" selected>' in page
    # The grid of a past run does not link to the current scores.
    assert f'href="{reverse("analytics:scores")}?r=' not in page
    assert client.get(reverse("analytics:overview"), {"run": 999999}).status_code == 404
    assert client.get(reverse("analytics:overview"), {"run": "nope"}).status_code == 404
    assert client.get(reverse("analytics:overview"), {"run": "9" * 30}).status_code == 404


def test_a_failed_run_has_no_reports_to_draw(client, people, scored):
    failed = AnalyticsRun.objects.create(
        started_at=scored["run"].started_at, as_of=AS_OF, status=RunStatus.FAILED, error="IOException: locked"
    )

    page = text(login(client, people["admin"]).get(reverse("analytics:overview"), {"run": failed.pk}))

    assert 'data-testid="analytics-no-reports"' in page and "This run failed" in page


def test_the_overview_reads_in_italian(client, people, scored):
    people["analyst"].language = "it"
    people["analyst"].save(update_fields=["language"])

    page = text(login(client, people["analyst"]).get(reverse("analytics:overview")))

    assert "Griglia RFM" in page and "Curva di Pareto" in page


# ---- the value panel on the customer 360 ---------------------------------------------------------------


def test_the_contact_360_shows_the_value_panel_with_scores_reasons_offers_and_history(client, people, scored):
    buyer = scored["buyers"][3]  # no bag yet: offered one
    score = ContactScore.objects.get(contact=buyer)
    login(client, people["analyst"])

    page = text(client.get(reverse("customer:contact", args=[buyer.pk])))
    panel = between(page, 'data-testid="value-panel"')

    assert score.get_rfm_segment_display() in panel
    assert f"R {score.r_score} · F {score.f_score} · M {score.m_score}" in panel
    assert f'data-testid="value-abc">{score.abc_class}<' in panel
    assert score.get_value_tier_display() in panel
    assert score.clv is not None and f"€{score.clv:,.2f}" in panel
    assert "Lifetime value (12 months)" in panel and "Expected purchases (12 months)" in panel
    assert f"{round(score.p_alive * 100)}%" in between(panel, 'data-testid="value-p-alive"', "</dd>")
    assert f"{round(score.churn_risk * 100)}%" in between(panel, 'data-testid="value-churn-risk"', "</span>")
    assert "likely to be still active" in between(panel, 'data-testid="value-churn-reasons"', "</ul>")
    offers = between(panel, 'data-testid="value-offers"', "</ol>")
    assert "Leather bag" in offers and "of Walking shoe buyers also bought Leather bag" in offers
    assert 'data-testid="value-category">Shoes<' in panel
    assert "as of 30/06/2025" in panel
    assert panel.count('data-testid="value-history-row"') == 2 and 'data-testid="value-sparkline"' in panel
    # The same segment, class and tier as badges in the header.
    header = between(page, "<h1", "</div>")
    assert f'data-testid="badge-segment" data-value="{score.rfm_segment}"' in header
    assert f'data-testid="badge-abc" data-value="{score.abc_class}"' in header


def test_a_contact_who_never_bought_gets_a_short_note(client, people, scored):
    page = text(login(client, people["sales"]).get(reverse("customer:contact", args=[scored["never"].pk])))

    assert 'data-testid="value-no-purchases"' in page and "No purchases yet" in page
    assert 'data-testid="header-badges"' not in page


def test_without_any_run_the_360_has_no_value_panel(client, people, shop):
    page = text(login(client, people["admin"]).get(reverse("customer:contact", args=[shop["buyers"][0].pk])))

    assert 'data-testid="value-panel"' not in page


def test_a_locked_warehouse_leaves_the_panel_without_history_never_an_error(client, people, scored, monkeypatch):
    def locked(**kwargs):
        raise duckdb.IOException('IO Error: Could not set lock on file "warehouse.duckdb": Conflicting lock')

    monkeypatch.setattr(selectors, "contact_score_history", locked)

    response = login(client, people["manager"]).get(reverse("customer:contact", args=[scored["buyers"][1].pk]))
    panel = between(text(response), 'data-testid="value-panel"')

    assert response.status_code == 200
    assert 'data-testid="value-segment"' in panel and 'data-testid="value-history"' not in panel
    assert 'data-testid="value-history-unavailable"' in panel


def test_the_panel_follows_the_visibility_of_the_contact(client, people, scored):
    mine, theirs = scored["buyers"][0], scored["buyers"][15]
    login(client, people["sales"])

    assert 'data-testid="value-panel"' in text(client.get(reverse("customer:contact", args=[mine.pk])))
    assert client.get(reverse("customer:contact", args=[theirs.pk])).status_code == 404


def test_the_account_360_shows_the_accounts_scores(client, people, scored):
    account = scored["account"]
    score = account.score

    page = text(login(client, people["sales"]).get(reverse("customer:account", args=[account.pk])))
    panel = between(page, 'data-testid="value-panel"')

    assert 'data-kind="account"' in page and score.get_rfm_segment_display() in panel
    assert f"R {score.r_score} · F {score.f_score} · M {score.m_score}" in panel
    assert 'data-testid="value-churn"' not in panel  # churn risk is scored for contacts only
    assert 'data-testid="header-badges"' in page


def test_the_panel_speaks_italian(client, people, scored):
    people["manager"].language = "it"
    people["manager"].save(update_fields=["language"])

    page = text(login(client, people["manager"]).get(reverse("customer:contact", args=[scored["buyers"][3].pk])))
    panel = between(page, 'data-testid="value-panel"')

    assert "Valore del cliente (12 mesi)" in panel and "Rischio di abbandono" in panel
    assert "ha comprato anche" in panel  # the offer's reason, worded by cuore.analytics.nbo


# ---- badges on the contact and account lists ----------------------------------------------------------


def test_the_lists_show_the_scores_as_badges_without_a_query_per_row(client, people, scored):
    login(client, people["manager"])
    client.get(reverse("contacts:list"))

    with CaptureQueriesContext(connection) as few:
        few_page = text(client.get(reverse("contacts:list"), {"q": "Buyer00"}))
    with CaptureQueriesContext(connection) as many:
        many_page = text(client.get(reverse("contacts:list")))
    accounts = text(client.get(reverse("contacts:accounts")))

    assert few_page.count('data-testid="badge-segment"') == 1
    assert many_page.count('data-testid="badge-segment"') == CUSTOMERS
    assert len(many) == len(few)
    assert 'data-testid="badge-tier"' in accounts and "Shop Group" in accounts


def test_the_badges_column_can_be_left_out_and_is_exported_by_its_labels(client, people, scored):
    login(client, people["admin"])
    score = ContactScore.objects.get(contact=scored["buyers"][0])

    narrow = text(client.get(reverse("contacts:list"), {"cols": "full_name,email"}))
    exported = b"".join(
        client.get(reverse("contacts:list"), {"export": "csv", "cols": "full_name,value_badges", "q": "Buyer00"})
    ).decode("utf-8-sig")

    assert 'data-testid="badge-segment"' not in narrow
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[0] == ["Name", "Value"]
    assert rows[1] == [
        "Buyer00 Shop",
        f"{score.get_rfm_segment_display()} · {score.abc_class} · {score.get_value_tier_display()}",
    ]


# ---- the scores list -----------------------------------------------------------------------------------


def test_the_scores_list_filters_sorts_and_links_to_the_customer(client, people, scored):
    login(client, people["analyst"])
    scores = ContactScore.objects.all()
    top = scores.order_by("-monetary_total", "-contact_id").first()
    segment = top.rfm_segment

    everything = text(client.get(reverse("analytics:scores")))
    by_segment = text(client.get(reverse("analytics:scores"), {"segment": segment}))
    by_class = text(client.get(reverse("analytics:scores"), {"abc_class": "A"}))
    risky = text(client.get(reverse("analytics:scores"), {"min_churn_risk": "50"}))
    cell = text(client.get(reverse("analytics:scores"), {"r": top.r_score, "f": top.f_score}))
    by_clv = client.get(reverse("analytics:scores"), {"sort": "-clv"})

    assert everything.count('data-testid="row"') == CUSTOMERS
    assert everything.index(f'href="{reverse("customer:contact", args=[top.contact_id])}"') < everything.index(
        'data-testid="row"', everything.index('data-testid="row"') + 1
    )
    assert by_segment.count('data-testid="row"') == scores.filter(rfm_segment=segment).count()
    assert by_class.count('data-testid="row"') == scores.filter(abc_class="A").count()
    assert risky.count('data-testid="row"') == scores.filter(churn_risk__gte=0.5).count()
    assert cell.count('data-testid="row"') == scores.filter(r_score=top.r_score, f_score=top.f_score).count()
    first_clv = by_clv.context["page"].rows[0]
    assert first_clv.clv == max(score.clv for score in scores)


def test_a_bad_filter_is_shown_beside_its_field(client, people, scored):
    page = text(login(client, people["analyst"]).get(reverse("analytics:scores"), {"min_churn_risk": "150"}))

    assert 'data-testid="error-min_churn_risk"' in page
    assert page.count('data-testid="row"') == CUSTOMERS  # the other filters (none) still apply


def test_a_sales_rep_lists_the_scores_of_the_team_only(client, people, scored):
    page = text(login(client, people["sales"]).get(reverse("analytics:scores")))

    assert page.count('data-testid="row"') == 10
    assert "Buyer00" in page and "Buyer15" not in page


def test_the_scores_list_exports_csv_and_loads_more_rows(client, people, scored, monkeypatch):
    from cuore.analytics import views

    monkeypatch.setattr(views, "SCORES", dataclasses.replace(views.SCORES, page_size=20))
    login(client, people["marketing"])

    first = client.get(reverse("analytics:scores"))
    more = client.get(
        reverse("analytics:scores") + first.context["page"].next_url + "&fragment=rows", HTTP_HX_REQUEST="true"
    )
    exported = b"".join(client.get(reverse("analytics:scores"), {"export": "csv"}).streaming_content)
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))

    assert text(first).count('data-testid="row"') == 20
    assert text(more).count('data-testid="row"') == 10 and "<html" not in text(more)
    assert rows[0][:3] == ["Contact", "Segment", "R F M"] and len(rows) == CUSTOMERS + 1


def test_the_scores_list_costs_the_same_queries_for_few_or_many_rows(client, people, scored):
    login(client, people["manager"])
    client.get(reverse("analytics:scores"))

    with CaptureQueriesContext(connection) as few:
        few_page = text(client.get(reverse("analytics:scores"), {"r": 5, "f": 5}))
    with CaptureQueriesContext(connection) as many:
        many_page = text(client.get(reverse("analytics:scores")))

    assert few_page.count('data-testid="row"') < many_page.count('data-testid="row"') == CUSTOMERS
    assert len(many) == len(few)


# ---- the runs --------------------------------------------------------------------------------------------


def test_the_runs_page_shows_each_runs_stages_models_and_errors(client, people, scored):
    run = scored["run"]
    run.figures["churn"] = {
        "horizon_days": 90,
        "auc": 0.8123,
        "brier": 0.1567,
        "base_rate": 0.4,
        "train_rows": 900,
        "test_rows": 1000,
        "calibration": [[0.1, 0.12, 100], [0.9, 0.85, 100]],
    }
    run.save(update_fields=["figures"])
    failed = AnalyticsRun.objects.create(
        started_at=run.started_at + dt.timedelta(hours=1),
        as_of=AS_OF,
        status=RunStatus.FAILED,
        error="IOException: Could not set lock on file",
        figures={"stages": [{"stage": "extract", "seconds": 1.5, "peak_rss_mb": 250.0}], "seconds": 1.6},
    )

    page = text(login(client, people["sales"]).get(reverse("analytics:runs")))

    assert page.count('data-testid="run"') == 3
    failed_card = between(page, f'data-run-id="{failed.pk}"')
    assert "Could not set lock on file" in failed_card and 'data-status="failed"' in page
    card = between(page, f'data-run-id="{run.pk}"')
    assert 'data-testid="run-auc">0.812<' in card and 'data-testid="run-brier">0.157<' in card
    assert card.count("<tr>") >= 2 and 'data-testid="run-calibration"' in card
    assert "Extract" in card and "Lifetime value" in card and "peak memory" in card
    bgnbd = run.figures["lifetime_value"]["contact"]["bgnbd"]
    assert f"alpha = {bgnbd['alpha']:.3f}".rstrip("0").rstrip(".") in card
    assert 'data-testid="run-now"' not in page  # sales may not start runs


@pytest.mark.parametrize("role", ROLES)
def test_run_now_queues_a_background_job_for_those_who_may_start_runs(client, people, role):
    login(client, people[role])

    response = client.post(reverse("analytics:run_start"))

    if role in WRITERS:
        assert response.status_code == 302 and response["Location"] == reverse("analytics:runs")
        job = Job.objects.get()
        assert job.name.startswith("analytics.") and job.status == JobStatus.QUEUED
        page = text(client.get(reverse("analytics:runs")))
        assert 'data-testid="run-queued"' in page and "The run is queued" in page
        assert 'data-testid="run-now"' not in page and 'data-testid="run-pending"' in page
    else:
        assert response.status_code == 403
        assert not Job.objects.exists()


def test_run_now_queues_one_run_at_a_time(client, people):
    login(client, people["analyst"])

    client.post(reverse("analytics:run_start"))
    again = client.post(reverse("analytics:run_start"), follow=True)

    assert Job.objects.count() == 1
    assert "A run is already queued" in text(again)
    assert 'data-testid="run-no-worker"' not in text(again)
    assert client.get(reverse("analytics:run_start")).status_code == 405


def test_a_run_queued_for_long_asks_whether_a_worker_runs(client, people):
    login(client, people["manager"]).post(reverse("analytics:run_start"))
    Job.objects.update(run_after=timezone.now() - dt.timedelta(minutes=30))

    page = text(client.get(reverse("analytics:runs")))

    assert 'data-testid="run-no-worker"' in page and "cuore worker" in page


def test_the_charts_data_is_json_for_the_page_script(client, people, scored):
    page = text(login(client, people["admin"]).get(reverse("analytics:overview")))
    data = json.loads(between(page, '<script id="analytics-charts" type="application/json">', "</script>"))

    assert set(data) == {"pareto", "clv", "segments", "churn"}
    assert len(data["pareto"]["labels"]) == 101 and len(data["clv"]["ranges"]) == len(data["clv"]["labels"])
