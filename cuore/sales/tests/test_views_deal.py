"""The deal page (figures, links, history, activities, edit, win, lose, reopen), the deal list and the pickers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry
from cuore.sales import views
from cuore.sales.models import Deal, DealStageChange
from cuore.sales.services import deal_move_to_stage
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
ROLES_STATUS = [
    ("admin", 200),
    ("manager", 200),
    ("owner", 200),
    ("other_sales", 404),
    ("support", 404),
    ("marketing", 404),
    ("analyst", 200),
]
WRITE_STATUS = [
    ("other_sales", 404),
    ("support", 404),
    ("marketing", 404),
    ("analyst", 403),
]


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


@pytest.fixture
def people(make_user, team, other_team):
    return {
        "admin": make_user(role="admin", username="admin"),
        "manager": make_user(role="manager", username="manager"),
        "owner": make_user(role="sales", team=team, username="owner"),
        "teammate": make_user(role="sales", team=team, username="teammate"),
        "other_sales": make_user(role="sales", team=other_team, username="other"),
        "support": make_user(role="support", username="support"),
        "marketing": make_user(role="marketing", username="marketing"),
        "analyst": make_user(role="analyst", username="analyst"),
    }


@pytest.fixture
def contact(people):
    return make_contact(first_name="Mario", last_name="Bianchi", owner=people["owner"])


@pytest.fixture
def account(people):
    return make_account(name="Acme Srl", owner=people["owner"])


@pytest.fixture
def deal(pipeline, people, contact, account):
    return make_deal(
        stage=stage_of(pipeline, "Proposal"),
        name="Fornitura Rossi",
        owner=people["owner"],
        amount="1234.50",
        expected_close=dt.date(2026, 6, 30),
        contact=contact,
        account=account,
    )


def page(client, deal_id):
    return client.get(f"/deals/{deal_id}/")


# ---- the deal page -------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), ROLES_STATUS)
def test_who_opens_the_deal_page(client, people, deal, role, status):
    client.force_login(people[role])

    response = page(client, deal.id)

    assert response.status_code == status
    assert ("Fornitura Rossi" in response.content.decode()) is (status == 200)


def test_the_deal_page_asks_anonymous_visitors_to_sign_in_and_knows_no_missing_deal(client, people, deal):
    anonymous = page(client, deal.id)
    client.force_login(people["admin"])

    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert page(client, deal.id + 1000).status_code == 404
    assert page(client, 2**70).status_code == 404


def test_the_deal_page_shows_the_figures_links_history_and_activities(client, people, pipeline, deal, contact):
    deal_move_to_stage(actor=people["owner"], deal=deal, stage=stage_of(pipeline, "Negotiation"))
    call = make_activity(subject="Call Mario back", assignee=people["owner"], deal=deal, kind="call")
    elsewhere = make_activity(subject="Unrelated chore", assignee=people["owner"])
    client.force_login(people["owner"])

    html = page(client, deal.id).content.decode()

    assert 'data-testid="deal-amount">€1,234.50<' in html
    assert 'data-testid="deal-stage">Negotiation<' in html
    assert "80%" in html and "€987.60" in html  # weighted at the stage's 80 %
    assert 'data-testid="deal-expected-close">30/06/2026<' in html
    assert 'data-testid="deal-owner">owner<' in html
    assert "Mario Bianchi" in html and "Acme Srl" in html
    history = html.split('data-testid="deal-history"')[1].split("</ul>")[0]
    assert "Moved from “Proposal” to “Negotiation”" in history
    activities = html.split('data-testid="deal-activities"')[1].split("</table>")[0]
    assert f'data-testid="deal-activity-{call.id}"' in activities and "Call Mario back" in activities
    assert elsewhere.subject not in html
    assert 'data-testid="deal-win"' in html and 'data-testid="deal-lose"' in html


def test_links_to_the_contact_and_account_only_when_the_reader_may_see_them(client, people, pipeline, team):
    strangers_contact = make_contact(first_name="Luca", last_name="Verdi", owner=people["other_sales"])
    strangers_account = make_account(name="Secret Spa", owner=people["other_sales"])
    deal = make_deal(
        stage=stage_of(pipeline, "Lead"),
        owner=people["owner"],
        contact=strangers_contact,
        account=strangers_account,
    )

    client.force_login(people["owner"])
    owner_html = page(client, deal.id).content.decode()
    client.force_login(people["analyst"])
    analyst_html = page(client, deal.id).content.decode()

    assert "Luca Verdi" not in owner_html and "Secret Spa" not in owner_html
    assert "a contact you may not see" in owner_html and "an account you may not see" in owner_html
    assert "Luca Verdi" in analyst_html and "Secret Spa" in analyst_html


def test_read_only_and_closed_deals_show_the_right_actions(client, people, pipeline, deal):
    lost = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], status="lost")

    client.force_login(people["analyst"])
    analyst_html = page(client, deal.id).content.decode()
    client.force_login(people["owner"])
    lost_html = page(client, lost.id).content.decode()

    for testid in ("deal-win", "deal-lose", "deal-edit", "deal-move-form", "deal-reopen"):
        assert f'data-testid="{testid}"' not in analyst_html
    assert 'data-testid="deal-reopen"' in lost_html
    assert 'data-testid="deal-win"' not in lost_html and 'data-testid="deal-move-form"' not in lost_html
    assert 'data-testid="deal-lost-reason">price<' in lost_html


def test_the_deal_page_costs_the_same_queries_however_long_its_history(client, people, pipeline, deal):
    client.force_login(people["owner"])
    page(client, deal.id)

    with CaptureQueriesContext(connection) as few:
        page(client, deal.id)
    for index in range(6):
        stage = stage_of(pipeline, ("Lead", "Negotiation")[index % 2])
        deal_move_to_stage(actor=people["teammate"], deal=Deal.objects.get(pk=deal.pk), stage=stage)
        make_activity(assignee=people["teammate"], deal=deal)
    with CaptureQueriesContext(connection) as many:
        page(client, deal.id)

    assert len(many.captured_queries) == len(few.captured_queries)


# ---- editing -------------------------------------------------------------------------------------


def edit_data(deal, **changes):
    data = {
        "name": deal.name,
        "amount": str(deal.amount),
        "currency": deal.currency,
        "expected_close": deal.expected_close.isoformat() if deal.expected_close else "",
        "owner": deal.owner_id or "",
        "contact": deal.contact_id or "",
        "account": deal.account_id or "",
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(("role", "status"), WRITE_STATUS)
def test_who_may_not_edit_a_deal(client, people, deal, role, status):
    client.force_login(people[role])

    form = client.get(f"/deals/{deal.id}/edit/", headers=HTMX)
    saved = client.post(f"/deals/{deal.id}/edit/", edit_data(deal, name="Hijacked"))

    assert form.status_code == status
    assert saved.status_code == status
    assert Deal.objects.get(pk=deal.id).name == "Fornitura Rossi"


def test_the_edit_form_comes_as_a_fragment_for_htmx_and_in_the_page_otherwise(client, people, deal):
    client.force_login(people["owner"])

    fragment = client.get(f"/deals/{deal.id}/edit/", headers=HTMX)
    full = client.get(f"/deals/{deal.id}/edit/")

    assert fragment.status_code == 200
    assert fragment.content.decode().startswith("<form")
    assert 'data-testid="deal-edit-form"' in fragment.content.decode()
    assert 'value="Fornitura Rossi"' in fragment.content.decode()
    assert 'value="Mario Bianchi"' in fragment.content.decode()  # the contact picker shows the name
    assert "<html" in full.content.decode() and 'data-testid="deal-edit-form"' in full.content.decode()


def test_saving_the_edit_form_updates_the_deal_through_the_service(client, people, deal):
    other_contact = make_contact(first_name="Anna", last_name="Neri", owner=people["teammate"])
    client.force_login(people["owner"])

    response = client.post(
        f"/deals/{deal.id}/edit/",
        edit_data(
            deal,
            name="Fornitura Rossi 2027",
            amount="2000.00",
            expected_close="2027-01-31",
            owner=people["teammate"].id,
            contact=other_contact.id,
            account="",
        ),
    )

    assert response.status_code == 302 and response["Location"] == f"/deals/{deal.id}/"
    deal.refresh_from_db()
    assert (deal.name, deal.amount, deal.expected_close) == (
        "Fornitura Rossi 2027",
        Decimal("2000.00"),
        dt.date(2027, 1, 31),
    )
    assert (deal.owner, deal.contact, deal.account) == (people["teammate"], other_contact, None)
    entry = AuditEntry.objects.get(action="deal.update")
    assert (entry.actor, entry.channel) == (people["owner"], "ui")
    assert entry.changes["name"] == ["Fornitura Rossi", "Fornitura Rossi 2027"]


def test_saving_through_htmx_answers_the_summary_and_the_new_title(client, people, deal):
    client.force_login(people["owner"])

    response = client.post(f"/deals/{deal.id}/edit/", edit_data(deal, name="Renamed"), headers=HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="deal-fields"' in html
    assert 'id="deal-title" data-testid="deal-title" hx-swap-oob="true"' in html and "Renamed" in html
    assert Deal.objects.get(pk=deal.id).name == "Renamed"


def test_an_invalid_edit_shows_the_errors_beside_the_fields(client, people, deal):
    client.force_login(people["owner"])

    htmx = client.post(f"/deals/{deal.id}/edit/", edit_data(deal, name="", amount="-5"), headers=HTMX)
    full = client.post(f"/deals/{deal.id}/edit/", edit_data(deal, currency="EURO"))

    assert htmx.status_code == 422
    html = htmx.content.decode()
    assert re.search(r'name="name"[^>]*is-invalid|is-invalid[^>]*name="name"', html)
    assert 'data-testid="error-name">This field is required.<' in html
    assert 'data-testid="error-amount">' in html
    assert full.status_code == 200
    assert 'data-testid="error-currency">' in full.content.decode()
    assert Deal.objects.get(pk=deal.id).name == "Fornitura Rossi"
    assert not AuditEntry.objects.filter(action="deal.update").exists()


def test_service_refusals_show_beside_the_field_they_concern(client, people, deal):
    strangers_contact = make_contact(owner=people["other_sales"])
    client.force_login(people["owner"])

    invisible = client.post(f"/deals/{deal.id}/edit/", edit_data(deal, contact=strangers_contact.id), headers=HTMX)
    bad_currency = client.post(f"/deals/{deal.id}/edit/", edit_data(deal, currency="XXQ"), headers=HTMX)

    assert invisible.status_code == 422
    assert 'data-testid="error-contact">Not found, or you may not see it.<' in invisible.content.decode()
    assert bad_currency.status_code == 422
    assert 'data-testid="error-currency">Enter a currency code, such as EUR.<' in bad_currency.content.decode()
    assert Deal.objects.get(pk=deal.id).contact_id == deal.contact_id


def test_a_sales_rep_can_only_hand_a_deal_to_their_team(client, people, deal):
    client.force_login(people["owner"])

    response = client.post(f"/deals/{deal.id}/edit/", edit_data(deal, owner=people["other_sales"].id), headers=HTMX)

    assert response.status_code == 422
    assert 'data-testid="error-owner">' in response.content.decode()
    assert Deal.objects.get(pk=deal.id).owner == people["owner"]


def test_a_link_the_editor_may_not_see_is_kept_when_left_alone(client, people, pipeline):
    strangers_contact = make_contact(owner=people["other_sales"])
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], contact=strangers_contact)
    client.force_login(people["owner"])

    response = client.post(f"/deals/{deal.id}/edit/", edit_data(deal, name="Still linked"))

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.name, deal.contact) == ("Still linked", strangers_contact)


# ---- win, lose, reopen ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager", "owner"])
def test_writers_win_a_deal(client, people, deal, role):
    client.force_login(people[role])

    response = client.post(f"/deals/{deal.id}/win/")

    assert response.status_code == 302 and response["Location"] == f"/deals/{deal.id}/"
    deal.refresh_from_db()
    assert deal.status == "won" and deal.closed_at is not None
    assert DealStageChange.objects.get(deal=deal).to_status == "won"
    assert AuditEntry.objects.get(action="deal.win").channel == "ui"


@pytest.mark.parametrize(("role", "status"), WRITE_STATUS)
def test_who_may_not_win_lose_or_reopen(client, people, pipeline, deal, role, status):
    lost = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], status="lost")
    client.force_login(people[role])

    assert client.post(f"/deals/{deal.id}/win/").status_code == status
    assert client.post(f"/deals/{deal.id}/lose/", {"reason": "price"}).status_code == status
    assert client.post(f"/deals/{lost.id}/reopen/").status_code == status
    assert Deal.objects.get(pk=deal.id).status == "open"
    assert Deal.objects.get(pk=lost.id).status == "lost"


def test_closing_actions_need_a_signed_in_user_and_a_post(client, people, deal):
    anonymous = [
        client.post(f"/deals/{deal.id}/win/"),
        client.post(f"/deals/{deal.id}/lose/", {"reason": "price"}),
        client.post(f"/deals/{deal.id}/reopen/"),
        client.get(f"/deals/{deal.id}/edit/"),
        client.post(f"/deals/{deal.id}/edit/", edit_data(deal, name="Anonymous")),
    ]
    client.force_login(people["owner"])

    assert all(r.status_code == 302 and r["Location"].startswith("/login/") for r in anonymous)
    assert client.get(f"/deals/{deal.id}/win/").status_code == 405
    assert client.get(f"/deals/{deal.id}/lose/").status_code == 405
    assert client.get(f"/deals/{deal.id}/reopen/").status_code == 405
    assert Deal.objects.get(pk=deal.id).status == "open"
    assert Deal.objects.get(pk=deal.id).name == "Fornitura Rossi"


def test_winning_a_closed_deal_is_a_conflict_with_the_reason(client, people, pipeline):
    won = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], status="won")
    client.force_login(people["owner"])

    response = client.post(f"/deals/{won.id}/win/")

    assert response.status_code == 409
    assert 'data-testid="deal-error">This deal is already closed: reopen it first.<' in response.content.decode()


def test_losing_a_deal_needs_a_reason_shown_beside_the_field(client, people, deal):
    client.force_login(people["owner"])

    missing = client.post(f"/deals/{deal.id}/lose/", {"reason": "   "})
    missing_htmx = client.post(f"/deals/{deal.id}/lose/", {"reason": ""}, headers=HTMX)

    assert missing.status_code == 200
    html = missing.content.decode()
    assert 'data-testid="error-reason">This field is required.<' in html
    assert 'class="collapse show" id="lose-panel"' in html
    assert missing_htmx.status_code == 422
    assert Deal.objects.get(pk=deal.id).status == "open"


def test_losing_a_deal_with_a_reason_closes_it(client, people, deal):
    client.force_login(people["owner"])

    response = client.post(f"/deals/{deal.id}/lose/", {"reason": "Went with a competitor"})

    assert response.status_code == 302
    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == ("lost", "Went with a competitor")
    entry = AuditEntry.objects.get(action="deal.lose")
    assert (entry.actor, entry.channel) == (people["owner"], "ui")
    assert 'data-testid="deal-lost-reason">Went with a competitor<' in page(client, deal.id).content.decode()


def test_losing_a_closed_deal_is_a_conflict(client, people, pipeline):
    won = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], status="won")
    client.force_login(people["owner"])

    response = client.post(f"/deals/{won.id}/lose/", {"reason": "price"})

    assert response.status_code == 409
    assert Deal.objects.get(pk=won.id).status == "won"


def test_reopening_a_lost_deal_and_an_open_one(client, people, pipeline, deal):
    lost = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], status="lost")
    client.force_login(people["owner"])

    reopened = client.post(f"/deals/{lost.id}/reopen/")
    already_open = client.post(f"/deals/{deal.id}/reopen/")

    assert reopened.status_code == 302
    lost.refresh_from_db()
    assert (lost.status, lost.lost_reason, lost.closed_at) == ("open", "", None)
    assert AuditEntry.objects.get(action="deal.reopen").channel == "ui"
    assert already_open.status_code == 409
    assert "This deal is already open." in already_open.content.decode()


def test_closing_from_elsewhere_goes_back_there_but_never_off_site(client, people, pipeline, deal):
    other = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"])
    client.force_login(people["owner"])

    inside = client.post(f"/deals/{deal.id}/win/", {"next": "/deals/board/"})
    outside = client.post(f"/deals/{other.id}/win/", {"next": "https://evil.example/"})

    assert inside["Location"] == "/deals/board/"
    assert outside["Location"] == f"/deals/{other.id}/"


# ---- the deal list -------------------------------------------------------------------------------


def listed(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-testid="deal-row-(\d+)"', response.content.decode())]


@pytest.mark.parametrize(("role", "status"), ROLES_STATUS)
def test_who_opens_the_deal_list_and_what_they_see(client, people, deal, role, status):
    if status == 404 and role == "other_sales":
        status = 200  # the list opens, without the other team's deal
    client.force_login(people[role])

    response = client.get("/deals/")

    assert response.status_code == status
    if status == 200:
        assert (deal.id in listed(response)) is (role != "other_sales")


def test_the_deal_list_filters(client, people, pipeline, deal):
    renewals = make_pipeline(name="Renewals", stages=(("Due", 60),))
    lead = stage_of(pipeline, "Lead")
    acme = make_deal(stage=lead, name="Acme expansion", owner=people["teammate"])
    won = make_deal(stage=lead, name="Zeta", owner=people["owner"], status="won")
    renewal = make_deal(stage=stage_of(renewals, "Due"), name="Acme renewal", owner=people["owner"])
    client.force_login(people["owner"])

    assert set(listed(client.get("/deals/", {"q": "acme"}))) == {acme.id, renewal.id}
    assert set(listed(client.get("/deals/", {"pipeline": renewals.id}))) == {renewal.id}
    assert set(listed(client.get("/deals/", {"stage": lead.id}))) == {acme.id, won.id}
    assert set(listed(client.get("/deals/", {"status": "won"}))) == {won.id}
    assert set(listed(client.get("/deals/", {"owner": people["teammate"].id}))) == {acme.id}
    assert listed(client.get("/deals/", {"sort": "name"})) == [acme.id, renewal.id, deal.id, won.id]
    assert listed(client.get("/deals/", {"sort": "expected_close"})) == [deal.id]


def test_invalid_filters_are_shown_beside_their_field(client, people, deal):
    client.force_login(people["owner"])

    response = client.get("/deals/", {"status": "maybe", "pipeline": "x"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="error-status">' in html and 'data-testid="error-pipeline">' in html
    assert listed(response) == [deal.id]


def test_the_deal_list_pages_with_a_cursor(client, people, pipeline, monkeypatch):
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    deals = [make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"]) for _ in range(5)]
    client.force_login(people["owner"])

    first = client.get("/deals/", {"status": "open"})
    cursor = re.search(r'hx-get="\?([^"]*cursor=[^"]+)"', first.content.decode()).group(1)
    second = client.get("/deals/?" + cursor.replace("&amp;", "&"), headers={"HX-Request": "true"})
    stale = client.get("/deals/", {"cursor": "garbage"})

    newest_first = [d.id for d in reversed(deals)]
    assert listed(first) == newest_first[:2]
    assert "status=open" in cursor
    assert listed(second) == newest_first[2:4]
    assert stale.status_code == 200 and listed(stale) == newest_first[:2]
    assert "no longer exists" in stale.content.decode()


def test_the_deal_list_costs_the_same_queries_for_few_or_many_rows(client, people, pipeline):
    owner = people["owner"]
    make_deal(
        stage=stage_of(pipeline, "Lead"),
        owner=owner,
        account=make_account(owner=owner),
        contact=make_contact(owner=owner),
    )
    client.force_login(owner)
    client.get("/deals/")

    with CaptureQueriesContext(connection) as few:
        client.get("/deals/")
    for _ in range(10):
        make_deal(
            stage=stage_of(pipeline, "Proposal"),
            owner=people["teammate"],
            account=make_account(owner=owner),
            contact=make_contact(owner=owner),
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get("/deals/")

    assert len(listed(response)) == 11
    assert len(many.captured_queries) == len(few.captured_queries)


# ---- the contact and account pickers -------------------------------------------------------------


def test_the_contact_picker_offers_only_visible_contacts(client, people, contact):
    make_contact(first_name="Maria", last_name="Bianchetti", owner=people["other_sales"])
    client.force_login(people["owner"])

    response = client.get("/pick/contacts/", {"contact_label": "bian"})
    nothing = client.get("/pick/contacts/", {"contact_label": "zzz"})
    empty = client.get("/pick/contacts/")

    html = response.content.decode()
    assert f'data-pick-id="{contact.id}" data-pick-label="Mario Bianchi"' in html
    assert "Bianchetti" not in html
    assert "Nothing found." in nothing.content.decode()
    assert empty.content.decode().strip() == ""


def test_the_account_picker_offers_nothing_to_roles_without_accounts(client, people, account):
    client.force_login(people["owner"])
    owner_html = client.get("/pick/accounts/", {"account_label": "acme"}).content.decode()
    client.force_login(people["support"])
    support = client.get("/pick/accounts/", {"account_label": "acme"})

    assert f'data-pick-id="{account.id}"' in owner_html
    assert support.status_code == 200 and "Acme" not in support.content.decode()


def test_the_pickers_need_a_signed_in_user(client):
    assert client.get("/pick/contacts/", {"contact_label": "a"}).status_code == 302
    assert client.get("/pick/accounts/", {"account_label": "a"}).status_code == 302
