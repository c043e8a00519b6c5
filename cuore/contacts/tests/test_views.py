"""The contact and account lists in the web application: visibility, filters, columns, pages, export, bulk."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cuore.contacts.models import Contact
from cuore.contacts.services import tag_create
from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user, team, other_team):
    return {
        "admin": make_user(role="admin"),
        "manager": make_user(role="manager"),
        "sales": make_user(role="sales", team=team),
        "sales_other": make_user(role="sales", team=other_team),
        "support": make_user(role="support"),
        "marketing": make_user(role="marketing"),
        "analyst": make_user(role="analyst"),
    }


def page_of(client, user, url, **extra):
    client.force_login(user)
    return client.get(url, **extra)


@pytest.mark.parametrize(
    ("role", "contacts", "accounts"),
    [
        ("admin", 200, 200),
        ("manager", 200, 200),
        ("sales", 200, 200),
        ("sales_other", 200, 200),
        ("support", 200, 404),
        ("marketing", 200, 404),
        ("analyst", 200, 200),
    ],
)
def test_who_opens_which_list(client, people, role, contacts, accounts):
    assert page_of(client, people[role], "/contacts/").status_code == contacts
    assert page_of(client, people[role], "/accounts/").status_code == accounts


def test_a_sales_rep_lists_only_their_teams_records(client, people):
    make_contact(first_name="Anna", last_name="Mine", owner=people["sales"])
    make_contact(first_name="Bruno", last_name="Theirs", owner=people["sales_other"])
    make_account(name="Acme", owner=people["sales"])
    make_account(name="Zeta", owner=people["sales_other"])

    contacts = page_of(client, people["sales"], "/contacts/").content.decode()
    accounts = page_of(client, people["sales"], "/accounts/").content.decode()

    assert "Anna Mine" in contacts and "Bruno Theirs" not in contacts
    assert "Acme" in accounts and "Zeta" not in accounts


def test_filters_sorting_and_columns_shape_the_list(client, people):
    make_contact(first_name="Anna", last_name="Rossi", email="anna@example.com", lifecycle_stage="customer")
    make_contact(first_name="Bruno", last_name="Bianchi", email="bruno@example.com", lifecycle_stage="lead")

    by_email = page_of(client, people["admin"], "/contacts/?q=anna@").content.decode()
    customers = page_of(client, people["admin"], "/contacts/?lifecycle_stage=customer").content.decode()
    by_name = page_of(client, people["admin"], "/contacts/?sort=name").content.decode()
    narrow = page_of(client, people["admin"], "/contacts/?cols=full_name,title").content.decode()

    assert "anna@example.com" in by_email and "bruno@example.com" not in by_email
    assert "Anna Rossi" in customers and "Bruno Bianchi" not in customers
    assert by_name.index("Bruno Bianchi") < by_name.index("Anna Rossi")
    assert "Job title" in narrow and "anna@example.com" not in narrow


def test_more_rows_load_after_the_first_page_without_repeats(client, people):
    for n in range(60):
        make_contact(first_name=f"P{n:02d}", last_name="Page")
    client.force_login(people["admin"])

    first = client.get("/contacts/").content.decode()
    next_url = first.split('hx-get="')[-1].split('"')[0].replace("&amp;", "&")
    rest = client.get(f"/contacts/{next_url}", HTTP_HX_REQUEST="true").content.decode()

    assert first.count('data-testid="row"') == 50
    assert rest.count('data-testid="row"') == 10 and "<html" not in rest


def test_the_list_costs_the_same_queries_for_ten_or_fifty_rows(client, people):
    client.force_login(people["manager"])
    for n in range(10):
        make_contact(last_name=f"Few{n}", email=f"few{n}@example.com")
    client.get("/contacts/")
    with CaptureQueriesContext(connection) as few:
        client.get("/contacts/")
    for n in range(40):
        make_contact(last_name=f"More{n}", email=f"more{n}@example.com", phone="+39 333 1234567")
    with CaptureQueriesContext(connection) as many:
        client.get("/contacts/")

    assert len(many) == len(few)


def test_the_csv_export_holds_the_filtered_rows_with_formulas_neutralised(client, people):
    make_contact(first_name='=HYPERLINK("http://evil")', last_name="Rossi", email="rossi@example.com")
    make_contact(first_name="Hidden", last_name="Other", owner=people["sales_other"])
    client.force_login(people["sales"])
    make_contact(first_name="Mine", last_name="Too", owner=people["sales"])

    response = client.get("/contacts/?export=csv&cols=full_name,email")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    assert response["Content-Disposition"] == 'attachment; filename="contacts.csv"'
    assert rows[0] == ["Name", "Email"]
    assert rows[1:] == [["Mine Too", ""]]
    client.force_login(people["admin"])
    everything = b"".join(client.get("/contacts/?export=csv&q=rossi").streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in everything


def test_bulk_assign_owner_and_add_tag_go_through_the_services(client, people):
    first, second = make_contact(owner=people["sales"]), make_contact(owner=people["sales"])
    hidden = make_contact(owner=people["sales_other"])
    tag = tag_create(actor=people["admin"], name="VIP")
    client.force_login(people["sales"])

    assigned = client.post(
        "/contacts/bulk/",
        {
            "ids": [first.pk, second.pk, hidden.pk],
            "action": "assign_owner",
            "owner": people["manager"].pk,
            "next": "/contacts/",
        },
    )
    tagged = client.post("/contacts/bulk/", {"ids": [first.pk], "action": "add_tag", "tag": tag.pk})

    assert assigned.status_code == 302 and tagged.status_code == 302
    assert set(Contact.objects.filter(owner=people["manager"]).values_list("pk", flat=True)) == {first.pk, second.pk}
    assert Contact.objects.get(pk=hidden.pk).owner == people["sales_other"]
    assert list(first.tags.values_list("name", flat=True)) == ["VIP"]
    assert AuditEntry.objects.filter(action="contact.update", channel="ui").count() == 2


@pytest.mark.parametrize(("role", "status"), [("analyst", 403), ("support", 302), ("marketing", 302)])
def test_bulk_actions_follow_the_write_rules(client, people, role, status):
    contact = make_contact()
    client.force_login(people[role])

    response = client.post("/contacts/bulk/", {"ids": [contact.pk], "action": "add_tag", "tag": "999"})

    assert response.status_code == status


def test_bulk_on_accounts_is_not_found_for_roles_without_accounts(client, people):
    account = make_account()
    client.force_login(people["support"])

    assert client.post("/accounts/bulk/", {"ids": [account.pk], "action": "add_tag", "tag": "1"}).status_code == 404


def test_a_bad_bulk_request_says_why_and_changes_nothing(client, people):
    contact = make_contact(owner=people["sales"])
    client.force_login(people["sales"])

    response = client.post("/contacts/bulk/", {"ids": ["x"], "action": "assign_owner"}, follow=True)

    assert "must be row ids" in response.content.decode()
    contact.refresh_from_db()
    assert contact.owner == people["sales"]


def test_a_page_link_that_is_not_ours_starts_the_list_again(client, people):
    make_contact(first_name="Anna", last_name="Rossi")
    client.force_login(people["admin"])

    response = client.get("/contacts/", {"cursor": "bogus"})

    assert response.status_code == 200
    assert "Anna Rossi" in response.content.decode()
    assert "here is the first page" in response.content.decode()


def test_the_filter_form_swaps_the_list_and_pushes_a_clean_address(client, people):
    make_contact(first_name="Anna", last_name="Rossi")
    client.force_login(people["admin"])

    fragment = client.get("/contacts/", {"q": "ross"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="list-contacts")
    page = client.get("/contacts/").content.decode()

    assert fragment.content.decode().lstrip().startswith('<div id="list-contacts"')
    assert "Anna Rossi" in fragment.content.decode()
    assert "fragment" not in page.split('data-testid="list-filters"')[1].split(">")[0]
