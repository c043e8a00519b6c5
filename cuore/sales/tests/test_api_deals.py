"""Deals, their actions and history, and the forecast through the API."""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry
from cuore.sales.models import Deal, DealStageChange
from cuore.sales.tests.factories import make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


@pytest.fixture
def rep(make_user, team):
    return make_user(role="sales", team=team, username="rep")


@pytest.fixture
def client(rep, api_for):
    return api_for(rep)


def test_create_deal_answers_ids_and_the_stage(client, rep, team, pipeline):
    contact, account = make_contact(owner=rep), make_account(owner=rep)

    response = client.post(
        "/deals",
        {
            "name": "Fornitura 2026",
            "amount": "12500.50",
            "currency": "EUR",
            "expected_close": "2026-06-30",
            "contact_id": contact.id,
            "account_id": account.id,
        },
    )

    assert response.status_code == 201
    deal = Deal.objects.get()
    lead = stage_of(pipeline, "Lead")
    assert response.json_body == {
        "id": deal.id,
        "name": "Fornitura 2026",
        "pipeline_id": pipeline.id,
        "stage_id": lead.id,
        "stage_name": "Lead",
        "stage_probability": 10,
        "amount": "12500.50",
        "currency": "EUR",
        "expected_close": "2026-06-30",
        "status": "open",
        "lost_reason": "",
        "closed_at": None,
        "owner_id": rep.id,
        "team_id": team.id,
        "contact_id": contact.id,
        "account_id": account.id,
        "created_at": response.json_body["created_at"],
        "updated_at": response.json_body["updated_at"],
    }
    assert AuditEntry.objects.filter(action="deal.create", channel="api", object_id=str(deal.id)).count() == 1
    assert DealStageChange.objects.filter(deal=deal, to_stage=lead, to_status="open").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "D", "amount": -1}, "amount"),
        ({"name": "D", "amount": "1.234"}, "amount"),
        ({"name": "D", "amount": "lots"}, "amount"),
        ({"name": "D", "amount": "1000000000000"}, "amount"),
        ({"name": "D", "currency": "EURO"}, "currency"),
        ({"name": "D", "currency": "QQQ"}, "currency"),
        ({"name": "D", "expected_close": "30/06/2026"}, "expected_close"),
        ({"name": "D", "pipeline_id": 999999}, "pipeline_id"),
        ({"name": "D", "stage_id": 999999}, "stage_id"),
        ({"name": "D", "stage_id": 2**70}, "stage_id"),
        ({"name": "D", "stage_id": "first"}, "stage_id"),
        ({"name": "D", "owner_id": 999999}, "owner_id"),
        ({"name": "D", "team_id": 999999}, "team_id"),
        ({"name": "D", "contact_id": 999999}, "contact_id"),
        ({"name": "D", "account_id": 0}, "account_id"),
        ({"name": "a\u0000b"}, "name"),
    ],
)
def test_create_deal_validation_names_the_field(client, pipeline, body, field):
    response = client.post("/deals", body)

    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == [field]
    assert not Deal.objects.exists()


def test_create_deal_refuses_links_the_rep_cannot_see(client, make_user, other_team, pipeline):
    stranger = make_user(role="sales", team=other_team)
    hidden_contact, hidden_account = make_contact(owner=stranger), make_account(owner=stranger)

    responses = [
        client.post("/deals", {"name": "D", "contact_id": hidden_contact.id}),
        client.post("/deals", {"name": "D", "account_id": hidden_account.id}),
        client.post("/deals", {"name": "D", "owner_id": stranger.id}),
    ]

    assert [(r.status_code, r.json_body["errors"]) for r in responses] == [
        (422, [{"field": "contact_id", "reason": "not found"}]),
        (422, [{"field": "account_id", "reason": "not found"}]),
        (422, [{"field": "owner_id", "reason": "must be you or a member of your team"}]),
    ]


def test_create_deal_with_a_stage_of_another_pipeline_is_422_on_stage_id(client, pipeline):
    other = make_pipeline(name="Renewals", stages=(("Due", 60),))

    response = client.post("/deals", {"name": "D", "pipeline_id": pipeline.id, "stage_id": stage_of(other, "Due").id})
    in_other = client.post("/deals", {"name": "E", "stage_id": stage_of(other, "Due").id})

    assert response.status_code == 422
    assert response.json_body["errors"] == [{"field": "stage_id", "reason": "belongs to another pipeline"}]
    assert (in_other.status_code, in_other.json_body["pipeline_id"]) == (201, other.id)


