"""No input of any shape produces a 500: every operation, fed malformed bodies, parameters and ids.

For each operation of the OpenAPI schema (taking a valid request from the visibility matrix's
cases), the test sends the valid request with one value at a time replaced by something hostile —
wrong types, out-of-range numbers, impossible dates, huge strings, NUL — plus bodies that are not
JSON objects, missing required fields, unknown fields and path ids that cannot be ids. Every answer
must be below 500, and every error must be the API's JSON error with the field named on a 422.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from config.api import api
from conftest import ApiClient
from tests.test_api_matrix import CASES, Case, build_world, fill

pytestmark = pytest.mark.django_db

HOSTILE_VALUES: list[Any] = [
    None,
    "",
    "x" * 3000,
    "a\x00b",
    -1,
    0,
    2**63,
    2**64,
    -(2**63) - 1,
    1.5,
    1e308,
    "NaN",
    "-Infinity",
    "99999999999999999999.999",
    [],
    {},
    True,
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "2026-02-30",
    "\u202e🙂",
    "' OR 1=1 --",
]
HOSTILE_PARAMS = [
    "",
    "x" * 3000,
    "a\x00b",
    "-1",
    "0",
    str(2**64),
    "abc",
    "1.5",
    "NaN",
    "2026-13-45",
    "0001-01-01T00:00:00+05:00",
    "%",
    "\U0010ffff",
]
HOSTILE_IDS = ["0", "-1", str(2**63), str(2**64), "abc", "1.5", "%20"]
RAW_BODIES = ["", "not json", "[]", "null", '"text"', "1", '{"a": {"b": [1, {}]}}', "{" * 50_000]

SCHEMA = api.get_openapi_schema()


def _operation(case: Case) -> dict[str, Any]:
    for path, methods in SCHEMA["paths"].items():
        shape = "/".join("{}" if p.startswith("{") else p for p in path.removeprefix("/api/v1").split("/"))
        case_shape = "/".join("{}" if p.startswith("{") else p for p in case.path.split("/"))
        if shape == case_shape and case.method in methods:
            return methods[case.method]
    raise LookupError(case.path)


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every place in a JSON body a value sits, nested objects and list items included."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*path, key)
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*path, index)
            yield from _leaves(item, (*path, index))


def _replaced(body: Any, where: tuple, value: Any) -> Any:
    mutated = copy.deepcopy(body)
    target = mutated
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    return mutated


def _request_body_schema(operation: dict[str, Any]) -> dict[str, Any]:
    body = operation.get("requestBody")
    if not body:
        return {}
    ref = body["content"]["application/json"]["schema"].get("$ref", "")
    return SCHEMA["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})


def _bodies(case: Case, ids: dict[str, int]) -> Iterator[tuple[str, str]]:
    """(label, raw JSON) of every malformed body for ``case``."""
    for raw in RAW_BODIES:
        yield f"raw {raw[:20]!r}", raw
    valid = case.body(ids) if case.body else {}
    schema = _request_body_schema(_operation(case))
    for where in _leaves(valid):
        for value in HOSTILE_VALUES:
            yield f"{'.'.join(map(str, where))}={value!r:.30}", json.dumps(_replaced(valid, where, value))
    for name in schema.get("properties", {}):
        if name not in valid:
            for value in HOSTILE_VALUES:
                yield f"{name}={value!r:.30}", json.dumps({**valid, name: value})
    for name in schema.get("required", []):
        yield f"without {name}", json.dumps({k: v for k, v in valid.items() if k != name})
    yield "unknown field", json.dumps({**valid, "no_such_field": 1})


def _query_variants(case: Case, ids: dict[str, int]) -> Iterator[tuple[str, dict[str, str]]]:
    base = {k: str(v) for k, v in (case.params(ids) if case.params else {}).items()}
    for parameter in _operation(case).get("parameters", []):
        if parameter["in"] != "query":
            continue
        for value in HOSTILE_PARAMS:
            yield f"?{parameter['name']}={value[:20]!r}", {**base, parameter["name"]: value}


def _path_variants(case: Case, ids: dict[str, int]) -> Iterator[tuple[str, str]]:
    parts = case.path.split("/")
    for index, part in enumerate(parts):
        if part.startswith("{"):
            for bad in HOSTILE_IDS:
                broken = [*parts[:index], bad, *parts[index + 1 :]]
                yield f"id {bad}", fill("/".join(broken), ids)


def _check(response, label: str, failures: list[str]) -> None:
    status = response.status_code
    if status >= 500:
        failures.append(f"{label}: {status} {response.content[:200]!r}")
        return
    if status >= 400:
        body = response.json_body
        if not isinstance(body, dict) or "detail" not in body or not isinstance(body.get("errors"), list):
            failures.append(f"{label}: {status} without the API's error body: {response.content[:200]!r}")
        elif status == 422 and not all(error.get("field") and error.get("reason") for error in body["errors"]):
            failures.append(f"{label}: 422 without a field and a reason: {body}")
        elif status == 409 and body["detail"] == "The change conflicts with data already stored.":
            # The database's constraint caught what validation should have named.
            failures.append(f"{label}: a constraint, not validation, refused it: {body}")


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method.upper()} {c.path}")
def test_no_input_makes_a_500(case: Case):
    ids, tokens = build_world()
    client = ApiClient(tokens["admin"])
    path = fill(case.path, ids)
    failures: list[str] = []

    def attempt(label: str, call) -> None:
        savepoint = transaction.savepoint()
        try:
            _check(call(), label, failures)
        finally:
            transaction.savepoint_rollback(savepoint)

    if case.method == "get":
        for label, params in _query_variants(case, ids):
            attempt(label, lambda params=params: client.get(path, params))
    elif case.method != "delete":
        for label, raw in _bodies(case, ids):
            attempt(label, lambda raw=raw: getattr(client, case.method)(path, raw=raw))
    for label, broken_path in _path_variants(case, ids):
        if case.method == "get":
            attempt(label, lambda p=broken_path: client.get(p, case.params(ids) if case.params else None))
        elif case.method == "delete":
            attempt(label, lambda p=broken_path: client.delete(p))
        else:
            body = json.dumps(case.body(ids) if case.body else {})
            attempt(label, lambda p=broken_path, b=body: getattr(client, case.method)(p, raw=b))

    assert not failures, "\n".join(failures[:40])
