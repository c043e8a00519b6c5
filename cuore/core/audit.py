"""The audit log: every service that writes calls ``audit_record`` in the same transaction."""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import models

from cuore.core.models import AuditEntry, Channel

_channel: contextvars.ContextVar[str] = contextvars.ContextVar("cuore_audit_channel", default=Channel.JOB)


def current_channel() -> str:
    return _channel.get()


@contextlib.contextmanager
def audit_channel(channel: str) -> Iterator[None]:
    """Attribute the writes made inside the block to ``channel`` (ui, api, import, job)."""
    if channel not in Channel.values:
        raise ValueError(f"unknown audit channel {channel!r}")
    token = _channel.set(channel)
    try:
        yield
    finally:
        _channel.reset(token)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """Return the concrete field values of ``instance`` (foreign keys as ids), ready for JSON."""
    names = set(fields) if fields is not None else None
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if names is not None and field.name not in names and field.attname not in names:
            continue
        if field.name in {"created_at", "updated_at"}:
            continue
        values[field.name] = _jsonable(getattr(instance, field.attname))
    return values


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Return ``{field: [before, after]}`` for the fields whose value changed."""
    return {name: [before.get(name), value] for name, value in after.items() if before.get(name) != value}


def audit_record(
    *,
    actor: Any,
    action: str,
    instance: models.Model | None = None,
    object_type: str | None = None,
    object_id: Any = None,
    object_repr: str | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the audit log for ``instance`` (or an explicit object type and id)."""
    if instance is not None:
        object_type = object_type or instance._meta.label_lower
        object_id = instance.pk if object_id is None else object_id
        object_repr = str(instance) if object_repr is None else object_repr
    is_user = actor is not None and getattr(actor, "pk", None) is not None
    return AuditEntry.objects.create(
        actor=actor if is_user else None,
        actor_label=getattr(actor, "username", "") if is_user else "system",
        action=action,
        object_type=object_type or "",
        object_id=str(object_id),
        object_repr=(object_repr or "")[:200],
        changes={key: _jsonable_pair(value) for key, value in (changes or {}).items()},
        channel=current_channel(),
    )


def _jsonable_pair(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return _jsonable(value)


def apply_changes(instance: models.Model, data: dict[str, Any]) -> dict[str, list[Any]]:
    """Set ``data`` on ``instance`` and return what changed, as ``{field: [before, after]}``."""
    before = snapshot(instance, data.keys())
    for name, value in data.items():
        setattr(instance, name, value)
    return diff(before, snapshot(instance, data.keys()))
