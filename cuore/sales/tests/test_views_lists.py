"""The deal list on the shared list machinery: columns, export, saved views and bulk actions, role by role."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry
from cuore.sales.models import Activity, Deal
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
READERS = ["admin", "manager", "owner", "other_sales", "analyst"]


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


@pytest.fixture
def people(make_user, team, other_team):
    return {
        "admin": make_user(role="admin", username="admin"),
        "manager": make_user(role="manager", username="manager"),
        "owner": make_user(role="sales", team=team, username="owner"),
        "teammate": make_user(role="sales", team=team, username="teammate"),
        "other_sales": make_user(role="sales", team=other_team, username="other"),
        "support": make_user(role="support", username="support"),
        "marketing": make_user(role="marketing", username="marketing"),
        "analyst": make_user(role="analyst", username="analyst"),
    }


@pytest.fixture
def deal(pipeline, people):
    return make_deal(stage=stage_of(pipeline, "Lead"), name="Fornitura Rossi", owner=people["owner"], amount="2000.00")


@pytest.fixture
def foreign(pipeline, people):
    return make_deal(stage=stage_of(pipeline, "Lead"), name="Altra squadra", owner=people["other_sales"])


def rows_of(response) -> list[str]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


@pytest.mark.parametrize("role", ["admin", "manager", "owner", "other_sales", "support", "marketing", "analyst"])
def test_the_deal_list_by_role(client, people, deal, foreign, role):
    client.force_login(people[role])

    response = client.get("/deals/")

    if role in ("support", "marketing"):
        assert response.status_code == 404
        return
    html = response.content.decode()
    assert response.status_code == 200
    assert ("Fornitura Rossi" in html) is (role != "other_sales")
    assert ("Altra squadra" in html) is (role in ("admin", "manager", "other_sales", "analyst"))
    assert 'data-testid="list-deals"' in html and 'data-testid="export-csv"' in html
    assert ('data-testid="bulk-actions"' in html) is (role != "analyst")


def test_anonymous_users_are_sent_to_log_in(client):
    assert client.get("/deals/").status_code == 302
    assert client.post("/deals/bulk/", {"ids": ["1"], "action": "assign_owner"}).status_code == 302


def test_chosen_columns_and_optional_ones(client, people, deal):
    client.force_login(people["owner"])

    default = client.get("/deals/").content.decode()
    chosen = client.get("/deals/", {"cols": "name,weighted,created_at"}).content.decode()

    assert "<th" in default and "Weighted" in default  # offered in the column menu
    assert default.count('name="col" value="weighted" id') == 1
    assert 'value="weighted" id="col-deals-weighted" checked' not in default
    assert 'value="weighted" id="col-deals-weighted" checked' in chosen
    assert "€200.00" in chosen  # 2000 at Lead's 10%


def test_the_filter_form_swaps_the_list_and_load_more_brings_rows(client, people, pipeline, monkeypatch):
    from cuore.sales import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    for n in range(3):
        make_deal(stage=stage_of(pipeline, "Lead"), name=f"Deal {n}", owner=people["owner"])
    client.force_login(people["owner"])

    swapped = client.get("/deals/", {"status": "open"}, headers={**HTMX, "HX-Target": "list-deals"})
    more = client.get("/deals/", {"fragment": "rows"}, headers=HTMX)

    assert swapped.content.decode().lstrip().startswith('<div id="list-deals"')
    assert "<html" not in swapped.content.decode()
    assert more.content.decode().lstrip().startswith("<tr")


def test_the_export_neutralises_formula_cells_and_keeps_the_filters(client, people, pipeline, deal, foreign):
    make_deal(stage=stage_of(pipeline, "Lead"), name='=HYPERLINK("http://evil")', owner=people["owner"])
    make_deal(stage=stage_of(pipeline, "Lead"), name="@SUM(1)", owner=people["owner"], status="won")
    client.force_login(people["owner"])

    response = client.get("/deals/", {"export": "csv", "cols": "name,amount,owner_name"})
    won = rows_of(client.get("/deals/", {"export": "csv", "status": "won", "cols": "name"}))

    rows = rows_of(response)
    assert response["Content-Type"].startswith("text/csv")
    assert rows[0] == ["Name", "Amount", "Owner"]
    names = {row[0] for row in rows[1:]}
    assert names == {"Fornitura Rossi", '\'=HYPERLINK("http://evil")', "'@SUM(1)"}  # not the other team's
    assert ["Fornitura Rossi", "2000.00", "owner"] in rows
    assert won == [["Name"], ["'@SUM(1)"]]


def test_the_export_is_refused_to_who_does_not_see_deals(client, people, deal):
    client.force_login(people["support"])

    assert client.get("/deals/", {"export": "csv"}).status_code == 404


def test_a_saved_view_of_the_deal_list(client, people, deal):
    client.force_login(people["owner"])

    client.post(
        "/me/views/save/", {"list_name": "deals", "name": "Open ones", "query": "status=open", "next": "/deals/"}
    )
    html = client.get("/deals/").content.decode()

    assert "Open ones" in html and 'href="?status=open"' in html


def test_the_deal_list_costs_the_same_queries_for_few_or_many_rows(client, people, pipeline):
    owner = people["owner"]
    cols = {"cols": "name,customer_name,pipeline_name,stage_name,status_label,amount,weighted,owner_name,contact_name"}

    def add():
        make_deal(
            stage=stage_of(pipeline, "Proposal"),
            owner=owner,
            account=make_account(owner=owner),
            contact=make_contact(owner=owner),
        )

    add()
    client.force_login(owner)
    client.get("/deals/", cols)
    with CaptureQueriesContext(connection) as few:
        client.get("/deals/", cols)
    for _ in range(8):
        add()
    with CaptureQueriesContext(connection) as many:
        response = client.get("/deals/", cols)
    with CaptureQueriesContext(connection) as export_few:
        b"".join(client.get("/deals/", {**cols, "export": "csv"}).streaming_content)

    assert response.content.decode().count('data-testid="row"') == 9
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(export_few.captured_queries) <= len(few.captured_queries)


# ---- bulk actions --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager", "owner"])
def test_writers_assign_an_owner_to_the_selected_deals(client, people, deal, role):
    client.force_login(people[role])

    response = client.post(
        "/deals/bulk/", {"ids": [deal.id], "action": "assign_owner", "owner": people["teammate"].id, "next": "/deals/"}
    )

    deal.refresh_from_db()
    assert response.status_code == 302 and response["Location"] == "/deals/"
    assert deal.owner == people["teammate"]
    entry = AuditEntry.objects.filter(action="deal.update").latest("id")
    assert entry.channel == "ui" and entry.actor == people[role]


def test_bulk_moves_to_a_stage_of_the_same_pipeline_only(client, people, pipeline, deal):
    renewals = make_pipeline(name="Renewals", stages=(("Due", 60),))
    renewal = make_deal(stage=stage_of(renewals, "Due"), owner=people["owner"])
    won = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], status="won")
    client.force_login(people["owner"])

    response = client.post(
        "/deals/bulk/",
        {"ids": [deal.id, renewal.id, won.id], "action": "move_stage", "stage": stage_of(pipeline, "Proposal").id},
        follow=True,
    )

    assert Deal.objects.get(pk=deal.pk).stage.name == "Proposal"
    assert Deal.objects.get(pk=renewal.pk).stage.name == "Due"
    assert Deal.objects.get(pk=won.pk).stage.name == "Lead"
    html = response.content.decode()
    assert "1 records changed." in html and "2 records were left as they were" in html


def test_bulk_ignores_invisible_deals_without_telling_what_they_are(client, people, deal, foreign):
    client.force_login(people["owner"])

    response = client.post(
        "/deals/bulk/",
        {"ids": [deal.id, foreign.id, 999999], "action": "assign_owner", "owner": people["teammate"].id},
        follow=True,
    )

    html = response.content.decode()
    assert Deal.objects.get(pk=foreign.pk).owner == people["other_sales"]
    assert Deal.objects.get(pk=deal.pk).owner == people["teammate"]
    assert "2 selected records were not found." in html
    assert "Altra squadra" not in html


@pytest.mark.parametrize(("role", "status"), [("analyst", 403), ("support", 404), ("marketing", 404)])
def test_bulk_is_refused_to_readers_and_outsiders(client, people, deal, role, status):
    client.force_login(people[role])

    response = client.post("/deals/bulk/", {"ids": [deal.id], "action": "assign_owner", "owner": people["owner"].id})

    assert response.status_code == status
    assert Deal.objects.get(pk=deal.pk).owner == people["owner"]


def test_a_bulk_action_without_a_choice_says_so(client, people, deal):
    client.force_login(people["owner"])

    no_owner = client.post("/deals/bulk/", {"ids": [deal.id], "action": "assign_owner"}, follow=True)
    no_rows = client.post("/deals/bulk/", {"action": "assign_owner", "owner": people["owner"].id}, follow=True)
    bad_stage = client.post("/deals/bulk/", {"ids": [deal.id], "action": "move_stage", "stage": "x"}, follow=True)
    other_team = client.post(
        "/deals/bulk/", {"ids": [deal.id], "action": "assign_owner", "owner": people["other_sales"].id}, follow=True
    )

    assert "choose an owner" in no_owner.content.decode()
    assert "select at least one row" in no_rows.content.decode()
    assert "choose a stage" in bad_stage.content.decode()
    assert "choose an owner" in other_team.content.decode()
    assert Deal.objects.get(pk=deal.pk).owner == people["owner"]


# ---- the list of all activities ------------------------------------------------------------------

DUE = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def call(people, deal):
    contact = make_contact(first_name="Mario", last_name="Bianchi", owner=people["owner"])
    return make_activity(
        subject="Chiamare Rossi", kind="call", assignee=people["owner"], due_at=DUE, deal=deal, contact=contact
    )


@pytest.fixture
def elsewhere(people):
    return make_activity(subject="Riunione altrove", kind="meeting", assignee=people["other_sales"], due_at=DUE)


@pytest.mark.parametrize("role", ["admin", "manager", "owner", "other_sales", "support", "marketing", "analyst"])
def test_the_activity_list_by_role(client, people, call, elsewhere, role):
    client.force_login(people[role])

    response = client.get("/activities/")

    html = response.content.decode()
    assert response.status_code == 200
    assert ("Chiamare Rossi" in html) is (role in ("admin", "manager", "owner", "analyst"))
    assert ("Riunione altrove" in html) is (role in ("admin", "manager", "other_sales", "analyst"))
    assert 'data-testid="list-activities"' in html
    assert ('data-testid="bulk-actions"' in html) is (role != "analyst")


def test_the_activity_list_shows_only_visible_links(client, people, call):
    client.force_login(people["support"])
    mine = make_activity(subject="Del supporto", assignee=people["support"], deal=call.deal, contact=call.contact)

    html = client.get("/activities/").content.decode()

    assert "Del supporto" in html and "Mario Bianchi" in html  # support sees contacts
    assert "Fornitura Rossi" not in html  # but not deals
    assert mine.deal_id == call.deal_id


def test_the_activity_list_filters(client, people, call):
    email = make_activity(subject="Scrivere", kind="email", assignee=people["teammate"], due_at=DUE + dt.timedelta(3))
    done = make_activity(subject="Fatto", assignee=people["owner"], done=True, due_at=DUE - dt.timedelta(3))
    client.force_login(people["owner"])

    def subjects(**params):
        rows = rows_of(client.get("/activities/", {**params, "export": "csv", "cols": "subject"}))
        return {row[0] for row in rows[1:]}

    assert subjects(kind="email") == {email.subject}
    assert subjects(done="yes") == {done.subject}
    assert subjects(done="no") == {call.subject, email.subject}
    assert subjects(assignee=people["teammate"].id) == {email.subject}
    assert subjects(due_from="2026-03-10", due_to="2026-03-10") == {call.subject}
    assert subjects(due_from="2026-03-11") == {email.subject}
    html = client.get("/activities/", {"due_from": "2026-03-11", "due_to": "2026-03-01"}).content.decode()
    assert 'data-testid="error-due_to"' in html


def test_the_activity_export_neutralises_formulas(client, people):
    make_activity(subject="=cmd|' /C calc'!A0", assignee=people["owner"])
    make_activity(subject="+39 call", assignee=people["owner"])
    client.force_login(people["owner"])

    rows = rows_of(client.get("/activities/", {"export": "csv", "cols": "subject,done"}))

    assert rows[0] == ["Subject", "Done"]
    assert sorted(rows[1:]) == [["'+39 call", "no"], ["'=cmd|' /C calc'!A0", "no"]]


def test_the_activity_list_costs_the_same_queries_for_few_or_many_rows(client, people, deal):
    owner = people["owner"]

    def add():
        make_activity(assignee=owner, deal=deal, contact=make_contact(owner=owner), due_at=DUE)

    add()
    client.force_login(owner)
    client.get("/activities/")
    with CaptureQueriesContext(connection) as few:
        client.get("/activities/")
    for _ in range(8):
        add()
    with CaptureQueriesContext(connection) as many:
        response = client.get("/activities/")

    assert response.content.decode().count('data-testid="row"') == 9
    assert len(many.captured_queries) == len(few.captured_queries)


def test_anonymous_users_are_sent_to_log_in_from_activities(client):
    assert client.get("/activities/").status_code == 302
    assert client.post("/activities/bulk/", {"ids": ["1"], "action": "mark_done"}).status_code == 302


@pytest.mark.parametrize("role", ["admin", "manager", "owner"])
def test_writers_mark_activities_done_in_bulk(client, people, call, elsewhere, role):
    already = make_activity(subject="Gia fatto", assignee=people["owner"], done=True)
    client.force_login(people[role])

    response = client.post("/activities/bulk/", {"ids": [call.id, already.id], "action": "mark_done"}, follow=True)

    assert Activity.objects.get(pk=call.pk).done is True
    assert Activity.objects.get(pk=elsewhere.pk).done is False
    assert "1 records changed." in response.content.decode()
    assert "already done" in response.content.decode()
    assert AuditEntry.objects.filter(channel="ui", actor=people[role]).exists()


def test_bulk_assign_of_activities_ignores_invisible_ones(client, people, call, elsewhere):
    client.force_login(people["owner"])

    response = client.post(
        "/activities/bulk/",
        {"ids": [call.id, elsewhere.id], "action": "assign", "assignee": people["teammate"].id},
        follow=True,
    )
    outside = client.post(
        "/activities/bulk/", {"ids": [call.id], "action": "assign", "assignee": people["other_sales"].id}, follow=True
    )

    assert Activity.objects.get(pk=call.pk).assignee == people["teammate"]
    assert Activity.objects.get(pk=elsewhere.pk).assignee == people["other_sales"]
    html = response.content.decode()
    assert "1 selected records were not found." in html and "Riunione altrove" not in html
    assert "choose whom to assign to" in outside.content.decode()


def test_bulk_on_activities_is_refused_to_readers(client, people, call):
    client.force_login(people["analyst"])

    response = client.post("/activities/bulk/", {"ids": [call.id], "action": "mark_done"})

    assert response.status_code == 403
    assert Activity.objects.get(pk=call.pk).done is False
