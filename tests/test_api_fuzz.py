"""No input of any shape produces a 500: every operation, fed malformed bodies, parameters and ids.

For each operation of the OpenAPI schema (taking a valid request from the visibility matrix's
cases), the test sends the valid request with one value at a time replaced by something hostile —
wrong types, out-of-range numbers, impossible dates, huge strings, NUL — plus bodies that are not
JSON objects, missing required fields, unknown fields and path ids that cannot be ids. An upload
(a multipart form) gets the same for its fields, and files that cannot be read. Every answer
must be below 500, and every error must be the API's JSON error with the field named on a 422.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from config.api import api
from conftest import ApiClient
from tests.test_api_matrix import CASES, IMPORT_CSV, Case, build_world, fetch, fill, post_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, settings):
    """The world's imports keep their files in a directory of the test's own."""
    settings.DATA_DIR = tmp_path / "var"


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
# Files an upload may carry: (name, content).
HOSTILE_FILES: list[tuple[str, bytes]] = [
    ("empty.csv", b""),
    ("binary.csv", bytes(range(256)) * 8),
    ("headers-only.csv", b"Codice cliente;Nome\n"),
    ("nul.csv", b"Codice cliente;Nome\nC1;An\x00na\n"),
    ("unclosed.csv", b'Codice cliente;Nome\nC1;"never closed\n'),
    ("long-line.csv", b"Codice cliente;Nome\nC1;" + b"x" * 2_000_000 + b"\n"),
    ("utf16.csv", "Codice cliente;Nome\nC1;Anna\n".encode("utf-16")),
    ("not-a-zip.xlsx", b"PK\x03\x04 not a workbook"),
    ("x" * 300 + ".csv", IMPORT_CSV.encode()),
    ("no-extension", IMPORT_CSV.encode()),
    ("a\x00b.csv", IMPORT_CSV.encode()),
    ('quote"semi;colon.csv', IMPORT_CSV.encode()),
]
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
    content = body["content"]
    if "multipart/form-data" in content:
        return content["multipart/form-data"]["schema"]
    ref = content["application/json"]["schema"].get("$ref", "")
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


def _forms(case: Case, ids: dict[str, int]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, form) of every malformed upload for ``case``: each a fresh copy, since a file is read once."""
    schema = _request_body_schema(_operation(case))
    texts = [name for name, spec in schema.get("properties", {}).items() if spec.get("format") != "binary"]
    for name in texts:
        for value in HOSTILE_PARAMS:
            yield f"{name}={value[:20]!r}", {**case.body(ids), name: value}
    for name, content in HOSTILE_FILES:
        yield f"file {name[:20]!r}", {**case.body(ids), "file": SimpleUploadedFile(name, content, "text/csv")}
    yield "file as text", {**case.body(ids), "file": "Codice cliente;Nome"}
    for name in schema.get("required", []):
        yield f"without {name}", {k: v for k, v in case.body(ids).items() if k != name}
    yield "unknown field", {**case.body(ids), "no_such_field": "1"}


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
            attempt(label, lambda params=params: fetch(client, path, params))
    elif case.multipart:
        for raw in RAW_BODIES:  # JSON where a form is expected
            attempt(f"raw {raw[:20]!r}", lambda raw=raw: client._call("post", path, raw=raw))
        for label, form in _forms(case, ids):
            attempt(label, lambda form=form: post_form(client, path, form))
    elif case.method != "delete":
        for label, raw in _bodies(case, ids):
            attempt(label, lambda raw=raw: client._call(case.method, path, raw=raw))
    for label, broken_path in _path_variants(case, ids):
        if case.method == "get":
            attempt(label, lambda p=broken_path: fetch(client, p, case.params(ids) if case.params else None))
        elif case.method == "delete":
            attempt(label, lambda p=broken_path: client.delete(p))
        else:
            body = json.dumps(case.body(ids) if case.body else {})
            attempt(label, lambda p=broken_path, b=body: client._call(case.method, p, raw=b))

    assert not failures, "\n".join(failures[:40])