def test_idempotent_deal_create(client, pipeline):
    body = {"name": "Once", "amount": "10"}

    first = client.post("/deals", body, headers={"Idempotency-Key": "deal-1"})
    again = client.post("/deals", body, headers={"Idempotency-Key": "deal-1"})
    other = client.post("/deals", {"name": "Twice"}, headers={"Idempotency-Key": "deal-1"})

    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert first.json_body == again.json_body
    assert Deal.objects.count() == 1
    assert DealStageChange.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'"text"', b"null", b'{"name": 12345}', b'{"name": null}', b'{"name": "D", "amount": {}}'],
)
def test_malformed_bodies_are_4xx_never_500(client, pipeline, body):
    response = client.post("/deals", raw=body)

    assert 400 <= response.status_code < 500
    assert not Deal.objects.exists()


def test_huge_or_negative_ids_in_paths_are_not_errors_of_ours(client, pipeline):
    assert client.get(f"/deals/{2**70}").status_code == 422
    assert client.get("/deals/0").status_code == 422
    assert client.get("/deals/999999").status_code == 404


def test_update_deal(client, rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, name="Old", amount="5.00")
    contact = make_contact(owner=rep)

    response = client.patch(f"/deals/{deal.id}", {"name": "New", "amount": "7.25", "contact_id": contact.id})
    unlink = client.patch(f"/deals/{deal.id}", {"contact_id": None})
    bad = client.patch(f"/deals/{deal.id}", {"amount": "1", "currency": "eu"})
    no_amount = client.patch(f"/deals/{deal.id}", {"amount": None, "name": None})

    assert (response.status_code, response.json_body["name"], response.json_body["amount"]) == (200, "New", "7.25")
    assert response.json_body["contact_id"] == contact.id
    assert (unlink.status_code, unlink.json_body["contact_id"]) == (200, None)
    assert bad.status_code == 422
    assert {error["field"] for error in bad.json_body["errors"]} == {"currency"}
    assert (no_amount.status_code, no_amount.json_body["errors"]) == (
        422,
        [{"field": "name", "reason": "is required"}, {"field": "amount", "reason": "must be a number"}],
    )
    deal.refresh_from_db()
    assert (deal.name, str(deal.amount), deal.contact_id) == ("New", "7.25", None)


def test_update_deal_ignores_the_fields_it_does_not_know(client, rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)

    response = client.patch(f"/deals/{deal.id}", {"status": "won", "stage_id": stage_of(pipeline, "Proposal").id})

    assert (response.status_code, response.json_body["status"], response.json_body["stage_name"]) == (
        200,
        "open",
        "Lead",
    )


def test_delete_deal(client, rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)

    response = client.delete(f"/deals/{deal.id}")

    assert response.status_code == 204
    assert not Deal.objects.exists()
    assert client.get(f"/deals/{deal.id}").status_code == 404
    assert AuditEntry.objects.filter(action="deal.delete", object_id=str(deal.id)).count() == 1


def test_move_win_reopen_lose_and_history(client, rep, pipeline):
    deal = client.post("/deals", {"name": "Journey"}).json_body
    proposal = stage_of(pipeline, "Proposal")

    moved = client.post(f"/deals/{deal['id']}/move", {"stage_id": proposal.id})
    won = client.post(f"/deals/{deal['id']}/win")
    move_won = client.post(f"/deals/{deal['id']}/move", {"stage_id": stage_of(pipeline, "Lead").id})
    win_again = client.post(f"/deals/{deal['id']}/win")
    reopened = client.post(f"/deals/{deal['id']}/reopen")
    lost = client.post(f"/deals/{deal['id']}/lose", {"reason": "Budget cut"})
    history = client.get(f"/deals/{deal['id']}/history")

    assert (moved.status_code, moved.json_body["stage_id"], moved.json_body["stage_name"]) == (
        200,
        proposal.id,
        "Proposal",
    )
    assert moved.json_body["stage_probability"] == 50
    assert (won.status_code, won.json_body["status"]) == (200, "won")
    assert won.json_body["closed_at"] is not None
    assert move_won.status_code == 409
    assert move_won.json_body["errors"] == [{"field": "status", "reason": move_won.json_body["detail"]}]
    assert win_again.status_code == 409
    assert (reopened.status_code, reopened.json_body["status"], reopened.json_body["closed_at"]) == (200, "open", None)
    assert (lost.status_code, lost.json_body["status"], lost.json_body["lost_reason"]) == (200, "lost", "Budget cut")
    assert history.status_code == 200
    assert [
        (h["from_stage_name"], h["to_stage_name"], h["from_status"], h["to_status"], h["changed_by_id"])
        for h in history.json_body["results"]
    ] == [
        ("Proposal", "Proposal", "open", "lost", rep.id),
        ("Proposal", "Proposal", "won", "open", rep.id),
        ("Proposal", "Proposal", "open", "won", rep.id),
        ("Lead", "Proposal", "open", "open", rep.id),
        (None, "Lead", "", "open", rep.id),
    ]


