"""The requests bench/api measures, and how each is timed against its bare SQL."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

WARMUP = 10


@dataclass
class Row:
    name: str
    p50: float
    p95: float
    sql_p50: float
    sql_p95: float
    rows: int


def _pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _pick_values():
    """Choose, deterministically, the contact, email, phone, name and owner the requests ask for."""
    from django.db.models import Count

    from cuore.contacts.models import Contact, ContactPoint
    from cuore.interactions.models import Interaction
    from cuore.sales.models import Deal

    max_id = Contact.objects.order_by("-id").values_list("id", flat=True).first()
    # A contact with a long history: the one with most interactions among a sample in the middle.
    middle = max_id // 2
    busiest = (
        Interaction.objects.filter(contact_id__gte=middle, contact_id__lt=middle + 2000)
        .values("contact_id")
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    email = (
        ContactPoint.objects.filter(kind="email", contact_id__gte=middle)
        .order_by("contact_id")
        .values_list("value_normalized", flat=True)
        .first()
    )
    phone = (
        ContactPoint.objects.filter(kind__in=["phone", "mobile"], contact_id__gte=middle)
        .order_by("contact_id")
        .values_list("value_normalized", flat=True)
        .first()
    )
    last_name = Contact.objects.filter(id__gte=middle).values_list("last_name_key", flat=True).first()
    owner_id = (
        Deal.objects.values("owner_id")
        .order_by()
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("owner_id", flat=True)
        .first()
    )
    return {
        "max_id": max_id,
        "contact_id": busiest["contact_id"],
        "email": email,
        "phone": phone,
        "name": last_name[:4],
        "owner_id": owner_id,
    }


def _client_for(role: str, user_id: int | None = None) -> Client:
    from cuore.users.models import User
    from cuore.users.services import token_create

    user = (
        User.objects.get(pk=user_id)
        if user_id
        else User.objects.filter(role=role, is_active=True).order_by("id").first()
    )
    token = token_create(actor=None, user=user, name="bench").raw
    return Client(headers={"Authorization": f"Bearer {token}"})


def _get_all(client: Client, requests: list[tuple[str, dict]]):
    responses = [client.get(path, params) for path, params in requests]
    for (path, _), response in zip(requests, responses, strict=True):
        assert response.status_code == 200, (path, response.status_code, response.content[:300])
    return responses


def _time_case(
    client: Client, requests: list[tuple[str, dict]], repeat: int
) -> tuple[list[float], list[tuple[str, tuple]], int]:
    for _ in range(WARMUP):
        _get_all(client, requests)
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        _get_all(client, requests)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        responses = _get_all(client, requests)
    body = json.loads(responses[-1].content)
    count = len(body.get("results", [])) if isinstance(body, dict) else 0
    # Replay the endpoint's own statements; the token's once-a-minute "last used" write is not part of its floor.
    statements = [
        (q["sql"], ())
        for q in captured.captured_queries
        if not q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))
    ]
    return timings, statements, count


def _time_sql(statements: list[tuple[str, tuple]], repeat: int) -> list[float]:
    timings = []
    with connection.cursor() as cursor:
        for _ in range(WARMUP):
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()
        for _ in range(repeat):
            started = time.perf_counter()
            for sql, params in statements:
                cursor.execute(sql, params)
                cursor.fetchall()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def run_cases(*, repeat: int) -> list[Row]:
    from cuore.core.pagination import encode_cursor

    values = _pick_values()
    admin = _client_for("admin")
    owner = _client_for("sales", values["owner_id"])
    deep = encode_cursor("-id", [values["max_id"] // 2])
    deep_name = encode_cursor("name", ["m", "", 0])
    cases = [
        # Not a target: what the stack (middleware, token check, ninja, JSON) costs around one trivial query.
        ("the stack alone: GET /me", admin, "/api/v1/me", {}),
        ("contact list, first page", admin, "/api/v1/contacts", {"limit": 50}),
        ("contact list, deep cursor (-id)", admin, "/api/v1/contacts", {"limit": 50, "cursor": deep}),
        (
            "contact list by name, deep cursor",
            admin,
            "/api/v1/contacts",
            {"limit": 50, "ordering": "name", "cursor": deep_name},
        ),
        ("search by email", admin, "/api/v1/contacts", {"q": values["email"]}),
        ("search by phone", admin, "/api/v1/contacts", {"q": values["phone"]}),
        (f"search by name prefix '{values['name']}'", admin, "/api/v1/contacts", {"q": values["name"]}),
        (
            "contact + its 50 latest interactions",
            admin,
            [
                (f"/api/v1/contacts/{values['contact_id']}", {}),
                ("/api/v1/interactions", {"contact_id": values["contact_id"], "limit": 50}),
            ],
        ),
        ("deal list of one owner", owner, "/api/v1/deals", {"owner_id": values["owner_id"], "limit": 50}),
        ("contact list, first page, as a sales rep", owner, "/api/v1/contacts", {"limit": 50}),
        ("search 'mar' (common) as a sales rep", owner, "/api/v1/contacts", {"q": "mar"}),
        ("deal list, first page, as a sales rep", owner, "/api/v1/deals", {"limit": 50}),
    ]
    rows = []
    for case in cases:
        name, client = case[0], case[1]
        requests = case[2] if isinstance(case[2], list) else [(case[2], case[3])]
        timings, statements, count = _time_case(client, requests, repeat)
        sql = _time_sql(statements, repeat)
        rows.append(Row(name, _pct(timings, 0.5), _pct(timings, 0.95), _pct(sql, 0.5), _pct(sql, 0.95), count))
        print(f"  measured {name}", flush=True)
    return rows
