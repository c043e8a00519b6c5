"""In a real browser, end to end: a day of a sales rep, of a support agent and of a manager.

Each scenario clicks and types as a person would and asserts what the person sees on the page, then
what the database holds. Screenshots of the main pages go to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.interactions import services as interaction_services
from cuore.interactions.models import Interaction
from cuore.sales import services as sales_services
from cuore.sales.models import Activity, Deal, DealStatus
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of
from cuore.service import services as service_services
from cuore.service.models import Ticket, TicketStatus
from cuore.service.services import TargetMinutes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def standard_queue():
    """A queue under a default SLA policy: first response within an hour, resolution within ten."""
    targets = [TargetMinutes(priority, 60, 600) for priority in ("low", "normal", "high", "urgent")]
    policy = service_services.sla_policy_create(actor=None, name="Standard", targets=targets, is_default=True)
    return service_services.queue_create(actor=None, name="Front desk", sla_policy=policy)


def drag_card(page, card_selector: str, column_selector: str) -> None:
    """Drag a Kanban card onto another column with real pointer moves, as SortableJS expects them."""
    card = page.locator(card_selector).locator("[data-testid=drag-handle]")
    target = page.locator(column_selector).locator(".kanban-cards")
    card.scroll_into_view_if_needed()
    start, end = card.bounding_box(), target.bounding_box()
    assert start is not None and end is not None
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 10, steps=5)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + min(end["height"] / 2, 60), steps=20)
    page.mouse.up()


# ---- the sales rep ----------------------------------------------------------------------------------


def test_a_sales_rep_finds_a_customer_logs_a_call_moves_a_deal_and_reads_in_italian(
    page, login, screenshot, make_user, team
):
    # Given a rep with a customer, her company, two open deals and a task that is overdue
    rep = make_user(role="sales", team=team, username="giulia")
    anna = make_contact(first_name="Anna", last_name="Rossi", email="anna.rossi@example.com", owner=rep)
    make_contact(first_name="Anna", last_name="Bianchi", email="anna.bianchi@example.com", owner=rep)
    make_account(name="Bottega Rossi", owner=rep, industry="Ceramics")
    interaction_services.interaction_log(
        actor=rep,
        channel="note",
        direction="out",
        contact=anna,
        subject="Met at the trade fair",
        occurred_at=timezone.now() - dt.timedelta(days=3),
    )
    pipeline = make_pipeline(is_default=True, name="Wholesale")
    lead, proposal, negotiation = (stage_of(pipeline, name) for name in ("Lead", "Proposal", "Negotiation"))
    mugs = make_deal(stage=lead, name="Mugs for Bottega", owner=rep, contact=anna, amount="2400.00")
    plates = make_deal(stage=lead, name="Plates for Bottega", owner=rep, contact=anna, amount="900.00")
    task = make_activity(
        subject="Send the mug catalogue",
        assignee=rep,
        contact=anna,
        deal=mugs,
        due_at=timezone.now() - dt.timedelta(days=2),
    )

    login(rep)

    # When she types the start of the customer's e-mail address into the search box
    page.click("#global-search")
    with page.expect_response(lambda response: "q=anna.rossi%40exa" in response.url):
        page.keyboard.type("anna.rossi@exa", delay=30)
    # Then the one person with that address is offered, with her address
    hit = page.locator("#search-results.show [data-testid=search-hit][data-group=people]")
    page.wait_for_function(
        """() => {
            const hits = document.querySelectorAll("#search-results.show [data-testid=search-hit][data-group=people]");
            return hits.length === 1 && hits[0].textContent.includes("anna.rossi@example.com");
        }"""
    )
    assert "Anna Rossi" in hit.inner_text()
    assert "anna.rossi@example.com" in hit.inner_text()
    screenshot("search-results")

    # When she clicks the person, the customer 360 opens
    hit.click()
    page.wait_for_url(f"**/contacts/{anna.pk}/")
    assert page.inner_text("#contact-name") == "Anna Rossi"
    entries = page.locator("[data-testid=timeline] [data-testid=timeline-entry]")
    assert "Met at the trade fair" in entries.first.inner_text()

    # When she logs a call with the log form
    form = page.locator("[data-testid=log-form]")
    form.locator("[data-testid=log-channel] label", has_text="Phone").click()
    form.locator("#log_subject").fill("Called about the mug order")
    form.locator("#log_body").fill("She wants 40 more mugs by Friday.")
    form.locator("[data-testid=log-submit]").click()
    # Then the call is at the top of the timeline, above the older note
    first = page.locator("[data-testid=timeline] [data-testid=timeline-entry]").first
    first.locator("text=Called about the mug order").wait_for()
    assert first.get_attribute("data-channel") == "phone"
    assert "She wants 40 more mugs by Friday." in first.inner_text()
    assert "Met at the trade fair" in entries.nth(1).inner_text()
    assert page.input_value("#log_subject") == ""  # the form is ready for the next one
    call = Interaction.objects.get(subject="Called about the mug order")
    assert (call.channel, call.direction, call.contact_id) == ("phone", "out", anna.pk)
    screenshot("contact-360")

    # When she opens her tasks and ticks the overdue one off
    page.goto("/tasks/")
    row = page.locator(f"[data-testid=tasks-overdue] [data-testid=task-{task.pk}]")
    assert "Send the mug catalogue" in row.inner_text()
    assert "Anna Rossi" in row.inner_text()
    page.click(f"[data-testid=task-done-{task.pk}]")
    page.locator(f"[data-testid=task-{task.pk}][data-done=true]").wait_for()
    assert Activity.objects.get(pk=task.pk).done is True
    screenshot("tasks")

    # When she looks at the companies she looks after
    page.goto("/accounts/")
    rows = page.locator("[data-testid=list-accounts] [data-testid=row]")
    rows.first.wait_for()
    assert rows.count() == 1
    assert "Bottega Rossi" in rows.first.inner_text()
    screenshot("accounts-list")

    # When she drags the mugs deal from Lead to Proposal on the board
    page.goto("/deals/board/")
    board = page.locator("[data-testid=kanban-board]")
    board.wait_for()
    mugs_card = f"[data-testid=deal-card-{mugs.pk}]"
    page.locator(f"[data-testid=stage-{lead.pk}] {mugs_card}").wait_for()
    with page.expect_response(lambda response: response.url.endswith(f"/deals/{mugs.pk}/move/")) as moved:
        drag_card(page, mugs_card, f"[data-testid=stage-{proposal.pk}]")
    assert moved.value.status == 200
    # Then the card sits in the Proposal column, whose totals now count it, and the database agrees
    page.locator(f"[data-testid=stage-{proposal.pk}] {mugs_card}").wait_for()
    page.wait_for_function("document.getElementById('kanban-board').getAttribute('aria-busy') === 'false'")
    assert page.inner_text(f"[data-testid=stage-count-{proposal.pk}]") == "1 deal"
    assert page.inner_text(f"[data-testid=stage-count-{lead.pk}]") == "1 deal"
    assert Deal.objects.get(pk=mugs.pk).stage == proposal
    # And after a reload it is still there
    page.reload()
    page.locator(f"[data-testid=stage-{proposal.pk}] {mugs_card}").wait_for()
    assert page.locator(f"[data-testid=stage-{lead.pk}] {mugs_card}").count() == 0
    screenshot("kanban")

    # When the plates deal is won elsewhere (another tab) and she drags its stale card to Negotiation
    sales_services.deal_win(actor=rep, deal=plates)
    plates_card = f"[data-testid=deal-card-{plates.pk}]"
    with page.expect_response(lambda response: response.url.endswith(f"/deals/{plates.pk}/move/")) as refused:
        drag_card(page, plates_card, f"[data-testid=stage-{negotiation.pk}]")
    assert refused.value.status == 409
    # Then the board says why, and the card snaps back to Lead
    error = page.locator("[data-testid=board-error]")
    error.wait_for()
    assert "Only an open deal can be moved: reopen it first." in error.inner_text()
    page.locator(f"[data-testid=stage-{lead.pk}] {plates_card}").wait_for()
    assert page.locator(f"[data-testid=stage-{negotiation.pk}] {plates_card}").count() == 0
    assert (Deal.objects.get(pk=plates.pk).stage, Deal.objects.get(pk=plates.pk).status) == (lead, DealStatus.WON)

    # When she opens the deal she moved
    page.click(f"{mugs_card} a")
    page.wait_for_url(f"**/deals/{mugs.pk}/")
    # Then its page shows the new stage and the move in its history
    assert page.inner_text("[data-testid=deal-stage]") == "Proposal"
    assert "Proposal" in page.inner_text("[data-testid=deal-history]")
    screenshot("deal")

    # When she switches to Italian in the user menu
    page.click("#user-menu")
    page.select_option("#language-select", "it")
    page.click("#user-menu + .dropdown-menu button:has-text('Switch')")
    page.wait_for_load_state("networkidle")
    # Then the same page speaks Italian
    page.wait_for_function("document.documentElement.lang === 'it'")
    assert page.inner_text("label[for=deal-move-stage]") == "Sposta nella fase"
    assert page.inner_text("[data-testid=nav-board]").strip() == "Bacheca"
    page.goto("/deals/board/")
    assert page.get_attribute("html", "lang") == "it"
    assert page.inner_text("h1").startswith("Trattative")


def test_a_read_only_analyst_cannot_drag_a_deal_on_the_board(page, login, make_user, team):
    # Given an analyst, who may look at the deals but not change them
    analyst = make_user(role="analyst", username="paolo")
    rep = make_user(role="sales", team=team)
    pipeline = make_pipeline(is_default=True)
    lead, proposal = stage_of(pipeline, "Lead"), stage_of(pipeline, "Proposal")
    deal = make_deal(stage=lead, name="Cups for Bar Sport", owner=rep)

    login(analyst)
    page.goto("/deals/board/")

    # Then the board says so and offers nothing to grab
    assert "You can look at the deals but not move them." in page.inner_text("[data-testid=board-read-only]")
    card = page.locator(f"[data-testid=stage-{lead.pk}] [data-testid=deal-card-{deal.pk}]")
    assert card.locator("[data-testid=drag-handle]").count() == 0
    assert page.evaluate("typeof Sortable") == "undefined"

    # When he tries to drag the card anyway, it stays where it was
    card.drag_to(page.locator(f"[data-testid=stage-{proposal.pk}] .kanban-cards"))
    assert card.count() == 1
    assert Deal.objects.get(pk=deal.pk).stage == lead


# ---- the support agent ------------------------------------------------------------------------------


def test_a_support_agent_answers_a_ticket_and_solves_it(page, login, screenshot, make_user):
    # Given an agent, a customer's new ticket under an SLA and a published article
    agent = make_user(role="support", username="sara")
    customer = make_contact(first_name="Luca", last_name="Verdi", email="luca.verdi@example.com")
    queue = standard_queue()
    ticket = service_services.ticket_create(
        actor=None,
        subject="Broken mug",
        description="The mug arrived in pieces.",
        contact=customer,
        queue=queue,
    )
    service_services.article_create(
        actor=None, title="Returns", body="How to return a damaged order within 30 days.", published=True
    )
    service_services.article_create(
        actor=None, title="Shipping times", body="Parcels leave the warehouse within two days.", published=True
    )

    login(agent)

    # When she opens the queue, the ticket is waiting, with its first-response clock running
    page.goto("/tickets/")
    row = page.locator(f"[data-testid=ticket-row-{ticket.pk}]")
    assert "Broken mug" in row.inner_text()
    assert "Luca Verdi" in row.inner_text()
    assert "left" in row.locator("[data-testid=sla-first-response]").inner_text()

    # When she opens it and sends a reply from the reply form
    row.locator("a", has_text="Broken mug").click()
    page.wait_for_url(f"**/tickets/{ticket.pk}/")
    assert page.inner_text("[data-testid=ticket-status-badge]") == "New"
    reply = page.locator("[data-testid=reply-form]")
    reply.locator("[data-testid=reply-body]").fill("Sorry about that: a new mug is on its way today.")
    reply.locator("[data-testid=reply-send]").click()

    # Then the reply is in the conversation and the first-response clock has stopped in time
    conversation = page.locator("[data-testid=conversation]")
    conversation.locator("[data-testid=conversation-notice]").wait_for()
    message = conversation.locator("article[data-direction=out]")
    assert message.count() == 1
    assert "a new mug is on its way today" in message.inner_text()
    assert "to the customer" in message.inner_text()
    page.locator("[data-testid=sla-first-response]", has_text="Met").wait_for()
    answered = Ticket.objects.get(pk=ticket.pk)
    assert answered.first_response_at is not None
    assert answered.first_response_breached is False
    assert Interaction.objects.get(ticket=ticket).body == "Sorry about that: a new mug is on its way today."
    screenshot("ticket")

    # When she marks it solved with the status buttons the page offers
    header = page.locator("[data-testid=ticket-header]")
    if header.locator("[data-testid=ticket-status-solved]").count() == 0:
        header.locator("[data-testid=ticket-status-open]").click()
        page.locator("[data-testid=ticket-status-badge]", has_text="Open").wait_for()
    page.locator("[data-testid=ticket-status-solved]").click()

    # Then the page shows it solved, offers to reopen or close it, and the database agrees
    page.locator("[data-testid=ticket-status-badge]", has_text="Solved").wait_for()
    assert "The ticket is now Solved." in page.inner_text("[data-testid=ticket-notice]")
    assert page.locator("[data-testid=ticket-status-closed]").is_visible()
    assert page.locator("[data-testid=ticket-status-solved]").count() == 0
    solved = Ticket.objects.get(pk=ticket.pk)
    assert solved.status == TicketStatus.SOLVED
    assert solved.solved_at is not None
    assert solved.first_response_at == answered.first_response_at  # the reply's time, kept
    screenshot("ticket-solved")

    # When she looks up the returns article in the knowledge base
    page.goto("/kb/")
    rows = page.locator("[data-testid=article-list] tbody tr[data-testid^=article-row-]")
    assert rows.count() == 2
    page.fill("#id_q", "return")
    # Then, as she types, the list narrows to the article that holds the word
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=article-list] tbody tr[data-testid^=article-row-]').length === 1"
    )
    assert "Returns" in rows.first.inner_text()
    screenshot("kb")


# ---- the manager ------------------------------------------------------------------------------------

CHARTS = ("pipeline", "revenue", "tickets", "sla", "customers")


def chart_data(page, name: str) -> dict:
    """The labels and data of the Chart.js chart drawn on the dashboard's canvas ``name``."""
    return page.evaluate(
        """(name) => {
            const chart = Chart.getChart(document.querySelector(`[data-testid=chart-${name}]`));
            return {
                type: chart.config.type,
                labels: chart.data.labels,
                datasets: chart.data.datasets.map((d) => ({label: d.label, data: d.data})),
            };
        }""",
        name,
    )


