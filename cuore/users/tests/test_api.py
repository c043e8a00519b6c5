"""Users, teams and tokens through the API."""

import pytest

from cuore.core.models import AuditEntry
from cuore.users.models import ApiToken, User

pytestmark = pytest.mark.django_db


def test_me_answers_the_token_owner(make_user, api_for):
    user = make_user(role="support")

    response = api_for(user).get("/me")

    assert response.status_code == 200
    assert response.json_body["username"] == user.username
    assert response.json_body["role"] == "support"


def test_missing_or_wrong_token_is_401(make_user):
    from conftest import ApiClient

    assert ApiClient(None).get("/me").status_code == 401
    response = ApiClient("cuore_not-a-real-token").get("/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="cuore"'


def test_revoked_token_is_refused(make_user, api_for):
    client = api_for(make_user())
    token = ApiToken.objects.get()

    assert client.post(f"/tokens/{token.id}/revoke").status_code == 200

    assert client.get("/me").status_code == 401


def test_token_is_stored_hashed(make_user):
    from cuore.users.services import token_create, token_hash

    issued = token_create(actor=None, user=make_user())

    stored = ApiToken.objects.get()
    assert stored.key_hash == token_hash(issued.raw)
    assert issued.raw not in {stored.key_hash, stored.prefix}


def test_admin_creates_user_with_audit_entry(make_user, api_for):
    admin = make_user(role="admin")

    response = api_for(admin).post("/users", {"username": "carla", "role": "marketing"})

    assert response.status_code == 201
    created = User.objects.get(username="carla")
    assert created.role == "marketing"
    entry = AuditEntry.objects.get(action="user.create")
    assert (entry.actor_id, entry.channel, entry.object_id) == (admin.id, "api", str(created.id))


@pytest.mark.parametrize("role", ["manager", "sales", "support", "marketing", "analyst"])
def test_only_admin_creates_users(make_user, api_for, role):
    response = api_for(make_user(role=role)).post("/users", {"username": "x", "role": "sales"})

    assert response.status_code == 403
    assert not User.objects.filter(username="x").exists()


def test_invalid_role_is_422_with_field(make_user, api_for):
    response = api_for(make_user(role="admin")).post("/users", {"username": "x", "role": "boss"})

    assert response.status_code == 422
    assert [e["field"] for e in response.json_body["errors"]] == ["role"]


def test_duplicate_username_is_422(make_user, api_for):
    admin = make_user(role="admin", username="boss")

    response = api_for(admin).post("/users", {"username": "BOSS", "role": "sales"})

    assert response.status_code == 422
    assert response.json_body["errors"] == [{"field": "username", "reason": "is already taken"}]


def test_idempotency_key_replays_and_refuses_other_body(make_user, api_for):
    client = api_for(make_user(role="admin"))
    headers = {"Idempotency-Key": "k-1"}

    first = client.post("/teams", {"name": "East"}, headers=headers)
    again = client.post("/teams", {"name": "East"}, headers=headers)
    other = client.post("/teams", {"name": "West"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert first.json_body == again.json_body
    assert other.status_code == 422
    assert other.json_body["errors"][0]["field"] == "Idempotency-Key"
    from cuore.users.models import Team

    assert list(Team.objects.values_list("name", flat=True)) == ["East"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[]", b'"text"', b"null", b'{"name": 12345}', b'{"name": ""}', b'{"name": null}'],
)
def test_malformed_bodies_are_4xx_never_500(make_user, api_for, body):
    response = api_for(make_user(role="admin")).post("/teams", raw=body)

    assert 400 <= response.status_code < 500


def test_bad_cursor_is_422(make_user, api_for):
    response = api_for(make_user()).get("/users", {"cursor": "garbage!!"})

    assert response.status_code == 422
    assert response.json_body["errors"][0]["field"] == "cursor"


def test_users_list_paginates_with_cursor(make_user, api_for):
    viewer = make_user(username="a0")
    for i in range(1, 5):
        make_user(username=f"a{i}")
    client = api_for(viewer)

    first = client.get("/users", {"limit": 2})
    second = client.get("/users", {"limit": 2, "cursor": first.json_body["next_cursor"]})
    third = client.get("/users", {"limit": 2, "cursor": second.json_body["next_cursor"]})

    names = [u["username"] for page in (first, second, third) for u in page.json_body["results"]]
    assert names == ["a0", "a1", "a2", "a3", "a4"]
    assert third.json_body["next_cursor"] is None


def test_a_username_and_password_buy_a_working_token(make_user):
    from conftest import ApiClient

    user = make_user(role="sales", username="giulia")

    response = ApiClient(None).post("/auth/token", {"username": "GIULIA", "password": "Secret-pass-123"})

    assert response.status_code == 201
    raw = response.json_body["token"]
    assert ApiClient(raw).get("/me").json_body["username"] == "giulia"
    token = ApiToken.objects.get(user=user)
    assert (token.name, token.key_hash != raw) == ("password login", True)
    entry = AuditEntry.objects.get(action="token.create")
    assert (entry.actor_id, entry.channel) == (user.pk, "api")


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "giulia", "password": "wrong-password"},
        {"username": "nobody", "password": "Secret-pass-123"},
    ],
)
def test_wrong_credentials_are_401_and_say_not_which(make_user, credentials):
    from conftest import ApiClient

    make_user(username="giulia")

    response = ApiClient(None).post("/auth/token", credentials)

    assert (response.status_code, response.json_body) == (401, {"detail": "Wrong username or password.", "errors": []})
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token(make_user):
    from conftest import ApiClient

    user = make_user(username="gone")
    User.objects.filter(pk=user.pk).update(is_active=False)

    response = ApiClient(None).post("/auth/token", {"username": "gone", "password": "Secret-pass-123"})

    assert response.status_code == 401


def test_password_guessing_is_throttled(make_user):
    from conftest import ApiClient

    make_user(username="giulia")
    client = ApiClient(None)
    statuses = [
        client.post("/auth/token", {"username": "giulia", "password": f"guess-{n}"}).status_code for n in range(12)
    ]

    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429, 429]
    # Even the right password waits out the minute.
    assert client.post("/auth/token", {"username": "giulia", "password": "Secret-pass-123"}).status_code == 429
