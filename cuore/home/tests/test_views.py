"""The dashboard and the global search: what each role sees, that the numbers are right, that nothing breaks."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.orders.tests.factories import make_order
from cuore.sales.models import Deal, DealStatus
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of
from cuore.service import services as service_services
from cuore.service.models import Ticket

pytestmark = pytest.mark.django_db

CHARTS = ("pipeline", "revenue", "tickets", "sla", "customers")
EXPECTED_CHARTS = {
    "admin": set(CHARTS),
    "manager": set(CHARTS),
    "analyst": set(CHARTS),
    "sales": {"pipeline", "revenue"},
    "sales_other": {"pipeline", "revenue"},
    "support": {"tickets", "sla"},
    "marketing": {"customers"},
}
EXPECTED_GROUPS = {
    "admin": {"people", "companies", "deals", "tickets", "orders"},
    "manager": {"people", "companies", "deals", "tickets", "orders"},
    "analyst": {"people", "companies", "deals", "tickets", "orders"},
    "sales": {"people", "companies", "deals", "orders"},
    "sales_other": {"people", "companies", "deals", "orders"},
    "support": {"people", "tickets"},
    "marketing": {"people"},
}


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


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


def get(client, user, url, **params):
    client.force_login(user)
    return client.get(url, params)


def charts_on(html: str) -> set[str]:
    return set(re.findall(r'<canvas id="chart-(\w+)" data-testid="chart-\1"', html))


def chart_data(html: str, name: str) -> dict:
    match = re.search(rf'<script id="data-{name}" type="application/json">(.*?)</script>', html, re.S)
    assert match, f"no data for {name}"
    return json.loads(match.group(1))


def url_or_none(name: str, pk: int) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return None


# ---- dashboard -----------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in(client):
    for url in ("/", "/search/", "/search/?q=anna&fragment=1"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_home_is_the_dashboard_and_search_has_no_namespace():
    assert reverse("home") == "/"
    assert reverse("search") == "/search/"


@pytest.mark.parametrize("role", sorted(EXPECTED_CHARTS))
def test_each_role_sees_its_own_charts_and_no_others(client, people, pipeline, role):
    response = get(client, people[role], "/")
    html = response.content.decode()

    assert response.status_code == 200
    assert charts_on(html) == EXPECTED_CHARTS[role]
    for chart in CHARTS:
        assert (f'id="data-{chart}"' in html) is (chart in EXPECTED_CHARTS[role])
    assert "vendor/chart.js/chart.umd.min.js" in html


def test_a_sales_rep_sees_their_teams_pipeline_and_revenue_not_the_other_teams(client, people, pipeline):
    lead = stage_of(pipeline, "Lead")
    make_deal(stage=lead, amount="1234.50", owner=people["sales"])
    make_deal(stage=lead, amount="9876.00", owner=people["sales_other"])
    for owner, amount in ((people["sales"], "3000.00"), (people["sales_other"], "7000.00")):
        deal = make_deal(stage=lead, amount=amount, owner=owner, status=DealStatus.WON)
        Deal.objects.filter(pk=deal.pk).update(closed_at=timezone.now())

    html = get(client, people["sales"], "/").content.decode()

    assert "€1,234.50" in html and "€123.45" in html  # amount and weighted (10%) of the Lead stage
    assert "€3,000.00" in html
    assert "9,876" not in html and "7,000" not in html
    pipeline_data = chart_data(html, "pipeline")
    assert pipeline_data["labels"] == ["Lead", "Proposal", "Negotiation"]
    assert pipeline_data["datasets"][0]["data"] == [1234.5, 0, 0]
    assert chart_data(html, "revenue")["datasets"][0]["data"][-1] == 3000.0


def test_the_manager_sees_every_figure(client, people, pipeline):
    make_deal(stage=stage_of(pipeline, "Proposal"), amount="100.00", owner=people["sales"])
    make_deal(stage=stage_of(pipeline, "Proposal"), amount="200.00", owner=people["sales_other"])
    make_contact(owner=people["sales"])
    make_contact()
    ticket = service_services.ticket_create(actor=None, subject="Broken")
    Ticket.objects.filter(pk=ticket.pk).update(status="pending")

    html = get(client, people["manager"], "/").content.decode()

    assert "€300.00" in html
    assert chart_data(html, "pipeline")["datasets"][0]["data"] == [0, 300.0, 0]
    assert chart_data(html, "customers")["datasets"][0]["data"][-1] == 2
    tickets = chart_data(html, "tickets")
    assert dict(zip(tickets["labels"], tickets["datasets"][0]["data"], strict=True))["Pending"] == 1
    assert len(chart_data(html, "sla")["labels"]) == 12


def test_support_sees_tickets_by_status_and_sla(client, people):
    for status in ("new", "new", "open", "closed"):
        ticket = service_services.ticket_create(actor=None, subject="Help")
        Ticket.objects.filter(pk=ticket.pk).update(status=status)

    html = get(client, people["support"], "/").content.decode()

    assert chart_data(html, "tickets")["datasets"][0]["data"] == [2, 1, 0, 0, 1]
    assert 'data-testid="figure-open-tickets"' in html
    assert 'data-testid="figure-open-deals"' not in html


def test_the_tasks_due_today_are_counted_for_the_signed_in_user(client, people):
    now = timezone.now()
    make_activity(assignee=people["sales"], due_at=now - dt.timedelta(days=2))
    make_activity(assignee=people["sales"], due_at=now)
    make_activity(assignee=people["sales_other"], due_at=now)

    html = get(client, people["sales"], "/").content.decode()

    figure = html[html.index('data-testid="figure-tasks"') :][:800]
    assert re.search(r">\s*2\s*<", figure)
    assert "1 overdue" in figure


def test_the_pipeline_can_be_chosen_and_a_bad_choice_falls_back_to_the_default(client, people, pipeline):
    renewals = make_pipeline(name="Renewals", stages=(("Due", 30),))
    make_deal(stage=stage_of(renewals, "Due"), amount="55.00")

    chosen = get(client, people["manager"], "/", pipeline=renewals.pk).content.decode()
    assert chart_data(chosen, "pipeline")["labels"] == ["Due"]
    for bad in ("abc", "-1", "99999999", "9" * 40, ""):
        response = get(client, people["manager"], "/", pipeline=bad)
        assert response.status_code == 200
        assert chart_data(response.content.decode(), "pipeline")["labels"] == ["Lead", "Proposal", "Negotiation"]


def test_the_dashboard_is_shown_in_the_users_language(client, people, pipeline):
    make_deal(stage=stage_of(pipeline, "Lead"), amount="1234.50", owner=people["sales"])
    people["manager"].language = "it"
    people["manager"].save()

    html = get(client, people["manager"], "/").content.decode()

    assert "1.234,50\xa0€" in html
    assert "Pipeline per fase" in html
    assert "Ticket per stato" in html


def test_the_dashboard_costs_the_same_queries_however_many_records(client, people, pipeline):
    def snapshot() -> int:
        client.force_login(people["admin"])
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").status_code == 200
        return len(queries)

    make_deal(stage=stage_of(pipeline, "Lead"), owner=people["sales"])
    before = snapshot()
    for stage in pipeline.stages.all():
        for currency in ("EUR", "USD"):
            make_deal(stage=stage, currency=currency, owner=people["sales"])
            won = make_deal(stage=stage, currency=currency, status=DealStatus.WON)
            Deal.objects.filter(pk=won.pk).update(closed_at=timezone.now())
    for _ in range(5):
        make_contact()
        service_services.ticket_create(actor=None, subject="Again")
        make_activity(assignee=people["admin"], due_at=timezone.now())

    assert snapshot() == before


# ---- global search -------------------------------------------------------------------------------


@pytest.fixture
def records(people, pipeline):
    """One record of each kind named "Rossi…" for the North team (the sales rep's), and some for the South team."""
    contact = make_contact(first_name="Anna", last_name="Rossi", owner=people["sales"], email="anna@example.com")
    other = make_contact(first_name="Bruno", last_name="Rossini", owner=people["sales_other"])
    account = make_account(name="Rossi Srl", owner=people["sales"], vat_number="IT01234567890")
    other_account = make_account(name="Rossini Spa", owner=people["sales_other"])
    deal = make_deal(stage=stage_of(pipeline, "Lead"), name="Rossi renewal", owner=people["sales"])
    other_deal = make_deal(stage=stage_of(pipeline, "Lead"), name="Rossini upgrade", owner=people["sales_other"])
    ticket = service_services.ticket_create(actor=None, subject="Rossi cannot log in", contact=contact)
    order = make_order(contact=contact, number="ROSSI-1")
    other_order = make_order(contact=other, number="ROSSI-2")
    return {
        "contact": contact,
        "other": other,
        "account": account,
        "other_account": other_account,
        "deal": deal,
        "other_deal": other_deal,
        "ticket": ticket,
        "order": order,
        "other_order": other_order,
    }


def groups_on(html: str) -> set[str]:
    return set(re.findall(r'data-group="(\w+)"', html))


@pytest.mark.parametrize("fragment", [True, False])
@pytest.mark.parametrize("role", sorted(EXPECTED_GROUPS))
def test_search_finds_only_the_kinds_and_records_the_role_may_read(client, people, records, role, fragment):
    params = {"q": "rossi", **({"fragment": "1"} if fragment else {})}
    html = get(client, people[role], "/search/", **params).content.decode()
    groups = groups_on(html) if fragment else set(re.findall(r'data-testid="search-group-(\w+)"', html))

    assert groups == EXPECTED_GROUPS[role]
    if role == "sales":
        assert "Anna Rossi" in html and "Rossi Srl" in html and "Rossi renewal" in html and "ROSSI-1" in html
        assert "Bruno Rossini" not in html and "Rossini Spa" not in html and "Rossini upgrade" not in html
        assert "ROSSI-2" not in html
    if role == "sales_other":
        assert "Bruno Rossini" in html and "Rossini Spa" in html and "ROSSI-2" in html
        assert "Anna Rossi" not in html and "Rossi renewal" not in html and "ROSSI-1" not in html
    if role in {"support", "marketing"}:
        assert "Rossi Srl" not in html and "Rossi renewal" not in html and "ROSSI-1" not in html
    if "tickets" not in EXPECTED_GROUPS[role]:
        assert records["ticket"].number not in html and "Rossi cannot log in" not in html


def test_search_results_link_to_the_detail_pages(client, people, records):
    html = get(client, people["admin"], "/search/", q="rossi", fragment="1").content.decode()

    for name, record in (
        ("customer:contact", records["contact"]),
        ("customer:account", records["account"]),
        ("sales:deal", records["deal"]),
        ("service:ticket", records["ticket"]),
        ("orders:detail", records["order"]),
    ):
        url = url_or_none(name, record.pk)
        if url is not None:
            assert f'href="{url}"' in html, name
    assert 'class="dropdown-item' in html


def test_search_finds_people_by_email_phone_and_either_name_order(client, people):
    make_contact(first_name="Giulia", last_name="Verdi", email="giulia.verdi@example.com", phone="+39 333 123 4567")
    make_contact(first_name="Marco", last_name="Neri")

    for q in ("giulia.verdi@", "+39 333 123", "3331234567", "verdi giulia", "Giulia Verdi", "VERDI"):
        html = get(client, people["support"], "/search/", q=q, fragment="1").content.decode()
        assert "Giulia Verdi" in html, q
        assert "Marco Neri" not in html, q


def test_search_finds_companies_by_vat_tickets_by_number_and_orders_by_number(client, people, records):
    for q, found in (
        ("01234567", "Rossi Srl"),
        ("IT0123", "Rossi Srl"),
        (records["ticket"].number, "Rossi cannot log in"),
        (str(records["ticket"].pk), "Rossi cannot log in"),
        ("rossi-1", "ROSSI-1"),
        ("Rossi ren", "Rossi renewal"),
    ):
        html = get(client, people["admin"], "/search/", q=q, fragment="1").content.decode()
        assert found in html, q


def test_the_fragment_is_the_whole_menu_shown_only_with_a_query(client, people, records):
    with_hits = get(client, people["admin"], "/search/", q="rossi", fragment="1")
    nothing = get(client, people["admin"], "/search/", q="zzzz", fragment="1")
    empty = get(client, people["admin"], "/search/", q="", fragment="1")

    assert with_hits["HX-Reswap"] == "outerHTML"
    for response in (with_hits, nothing, empty):
        assert response.content.decode().lstrip().startswith('<div id="search-results"')
    assert re.search(r'id="search-results" class="[^"]*\bshow\b', with_hits.content.decode())
    assert 'data-testid="search-empty"' in nothing.content.decode()
    assert "show" not in empty.content.decode().split(">")[0]
    assert "search-hit" not in empty.content.decode()


def test_the_fragment_shows_five_per_kind_and_the_page_more(client, people):
    for n in range(8):
        make_contact(first_name=f"Name{n}", last_name="Bianchi")

    fragment = get(client, people["admin"], "/search/", q="bianchi", fragment="1").content.decode()
    page = get(client, people["admin"], "/search/", q="bianchi").content.decode()

    assert fragment.count('data-testid="search-hit"') == 5
    assert page.count('data-testid="search-hit"') == 8
    assert "?q=bianchi" in fragment  # the way to all the results


@pytest.mark.parametrize(
    "q",
    [
        "",
        "   ",
        "x" * 10_000,
        "9" * 300,
        "abc\x00def",
        "\x00",
        "%",
        "_",
        "%_%",
        "'; DROP TABLE contacts_contact; --",
        "@",
        "@@@",
        "+",
        "+39",
        "0000",
        "IT",
        "IT99999999999999999999",
        "TCK-",
        "TCK-%",
        "123456789012345678901234567890",
        "\U0010ffff",
        "\U0010ffff\U0010ffff",
        "😀",
        "ñandú",
        "<script>alert(1)</script>",
        "a\tb\nc",
        "ä" * 500,
        "\\",
        '"',
    ],
)
@pytest.mark.parametrize("fragment", ["1", ""])
def test_odd_queries_never_fail(client, people, records, q, fragment):
    for role in ("admin", "sales", "support"):
        response = get(client, people[role], "/search/", q=q, fragment=fragment)
        assert response.status_code == 200
        assert "<script>alert(1)</script>" not in response.content.decode()


def test_a_repeated_query_parameter_is_answered(client, people, records):
    client.force_login(people["admin"])
    response = client.get("/search/?q=rossi&q=bianchi&fragment=1")

    assert response.status_code == 200


def test_search_costs_the_same_queries_however_many_matches(client, people, pipeline):
    def queries_for(q: str) -> int:
        client.force_login(people["admin"])
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/search/", {"q": q, "fragment": "1"}).status_code == 200
        return len(queries)

    make_contact(first_name="Luca", last_name="Gallo", email="luca@example.com")
    make_account(name="Gallo Srl")
    make_deal(stage=stage_of(pipeline, "Lead"), name="Gallo deal")
    before = queries_for("gallo")
    for n in range(12):
        contact = make_contact(
            first_name=f"L{n}", last_name="Gallo", email=f"l{n}@example.com", phone=f"+3933312345{n:02d}"
        )
        make_account(name=f"Gallo {n}")
        make_deal(stage=stage_of(pipeline, "Lead"), name=f"Gallo {n}")
        service_services.ticket_create(actor=None, subject=f"Gallo {n}", contact=contact)
        make_order(contact=contact, number=f"GALLO-{n}")

    assert queries_for("gallo") == before