def test_move_validation(client, rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)
    other = make_pipeline(name="Other", stages=(("Elsewhere", 40),))

    cases = [
        client.post(f"/deals/{deal.id}/move", {"stage_id": stage_of(other, "Elsewhere").id}),
        client.post(f"/deals/{deal.id}/move", {"stage_id": 999999}),
        client.post(f"/deals/{deal.id}/move", {}),
    ]

    assert [(r.status_code, r.json_body["errors"]) for r in cases] == [
        (422, [{"field": "stage_id", "reason": "belongs to another pipeline"}]),
        (422, [{"field": "stage_id", "reason": "not found"}]),
        (422, [{"field": "stage_id", "reason": "Field required"}]),
    ]
    assert not DealStageChange.objects.exists()


def test_lose_needs_a_reason(client, rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)

    missing = client.post(f"/deals/{deal.id}/lose", {})
    blank = client.post(f"/deals/{deal.id}/lose", {"reason": "   "})
    nul = client.post(f"/deals/{deal.id}/lose", {"reason": "\u0000"})

    assert (missing.status_code, [e["field"] for e in missing.json_body["errors"]]) == (422, ["reason"])
    assert (blank.status_code, blank.json_body["errors"]) == (422, [{"field": "reason", "reason": "is required"}])
    assert (nul.status_code, nul.json_body["errors"]) == (
        422,
        [{"field": "reason", "reason": "must not contain NUL characters"}],
    )
    deal.refresh_from_db()
    assert deal.status == "open"


def test_list_filters(client, rep, pipeline, team):
    a = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, name="Acme", expected_close=dt.date(2026, 3, 1))
    b = make_deal(stage=stage_of(pipeline, "Proposal"), owner=rep, name="Beta", status="won")
    c = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, name="Acme two", expected_close=dt.date(2026, 5, 1))

    def ids(**params):
        response = client.get("/deals", params)
        assert response.status_code == 200
        return [deal["id"] for deal in response.json_body["results"]]

    assert ids(status="won") == [b.id]
    assert ids(stage_id=stage_of(pipeline, "Lead").id) == [c.id, a.id]
    assert ids(q="acme t") == [c.id]
    assert client.get("/deals", {"q": "acme\u0000"}).json_body["errors"] == [
        {"field": "q", "reason": "must not contain NUL characters"}
    ]
    assert ids(expected_close_from="2026-02-01", expected_close_to="2026-04-01") == [a.id]
    assert ids(owner_id=rep.id, team_id=team.id, pipeline_id=pipeline.id) == [c.id, b.id, a.id]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "maybe"}, "status"),
        ({"ordering": "amount"}, "ordering"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "garbage!!"}, "cursor"),
        ({"expected_close_from": "yesterday"}, "expected_close_from"),
        ({"owner_id": "me"}, "owner_id"),
        ({"stage_id": 2**70}, "stage_id"),
        ({"q": "x" * 201}, "q"),
        ({"expected_close_to": "10000-01-01"}, "expected_close_to"),
    ],
)
def test_list_validation(client, params, field):
    response = client.get("/deals", params)

    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == [field]


