"""The deal board and the move endpoint behind its drag and drop, for every role."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from cuore.contacts.tests.factories import make_account
from cuore.core.models import AuditEntry
from cuore.sales import selectors, views
from cuore.sales.models import Deal, DealStageChange
from cuore.sales.tests.factories import make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db

BOARD = "/deals/board/"


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


@pytest.fixture
def people(make_user, team, other_team):
    return {
        "admin": make_user(role="admin", username="admin"),
        "manager": make_user(role="manager", username="manager"),
        "owner": make_user(role="sales", team=team, username="owner"),
        "other_sales": make_user(role="sales", team=other_team, username="other"),
        "support": make_user(role="support", username="support"),
        "marketing": make_user(role="marketing", username="marketing"),
        "analyst": make_user(role="analyst", username="analyst"),
    }


@pytest.fixture
def deal(pipeline, people):
    return make_deal(stage=stage_of(pipeline, "Lead"), name="Fornitura Rossi", owner=people["owner"], amount="1000.00")


def move(client, deal_id, stage_id, *, as_json=True):
    headers = {"Accept": "application/json"} if as_json else {}
    return client.post(f"/deals/{deal_id}/move/", {"stage": stage_id} if stage_id is not None else {}, headers=headers)


def card_ids(response) -> set[int]:
    return {int(pk) for pk in re.findall(r'data-testid="deal-card-(\d+)"', response.content.decode())}


# ---- the board -----------------------------------------------------------------------------------


def test_the_board_asks_anonymous_visitors_to_sign_in(client, deal):
    response = client.get(BOARD)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


@pytest.mark.parametrize(
    ("role", "status", "sees_deal"),
    [
        ("admin", 200, True),
        ("manager", 200, True),
        ("owner", 200, True),
        ("other_sales", 200, False),
        ("analyst", 200, True),
        ("support", 404, False),
        ("marketing", 404, False),
    ],
)
def test_who_sees_the_board_and_which_cards(client, people, deal, role, status, sees_deal):
    client.force_login(people[role])

    response = client.get(BOARD)

    assert response.status_code == status
    if status == 200:
        assert (deal.id in card_ids(response)) is sees_deal
        assert ("Fornitura Rossi" in response.content.decode()) is sees_deal


def test_the_board_has_one_column_per_stage_in_order_with_its_open_deals(client, people, pipeline):
    owner = people["owner"]
    lead, proposal, negotiation = (stage_of(pipeline, name) for name in ("Lead", "Proposal", "Negotiation"))
    in_lead = make_deal(stage=lead, owner=owner)
    in_proposal = make_deal(stage=proposal, owner=owner)
    won = make_deal(stage=proposal, owner=owner, status="won")
    client.force_login(owner)

    html = client.get(BOARD).content.decode()

    columns = re.findall(r'data-testid="stage-(\d+)" data-stage-id="(\d+)"', html)
    assert [int(a) for a, _ in columns] == [lead.id, proposal.id, negotiation.id]
    assert 'data-testid="kanban-board"' in html
    lead_html, proposal_html = (
        html.split(f'data-testid="stage-{proposal.id}"')[0],
        html.split(f'data-testid="stage-{proposal.id}"')[1].split(f'data-testid="stage-{negotiation.id}"')[0],
    )
    assert f'data-testid="deal-card-{in_lead.id}" data-deal-id="{in_lead.id}"' in lead_html
    assert f'data-testid="deal-card-{in_proposal.id}"' in proposal_html
    assert f'data-testid="deal-card-{won.id}"' not in html


def test_column_totals_count_the_open_deals_per_currency_with_the_weighted_amount(client, people, pipeline):
    owner = people["owner"]
    proposal = stage_of(pipeline, "Proposal")  # 50 %
    make_deal(stage=proposal, owner=owner, amount="1000.00")
    make_deal(stage=proposal, owner=owner, amount="501.00")
    make_deal(stage=proposal, owner=owner, amount="200.00", currency="USD")
    make_deal(stage=proposal, owner=people["other_sales"], amount="9999.00")  # not visible to the owner
    client.force_login(owner)

    html = client.get(BOARD).content.decode()

    assert f'<span data-testid="stage-count-{proposal.id}">3 deals</span>' in html
    eur = html.split(f'data-testid="stage-total-{proposal.id}-EUR"')[1].split("</div>")[0]
    assert "€1,501.00" in eur and "€750.50" in eur
    usd = html.split(f'data-testid="stage-total-{proposal.id}-USD"')[1].split("</div>")[0]
    assert "US$200.00" in usd and "US$100.00" in usd


def test_a_column_shows_its_newest_deals_up_to_the_cap_and_links_to_the_rest(client, people, pipeline, monkeypatch):
    monkeypatch.setattr(views, "BOARD_CAP", 2)
    lead = stage_of(pipeline, "Lead")
    oldest, middle, newest = (make_deal(stage=lead, owner=people["owner"]) for _ in range(3))
    client.force_login(people["owner"])

    response = client.get(BOARD)

    html = response.content.decode()
    assert card_ids(response) == {middle.id, newest.id}
    assert html.index(f"deal-card-{newest.id}") < html.index(f"deal-card-{middle.id}")
    assert f"/deals/?pipeline={pipeline.id}&amp;stage={lead.id}&amp;status=open" in html
    assert f'data-testid="stage-count-{lead.id}">3 deals' in html
    assert oldest.id not in card_ids(response)


def test_the_pipeline_switcher_opens_another_pipeline(client, people, pipeline, deal):
    renewals = make_pipeline(name="Renewals", stages=(("Due", 60),))
    due = stage_of(renewals, "Due")
    renewal = make_deal(stage=due, owner=people["owner"])
    client.force_login(people["owner"])

    default = client.get(BOARD)
    other = client.get(BOARD, {"pipeline": renewals.id})

    assert card_ids(default) == {deal.id}
    assert card_ids(other) == {renewal.id}
    assert f'href="/deals/board/?pipeline={renewals.id}"' in default.content.decode()
    assert f'data-testid="stage-{due.id}"' in other.content.decode()
    assert client.get(BOARD, {"pipeline": "999999"}).status_code == 404
    assert client.get(BOARD, {"pipeline": "nope"}).status_code == 404


def test_the_board_says_so_when_there_is_no_pipeline(client, people):
    client.force_login(people["manager"])

    response = client.get(BOARD)

    assert response.status_code == 200
    assert 'data-testid="board-empty"' in response.content.decode()


def test_read_only_roles_get_no_drag_and_drop(client, people, deal):
    client.force_login(people["analyst"])
    analyst_html = client.get(BOARD).content.decode()
    client.force_login(people["owner"])
    owner_html = client.get(BOARD).content.decode()

    assert 'data-testid="board-read-only"' in analyst_html
    assert "Sortable.min.js" not in analyst_html and "data-move-url" not in analyst_html
    assert 'data-testid="drag-handle"' not in analyst_html
    assert 'data-testid="drag-handle"' in owner_html
    assert "Sortable.min.js" in owner_html
    assert f'data-move-url="/deals/{deal.id}/move/"' in owner_html


def test_the_board_costs_the_same_queries_for_few_or_many_deals(client, people, pipeline):
    owner = people["owner"]
    stages = [stage_of(pipeline, name) for name in ("Lead", "Proposal", "Negotiation")]
    for stage in stages:
        make_deal(stage=stage, owner=owner, account=make_account(owner=owner))
    client.force_login(owner)
    client.get(BOARD)  # warm the session

    with CaptureQueriesContext(connection) as few:
        client.get(BOARD)
    for stage in stages:
        for _ in range(5):
            make_deal(stage=stage, owner=owner, account=make_account(owner=owner), currency="USD")
    with CaptureQueriesContext(connection) as many:
        response = client.get(BOARD)

    assert len(card_ids(response)) == 18
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_board_selector_ranks_the_newest_per_stage_in_two_queries(people, pipeline, django_assert_num_queries):
    lead, proposal = stage_of(pipeline, "Lead"), stage_of(pipeline, "Proposal")
    a, b, c = (make_deal(stage=lead, owner=people["owner"]) for _ in range(3))
    d = make_deal(stage=proposal, owner=people["owner"], amount="10.01")
    pipeline = selectors.pipeline_get_for_actor(actor=people["owner"], pipeline_id=pipeline.id)

    with django_assert_num_queries(2):
        columns = selectors.deal_board(actor=people["owner"], pipeline=pipeline, per_stage=2)

    assert [column.stage.name for column in columns] == ["Lead", "Proposal", "Negotiation"]
    assert [deal.id for deal in columns[0].deals] == [c.id, b.id]
    assert (columns[0].count, columns[0].has_more) == (3, True)
    assert [deal.id for deal in columns[1].deals] == [d.id]
    assert columns[1].totals == [
        selectors.StageTotal(currency="EUR", deals=1, amount=Decimal("10.01"), weighted_amount=Decimal("5.01"))
    ]
    assert (columns[2].deals, columns[2].totals, columns[2].has_more) == ([], [], False)
    assert a.id not in [deal.id for deal in columns[0].deals]


# ---- moving a deal -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "manager", "owner"])
def test_writers_move_a_deal_and_the_move_is_kept_and_audited(client, people, pipeline, deal, role):
    proposal = stage_of(pipeline, "Proposal")
    client.force_login(people[role])

    response = move(client, deal.id, proposal.id)

    assert response.status_code == 200
    body = response.json()
    assert (body["deal"], body["stage"], body["stage_name"]) == (deal.id, proposal.id, "Proposal")
    assert set(body["columns"]) == {str(stage_of(pipeline, "Lead").id), str(proposal.id)}
    assert "1 deal" in body["columns"][str(proposal.id)] and "0 deals" in body["columns"][str(deal.stage_id)]
    deal.refresh_from_db()
    assert deal.stage_id == proposal.id
    change = DealStageChange.objects.get(deal=deal)
    assert (change.from_stage_id, change.to_stage_id, change.changed_by) == (
        stage_of(pipeline, "Lead").id,
        proposal.id,
        people[role],
    )
    entry = AuditEntry.objects.get(action="deal.move")
    assert (entry.actor, entry.object_id, entry.channel) == (people[role], str(deal.id), "ui")


@pytest.mark.parametrize(
    ("role", "status"),
    [("other_sales", 404), ("support", 404), ("marketing", 404), ("analyst", 403)],
)
def test_a_refused_move_answers_why_and_leaves_the_deal_where_it_was(client, people, pipeline, deal, role, status):
    client.force_login(people[role])

    response = move(client, deal.id, stage_of(pipeline, "Proposal").id)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]
    deal.refresh_from_db()
    assert deal.stage == stage_of(pipeline, "Lead")
    assert not DealStageChange.objects.filter(deal=deal).exists()
    assert not AuditEntry.objects.filter(action="deal.move").exists()


@pytest.mark.parametrize("status", ["won", "lost"])
def test_a_closed_deal_cannot_be_moved_409(client, people, pipeline, status):
    closed = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], status=status)
    client.force_login(people["owner"])

    response = move(client, closed.id, stage_of(pipeline, "Proposal").id)

    assert response.status_code == 409
    assert response.json() == {"detail": "Only an open deal can be moved: reopen it first."}
    closed.refresh_from_db()
    assert (closed.stage, closed.status) == (stage_of(pipeline, "Lead"), status)


def test_a_stage_of_another_pipeline_or_no_stage_is_a_422_on_the_stage(client, people, pipeline, deal):
    elsewhere = stage_of(make_pipeline(name="Renewals", stages=(("Due", 60),)), "Due")
    client.force_login(people["owner"])

    other_pipeline = move(client, deal.id, elsewhere.id)
    missing = move(client, deal.id, 999999)
    garbage = move(client, deal.id, "abc")
    absent = move(client, deal.id, None)

    assert other_pipeline.status_code == 422
    assert other_pipeline.json()["errors"] == {"stage_id": "This stage belongs to another pipeline."}
    assert missing.status_code == 422 and missing.json()["errors"] == {"stage": "Not found, or you may not see it."}
    assert garbage.status_code == 422 and absent.status_code == 422
    deal.refresh_from_db()
    assert deal.stage == stage_of(pipeline, "Lead")


def test_moving_to_the_stage_it_is_in_changes_nothing(client, people, pipeline, deal):
    client.force_login(people["owner"])

    response = move(client, deal.id, deal.stage_id)

    assert response.status_code == 200
    assert list(response.json()["columns"]) == [str(deal.stage_id)]
    assert not DealStageChange.objects.exists()


def test_moves_need_a_signed_in_user_a_post_and_a_real_id(client, people, pipeline, deal):
    proposal = stage_of(pipeline, "Proposal")

    anonymous = move(client, deal.id, proposal.id)
    client.force_login(people["owner"])
    as_get = client.get(f"/deals/{deal.id}/move/")
    huge = move(client, 2**70, proposal.id)

    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert as_get.status_code == 405
    assert huge.status_code == 404
    deal.refresh_from_db()
    assert deal.stage_id != proposal.id


def test_the_board_gives_the_script_what_a_csrf_protected_move_needs(people, pipeline, deal):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people["owner"])
    html = browser.get(BOARD).content.decode()
    token = re.search(r'data-csrf-token="([^"]+)"', html).group(1)

    without = browser.post(f"/deals/{deal.id}/move/", {"stage": stage_of(pipeline, "Proposal").id})
    with_token = browser.post(
        f"/deals/{deal.id}/move/",
        {"stage": stage_of(pipeline, "Proposal").id},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )

    assert without.status_code == 403
    assert with_token.status_code == 200
    assert Deal.objects.get(pk=deal.id).stage == stage_of(pipeline, "Proposal")


# ---- moving from the deal page (a plain form) ----------------------------------------------------


def test_the_deal_page_moves_a_deal_with_a_form_and_comes_back(client, people, pipeline, deal):
    client.force_login(people["owner"])

    response = client.post(f"/deals/{deal.id}/move/", {"stage": stage_of(pipeline, "Negotiation").id})

    assert response.status_code == 302 and response["Location"] == f"/deals/{deal.id}/"
    deal.refresh_from_db()
    assert deal.stage == stage_of(pipeline, "Negotiation")


def test_the_deal_page_form_shows_refusals_beside_the_stage_or_as_a_conflict(client, people, pipeline):
    closed = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"], status="won")
    open_deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=people["owner"])
    client.force_login(people["owner"])

    conflict = client.post(f"/deals/{closed.id}/move/", {"stage": stage_of(pipeline, "Proposal").id})
    invalid = client.post(f"/deals/{open_deal.id}/move/", {"stage": 999999})
    client.force_login(people["analyst"])
    forbidden = client.post(f"/deals/{open_deal.id}/move/", {"stage": stage_of(pipeline, "Proposal").id})

    assert conflict.status_code == 409
    assert 'data-testid="deal-error">Only an open deal can be moved: reopen it first.' in conflict.content.decode()
    assert invalid.status_code == 200
    assert 'data-testid="error-stage">Not found, or you may not see it.' in invalid.content.decode()
    assert forbidden.status_code == 403
    assert Deal.objects.get(pk=open_deal.id).stage == stage_of(pipeline, "Lead")


def test_the_board_speaks_italian_to_an_italian_user(client, people, deal):
    people["owner"].language = "it"
    people["owner"].save()
    client.force_login(people["owner"])

    html = client.get(BOARD).content.decode()

    assert "Trattative" in html
    assert "1 trattativa" in html
    assert "1.000,00\xa0€" in html
