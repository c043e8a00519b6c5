"""Times are stored and answered by the API in UTC; pages show them in the configured time zone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from conftest import ApiClient
from cuore.contacts.models import Contact
from cuore.contacts.tests.factories import make_contact
from cuore.users.services import token_create

pytestmark = pytest.mark.django_db


@override_settings(TIME_ZONE="Europe/Rome")
def test_the_api_answers_in_utc_and_the_pages_in_rome(client, make_user):
    manager = make_user(role="manager")
    contact = make_contact(first_name="Anna", last_name="Ora")
    Contact.objects.filter(pk=contact.pk).update(updated_at=dt.datetime(2026, 7, 1, 22, 30, tzinfo=dt.UTC))
    timezone.activate("Europe/Rome")
    try:
        api = ApiClient(token_create(actor=None, user=manager).raw).get(f"/contacts/{contact.pk}")
        client.force_login(manager)
        page = client.get("/contacts/", {"cols": "full_name,updated_at"}).content.decode()
    finally:
        timezone.deactivate()

    assert api.json_body["updated_at"] == "2026-07-01T22:30:00Z"
    assert "02/07/2026" in page  # 00:30 in Rome: the next day, written day first
