"""Request middleware of the shared kernel."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.http import JsonResponse

from cuore.core.audit import audit_channel
from cuore.core.models import Channel


class AuditChannelMiddleware:
    """Attribute writes made while answering a request to the API or to the web interface."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        channel = Channel.API if request.path.startswith("/api/") else Channel.UI
        with audit_channel(channel):
            return self.get_response(request)


def _nul_field(value: Any, path: str) -> str | None:
    """Return the dotted path of the first string in ``value`` that holds a NUL character."""
    if isinstance(value, str):
        return path or "body" if "\x00" in value else None
    if isinstance(value, dict):
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        name = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return name
        found = _nul_field(item, name)
        if found:
            return found
    return None


class RejectNulMiddleware:
    """Answer 422 to an API request with a NUL character in a query parameter or a JSON string.

    No database keeps NUL in text (PostgreSQL refuses it outright), so such a value could only fail
    deep in a query; refusing it here, with the field named, covers every endpoint at once.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/"):
            field = next(
                (key for key, values in request.GET.lists() if "\x00" in key or any("\x00" in v for v in values)),
                None,
            )
            if field is None and request.content_type == "application/json" and b"\\u0000" in request.body:
                try:
                    field = _nul_field(json.loads(request.body), "")
                except ValueError:
                    field = None  # not JSON: the endpoint answers that itself
            if field is not None:
                return JsonResponse(
                    {
                        "detail": "The request is not valid.",
                        "errors": [{"field": field, "reason": "must not contain NUL characters"}],
                    },
                    status=422,
                )
        return self.get_response(request)
