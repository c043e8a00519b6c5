"""In a real browser: the analyst reads the analytics on demo data and follows a customer to its 360 page.

The demo generator loads a few hundred customers, the analytics engine scores them, and the analyst
(paolo, as in ``cuore demo``) opens the overview, checks that its charts are drawn, lists the scores
and opens a customer with its value panel. Screenshots go to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import pytest

from cuore.analytics.services import analytics_run
from cuore.demo.generator import generate_demo_data
from cuore.demo.reference import DEMO_PASSWORD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

CHARTS = ("pareto", "clv", "churn", "segments")


@pytest.fixture
def demo(settings, tmp_path):
    """A small demo shop, scored once (the warehouse in a temporary directory)."""
    settings.DATA_DIR = tmp_path
    # reset: the default alert rules a migration seeds count as CRM data, and the generator loads only into an empty CRM.
    generate_demo_data(customers=300, seed=7, reset=True)
    return analytics_run()


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def charts_drawn(page) -> dict[str, bool]:
    """Which charts of the page have a Chart.js instance on their canvas."""
    return page.evaluate(
        """names => Object.fromEntries(names.map(name => {
            const canvas = document.getElementById("chart-" + name);
            return [name, Boolean(canvas && window.Chart && window.Chart.getChart(canvas))];
        }))""",
        list(CHARTS),
    )


def test_the_analyst_reads_the_charts_and_opens_a_customer_from_the_scores(page, screenshot, demo):
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "paolo")

    # The navigation leads to the overview; every chart is drawn on its canvas.
    page.click("nav a[href='/analytics/']")
    page.wait_for_load_state("networkidle")
    for name in CHARTS:
        assert page.locator(f"canvas[data-testid=chart-{name}]").is_visible()
    page.wait_for_function(
        "names => names.every(n => window.Chart.getChart(document.getElementById('chart-' + n)))", arg=list(CHARTS)
    )
    assert charts_drawn(page) == {name: True for name in CHARTS}
    assert page.locator("[data-testid=rfm-cell]").count() == 25
    assert f"Run {demo.pk}" in page.inner_text("[data-testid=overview-as-of]") or str(demo.pk) in page.inner_text(
        "[data-testid=overview-as-of]"
    )
    screenshot("analytics-overview")

    # A cell of the RFM grid lists its customers.
    cell = page.locator("[data-testid=rfm-cell] a").first
    cell.click()
    page.wait_for_load_state("networkidle")
    assert "r=" in page.url and "f=" in page.url
    assert page.locator("[data-testid=row]").count() >= 1

    # The scores list, sorted by lifetime value; the first customer opens on the 360 page.
    page.goto("/analytics/scores/?sort=-clv")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=scores-table] [data-testid=row]").count() >= 10
    screenshot("analytics-scores")
    first = page.locator("[data-testid=score-contact]").first
    name = first.inner_text()
    first.click()
    page.wait_for_load_state("networkidle")

    assert page.locator("#contact-name").inner_text() == name
    panel = page.locator("[data-testid=value-panel]")
    assert panel.is_visible()
    for part in ("value-badges", "value-segment", "value-rfm", "value-abc", "value-tier", "value-clv", "value-as-of"):
        assert panel.locator(f"[data-testid={part}]").count() == 1, part
    assert panel.locator("[data-testid=value-churn-risk]").inner_text().endswith("%")
    assert page.locator("[data-testid=header-badges] [data-testid=badge-segment]").count() == 1
    panel.scroll_into_view_if_needed()
    screenshot("analytics-contact-value-panel")

    # The runs: the model's figures, and "Run now" queues a run for the background worker.
    page.goto("/analytics/runs/")
    assert page.locator(f"[data-testid=run][data-run-id='{demo.pk}']").is_visible()
    page.click("[data-testid=run-now]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=run-queued]").is_visible()
    screenshot("analytics-runs")
    assert errors == []


def test_a_sales_rep_sees_the_badges_but_not_the_analytics_pages(page, screenshot, demo):
    sign_in(page, "giulia")

    page.goto("/contacts/")
    page.wait_for_load_state("networkidle")

    assert page.locator("nav a[href='/analytics/']").count() == 0
    assert page.locator("[data-testid=row] [data-testid=badge-segment]").count() >= 1
    screenshot("analytics-contact-list-badges")
    assert page.goto("/analytics/").status == 404
