"""Every service endpoint for every role, validation answers, idempotency, pagination and query counts."""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.core.models import AuditEntry
from cuore.service import services
from cuore.service.models import Article, Queue, SlaPolicy, Ticket

from .conftest import DEFAULT_MINUTES, START, targets_of

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "sales", "support", "marketing", "analyst"]

# What each role gets: a success code, 403 (sees but may not change) or 404 (may not see at all).
TICKET_READ = {"admin": 200, "manager": 200, "support": 200, "analyst": 200, "sales": 404, "marketing": 404}
TICKET_WRITE = {"admin": 1, "manager": 1, "support": 1, "analyst": 403, "sales": 404, "marketing": 404}
CONFIG_READ = TICKET_READ
CONFIG_WRITE = {"admin": 1, "manager": 1, "support": 403, "analyst": 403, "sales": 404, "marketing": 404}
ARTICLE_WRITE = {"admin": 1, "manager": 1, "support": 1, "analyst": 403, "sales": 403, "marketing": 403}
DRAFT_READ = {"admin": 200, "manager": 200, "support": 200, "analyst": 404, "sales": 404, "marketing": 404}


def expected(rule: int, success: int) -> int:
    return success if rule == 1 else rule


def policy_body(name: str = "Premium", **overrides) -> dict:
    minutes = dict(DEFAULT_MINUTES, **overrides)
    return {
        "name": name,
        "targets": [
            {"priority": p, "first_response_minutes": first, "resolution_minutes": resolution}
            for p, (first, resolution) in minutes.items()
        ],
    }


@pytest.fixture
def client_for(users_by_role, api_for):
    clients = {}

    def get(role: str):
        if role not in clients:
            clients[role] = api_for(users_by_role[role])
        return clients[role]

    return get


@pytest.fixture
def ticket(default_policy, make_ticket):
    return make_ticket(priority="high")


def errors_of(response) -> dict[str, str]:
    return {item["field"]: item["reason"] for item in response.json_body["errors"]}


# ---- SLA policies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_sla_policy_reads(client_for, default_policy, role):
    client = client_for(role)

    listed = client.get("/sla-policies")
    detail = client.get(f"/sla-policies/{default_policy.pk}")

    assert (listed.status_code, detail.status_code) == (CONFIG_READ[role], CONFIG_READ[role])
    if CONFIG_READ[role] == 200:
        assert [p["name"] for p in listed.json_body["results"]] == ["Standard"]
        assert detail.json_body["targets"] == [
            {"priority": "low", "first_response_minutes": 480, "resolution_minutes": 4800},
            {"priority": "normal", "first_response_minutes": 240, "resolution_minutes": 2400},
            {"priority": "high", "first_response_minutes": 60, "resolution_minutes": 480},
            {"priority": "urgent", "first_response_minutes": 15, "resolution_minutes": 120},
        ]


@pytest.mark.parametrize("role", ROLES)
def test_sla_policy_create(client_for, role):
    response = client_for(role).post("/sla-policies", policy_body() | {"is_default": True})

    assert response.status_code == expected(CONFIG_WRITE[role], 201)
    if response.status_code == 201:
        assert response.json_body["name"] == "Premium"
        assert response.json_body["is_default"] is True
        assert [t["priority"] for t in response.json_body["targets"]] == ["low", "normal", "high", "urgent"]
        assert AuditEntry.objects.filter(action="sla_policy.create").count() == 1
    else:
        assert not SlaPolicy.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_sla_policy_update(client_for, default_policy, role):
    body = policy_body("Standard v2", urgent=(10, 100))

    response = client_for(role).patch(f"/sla-policies/{default_policy.pk}", body)

    assert response.status_code == expected(CONFIG_WRITE[role], 200)
    default_policy.refresh_from_db()
    if response.status_code == 200:
        assert default_policy.name == "Standard v2"
        assert response.json_body["targets"][3] == {
            "priority": "urgent",
            "first_response_minutes": 10,
            "resolution_minutes": 100,
        }
    else:
        assert default_policy.name == "Standard"


