"""Read the analytics runs, their reports, the current scores and the dated score history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from cuore.analytics import warehouse
from cuore.analytics.models import AccountScore, AnalyticsRun, ContactScore, RunStatus
from cuore.contacts.selectors import account_get_for_actor, account_visible, contact_get_for_actor, contact_visible
from cuore.core.errors import NotFound
from cuore.core.visibility import Scope, read_scope, require_read


def analytics_run_last(*, succeeded: bool = True) -> AnalyticsRun | None:
    """The latest run (the latest successful one by default), or None."""
    runs = AnalyticsRun.objects.all()
    if succeeded:
        runs = runs.filter(status=RunStatus.SUCCEEDED)
    return runs.order_by("-started_at", "-id").first()


def analytics_run_list(*, actor: Any) -> QuerySet[AnalyticsRun]:
    """Every run, newest first (their figures and parameters; readable by whoever reads analytics)."""
    require_read(actor, "analytics")
    return AnalyticsRun.objects.order_by("-started_at", "-id")


def analytics_run_get(*, actor: Any, run_id: int) -> AnalyticsRun:
    """One run, or NotFound."""
    run = analytics_run_list(actor=actor).filter(pk=run_id).first()
    if run is None:
        raise NotFound("analytics run")
    return run


def analytics_reports(*, actor: Any, run_id: int | None = None) -> tuple[AnalyticsRun | None, dict]:
    """The reports of a run (the latest successful one by default) over the whole customer base.

    Only for those who read every customer's scores: the reports aggregate all of them.
    """
    if read_scope(actor, "analytics") is not Scope.ALL:
        raise NotFound("analytics reports")
    run = analytics_run_get(actor=actor, run_id=run_id) if run_id is not None else analytics_run_last()
    return run, (run.reports if run is not None else {})


def contact_score_list(
    *,
    actor: Any | None = None,
    segment: str | None = None,
    abc_class: str | None = None,
    value_tier: str | None = None,
    min_churn_risk: float | None = None,
) -> QuerySet[ContactScore]:
    """The current contact scores ``actor`` may see (all without an actor), filtered, by contact id."""
    scores = ContactScore.objects.select_related("preferred_category")
    if actor is not None:
        require_read(actor, "analytics")
        if read_scope(actor, "analytics") is not Scope.ALL:
            scores = scores.filter(contact__in=contact_visible(actor=actor).values("pk"))
    if segment:
        scores = scores.filter(rfm_segment=segment)
    if abc_class:
        scores = scores.filter(abc_class=abc_class)
    if value_tier:
        scores = scores.filter(value_tier=value_tier)
    if min_churn_risk is not None:
        scores = scores.filter(churn_risk__gte=min_churn_risk)
    return scores.order_by("contact_id")


def contact_score_get(*, actor: Any, contact_id: int) -> ContactScore | None:
    """The contact's current scores (None if it never bought); NotFound if the contact is invisible."""
    require_read(actor, "analytics", "contact")
    contact_get_for_actor(actor=actor, contact_id=contact_id)
    return ContactScore.objects.select_related("preferred_category", "run").filter(contact_id=contact_id).first()


def account_score_get(*, actor: Any, account_id: int) -> AccountScore | None:
    """The account's current scores (None if it never bought); NotFound if the account is invisible."""
    require_read(actor, "analytics", "account")
    account_get_for_actor(actor=actor, account_id=account_id)
    return AccountScore.objects.select_related("preferred_category", "run").filter(account_id=account_id).first()


def account_score_list(*, actor: Any) -> QuerySet[AccountScore]:
    """The current account scores ``actor`` may see, by account id."""
    require_read(actor, "analytics")
    scores = AccountScore.objects.select_related("preferred_category")
    if read_scope(actor, "analytics") is not Scope.ALL:
        scores = scores.filter(account__in=account_visible(actor=actor).values("pk"))
    return scores.order_by("account_id")


def _history(table: str, key: str, customer_id: int, as_of: dt.date | None) -> list[dict]:
    if not warehouse.warehouse_path().exists():
        return []
    con = warehouse.warehouse_connect(read_only=True)
    try:
        sql = f"SELECT * FROM {table} WHERE {key} = ?"
        params: list[Any] = [customer_id]
        if as_of is not None:
            sql += " AND as_of <= ?"
            params.append(as_of)
        result = con.execute(sql + " ORDER BY as_of, run_id", params)
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()


def contact_score_history(*, contact_id: int, as_of: dt.date | None = None) -> list[dict]:
    """Every past scoring of a contact kept in the warehouse (up to ``as_of``), oldest first."""
    return _history("score_history", "contact_id", contact_id, as_of)


def account_score_history(*, account_id: int, as_of: dt.date | None = None) -> list[dict]:
    """Every past scoring of an account kept in the warehouse (up to ``as_of``), oldest first."""
    return _history("account_score_history", "account_id", account_id, as_of)


def run_scores(*, run_id: int) -> list[dict]:
    """The contact scores a past run left in the warehouse history, by contact."""
    con = warehouse.warehouse_connect(read_only=True)
    try:
        result = con.execute("SELECT * FROM score_history WHERE run_id = ? ORDER BY contact_id", [run_id])
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()
