"""Calendar months for the dashboards: the last N months and aggregates per month, in the current time zone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Aggregate, IntegerField, QuerySet, Value
from django.utils import timezone


def recent_month_starts(*, months: int = 12, now: dt.datetime | None = None) -> list[dt.date]:
    """Return the first day of each of the last ``months`` months, oldest first, the current one last.

    Months are those of the current time zone (UTC unless the request activated another).
    """
    today = timezone.localtime(now or timezone.now()).date()
    index = today.year * 12 + today.month - 1
    return [dt.date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def month_start_time(month: dt.date) -> dt.datetime:
    """Return midnight of ``month``'s first day in the current time zone: the lower bound of a month range."""
    return timezone.make_aware(dt.datetime.combine(month.replace(day=1), dt.time.min))


def month_of(value: dt.date | dt.datetime | None) -> dt.date | None:
    """Return what ``TruncMonth`` gave back as a plain date (a datetime on some backends, a date on others)."""
    if isinstance(value, dt.datetime):
        return (timezone.localtime(value) if timezone.is_aware(value) else value).date()
    return value


def aggregate_by_month(
    records: QuerySet, *, field: str, months: list[dt.date], **aggregates: Aggregate
) -> dict[dt.date, dict[str, Any]]:
    """Return ``aggregates`` of ``records`` for each of ``months`` (by the time in ``field``), in one query.

    The query is a UNION ALL of one aggregate per month over its half-open range [first day, first day
    of the next month), so each part is an index range scan on ``field`` and no date function runs per
    row (on SQLite ``TruncMonth`` is a Python call per row). Months without records are absent.
    """
    if not months:
        return {}
    last = months[-1]
    following = dt.date(last.year + last.month // 12, last.month % 12 + 1, 1)
    bounds = [month_start_time(month) for month in months] + [month_start_time(following)]
    parts = [
        records.filter(**{f"{field}__gte": bounds[i], f"{field}__lt": bounds[i + 1]})
        .order_by()
        .annotate(bucket=Value(i, output_field=IntegerField()))
        .values("bucket")
        .annotate(**aggregates)
        .values("bucket", *aggregates)
        for i in range(len(months))
    ]
    rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    return {months[row["bucket"]]: row for row in rows}