def test_sla_policy_resolution_shorter_than_first_response_is_422(client_for):
    response = client_for("admin").post("/sla-policies", policy_body(high=(60, 59)))

    assert response.status_code == 422
    assert errors_of(response) == {
        "targets.2.resolution_minutes": "must be at least the first response time (60 minutes)"
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "targets": []}, "name"),
        ({"name": "X"}, "targets"),
        (
            {"name": "X", "targets": [{"priority": "asap", "first_response_minutes": 1, "resolution_minutes": 2}]},
            "targets.0.priority",
        ),
        (
            {"name": "X", "targets": [{"priority": "low", "first_response_minutes": "soon", "resolution_minutes": 2}]},
            "targets.0.first_response_minutes",
        ),
    ],
)
def test_sla_policy_bad_bodies_are_422_with_field(client_for, body, field):
    response = client_for("admin").post("/sla-policies", body)

    assert response.status_code == 422
    assert field in errors_of(response)


def test_sla_policy_patch_null_name_is_422(client_for, default_policy):
    response = client_for("admin").patch(f"/sla-policies/{default_policy.pk}", {"name": None})

    assert response.status_code == 422
    assert errors_of(response) == {"name": "is required"}


def test_unknown_sla_policy_is_404(client_for):
    assert client_for("admin").get("/sla-policies/999999").status_code == 404
    assert client_for("admin").patch("/sla-policies/999999", {"name": "x"}).status_code == 404


# ---- queues ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_queue_reads(client_for, gold_queue, plain_queue, role):
    client = client_for(role)

    listed = client.get("/queues")
    detail = client.get(f"/queues/{gold_queue.pk}")

    assert (listed.status_code, detail.status_code) == (CONFIG_READ[role], CONFIG_READ[role])
    if CONFIG_READ[role] == 200:
        assert [q["name"] for q in listed.json_body["results"]] == ["General", "Gold customers"]
        assert detail.json_body == {
            "id": gold_queue.pk,
            "name": "Gold customers",
            "sla_policy_id": gold_queue.sla_policy_id,
            "team_id": None,
        }


def test_queue_list_filters_by_policy(client_for, gold_queue, plain_queue):
    response = client_for("support").get("/queues", {"sla_policy_id": gold_queue.sla_policy_id})

    assert [q["name"] for q in response.json_body["results"]] == ["Gold customers"]


@pytest.mark.parametrize("role", ROLES)
def test_queue_create(client_for, gold_policy, team, role):
    body = {"name": "VIP", "sla_policy_id": gold_policy.pk, "team_id": team.pk}

    response = client_for(role).post("/queues", body)

    assert response.status_code == expected(CONFIG_WRITE[role], 201)
    if response.status_code == 201:
        assert response.json_body == {
            "id": Queue.objects.get().pk,
            "name": "VIP",
            "sla_policy_id": gold_policy.pk,
            "team_id": team.pk,
        }
    else:
        assert not Queue.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_queue_update(client_for, plain_queue, gold_policy, role):
    response = client_for(role).patch(f"/queues/{plain_queue.pk}", {"sla_policy_id": gold_policy.pk})

    assert response.status_code == expected(CONFIG_WRITE[role], 200)
    plain_queue.refresh_from_db()
    assert plain_queue.sla_policy_id == (gold_policy.pk if response.status_code == 200 else None)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "Q", "sla_policy_id": 999999}, {"sla_policy_id": "not found"}),
        ({"name": "Q", "team_id": 999999}, {"team_id": "not found"}),
        ({"name": "General"}, {"name": "a queue with this name already exists"}),
    ],
)
def test_queue_bad_references_are_422(client_for, plain_queue, body, errors):
    response = client_for("manager").post("/queues", body)

    assert response.status_code == 422
    assert errors_of(response) == errors


