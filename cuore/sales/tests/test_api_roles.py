"""Every sales endpoint for every role: who reads, who writes, and who is told the record does not exist.

The records belong to a sales rep of team North. "sales" is their teammate, "sales_other" a rep of team
South; support and marketing see no pipelines and no deals, and only their own activities; analysts read
everything and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from cuore.core.models import AuditEntry
from cuore.sales.models import Activity, Deal, Pipeline, Stage
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "sales", "sales_other", "support", "marketing", "analyst"]


@dataclass
class World:
    users: dict[str, Any]
    pipeline: Pipeline
    empty_stage: Stage
    deal: Deal
    won_deal: Deal
    activity: Activity
    done_activity: Activity


@pytest.fixture
def world(make_user, team, other_team) -> World:
    users = {
        "admin": make_user(role="admin"),
        "manager": make_user(role="manager"),
        "sales": make_user(role="sales", team=team),
        "sales_other": make_user(role="sales", team=other_team),
        "support": make_user(role="support"),
        "marketing": make_user(role="marketing"),
        "analyst": make_user(role="analyst"),
    }
    owner = make_user(role="sales", team=team, username="owner")
    pipeline = make_pipeline(name="Sales", is_default=True)
    return World(
        users=users,
        pipeline=pipeline,
        empty_stage=stage_of(pipeline, "Negotiation"),
        deal=make_deal(stage=stage_of(pipeline, "Lead"), owner=owner, name="Open deal"),
        won_deal=make_deal(stage=stage_of(pipeline, "Proposal"), owner=owner, name="Won deal", status="won"),
        activity=make_activity(assignee=owner, subject="Call the client"),
        done_activity=make_activity(assignee=owner, subject="Sent the offer", done=True),
    )


def matrix(**by_role: int) -> dict[str, int]:
    assert set(by_role) == set(ROLES)
    return by_role


def pipeline_write(ok: int) -> dict[str, int]:
    return matrix(admin=ok, manager=ok, sales=403, sales_other=403, support=404, marketing=404, analyst=403)


def record_write(ok: int) -> dict[str, int]:
    """A write on the North record: the team's rep may, the other team and the roles without access see nothing."""
    return matrix(admin=ok, manager=ok, sales=ok, sales_other=404, support=404, marketing=404, analyst=403)


PIPELINE_READ = matrix(admin=200, manager=200, sales=200, sales_other=200, support=404, marketing=404, analyst=200)
DEAL_READ = matrix(admin=200, manager=200, sales=200, sales_other=404, support=404, marketing=404, analyst=200)
DEAL_CREATE = matrix(admin=201, manager=201, sales=201, sales_other=201, support=404, marketing=404, analyst=403)
ACTIVITY_READ = DEAL_READ
ACTIVITY_CREATE = matrix(admin=201, manager=201, sales=201, sales_other=201, support=201, marketing=201, analyst=403)
EVERYONE = matrix(admin=200, manager=200, sales=200, sales_other=200, support=200, marketing=200, analyst=200)
FORECAST = PIPELINE_READ


@dataclass(frozen=True)
class Case:
    method: str
    path: Callable[[World], str]
    expected: dict[str, int]
    body: Callable[[World], Any] | None = None


