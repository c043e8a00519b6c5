"""Signing in and out, the password change, the language switch and saved views, in the browser's terms."""

from __future__ import annotations

import pytest

from cuore.core.models import AuditEntry, SavedView

pytestmark = pytest.mark.django_db
PASSWORD = "Secret-pass-123"


def test_the_site_root_asks_a_stranger_to_log_in(client):
    response = client.get("/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/login/")
    assert 'name="password"' in response.content.decode()


def test_pages_need_a_login(client):
    response = client.get("/contacts/")

    assert (response.status_code, response["Location"]) == (302, "/login/?next=/contacts/")


def test_logging_in_leads_home_and_a_wrong_password_says_so(client, make_user):
    make_user(username="giulia")

    wrong = client.post("/login/", {"username": "giulia", "password": "nope"})
    right = client.post("/login/", {"username": "giulia", "password": PASSWORD})

    assert wrong.status_code == 200
    assert "Please enter a correct username and password" in wrong.content.decode()
    assert (right.status_code, right["Location"]) == (302, "/")


def test_logging_out_needs_a_post(client, make_user):
    client.force_login(make_user())

    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/contacts/").status_code == 302


def test_password_change_shows_errors_beside_the_fields_then_changes_it(client, make_user):
    user = make_user()
    client.force_login(user)

    refused = client.post(
        "/me/password/", {"old_password": "wrong", "new_password1": "short", "new_password2": "other"}
    )
    changed = client.post(
        "/me/password/",
        {"old_password": PASSWORD, "new_password1": "A-much-better-one-42", "new_password2": "A-much-better-one-42"},
    )

    page = refused.content.decode()
    assert refused.status_code == 200 and page.count("invalid-feedback") >= 2
    assert "Your old password was entered incorrectly" in page
    assert changed.status_code == 302
    user.refresh_from_db()
    assert user.check_password("A-much-better-one-42")


def test_the_language_switch_is_saved_and_the_pages_follow_it(client, make_user):
    user = make_user(role="sales")
    client.force_login(user)

    response = client.post("/me/language/", {"language": "it", "next": "/contacts/"})
    page = client.get("/contacts/").content.decode()

    assert (response.status_code, response["Location"]) == (302, "/contacts/")
    user.refresh_from_db()
    assert user.language == "it"
    assert '<html lang="it">' in page
    assert "Contatti" in page
    assert AuditEntry.objects.filter(action="user.update", object_id=str(user.pk), channel="ui").exists()


def test_an_unknown_language_is_refused_and_nothing_changes(client, make_user):
    user = make_user()
    client.force_login(user)

    client.post("/me/language/", {"language": "xx", "next": "https://evil.example/"})

    user.refresh_from_db()
    assert user.language == "en"


def test_saved_views_are_saved_listed_and_deleted_by_their_owner_only(client, make_user):
    anna, bruno = make_user(role="manager"), make_user(role="manager")
    client.force_login(anna)

    saved = client.post(
        "/me/views/save/",
        {"list_name": "contacts", "name": "Leads", "query": "lifecycle_stage=lead", "next": "/contacts/"},
    )
    view = SavedView.objects.get()
    listed = client.get("/contacts/").content.decode()
    client.force_login(bruno)
    foreign = client.post(f"/me/views/{view.pk}/delete/", {"next": "/contacts/"})
    client.force_login(anna)
    deleted = client.post(f"/me/views/{view.pk}/delete/", {"next": "/contacts/"})

    assert (saved.status_code, saved["Location"]) == (302, "/contacts/?lifecycle_stage=lead")
    assert 'href="?lifecycle_stage=lead">Leads</a>' in listed
    assert foreign.status_code == 404
    assert deleted.status_code == 302 and not SavedView.objects.exists()
