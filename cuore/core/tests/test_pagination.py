"""Keyset pagination and index-friendly prefix search, on the kernel's own audit table."""

from __future__ import annotations

import pytest

from cuore.core.errors import ValidationFailed
from cuore.core.models import AuditEntry, Channel
from cuore.core.pagination import encode_cursor, paginate, prefix_q

pytestmark = pytest.mark.django_db


def make_entries(*object_types: str) -> list[AuditEntry]:
    return [
        AuditEntry.objects.create(action="x.create", object_type=name, object_id="1", channel=Channel.JOB)
        for name in object_types
    ]


def test_pages_walk_the_whole_list_once_in_order():
    entries = make_entries(*"cabdbe")
    seen, cursor = [], None
    while True:
        page = paginate(
            AuditEntry.objects.all(),
            ordering_key="type",
            ordering=("object_type", "id"),
            cursor=cursor,
            limit=4,
        )
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [e.pk for e in seen] == [e.pk for e in sorted(entries, key=lambda e: (e.object_type, e.pk))]


def test_a_cursor_of_another_ordering_is_refused():
    make_entries("a", "b")
    cursor = encode_cursor("-id", [1])

    with pytest.raises(ValidationFailed) as excinfo:
        paginate(AuditEntry.objects.all(), ordering_key="type", ordering=("object_type", "id"), cursor=cursor)

    assert list(excinfo.value.errors) == ["cursor"]


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", encode_cursor("type", ["a"])])
def test_a_malformed_cursor_is_a_validation_error(cursor):
    with pytest.raises(ValidationFailed):
        paginate(AuditEntry.objects.all(), ordering_key="type", ordering=("object_type", "id"), cursor=cursor)


@pytest.mark.parametrize("limit", [0, 201])
def test_a_limit_out_of_range_is_refused(limit):
    with pytest.raises(ValidationFailed) as excinfo:
        paginate(AuditEntry.objects.all(), ordering_key="-id", ordering=("-id",), cursor=None, limit=limit)

    assert excinfo.value.errors == {"limit": "must be between 1 and 200"}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("ab", {"ab", "abc", "abz"}),
        ("abz", {"abz"}),
        ("b", {"b\U0010ffff", "b\U0010ffffx"}),
        ("b\U0010ffff", {"b\U0010ffff", "b\U0010ffffx"}),
        ("\U0010ffff", set()),
        ("zz", set()),
    ],
)
def test_prefix_matches_exactly_the_values_that_start_with_it(prefix, expected):
    make_entries("a", "ab", "abc", "abz", "ac", "b\U0010ffff", "b\U0010ffffx", "c")

    found = set(AuditEntry.objects.filter(prefix_q("object_type", prefix)).values_list("object_type", flat=True))

    assert found == expected