# ---- tickets: reads ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_ticket_reads(client_for, ticket, role):
    client = client_for(role)

    listed = client.get("/tickets")
    detail = client.get(f"/tickets/{ticket.pk}")

    assert (listed.status_code, detail.status_code) == (TICKET_READ[role], TICKET_READ[role])
    if TICKET_READ[role] == 200:
        assert [t["number"] for t in listed.json_body["results"]] == [ticket.number]
        assert detail.json_body["number"] == ticket.number
        assert "description" not in listed.json_body["results"][0]


def test_ticket_detail_carries_sla_state(client_for, clock, default_policy, make_ticket, contact, make_user):
    agent = make_user(role="support", username="giulia")
    ticket = make_ticket(priority="high", contact=contact, assignee=agent)
    clock.advance(minutes=10, seconds=30)

    body = client_for("support").get(f"/tickets/{ticket.pk}").json_body

    assert body["contact_name"] == "Anna Neri"
    assert body["assignee_username"] == "giulia"
    assert body["account_id"] == ticket.account_id
    first = body["sla"]["first_response"]
    assert first["running"] is True
    assert first["breached"] is False
    assert first["stopped_at"] is None
    assert first["due"] == (START + dt.timedelta(minutes=60)).isoformat().replace("+00:00", "Z")
    # Due 60 minutes after creation, read 10½ minutes after it: 49 whole minutes left.
    assert first["remaining_minutes"] == 49
    assert body["sla"]["resolution"]["remaining_minutes"] == 469


def test_unknown_ticket_is_404(client_for):
    assert client_for("support").get("/tickets/424242").status_code == 404
    assert client_for("support").post("/tickets/424242/status", {"status": "open"}).status_code == 404


def test_ticket_list_filters_through_api(client_for, make_ticket, default_policy, users_by_role):
    support = users_by_role["support"]
    mine = make_ticket("mine", assignee=support)
    pending = make_ticket("pending one")
    services.ticket_set_status(actor=None, ticket=pending, status="pending")
    solved = make_ticket("solved one")
    services.ticket_set_status(actor=None, ticket=solved, status="solved")
    client = client_for("support")

    def numbers(params):
        response = client.get("/tickets", params)
        assert response.status_code == 200, response.json_body
        return [t["subject"] for t in response.json_body["results"]]

    assert numbers({"assignee_id": "me"}) == ["mine"]
    assert numbers({"status": ["pending", "solved"]}) == ["solved one", "pending one"]
    assert numbers({"status": "pending,solved"}) == ["solved one", "pending one"]
    assert numbers({"status": "new"}) == ["mine"]
    assert numbers({"q": mine.number}) == ["mine"]
    assert numbers({"q": "ONE"}) == ["solved one", "pending one"]
    assert numbers({"breached": "false", "priority": "normal"}) == ["solved one", "pending one", "mine"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "archived"}, "status.0"),
        ({"priority": "asap"}, "priority"),
        ({"assignee_id": "somebody"}, "assignee_id"),
        ({"ordering": "subject"}, "ordering"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"breached": "maybe"}, "breached"),
    ],
)
def test_ticket_list_bad_params_are_422(client_for, params, field):
    response = client_for("support").get("/tickets", params)

    assert response.status_code == 422
    assert list(errors_of(response)) == [field]


def test_ticket_list_paginates_newest_first(client_for, make_ticket):
    created = [make_ticket(f"t{i}") for i in range(5)]
    client = client_for("manager")

    first = client.get("/tickets", {"limit": 2})
    second = client.get("/tickets", {"limit": 2, "cursor": first.json_body["next_cursor"]})
    third = client.get("/tickets", {"limit": 2, "cursor": second.json_body["next_cursor"]})

    seen = [t["id"] for page in (first, second, third) for t in page.json_body["results"]]
    assert seen == [t.pk for t in reversed(created)]
    assert third.json_body["next_cursor"] is None


