"""Pipelines and stages through the API."""

from __future__ import annotations

import pytest

from cuore.core.models import AuditEntry
from cuore.sales.models import Pipeline, Stage
from cuore.sales.tests.factories import make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(make_user):
    return make_user(role="manager")


@pytest.fixture
def client(manager, api_for):
    return api_for(manager)


def test_create_pipeline_with_stages(client):
    response = client.post(
        "/pipelines",
        {
            "name": "Enterprise",
            "stages": [{"name": "Qualify", "probability": 20}, {"name": "Close", "probability": 90}],
        },
    )

    assert response.status_code == 201
    body = response.json_body
    pipeline = Pipeline.objects.get()
    qualify, close = pipeline.stages.order_by("position")
    assert body == {
        "id": pipeline.id,
        "name": "Enterprise",
        "is_default": True,
        "created_at": body["created_at"],
        "stages": [
            {"id": qualify.id, "pipeline_id": pipeline.id, "name": "Qualify", "position": 1, "probability": 20},
            {"id": close.id, "pipeline_id": pipeline.id, "name": "Close", "position": 2, "probability": 90},
        ],
    }
    assert list(AuditEntry.objects.exclude(action="token.create").values_list("action", "channel")) == [
        ("pipeline.create", "api"),
        ("stage.create", "api"),
        ("stage.create", "api"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stages": [{"name": "A", "probability": 1}]}, "name"),
        ({"name": "", "stages": [{"name": "A", "probability": 1}]}, "name"),
        ({"name": "P"}, "stages"),
        ({"name": "P", "stages": []}, "stages"),
        ({"name": "P", "stages": [{"name": "A", "probability": 101}]}, "stages.0.probability"),
        ({"name": "P", "stages": [{"name": "A", "probability": -1}]}, "stages.0.probability"),
        ({"name": "P", "stages": [{"name": "A"}]}, "stages.0.probability"),
        ({"name": "P", "stages": [{"name": "A", "probability": 1}, {"name": "a", "probability": 2}]}, "stages.1.name"),
        ({"name": "P", "stages": [{"name": "  ", "probability": 1}]}, "stages.0.name"),
        ({"name": "Existing", "stages": [{"name": "A", "probability": 1}]}, "name"),
        ({"name": "P", "stages": "Lead"}, "stages"),
    ],
)
def test_create_pipeline_validation_names_the_field(client, body, field):
    make_pipeline(name="Existing")

    response = client.post("/pipelines", body)

    assert response.status_code == 422
    assert [error["field"] for error in response.json_body["errors"]] == [field]
    assert Pipeline.objects.count() == 1


def test_idempotent_pipeline_create(client):
    body = {"name": "Renewals", "stages": [{"name": "Due", "probability": 60}]}

    first = client.post("/pipelines", body, headers={"Idempotency-Key": "p-1"})
    again = client.post("/pipelines", body, headers={"Idempotency-Key": "p-1"})
    other = client.post("/pipelines", {**body, "name": "Other"}, headers={"Idempotency-Key": "p-1"})

    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 422)
    assert first.json_body == again.json_body
    assert other.json_body["errors"][0]["field"] == "Idempotency-Key"
    assert Pipeline.objects.count() == 1


