"""In a real browser: logging in, the contact list, the language switch."""

from __future__ import annotations

import pytest

from cuore.contacts.tests.factories import make_contact

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_a_sales_rep_logs_in_filters_the_contacts_and_switches_to_italian(page, login, screenshot, make_user, team):
    rep = make_user(role="sales", team=team, username="giulia")
    make_contact(first_name="Anna", last_name="Rossi", email="anna.rossi@example.com", owner=rep)
    make_contact(first_name="Bruno", last_name="Bianchi", email="bruno@example.com", owner=rep)

    login(rep)
    page.goto("/contacts/")
    page.fill("#id_q", "anna.ro")
    page.wait_for_function("document.querySelectorAll('[data-testid=row]').length === 1")
    screenshot("contacts-list")

    assert "anna.rossi@example.com" in page.inner_text("[data-testid=list-contacts]")
    assert "q=anna.ro" in page.url  # the filter is in the address: shareable, and a saved view

    page.click("#user-menu")
    page.select_option("#language-select", "it")
    page.click("text=Switch")
    page.wait_for_load_state("networkidle")
    screenshot("contacts-list-it")

    assert page.get_attribute("html", "lang") == "it"
    assert page.locator("h1").inner_text() == "Contatti"


def test_a_wrong_password_is_refused_on_the_page(page, make_user):
    make_user(username="sara", role="support")

    page.goto("/login/")
    page.fill("#id_username", "sara")
    page.fill("#id_password", "not-the-password")
    page.click("button[type=submit]")

    assert "correct username and password" in page.inner_text(".alert-danger")
