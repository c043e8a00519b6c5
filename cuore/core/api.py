"""Shared pieces of the REST API: error answers, cursor pages and idempotent creates."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Collection
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError, transaction
from django.http import Http404, HttpRequest, JsonResponse
from ninja import Field, NinjaAPI, Path, Schema, Status
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import AfterValidator, create_model

from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cuore.core.models import IdempotencyRecord
from cuore.core.pagination import Page

logger = logging.getLogger(__name__)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


# Ids are 64-bit: a larger number could not name a row and would overflow the database driver.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]
PathId = Annotated[int, Path(ge=1, le=2**63 - 1)]
# No database stores a NUL character in text (PostgreSQL refuses it): refuse it in the request.
Text = Annotated[str, AfterValidator(_no_nul)]

_LOCATIONS = {"body", "query", "path", "header", "cookie", "form", "file"}


class ErrorItem(Schema):
    field: str
    reason: str


class ErrorOut(Schema):
    detail: str
    errors: list[ErrorItem] = []


def _field_from_loc(loc: Any) -> str:
    parts = [str(part) for part in (loc or [])]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in {"payload", "filters", "data"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def error_response(api: NinjaAPI, request: HttpRequest, status: int, detail: str, errors: dict[str, str] | None = None):
    body = {"detail": detail, "errors": [{"field": f, "reason": r} for f, r in (errors or {}).items()]}
    return api.create_response(request, body, status=status)


def install_error_handlers(api: NinjaAPI) -> None:
    """Answer every known failure with JSON naming the field and the reason; never a 500 for bad input."""

    @api.exception_handler(NinjaValidationError)
    def on_request_invalid(request, exc: NinjaValidationError):
        errors: dict[str, str] = {}
        for item in exc.errors:
            field = _field_from_loc(item.get("loc"))
            errors.setdefault(field, str(item.get("msg", "is invalid")))
        return error_response(api, request, 422, "The request is not valid.", errors)

    @api.exception_handler(ValidationFailed)
    def on_validation_failed(request, exc: ValidationFailed):
        return error_response(api, request, 422, "The request is not valid.", exc.errors)

    @api.exception_handler(DjangoValidationError)
    def on_django_validation(request, exc: DjangoValidationError):
        if hasattr(exc, "error_dict"):
            errors = {field: " ".join(str(m) for m in messages) for field, messages in exc.message_dict.items()}
        else:
            errors = {"body": " ".join(str(m) for m in exc.messages)}
        errors = {("body" if field == "__all__" else field): reason for field, reason in errors.items()}
        return error_response(api, request, 422, "The request is not valid.", errors)

    @api.exception_handler(NotFound)
    def on_not_found(request, exc: NotFound):
        return error_response(api, request, 404, "Not found.")

    @api.exception_handler(Http404)
    def on_http404(request, exc):
        return error_response(api, request, 404, "Not found.")

    @api.exception_handler(Forbidden)
    def on_forbidden(request, exc: Forbidden):
        return error_response(api, request, 403, str(exc) or "You may not do this.")

    @api.exception_handler(Conflict)
    def on_conflict(request, exc: Conflict):
        errors = {exc.field: exc.reason} if exc.field else {}
        return error_response(api, request, 409, exc.reason, errors)

    @api.exception_handler(IntegrityError)
    def on_integrity(request, exc: IntegrityError):
        logger.warning("integrity error answered as 409: %s", exc)
        return error_response(api, request, 409, "The change conflicts with data already stored.")

    @api.exception_handler(DataError)
    def on_data_error(request, exc: DataError):
        logger.warning("data error answered as 422: %s", exc)
        return error_response(api, request, 422, "A value is out of range for the database.", {"body": str(exc)[:200]})

    @api.exception_handler(OverflowError)
    def on_overflow(request, exc: OverflowError):
        return error_response(api, request, 422, "A number or a date is out of range.", {"body": str(exc)[:200]})

    @api.exception_handler(AuthenticationError)
    def on_unauthenticated(request, exc):
        response = error_response(api, request, 401, "Authentication required: send Authorization: Bearer <token>.")
        response["WWW-Authenticate"] = 'Bearer realm="cuore"'
        return response

    @api.exception_handler(HttpError)
    def on_http_error(request, exc: HttpError):
        return error_response(api, request, exc.status_code, str(exc))


def patch_data(payload: Schema, *, nullable: Collection[str] = ()) -> dict[str, Any]:
    """The fields a PATCH body sets. ``null`` clears only the fields in ``nullable``; elsewhere it is a 422."""
    data = payload.dict(exclude_unset=True)
    errors = {name: "cannot be null" for name, value in data.items() if value is None and name not in nullable}
    if errors:
        raise ValidationFailed(errors)
    return data


_page_schemas: dict[type, type] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """Return the schema of a cursor page of ``item_schema``: ``{results: [...], next_cursor}``."""
    if item_schema not in _page_schemas:
        _page_schemas[item_schema] = create_model(
            f"{item_schema.__name__}Page",
            __base__=Schema,
            results=(list[item_schema], ...),  # type: ignore[valid-type]
            next_cursor=(str | None, None),
        )
    return _page_schemas[item_schema]


def page_response(page: Page) -> dict[str, Any]:
    return {"results": page.items, "next_cursor": page.next_cursor}


IDEMPOTENCY_HEADER = "Idempotency-Key"


def _request_hash(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    try:
        body = json.loads(request.body or b"null")
        digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    except (ValueError, UnicodeDecodeError):
        digest.update(request.body)
    return digest.hexdigest()


def idempotent_create(
    request: HttpRequest,
    create: Callable[[], Any],
    out_schema: type[Schema],
    *,
    status: int = 201,
) -> Status | JsonResponse:
    """Run ``create`` once per ``Idempotency-Key``: a retry gets the first answer, another body a 422.

    The key row is inserted in the same transaction as the record, so a crash leaves neither and a
    concurrent retry waits on the unique index, then replays the stored answer.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return Status(status, create())
    key = key.strip()
    if not key or len(key) > 255:
        raise ValidationFailed(field=IDEMPOTENCY_HEADER, reason="must be between 1 and 255 characters")
    user = request.auth
    request_hash = _request_hash(request)
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                user=user, key=key, method=request.method, path=request.path, request_hash=request_hash
            )
            instance = create()
            body = json.loads(out_schema.from_orm(instance).model_dump_json())
            record.status_code = status
            record.response_body = body
            record.save(update_fields=["status_code", "response_body"])
            return JsonResponse(body, status=status, safe=False)
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is None:
            raise
    if existing.request_hash != request_hash:
        raise ValidationFailed(
            field=IDEMPOTENCY_HEADER,
            reason="was already used with a different request; use a new key for a new request",
        )
    # The stored body is already the serialised answer: send it as it is, not through the schema again.
    return JsonResponse(existing.response_body, status=existing.status_code or status, safe=False)