CASES: dict[str, Case] = {
    # pipelines and stages
    "list pipelines": Case("get", lambda w: "/pipelines", PIPELINE_READ),
    "get pipeline": Case("get", lambda w: f"/pipelines/{w.pipeline.id}", PIPELINE_READ),
    "create pipeline": Case(
        "post",
        lambda w: "/pipelines",
        pipeline_write(201),
        lambda w: {"name": "New", "stages": [{"name": "A", "probability": 5}]},
    ),
    "update pipeline": Case(
        "patch", lambda w: f"/pipelines/{w.pipeline.id}", pipeline_write(200), lambda w: {"name": "Renamed"}
    ),
    "create stage": Case(
        "post",
        lambda w: f"/pipelines/{w.pipeline.id}/stages",
        pipeline_write(201),
        lambda w: {"name": "Demo", "probability": 30},
    ),
    "update stage": Case(
        "patch", lambda w: f"/stages/{w.empty_stage.id}", pipeline_write(200), lambda w: {"probability": 85}
    ),
    "delete stage": Case("delete", lambda w: f"/stages/{w.empty_stage.id}", pipeline_write(204)),
    # deals
    "list deals": Case("get", lambda w: "/deals", matrix(**{**DEAL_READ, "sales_other": 200})),
    "get deal": Case("get", lambda w: f"/deals/{w.deal.id}", DEAL_READ),
    "create deal": Case("post", lambda w: "/deals", DEAL_CREATE, lambda w: {"name": "Fresh", "amount": "10.00"}),
    "update deal": Case("patch", lambda w: f"/deals/{w.deal.id}", record_write(200), lambda w: {"amount": "99.00"}),
    "delete deal": Case("delete", lambda w: f"/deals/{w.deal.id}", record_write(204)),
    "move deal": Case(
        "post", lambda w: f"/deals/{w.deal.id}/move", record_write(200), lambda w: {"stage_id": w.empty_stage.id}
    ),
    "win deal": Case("post", lambda w: f"/deals/{w.deal.id}/win", record_write(200)),
    "lose deal": Case("post", lambda w: f"/deals/{w.deal.id}/lose", record_write(200), lambda w: {"reason": "Price"}),
    "reopen deal": Case("post", lambda w: f"/deals/{w.won_deal.id}/reopen", record_write(200)),
    "deal history": Case("get", lambda w: f"/deals/{w.deal.id}/history", DEAL_READ),
    "forecast": Case("get", lambda w: "/forecast", FORECAST),
    # activities
    "list activities": Case("get", lambda w: "/activities", EVERYONE),
    "get activity": Case("get", lambda w: f"/activities/{w.activity.id}", ACTIVITY_READ),
    "create activity": Case(
        "post", lambda w: "/activities", ACTIVITY_CREATE, lambda w: {"subject": "Ring", "kind": "call"}
    ),
    "update activity": Case(
        "patch", lambda w: f"/activities/{w.activity.id}", record_write(200), lambda w: {"subject": "Call again"}
    ),
    "delete activity": Case("delete", lambda w: f"/activities/{w.activity.id}", record_write(204)),
    "complete activity": Case("post", lambda w: f"/activities/{w.activity.id}/complete", record_write(200)),
    "reopen activity": Case("post", lambda w: f"/activities/{w.done_activity.id}/reopen", record_write(200)),
    "tasks today": Case("get", lambda w: "/tasks/today", EVERYONE),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", list(CASES))
def test_endpoint_answers_each_role(world, api_for, name, role):
    case = CASES[name]
    client = api_for(world.users[role])
    audit_before = AuditEntry.objects.count()

    call = getattr(client, case.method)
    path = case.path(world)
    response = call(path, case.body(world)) if case.body else call(path)

    assert response.status_code == case.expected[role], response.content
    writes = AuditEntry.objects.count() - audit_before
    if case.method == "get" or response.status_code >= 400:
        assert writes == 0
    else:
        assert writes >= 1


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("admin", True),
        ("manager", True),
        ("sales", True),
        ("sales_other", False),
        ("analyst", True),
    ],
)
def test_deal_list_shows_the_north_deals_only_to_those_who_may_see_them(world, api_for, role, sees):
    response = api_for(world.users[role]).get("/deals")

    ids = {deal["id"] for deal in response.json_body["results"]}
    assert ids == ({world.deal.id, world.won_deal.id} if sees else set())


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("admin", True),
        ("manager", True),
        ("sales", True),
        ("sales_other", False),
        ("support", False),
        ("marketing", False),
        ("analyst", True),
    ],
)
def test_activity_list_shows_the_north_activities_only_to_those_who_may_see_them(world, api_for, role, sees):
    response = api_for(world.users[role]).get("/activities")

    ids = {activity["id"] for activity in response.json_body["results"]}
    assert ids == ({world.activity.id, world.done_activity.id} if sees else set())


@pytest.mark.parametrize(
    ("role", "deals"),
    [("admin", 1), ("manager", 1), ("sales", 1), ("sales_other", 0), ("analyst", 1)],
)
def test_forecast_counts_only_the_visible_open_deals(world, api_for, role, deals):
    body = api_for(world.users[role]).get("/forecast").json_body

    assert sum(line["deals"] for line in body["totals"]) == deals
