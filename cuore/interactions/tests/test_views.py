"""The customer 360 pages: the contact and account pages, their timelines, logging a touch, editing a contact."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cuore.contacts.models import Address, ConsentEvent, Contact, ContactAccount, ContactPoint, Tag
from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.models import AuditEntry
from cuore.interactions.models import Interaction
from cuore.interactions.tests.factories import T0, make_interaction, make_stage_change, make_ticket
from cuore.orders.models import Order
from cuore.orders.tests.factories import make_order, make_product
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of
from cuore.service.models import Ticket

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
ROLES = ["admin", "manager", "owner", "stranger", "support", "marketing", "analyst"]


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


# ---- people and the world they look at -----------------------------------------------------------


@pytest.fixture
def people(make_user, rep, stranger, manager, agent) -> dict:
    """One user per role of the matrix: the owning rep, a rep of another team, and the rest."""
    return {
        "admin": make_user(role="admin", username="admin"),
        "manager": manager,
        "owner": rep,
        "stranger": stranger,
        "support": agent,
        "marketing": make_user(role="marketing", username="marketer"),
        "analyst": make_user(role="analyst", username="analyst"),
    }


@pytest.fixture
def world(rep, stranger):
    """A customer of the rep's team with something of every kind, some of it out of the rep's reach."""
    pipeline = make_pipeline()
    contact = make_contact(
        first_name="Anna",
        last_name="Bianchi",
        owner=rep,
        email="anna@example.com",
        phone="+39 333 1234567",
        title="Buyer",
        lifecycle_stage="customer",
        source="fair",
        language="it",
    )
    ContactPoint.objects.create(
        contact=contact, kind="social", value="@annab", value_normalized="annab", label="instagram", is_verified=True
    )
    Address.objects.create(contact=contact, kind="home", line1="Via Roma 1", postal_code="20100", city="Milano")
    contact.tags.add(Tag.objects.create(name="VIP"))
    mine = make_account(name="Acme Srl", owner=rep, vat_number="IT01234567897", industry="Retail")
    theirs = make_account(name="Hidden Spa", owner=stranger)
    ContactAccount.objects.create(contact=contact, account=mine, role="Purchasing", is_primary=True)
    ContactAccount.objects.create(contact=contact, account=theirs, role="Advisor")
    ConsentEvent.objects.create(
        contact=contact, purpose="newsletter", channel="email", status="granted", source="form", occurred_at=at(0)
    )
    ConsentEvent.objects.create(
        contact=contact,
        purpose="newsletter",
        channel="email",
        status="withdrawn",
        source="unsubscribe",
        occurred_at=at(1),
    )
    ConsentEvent.objects.create(
        contact=contact, purpose="marketing", channel="sms", status="granted", source="form", occurred_at=at(0)
    )
    open_deal = make_deal(
        stage=stage_of(pipeline, "Proposal"), owner=rep, contact=contact, name="Printers for Anna", amount="2500.00"
    )
    make_deal(stage=stage_of(pipeline, "Proposal"), owner=rep, contact=contact, name="Closed and won", status="won")
    make_deal(stage=stage_of(pipeline, "Lead"), owner=stranger, contact=contact, name="Another team's deal")
    order = make_order(contact=contact, products=[(make_product(price="1234.50"), 1)], placed_at=at(2))
    Order.objects.filter(pk=order.pk).update(status="confirmed")
    open_ticket = make_ticket(contact=contact, subject="Broken printer", created_at=at(3))
    solved = make_ticket(contact=contact, subject="Old complaint", created_at=at(1))
    Ticket.objects.filter(pk=solved.pk).update(status="solved")
    make_activity(subject="Call Anna back", assignee=rep, contact=contact, due_at=at(48))
    make_activity(subject="Already done", assignee=rep, contact=contact, done=True)
    email = make_interaction(contact=contact, channel="email", subject="Hello Anna", occurred_at=at(4))
    make_stage_change(deal=open_deal, at=at(5))
    return {
        "contact": contact,
        "account": mine,
        "hidden_account": theirs,
        "deal": open_deal,
        "order": order,
        "ticket": open_ticket,
        "email": email,
    }


def login(client, user):
    client.force_login(user)
    return client


def entries(content: bytes) -> list[tuple[str, str, int]]:
    """The timeline entries of a page or fragment: (kind, channel, id), in order."""
    pattern = r'data-testid="timeline-entry" data-kind="(\w+)" data-channel="(\w+)" data-id="(\d+)"'
    return [(kind, channel, int(pk)) for kind, channel, pk in re.findall(pattern, content.decode())]


def has(response, testid: str) -> bool:
    return f'data-testid="{testid}"' in response.content.decode()


def contact_url(contact) -> str:
    return reverse("customer:contact", args=[contact.pk])


def account_url(account) -> str:
    return reverse("customer:account", args=[account.pk])


def log_data(**overrides) -> dict:
    return {"channel": "phone", "direction": "out", "subject": "Called about the renewal", "body": "", **overrides}


# ---- who gets in ---------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in(client, world):
    contact, account = world["contact"], world["account"]
    urls = [
        contact_url(contact),
        reverse("customer:timeline", args=[contact.pk]),
        reverse("customer:profile", args=[contact.pk]),
        reverse("customer:profile_edit", args=[contact.pk]),
        account_url(account),
        reverse("customer:account_timeline", args=[account.pk]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    for url in [reverse("customer:log", args=[contact.pk]), reverse("customer:account_log", args=[account.pk])]:
        response = client.post(url, log_data())
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), url
    assert not Interaction.objects.filter(subject="Called about the renewal").exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("manager", 200),
        ("owner", 200),
        ("stranger", 404),
        ("support", 200),
        ("marketing", 200),
        ("analyst", 200),
    ],
)
def test_the_contact_page_opens_for_whoever_sees_the_contact(client, people, world, role, status):
    response = login(client, people[role]).get(contact_url(world["contact"]))

    assert response.status_code == status
    if status == 200:
        assert "Anna Bianchi" in response.content.decode()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("admin", 200),
        ("manager", 200),
        ("owner", 200),
        ("stranger", 404),
        ("support", 404),
        ("marketing", 404),
        ("analyst", 200),
    ],
)
def test_the_account_page_opens_for_whoever_sees_the_account(client, people, world, role, status):
    response = login(client, people[role]).get(account_url(world["account"]))

    assert response.status_code == status
    if status == 200:
        assert "Acme Srl" in response.content.decode()


@pytest.mark.parametrize("record_id", [999_999, 2**63, 2**70])
def test_missing_and_impossible_ids_are_not_found(client, people, world, record_id):
    login(client, people["admin"])

    for name in ["contact", "timeline", "profile", "profile_edit", "account", "account_timeline"]:
        assert client.get(reverse(f"customer:{name}", args=[record_id])).status_code == 404, name
    for name in ["log", "account_log"]:
        assert client.post(reverse(f"customer:{name}", args=[record_id]), log_data()).status_code == 404, name


def test_a_rep_of_another_team_gets_404_everywhere_on_the_contact_and_account(client, people, world):
    contact, account = world["contact"], world["account"]
    login(client, people["stranger"])

    assert client.get(reverse("customer:timeline", args=[contact.pk])).status_code == 404
    assert client.get(reverse("customer:profile_edit", args=[contact.pk]), headers=HTMX).status_code == 404
    assert client.post(reverse("customer:profile_edit", args=[contact.pk]), {"last_name": "X"}).status_code == 404
    assert client.post(reverse("customer:log", args=[contact.pk]), log_data()).status_code == 404
    assert client.get(reverse("customer:account_timeline", args=[account.pk])).status_code == 404
    assert client.post(reverse("customer:account_log", args=[account.pk]), log_data()).status_code == 404
    assert not Interaction.objects.filter(subject="Called about the renewal").exists()
    assert Contact.objects.get(pk=contact.pk).last_name == "Bianchi"


# ---- the contact page: sections by role ----------------------------------------------------------

SECTIONS = ["consents", "open-deals", "recent-orders", "open-tickets", "open-tasks", "timeline", "linked-accounts"]
VISIBLE_SECTIONS = {
    "admin": set(SECTIONS),
    "manager": set(SECTIONS),
    "analyst": set(SECTIONS),
    "owner": {"consents", "open-deals", "recent-orders", "open-tasks", "timeline", "linked-accounts"},
    "support": {"open-tickets", "open-tasks", "timeline"},
    "marketing": {"consents", "open-tasks"},
}


@pytest.mark.parametrize("role", sorted(VISIBLE_SECTIONS))
def test_the_contact_page_shows_the_sections_the_role_may_read(client, people, world, role):
    response = login(client, people[role]).get(contact_url(world["contact"]))

    assert {section for section in SECTIONS if has(response, section)} == VISIBLE_SECTIONS[role]


@pytest.mark.parametrize(
    ("role", "edit", "log"),
    [
        ("admin", True, True),
        ("manager", True, True),
        ("owner", True, True),
        ("support", True, True),
        ("marketing", True, False),
        ("analyst", False, False),
    ],
)
def test_write_controls_show_only_for_roles_that_may_write(client, people, world, role, edit, log):
    response = login(client, people[role]).get(contact_url(world["contact"]))

    assert has(response, "edit-profile") is edit
    assert has(response, "log-form") is log


def test_the_contact_page_shows_the_profile_points_addresses_and_accounts(client, people, world):
    response = login(client, people["owner"]).get(contact_url(world["contact"]))
    page = response.content.decode()

    for text in ["Anna", "Bianchi", "Buyer", "IT", "Customer", "fair", "North", "VIP", "Via Roma 1", "20100 Milano"]:
        assert text in page, text
    assert 'href="mailto:anna@example.com"' in page
    assert 'href="tel:+393331234567"' in page
    assert "@annab" in page and "instagram" in page
    assert page.count('data-testid="point-primary"') == 2  # the email and the mobile
    assert page.count('data-testid="point-verified"') == 1  # the social handle
    # the account of the rep's team is linked; the other team's account is not even named
    assert f'href="{account_url(world["account"])}"' in page
    assert "Acme Srl" in page and "Purchasing" in page
    assert "Hidden Spa" not in page


def test_accounts_are_not_listed_to_roles_that_do_not_see_accounts(client, people, world):
    response = login(client, people["support"]).get(contact_url(world["contact"]))

    assert "Acme Srl" not in response.content.decode()


def test_the_consent_state_is_the_latest_entry_per_purpose_and_channel(client, people, world):
    response = login(client, people["marketing"]).get(contact_url(world["contact"]))
    rows = re.findall(
        r'data-testid="consent-row" data-purpose="(\w+)" data-channel="(\w+)" data-status="(\w+)"',
        response.content.decode(),
    )

    assert rows == [("marketing", "sms", "granted"), ("newsletter", "email", "withdrawn")]


def test_the_open_sections_show_open_records_the_user_may_see(client, people, world):
    response = login(client, people["owner"]).get(contact_url(world["contact"]))
    page = response.content.decode()

    assert "Printers for Anna" in page
    assert "€2,500.00" in page
    assert "Closed and won" not in page  # not open
    assert "Another team&#x27;s deal" not in page and "Another team's deal" not in page  # another team's
    assert world["order"].number in page
    assert "€1,234.50" in page  # the order's total, and the summary of confirmed orders
    assert 'data-testid="order-summary"' in page
    assert "Call Anna back" in page
    assert "Already done" not in page


def test_support_sees_the_open_tickets_and_no_sales_data(client, people, world):
    response = login(client, people["support"]).get(contact_url(world["contact"]))
    page = response.content.decode()

    assert "Broken printer" in page
    assert "Old complaint" not in page.split('data-testid="open-tickets"')[1].split("</section>")[0]
    assert f'href="{reverse("service:ticket", args=[world["ticket"].pk])}"' in page
    assert "Printers for Anna" not in page.split('data-testid="timeline"')[0]
    assert "€1,234.50" not in page


def test_the_value_panel_is_not_rendered_without_scores(client, people, world):
    response = login(client, people["admin"]).get(contact_url(world["contact"]))

    assert not has(response, "value-panel")


def test_the_value_panel_shows_the_scores_it_is_given():
    html = render_to_string(
        "interactions/_value_panel.html", {"scores": [{"label": "Lifetime value", "value": "€1,200.00"}]}
    )

    assert 'data-testid="value-panel"' in html
    assert "Lifetime value" in html and "€1,200.00" in html
    assert render_to_string("interactions/_value_panel.html", {}).strip() == ""


# ---- the timeline --------------------------------------------------------------------------------

KINDS = {
    "admin": {"interaction", "order", "ticket", "deal"},
    "manager": {"interaction", "order", "ticket", "deal"},
    "analyst": {"interaction", "order", "ticket", "deal"},
    "owner": {"interaction", "order", "deal"},
    "support": {"interaction", "ticket"},
}


@pytest.mark.parametrize("role", sorted(KINDS))
def test_the_timeline_holds_the_kinds_the_role_may_read(client, people, world, role):
    response = login(client, people[role]).get(contact_url(world["contact"]))

    assert {kind for kind, _channel, _id in entries(response.content)} == KINDS[role]


def test_the_timeline_is_newest_first(client, people, world):
    response = login(client, people["admin"]).get(contact_url(world["contact"]))

    assert [kind for kind, _c, _i in entries(response.content)] == [
        "deal",
        "interaction",
        "ticket",
        "order",
        "ticket",
    ]


def test_marketing_gets_no_timeline(client, people, world):
    login(client, people["marketing"])

    assert client.get(reverse("customer:timeline", args=[world["contact"].pk]), headers=HTMX).status_code == 404


def test_the_channel_chips_filter_the_timeline(client, people, world):
    contact = world["contact"]
    phone = make_interaction(contact=contact, channel="phone", subject="A call", occurred_at=at(6))
    login(client, people["admin"])
    url = reverse("customer:timeline", args=[contact.pk])

    by_channel = client.get(url, {"channel": ["phone", "order"]}, headers=HTMX)
    unknown = client.get(url, {"channel": ["carrier-pigeon"]}, headers=HTMX)

    assert by_channel.status_code == 200
    assert entries(by_channel.content) == [("interaction", "phone", phone.id), ("order", "order", world["order"].id)]
    assert len(entries(unknown.content)) == 6  # an unknown channel is ignored: everything


def test_the_page_filters_its_timeline_from_the_query_string_and_checks_the_chips(client, people, world):
    response = login(client, people["admin"]).get(contact_url(world["contact"]), {"channel": "email"})

    assert entries(response.content) == [("interaction", "email", world["email"].id)]
    assert re.search(r'value="email" id="chip-email" autocomplete="off" checked', response.content.decode())


def test_the_chips_offer_only_the_kinds_the_role_reads(client, people, world):
    response = login(client, people["support"]).get(contact_url(world["contact"]))

    assert has(response, "chip-email") and has(response, "chip-ticket")
    assert not has(response, "chip-order") and not has(response, "chip-deal")


def test_the_last_entry_loads_the_next_page_when_revealed(client, people, world):
    contact = world["contact"]
    for hour in range(30):
        make_interaction(contact=contact, channel="note", subject=f"Note {hour}", occurred_at=at(10 + hour))
    login(client, people["admin"])

    page = client.get(contact_url(contact)).content.decode()
    first = entries(page.encode())
    last_entry = page.split('data-testid="timeline-entry"')[-1].split(">")[0]
    next_url = re.search(r'hx-get="([^"]+)"', last_entry).group(1).replace("&amp;", "&")
    assert 'hx-trigger="revealed"' in last_entry and 'hx-swap="afterend"' in last_entry
    rest = client.get(next_url, headers=HTMX)

    assert len(first) == 20
    assert rest.status_code == 200
    assert len(entries(rest.content)) == 35 - 20
    assert not set(first) & set(entries(rest.content))
    assert "hx-trigger" not in rest.content.decode()  # the end: nothing more to load
    assert not has(rest, "timeline-empty")


def test_the_next_page_keeps_the_channel_filter(client, people, world):
    contact = world["contact"]
    for hour in range(25):
        make_interaction(contact=contact, channel="note", occurred_at=at(10 + hour))
    login(client, people["admin"])
    url = reverse("customer:timeline", args=[contact.pk])

    first = client.get(url, {"channel": ["note", "order"]}, headers=HTMX).content.decode()
    next_url = re.findall(r'hx-get="([^"]+)"', first)[-1].replace("&amp;", "&")
    query = parse_qs(urlsplit(next_url).query)
    rest = client.get(next_url, headers=HTMX)

    assert query["channel"] == ["note", "order"] and query["cursor"]
    assert {channel for _k, channel, _i in entries(rest.content)} == {"note", "order"}
    assert len(entries(first.encode())) + len(entries(rest.content)) == 26


def test_a_broken_cursor_is_a_bad_request(client, people, world):
    login(client, people["admin"])

    response = client.get(reverse("customer:timeline", args=[world["contact"].pk]), {"cursor": "garbage!!"})

    assert response.status_code == 400


def test_an_empty_timeline_says_so(client, people, rep):
    contact = make_contact(owner=rep)

    response = login(client, people["owner"]).get(contact_url(contact))

    assert has(response, "timeline-empty")
    assert entries(response.content) == []


# ---- logging a touch -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager", "owner", "support"])
def test_logging_from_the_page_adds_the_entry_at_the_top_of_the_timeline(client, people, world, role):
    user = people[role]
    login(client, user)

    response = client.post(
        reverse("customer:log", args=[world["contact"].pk]),
        log_data(channel="meeting", direction="in", body="Met at the fair."),
        headers=HTMX,
    )

    assert response.status_code == 200
    logged = Interaction.objects.get(subject="Called about the renewal")
    assert (logged.contact, logged.user, logged.channel, logged.direction, logged.body) == (
        world["contact"],
        user,
        "meeting",
        "in",
        "Met at the fair.",
    )
    assert entries(response.content)[0] == ("interaction", "meeting", logged.id)
    # a fresh, empty form comes back out of band
    page = response.content.decode()
    assert 'id="log-form"' in page and 'hx-swap-oob="true"' in page
    assert 'value="Called about the renewal"' not in page
    audit = AuditEntry.objects.get(action="interaction.create", object_id=str(logged.pk))
    assert (audit.actor, audit.channel) == (user, "ui")


def test_logging_without_a_time_logs_it_now(client, people, world):
    login(client, people["owner"])
    before = timezone.now()

    client.post(reverse("customer:log", args=[world["contact"].pk]), log_data(occurred_at=""), headers=HTMX)

    logged = Interaction.objects.get(subject="Called about the renewal")
    assert before - dt.timedelta(seconds=1) <= logged.occurred_at <= timezone.now()


def test_logging_at_a_given_time(client, people, world):
    login(client, people["owner"])

    client.post(
        reverse("customer:log", args=[world["contact"].pk]), log_data(occurred_at="2026-03-01T10:30"), headers=HTMX
    )

    assert Interaction.objects.get(subject="Called about the renewal").occurred_at == dt.datetime(
        2026, 3, 1, 10, 30, tzinfo=dt.UTC
    )


def test_logging_without_javascript_redirects_back_to_the_page(client, people, world):
    login(client, people["owner"])

    response = client.post(reverse("customer:log", args=[world["contact"].pk]), log_data())

    assert response.status_code == 302 and response["Location"] == contact_url(world["contact"])
    assert Interaction.objects.filter(subject="Called about the renewal").count() == 1


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"subject": "", "body": ""}, "subject", "Write a subject or some notes."),
        ({"channel": "sms"}, "channel", "Select a valid choice."),
        ({"direction": "sideways"}, "direction", "Select a valid choice."),
        ({"occurred_at": "yesterday-ish"}, "occurred_at", "Enter a valid date/time."),
        # the service's own rule, shown beside the field it names
        ({"occurred_at": "2099-01-01T10:00"}, "occurred_at", "cannot be more than a day in the future"),
    ],
)
def test_log_errors_are_shown_beside_the_field(client, people, world, data, field, message):
    login(client, people["owner"])

    response = client.post(reverse("customer:log", args=[world["contact"].pk]), log_data(**data), headers=HTMX)

    assert response.status_code == 422
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#log-form", "outerHTML")
    page = response.content.decode()
    assert f'<div class="invalid-feedback" data-testid="error-{field}">{message}' in page or (
        field == "channel" and f'data-testid="error-channel">{message}' in page
    )
    assert 'data-testid="log-form"' in page
    assert not Interaction.objects.filter(contact=world["contact"], user=people["owner"]).exists()


def test_log_errors_without_javascript_show_the_page_with_the_form(client, people, world):
    login(client, people["owner"])

    response = client.post(reverse("customer:log", args=[world["contact"].pk]), log_data(subject="", body=""))

    assert response.status_code == 200
    assert 'data-testid="error-subject"' in response.content.decode()
    assert has(response, "contact-profile")


def test_an_analyst_may_not_log(client, people, world):
    login(client, people["analyst"])

    response = client.post(reverse("customer:log", args=[world["contact"].pk]), log_data(), headers=HTMX)

    assert response.status_code == 403
    assert response["X-Cuore-Reason"]
    assert not Interaction.objects.filter(subject="Called about the renewal").exists()


def test_marketing_does_not_see_interactions_so_cannot_log_them(client, people, world):
    login(client, people["marketing"])

    response = client.post(reverse("customer:log", args=[world["contact"].pk]), log_data(), headers=HTMX)

    assert response.status_code == 404
    assert not Interaction.objects.filter(subject="Called about the renewal").exists()


def test_logging_only_answers_posts(client, people, world):
    login(client, people["owner"])

    assert client.get(reverse("customer:log", args=[world["contact"].pk])).status_code == 405


# ---- editing the contact's basic fields ----------------------------------------------------------


def profile_data(**overrides) -> dict:
    return {
        "first_name": "Anna",
        "last_name": "Bianchi",
        "title": "Head of purchasing",
        "language": "it",
        "birth_date": "1980-05-17",
        "lifecycle_stage": "customer",
        "source": "fair",
        **overrides,
    }


@pytest.mark.parametrize("role", ["admin", "manager", "owner", "support", "marketing"])
def test_writers_edit_the_contact_s_basic_fields(client, people, world, role):
    contact = world["contact"]
    login(client, people[role])

    form = client.get(reverse("customer:profile_edit", args=[contact.pk]), headers=HTMX)
    saved = client.post(reverse("customer:profile_edit", args=[contact.pk]), profile_data(), headers=HTMX)

    assert form.status_code == 200 and has(form, "profile-form")
    assert 'value="Buyer"' in form.content.decode()
    assert saved.status_code == 200 and has(saved, "contact-profile")
    assert "Head of purchasing" in saved.content.decode()
    contact.refresh_from_db()
    assert (contact.title, contact.birth_date) == ("Head of purchasing", dt.date(1980, 5, 17))
    audit = AuditEntry.objects.get(action="contact.update", object_id=str(contact.pk))
    assert (audit.actor, audit.channel) == (people[role], "ui")
    assert audit.changes == {"title": ["Buyer", "Head of purchasing"], "birth_date": [None, "1980-05-17"]}


def test_a_renamed_contact_s_heading_follows(client, people, world):
    login(client, people["owner"])

    response = client.post(
        reverse("customer:profile_edit", args=[world["contact"].pk]), profile_data(first_name="Annalisa"), headers=HTMX
    )

    assert '<span id="contact-name" hx-swap-oob="true">Annalisa Bianchi</span>' in response.content.decode()


def test_saving_unchanged_fields_writes_no_audit_entry(client, people, world):
    login(client, people["owner"])

    client.post(
        reverse("customer:profile_edit", args=[world["contact"].pk]),
        profile_data(title="Buyer", birth_date=""),
        headers=HTMX,
    )

    assert not AuditEntry.objects.filter(action="contact.update").exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"first_name": "", "last_name": ""}, "last_name", "a contact needs a first or a last name"),
        ({"birth_date": "1850-01-01"}, "birth_date", "must be between 1900 and today"),
        ({"birth_date": "not a date"}, "birth_date", "Enter a valid date."),
        ({"lifecycle_stage": "vip"}, "lifecycle_stage", "Select a valid choice."),
        ({"language": "x" * 9}, "language", "Ensure this value has at most 8 characters (it has 9)."),
    ],
)
def test_profile_errors_are_shown_beside_the_field(client, people, world, data, field, message):
    contact = world["contact"]
    login(client, people["owner"])

    response = client.post(reverse("customer:profile_edit", args=[contact.pk]), profile_data(**data), headers=HTMX)

    assert response.status_code == 422
    page = response.content.decode()
    assert f'<div class="invalid-feedback" data-testid="error-{field}">{message}' in page
    assert re.search(rf'name="{field}"[^>]*class="[^"]*is-invalid', page) or re.search(
        rf'class="[^"]*is-invalid[^"]*"[^>]*name="{field}"', page
    )
    assert Contact.objects.get(pk=contact.pk).title == "Buyer"


def test_profile_editing_works_without_javascript(client, people, world):
    contact = world["contact"]
    login(client, people["owner"])

    page = client.get(reverse("customer:profile_edit", args=[contact.pk]))
    invalid = client.post(
        reverse("customer:profile_edit", args=[contact.pk]), profile_data(first_name="", last_name="")
    )
    saved = client.post(reverse("customer:profile_edit", args=[contact.pk]), profile_data())

    assert page.status_code == 200 and has(page, "profile-form") and has(page, "contact-360")
    assert invalid.status_code == 200 and 'data-testid="error-last_name"' in invalid.content.decode()
    assert saved.status_code == 302 and saved["Location"] == contact_url(contact)


def test_cancel_brings_back_the_profile_card(client, people, world):
    contact = world["contact"]
    login(client, people["analyst"])

    card = client.get(reverse("customer:profile", args=[contact.pk]), headers=HTMX)
    plain = client.get(reverse("customer:profile", args=[contact.pk]))

    assert card.status_code == 200 and has(card, "contact-profile")
    assert not has(card, "edit-profile")  # the analyst reads it only
    assert plain.status_code == 302 and plain["Location"] == contact_url(contact)


def test_an_analyst_may_not_edit_a_contact(client, people, world):
    contact = world["contact"]
    login(client, people["analyst"])

    form = client.get(reverse("customer:profile_edit", args=[contact.pk]), headers=HTMX)
    post = client.post(reverse("customer:profile_edit", args=[contact.pk]), profile_data(title="Hacked"), headers=HTMX)

    assert form.status_code == 403 and post.status_code == 403
    assert post["X-Cuore-Reason"]
    assert Contact.objects.get(pk=contact.pk).title == "Buyer"
    assert not AuditEntry.objects.filter(action="contact.update").exists()


# ---- the account page ----------------------------------------------------------------------------


@pytest.fixture
def account_world(world, rep, stranger):
    account = world["account"]
    colleague = make_contact(first_name="Carlo", last_name="Verdi", owner=rep, email="carlo@acme.example")
    outsider = make_contact(first_name="Olga", last_name="Neri", owner=stranger)
    ContactAccount.objects.create(contact=colleague, account=account, role="CEO")
    ContactAccount.objects.create(contact=outsider, account=account)
    Address.objects.create(account=account, kind="registered", line1="Corso Italia 10", city="Torino")
    account.tags.add(Tag.objects.create(name="Key account"))
    pipeline = make_pipeline()
    make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, account=account, name="Acme fleet")
    order = make_order(account=account, products=[(make_product(price="99.90"), 3)], placed_at=at(7))
    ticket = make_ticket(account=account, subject="Invoice question", created_at=at(8))
    note = make_interaction(account=account, channel="note", subject="Account review", occurred_at=at(9))
    make_activity(subject="Prepare the offer", assignee=rep, account=account)
    return {**world, "colleague": colleague, "outsider": outsider, "account_order": order, "account_ticket": ticket,
            "note": note}  # fmt: skip


def test_the_account_page_shows_the_company_its_people_and_what_is_open(client, people, account_world):
    response = login(client, people["owner"]).get(account_url(account_world["account"]))
    page = response.content.decode()

    for text in ["Acme Srl", "IT01234567897", "Retail", "Key account", "Corso Italia 10", "North", "Acme fleet"]:
        assert text in page, text
    assert f'href="{contact_url(account_world["contact"])}"' in page
    assert f'href="{contact_url(account_world["colleague"])}"' in page
    assert 'href="mailto:carlo@acme.example"' in page
    assert "Olga" not in page  # a person of another team's
    assert account_world["account_order"].number in page and "€299.70" in page
    assert "Prepare the offer" in page
    assert not has(response, "open-tickets")  # a rep reads no tickets
    assert entries(response.content) == [
        ("interaction", "note", account_world["note"].id),
        ("order", "order", account_world["account_order"].id),
    ]


def test_an_admin_sees_the_account_s_tickets_and_every_person(client, people, account_world):
    response = login(client, people["admin"]).get(account_url(account_world["account"]))
    page = response.content.decode()

    assert "Invoice question" in page and "Olga" in page
    assert {kind for kind, _c, _i in entries(response.content)} == {"interaction", "order", "ticket"}


@pytest.mark.parametrize(("role", "log"), [("admin", True), ("manager", True), ("owner", True), ("analyst", False)])
def test_the_account_page_offers_logging_to_those_who_may(client, people, account_world, role, log):
    response = login(client, people[role]).get(account_url(account_world["account"]))

    assert has(response, "log-form") is log


def test_logging_on_an_account(client, people, account_world):
    account = account_world["account"]
    login(client, people["owner"])

    response = client.post(reverse("customer:account_log", args=[account.pk]), log_data(), headers=HTMX)

    logged = Interaction.objects.get(subject="Called about the renewal")
    assert (logged.account, logged.contact, logged.user) == (account, None, people["owner"])
    assert entries(response.content)[0] == ("interaction", "phone", logged.id)


def test_an_analyst_may_not_log_on_an_account(client, people, account_world):
    login(client, people["analyst"])

    response = client.post(reverse("customer:account_log", args=[account_world["account"].pk]), log_data())

    assert response.status_code == 403
    assert not Interaction.objects.filter(subject="Called about the renewal").exists()


def test_account_log_errors_are_shown_beside_the_field(client, people, account_world):
    login(client, people["owner"])

    response = client.post(
        reverse("customer:account_log", args=[account_world["account"].pk]), log_data(subject=""), headers=HTMX
    )

    assert response.status_code == 422
    assert 'data-testid="error-subject"' in response.content.decode()


def test_the_account_timeline_filters_and_pages(client, people, account_world):
    account = account_world["account"]
    for hour in range(22):
        make_interaction(account=account, channel="email", occurred_at=at(20 + hour))
    login(client, people["owner"])
    url = reverse("customer:account_timeline", args=[account.pk])

    first = client.get(url, {"channel": "email"}, headers=HTMX)
    next_url = re.findall(r'hx-get="([^"]+)"', first.content.decode())[-1].replace("&amp;", "&")
    rest = client.get(next_url, headers=HTMX)
    orders = client.get(url, {"channel": "order"}, headers=HTMX)

    assert len(entries(first.content)) == 20 and len(entries(rest.content)) == 2
    assert entries(orders.content) == [("order", "order", account_world["account_order"].id)]


# ---- queries do not grow with rows ---------------------------------------------------------------


def grow(contact, account, rep, start: int, n: int) -> None:
    """Add ``n`` more of everything the pages show."""
    pipeline = make_pipeline()
    product = make_product()
    for i in range(start, start + n):
        make_interaction(contact=contact, account=account, user=rep, channel="phone", occurred_at=at(100 + i))
        order = make_order(contact=contact, account=account, products=[(product, 1)], placed_at=at(100 + i))
        Order.objects.filter(pk=order.pk).update(status="delivered")
        make_ticket(contact=contact, account=account, subject=f"Ticket {i}", created_at=at(100 + i))
        deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, contact=contact, account=account)
        make_stage_change(deal=deal, at=at(100 + i))
        make_activity(assignee=rep, contact=contact, account=account)
        ContactPoint.objects.create(
            contact=contact, kind="email", value=f"a{i}@x.example", value_normalized=f"a{i}@x.example"
        )
        Address.objects.create(contact=contact, line1=f"Via {i}", city="Roma")
        Address.objects.create(account=account, line1=f"Via {i}", city="Roma")
        ConsentEvent.objects.create(contact=contact, purpose="profiling", channel="any", status="granted", source="x",
                                    occurred_at=at(i))  # fmt: skip
        person = make_contact(owner=rep, email=f"p{i}@x.example")
        ContactAccount.objects.create(contact=person, account=account)
        person.tags.add(Tag.objects.get_or_create(name=f"tag{i}")[0])
        ContactAccount.objects.create(contact=contact, account=make_account(owner=rep))
        contact.tags.add(Tag.objects.get_or_create(name=f"tag{i}")[0])
        account.tags.add(Tag.objects.get_or_create(name=f"tag{i}")[0])


def queries(client, url: str, **kwargs) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **kwargs)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("role", ["admin", "owner", "support", "analyst"])
def test_the_pages_cost_the_same_queries_however_much_they_show(client, people, world, rep, role):
    contact, account = world["contact"], world["account"]
    ContactAccount.objects.get_or_create(contact=contact, account=account)
    user = people[role]
    login(client, user)
    urls = [contact_url(contact), reverse("customer:timeline", args=[contact.pk])]
    if role != "support":
        urls += [account_url(account), reverse("customer:account_timeline", args=[account.pk])]
    grow(contact, account, rep, 0, 2)
    client.get(urls[0])  # warm the session and the content types
    small = [queries(client, url) for url in urls]

    grow(contact, account, rep, 2, 25)
    large = [queries(client, url) for url in urls]

    assert large == small
    assert max(small) <= 25


# ---- in Italian ----------------------------------------------------------------------------------


def test_the_pages_speak_italian(client, people, account_world):
    user = people["admin"]
    user.language = "it"
    user.save()
    login(client, user)

    contact_page = client.get(contact_url(account_world["contact"])).content.decode()
    account_page = client.get(account_url(account_world["account"])).content.decode()
    error = client.post(
        reverse("customer:log", args=[account_world["contact"].pk]), log_data(subject=""), headers=HTMX
    ).content.decode()

    assert "Cronologia" in contact_page and "Trattative aperte" in contact_page
    assert "1.234,50\xa0€" in contact_page
    assert "Persone" in account_page
    assert "Scrivi un oggetto o qualche nota." in error


def test_only_a_web_address_becomes_a_link(client, people, rep):
    safe = make_account(owner=rep, website="https://acme.example")
    unsafe = make_account(owner=rep, website="javascript:alert(1)")
    login(client, people["owner"])

    assert 'href="https://acme.example"' in client.get(account_url(safe)).content.decode()
    page = client.get(account_url(unsafe)).content.decode()
    assert 'href="javascript:' not in page and "javascript:alert(1)" in page


def test_a_too_long_subject_gets_one_error(client, people, world):
    login(client, people["owner"])

    response = client.post(
        reverse("customer:log", args=[world["contact"].pk]), log_data(subject="x" * 201), headers=HTMX
    )

    assert response.status_code == 422
    assert response.content.decode().count('data-testid="error-subject"') == 1
