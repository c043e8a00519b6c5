"""The /api/v1/analytics endpoints: the runs, their reports, and the customers' current and past scores.

Who sees what is decided in ``cuore.analytics.selectors`` (module docstring); this module parses,
calls them and words the churn reasons and the next best offers.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import create_model

from cuore.analytics import selectors
from cuore.analytics.models import AccountScore, AnalyticsRun, ContactScore
from cuore.analytics.warehouse import WarehouseBusy
from cuore.core import jobs
from cuore.core.api import Id, PathId, page_of, page_response
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.models import Job
from cuore.core.pagination import paginate
from cuore.core.visibility import require_write

router = Router(tags=["analytics"])
log = logging.getLogger(__name__)

RUN_JOB = "analytics.run"  # its handler is in cuore/analytics/tasks.py
RunStatusName = Literal["running", "succeeded", "failed"]
SegmentName = Literal[
    "champions",
    "loyal",
    "potential_loyalists",
    "new",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose_them",
    "hibernating",
    "lost",
]
AbcName = Literal["A", "B", "C"]
TierName = Literal["most_valuable", "growable", "steady", "below_zero"]
Percent = Annotated[int, Field(ge=0, le=100)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
EARLIEST_AS_OF = dt.date(1900, 1, 1)


# ---- runs ------------------------------------------------------------------------------------------


class RunOut(Schema):
    id: int
    status: str
    as_of: dt.date
    started_at: dt.datetime
    finished_at: dt.datetime | None
    parameters: dict[str, Any]
    figures: dict[str, Any] = Field(
        description="stage times, counts, the lifetime-value fits and the churn model's test figures (`churn`); "
        "the whole base's counts per class, segment and tier (`contacts`, `accounts`) only for roles that read "
        "every customer's scores"
    )
    error: str

    @staticmethod
    def resolve_figures(obj: AnalyticsRun, context) -> dict[str, Any]:
        return selectors.analytics_run_figures(actor=context["request"].auth, run=obj)


class RunFilters(Schema):
    status: RunStatusName | None = None
    cursor: str | None = None
    limit: int = 50


class LatestFilters(Schema):
    status: RunStatusName | None = Field(None, description="the latest run of this status; any status by default")


class RunIn(Schema):
    as_of: dt.date | None = Field(None, description="the day the scores are computed at; today (UTC) by default")
    abc_cuts: list[Percent] | None = Field(
        None,
        min_length=2,
        max_length=3,
        description="percent of the margin for A and B (C is the rest), e.g. [80, 15] or [80, 15, 5]",
    )
    horizon_months: int = Field(12, ge=1, le=120)
    monthly_discount_rate: float = Field(0.01, ge=0, lt=1, allow_inf_nan=False)
    churn_days: int = Field(90, ge=7, le=730)

    def job_payload(self) -> dict[str, Any]:
        """The job's keyword arguments, checked as ``services.analytics_run`` will check them again."""
        today = timezone.now().date()
        as_of = self.as_of or today
        if as_of > today:
            raise ValidationFailed(field="as_of", reason="cannot be in the future")
        if as_of < EARLIEST_AS_OF:
            raise ValidationFailed(field="as_of", reason=f"cannot be before {EARLIEST_AS_OF.isoformat()}")
        abc_a, abc_b = (self.abc_cuts or [80, 15])[:2]
        if abc_a <= 0 or abc_a + abc_b > 100:
            raise ValidationFailed(field="abc_cuts", reason="A > 0, B ≥ 0 and A + B ≤ 100 (percent of the margin)")
        if self.abc_cuts and len(self.abc_cuts) == 3 and sum(self.abc_cuts) != 100:
            raise ValidationFailed(field="abc_cuts", reason="A + B + C must make 100")
        return {
            "as_of": as_of.isoformat(),
            "abc_cuts": [abc_a, abc_b],
            "horizon_months": self.horizon_months,
            "monthly_discount_rate": self.monthly_discount_rate,
            "churn_days": self.churn_days,
        }


class RunJobOut(Schema):
    """A background job that makes a run: poll it until ``status`` is succeeded (then ``run_id``) or failed."""

    job_id: int
    name: str
    status: str
    parameters: dict[str, Any]
    attempts: int
    max_attempts: int
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    run_id: int | None = None
    error: str = ""

    @staticmethod
    def resolve_job_id(obj: Job) -> int:
        return obj.pk

    @staticmethod
    def resolve_parameters(obj: Job) -> dict[str, Any]:
        return obj.payload

    @staticmethod
    def resolve_run_id(obj: Job) -> int | None:
        result = obj.result if isinstance(obj.result, dict) else {}
        run_id = result.get("run_id")
        return run_id if isinstance(run_id, int) else None

    @staticmethod
    def resolve_error(obj: Job) -> str:
        return obj.last_error.strip().splitlines()[0] if obj.last_error.strip() else ""


