"""Contacts, accounts, points, addresses, tags and consents through the API."""

import pytest

from cuore.contacts.models import Contact
from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(make_user):
    return make_user(role="admin")


def test_create_contact_returns_detail_with_points(admin, api_for):
    response = api_for(admin).post(
        "/contacts",
        {"first_name": "Giulia", "last_name": "Bianchi", "emails": ["giulia@example.it"], "phones": ["02 1234 5678"]},
    )

    assert response.status_code == 201
    body = response.json_body
    assert (body["full_name"], body["email"], body["phone"], body["owner_id"]) == (
        "Giulia Bianchi",
        "giulia@example.it",
        "02 1234 5678",
        admin.id,
    )
    assert [(p["kind"], p["value_normalized"]) for p in body["points"]] == [
        ("email", "giulia@example.it"),
        ("phone", "+390212345678"),
    ]
    assert AuditEntry.objects.filter(action="contact.create", channel="api").count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"last_name": "X", "emails": ["nope"]}, "emails.0"),
        ({"last_name": "X", "phones": ["12"]}, "phones.0"),
        ({"last_name": "X", "lifecycle_stage": "vip"}, "lifecycle_stage"),
        ({"last_name": "X", "birth_date": "31/12/1990"}, "birth_date"),
        ({"last_name": "X", "owner_id": 999999}, "owner_id"),
        ({"last_name": "X" * 101}, "last_name"),
        ({"first_name": "", "last_name": ""}, "last_name"),
        ({"last_name": "X", "emails": "a@b.it"}, "emails"),
    ],
)
def test_create_contact_validation_errors_name_the_field(admin, api_for, body, field):
    response = api_for(admin).post("/contacts", body)

    assert response.status_code == 422
    assert field in [error["field"] for error in response.json_body["errors"]]
    assert not Contact.objects.exists()


def test_idempotent_contact_create(admin, api_for):
    client = api_for(admin)
    body = {"last_name": "Esposito"}

    first = client.post("/contacts", body, headers={"Idempotency-Key": "abc"})
    second = client.post("/contacts", body, headers={"Idempotency-Key": "abc"})
    different = client.post("/contacts", {"last_name": "Russo"}, headers={"Idempotency-Key": "abc"})

    assert (first.status_code, second.status_code, different.status_code) == (201, 201, 422)
    assert first.json_body["id"] == second.json_body["id"]
    assert Contact.objects.count() == 1


def test_search_by_email_prefix_phone_and_name(admin, api_for):
    client = api_for(admin)
    giulia = make_contact(
        first_name="Giulia", last_name="Bianchi", email="giulia.b@example.it", phone="+39 347 111 2222"
    )
    rossi = make_contact(first_name="Marco", last_name="Rossi", email="marco@rossi.it")
    make_contact(first_name="Anna", last_name="Verdi", email="anna@verdi.it")

    def ids(q):
        response = client.get("/contacts", {"q": q})
        assert response.status_code == 200
        return {c["id"] for c in response.json_body["results"]}

    assert ids("giulia.b@") == {giulia.id}
    assert ids("GIULIA.B@EXAMPLE.IT") == {giulia.id}
    assert ids("347 111") == {giulia.id}
    assert ids("+39347111") == {giulia.id}
    assert ids("ross") == {rossi.id}
    assert ids("marco ross") == {rossi.id}
    assert ids("rossi marco") == {rossi.id}
    assert ids("Giu") == {giulia.id}
    assert ids("zzz") == set()


def test_account_search_by_vat_and_name(admin, api_for):
    acme = make_account(name="Acme Italia", vat_number="IT00743110157")
    make_account(name="Beta Srl", vat_number="IT12345678903")
    client = api_for(admin)

    by_vat = client.get("/accounts", {"q": "00743110157"}).json_body["results"]
    by_name = client.get("/accounts", {"q": "acme"}).json_body["results"]

    assert [a["id"] for a in by_vat] == [acme.id]
    assert [a["id"] for a in by_name] == [acme.id]


