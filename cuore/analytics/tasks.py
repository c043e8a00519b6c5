"""The analytics app's background jobs: the nightly scoring run, and the runs asked for on demand."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cuore.analytics.services import analytics_run
from cuore.core.jobs import job, periodic


@job("analytics.nightly")
def analytics_nightly() -> dict[str, int]:
    """Score every customer as of today; a failed run leaves the last good scores and is retried."""
    run = analytics_run()
    return {"run_id": run.pk}


@job("analytics.run")
def analytics_run_job(
    *, as_of: str | None = None, abc_cuts: list[int] | None = None, **parameters: Any
) -> dict[str, int]:
    """Score every customer with the parameters of a run queued through the API or the pages (JSON: dates as text)."""
    if as_of is not None:
        parameters["as_of"] = dt.date.fromisoformat(as_of)
    if abc_cuts is not None:
        parameters["abc_cuts"] = tuple(abc_cuts)
    run = analytics_run(**parameters)
    return {"run_id": run.pk}


periodic("analytics.nightly", daily_at="02:30")