def test_ticket_list_by_resolution_due(client_for, clock, default_policy, make_ticket, plain_queue):
    low = make_ticket("low", priority="low")
    urgent = make_ticket("urgent", priority="urgent")
    clock.advance(minutes=1)
    high = make_ticket("high", priority="high")
    normal = make_ticket("normal", priority="normal")
    client = client_for("support")

    first = client.get("/tickets", {"ordering": "resolution_due", "limit": 3})
    rest = client.get("/tickets", {"ordering": "resolution_due", "limit": 3, "cursor": first.json_body["next_cursor"]})
    other_ordering = client.get("/tickets", {"ordering": "-created", "cursor": first.json_body["next_cursor"]})

    assert [t["id"] for t in first.json_body["results"]] == [urgent.pk, high.pk, normal.pk]
    assert [t["id"] for t in rest.json_body["results"]] == [low.pk]
    assert other_ordering.status_code == 422


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/tickets", {"queue_id": 10**20}, "queue_id"),
        ("/tickets", {"contact_id": 0}, "contact_id"),
        ("/tickets", {"q": "TCK\x00"}, "q"),
        ("/articles", {"q": "router\x00"}, "q"),
        ("/articles", {"language": "e\x00n"}, "language"),
        ("/queues", {"team_id": -1}, "team_id"),
    ],
)
def test_out_of_range_ids_and_nul_characters_in_filters_are_422(client_for, path, params, field):
    response = client_for("admin").get(path, params)

    assert response.status_code == 422
    assert list(errors_of(response)) == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "x", "contact_id": 2**63}, "contact_id"),
        ({"subject": "x", "assignee_id": 10**30}, "assignee_id"),
        ({"subject": "x\x00y"}, "subject"),
        ({"subject": "x", "description": "\x00"}, "description"),
    ],
)
def test_out_of_range_ids_and_nul_characters_in_bodies_are_422(client_for, body, field):
    response = client_for("admin").post("/tickets", body)

    assert response.status_code == 422
    assert list(errors_of(response)) == [field]
    assert not Ticket.objects.exists()


# ---- tickets: writes -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_ticket_create(client_for, clock, default_policy, role):
    response = client_for(role).post("/tickets", {"subject": "Cannot log in", "priority": "urgent", "channel": "chat"})

    assert response.status_code == expected(TICKET_WRITE[role], 201)
    if response.status_code == 201:
        created = Ticket.objects.get()
        body = response.json_body
        assert (body["id"], body["number"], body["status"]) == (created.pk, f"TCK-{created.pk:06d}", "new")
        assert body["first_response_due"] == "2026-03-02T09:15:00Z"
        assert body["sla"]["first_response"]["remaining_minutes"] == 15
        assert AuditEntry.objects.get(action="ticket.create").channel == "api"
    else:
        assert not Ticket.objects.exists()


def test_ticket_create_for_contact_takes_primary_account_even_for_support(client_for, default_policy, contact, account):
    response = client_for("support").post("/tickets", {"subject": "Broken", "contact_id": contact.pk})

    assert response.status_code == 201
    assert (response.json_body["contact_id"], response.json_body["account_id"]) == (contact.pk, account.pk)


def test_support_may_not_name_an_account(client_for, default_policy, account):
    response = client_for("support").post("/tickets", {"subject": "Broken", "account_id": account.pk})

    assert response.status_code == 422
    assert errors_of(response) == {"account_id": "not found"}
    assert not Ticket.objects.exists()


def test_manager_may_name_an_account(client_for, default_policy, other_account, contact):
    response = client_for("manager").post(
        "/tickets", {"subject": "Broken", "account_id": other_account.pk, "contact_id": contact.pk}
    )

    assert response.status_code == 201
    assert response.json_body["account_id"] == other_account.pk


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"subject": "Field required"}),
        ({"subject": "   "}, {"subject": "is required"}),
        ({"subject": "x", "contact_id": 999999}, {"contact_id": "not found"}),
        ({"subject": "x", "queue_id": 999999}, {"queue_id": "not found"}),
        ({"subject": "x", "assignee_id": 999999}, {"assignee_id": "not found"}),
    ],
)
def test_ticket_create_422s(client_for, body, errors):
    response = client_for("support").post("/tickets", body)

    assert response.status_code == 422
    assert errors_of(response) == errors


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "x", "priority": "asap"}, "priority"),
        ({"subject": "x", "channel": "fax"}, "channel"),
        ({"subject": "x" * 201}, "subject"),
    ],
)
def test_ticket_create_enumerations_and_lengths_are_422(client_for, body, field):
    response = client_for("support").post("/tickets", body)

    assert response.status_code == 422
    assert list(errors_of(response)) == [field]


