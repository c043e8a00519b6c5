"""The forecast page and the tasks of the day (listing, the team's view, marking done, creating), for every role."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cuore.contacts.tests.factories import make_contact
from cuore.core.models import AuditEntry
from cuore.sales import selectors
from cuore.sales.models import Activity
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
TASKS = "/tasks/"
FORECAST = "/deals/forecast/"


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


@pytest.fixture
def people(make_user, team, other_team):
    return {
        "admin": make_user(role="admin", username="admin"),
        "manager": make_user(role="manager", team=team, username="manager"),
        "owner": make_user(role="sales", team=team, username="owner"),
        "teammate": make_user(role="sales", team=team, username="teammate"),
        "other_sales": make_user(role="sales", team=other_team, username="other"),
        "support": make_user(role="support", username="support"),
        "marketing": make_user(role="marketing", username="marketing"),
        "analyst": make_user(role="analyst", username="analyst"),
    }


def at(days: int, hour: int) -> dt.datetime:
    """A time ``days`` from today (UTC, the server's zone) at ``hour``."""
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def task_ids(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<tr id="task-\d+" data-testid="task-(\d+)"', html)}


def section(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"')[1].split("</section>")[0]


# ---- the forecast --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("manager", 200),
        ("owner", 200),
        ("other_sales", 200),
        ("analyst", 200),
        ("support", 404),
        ("marketing", 404),
    ],
)
def test_who_opens_the_forecast(client, people, role, status):
    client.force_login(people[role])

    assert client.get(FORECAST).status_code == status


def test_the_forecast_needs_a_signed_in_user(client):
    response = client.get(FORECAST)

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_forecast_sums_the_visible_open_deals_by_month_in_a_table_and_a_chart(client, people, pipeline):
    owner = people["owner"]
    proposal, negotiation = stage_of(pipeline, "Proposal"), stage_of(pipeline, "Negotiation")
    make_deal(stage=proposal, owner=owner, amount="1000.00", expected_close=dt.date(2026, 3, 10))
    make_deal(stage=negotiation, owner=owner, amount="500.00", expected_close=dt.date(2026, 3, 20))
    make_deal(stage=proposal, owner=owner, amount="300.00", currency="USD", expected_close=dt.date(2026, 4, 1))
    make_deal(stage=proposal, owner=owner, amount="700.00", status="won", expected_close=dt.date(2026, 3, 1))
    make_deal(stage=proposal, owner=people["other_sales"], amount="9000.00", expected_close=dt.date(2026, 3, 5))
    client.force_login(owner)

    html = client.get(FORECAST).content.decode()

    rows = re.findall(r'<tr data-testid="forecast-row">(.*?)</tr>', html, flags=re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows]
    assert cells == [
        ["March 2026", "EUR", "2", "€1,500.00", "€900.00"],
        ["April 2026", "USD", "1", "US$300.00", "US$150.00"],
    ]
    assert 'id="forecast-chart"' in html and "chart.umd.min.js" in html
    chart = json.loads(re.search(r'<script id="forecast-data" type="application/json">(.*?)</script>', html).group(1))
    assert chart["labels"] == ["March 2026", "April 2026"]
    assert [(d["label"], d["data"]) for d in chart["datasets"]] == [
        ("Amount (EUR)", [1500.0, 0]),
        ("Weighted (EUR)", [900.0, 0]),
        ("Amount (USD)", [0, 300.0]),
        ("Weighted (USD)", [0, 150.0]),
    ]
    assert "9,000" not in html


def test_the_forecast_filters_on_a_pipeline_and_says_when_nothing_is_open(client, people, pipeline):
    renewals = make_pipeline(name="Renewals", stages=(("Due", 60),))
    make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], amount="100.00")
    make_deal(stage=stage_of(renewals, "Due"), owner=people["owner"], amount="200.00")
    empty = make_pipeline(name="Empty", stages=(("Only", 10),))
    client.force_login(people["manager"])

    one = client.get(FORECAST, {"pipeline": renewals.id}).content.decode()
    nothing = client.get(FORECAST, {"pipeline": empty.id}).content.decode()
    invalid = client.get(FORECAST, {"pipeline": "999999"}).content.decode()

    assert "€200.00" in one and "€100.00" not in one
    assert 'data-testid="forecast-empty"' in nothing and 'id="forecast-chart"' not in nothing
    assert 'data-testid="error-pipeline"' in invalid and "€300.00" in invalid


