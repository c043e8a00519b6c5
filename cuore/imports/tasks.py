"""The imports app's background job: run one import."""

from __future__ import annotations

from cuore.core.jobs import job
from cuore.imports.services import import_run


@job("imports.run")
def imports_run(*, import_id: int) -> dict[str, int]:
    """Read the file and write its rows; running it again after a crash re-imports safely (upserts)."""
    done = import_run(import_id=import_id)
    return {"read": done.rows_read, "created": done.rows_created, "failed": done.rows_failed}
