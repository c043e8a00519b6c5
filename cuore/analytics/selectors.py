"""Read the analytics runs, their reports, the current scores and the dated score history.

Who sees what (``core.visibility.MATRIX["analytics"]``): a customer's scores are seen by whoever may
read analytics *and* may see the customer, so a sales rep sees the scores of their team's contacts
and accounts, support and marketing those of every contact but no account (they see none). The
reports and the runs' whole-base counts aggregate every customer: only roles that read analytics
for ALL get them. The runs themselves (when, over which date, how they went) are seen by every
analytics reader.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db.models import QuerySet

from cuore.analytics import warehouse
from cuore.analytics.models import AccountScore, AnalyticsRun, ContactScore, RunStatus
from cuore.contacts.models import Account, Contact
from cuore.core.errors import NotFound
from cuore.core.models import Job, JobStatus
from cuore.core.visibility import Scope, read_scope, require_read, scope_queryset

# The background jobs that make a run: one asked for ("Run now", POST /analytics/runs) and the nightly one.
RUN_JOBS = ("analytics.run", "analytics.nightly")
# The parts of a run's figures that count the whole customer base (per class, segment and tier).
WHOLE_BASE_FIGURES = ("contacts", "accounts")


def analytics_reads_all(*, actor: Any) -> bool:
    """Whether ``actor`` reads every customer's scores (and so the reports over all of them)."""
    return read_scope(actor, "analytics") is Scope.ALL


# ---- runs ------------------------------------------------------------------------------------------


def analytics_run_last(*, succeeded: bool = True) -> AnalyticsRun | None:
    """The latest run (the latest successful one by default), or None."""
    runs = AnalyticsRun.objects.all()
    if succeeded:
        runs = runs.filter(status=RunStatus.SUCCEEDED)
    return runs.order_by("-started_at", "-id").first()


def analytics_run_list(*, actor: Any, status: str | None = None) -> QuerySet[AnalyticsRun]:
    """Every run, newest first (their figures and parameters; readable by whoever reads analytics)."""
    require_read(actor, "analytics")
    runs = AnalyticsRun.objects.all()
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-started_at", "-id")


def analytics_run_get(*, actor: Any, run_id: int) -> AnalyticsRun:
    """One run, or NotFound."""
    run = analytics_run_list(actor=actor).filter(pk=run_id).first()
    if run is None:
        raise NotFound("analytics run")
    return run


def analytics_run_latest(*, actor: Any, status: str | None = None) -> AnalyticsRun:
    """The latest run (of ``status`` when given), or NotFound when there is none."""
    run = analytics_run_list(actor=actor, status=status).defer("reports").first()
    if run is None:
        raise NotFound("analytics run")
    return run


def analytics_run_figures(*, actor: Any, run: AnalyticsRun) -> dict[str, Any]:
    """The run's figures as ``actor`` may see them: without the whole-base counts unless they read ALL."""
    figures = dict(run.figures or {})
    if not analytics_reads_all(actor=actor):
        for key in WHOLE_BASE_FIGURES:
            figures.pop(key, None)
    return figures


def analytics_reports(*, actor: Any, run_id: int | None = None) -> tuple[AnalyticsRun | None, dict]:
    """The reports of a run (the latest successful one by default) over the whole customer base.

    Only for those who read every customer's scores: the reports aggregate all of them.
    """
    if not analytics_reads_all(actor=actor):
        raise NotFound("analytics reports")
    run = analytics_run_get(actor=actor, run_id=run_id) if run_id is not None else analytics_run_last()
    return run, (run.reports if run is not None else {})


def analytics_job_get(*, actor: Any, job_id: int) -> Job:
    """A background job that makes a run (queued through the API or nightly), or NotFound."""
    require_read(actor, "analytics")
    found = Job.objects.filter(pk=job_id, name__in=RUN_JOBS).first()
    if found is None:
        raise NotFound("job")
    return found


def analytics_job_pending() -> Job | None:
    """The run job that is queued or running, if any (runs are one at a time: the warehouse has one writer)."""
    return (
        Job.objects.filter(name__in=RUN_JOBS, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).order_by("id").first()
    )


# ---- current scores -------------------------------------------------------------------------------


def _scored(queryset: QuerySet, *, actor: Any, resource: str, path: str = "") -> QuerySet:
    """Keep the rows of ``queryset`` whose customer (``path``) ``actor`` may see under ``resource`` and analytics.

    Both rules must allow it: a sales rep's analytics scope is their team, as is their scope of
    contacts and accounts; support and marketing read every score but see no account.
    """
    require_read(actor, "analytics")
    require_read(actor, resource)
    prefix = f"{path}__" if path else ""
    for rule in (resource, "analytics"):
        queryset = scope_queryset(
            queryset,
            actor=actor,
            resource=rule,
            owner_paths=(f"{prefix}owner",),
            team_paths=(f"{prefix}team",),
            through_index=False,
        )
    return queryset