def test_the_forecast_costs_the_same_queries_for_few_or_many_deals(client, people, pipeline):
    client.force_login(people["manager"])
    make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], expected_close=dt.date(2026, 1, 5))
    client.get(FORECAST)

    with CaptureQueriesContext(connection) as few:
        client.get(FORECAST)
    for month in range(1, 13):
        make_deal(stage=stage_of(pipeline, "Proposal"), owner=people["owner"], expected_close=dt.date(2027, month, 1))
    with CaptureQueriesContext(connection) as many:
        client.get(FORECAST)

    assert len(many.captured_queries) == len(few.captured_queries)


# ---- my tasks today ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager", "owner", "other_sales", "support", "marketing", "analyst"])
def test_every_role_opens_their_tasks_of_the_day(client, people, role):
    mine = make_activity(subject="Call back", assignee=people[role], due_at=at(0, 12))
    someone_elses = make_activity(subject="Not mine", assignee=people["teammate"], due_at=at(0, 12))
    client.force_login(people[role])

    response = client.get(TASKS)

    assert response.status_code == 200
    assert task_ids(response.content.decode()) == {mine.id}
    assert someone_elses.subject not in response.content.decode()


def test_the_tasks_page_needs_a_signed_in_user(client):
    response = client.get(TASKS)

    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_my_tasks_split_into_overdue_and_due_today_without_tomorrow_or_done_ones(client, people, pipeline):
    owner = people["owner"]
    contact = make_contact(first_name="Mario", last_name="Bianchi", owner=owner)
    deal = make_deal(stage=stage_of(pipeline, "Lead"), name="Fornitura Rossi", owner=owner)
    overdue = make_activity(subject="Late call", assignee=owner, due_at=at(-2, 9), kind="call", contact=contact)
    today = make_activity(subject="Meeting today", assignee=owner, due_at=at(0, 15), kind="meeting", deal=deal)
    make_activity(subject="Tomorrow's", assignee=owner, due_at=at(1, 9))
    make_activity(subject="Already done", assignee=owner, due_at=at(0, 9), done=True)
    make_activity(subject="No due date", assignee=owner)
    client.force_login(owner)

    html = client.get(TASKS).content.decode()

    assert task_ids(section(html, "tasks-overdue")) == {overdue.id}
    assert task_ids(section(html, "tasks-today")) == {today.id}
    assert "Mario Bianchi" in section(html, "tasks-overdue")
    assert f'href="/deals/{deal.id}/">Fornitura Rossi<' in section(html, "tasks-today")
    for subject in ("Tomorrow's", "Already done", "No due date"):
        assert subject not in html
    assert 'data-testid="tasks-scope"' not in html  # a sales rep has no team toggle


def test_task_rows_name_only_the_contacts_and_deals_the_user_may_see(client, people, pipeline):
    owner = people["support"]
    hidden_deal = make_deal(stage=stage_of(pipeline, "Lead"), name="Secret deal", owner=people["owner"])
    task = make_activity(subject="Follow up", assignee=owner, due_at=at(0, 10), deal=hidden_deal)
    client.force_login(owner)

    html = client.get(TASKS).content.decode()

    assert task.id in task_ids(html)
    assert "Secret deal" not in html


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_switch_to_the_teams_tasks(client, people, role, team, other_team):
    teammates = make_activity(subject="Teammate's call", assignee=people["teammate"], due_at=at(0, 10))
    strangers = make_activity(subject="Stranger's call", assignee=people["other_sales"], due_at=at(-1, 10))
    client.force_login(people[role])

    mine = client.get(TASKS).content.decode()
    whole = client.get(TASKS, {"scope": "team"}).content.decode()
    south = client.get(TASKS, {"scope": "team", "team": other_team.id}).content.decode()
    everyone = client.get(TASKS, {"scope": "team", "team": ""}).content.decode()

    assert 'data-testid="tasks-scope"' in mine and task_ids(mine) == set()
    if role == "manager":  # in team North: their own team by default
        assert task_ids(whole) == {teammates.id}
    else:  # no team: everyone's
        assert task_ids(whole) == {teammates.id, strangers.id}
    assert task_ids(south) == {strangers.id}
    assert task_ids(everyone) == {teammates.id, strangers.id}
    assert ">teammate<" in whole or ">teammate<" in everyone  # the assignee column
    assert client.get(TASKS, {"scope": "team", "team": "999999"}).status_code == 404


