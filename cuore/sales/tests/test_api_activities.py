"""Activities and the tasks due today through the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry
from cuore.sales.models import Activity
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user, team):
    return make_user(role="sales", team=team, username="rep")


@pytest.fixture
def client(rep, api_for):
    return api_for(rep)


def test_create_activity_on_a_deal(client, rep, team):
    contact, account = make_contact(owner=rep), make_account(owner=rep)
    deal = make_deal(stage=stage_of(make_pipeline(name="Sales"), "Lead"), owner=rep, contact=contact, account=account)

    response = client.post(
        "/activities",
        {"kind": "meeting", "subject": "Demo", "due_at": "2026-03-02T10:00:00+01:00", "deal_id": deal.id},
    )

    assert response.status_code == 201
    activity = Activity.objects.get()
    assert response.json_body == {
        "id": activity.id,
        "kind": "meeting",
        "subject": "Demo",
        "notes": "",
        "due_at": "2026-03-02T09:00:00Z",
        "assignee_id": rep.id,
        "team_id": team.id,
        "done": False,
        "done_at": None,
        "contact_id": contact.id,
        "account_id": account.id,
        "deal_id": deal.id,
        "created_at": response.json_body["created_at"],
        "updated_at": response.json_body["updated_at"],
    }
    assert AuditEntry.objects.filter(action="activity.create", channel="api", object_id=str(activity.id)).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "subject"),
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "S", "kind": "fax"}, "kind"),
        ({"subject": "S", "due_at": "tomorrow"}, "due_at"),
        ({"subject": "S", "due_at": "2026-03-02T10:00:00"}, "due_at"),
        ({"subject": "S", "assignee_id": 999999}, "assignee_id"),
        ({"subject": "S", "team_id": 999999}, "team_id"),
        ({"subject": "S", "deal_id": 999999}, "deal_id"),
        ({"subject": "S", "contact_id": 2**64}, "contact_id"),
        ({"subject": "S", "account_id": -3}, "account_id"),
        ({"subject": "S", "notes": "a\u0000b"}, "notes"),
        ({"subject": "S\u0000"}, "subject"),
        ({"subject": "S", "due_at": "9999-12-31T23:59:59-23:00"}, "due_at"),
    ],
)
def test_create_activity_validation_names_the_field(client, body, field):
    response = client.post("/activities", body)

    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == [field]
    assert not Activity.objects.exists()


def test_support_cannot_link_an_activity_to_a_deal_or_an_account(make_user, api_for, rep):
    deal = make_deal(stage=stage_of(make_pipeline(name="Sales"), "Lead"), owner=rep)
    account = make_account(owner=rep)
    client = api_for(make_user(role="support"))

    on_deal = client.post("/activities", {"subject": "S", "deal_id": deal.id})
    on_account = client.post("/activities", {"subject": "S", "account_id": account.id})

    assert [(r.status_code, r.json_body["errors"]) for r in (on_deal, on_account)] == [
        (422, [{"field": "deal_id", "reason": "not found"}]),
        (422, [{"field": "account_id", "reason": "not found"}]),
    ]


def test_idempotent_activity_create(client):
    body = {"subject": "Once"}

    first = client.post("/activities", body, headers={"Idempotency-Key": "a-1"})
    again = client.post("/activities", body, headers={"Idempotency-Key": "a-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json_body == again.json_body
    assert Activity.objects.count() == 1


def test_update_complete_reopen_and_delete(client, rep, make_user, team, other_team):
    activity = make_activity(assignee=rep, subject="Call")
    teammate = make_user(role="sales", team=team)
    stranger = make_user(role="sales", team=other_team)

    updated = client.patch(f"/activities/{activity.id}", {"subject": "Call back", "assignee_id": teammate.id})
    refused = client.patch(f"/activities/{activity.id}", {"assignee_id": stranger.id})
    naive = client.patch(f"/activities/{activity.id}", {"due_at": "2026-03-02T10:00:00"})
    cleared = client.patch(f"/activities/{activity.id}", {"notes": None, "due_at": None})
    completed = client.post(f"/activities/{activity.id}/complete")
    completed_again = client.post(f"/activities/{activity.id}/complete")
    reopened = client.post(f"/activities/{activity.id}/reopen")
    reopened_again = client.post(f"/activities/{activity.id}/reopen")

    assert (updated.status_code, updated.json_body["subject"], updated.json_body["assignee_id"]) == (
        200,
        "Call back",
        teammate.id,
    )
    assert (refused.status_code, refused.json_body["errors"]) == (
        422,
        [{"field": "assignee_id", "reason": "must be you or a member of your team"}],
    )
    assert (naive.status_code, naive.json_body["errors"]) == (
        422,
        [{"field": "due_at", "reason": "must include a time zone"}],
    )
    assert (cleared.status_code, cleared.json_body["notes"], cleared.json_body["due_at"]) == (200, "", None)
    assert (completed.status_code, completed.json_body["done"]) == (200, True)
    assert completed.json_body["done_at"] is not None
    assert (completed_again.status_code, completed_again.json_body["errors"][0]["field"]) == (409, "done")
    assert (reopened.status_code, reopened.json_body["done"], reopened.json_body["done_at"]) == (200, False, None)
    assert reopened_again.status_code == 409
    assert client.delete(f"/activities/{activity.id}").status_code == 204
    assert not Activity.objects.exists()
    assert client.get(f"/activities/{activity.id}").status_code == 404


def test_list_filters(client, rep):
    deal = make_deal(stage=stage_of(make_pipeline(name="Sales"), "Lead"), owner=rep)
    a = make_activity(assignee=rep, kind="call", due_at=dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))
    b = make_activity(assignee=rep, kind="email", due_at=dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC), deal=deal)
    c = make_activity(assignee=rep, done=True)

    def ids(**params):
        response = client.get("/activities", params)
        assert response.status_code == 200
        return [activity["id"] for activity in response.json_body["results"]]

    assert ids() == [c.id, b.id, a.id]
    assert ids(done="true") == [c.id]
    assert ids(done="false", kind="call") == [a.id]
    assert ids(deal_id=deal.id) == [b.id]
    assert ids(due_after="2026-03-02T09:00:01Z") == [b.id]
    assert ids(due_before="2026-03-03T09:00:00Z", due_after="2026-03-01T00:00:00Z") == [a.id]
    assert ids(due_before="2026-03-03T10:00:00+01:00") == [a.id]
    assert ids(due_before="2026-03-03T09:00:00.000001") == [b.id, a.id]
    assert ids(due_before="9999-12-31T23:59:59+14:00") == [b.id, a.id]
    assert ids(ordering="due_at") == [a.id, b.id]
    assert ids(assignee_id=rep.id, ordering="due_at", limit=1) == [a.id]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kind": "fax"}, "kind"),
        ({"done": "perhaps"}, "done"),
        ({"due_before": "soon"}, "due_before"),
        ({"ordering": "subject"}, "ordering"),
        ({"deal_id": 0}, "deal_id"),
        ({"cursor": "nope"}, "cursor"),
        ({"due_before": "9999-12-31T23:59:59-23:00"}, "due_before"),
    ],
)
def test_list_validation(client, params, field):
    response = client.get("/activities", params)

    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == [field]


def test_tasks_today_are_my_open_activities_due_by_tonight(client, rep, make_user, team):
    now = timezone.now()
    end_of_today = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    overdue = make_activity(assignee=rep, due_at=now - dt.timedelta(days=3))
    tonight = make_activity(assignee=rep, due_at=end_of_today - dt.timedelta(seconds=1))
    make_activity(assignee=rep, due_at=end_of_today)
    make_activity(assignee=rep, due_at=now - dt.timedelta(days=1), done=True)
    make_activity(assignee=rep)
    make_activity(assignee=make_user(role="sales", team=team), due_at=now)

    first = client.get("/tasks/today", {"limit": 1})
    second = client.get("/tasks/today", {"limit": 1, "cursor": first.json_body["next_cursor"]})

    assert [t["id"] for t in first.json_body["results"] + second.json_body["results"]] == [overdue.id, tonight.id]
    assert second.json_body["next_cursor"] is None


def test_activity_list_query_count_is_constant(client, rep, django_assert_num_queries):
    for i in range(30):
        make_activity(assignee=rep, due_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i))
    client.get("/me")  # the token's last-use time is written once a minute at most

    # token, activities
    with django_assert_num_queries(2):
        small = client.get("/activities", {"limit": 5})
    with django_assert_num_queries(2):
        large = client.get("/activities", {"limit": 25, "ordering": "due_at"})

    assert (len(small.json_body["results"]), len(large.json_body["results"])) == (5, 25)


def test_activity_detail_query_count(client, rep, django_assert_num_queries):
    activity = make_activity(assignee=rep)
    client.get("/me")

    # token, activity
    with django_assert_num_queries(2):
        response = client.get(f"/activities/{activity.id}")

    assert response.json_body["id"] == activity.id


def test_tasks_today_query_count_is_constant(client, rep, django_assert_num_queries):
    for i in range(20):
        make_activity(assignee=rep, due_at=timezone.now() - dt.timedelta(hours=i + 1))
    client.get("/me")

    # token, activities
    with django_assert_num_queries(2):
        small = client.get("/tasks/today", {"limit": 3})
    with django_assert_num_queries(2):
        large = client.get("/tasks/today")

    assert (len(small.json_body["results"]), len(large.json_body["results"])) == (3, 20)