def test_ticket_create_with_non_agent_assignee_is_422(client_for, users_by_role):
    response = client_for("manager").post("/tickets", {"subject": "x", "assignee_id": users_by_role["sales"].pk})

    assert response.status_code == 422
    assert errors_of(response) == {"assignee_id": "must be an active user with the support, manager or admin role"}


def test_ticket_create_is_idempotent(client_for, default_policy):
    client = client_for("support")
    headers = {"Idempotency-Key": "ticket-1"}

    first = client.post("/tickets", {"subject": "Once"}, headers=headers)
    again = client.post("/tickets", {"subject": "Once"}, headers=headers)
    other = client.post("/tickets", {"subject": "Twice"}, headers=headers)

    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert first.json_body == again.json_body
    assert Ticket.objects.count() == 1
    assert AuditEntry.objects.filter(action="ticket.create").count() == 1


@pytest.mark.parametrize(
    "body", [b"{not json", b"[]", b'"text"', b"null", b'{"subject": 12}', b'{"subject": null}', b'{"subject": []}']
)
def test_malformed_ticket_bodies_are_4xx(client_for, body):
    response = client_for("support").post("/tickets", raw=body)

    assert 400 <= response.status_code < 500
    assert not Ticket.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_ticket_update(client_for, ticket, role):
    response = client_for(role).patch(f"/tickets/{ticket.pk}", {"subject": "Printer fixed?", "priority": "low"})

    assert response.status_code == expected(TICKET_WRITE[role], 200)
    ticket.refresh_from_db()
    if response.status_code == 200:
        assert (ticket.subject, ticket.priority) == ("Printer fixed?", "low")
        assert ticket.resolution_due == ticket.created_at + dt.timedelta(minutes=4800)
    else:
        assert (ticket.subject, ticket.priority) == ("Printer jammed", "high")


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"subject": None}, {"subject": "is required"}),
        ({"priority": None}, {"priority": "must be one of low, normal, high, urgent"}),
        ({"queue_id": 999999}, {"queue_id": "not found"}),
    ],
)
def test_ticket_update_422s(client_for, ticket, body, errors):
    response = client_for("support").patch(f"/tickets/{ticket.pk}", body)

    assert response.status_code == 422
    assert errors_of(response) == errors


def test_ticket_update_clears_queue_with_null(client_for, ticket, plain_queue):
    services.ticket_update(actor=None, ticket=ticket, data={"queue": plain_queue})

    response = client_for("support").patch(f"/tickets/{ticket.pk}", {"queue_id": None})

    assert response.status_code == 200
    assert response.json_body["queue_id"] is None


@pytest.mark.parametrize("role", ROLES)
def test_ticket_status_action(client_for, ticket, role):
    response = client_for(role).post(f"/tickets/{ticket.pk}/status", {"status": "open"})

    assert response.status_code == expected(TICKET_WRITE[role], 200)
    ticket.refresh_from_db()
    assert ticket.status == ("open" if response.status_code == 200 else "new")
    if response.status_code == 200:
        assert response.json_body["first_response_at"] is not None
        assert response.json_body["sla"]["first_response"]["running"] is False


def test_refused_transition_is_409_naming_it(client_for, ticket):
    client = client_for("support")
    client.post(f"/tickets/{ticket.pk}/status", {"status": "solved"})
    client.post(f"/tickets/{ticket.pk}/status", {"status": "closed"})

    response = client.post(f"/tickets/{ticket.pk}/status", {"status": "open"})

    assert response.status_code == 409
    assert response.json_body["detail"] == "A ticket cannot go from closed to open (allowed: none)."
    assert errors_of(response) == {"status": "A ticket cannot go from closed to open (allowed: none)."}


