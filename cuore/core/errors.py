"""Domain errors raised by services and selectors; the API and the UI turn them into answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class CuoreError(Exception):
    """Base class of the errors a user can be told about."""


class ValidationFailed(CuoreError):
    """One or more fields are invalid: answered with 422 and the field and the reason."""

    def __init__(self, errors: dict[str, str] | None = None, *, field: str | None = None, reason: str | None = None):
        self.errors: dict[str, str] = dict(errors or {})
        if field is not None:
            self.errors[field] = reason or "is invalid"
        super().__init__("; ".join(f"{name}: {why}" for name, why in self.errors.items()))


class NotFound(CuoreError):
    """The record does not exist or the actor may not see it: both answer 404, never the data."""

    def __init__(self, what: str = "record"):
        self.what = what
        super().__init__(f"{what} not found")


class Forbidden(CuoreError):
    """The actor sees the record but may not do this to it (e.g. an analyst writing)."""


class Conflict(CuoreError):
    """The request is well-formed but clashes with the record's state (e.g. moving a won deal)."""

    def __init__(self, reason: str, *, field: str | None = None):
        self.reason = reason
        self.field = field
        super().__init__(reason)


def reference(field: str, fetch: Callable[[], T]) -> T:
    """Fetch a record named by id in a request body; one that is missing or invisible is a 422 on ``field``."""
    try:
        return fetch()
    except NotFound:
        raise ValidationFailed(field=field, reason="not found") from None
