"""The identity app's background job: resolve the pending records."""

from __future__ import annotations

from typing import Any

from cuore.core.jobs import job
from cuore.identity.services import identity_resolve
from cuore.users.models import User


@job("identity.resolve")
def identity_resolve_job(*, user_id: int, **thresholds: Any) -> dict[str, Any]:
    """Link every pending contact record, as the user who asked (their rights apply)."""
    user = User.objects.get(pk=user_id)
    return identity_resolve(actor=user, **thresholds).as_json()