@router.get("/analytics/runs", response=page_of(RunOut))
def list_runs(request, filters: Query[RunFilters]):
    runs = selectors.analytics_run_list(actor=request.auth, status=filters.status).defer("reports")
    return page_response(
        paginate(
            runs,
            ordering_key="-started",
            ordering=("-started_at", "-id"),
            cursor=filters.cursor,
            limit=filters.limit,
        )
    )


@router.post("/analytics/runs", response={202: RunJobOut})
def start_run(request, payload: RunIn, response: HttpResponse):
    """Queue a run for the background worker (``cuore worker``); poll the job at ``Location``."""
    require_write(request.auth, "analytics")
    job_payload = payload.job_payload()
    pending = selectors.analytics_job_pending()
    if pending is not None:
        raise Conflict(f"A run is already queued or running (job {pending.pk}): wait for it to finish.")
    queued = jobs.enqueue(RUN_JOB, job_payload, max_attempts=1)
    response["Location"] = reverse("api:analytics_job", kwargs={"job_id": queued.pk})
    return Status(202, queued)


@router.get("/analytics/runs/latest", response=RunOut)
def latest_run(request, filters: Query[LatestFilters]):
    return selectors.analytics_run_latest(actor=request.auth, status=filters.status)


@router.get("/analytics/runs/{run_id}", response=RunOut)
def get_run(request, run_id: PathId):
    return selectors.analytics_run_get(actor=request.auth, run_id=run_id)


@router.get("/analytics/jobs/{job_id}", response=RunJobOut, url_name="analytics_job")
def get_run_job(request, job_id: PathId):
    return selectors.analytics_job_get(actor=request.auth, job_id=job_id)


# ---- reports ---------------------------------------------------------------------------------------


class ReportQuery(Schema):
    run: Id | None = Field(None, description="a run's id; the latest successful run by default")


# The reports' shapes (cuore/analytics/reports.py). A figure an older run did not compute is null.
class RfmCellOut(Schema):
    r: int
    f: int
    customers: int
    monetary_avg: float | None = None


class GroupOut(Schema):
    name: str
    customers: int
    monetary_total: float | None = None
    margin: float | None = None
    clv: float | None = None
    margin_share: float | None = None


class ParetoPointOut(Schema):
    customers_percent: int
    margin_percent: float


class ClvDistributionOut(Schema):
    bins: list[dict[str, float]] = Field(description='`{"from", "to", "customers"}`: 20 bins of equal width')
    above: int = 0
    without_value: int = 0


class SegmentAtRunOut(Schema):
    run_id: int
    as_of: dt.date
    name: str
    customers: int


class ChurnTierOut(Schema):
    name: str
    customers: int
    churn_risk: float | None = None
    p_alive: float | None = None
    high_risk: int = 0


def _report_schema(name: str, data: Any) -> type[Schema]:
    return create_model(name, __base__=Schema, run_id=(int, ...), as_of=(dt.date, ...), data=(data, ...))


# path, key in AnalyticsRun.reports, the data's schema, what it is
REPORTS: list[tuple[str, str, Any, str]] = [
    ("rfm-grid", "rfm_grid", list[RfmCellOut], "Customers and their average spend per recency (R) and frequency (F)"),
    ("pareto", "pareto", list[ParetoPointOut], "Share of the positive margin brought by the top p % of customers"),
    ("clv-distribution", "clv_distribution", ClvDistributionOut, "Lifetime value in 20 bins up to the 99th percentile"),
    ("segments", "segments", list[GroupOut], "Customers, spend, margin and lifetime value per RFM segment"),
    ("segments-over-time", "segments_over_time", list[SegmentAtRunOut], "Customers per RFM segment at each run"),
    ("abc", "abc", list[GroupOut], "Customers, spend, margin and its share per ABC class"),
    ("tiers", "tiers", list[GroupOut], "Customers, spend, margin and lifetime value per value tier"),
    ("churn-by-tier", "churn_by_tier", list[ChurnTierOut], "Mean churn risk and P(alive), high-risk count per tier"),
]


def _report(request, key: str, run_id: int | None) -> dict[str, Any]:
    run, reports = selectors.analytics_reports(actor=request.auth, run_id=run_id)
    if run is None:
        raise Conflict("No analytics run has succeeded yet: start one (POST /analytics/runs).")
    if key not in reports:
        raise Conflict(f"Run {run.pk} has no such report (it is {run.status}).", field="run")
    return {"run_id": run.pk, "as_of": run.as_of, "data": reports[key]}