def test_contact_list_orderings_paginate_through_everything(admin, api_for):
    client = api_for(admin)
    for last in ["Zeta", "Alfa", "Mu", "Beta", "Kappa"]:
        make_contact(first_name="A", last_name=last)

    for ordering in ["-id", "id", "name", "-updated"]:
        seen, cursor = [], None
        while True:
            params = {"ordering": ordering, "limit": 2, **({"cursor": cursor} if cursor else {})}
            body = client.get("/contacts", params).json_body
            seen += [c["last_name"] for c in body["results"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == ["Alfa", "Beta", "Kappa", "Mu", "Zeta"]
        if ordering == "name":
            assert seen == ["Alfa", "Beta", "Kappa", "Mu", "Zeta"]


def test_cursor_of_another_ordering_is_refused(admin, api_for):
    client = api_for(admin)
    make_contact(), make_contact()
    cursor = client.get("/contacts", {"limit": 1}).json_body["next_cursor"]

    response = client.get("/contacts", {"ordering": "name", "cursor": cursor})

    assert response.status_code == 422
    assert response.json_body["errors"][0]["field"] == "cursor"


def test_contact_list_query_count_is_constant(admin, api_for, django_assert_num_queries):
    client = api_for(admin)
    for i in range(30):
        make_contact(email=f"c{i}@example.com", phone="+393471234567")
    # token lookup + token touch, contacts, prefetch points, prefetch tags
    with django_assert_num_queries(5):
        response = client.get("/contacts", {"limit": 25})
    assert len(response.json_body["results"]) == 25


def test_contact_detail_query_count(admin, api_for, django_assert_num_queries):
    client = api_for(admin)
    contact = make_contact(email="x@example.com")
    client.get("/me")  # the token's last-use time is written once a minute at most
    # token lookup, contact, points, addresses, account links, tags
    with django_assert_num_queries(6):
        response = client.get(f"/contacts/{contact.id}")
    assert response.status_code == 200


def test_account_list_query_count(admin, api_for, django_assert_num_queries):
    client = api_for(admin)
    for _ in range(10):
        make_account()
    client.get("/me")
    with django_assert_num_queries(3):
        response = client.get("/accounts")
    assert len(response.json_body["results"]) == 10


def test_points_addresses_links_tags_and_consents_round_trip(admin, api_for):
    client = api_for(admin)
    contact = make_contact(last_name="Ferrari")
    account = make_account(name="Ferrari Arredi")
    tag = client.post("/tags", {"name": "vip"}).json_body

    point = client.post(
        f"/contacts/{contact.id}/points", {"kind": "social", "value": "@Ferrari_M", "label": "instagram"}
    )
    address = client.post(
        f"/contacts/{contact.id}/addresses",
        {"line1": "Via Roma 1", "city": "Milano", "postal_code": "20100", "country": "it"},
    )
    link = client.post(f"/contacts/{contact.id}/accounts", {"account_id": account.id, "role": "Buyer"})
    tagged = client.post(f"/contacts/{contact.id}/tags", {"tag_id": tag["id"]})
    consent = client.post(
        f"/contacts/{contact.id}/consents",
        {"purpose": "newsletter", "channel": "email", "status": "granted", "source": "fiera"},
    )

    assert [r.status_code for r in (point, address, link, tagged, consent)] == [201, 201, 201, 204, 201]
    detail = client.get(f"/contacts/{contact.id}").json_body
    assert detail["points"][0]["value_normalized"] == "ferrari_m"
    assert detail["addresses"][0]["country"] == "IT" and detail["addresses"][0]["is_primary"] is True
    assert detail["accounts"] == [{"account_id": account.id, "role": "Buyer", "is_primary": True}]
    assert detail["tags"] == ["vip"]
    consents = client.get(f"/contacts/{contact.id}/consents").json_body
    assert [(c["purpose"], c["status"]) for c in consents["state"]] == [("newsletter", "granted")]

    assert client.delete(f"/contacts/{contact.id}/tags/{tag['id']}").status_code == 204
    assert client.delete(f"/contacts/{contact.id}/accounts/{account.id}").status_code == 204
    assert client.delete(f"/contacts/{contact.id}/addresses/{address.json_body['id']}").status_code == 204
    assert client.delete(f"/contacts/{contact.id}/points/{point.json_body['id']}").status_code == 204
    assert client.get(f"/contacts/{contact.id}").json_body["tags"] == []


def test_sales_sees_own_and_team_contacts_only(make_user, api_for, team, other_team):
    rep = make_user(role="sales", team=team)
    teammate = make_user(role="sales", team=team)
    stranger = make_user(role="sales", team=other_team)
    mine = make_contact(owner=rep)
    teams = make_contact(owner=teammate)
    theirs = make_contact(owner=stranger)
    client = api_for(rep)

    listed = {c["id"] for c in client.get("/contacts").json_body["results"]}

    assert listed == {mine.id, teams.id}
    assert client.get(f"/contacts/{theirs.id}").status_code == 404
    assert client.patch(f"/contacts/{theirs.id}", {"title": "x"}).status_code == 404
    assert client.delete(f"/contacts/{theirs.id}").status_code == 404
    assert client.get(f"/contacts/{teams.id}").status_code == 200


@pytest.mark.parametrize(
    ("role", "status"), [("admin", 200), ("manager", 200), ("support", 404), ("marketing", 404), ("analyst", 200)]
)
def test_account_detail_by_role(make_user, api_for, role, status):
    account = make_account(owner=make_user(role="sales"))

    assert api_for(make_user(role=role)).get(f"/accounts/{account.id}").status_code == status


def test_analyst_reads_but_cannot_write(make_user, api_for):
    contact = make_contact()
    client = api_for(make_user(role="analyst"))

    assert client.get(f"/contacts/{contact.id}").status_code == 200
    assert client.patch(f"/contacts/{contact.id}", {"title": "x"}).status_code == 403
    assert client.post("/contacts", {"last_name": "x"}).status_code == 403


def test_support_cannot_see_consents(make_user, api_for):
    contact = make_contact()

    response = api_for(make_user(role="support")).get(f"/contacts/{contact.id}/consents")

    assert response.status_code == 404


def test_unknown_ids_are_404(admin, api_for):
    client = api_for(admin)
    for path in [
        "/contacts/999999",
        "/accounts/999999",
        "/tags/999999",
        "/contacts/999999/points",
        "/contacts/999999/consents",
    ]:
        assert client.get(path).status_code == 404, path


def test_non_numeric_id_is_4xx(admin, api_for):
    assert 400 <= api_for(admin).get("/contacts/abc").status_code < 500
