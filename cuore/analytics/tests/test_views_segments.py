"""The segment and alert-rule pages, for every role: list, editor with live count, segment page, rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cuore.analytics import segments, warehouse
from cuore.analytics.models import Alert, AlertKind, AlertRule, AnalyticsRun, Segment
from cuore.analytics.services import analytics_run
from cuore.analytics.tests.test_engine import AS_OF, _order, shop  # noqa: F401  (the shop fixture)
from cuore.core.models import AuditEntry

pytestmark = pytest.mark.django_db

CLASS_A = {"match": "all", "conditions": [{"field": "abc_class", "op": "eq", "value": "A"}]}
RECENT = {"conditions": [{"field": "orders", "op": "gte", "value": 1, "within_days": 20}]}
ROLES = ["admin", "manager", "rep", "other_rep", "support", "marketing", "analyst"]
WRITERS = {"admin", "manager", "marketing", "analyst"}
RULE_WRITERS = {"admin", "manager", "analyst"}


@pytest.fixture(autouse=True)
def _warehouse_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


@pytest.fixture
def users(make_user, team, other_team):
    made = {}
    for role in ROLES:
        base = "sales" if role in ("rep", "other_rep") else role
        made[role] = make_user(role=base, team=team if role == "rep" else other_team if role == "other_rep" else None)
    return made


def _as(client, user):
    client.force_login(user)
    return client


def _htmx(client, method, url, data=None):
    return getattr(client, method)(url, data or {}, headers={"HX-Request": "true"})


@pytest.fixture
def scored(shop, users):  # noqa: F811
    """The shop with "gone" and "old" owned by the rep, a segment of recent buyers, scored at two dates."""
    people = shop["people"]
    for name in ("gone", "old"):
        people[name].owner, people[name].team = users["rep"], users["rep"].team
        people[name].save()
    segment = segments.segment_create(actor=users["admin"], name="Recent buyers", definition=RECENT)
    first = analytics_run(as_of=AS_OF)
    _order(people["old"], AS_OF + dt.timedelta(days=20), [(shop["shoe"], 1, "50.00", "20.00", "0")])
    second = analytics_run(as_of=AS_OF + dt.timedelta(days=30))
    return {"people": people, "segment": segment, "first": first, "second": second}


# ---- access ------------------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for name in ("segments:list", "segments:new", "segments:alert_rules"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_the_list_and_only_writers_open_the_editor(client, users, role):
    segment = segments.segment_create(actor=users["admin"], name="Class A", definition=CLASS_A)
    _as(client, users[role])

    listed = client.get(reverse("segments:list"))
    assert listed.status_code == 200
    assert "Class A" in listed.content.decode()
    assert (b'data-testid="segment-new"' in listed.content) == (role in WRITERS)
    assert client.get(reverse("segments:detail", args=[segment.pk])).status_code == 200
    expected = 200 if role in WRITERS else 403
    assert client.get(reverse("segments:new")).status_code == expected
    assert client.get(reverse("segments:edit", args=[segment.pk])).status_code == expected
    assert client.post(reverse("segments:delete", args=[segment.pk])).status_code == (302 if role in WRITERS else 403)
    assert Segment.objects.exists() == (role not in WRITERS)


def test_a_missing_segment_is_a_404(client, users):
    _as(client, users["admin"])
    assert client.get(reverse("segments:detail", args=[999999])).status_code == 404
    assert client.get(reverse("segments:detail", args=[2**63])).status_code == 404


def test_the_list_costs_the_same_queries_however_many_segments(client, users):
    _as(client, users["admin"])
    segments.segment_create(actor=users["admin"], name="One", definition=CLASS_A)
    client.get(reverse("segments:list"))
    with CaptureQueriesContext(connection) as one:
        client.get(reverse("segments:list"))
    for name in ("Two", "Three", "Four"):
        segments.segment_create(actor=users["admin"], name=name, definition=CLASS_A)
    with CaptureQueriesContext(connection) as four:
        response = client.get(reverse("segments:list"))
    assert response.content.decode().count('data-testid="segment-row"') == 4
    assert len(one) == len(four)


# ---- the editor --------------------------------------------------------------------------------------


def _form(**rows) -> dict:
    """Editor form data: name, description, match and the rows {index: {field, op, value…}}."""
    data = {"name": rows.pop("name", "Lapsing"), "description": rows.pop("description", ""), "match": "all"}
    data["c"] = []
    for index, row in rows.items():
        number = index.removeprefix("c")
        data["c"].append(number)
        for key, value in row.items():
            data[f"c{number}-{key}"] = value
    return data


def test_the_editor_saves_a_segment_and_audits_it(client, users):
    _as(client, users["marketing"])

    response = client.post(
        reverse("segments:new"),
        _form(
            name="Lapsing A",
            description="spring",
            c0={"field": "abc_class", "op": "eq", "value": "A"},
            c3={"field": "p_alive", "op": "lt", "value": "0,5"},
            c4={"field": "rfm_segment", "op": "in", "value": ["lost", "at_risk"]},
            c5={"field": "orders", "op": "between", "value": "1", "value2": "3", "within_days": "365"},
            c6={"field": "owner", "op": "eq", "value": "none"},
        ),
    )

    segment = Segment.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("segments:detail", args=[segment.pk])
    assert (segment.name, segment.description, segment.created_by) == ("Lapsing A", "spring", users["marketing"])
    assert segment.definition == {
        "match": "all",
        "conditions": [
            {"field": "abc_class", "op": "eq", "value": "A"},
            {"field": "p_alive", "op": "lt", "value": 0.5},
            {"field": "rfm_segment", "op": "in", "value": ["lost", "at_risk"]},
            {"field": "orders", "op": "between", "value": [1, 3], "within_days": 365},
            {"field": "owner", "op": "eq", "value": None},
        ],
    }
    assert AuditEntry.objects.get(action="segment.create").channel == "ui"

    edit = client.get(reverse("segments:edit", args=[segment.pk])).content.decode()
    assert edit.count('data-testid="condition"') == 5
    assert 'value="Lapsing A"' in edit


def test_the_editor_shows_each_error_beside_its_condition(client, users):
    segments.segment_create(actor=users["admin"], name="Taken", definition=CLASS_A)
    _as(client, users["analyst"])

    response = client.post(
        reverse("segments:new"),
        _form(
            name="taken",
            c0={"field": "abc_class", "op": "eq", "value": "A"},
            c7={"field": "p_alive", "op": "lt", "value": "half"},
            c9={"field": "orders", "op": "gte", "value": "1", "within_days": "0"},
        ),
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="error-name"' in html and "Another segment already has this name." in html
    row7 = html[html.index('id="c7-errors"') :]
    assert row7[: row7.index("</div></div>") + 12].count("Enter a number.") == 1
    row9 = html[html.index('id="c9-errors"') :]
    assert "Enter a number of days from 1 to 36500, or leave it empty." in row9[:400]
    assert Segment.objects.count() == 1


def test_conditions_are_added_and_redrawn_with_htmx(client, users):
    _as(client, users["marketing"])

    added = _htmx(client, "get", reverse("segments:condition"), {"add": "1", "c": ["0", "4"]})
    assert added.status_code == 200
    assert 'id="c5"' in added.content.decode()
    assert added["HX-Trigger-After-Settle"] == "segment-changed"

    redrawn = _htmx(
        client,
        "post",
        reverse("segments:condition"),
        {"row": "4", "changed": "field", "c": ["4"], "c4-field": "consent", "c4-op": "lt", "c4-value": "x"},
    )
    html = redrawn.content.decode()
    assert 'id="c4"' in html and 'name="c4-purpose"' in html and 'name="c4-channel"' in html
    assert '<option value="granted"' in html and 'value="eq" selected' in html
    between = _htmx(
        client,
        "post",
        reverse("segments:condition"),
        {"row": "2", "changed": "op", "c": ["2"], "c2-field": "recency_days", "c2-op": "between"},
    ).content.decode()
    assert 'name="c2-value2"' in between


def test_the_live_count_updates_as_one_edits(client, scored, users):
    data = _form(c0={"field": "orders", "op": "gte", "value": "2"}, c2={"field": "abc_class", "op": "eq", "value": "Z"})
    _as(client, users["admin"])

    wrong = _htmx(client, "post", reverse("segments:preview"), data)
    assert wrong.status_code == 422
    html = wrong.content.decode()
    assert (
        'id="c2-errors" data-testid="condition-errors" hx-swap-oob="true"><div class="invalid-feedback d-block">Choose one of the values offered.'
        in html
    )
    assert 'id="c0-errors" data-testid="condition-errors" hx-swap-oob="true"></div>' in html

    del data["c"][1]
    right = _htmx(client, "post", reverse("segments:preview"), {**data, "order": "-monetary_total"})
    assert right.status_code == 200
    html = right.content.decode()
    assert 'data-testid="preview-count">5<' in html  # at the second run everyone has two orders or more
    assert html.count('data-testid="preview-row"') == 5
    assert html.index("best") < html.index("gone")

    _as(client, users["rep"])
    mine = _htmx(client, "post", reverse("segments:preview"), data).content.decode()
    assert 'data-testid="preview-count">5<' in mine
    assert mine.count('data-testid="preview-row"') == 2 and "best" not in mine


def test_a_busy_warehouse_is_told_not_failed(client, scored, users, monkeypatch):
    def locked(*, read_only=False, wait_seconds=None):
        raise warehouse.WarehouseBusy("busy")

    monkeypatch.setattr(warehouse, "warehouse_connect", locked)
    _as(client, users["admin"])

    preview = _htmx(
        client, "post", reverse("segments:preview"), _form(c0={"field": "orders", "op": "gte", "value": "1"})
    )
    page = client.get(reverse("segments:detail", args=[scored["segment"].pk]))

    assert preview.status_code == 200 and b'data-testid="preview-busy"' in preview.content
    assert page.status_code == 200 and b'data-testid="segment-busy"' in page.content


# ---- a segment's page -------------------------------------------------------------------------------


def test_the_segment_page_shows_definition_chart_changes_and_members(client, scored, users, settings):
    settings.LANGUAGE_CODE = "en"
    segment, people = scored["segment"], scored["people"]
    _as(client, users["admin"])

    html = client.get(reverse("segments:detail", args=[segment.pk])).content.decode()

    assert "Orders placed is at least 1 in the last 20 days" in html
    assert 'data-testid="segment-size-chart"' in html and "chart.umd.min.js" in html
    entered = html[html.index('data-testid="segment-entered"') :]
    entered = entered[: entered.index("</ul>")]
    left = html[html.index('data-testid="segment-left"') :]
    left = left[: left.index("</ul>")]
    assert reverse("customer:contact", args=[people["old"].pk]) in entered
    assert reverse("customer:contact", args=[people["best"].pk]) in left
    assert reverse("customer:contact", args=[people["fresh"].pk]) in left
    assert html.count('data-testid="member-row"') == 1


def test_a_sales_rep_sees_only_their_members_and_counts_of_the_others(client, scored, users):
    segment, people = scored["segment"], scored["people"]
    _as(client, users["other_rep"])
    html = client.get(reverse("segments:detail", args=[segment.pk])).content.decode()
    assert html.count('data-testid="member-row"') == 0
    assert "1 entered at the last run" in html and "2 left at the last run" in html
    assert people["old"].last_name not in html

    _as(client, users["rep"])
    html = client.get(reverse("segments:detail", args=[segment.pk])).content.decode()
    assert html.count('data-testid="member-row"') == 1 and people["old"].last_name in html
    assert people["best"].last_name not in html


def test_members_load_page_by_page(client, scored, users, monkeypatch):
    monkeypatch.setattr("cuore.analytics.views_segments.MEMBERS_PAGE", 1)
    segment, first = scored["segment"], scored["first"]
    _as(client, users["admin"])

    page = _htmx(client, "get", reverse("segments:members", args=[segment.pk]), {"run": first.pk})
    html = page.content.decode()
    assert html.count('data-testid="member-row"') == 1 and 'data-testid="members-load-more"' in html
    cursor = segments.segment_members(actor=users["admin"], segment=segment, run_id=first.pk, limit=1).next_cursor
    rest = _htmx(client, "get", reverse("segments:members", args=[segment.pk]), {"run": first.pk, "cursor": cursor})
    assert rest.content.decode().count('data-testid="member-row"') == 1
    assert b"members-load-more" not in rest.content
    assert client.get(reverse("segments:members", args=[segment.pk]), {"run": 999999}).status_code == 404


def test_the_pages_speak_italian(client, scored, users):
    users["admin"].language = "it"
    users["admin"].save()
    _as(client, users["admin"])
    client.cookies["django_language"] = "it"

    listed = client.get(reverse("segments:list"), headers={"accept-language": "it"}).content.decode()
    page = client.get(reverse("segments:detail", args=[scored["segment"].pk]), headers={"accept-language": "it"})

    assert "Segmenti" in listed and "Contatti all'ultima elaborazione" in listed
    assert "Definizione" in page.content.decode()


# ---- alert rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_the_rules_page_is_read_by_all_and_edited_by_managers_and_analysts(client, users, role):
    rule = AlertRule.objects.get(kind=AlertKind.P_ALIVE_BELOW)
    _as(client, users[role])

    page = client.get(reverse("segments:alert_rules"))
    assert page.status_code == 200
    assert page.content.decode().count('data-testid="rule"') == 2
    assert (b'data-testid="rule-form"' in page.content) == (role in RULE_WRITERS)
    response = _htmx(
        client,
        "post",
        reverse("segments:alert_rule_update", args=[rule.pk]),
        {"threshold": "0,4", "abc_classes": ["A", "B"], "active": "on"},
    )
    assert response.status_code == (200 if role in RULE_WRITERS else 403)
    rule.refresh_from_db()
    assert (rule.threshold, rule.abc_classes) == ((0.4, ["A", "B"]) if role in RULE_WRITERS else (0.5, ["A"]))


def test_a_wrong_threshold_is_shown_beside_it(client, users):
    rule = AlertRule.objects.get(kind=AlertKind.EXPECTED_PURCHASES_DROP)
    _as(client, users["manager"])

    response = _htmx(client, "post", reverse("segments:alert_rule_update", args=[rule.pk]), {"threshold": "2"})

    assert response.status_code == 422
    html = response.content.decode()
    assert 'data-testid="error-threshold">Enter a share above 0 and below 1.' in html
    assert 'data-testid="error-abc_classes">Choose at least one class.' in html
    assert 'value="2"' in html
    rule.refresh_from_db()
    assert rule.threshold == 0.5


def test_switching_a_rule_off_without_htmx_goes_back_to_the_page(client, users):
    rule = AlertRule.objects.get(kind=AlertKind.EXPECTED_PURCHASES_DROP)
    _as(client, users["analyst"])

    response = client.post(
        reverse("segments:alert_rule_update", args=[rule.pk]), {"threshold": "0.5", "abc_classes": ["A"]}
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.active is False
    assert AuditEntry.objects.get(action="alert_rule.update").changes == {"active": [True, False]}


def test_the_latest_alerts_are_those_on_contacts_one_may_see(client, users):
    from django.utils import timezone

    from cuore.contacts.tests.factories import make_contact

    rule = AlertRule.objects.get(kind=AlertKind.P_ALIVE_BELOW)
    run = AnalyticsRun.objects.create(started_at=timezone.now(), as_of=AS_OF, status="succeeded")
    mine = make_contact(first_name="Mine", last_name="Customer", owner=users["rep"])
    other = make_contact(first_name="Other", last_name="Customer")
    for contact in (mine, other):
        Alert.objects.create(
            rule=rule,
            contact=contact,
            run=run,
            outcome="no_owner",
            reason={
                "kind": "p_alive_below",
                "abc_class": "A",
                "threshold": 0.5,
                "p_alive": 0.41,
                "previous_p_alive": 0.82,
            },
        )
    _as(client, users["rep"])
    html = client.get(reverse("segments:alert_rules")).content.decode()
    assert html.count('data-testid="alert-row"') == 1
    assert "Mine Customer" in html and "Other Customer" not in html
    assert "P(alive) fell from 0.82 to 0.41" in html