def test_idempotent_stage_create(client):
    pipeline = make_pipeline(name="Sales")
    body = {"name": "Demo", "probability": 30}

    first = client.post(f"/pipelines/{pipeline.id}/stages", body, headers={"Idempotency-Key": "s-1"})
    again = client.post(f"/pipelines/{pipeline.id}/stages", body, headers={"Idempotency-Key": "s-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json_body == again.json_body
    assert list(pipeline.stages.order_by("position").values_list("name", flat=True)) == [
        "Lead",
        "Proposal",
        "Negotiation",
        "Demo",
    ]


def test_list_pipelines_by_name_with_cursor(client):
    for name in ["Zeta", "Alpha", "Mu"]:
        make_pipeline(name=name)

    first = client.get("/pipelines", {"limit": 2})
    second = client.get("/pipelines", {"limit": 2, "cursor": first.json_body["next_cursor"]})

    assert [p["name"] for p in first.json_body["results"]] == ["Alpha", "Mu"]
    assert [p["name"] for p in second.json_body["results"]] == ["Zeta"]
    assert second.json_body["next_cursor"] is None
    assert [s["name"] for s in first.json_body["results"][0]["stages"]] == ["Lead", "Proposal", "Negotiation"]


def test_update_pipeline_default_and_name(client):
    old = make_pipeline(name="Old", is_default=True)
    new = make_pipeline(name="New")

    response = client.patch(f"/pipelines/{new.id}", {"is_default": True, "name": "Main"})
    refused = client.patch(f"/pipelines/{new.id}", {"is_default": False})
    taken = client.patch(f"/pipelines/{new.id}", {"name": "old"})

    assert (response.status_code, response.json_body["name"], response.json_body["is_default"]) == (200, "Main", True)
    old.refresh_from_db()
    assert old.is_default is False
    assert (refused.status_code, refused.json_body["errors"]) == (
        422,
        [{"field": "is_default", "reason": "make another pipeline the default instead"}],
    )
    assert (taken.status_code, taken.json_body["errors"][0]["field"]) == (422, "name")


def test_add_move_and_delete_stages(client):
    pipeline = make_pipeline(name="Sales")

    added = client.post(f"/pipelines/{pipeline.id}/stages", {"name": "Demo", "probability": 30, "position": 2})
    moved = client.patch(f"/stages/{added.json_body['id']}", {"position": 4, "name": "Demo call"})
    deleted = client.delete(f"/stages/{stage_of(pipeline, 'Lead').id}")

    assert (added.status_code, added.json_body["position"]) == (201, 2)
    assert (moved.status_code, moved.json_body["position"], moved.json_body["name"]) == (200, 4, "Demo call")
    assert deleted.status_code == 204
    assert list(pipeline.stages.order_by("position").values_list("name", "position")) == [
        ("Proposal", 1),
        ("Negotiation", 2),
        ("Demo call", 3),
    ]


def test_stage_validation_and_conflicts(client):
    pipeline = make_pipeline(name="Sales")
    lead = stage_of(pipeline, "Lead")
    make_deal(stage=lead)

    cases = {
        "duplicate name": client.post(f"/pipelines/{pipeline.id}/stages", {"name": "LEAD", "probability": 5}),
        "probability": client.post(f"/pipelines/{pipeline.id}/stages", {"name": "X", "probability": 150}),
        "position": client.post(f"/pipelines/{pipeline.id}/stages", {"name": "X", "probability": 5, "position": 0}),
        "patch probability": client.patch(f"/stages/{lead.id}", {"probability": "high"}),
        "patch name": client.patch(f"/stages/{lead.id}", {"name": "Proposal"}),
        "delete with deals": client.delete(f"/stages/{lead.id}"),
    }

    assert {name: (r.status_code, [e["field"] for e in r.json_body["errors"]]) for name, r in cases.items()} == {
        "duplicate name": (422, ["name"]),
        "probability": (422, ["probability"]),
        "position": (422, ["position"]),
        "patch probability": (422, ["probability"]),
        "patch name": (422, ["name"]),
        "delete with deals": (409, []),
    }
    assert Stage.objects.filter(pipeline=pipeline).count() == 3


def test_unknown_pipeline_and_stage_ids_are_404(client):
    assert client.get("/pipelines/999999").status_code == 404
    assert client.patch("/pipelines/999999", {"name": "x"}).status_code == 404
    assert client.post("/pipelines/999999/stages", {"name": "x", "probability": 1}).status_code == 404
    assert client.patch("/stages/999999", {"name": "x"}).status_code == 404
    assert client.delete("/stages/999999").status_code == 404


def test_pipeline_list_query_count_is_constant(client, django_assert_num_queries):
    for i in range(12):
        make_pipeline(name=f"P{i:02}")
    client.get("/me")  # the token's last-use time is written once a minute at most

    # token, pipelines, stages
    with django_assert_num_queries(3):
        small = client.get("/pipelines", {"limit": 2})
    with django_assert_num_queries(3):
        large = client.get("/pipelines", {"limit": 10})

    assert (len(small.json_body["results"]), len(large.json_body["results"])) == (2, 10)


def test_pipeline_detail_query_count(client, django_assert_num_queries):
    pipeline = make_pipeline(name="Sales")
    client.get("/me")

    # token, pipeline, stages
    with django_assert_num_queries(3):
        response = client.get(f"/pipelines/{pipeline.id}")

    assert len(response.json_body["stages"]) == 3
