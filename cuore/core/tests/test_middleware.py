"""Requests the database could not take are refused at the door of the API, with the field named."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def errors(response) -> list[dict[str, str]]:
    assert response.status_code == 422
    return response.json()["errors"]


def test_a_nul_in_a_query_parameter_is_refused(client):
    response = client.get("/api/v1/contacts", {"q": "ros\x00"})

    assert errors(response) == [{"field": "q", "reason": "must not contain NUL characters"}]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a\x00b"}, "name"),
        ({"lines": [{"sku": "ok"}, {"sku": "x\x00"}]}, "lines.1.sku"),
        ({"meta": {"k\x00": 1}}, "meta.k\x00"),
        ("\x00", "body"),
    ],
)
def test_a_nul_anywhere_in_a_json_body_is_refused(client, body, field):
    response = client.post("/api/v1/accounts", json.dumps(body), content_type="application/json")

    assert errors(response) == [{"field": field, "reason": "must not contain NUL characters"}]


def test_clean_requests_and_other_paths_pass_through(client):
    assert client.get("/api/v1/contacts", {"q": "rossi"}).status_code == 401
    assert client.post("/api/v1/accounts", "{not json \\u0000", content_type="application/json").status_code == 401
