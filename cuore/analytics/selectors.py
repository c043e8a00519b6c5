"""Read the analytics runs, the current scores and the dated score history."""

from __future__ import annotations

from django.db.models import QuerySet

from cuore.analytics import engine
from cuore.analytics.models import AnalyticsRun, ContactScore, RunStatus


def analytics_run_last(*, succeeded: bool = True) -> AnalyticsRun | None:
    """The latest run (the latest successful one by default), or None."""
    runs = AnalyticsRun.objects.all()
    if succeeded:
        runs = runs.filter(status=RunStatus.SUCCEEDED)
    return runs.order_by("-started_at", "-id").first()


def contact_score_list(*, segment: str | None = None, abc_class: str | None = None) -> QuerySet[ContactScore]:
    """The current contact scores, filtered by segment and ABC class."""
    scores = ContactScore.objects.select_related("preferred_category")
    if segment:
        scores = scores.filter(rfm_segment=segment)
    if abc_class:
        scores = scores.filter(abc_class=abc_class)
    return scores.order_by("contact_id")


def contact_score_history(*, contact_id: int) -> list[dict]:
    """Every past scoring of a contact kept in the warehouse, oldest first."""
    path = engine.warehouse_path()
    if not path.exists():
        return []
    con = engine.warehouse_connect(read_only=True)
    try:
        result = con.execute("SELECT * FROM score_history WHERE contact_id = ? ORDER BY as_of, run_id", [contact_id])
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def run_scores(*, run_id: int) -> list[dict]:
    """The contact scores a past run left in the warehouse history, by contact."""
    con = engine.warehouse_connect(read_only=True)
    try:
        result = con.execute("SELECT * FROM score_history WHERE run_id = ? ORDER BY contact_id", [run_id])
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()
