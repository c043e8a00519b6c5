"""Lists of the web application: chosen columns, sorting, cursor pages, saved views, CSV export.

An app describes a list once (a ``ListSpec``: its columns and orderings) and its view hands the
spec a queryset already filtered and scoped by the app's selectors. This module turns the request's
query string into the page: which columns to show (``cols``), which ordering (``sort``), which page
(``cursor``), and back into links, so the same query string is a shareable URL, an HTMX refresh and
a saved view.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext

from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.htmx import wants_fragment
from cuore.core.models import SavedView
from cuore.core.pagination import paginate

Rows = Callable[[list[Any]], list[Any]]

# Query-string keys the list itself owns; everything else is a filter of the app's form.
OWN_KEYS = {"cols", "col", "sort", "cursor", "fragment", "export"}
EXPORT_CHUNK = 200  # rows per query: the largest page the pagination serves


@dataclass(frozen=True)
class Column:
    key: str  # the row's attribute or dict key
    label: Any  # a (lazy) translated string
    sort: str | None = None  # the ordering key (in ListSpec.orderings) that sorts by this column
    default: bool = True  # shown until the user chooses columns
    template: str | None = None  # a template for the cell, given ``row`` and ``value``; plain text otherwise
    export: Callable[[Any], Any] | None = None  # the CSV value, when it differs from the cell's


@dataclass(frozen=True)
class ListSpec:
    name: str  # saved views belong to a list by this name
    columns: tuple[Column, ...]
    orderings: dict[str, tuple[str, ...]]  # key -> keyset ordering (ends with a unique field)
    default_ordering: str
    page_size: int = 50

    def column_map(self) -> dict[str, Column]:
        return {column.key: column for column in self.columns}

    def chosen_columns(self, params: QueryDict) -> list[Column]:
        """The columns named by ``cols`` (in the spec's order), or the default ones."""
        wanted = {key for key in params.get("cols", "").split(",") if key} | set(params.getlist("col"))
        chosen = [column for column in self.columns if column.key in wanted]
        return chosen or [column for column in self.columns if column.default]

    def ordering_key(self, params: QueryDict) -> str:
        sort = params.get("sort", "")
        return sort if sort in self.orderings else self.default_ordering


@dataclass
class ListPage:
    spec: ListSpec
    columns: list[Column]
    rows: list[Any]
    sort: str
    next_url: str | None
    query: str  # the query string of this list without the cursor: for links, exports and saved views

    def sort_url(self, column: Column) -> str | None:
        """The link that sorts by ``column`` (toggling to its descending ordering when there is one)."""
        if column.sort is None:
            return None
        target = column.sort
        descending = f"-{target.lstrip('-')}"
        if self.sort == target and descending in self.spec.orderings and descending != target:
            target = descending
        return "?" + _with(self.query, sort=target)

    @property
    def headers(self) -> list[dict[str, Any]]:
        return [
            {
                "column": column,
                "url": self.sort_url(column),
                "active": column.sort is not None and self.sort.lstrip("-") == column.sort.lstrip("-"),
                "descending": self.sort.startswith("-"),
            }
            for column in self.columns
        ]

    @property
    def cells(self) -> list[tuple[Any, list[tuple[Column, Any]]]]:
        return [(row, [(column, value_of(row, column.key)) for column in self.columns]) for row in self.rows]


def value_of(row: Any, key: str) -> Any:
    if isinstance(row, dict):
        return row.get(key)
    value = row
    for part in key.split("__"):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


def _with(query: str, **changes: str | None) -> str:
    params = QueryDict(query, mutable=True)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params.urlencode()


def list_query(params: QueryDict) -> str:
    """The query string that describes the list: filters, sorting and columns, without page or fragment."""
    kept = QueryDict(mutable=True)
    columns = [key for key in params.get("cols", "").split(",") if key] + params.getlist("col")
    for key, values in params.lists():
        if key in ("cursor", "fragment", "export", "col", "cols"):
            continue
        values = [value for value in values if value != ""]
        if values:
            kept.setlist(key, values)
    if columns:
        kept["cols"] = ",".join(dict.fromkeys(columns))
    return kept.urlencode()


def list_page(request: HttpRequest, spec: ListSpec, queryset: QuerySet, *, to_rows: Rows | None = None) -> ListPage:
    """One page of ``queryset`` as the request asks for it; ``to_rows`` completes the page's rows."""
    params = request.GET
    sort = spec.ordering_key(params)
    try:
        page = paginate(
            queryset,
            ordering_key=sort,
            ordering=spec.orderings[sort],
            cursor=params.get("cursor") or None,
            limit=spec.page_size,
        )
    except ValidationFailed:
        # A page link from another ordering, or typed by hand: start again from the first page.
        messages.warning(request, gettext("That page of the list no longer exists: here is the first page."))
        page = paginate(queryset, ordering_key=sort, ordering=spec.orderings[sort], cursor=None, limit=spec.page_size)
    rows = to_rows(page.items) if to_rows else page.items
    query = list_query(params)
    next_url = "?" + _with(query, cursor=page.next_cursor) if page.next_cursor else None
    return ListPage(spec, spec.chosen_columns(params), rows, sort, next_url, query)


# ---- CSV export ----------------------------------------------------------------------------------

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """A cell a spreadsheet would run as a formula (``=HYPERLINK(…)``, ``+1``, ``@SUM``) is kept as text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_rows(spec: ListSpec, queryset: QuerySet, params: QueryDict, *, to_rows: Rows | None = None) -> Iterator[str]:
    """The whole filtered list as CSV lines, read a page of rows at a time along the list's ordering."""
    writer = csv.writer(_Echo())
    columns = spec.chosen_columns(params)
    sort = spec.ordering_key(params)
    yield "\ufeff" + writer.writerow([str(column.label) for column in columns])  # BOM: Excel reads UTF-8
    cursor: str | None = None
    while True:
        page = paginate(queryset, ordering_key=sort, ordering=spec.orderings[sort], cursor=cursor, limit=EXPORT_CHUNK)
        rows = to_rows(page.items) if to_rows else page.items
        for row in rows:
            yield writer.writerow(
                [neutralise(column.export(row) if column.export else value_of(row, column.key)) for column in columns]
            )
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def export_response(
    spec: ListSpec, queryset: QuerySet, params: QueryDict, *, filename: str, to_rows: Rows | None = None
) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        export_rows(spec, queryset, params, to_rows=to_rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---- saved views ---------------------------------------------------------------------------------


def saved_views(*, user: Any, list_name: str) -> QuerySet[SavedView]:
    return SavedView.objects.filter(user=user, list_name=list_name).order_by("name")


@transaction.atomic
def saved_view_save(*, user: Any, list_name: str, name: str, query: str) -> SavedView:
    """Save (or replace) the user's view ``name`` of a list; the query string is the view."""
    name = name.strip()
    if not name:
        raise ValidationFailed(field="name", reason="is required")
    if len(name) > 100:
        raise ValidationFailed(field="name", reason="must be at most 100 characters")
    if len(query) > 2000:
        raise ValidationFailed(field="query", reason="this view has too many filters to save")
    try:
        with transaction.atomic():
            view, _ = SavedView.objects.update_or_create(
                user=user, list_name=list_name, name=name, defaults={"query": query}
            )
    except IntegrityError:
        view = SavedView.objects.get(user=user, list_name=list_name, name=name)
        view.query = query
        view.save(update_fields=["query"])
    return view


def saved_view_delete(*, user: Any, view_id: int) -> None:
    deleted, _ = SavedView.objects.filter(user=user, pk=view_id).delete()
    if not deleted:
        raise NotFound("saved view")


def selected_ids(values: Iterable[str], *, limit: int = 500) -> list[int]:
    """The row ids a bulk action was asked for; anything that is not an id is a validation error."""
    ids: list[int] = []
    for value in values:
        if not value.isdigit() or not 0 < int(value) < 2**63:
            raise ValidationFailed(field="ids", reason="must be row ids")
        ids.append(int(value))
    if not ids:
        raise ValidationFailed(field="ids", reason="select at least one row")
    if len(ids) > limit:
        raise ValidationFailed(field="ids", reason=f"select at most {limit} rows at a time")
    return ids


def query_string(params: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def render_list(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """The whole page; or, for HTMX, the list alone (the filter form) or more rows ("load more")."""
    fragment = request.GET.get("fragment")
    if wants_fragment(request) and fragment == "rows":
        chosen = "lists/_rows.html"
    elif wants_fragment(request) and (fragment == "list" or request.headers.get("HX-Target", "").startswith("list-")):
        chosen = "lists/_list.html"
    else:
        chosen = template
    response = render(request, chosen, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


def list_context(
    request: HttpRequest, page: ListPage, *, bulk_url: str = "", bulk_template: str = ""
) -> dict[str, Any]:
    """What ``lists/_list.html`` needs besides the page."""
    filters = QueryDict(page.query)
    return {
        "page": page,
        "saved_views": saved_views(user=request.user, list_name=page.spec.name),
        "filter_params": [(key, values) for key, values in filters.lists() if key != "cols"],
        "bulk_url": bulk_url,
        "bulk_template": bulk_template,
    }