def test_unknown_status_is_422(client_for, ticket):
    response = client_for("support").post(f"/tickets/{ticket.pk}/status", {"status": "archived"})

    assert response.status_code == 422
    assert list(errors_of(response)) == ["status"]


@pytest.mark.parametrize("role", ROLES)
def test_ticket_assign_action(client_for, ticket, users_by_role, role):
    agent = users_by_role["support"]

    response = client_for(role).post(f"/tickets/{ticket.pk}/assign", {"assignee_id": agent.pk})

    assert response.status_code == expected(TICKET_WRITE[role], 200)
    ticket.refresh_from_db()
    assert ticket.assignee_id == (agent.pk if response.status_code == 200 else None)


def test_assign_to_non_agent_is_422_and_null_unassigns(client_for, ticket, users_by_role):
    client = client_for("manager")
    client.post(f"/tickets/{ticket.pk}/assign", {"assignee_id": users_by_role["admin"].pk})

    refused = client.post(f"/tickets/{ticket.pk}/assign", {"assignee_id": users_by_role["marketing"].pk})
    cleared = client.post(f"/tickets/{ticket.pk}/assign", {"assignee_id": None})

    assert refused.status_code == 422
    assert list(errors_of(refused)) == ["assignee_id"]
    assert (cleared.status_code, cleared.json_body["assignee_id"]) == (200, None)


@pytest.mark.parametrize("role", ROLES)
def test_first_response_action(client_for, ticket, role):
    response = client_for(role).post(f"/tickets/{ticket.pk}/first-response")

    assert response.status_code == expected(TICKET_WRITE[role], 200)
    ticket.refresh_from_db()
    assert (ticket.first_response_at is not None) is (response.status_code == 200)


def test_first_response_is_recorded_once_through_api(client_for, ticket):
    client = client_for("support")

    first = client.post(f"/tickets/{ticket.pk}/first-response")
    second = client.post(f"/tickets/{ticket.pk}/first-response")

    assert first.json_body["first_response_at"] == second.json_body["first_response_at"]
    assert AuditEntry.objects.filter(action="ticket.first_response").count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_rating_action(client_for, ticket, role):
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")

    response = client_for(role).post(f"/tickets/{ticket.pk}/rating", {"rating": 5, "comment": "Great"})

    assert response.status_code == expected(TICKET_WRITE[role], 200)
    ticket.refresh_from_db()
    assert ticket.satisfaction_rating == (5 if response.status_code == 200 else None)


@pytest.mark.parametrize(("rating", "status"), [(0, 422), (6, 422), ("five", 422), (None, 422)])
def test_rating_out_of_range_is_422(client_for, ticket, rating, status):
    services.ticket_set_status(actor=None, ticket=ticket, status="solved")

    response = client_for("support").post(f"/tickets/{ticket.pk}/rating", {"rating": rating})

    assert response.status_code == status
    assert list(errors_of(response)) == ["rating"]


def test_rating_an_open_ticket_is_409(client_for, ticket):
    response = client_for("support").post(f"/tickets/{ticket.pk}/rating", {"rating": 3})

    assert response.status_code == 409
    assert errors_of(response) == {"status": "Only a solved or closed ticket can be rated; this one is new."}


# ---- articles ----------------------------------------------------------------------------------------------------


@pytest.fixture
def published(make_article):
    return make_article("How to reset the router", "Unplug it for ten seconds.", published=True)


@pytest.fixture
def draft(make_article):
    return make_article("Router firmware (draft)", "Coming soon.")


@pytest.mark.parametrize("role", ROLES)
def test_article_reads(client_for, published, draft, role):
    client = client_for(role)

    listed = client.get("/articles")
    public = client.get(f"/articles/{published.pk}")
    hidden = client.get(f"/articles/{draft.pk}")

    assert (listed.status_code, public.status_code, hidden.status_code) == (200, 200, DRAFT_READ[role])
    titles = [a["title"] for a in listed.json_body["results"]]
    if DRAFT_READ[role] == 200:
        assert titles == ["Router firmware (draft)", "How to reset the router"]
    else:
        assert titles == ["How to reset the router"]


