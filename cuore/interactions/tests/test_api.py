"""Interactions, conversations and the contact timeline through the API."""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry
from cuore.interactions.models import Conversation, Interaction
from cuore.interactions.tests.factories import (
    T0,
    make_conversation,
    make_interaction,
    make_stage_change,
    make_ticket,
)
from cuore.orders.tests.factories import make_order
from cuore.sales.tests.factories import make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(rep, api_for):
    return api_for(rep)


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def iso(value: dt.datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def fields_of(response) -> list[str]:
    return [error["field"] for error in response.json_body["errors"]]


def walk(client, path: str, params: dict) -> tuple[list[dict], int]:
    """Every result of a cursor-paged list, and how many pages it took (failing, not hanging, on a loop)."""
    results, cursor, pages = [], None, 0
    while pages < 100:
        response = client.get(path, {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.json_body
        results += response.json_body["results"]
        pages += 1
        cursor = response.json_body["next_cursor"]
        if not cursor:
            return results, pages
    raise AssertionError(f"the cursor never ran out: {len(results)} results in {pages} pages")


# ---- logging -------------------------------------------------------------------------------------


def test_log_an_interaction(client, rep):
    contact = make_contact(owner=rep)

    response = client.post(
        "/interactions",
        {
            "channel": "phone",
            "direction": "out",
            "occurred_at": "2026-03-02T10:30:00+01:00",
            "contact_id": contact.id,
            "subject": "Renewal call",
            "body": "Interested in the premium plan.",
        },
    )

    assert response.status_code == 201
    interaction = Interaction.objects.get()
    assert response.json_body == {
        "id": interaction.id,
        "channel": "phone",
        "direction": "out",
        "occurred_at": "2026-03-02T09:30:00Z",  # answered in UTC, as every read answers it
        "contact_id": contact.id,
        "account_id": None,
        "user_id": rep.id,
        "subject": "Renewal call",
        "body": "Interested in the premium plan.",
        "conversation_id": None,
        "ticket_id": None,
        "deal_id": None,
        "order_id": None,
        "source": "",
        "external_id": "",
        "created_at": response.json_body["created_at"],
    }
    assert interaction.occurred_at == dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    assert client.get(f"/interactions/{interaction.id}").json_body["occurred_at"] == "2026-03-02T09:30:00Z"
    assert (
        AuditEntry.objects.filter(
            action="interaction.create", channel="api", object_id=str(interaction.id), actor=rep
        ).count()
        == 1
    )


def test_log_with_start_conversation_opens_one(client, rep):
    contact = make_contact(owner=rep)

    response = client.post(
        "/interactions",
        {"channel": "chat", "direction": "in", "contact_id": contact.id, "subject": "Hi", "start_conversation": True},
    )
    reply = client.post(
        "/interactions",
        {
            "channel": "chat",
            "direction": "out",
            "contact_id": contact.id,
            "conversation_id": response.json_body["conversation_id"],
        },
    )

    conversation = Conversation.objects.get()
    assert (response.status_code, reply.status_code) == (201, 201)
    assert response.json_body["conversation_id"] == reply.json_body["conversation_id"] == conversation.id
    assert (conversation.subject, conversation.contact_id) == ("Hi", contact.id)


def test_the_same_source_and_external_id_answer_200_with_the_first_copy(client, rep):
    contact = make_contact(owner=rep)
    body = {"channel": "email", "direction": "in", "contact_id": contact.id, "source": "gmail", "external_id": "m-1"}

    first = client.post("/interactions", {**body, "subject": "First"})
    again = client.post("/interactions", {**body, "subject": "Second"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json_body == first.json_body
    assert again.json_body["subject"] == "First"
    assert Interaction.objects.count() == 1
    assert AuditEntry.objects.filter(action="interaction.create").count() == 1


def test_a_colleague_sending_the_same_message_gets_the_first_copy(client, rep, teammate, api_for):
    contact = make_contact(owner=rep)
    body = {"channel": "email", "direction": "in", "contact_id": contact.id, "source": "gmail", "external_id": "m-7"}

    first = client.post("/interactions", body)
    again = api_for(teammate).post("/interactions", body)

    assert (again.status_code, again.json_body["id"], again.json_body["user_id"]) == (
        200,
        first.json_body["id"],
        rep.id,
    )


def test_the_same_external_id_recorded_out_of_sight_is_a_409_that_tells_nothing(client, rep, stranger, api_for):
    hidden = api_for(stranger).post(
        "/interactions",
        {
            "channel": "email",
            "direction": "in",
            "contact_id": make_contact(owner=stranger).id,
            "source": "gmail",
            "external_id": "secret-1",
            "subject": "Confidential offer",
        },
    )

    response = client.post(
        "/interactions",
        {
            "channel": "email",
            "direction": "in",
            "contact_id": make_contact(owner=rep).id,
            "source": "gmail",
            "external_id": "secret-1",
        },
    )

    assert hidden.status_code == 201
    assert response.status_code == 409
    assert response.json_body == {
        "detail": "This source's id is already recorded.",
        "errors": [{"field": "external_id", "reason": "This source's id is already recorded."}],
    }
    assert Interaction.objects.count() == 1


def test_idempotency_key_replays_the_first_answer(client, rep):
    contact = make_contact(owner=rep)
    body = {"channel": "email", "direction": "out", "contact_id": contact.id, "subject": "Quote"}

    first = client.post("/interactions", body, headers={"Idempotency-Key": "log-1"})
    again = client.post("/interactions", body, headers={"Idempotency-Key": "log-1"})
    other = client.post("/interactions", {**body, "subject": "Other"}, headers={"Idempotency-Key": "log-1"})
    fresh = client.post("/interactions", body, headers={"Idempotency-Key": "log-2"})

    assert (first.status_code, again.status_code, other.status_code, fresh.status_code) == (201, 201, 422, 201)
    assert again.json_body == first.json_body
    assert other.json_body["errors"] == [
        {
            "field": "Idempotency-Key",
            "reason": "was already used with a different request; use a new key for a new request",
        }
    ]
    assert fresh.json_body["id"] != first.json_body["id"]
    assert Interaction.objects.count() == 2


def test_idempotency_key_is_honoured_with_an_external_id_too(client, rep):
    contact = make_contact(owner=rep)
    body = {"channel": "email", "direction": "in", "contact_id": contact.id, "source": "gmail", "external_id": "m-9"}

    first = client.post("/interactions", body, headers={"Idempotency-Key": "ingest-1"})
    again = client.post("/interactions", body, headers={"Idempotency-Key": "ingest-1"})
    other = client.post("/interactions", {**body, "subject": "changed"}, headers={"Idempotency-Key": "ingest-1"})

    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert again.json_body == first.json_body
    assert fields_of(other) == ["Idempotency-Key"]
    assert Interaction.objects.count() == 1


def test_conversation_idempotency_key(client, rep):
    body = {"contact_id": make_contact(owner=rep).id, "channel": "chat"}

    first = client.post("/conversations", body, headers={"Idempotency-Key": "c-1"})
    again = client.post("/conversations", body, headers={"Idempotency-Key": "c-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json_body == first.json_body
    assert Conversation.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax", "direction": "in"}, "channel"),
        ({"direction": "in"}, "channel"),
        ({"channel": "email", "direction": "up"}, "direction"),
        ({"channel": "email", "direction": "in", "occurred_at": "2026-03-02T10:00:00"}, "occurred_at"),
        ({"channel": "email", "direction": "in", "occurred_at": "yesterday"}, "occurred_at"),
        ({"channel": "email", "direction": "in", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"channel": "email", "direction": "in", "subject": "x" * 201}, "subject"),
        ({"channel": "email", "direction": "in", "source": "x" * 51, "external_id": "1"}, "source"),
        ({"channel": "email", "direction": "in", "external_id": "1"}, "source"),
        ({"channel": "email", "direction": "in", "contact_id": 2**70}, "contact_id"),
        ({"channel": "email", "direction": "in", "contact_id": 0}, "contact_id"),
        ({"channel": "email", "direction": "in", "subject": "a\u0000b"}, "subject"),
    ],
)
def test_log_validation_names_the_field(client, rep, body, field):
    contact = make_contact(owner=rep)

    response = client.post("/interactions", {"contact_id": contact.id, **body})

    assert response.status_code == 422
    assert fields_of(response) == [field]
    assert not Interaction.objects.exists()


def test_an_interaction_without_a_customer_is_422_on_contact_id(client):
    response = client.post("/interactions", {"channel": "email", "direction": "in"})

    assert (response.status_code, fields_of(response)) == (422, ["contact_id"])


def test_links_that_do_not_exist_or_are_out_of_sight_are_422_not_found(client, rep, stranger):
    pipeline = make_pipeline()
    hidden_contact = make_contact(owner=stranger)
    hidden = {
        "contact_id": hidden_contact.id,
        "account_id": make_account(owner=stranger).id,
        "deal_id": make_deal(stage=stage_of(pipeline, "Lead"), owner=stranger).id,
        "order_id": make_order(contact=hidden_contact).id,
        "conversation_id": make_conversation(contact=hidden_contact).id,
        # a sales rep sees no tickets at all
        "ticket_id": make_ticket(contact=make_contact(owner=rep)).id,
    }
    base = {"channel": "email", "direction": "in", "contact_id": make_contact(owner=rep).id}

    for field, hidden_id in hidden.items():
        for value in (hidden_id, 999_999):
            response = client.post("/interactions", {**base, field: value})
            assert (response.status_code, response.json_body["errors"]) == (
                422,
                [{"field": field, "reason": "not found"}],
            ), (field, value)
    assert not Interaction.objects.exists()


def test_support_links_a_ticket_and_its_customer_comes_with_it(agent, api_for):
    contact = make_contact()
    ticket = make_ticket(contact=contact)

    response = api_for(agent).post("/interactions", {"channel": "email", "direction": "out", "ticket_id": ticket.id})

    ticket.refresh_from_db()
    assert response.status_code == 201
    assert (response.json_body["ticket_id"], response.json_body["contact_id"]) == (ticket.id, contact.id)
    assert ticket.first_response_at is not None


def test_an_imported_reply_older_than_its_ticket_is_logged(agent, api_for):
    ticket = make_ticket(contact=make_contact())

    response = api_for(agent).post(
        "/interactions",
        {
            "channel": "email",
            "direction": "out",
            "ticket_id": ticket.id,
            "occurred_at": iso(ticket.created_at - dt.timedelta(hours=1)),
            "source": "gmail",
            "external_id": "old-reply",
        },
    )

    ticket.refresh_from_db()
    assert response.status_code == 201, response.json_body
    assert ticket.first_response_at == ticket.created_at


@pytest.mark.parametrize("role", ["analyst", "marketing"])
def test_roles_that_may_not_log(users_by_role, api_for, role):
    contact = make_contact()

    response = api_for(users_by_role[role]).post(
        "/interactions", {"channel": "email", "direction": "in", "contact_id": contact.id}
    )

    assert response.status_code == {"analyst": 403, "marketing": 404}[role]
    assert not Interaction.objects.exists()


@pytest.mark.parametrize("role", ["analyst", "marketing"])
def test_roles_that_may_not_log_learn_nothing_from_a_known_external_id(users_by_role, api_for, rep, role):
    contact = make_contact(owner=rep)
    body = {"channel": "email", "direction": "in", "contact_id": contact.id, "source": "gmail", "external_id": "k"}
    make_interaction(contact=contact, source="gmail", external_id="k")

    response = api_for(users_by_role[role]).post("/interactions", body)

    assert response.status_code == {"analyst": 403, "marketing": 404}[role]


# ---- reading -------------------------------------------------------------------------------------


def test_get_an_interaction(client, rep, stranger):
    contact = make_contact(owner=rep)
    mine = make_interaction(contact=contact, user=rep, subject="Mine", occurred_at=at(1))
    theirs = make_interaction(contact=make_contact(owner=stranger), user=stranger)

    response = client.get(f"/interactions/{mine.id}")

    assert response.status_code == 200
    assert (response.json_body["id"], response.json_body["subject"], response.json_body["occurred_at"]) == (
        mine.id,
        "Mine",
        "2026-03-02T10:00:00Z",
    )
    assert client.get(f"/interactions/{theirs.id}").status_code == 404
    assert client.get("/interactions/999999").status_code == 404
    assert client.get(f"/interactions/{2**70}").status_code == 422


def test_the_list_shows_what_the_rep_may_see_newest_first(client, rep, teammate, stranger):
    mine = make_interaction(contact=make_contact(owner=rep), occurred_at=at(1))
    team = make_interaction(contact=make_contact(owner=teammate), occurred_at=at(3))
    logged_elsewhere = make_interaction(contact=make_contact(owner=stranger), user=rep, occurred_at=at(2))
    make_interaction(contact=make_contact(owner=stranger), occurred_at=at(4))

    response = client.get("/interactions")

    assert response.status_code == 200
    assert [row["id"] for row in response.json_body["results"]] == [team.id, logged_elsewhere.id, mine.id]
    assert response.json_body["next_cursor"] is None


def test_list_filters(client, rep):
    contact, other = make_contact(owner=rep), make_contact(owner=rep)
    email_in = make_interaction(contact=contact, channel="email", direction="in", occurred_at=at(1))
    phone_out = make_interaction(contact=contact, channel="phone", direction="out", occurred_at=at(2))
    email_out = make_interaction(contact=other, channel="email", direction="out", occurred_at=at(3))

    def ids(**params):
        response = client.get("/interactions", params)
        assert response.status_code == 200, response.json_body
        return [row["id"] for row in response.json_body["results"]]

    assert ids(contact_id=contact.id) == [phone_out.id, email_in.id]
    assert ids(channel="email") == [email_out.id, email_in.id]
    assert ids(direction="out") == [email_out.id, phone_out.id]
    assert ids(contact_id=contact.id, channel="email") == [email_in.id]
    assert ids(since="2026-03-02T11:00:00Z") == [email_out.id, phone_out.id]
    assert ids(since="2026-03-02T11:00:00+02:00") == [email_out.id, phone_out.id, email_in.id]
    assert ids(until="2026-03-02T11:00:00Z") == [email_in.id]
    assert ids(since="2026-03-02T11:00:00Z", until="2026-03-02T12:00:00Z") == [phone_out.id]


def test_list_pages_through_every_interaction_once(client, rep):
    contact = make_contact(owner=rep)
    # ties on the time: the id breaks them, newest first
    made = [make_interaction(contact=contact, occurred_at=at(hour // 3)) for hour in range(11)]

    results, pages = walk(client, "/interactions", {"limit": 4})
    emails, _ = walk(client, "/interactions", {"limit": 2, "contact_id": contact.id, "channel": "email"})

    expected = [i.id for i in sorted(made, key=lambda i: (i.occurred_at, i.id), reverse=True)]
    assert [row["id"] for row in results] == expected
    assert pages == 3
    assert [row["id"] for row in emails] == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"direction": "both"}, "direction"),
        ({"since": "2026-03-02T10:00:00"}, "since"),
        ({"until": "2026-03-02T10:00:00"}, "until"),
        ({"since": "last week"}, "since"),
        ({"contact_id": "me"}, "contact_id"),
        ({"ticket_id": 2**70}, "ticket_id"),
        ({"cursor": "garbage!!"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
    ],
)
def test_list_validation(client, params, field):
    response = client.get("/interactions", params)

    assert response.status_code == 422
    assert fields_of(response) == [field]


def test_list_by_a_contact_out_of_sight_is_404(client, stranger):
    hidden = make_contact(owner=stranger)
    make_interaction(contact=hidden)

    assert client.get("/interactions", {"contact_id": hidden.id}).status_code == 404


@pytest.mark.parametrize(
    ("role", "status", "count"),
    [("admin", 200, 2), ("manager", 200, 2), ("support", 200, 2), ("analyst", 200, 2), ("marketing", 404, None)],
)
def test_list_per_role(users_by_role, api_for, role, status, count):
    make_interaction(contact=make_contact())
    make_interaction(account=make_account())

    response = api_for(users_by_role[role]).get("/interactions")

    assert response.status_code == status
    if count is not None:
        assert len(response.json_body["results"]) == count


# ---- corrections ---------------------------------------------------------------------------------


@pytest.fixture
def logged(client, rep):
    return client.post(
        "/interactions",
        {"channel": "phone", "direction": "out", "contact_id": make_contact(owner=rep).id, "subject": "Call"},
    ).json_body


def test_patch_an_interaction(client, logged):
    response = client.patch(
        f"/interactions/{logged['id']}",
        {"subject": "Call back", "channel": "meeting", "occurred_at": "2026-03-01T08:00:00+00:00"},
    )

    assert response.status_code == 200
    assert (response.json_body["subject"], response.json_body["channel"], response.json_body["occurred_at"]) == (
        "Call back",
        "meeting",
        "2026-03-01T08:00:00Z",
    )
    assert response.json_body["direction"] == "out"
    assert (
        AuditEntry.objects.filter(action="interaction.update", channel="api", object_id=str(logged["id"])).count() == 1
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": None}, "subject"),
        ({"channel": None}, "channel"),
        ({"channel": "fax"}, "channel"),
        ({"direction": "sideways"}, "direction"),
        ({"occurred_at": "2026-03-01T08:00:00"}, "occurred_at"),
        ({"occurred_at": "2999-03-01T08:00:00Z"}, "occurred_at"),
        ({"body": "x" * 100_001}, "body"),
    ],
)
def test_patch_validation(client, logged, body, field):
    response = client.patch(f"/interactions/{logged['id']}", body)

    assert response.status_code == 422
    assert fields_of(response) == [field]
    assert Interaction.objects.get().subject == "Call"


def test_patch_ignores_the_fields_that_cannot_change(client, logged):
    response = client.patch(f"/interactions/{logged['id']}", {"contact_id": None, "source": "x", "external_id": "y"})

    assert response.status_code == 200
    interaction = Interaction.objects.get()
    assert (interaction.contact_id, interaction.source, interaction.external_id) == (
        logged["contact_id"],
        "",
        "",
    )


def test_who_may_patch_and_delete(logged, api_for, teammate, stranger, manager, users_by_role):
    path = f"/interactions/{logged['id']}"
    teammates, strangers, analysts = api_for(teammate), api_for(stranger), api_for(users_by_role["analyst"])
    marketers = api_for(users_by_role["marketing"])

    assert teammates.get(path).status_code == 200
    assert teammates.patch(path, {"subject": "x"}).status_code == 403
    assert teammates.delete(path).status_code == 403
    assert strangers.patch(path, {"subject": "x"}).status_code == 404
    assert strangers.delete(path).status_code == 404
    assert analysts.get(path).status_code == 200
    assert analysts.patch(path, {"subject": "x"}).status_code == 403
    assert analysts.delete(path).status_code == 403
    assert marketers.get(path).status_code == 404
    assert marketers.patch(path, {"subject": "x"}).status_code == 404
    assert Interaction.objects.get().subject == "Call"

    assert api_for(manager).patch(path, {"subject": "Checked"}).status_code == 200
    assert api_for(manager).delete(path).status_code == 204
    assert not Interaction.objects.exists()


def test_delete_an_interaction(client, logged):
    response = client.delete(f"/interactions/{logged['id']}")

    assert response.status_code == 204
    assert not Interaction.objects.exists()
    assert client.get(f"/interactions/{logged['id']}").status_code == 404
    assert client.delete(f"/interactions/{logged['id']}").status_code == 404
    assert (
        AuditEntry.objects.filter(action="interaction.delete", channel="api", object_id=str(logged["id"])).count() == 1
    )


# ---- conversations -------------------------------------------------------------------------------


def test_open_and_read_conversations(client, rep, stranger):
    contact = make_contact(owner=rep)
    theirs = make_conversation(contact=make_contact(owner=stranger))

    created = client.post("/conversations", {"contact_id": contact.id, "channel": "email", "subject": "Invoice"})
    listed = client.get("/conversations")
    by_contact = client.get("/conversations", {"contact_id": contact.id})
    detail = client.get(f"/conversations/{created.json_body['id']}")

    assert created.status_code == 201
    assert (created.json_body["subject"], created.json_body["channel"], created.json_body["contact_id"]) == (
        "Invoice",
        "email",
        contact.id,
    )
    assert [row["id"] for row in listed.json_body["results"]] == [created.json_body["id"]]
    assert [row["id"] for row in by_contact.json_body["results"]] == [created.json_body["id"]]
    assert detail.json_body == created.json_body
    assert client.get(f"/conversations/{theirs.id}").status_code == 404
    assert client.get("/conversations", {"contact_id": theirs.contact_id}).status_code == 404


def test_conversation_validation(client, rep, stranger):
    cases = [
        client.post("/conversations", {"contact_id": make_contact(owner=stranger).id, "channel": "email"}),
        client.post("/conversations", {"contact_id": 999_999, "channel": "email"}),
        client.post("/conversations", {"contact_id": make_contact(owner=rep).id, "channel": "pigeon"}),
        client.post("/conversations", {"channel": "email"}),
    ]

    assert [(r.status_code, fields_of(r)) for r in cases] == [
        (422, ["contact_id"]),
        (422, ["contact_id"]),
        (422, ["channel"]),
        (422, ["contact_id"]),
    ]
    assert cases[0].json_body["errors"][0]["reason"] == "not found"
    assert not Conversation.objects.exists()


def test_conversations_page_newest_activity_first(client, rep):
    contact = make_contact(owner=rep)
    made = [make_conversation(contact=contact, at=at(i % 2)) for i in range(5)]

    results, pages = walk(client, "/conversations", {"limit": 2})

    assert [row["id"] for row in results] == [c.id for c in sorted(made, key=lambda c: (c.last_at, c.id), reverse=True)]
    assert pages == 3


# ---- the timeline --------------------------------------------------------------------------------


@pytest.fixture
def history(rep):
    contact = make_contact(owner=rep)
    deal = make_deal(stage=stage_of(make_pipeline(), "Lead"), owner=rep, contact=contact, name="Big one")
    rows = {
        "email": make_interaction(contact=contact, channel="email", subject="Hello", occurred_at=at(0)),
        "order": make_order(contact=contact, placed_at=at(2)),
        "ticket": make_ticket(contact=contact, created_at=at(2)),
        "deal": make_stage_change(deal=deal, at=at(2)),
        "sms": make_interaction(contact=contact, channel="sms", occurred_at=at(2)),
        "phone": make_interaction(contact=contact, channel="phone", occurred_at=at(3)),
    }
    return contact, deal, rows


def entries(response) -> list[tuple[str, int]]:
    return [(row["kind"], row["id"]) for row in response.json_body["results"]]


def test_timeline_of_a_contact(client, history):
    contact, deal, rows = history

    response = client.get(f"/contacts/{contact.id}/timeline")

    assert response.status_code == 200
    # a sales rep sees no tickets
    assert entries(response) == [
        ("interaction", rows["phone"].id),
        ("order", rows["order"].id),
        ("interaction", rows["sms"].id),
        ("deal", rows["deal"].id),
        ("interaction", rows["email"].id),
    ]
    assert response.json_body["next_cursor"] is None
    assert response.json_body["results"][-1] == {
        "kind": "interaction",
        "id": rows["email"].id,
        "at": "2026-03-02T09:00:00Z",
        "channel": "email",
        "title": "Hello",
        "detail": "in: ",
        "object_id": rows["email"].id,
    }
    assert response.json_body["results"][3]["object_id"] == deal.id


def test_timeline_channels_repeat_and_the_cursor_walks_them(manager, api_for, history):
    contact, deal, rows = history
    client = api_for(manager)

    picked = client.get(f"/contacts/{contact.id}/timeline", {"channel": ["sms", "ticket", "order"]})
    walked, pages = walk(
        client, f"/contacts/{contact.id}/timeline", {"channel": ["sms", "ticket", "order"], "limit": 1}
    )
    everything, _ = walk(client, f"/contacts/{contact.id}/timeline", {"limit": 2})

    assert entries(picked) == [
        ("ticket", rows["ticket"].id),
        ("order", rows["order"].id),
        ("interaction", rows["sms"].id),
    ]
    assert [(row["kind"], row["id"]) for row in walked] == entries(picked)
    assert pages == 3
    assert [(row["kind"], row["id"]) for row in everything] == [
        ("interaction", rows["phone"].id),
        ("ticket", rows["ticket"].id),
        ("order", rows["order"].id),
        ("interaction", rows["sms"].id),
        ("deal", rows["deal"].id),
        ("interaction", rows["email"].id),
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"channel": "fax"}, "channel.0"),
        ({"channel": ["email", "carrier pigeon"]}, "channel.1"),
        ({"cursor": "garbage!!"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
    ],
)
def test_timeline_validation(client, history, params, field):
    contact, deal, rows = history

    response = client.get(f"/contacts/{contact.id}/timeline", params)

    assert response.status_code == 422
    assert fields_of(response) == [field]


def test_a_list_cursor_is_not_a_timeline_cursor(client, history):
    contact, deal, rows = history
    list_cursor = client.get("/interactions", {"limit": 1}).json_body["next_cursor"]

    response = client.get(f"/contacts/{contact.id}/timeline", {"cursor": list_cursor})

    assert (response.status_code, fields_of(response)) == (422, ["cursor"])


def test_timeline_per_role(users_by_role, api_for, stranger, history):
    contact, deal, rows = history

    def kinds(user):
        response = api_for(user).get(f"/contacts/{contact.id}/timeline")
        return response.status_code, sorted({row["kind"] for row in response.json_body["results"]})

    assert kinds(users_by_role["support"]) == (200, ["interaction", "ticket"])
    assert kinds(users_by_role["analyst"]) == (200, ["deal", "interaction", "order", "ticket"])
    assert kinds(users_by_role["marketing"]) == (200, [])
    assert api_for(stranger).get(f"/contacts/{contact.id}/timeline").status_code == 404
    assert api_for(stranger).get("/contacts/999999/timeline").status_code == 404


# ---- query counts --------------------------------------------------------------------------------


def fill(contact, rep, n: int) -> None:
    conversation = make_conversation(contact=contact)
    for i in range(n):
        make_interaction(contact=contact, user=rep, occurred_at=at(i), conversation=conversation)


@pytest.mark.parametrize("size", [3, 30])
def test_list_query_count_is_constant(client, rep, django_assert_num_queries, size):
    contact = make_contact(owner=rep)
    fill(contact, rep, size)
    client.get("/me")  # the token's last-use time is written once a minute at most

    # token, interactions with their author
    with django_assert_num_queries(2):
        response = client.get("/interactions", {"limit": 50})
    # token, the contact's visibility, its interactions with their author
    with django_assert_num_queries(3):
        by_contact = client.get("/interactions", {"contact_id": contact.id, "limit": 50})

    assert len(response.json_body["results"]) == len(by_contact.json_body["results"]) == size


def test_detail_query_count(client, rep, django_assert_num_queries):
    interaction = make_interaction(contact=make_contact(owner=rep), user=rep)
    client.get("/me")

    # token, the interaction with its author
    with django_assert_num_queries(2):
        response = client.get(f"/interactions/{interaction.id}")

    assert response.json_body["id"] == interaction.id


@pytest.mark.parametrize("size", [3, 30])
def test_conversation_reads_query_count_is_constant(client, rep, django_assert_num_queries, size):
    contact = make_contact(owner=rep)
    for i in range(size):
        make_conversation(contact=contact, at=at(i))
    client.get("/me")

    # token, conversations
    with django_assert_num_queries(2):
        listed = client.get("/conversations", {"limit": 50})
    # token, the conversation
    with django_assert_num_queries(2):
        client.get(f"/conversations/{listed.json_body['results'][0]['id']}")

    assert len(listed.json_body["results"]) == size


@pytest.mark.parametrize("size", [3, 30])
def test_timeline_query_count_is_constant(manager, api_for, django_assert_num_queries, size):
    client = api_for(manager)
    contact = make_contact()
    deal = make_deal(stage=stage_of(make_pipeline(), "Lead"), contact=contact)
    for i in range(size):
        make_interaction(contact=contact, occurred_at=at(i))
        make_stage_change(deal=deal, at=at(i))
    make_order(contact=contact, placed_at=at(0))
    make_ticket(contact=contact, created_at=at(0))
    client.get("/me")

    # token, the contact, then one query per kind: interactions, orders, tickets, deal changes with deal and stage
    with django_assert_num_queries(6):
        response = client.get(f"/contacts/{contact.id}/timeline", {"limit": 100})

    assert len(response.json_body["results"]) == 2 * size + 2