def test_every_ordering_pages_through_the_deals(client, rep, pipeline):
    lead = stage_of(pipeline, "Lead")
    specs = [
        ("Delta", "300.00", dt.date(2026, 4, 1)),
        ("alpha", "300.00", None),
        ("Échelle", "50.00", dt.date(2026, 2, 1)),
        ("Bravo", "999.99", dt.date(2026, 4, 1)),
        ("charlie", "0.00", dt.date(2026, 1, 1)),
    ]
    deals = {
        name: make_deal(stage=lead, owner=rep, name=name, amount=amount, expected_close=close)
        for name, amount, close in specs
    }
    expected = {
        "-created": ["charlie", "Bravo", "Échelle", "alpha", "Delta"],
        "name": ["alpha", "Bravo", "charlie", "Delta", "Échelle"],
        "-amount": ["Bravo", "alpha", "Delta", "Échelle", "charlie"],
        "expected_close": ["charlie", "Échelle", "Delta", "Bravo"],
    }
    assert deals["alpha"].id > deals["Delta"].id  # "-amount" breaks the tie by newest id first

    for ordering, names in expected.items():
        seen, cursor = [], None
        while True:
            params = {"ordering": ordering, "limit": 2, **({"cursor": cursor} if cursor else {})}
            body = client.get("/deals", params).json_body
            seen += [deal["name"] for deal in body["results"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert seen == names, ordering


def test_a_cursor_of_one_ordering_is_refused_by_another(client, rep, pipeline):
    for _ in range(3):
        make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)
    cursor = client.get("/deals", {"ordering": "name", "limit": 1}).json_body["next_cursor"]

    response = client.get("/deals", {"ordering": "-amount", "cursor": cursor})

    assert (response.status_code, response.json_body["errors"][0]["field"]) == (422, "cursor")


def test_forecast_numbers(client, rep, pipeline):
    lead, proposal = stage_of(pipeline, "Lead"), stage_of(pipeline, "Proposal")
    other = make_pipeline(name="Renewals", stages=(("Due", 25),))
    make_deal(stage=lead, owner=rep, amount="1000.00", expected_close=dt.date(2026, 3, 10))
    make_deal(stage=proposal, owner=rep, amount="333.33", expected_close=dt.date(2026, 3, 31))
    make_deal(stage=proposal, owner=rep, amount="80.00")
    make_deal(stage=stage_of(other, "Due"), owner=rep, amount="200.00", expected_close=dt.date(2026, 7, 1))
    make_deal(stage=proposal, owner=rep, amount="5000.00", expected_close=dt.date(2026, 3, 1), status="won")

    everything = client.get("/forecast")
    renewals = client.get("/forecast", {"pipeline_id": other.id})

    assert everything.status_code == 200
    assert everything.json_body == {
        "pipeline_id": None,
        "months": [
            {"month": "2026-03", "currency": "EUR", "deals": 2, "amount": "1333.33", "weighted_amount": "266.67"},
            {"month": "2026-07", "currency": "EUR", "deals": 1, "amount": "200.00", "weighted_amount": "50.00"},
            {"month": None, "currency": "EUR", "deals": 1, "amount": "80.00", "weighted_amount": "40.00"},
        ],
        "totals": [{"currency": "EUR", "deals": 4, "amount": "1613.33", "weighted_amount": "356.67"}],
    }
    assert renewals.json_body == {
        "pipeline_id": other.id,
        "months": [{"month": "2026-07", "currency": "EUR", "deals": 1, "amount": "200.00", "weighted_amount": "50.00"}],
        "totals": [{"currency": "EUR", "deals": 1, "amount": "200.00", "weighted_amount": "50.00"}],
    }
    assert client.get("/forecast", {"pipeline_id": "x"}).status_code == 422


def test_deal_list_query_count_is_constant(client, rep, pipeline, django_assert_num_queries):
    for i in range(30):
        make_deal(stage=stage_of(pipeline, ("Lead", "Proposal", "Negotiation")[i % 3]), owner=rep)
    client.get("/me")  # the token's last-use time is written once a minute at most

    # token, deals with their stage
    with django_assert_num_queries(2):
        small = client.get("/deals", {"limit": 5})
    with django_assert_num_queries(2):
        large = client.get("/deals", {"limit": 25, "ordering": "name", "q": "deal"})

    assert (len(small.json_body["results"]), len(large.json_body["results"])) == (5, 25)
    assert {deal["stage_name"] for deal in large.json_body["results"]} == {"Lead", "Proposal", "Negotiation"}


def test_deal_detail_query_count(client, rep, pipeline, django_assert_num_queries):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)
    client.get("/me")

    # token, deal with its stage
    with django_assert_num_queries(2):
        response = client.get(f"/deals/{deal.id}")

    assert response.json_body["stage_name"] == "Lead"


def test_deal_history_query_count_is_constant(client, rep, pipeline, django_assert_num_queries):
    deal = client.post("/deals", {"name": "Busy"}).json_body
    for name in ["Proposal", "Negotiation", "Lead", "Proposal", "Negotiation"]:
        client.post(f"/deals/{deal['id']}/move", {"stage_id": stage_of(pipeline, name).id})

    # token, deal, changes with both stages
    with django_assert_num_queries(3):
        small = client.get(f"/deals/{deal['id']}/history", {"limit": 2})
    with django_assert_num_queries(3):
        large = client.get(f"/deals/{deal['id']}/history")

    assert (len(small.json_body["results"]), len(large.json_body["results"])) == (2, 6)


def test_forecast_query_count(client, rep, pipeline, django_assert_num_queries):
    for i in range(10):
        make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, expected_close=dt.date(2026, 1 + i, 1))
    client.get("/me")

    # token, the grouped sums
    with django_assert_num_queries(2):
        response = client.get("/forecast")

    assert len(response.json_body["months"]) == 10