def _score_filters(
    scores: QuerySet,
    *,
    segment: str | None,
    abc_class: str | None,
    value_tier: str | None,
    min_churn_risk: float | None = None,
) -> QuerySet:
    if segment:
        scores = scores.filter(rfm_segment=segment)
    if abc_class:
        scores = scores.filter(abc_class=abc_class)
    if value_tier:
        scores = scores.filter(value_tier=value_tier)
    if min_churn_risk is not None:
        scores = scores.filter(churn_risk__gte=min_churn_risk)
    return scores


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
        scores = _scored(scores, actor=actor, resource="contacts", path="contact")
    scores = _score_filters(
        scores, segment=segment, abc_class=abc_class, value_tier=value_tier, min_churn_risk=min_churn_risk
    )
    return scores.order_by("contact_id")


def account_score_list(
    *,
    actor: Any,
    segment: str | None = None,
    abc_class: str | None = None,
    value_tier: str | None = None,
) -> QuerySet[AccountScore]:
    """The current account scores ``actor`` may see, filtered, by account id."""
    scores = _scored(
        AccountScore.objects.select_related("preferred_category"), actor=actor, resource="accounts", path="account"
    )
    return _score_filters(scores, segment=segment, abc_class=abc_class, value_tier=value_tier).order_by("account_id")


def contact_scored_get(*, actor: Any, contact_id: int) -> Contact:
    """The contact with its current scores (``getattr(contact, "score", None)``), in one query; NotFound if invisible."""
    contact = (
        _scored(Contact.objects.all(), actor=actor, resource="contacts")
        .select_related("score__run", "score__preferred_category")
        .filter(pk=contact_id)
        .first()
    )
    if contact is None:
        raise NotFound("contact")
    return contact


def account_scored_get(*, actor: Any, account_id: int) -> Account:
    """The account with its current scores (``getattr(account, "score", None)``), in one query; NotFound if invisible."""
    account = (
        _scored(Account.objects.all(), actor=actor, resource="accounts")
        .select_related("score__run", "score__preferred_category")
        .filter(pk=account_id)
        .first()
    )
    if account is None:
        raise NotFound("account")
    return account


def contact_score_get(*, actor: Any, contact_id: int) -> ContactScore | None:
    """The contact's current scores (None if it never bought); NotFound if the contact is invisible."""
    return getattr(contact_scored_get(actor=actor, contact_id=contact_id), "score", None)


def account_score_get(*, actor: Any, account_id: int) -> AccountScore | None:
    """The account's current scores (None if it never bought); NotFound if the account is invisible."""
    return getattr(account_scored_get(actor=actor, account_id=account_id), "score", None)


# ---- history (the warehouse) ------------------------------------------------------------------------

_JSON_HISTORY_COLUMNS = ("churn_reasons", "next_best_offers")


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


def _parsed(rows: list[dict]) -> list[dict]:
    """History rows with their JSON columns (reasons, offers) as lists, not text."""
    for row in rows:
        for column in _JSON_HISTORY_COLUMNS:
            if isinstance(row.get(column), str) or row.get(column) is None:
                row[column] = json.loads(row[column]) if row.get(column) else []
    return rows


def contact_score_history(*, contact_id: int, as_of: dt.date | None = None, actor: Any | None = None) -> list[dict]:
    """Every past scoring of a contact kept in the warehouse (up to ``as_of``), oldest first.

    With an ``actor``, NotFound unless they may see the contact's scores, and the JSON columns parsed.
    Raises ``warehouse.WarehouseBusy`` while a run holds the warehouse longer than a reader waits.
    """
    if actor is None:
        return _history("score_history", "contact_id", contact_id, as_of)
    if not _scored(Contact.objects.all(), actor=actor, resource="contacts").filter(pk=contact_id).exists():
        raise NotFound("contact")
    return _parsed(_history("score_history", "contact_id", contact_id, as_of))


def account_score_history(*, account_id: int, as_of: dt.date | None = None, actor: Any | None = None) -> list[dict]:
    """Every past scoring of an account kept in the warehouse (up to ``as_of``), oldest first (see contacts)."""
    if actor is None:
        return _history("account_score_history", "account_id", account_id, as_of)
    if not _scored(Account.objects.all(), actor=actor, resource="accounts").filter(pk=account_id).exists():
        raise NotFound("account")
    return _parsed(_history("account_score_history", "account_id", account_id, as_of))


def run_scores(*, run_id: int) -> list[dict]:
    """The contact scores a past run left in the warehouse history, by contact."""
    con = warehouse.warehouse_connect(read_only=True)
    try:
        result = con.execute("SELECT * FROM score_history WHERE run_id = ? ORDER BY contact_id", [run_id])
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    finally:
        con.close()