def test_a_manager_sees_the_dashboard_charts_drawn_from_the_data(page, login, screenshot, make_user, team):
    # Given deals in each stage and one won, tickets new and solved, and contacts of this month
    manager = make_user(role="manager", username="marta")
    rep = make_user(role="sales", team=team)
    pipeline = make_pipeline(is_default=True, name="Wholesale")
    lead, proposal, negotiation = (stage_of(pipeline, name) for name in ("Lead", "Proposal", "Negotiation"))
    make_deal(stage=lead, owner=rep, amount="1000.00")
    make_deal(stage=lead, owner=rep, amount="500.00")
    make_deal(stage=proposal, owner=rep, amount="2000.00")
    make_deal(stage=negotiation, owner=rep, amount="4000.00")
    sales_services.deal_win(actor=rep, deal=make_deal(stage=negotiation, owner=rep, amount="3000.00"))
    customers = [make_contact(owner=rep) for _ in range(3)]
    queue = standard_queue()
    for subject in ("Broken mug", "Late parcel"):
        service_services.ticket_create(actor=None, subject=subject, contact=customers[0], queue=queue)
    solved = service_services.ticket_create(actor=None, subject="Wrong colour", contact=customers[1], queue=queue)
    service_services.ticket_set_status(actor=None, ticket=solved, status="solved")

    login(manager)
    page.goto("/")

    # Then every chart is drawn by Chart.js on its canvas, with points
    for name in CHARTS:
        page.locator(f"[data-testid=chart-{name}]").wait_for()
        page.wait_for_function(
            "(name) => window.Chart && Chart.getChart(document.querySelector(`[data-testid=chart-${name}]`))"
            " !== undefined",
            arg=name,
        )
        data = chart_data(page, name)
        points = [value for dataset in data["datasets"] for value in dataset["data"] if value]
        assert points, f"the {name} chart has no data points: {data}"

    # And the numbers drawn are the data's
    pipeline_chart = chart_data(page, "pipeline")
    assert pipeline_chart["labels"] == ["Lead", "Proposal", "Negotiation"]
    amounts = {dataset["label"]: dataset["data"] for dataset in pipeline_chart["datasets"]}
    assert amounts["Amount (EUR)"] == [1500, 2000, 4000]
    assert amounts["Weighted (EUR)"] == [150, 1000, 3200]

    revenue = chart_data(page, "revenue")
    assert revenue["datasets"][0]["label"] == "EUR"
    assert revenue["datasets"][0]["data"][-1] == 3000  # won this month
    assert revenue["labels"][-1] == timezone.localdate().strftime("%b %Y")

    tickets = chart_data(page, "tickets")
    assert tickets["labels"] == ["New", "Open", "Pending", "Solved", "Closed"]
    assert tickets["datasets"][0]["data"] == [2, 0, 0, 1, 0]

    sla = chart_data(page, "sla")
    assert sla["type"] == "line"
    # This month: the solved ticket met both targets; the two new ones are still within them.
    assert [dataset["data"][-1] for dataset in sla["datasets"]] == [100, 100]

    contacts = chart_data(page, "customers")
    assert contacts["datasets"][0]["data"][-1] == 3

    # And the figures above the charts say the same
    assert page.inner_text("[data-testid=figure-open-deals] .fs-3") == "4"
    assert page.inner_text("[data-testid=figure-open-tickets] .fs-3") == "2"
    assert page.inner_text("[data-testid=figure-new-contacts] .fs-3") == "3"

    page.wait_for_function(
        "() => ['pipeline', 'revenue', 'tickets', 'sla', 'customers'].every((name) =>"
        " !Chart.animator.running(Chart.getChart(document.querySelector(`[data-testid=chart-${name}]`))))"
    )
    screenshot("dashboard-manager")
