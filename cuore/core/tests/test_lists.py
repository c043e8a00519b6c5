"""The list machinery of the web application: query strings, CSV safety, bulk selections, saved views."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.lists import Column, ListSpec, list_query, neutralise, saved_view_delete, saved_view_save, selected_ids

SPEC = ListSpec(
    name="things",
    columns=(Column("a", "A", sort="a"), Column("b", "B", default=False), Column("c", "C")),
    orderings={"a": ("a", "id"), "-a": ("-a", "-id"), "-id": ("-id",)},
    default_ordering="-id",
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+39 02 123", "'+39 02 123"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("Rossi", "Rossi"),
        (None, ""),
        (12, "12"),
    ],
)
def test_cells_a_spreadsheet_would_run_stay_text(value, expected):
    assert neutralise(value) == expected


def test_columns_follow_the_request_or_the_defaults():
    assert [c.key for c in SPEC.chosen_columns(QueryDict(""))] == ["a", "c"]
    assert [c.key for c in SPEC.chosen_columns(QueryDict("cols=c,b"))] == ["b", "c"]
    assert [c.key for c in SPEC.chosen_columns(QueryDict("col=b&col=zzz"))] == ["b"]
    assert [c.key for c in SPEC.chosen_columns(QueryDict("cols=zzz"))] == ["a", "c"]


def test_an_unknown_ordering_falls_back_to_the_default():
    assert SPEC.ordering_key(QueryDict("sort=a")) == "a"
    assert SPEC.ordering_key(QueryDict("sort=drop table")) == "-id"


def test_the_list_query_keeps_filters_and_columns_but_not_the_page():
    query = QueryDict(list_query(QueryDict("q=ros&cursor=abc&fragment=rows&export=csv&col=a&col=c&sort=a&empty=")))

    assert dict(query.lists()) == {"q": ["ros"], "sort": ["a"], "cols": ["a,c"]}


@pytest.mark.parametrize(("values", "field"), [([], "ids"), (["1", "x"], "ids"), (["0"], "ids"), ([str(2**63)], "ids")])
def test_bulk_selections_must_be_ids(values, field):
    with pytest.raises(ValidationFailed) as excinfo:
        selected_ids(values)
    assert list(excinfo.value.errors) == [field]


def test_bulk_selections_are_bounded():
    assert selected_ids(["3", "1"]) == [3, 1]
    with pytest.raises(ValidationFailed):
        selected_ids([str(n) for n in range(1, 502)])


@pytest.mark.django_db
def test_saved_views_are_per_user_and_replace_by_name(make_user):
    anna, bruno = make_user(), make_user()
    first = saved_view_save(user=anna, list_name="contacts", name="Mine", query="owner=1")
    again = saved_view_save(user=anna, list_name="contacts", name=" Mine ", query="owner=2")

    assert (again.pk, again.query) == (first.pk, "owner=2")
    with pytest.raises(NotFound):
        saved_view_delete(user=bruno, view_id=first.pk)
    with pytest.raises(ValidationFailed):
        saved_view_save(user=anna, list_name="contacts", name="  ", query="")
    saved_view_delete(user=anna, view_id=first.pk)
