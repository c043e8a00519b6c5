"""The segments and alerts endpoints: counts, members, history, changes, rules, alerts, roles, busy warehouse."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.analytics import segments, warehouse
from cuore.analytics.models import Alert, AlertKind, AlertOutcome, AlertRule, AnalyticsRun, Segment
from cuore.analytics.services import analytics_run
from cuore.analytics.tests.test_engine import AS_OF, _order, shop  # noqa: F401  (the shop fixture)
from cuore.contacts.tests.factories import make_contact

pytestmark = pytest.mark.django_db

CLASS_A = {"match": "all", "conditions": [{"field": "abc_class", "op": "eq", "value": "A"}]}
BUYERS = {"conditions": [{"field": "orders", "op": "gte", "value": 1}]}


@pytest.fixture(autouse=True)
def _warehouse_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def people(make_user, team, other_team, api_for):
    users = {
        "admin": make_user(role="admin"),
        "marketing": make_user(role="marketing"),
        "analyst": make_user(role="analyst"),
        "support": make_user(role="support"),
        "rep": make_user(role="sales", team=team),
        "other_rep": make_user(role="sales", team=other_team),
        "manager": make_user(role="manager"),
    }
    return {role: (user, api_for(user)) for role, user in users.items()}


def _bought(shop, rep):  # noqa: F811
    """Give "gone" and "old" to the rep, then score the shop twice (the second time 30 days on)."""
    for name in ("gone", "old"):
        contact = shop["people"][name]
        contact.owner, contact.team = rep, rep.team
        contact.save()


# ---- segments ------------------------------------------------------------------------------------


def test_those_who_define_segments_create_change_and_delete_them(people):
    _user, api = people["marketing"]

    created = api.post("/analytics/segments", {"name": "Class A", "description": "best", "definition": CLASS_A})
    assert created.status_code == 201, created.json_body
    body = created.json_body
    assert (body["name"], body["definition"], body["size"], body["size_run_id"]) == ("Class A", CLASS_A, None, None)

    changed = api.patch(f"/analytics/segments/{body['id']}", {"name": "Best customers"})
    assert (changed.status_code, changed.json_body["name"]) == (200, "Best customers")
    listed = api.get("/analytics/segments")
    assert [row["name"] for row in listed.json_body["results"]] == ["Best customers"]
    assert api.delete(f"/analytics/segments/{body['id']}").status_code == 204
    assert not Segment.objects.exists()


@pytest.mark.parametrize("role", ["rep", "support"])
def test_read_only_roles_read_segments_but_may_not_change_them(people, role):
    segment = segments.segment_create(actor=people["admin"][0], name="Class A", definition=CLASS_A)
    _user, api = people[role]

    assert api.get(f"/analytics/segments/{segment.pk}").status_code == 200
    assert api.post("/analytics/segments", {"name": "Mine", "definition": CLASS_A}).status_code == 403
    assert api.patch(f"/analytics/segments/{segment.pk}", {"name": "Mine"}).status_code == 403
    assert api.delete(f"/analytics/segments/{segment.pk}").status_code == 403


def test_an_invalid_definition_is_a_422_naming_each_place(people):
    _user, api = people["analyst"]
    definition = {
        "match": "all",
        "conditions": [
            {"field": "abc_class", "op": "eq", "value": "A"},
            {"field": "p_alive", "op": "lt", "value": "half"},
            {"field": "bought_product", "op": "in", "value": [1, "x"], "within_days": 0},
        ],
    }

    for response in (
        api.post("/analytics/segments", {"name": "Bad", "definition": definition}),
        api.post("/analytics/segments/count", {"definition": definition}),
    ):
        assert response.status_code == 422
        assert response.json_body["errors"] == [
            {"field": "definition.conditions[1].value", "reason": "must be a number between -1e+15 and 1e+15"},
            {"field": "definition.conditions[2].value[1]", "reason": "must be an id (a whole number from 1)"},
            {
                "field": "definition.conditions[2].within_days",
                "reason": "must be a whole number of days from 1 to 36500, or null for ever",
            },
        ]
    taken = segments.segment_create(actor=people["admin"][0], name="Taken", definition=CLASS_A)
    twin = api.post("/analytics/segments", {"name": "TAKEN", "definition": CLASS_A})
    assert twin.json_body["errors"] == [{"field": "name", "reason": "is already the name of another segment"}]
    assert Segment.objects.get() == taken


def test_the_live_count_previews_the_first_contacts_the_caller_may_see(shop, people):  # noqa: F811
    rep, rep_api = people["rep"]
    _bought(shop, rep)
    run = analytics_run(as_of=AS_OF)
    body = {"definition": BUYERS, "limit": 2, "order": "-monetary_total"}

    everyone = people["admin"][1].post("/analytics/segments/count", body)
    mine = rep_api.post("/analytics/segments/count", body)
    theirs = people["other_rep"][1].post("/analytics/segments/count", body)

    assert everyone.status_code == 200
    assert (everyone.json_body["run_id"], everyone.json_body["as_of"], everyone.json_body["count"]) == (
        run.pk,
        "2025-06-30",
        5,
    )
    p = shop["people"]
    assert [row["contact_id"] for row in everyone.json_body["preview"]] == [p["best"].pk, p["gone"].pk]
    assert everyone.json_body["preview"][0] | {"name": None} == {
        "contact_id": p["best"].pk,
        "name": None,
        "abc_class": "A",
        "rfm_segment": "champions",
        "value_tier": "most_valuable",
        "monetary_total": "1000.00",
        "clv": None,
        "p_alive": None,
        "churn_risk": everyone.json_body["preview"][0]["churn_risk"],
    }
    assert mine.json_body["count"] == 5  # the segment's total
    assert [row["contact_id"] for row in mine.json_body["preview"]] == [p["gone"].pk, p["old"].pk]
    assert theirs.json_body["preview"] == []


def test_injection_in_a_value_is_only_a_value(shop, people):  # noqa: F811
    analytics_run(as_of=AS_OF)
    _user, api = people["admin"]
    for value in ("' OR 1=1 --", "x'); DROP TABLE contacts; --"):
        definition = {"conditions": [{"field": "source", "op": "eq", "value": value}]}
        response = api.post("/analytics/segments/count", {"definition": definition})
        assert (response.status_code, response.json_body["count"]) == (200, 0)
    assert api.post("/analytics/segments/count", {"definition": BUYERS}).json_body["count"] == 5


def test_a_busy_warehouse_is_a_503_with_the_reason(shop, people, monkeypatch):  # noqa: F811
    segment = segments.segment_create(actor=people["admin"][0], name="Buyers", definition=BUYERS)
    analytics_run(as_of=AS_OF)

    def locked(*, read_only=False, wait_seconds=None):
        raise warehouse.WarehouseBusy("busy")

    monkeypatch.setattr(warehouse, "warehouse_connect", locked)
    _user, api = people["admin"]
    for response in (
        api.post("/analytics/segments/count", {"definition": BUYERS}),
        api.get(f"/analytics/segments/{segment.pk}/members"),
        api.get(f"/analytics/segments/{segment.pk}/changes"),
    ):
        assert response.status_code == 503
        assert response.json_body == {"detail": "The warehouse is busy with a run, try again shortly.", "errors": []}
    assert api.get(f"/analytics/segments/{segment.pk}/history").status_code == 200  # no warehouse needed


def test_members_history_and_changes_of_a_segment(shop, people):  # noqa: F811
    admin, api = people["admin"]
    rep, rep_api = people["rep"]
    _bought(shop, rep)
    p = shop["people"]
    recent = segments.segment_create(
        actor=admin, name="Recent", definition={"conditions": [{"field": "orders", "op": "gte", "value": 1, "within_days": 20}]}
    )  # fmt: skip
    first = analytics_run(as_of=AS_OF)
    _order(p["old"], AS_OF + dt.timedelta(days=20), [(shop["shoe"], 1, "50.00", "20.00", "0")])
    second = analytics_run(as_of=AS_OF + dt.timedelta(days=30))

    page = api.get(f"/analytics/segments/{recent.pk}/members", {"run": first.pk, "limit": 1})
    assert page.status_code == 200
    assert (page.json_body["run_id"], page.json_body["as_of"]) == (first.pk, "2025-06-30")
    assert [row["contact_id"] for row in page.json_body["results"]] == [p["best"].pk]
    rest = api.get(
        f"/analytics/segments/{recent.pk}/members",
        {"run": first.pk, "limit": 1, "cursor": page.json_body["next_cursor"]},
    )
    assert [row["contact_id"] for row in rest.json_body["results"]] == [p["fresh"].pk]
    assert rest.json_body["next_cursor"] is None
    latest = api.get(f"/analytics/segments/{recent.pk}/members")
    assert [row["contact_id"] for row in latest.json_body["results"]] == [p["old"].pk]
    assert [
        row["contact_id"] for row in rep_api.get(f"/analytics/segments/{recent.pk}/members").json_body["results"]
    ] == [p["old"].pk]
    assert rep_api.get(f"/analytics/segments/{recent.pk}/members", {"run": first.pk}).json_body["results"] == []

    history = api.get(f"/analytics/segments/{recent.pk}/history")
    assert history.json_body == [
        {"run_id": first.pk, "as_of": "2025-06-30", "customers": 2, "entered": 2, "left": 0},
        {"run_id": second.pk, "as_of": "2025-07-30", "customers": 1, "entered": 1, "left": 2},
    ]
    changes = api.get(f"/analytics/segments/{recent.pk}/changes").json_body
    assert (changes["run_id"], changes["previous_run_id"], changes["entered_count"], changes["left_count"]) == (
        second.pk,
        first.pk,
        1,
        2,
    )
    assert [row["contact_id"] for row in changes["entered"]] == [p["old"].pk]
    assert [row["contact_id"] for row in changes["left"]] == [p["best"].pk, p["fresh"].pk]
    mine = rep_api.get(f"/analytics/segments/{recent.pk}/changes").json_body
    assert (mine["entered_count"], mine["left_count"], mine["left"]) == (1, 2, [])  # totals, not the names

    bad_run = api.get(f"/analytics/segments/{recent.pk}/members", {"run": 999999})
    assert bad_run.status_code == 422
    assert bad_run.json_body["errors"] == [{"field": "run", "reason": "the segment was not evaluated at this run"}]
    listed = api.get("/analytics/segments").json_body["results"][0]
    assert (listed["size"], listed["entered"], listed["left"], listed["size_run_id"]) == (1, 1, 2, second.pk)


def test_reading_segments_costs_the_same_queries_however_many(shop, people):  # noqa: F811
    admin, api = people["admin"]
    analytics_run(as_of=AS_OF)
    segments.segment_create(actor=admin, name="A", definition=CLASS_A)
    analytics_run(as_of=AS_OF)
    api.get("/analytics/segments")  # warm the per-process caches
    with CaptureQueriesContext(connection) as one:
        api.get("/analytics/segments")
    for name in ("B", "C", "D"):
        segments.segment_create(actor=admin, name=name, definition=BUYERS)
    analytics_run(as_of=AS_OF)
    with CaptureQueriesContext(connection) as four:
        assert len(api.get("/analytics/segments").json_body["results"]) == 4
    assert len(one) == len(four) <= 6


# ---- alerts --------------------------------------------------------------------------------------


def _alert(rule, contact, run, **reason):
    return Alert.objects.create(
        rule=rule, contact=contact, run=run, reason={"kind": rule.kind, **reason}, outcome=AlertOutcome.NO_OWNER
    )


def test_alerts_are_listed_by_rule_run_and_contact_for_the_contacts_one_sees(people, team):
    from django.utils import timezone

    rep, rep_api = people["rep"]
    mine, other = make_contact(first_name="Mine", owner=rep), make_contact(first_name="Other")
    rules = {rule.kind: rule for rule in AlertRule.objects.all()}
    p_alive, drop = rules[AlertKind.P_ALIVE_BELOW], rules[AlertKind.EXPECTED_PURCHASES_DROP]
    runs = [AnalyticsRun.objects.create(started_at=timezone.now(), as_of=AS_OF, status="succeeded") for _ in range(2)]
    a1 = _alert(p_alive, mine, runs[0], abc_class="A", threshold=0.5, p_alive=0.41, previous_p_alive=0.82)
    a2 = _alert(
        drop, mine, runs[1], abc_class="A", threshold=0.5, expected_purchases=1.9, previous_expected_purchases=4.2
    )
    a3 = _alert(p_alive, other, runs[1], abc_class="A", threshold=0.5, p_alive=0.2, previous_p_alive=None)
    _user, api = people["admin"]

    def ids(client, **params):
        response = client.get("/analytics/alerts", params)
        assert response.status_code == 200, response.json_body
        return [row["id"] for row in response.json_body["results"]]

    assert ids(api) == [a3.pk, a2.pk, a1.pk]
    assert ids(api, rule=p_alive.pk) == [a3.pk, a1.pk]
    assert ids(api, run=runs[1].pk) == [a3.pk, a2.pk]
    assert ids(api, contact=mine.pk, run=runs[1].pk) == [a2.pk]
    assert ids(rep_api) == [a2.pk, a1.pk]
    assert ids(people["other_rep"][1]) == []
    row = api.get("/analytics/alerts", {"contact": mine.pk, "rule": drop.pk}).json_body["results"][0]
    assert (row["rule_name"], row["kind"], row["contact_name"], row["reason_text"], row["task_id"]) == (
        "Class A: expected purchases halved",
        "expected_purchases_drop",
        mine.first_name + " " + mine.last_name,
        "Expected purchases in 12 months halved: 4.2 → 1.9",
        None,
    )
    page = api.get("/analytics/alerts", {"limit": 2}).json_body
    assert ids(api, cursor=page["next_cursor"]) == [a1.pk]


def test_alert_rules_are_listed_for_all_and_tuned_by_managers_and_analysts(people):
    rule = AlertRule.objects.get(kind=AlertKind.P_ALIVE_BELOW)

    listed = people["rep"][1].get("/analytics/alert-rules").json_body["results"]
    assert [(row["name"], row["kind"], row["threshold"], row["abc_classes"], row["active"]) for row in listed] == [
        ("Class A: P(alive) below 0.5", "p_alive_below", 0.5, ["A"], True),
        ("Class A: expected purchases halved", "expected_purchases_drop", 0.5, ["A"], True),
    ]
    changed = people["analyst"][1].patch(f"/analytics/alert-rules/{rule.pk}", {"threshold": 0.3, "active": False})
    assert (changed.status_code, changed.json_body["threshold"], changed.json_body["active"]) == (200, 0.3, False)
    assert people["marketing"][1].patch(f"/analytics/alert-rules/{rule.pk}", {"active": True}).status_code == 403
    wrong = people["manager"][1].patch(f"/analytics/alert-rules/{rule.pk}", {"threshold": 0, "abc_classes": []})
    assert wrong.status_code == 422
    assert {error["field"] for error in wrong.json_body["errors"]} == {"threshold", "abc_classes"}
    assert people["manager"][1].patch(f"/analytics/alert-rules/{rule.pk}", {"active": None}).status_code == 422