@pytest.mark.parametrize("role", ROLES)
def test_article_create(client_for, users_by_role, role):
    body = {"title": "Returns", "body": "Within 30 days.", "language": "en", "is_faq": True}

    response = client_for(role).post("/articles", body)

    assert response.status_code == expected(ARTICLE_WRITE[role], 201)
    if response.status_code == 201:
        assert response.json_body["author_id"] == users_by_role[role].pk
        assert (response.json_body["published"], response.json_body["is_faq"]) == (False, True)
    else:
        assert not Article.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_article_update(client_for, published, role):
    response = client_for(role).patch(f"/articles/{published.pk}", {"title": "Reset the router"})

    assert response.status_code == expected(ARTICLE_WRITE[role], 200)
    published.refresh_from_db()
    assert published.title == ("Reset the router" if response.status_code == 200 else "How to reset the router")


@pytest.mark.parametrize("role", ROLES)
def test_article_publish_and_unpublish(client_for, draft, role):
    client = client_for(role)

    published = client.post(f"/articles/{draft.pk}/publish")
    after_publish = Article.objects.get(pk=draft.pk).published
    unpublished = client.post(f"/articles/{draft.pk}/unpublish")

    # A draft is invisible (404) to the roles that may not write articles.
    assert published.status_code == (expected(ARTICLE_WRITE[role], 200) if DRAFT_READ[role] == 200 else 404)
    assert after_publish is (published.status_code == 200)
    assert unpublished.status_code == published.status_code
    assert Article.objects.get(pk=draft.pk).published is False


@pytest.mark.parametrize("role", ROLES)
def test_article_unpublish_published_for_readers_is_403(client_for, published, role):
    response = client_for(role).post(f"/articles/{published.pk}/unpublish")

    assert response.status_code == expected(ARTICLE_WRITE[role], 200)


@pytest.mark.parametrize("role", ROLES)
def test_article_delete(client_for, published, role):
    response = client_for(role).delete(f"/articles/{published.pk}")

    assert response.status_code == expected(ARTICLE_WRITE[role], 204)
    assert Article.objects.filter(pk=published.pk).exists() is (response.status_code != 204)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "body": "b"}, "title"),
        ({"title": "t"}, "body"),
        ({"title": "t", "body": "b", "language": "klingon!"}, "language"),
        ({"title": "t", "body": "b", "is_faq": "perhaps"}, "is_faq"),
    ],
)
def test_article_422s(client_for, body, field):
    response = client_for("support").post("/articles", body)

    assert response.status_code == 422
    assert list(errors_of(response)) == [field]


