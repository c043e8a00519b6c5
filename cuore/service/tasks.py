"""The service app's background jobs: the SLA breach sweep."""

from __future__ import annotations

import datetime as dt

from cuore.core.jobs import job, periodic
from cuore.service.services import ticket_sla_mark_breaches


@job("service.sla_sweep")
def sla_sweep() -> dict[str, int]:
    """Flag the open tickets past their SLA due times; return how many of each kind were flagged."""
    return ticket_sla_mark_breaches()


periodic("service.sla_sweep", every=dt.timedelta(minutes=5))
