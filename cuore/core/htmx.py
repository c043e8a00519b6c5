"""Small helpers for views that answer both full page loads and HTMX requests."""

from __future__ import annotations

from django.http import HttpRequest


def is_htmx(request: HttpRequest) -> bool:
    """Tell whether the request came from HTMX (and so wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def wants_fragment(request: HttpRequest) -> bool:
    """An HTMX request wants a fragment, except when HTMX restores a page missing from its history cache."""
    return is_htmx(request) and request.headers.get("HX-History-Restore-Request") != "true"


def fragment_or_page(request: HttpRequest, page: str, fragment: str) -> str:
    """The template to render: the fragment for HTMX, the whole page otherwise."""
    return fragment if is_htmx(request) else page