def _add_report(path: str, key: str, data: Any, summary: str) -> None:
    schema = _report_schema(f"{''.join(part.title() for part in key.split('_'))}ReportOut", data)

    def report(request, query: Query[ReportQuery]):
        return _report(request, key, query.run)

    report.__name__ = f"report_{key}"
    router.get(f"/analytics/reports/{path}", response=schema, summary=summary, operation_id=f"analytics_report_{key}")(
        report
    )


for _path, _key, _data, _summary in REPORTS:
    _add_report(_path, _key, _data, _summary)


# ---- scores ----------------------------------------------------------------------------------------


class ReasonOut(Schema):
    """Why the churn risk is what it is: a feature, its value, its effect on the log-odds, in words."""

    feature: str
    value: float | None = None
    effect: float | None = None
    text: str


class OfferOut(Schema):
    """A product or category to offer, because buyers of something the contact bought often bought it."""

    kind: str
    id: int | None
    name: str
    because_kind: str
    because_id: int | None
    because_name: str
    share: float | None
    buyers: int | None
    text: str


class ScoreFieldsOut(Schema):
    run_id: int
    recency_days: int
    frequency: int
    monetary_total: Decimal
    monetary_avg: Decimal
    margin: Decimal
    tenure_days: int
    preferred_category_id: int | None
    preferred_category: str | None
    r_score: int
    f_score: int
    m_score: int
    rfm_segment: str
    abc_class: str
    value_tier: str
    expected_purchases: float | None
    p_alive: float | None
    clv: Decimal | None
    churn_risk: float | None

    @staticmethod
    def resolve_preferred_category(obj) -> str | None:
        return obj.preferred_category.name if obj.preferred_category_id else None


def _reasons(reasons: Any) -> list[dict[str, Any]]:
    """The churn reasons with their words (``churn.reason_text``), skipping any that cannot be read."""
    if not reasons:
        return []
    # Imported here: the churn model's module loads scikit-learn, which the web processes need only here.
    from cuore.analytics import churn

    worded = []
    for reason in reasons:
        try:
            value, effect = reason.get("value"), reason.get("effect")
            worded.append(
                {
                    "feature": str(reason["feature"]),
                    "value": value if isinstance(value, (int, float)) else None,
                    "effect": effect if isinstance(effect, (int, float)) else None,
                    "text": str(churn.reason_text(reason)),
                }
            )
        except Exception:  # a reason of an older or newer run the words do not know: left out, not a 500
            log.warning("churn reason not worded: %r", reason, exc_info=True)
    return worded


def _offers(offers: Any) -> list[dict[str, Any]]:
    """The next best offers with the names of what they offer and why, and their words (``nbo.offer_text``)."""
    if not offers:
        return []
    from cuore.analytics import nbo

    try:
        names = nbo.offer_names([offers])
    except Exception:  # offers the names cannot be looked up for: none shown rather than a 500
        log.warning("next best offers not named: %r", offers, exc_info=True)
        return []
    worded = []
    for offer in offers:
        try:
            kind = str(offer.get("kind", "product"))
            because_kind = str(offer.get("because_kind", kind))
            item, because = offer.get("id"), offer.get("because_id")
            share, buyers = offer.get("share"), offer.get("buyers")
            worded.append(
                {
                    "kind": kind,
                    "id": item if isinstance(item, int) else None,
                    "name": names.get((kind, item), f"#{item}"),
                    "because_kind": because_kind,
                    "because_id": because if isinstance(because, int) else None,
                    "because_name": names.get((because_kind, because), f"#{because}"),
                    "share": share if isinstance(share, (int, float)) else None,
                    "buyers": buyers if isinstance(buyers, int) else None,
                    "text": str(nbo.offer_text(offer, names)),
                }
            )
        except Exception:
            log.warning("next best offer not worded: %r", offer, exc_info=True)
    return worded


class ContactScoreRowOut(ScoreFieldsOut):
    contact_id: int
    contact_name: str
    churn_reasons: list[ReasonOut]

    @staticmethod
    def resolve_contact_name(obj: ContactScore) -> str:
        return f"{obj.contact.first_name} {obj.contact.last_name}".strip()

    @staticmethod
    def resolve_churn_reasons(obj: ContactScore) -> list[dict[str, Any]]:
        return _reasons(obj.churn_reasons)


class AccountScoreRowOut(ScoreFieldsOut):
    account_id: int
    account_name: str

    @staticmethod
    def resolve_account_name(obj: AccountScore) -> str:
        return obj.account.name


class ContactScoreOut(ScoreFieldsOut):
    as_of: dt.date
    churn_reasons: list[ReasonOut]
    next_best_offers: list[OfferOut]

    @staticmethod
    def resolve_as_of(obj: ContactScore) -> dt.date:
        return obj.run.as_of

    @staticmethod
    def resolve_churn_reasons(obj: ContactScore) -> list[dict[str, Any]]:
        return _reasons(obj.churn_reasons)

    @staticmethod
    def resolve_next_best_offers(obj: ContactScore) -> list[dict[str, Any]]:
        return _offers(obj.next_best_offers)


