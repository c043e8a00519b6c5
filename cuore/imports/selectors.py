"""Reads of imports, scoped to the actor: an import is seen by whoever may see imports."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from cuore.core.errors import NotFound
from cuore.core.visibility import require_read
from cuore.imports.models import ImportJob


def import_list(*, actor: Any) -> QuerySet[ImportJob]:
    require_read(actor, "imports")
    return ImportJob.objects.select_related("source", "created_by")


def import_get_for_actor(*, actor: Any, import_id: int) -> ImportJob:
    job = import_list(actor=actor).filter(pk=import_id).first()
    if job is None:
        raise NotFound("import")
    return job