def test_a_sales_rep_asking_for_the_team_view_gets_their_own_tasks(client, people):
    make_activity(subject="Teammate's call", assignee=people["teammate"], due_at=at(0, 10))
    client.force_login(people["owner"])

    html = client.get(TASKS, {"scope": "team"}).content.decode()

    assert task_ids(html) == set() and "Teammate's call" not in html


def test_the_tasks_page_costs_the_same_queries_for_few_or_many_tasks(client, people, pipeline):
    owner = people["owner"]
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=owner)
    make_activity(assignee=owner, due_at=at(0, 9), contact=make_contact(owner=owner), deal=deal)
    client.force_login(owner)
    client.get(TASKS)

    with CaptureQueriesContext(connection) as few:
        client.get(TASKS)
    for hour in range(1, 11):
        make_activity(assignee=owner, due_at=at(-1, hour), contact=make_contact(owner=owner), deal=deal)
    with CaptureQueriesContext(connection) as many:
        html = client.get(TASKS).content.decode()

    assert len(task_ids(html)) == 11
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_team_tasks_selector_scopes_filters_and_stops_at_the_end_of_the_day(people, team):
    late = make_activity(assignee=people["teammate"], due_at=at(-3, 9))
    today = make_activity(assignee=people["other_sales"], due_at=at(0, 23))
    make_activity(assignee=people["teammate"], due_at=at(1, 0))
    make_activity(assignee=people["teammate"], due_at=at(0, 9), done=True)
    day = timezone.localdate()

    assert set(selectors.tasks_due_for_team(actor=people["manager"], day=day)) == {late, today}
    assert set(selectors.tasks_due_for_team(actor=people["manager"], day=day, team_id=team.id)) == {late}
    assert set(selectors.tasks_due_for_team(actor=people["owner"], day=day)) == {late}  # TEAM scope


# ---- marking a task done -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "manager", "admin"])
def test_marking_a_task_done_goes_through_the_service(client, people, role):
    task = make_activity(subject="Call back", assignee=people["owner"], due_at=at(0, 9))
    client.force_login(people[role])

    response = client.post(f"/tasks/{task.id}/done/")

    assert response.status_code == 302 and response["Location"] == "/tasks/"
    task.refresh_from_db()
    assert task.done and task.done_at is not None
    entry = AuditEntry.objects.get(action="activity.complete")
    assert (entry.actor, entry.channel) == (people[role], "ui")