def test_article_create_is_idempotent(client_for):
    client = client_for("support")
    headers = {"Idempotency-Key": "kb-1"}

    first = client.post("/articles", {"title": "T", "body": "B"}, headers=headers)
    again = client.post("/articles", {"title": "T", "body": "B"}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json_body == again.json_body
    assert Article.objects.count() == 1


def test_kb_search_puts_title_matches_first_and_pages(client_for, make_article):
    body_hit = make_article("Shipping", "To reset the router press the button.", published=True)
    title_words = make_article("Router: how to reset", "Steps.", published=True)
    title_phrase = make_article("Reset router fast", "Unplug.", published=True)
    older_phrase = make_article("Reset router, the long way", "Open the panel.", published=True)
    make_article("Invoices", "Nothing about it.", published=True)
    client = client_for("sales")

    first = client.get("/articles", {"q": "reset router", "limit": 2})
    second = client.get("/articles", {"q": "reset router", "limit": 2, "cursor": first.json_body["next_cursor"]})
    by_title = client.get("/articles", {"q": "reset router", "ordering": "title"})

    assert [a["id"] for a in first.json_body["results"]] == [older_phrase.pk, title_phrase.pk]
    assert [a["id"] for a in second.json_body["results"]] == [title_words.pk, body_hit.pk]
    assert second.json_body["next_cursor"] is None
    assert [a["title"] for a in by_title.json_body["results"]] == [
        "Reset router fast",
        "Reset router, the long way",
        "Router: how to reset",
        "Shipping",
    ]


def test_kb_search_rejects_foreign_cursor(client_for, published):
    other_cursor = client_for("sales").get("/articles", {"limit": 1, "ordering": "title"}).json_body["next_cursor"]

    response = client_for("sales").get("/articles", {"q": "router", "cursor": other_cursor or "eyJ4Ijp9"})

    assert response.status_code == 422
    assert list(errors_of(response)) == ["cursor"]


# ---- query counts ---------------------------------------------------------------------------------------------------

# A request authenticates with one query (the token with its user); the first one of a token also
# stamps last_used_at. The clients below have made one request already, so only the first applies.
AUTH = 1


@pytest.fixture
def warm(client_for):
    def get(role: str):
        client = client_for(role)
        assert client.get("/me").status_code == 200
        return client

    return get


@pytest.mark.parametrize("count", [1, 12])
def test_ticket_list_queries_are_constant(
    warm, make_ticket, default_policy, contact, gold_queue, users_by_role, django_assert_num_queries, count
):
    for i in range(count):
        make_ticket(f"t{i}", contact=contact, queue=gold_queue, assignee=users_by_role["support"])
    client = warm("support")

    with django_assert_num_queries(AUTH + 1):
        response = client.get("/tickets", {"limit": 50, "status": ["new", "open"], "q": "t"})

    assert len(response.json_body["results"]) == count


def test_ticket_detail_queries(
    warm, make_ticket, default_policy, contact, gold_queue, users_by_role, django_assert_num_queries
):
    ticket = make_ticket(contact=contact, queue=gold_queue, assignee=users_by_role["support"])
    client = warm("support")

    with django_assert_num_queries(AUTH + 1):
        response = client.get(f"/tickets/{ticket.pk}")

    assert response.json_body["queue_name"] == "Gold customers"


@pytest.mark.parametrize("count", [1, 5])
def test_sla_policy_list_queries_are_constant(warm, django_assert_num_queries, count):
    for i in range(count):
        services.sla_policy_create(actor=None, name=f"P{i}", targets=targets_of(DEFAULT_MINUTES))
    client = warm("analyst")

    with django_assert_num_queries(AUTH + 2):  # the policies, then all their targets
        response = client.get("/sla-policies")

    assert len(response.json_body["results"]) == count


def test_sla_policy_detail_queries(warm, default_policy, django_assert_num_queries):
    client = warm("support")

    with django_assert_num_queries(AUTH + 2):
        client.get(f"/sla-policies/{default_policy.pk}")


@pytest.mark.parametrize("count", [1, 5])
def test_queue_list_queries_are_constant(warm, gold_policy, team, django_assert_num_queries, count):
    for i in range(count):
        services.queue_create(actor=None, name=f"Q{i}", sla_policy=gold_policy, team=team)
    client = warm("manager")

    with django_assert_num_queries(AUTH + 1):
        response = client.get("/queues")

    assert len(response.json_body["results"]) == count


def test_queue_detail_queries(warm, gold_queue, django_assert_num_queries):
    client = warm("manager")

    with django_assert_num_queries(AUTH + 1):
        client.get(f"/queues/{gold_queue.pk}")


@pytest.mark.parametrize("count", [1, 8])
@pytest.mark.parametrize("params", [{}, {"q": "router"}])
def test_article_list_queries_are_constant(warm, make_article, django_assert_num_queries, count, params):
    for i in range(count):
        make_article(f"Router {i}", "Body", published=True)
    client = warm("marketing")

    with django_assert_num_queries(AUTH + 1):
        response = client.get("/articles", params)

    assert len(response.json_body["results"]) == count


def test_article_detail_queries(warm, published, django_assert_num_queries):
    client = warm("sales")

    with django_assert_num_queries(AUTH + 1):
        client.get(f"/articles/{published.pk}")