class AccountScoreOut(ScoreFieldsOut):
    as_of: dt.date

    @staticmethod
    def resolve_as_of(obj: AccountScore) -> dt.date:
        return obj.run.as_of


class ContactScoresOut(Schema):
    contact_id: int
    scores: ContactScoreOut | None = Field(description="null when the contact has never bought (or no run yet)")


class AccountScoresOut(Schema):
    account_id: int
    scores: AccountScoreOut | None = Field(description="null when the account has never bought (or no run yet)")


class HistoryRowOut(Schema):
    """A customer's scores as one run left them (structured reasons and offers, as stored).

    The warehouse adds the columns of newer versions to its history with nulls for the older runs,
    so every figure may be null.
    """

    run_id: int
    as_of: dt.date
    recency_days: int | None = None
    frequency: int | None = None
    monetary_total: Decimal | None = None
    monetary_avg: Decimal | None = None
    margin: Decimal | None = None
    tenure_days: int | None = None
    preferred_category_id: int | None = None
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    rfm_segment: str | None = None
    abc_class: str | None = None
    value_tier: str | None = None
    expected_purchases: float | None = None
    p_alive: float | None = None
    clv: Decimal | None = None
    churn_risk: float | None = None
    churn_reasons: list[dict[str, Any]] = []
    next_best_offers: list[dict[str, Any]] = []


class ContactHistoryOut(Schema):
    contact_id: int
    results: list[HistoryRowOut]


class AccountHistoryOut(Schema):
    account_id: int
    results: list[HistoryRowOut]


class ContactScoreFilters(Schema):
    segment: SegmentName | None = None
    abc_class: AbcName | None = None
    value_tier: TierName | None = None
    min_churn_risk: Share | None = Field(None, description="0–1: only contacts whose churn risk is at least this")
    cursor: str | None = None
    limit: int = 50


class AccountScoreFilters(Schema):
    segment: SegmentName | None = None
    abc_class: AbcName | None = None
    value_tier: TierName | None = None
    cursor: str | None = None
    limit: int = 50


class HistoryQuery(Schema):
    as_of: dt.date | None = Field(None, description="only the runs as of this day or earlier")


def _read_history(read, **kwargs) -> list[dict]:
    try:
        return read(**kwargs)
    except WarehouseBusy as busy:
        raise Conflict(str(busy)) from None


@router.get("/analytics/contacts", response=page_of(ContactScoreRowOut))
def list_contact_scores(request, filters: Query[ContactScoreFilters]):
    scores = selectors.contact_score_list(
        actor=request.auth,
        segment=filters.segment,
        abc_class=filters.abc_class,
        value_tier=filters.value_tier,
        min_churn_risk=filters.min_churn_risk,
    ).select_related("contact")
    return page_response(
        paginate(scores, ordering_key="contact", ordering=("contact_id",), cursor=filters.cursor, limit=filters.limit)
    )


@router.get("/analytics/contacts/{contact_id}", response=ContactScoresOut)
def get_contact_scores(request, contact_id: PathId):
    contact = selectors.contact_scored_get(actor=request.auth, contact_id=contact_id)
    return {"contact_id": contact.pk, "scores": getattr(contact, "score", None)}


@router.get("/analytics/contacts/{contact_id}/history", response=ContactHistoryOut)
def get_contact_history(request, contact_id: PathId, query: Query[HistoryQuery]):
    rows = _read_history(selectors.contact_score_history, actor=request.auth, contact_id=contact_id, as_of=query.as_of)
    return {"contact_id": contact_id, "results": rows}


@router.get("/analytics/accounts", response=page_of(AccountScoreRowOut))
def list_account_scores(request, filters: Query[AccountScoreFilters]):
    scores = selectors.account_score_list(
        actor=request.auth, segment=filters.segment, abc_class=filters.abc_class, value_tier=filters.value_tier
    ).select_related("account")
    return page_response(
        paginate(scores, ordering_key="account", ordering=("account_id",), cursor=filters.cursor, limit=filters.limit)
    )


@router.get("/analytics/accounts/{account_id}", response=AccountScoresOut)
def get_account_scores(request, account_id: PathId):
    account = selectors.account_scored_get(actor=request.auth, account_id=account_id)
    return {"account_id": account.pk, "scores": getattr(account, "score", None)}


@router.get("/analytics/accounts/{account_id}/history", response=AccountHistoryOut)
def get_account_history(request, account_id: PathId, query: Query[HistoryQuery]):
    rows = _read_history(selectors.account_score_history, actor=request.auth, account_id=account_id, as_of=query.as_of)
    return {"account_id": account_id, "results": rows}