def test_marking_done_through_htmx_answers_the_row_done(client, people):
    task = make_activity(subject="Call back", assignee=people["owner"], due_at=at(0, 9))
    client.force_login(people["owner"])

    response = client.post(f"/tasks/{task.id}/done/", headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith(f'<tr id="task-{task.id}" data-testid="task-{task.id}"') and 'data-done="true"' in html
    assert Activity.objects.get(pk=task.id).done


@pytest.mark.parametrize(
    ("role", "status"), [("other_sales", 404), ("analyst", 403), ("support", 404), ("marketing", 404)]
)
def test_who_may_not_mark_a_task_done(client, people, role, status):
    task = make_activity(subject="Call back", assignee=people["owner"], due_at=at(0, 9))
    client.force_login(people[role])

    full = client.post(f"/tasks/{task.id}/done/")
    htmx = client.post(f"/tasks/{task.id}/done/", headers=HTMX)

    assert full.status_code == status
    assert htmx.status_code == status and htmx["X-Cuore-Reason"]
    assert not Activity.objects.get(pk=task.id).done
    assert not AuditEntry.objects.filter(action="activity.complete").exists()


def test_a_task_already_done_is_a_conflict_with_the_reason(client, people):
    task = make_activity(subject="Call back", assignee=people["owner"], due_at=at(0, 9), done=True)
    client.force_login(people["owner"])

    full = client.post(f"/tasks/{task.id}/done/")
    htmx = client.post(f"/tasks/{task.id}/done/", headers=HTMX)

    assert full.status_code == 409
    assert 'data-testid="tasks-error">This task is already done.<' in full.content.decode()
    assert htmx.status_code == 409 and htmx.content.decode() == "This task is already done."
    assert htmx["X-Cuore-Reason"] == "This%20task%20is%20already%20done."


def test_marking_done_needs_a_post_a_signed_in_user_and_a_real_id(client, people):
    task = make_activity(assignee=people["owner"], due_at=at(0, 9))

    anonymous = client.post(f"/tasks/{task.id}/done/")
    client.force_login(people["owner"])

    assert anonymous.status_code == 302
    assert client.get(f"/tasks/{task.id}/done/").status_code == 405
    assert client.post(f"/tasks/{2**70}/done/").status_code == 404
    assert not Activity.objects.get(pk=task.id).done


# ---- creating a task -----------------------------------------------------------------------------


def test_creating_a_task_for_oneself(client, people):
    contact = make_contact(first_name="Mario", last_name="Bianchi", owner=people["owner"])
    client.force_login(people["owner"])

    response = client.post(
        "/tasks/new/",
        {"subject": "Send the offer", "kind": "email", "due_at": "2026-03-02T09:30", "contact": contact.id},
    )

    assert response.status_code == 302 and response["Location"] == "/tasks/"
    task = Activity.objects.get()
    assert (task.subject, task.kind, task.assignee, task.team, task.contact) == (
        "Send the offer",
        "email",
        people["owner"],
        people["owner"].team,
        contact,
    )
    assert task.due_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    entry = AuditEntry.objects.get(action="activity.create")
    assert (entry.actor, entry.channel) == (people["owner"], "ui")


@pytest.mark.parametrize("role", ["admin", "manager", "other_sales", "support", "marketing"])
def test_other_writing_roles_create_tasks_too(client, people, role):
    client.force_login(people[role])

    response = client.post("/tasks/new/", {"subject": "Check in", "kind": "todo", "due_at": "2026-03-02T09:30"})

    assert response.status_code == 302
    assert Activity.objects.get().assignee == people[role]


def test_an_invalid_task_shows_the_errors_beside_the_fields(client, people):
    client.force_login(people["owner"])

    response = client.post("/tasks/new/", {"subject": "", "kind": "dance", "due_at": "tomorrow"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="error-subject">This field is required.<' in html
    assert 'data-testid="error-kind">' in html and 'data-testid="error-due_at">' in html
    assert "is-invalid" in html
    assert not Activity.objects.exists()


def test_a_task_about_a_contact_one_may_not_see_is_refused_beside_the_contact(client, people):
    hidden = make_contact(owner=people["other_sales"])
    client.force_login(people["owner"])

    response = client.post(
        "/tasks/new/",
        {"subject": "Snoop", "kind": "todo", "due_at": "2026-03-02T09:30", "contact": hidden.id, "contact_label": "X"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert 'data-testid="error-contact">Not found, or you may not see it.<' in response.content.decode()
    assert not Activity.objects.exists()


def test_creating_a_task_needs_a_signed_in_user_and_a_post(client, people):
    anonymous = client.post("/tasks/new/", {"subject": "Sneaky", "kind": "todo", "due_at": "2026-03-02T09:30"})
    client.force_login(people["owner"])

    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert client.get("/tasks/new/").status_code == 405
    assert not Activity.objects.exists()


def test_analysts_get_no_task_form_and_may_not_create(client, people):
    client.force_login(people["analyst"])

    page = client.get(TASKS).content.decode()
    response = client.post("/tasks/new/", {"subject": "Sneaky", "kind": "todo", "due_at": "2026-03-02T09:30"})

    assert 'data-testid="task-form"' not in page and 'data-testid="task-done-' not in page
    assert response.status_code == 403
    assert not Activity.objects.exists()


def test_the_tasks_page_speaks_italian_to_an_italian_user(client, people):
    people["owner"].language = "it"
    people["owner"].save()
    make_activity(subject="Chiamata", assignee=people["owner"], due_at=at(-1, 9))
    client.force_login(people["owner"])

    html = client.get(TASKS).content.decode()

    assert "Le mie attività di oggi" in html
    assert "In ritardo" in html
    assert "Nuova attività" in html
