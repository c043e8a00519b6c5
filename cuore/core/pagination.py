"""Keyset (cursor) pagination: each page starts where the previous one ended, however deep.

An ordering is a tuple of non-null fields ending with a unique one (``id``), for example
``("-placed_at", "-id")``. The cursor carries the last row's values of those fields; the next page
is the rows strictly after them, found through the index that matches the ordering.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import Q, QuerySet

from cuore.core.errors import ValidationFailed

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _encode_value(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_cursor(ordering_key: str, values: Sequence[Any]) -> str:
    raw = json.dumps([ordering_key, [_encode_value(v) for v in values]], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, ordering_key: str, model, fields: Sequence[str]) -> list[Any]:
    """Read a cursor back into typed values; a cursor that is not ours, or not for this ordering, is a 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key, raw_values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if key != ordering_key or not isinstance(raw_values, list) or len(raw_values) != len(fields):
            raise ValueError
        values = []
        for name, raw in zip(fields, raw_values, strict=True):
            field = model._meta.get_field(name.lstrip("-"))
            if raw is None:
                raise ValueError
            values.append(field.to_python(raw))
        return values
    except (ValueError, TypeError, binascii.Error, DjangoValidationError, FieldDoesNotExist):
        raise ValidationFailed(field="cursor", reason="is not a valid cursor for this list and ordering") from None


def _after(fields: Sequence[str], values: Sequence[Any]) -> Q:
    """Rows after ``values`` in the ordering: ``a >= x AND (a > x OR (b >= y AND (b > y OR …)))``.

    The leading ``>=`` lets the database start an index range scan at the cursor.
    """
    name = fields[0]
    column = name.lstrip("-")
    descending = name.startswith("-")
    strict, loose = ("lt", "lte") if descending else ("gt", "gte")
    value = values[0]
    if len(fields) == 1:
        return Q(**{f"{column}__{strict}": value})
    return Q(**{f"{column}__{loose}": value}) & (Q(**{f"{column}__{strict}": value}) | _after(fields[1:], values[1:]))


def paginate(
    queryset: QuerySet,
    *,
    ordering_key: str,
    ordering: Sequence[str],
    cursor: str | None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """Return one page of ``queryset`` in ``ordering`` and the cursor of the next page (``None`` at the end).

    The queryset may yield model instances or ``values()`` dicts that include the ordering's fields.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(field="limit", reason=f"must be between 1 and {MAX_LIMIT}")
    queryset = queryset.order_by(*ordering)
    if cursor:
        values = decode_cursor(cursor, ordering_key, queryset.model, ordering)
        queryset = queryset.filter(_after(ordering, values))
    rows = list(queryset[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        names = [name.lstrip("-") for name in ordering]
        values = [last[n] for n in names] if isinstance(last, dict) else [getattr(last, n) for n in names]
        next_cursor = encode_cursor(ordering_key, values)
    return Page(items=rows, next_cursor=next_cursor)


def prefix_q(field: str, prefix: str) -> Q:
    """Match rows whose ``field`` starts with ``prefix`` in a way that uses a plain b-tree index.

    SQLite's LIKE is case-insensitive and so skips a BINARY index; a half-open range does not.
    PostgreSQL gets ``LIKE 'x%'``, served by the ``varchar_pattern_ops`` index its migration adds.
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__startswith": prefix})
    # The upper bound is the prefix with its last character raised by one; the highest code point
    # cannot be raised, so it is dropped and the one before it raised instead.
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return Q(**{f"{field}__gte": prefix})
    upper = stem[:-1] + chr(ord(stem[-1]) + 1)
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": upper})
