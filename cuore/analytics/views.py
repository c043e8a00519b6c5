"""Web pages of the analytics app: the overview with its charts, the scores list and the runs.

Every read goes through ``cuore.analytics.selectors``: the overview's reports need the analytics read
scope ALL (they aggregate every customer), the scores list shows the scores of the customers the
user may see, the runs page whoever reads analytics. "Run now" never runs the engine in the request:
it queues a background job that a worker (``cuore worker``, or ``cuore serve --worker``) runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import dateformat, formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from cuore.analytics import selectors
from cuore.analytics.forms import ScoreFilterForm
from cuore.analytics.models import AbcClass, AnalyticsRun, RfmSegment, RunStatus, ValueTier
from cuore.analytics.templatetags.analytics_tags import CURRENCY, SEGMENT_LABELS, TIER_LABELS
from cuore.core.errors import Forbidden, NotFound
from cuore.core.lists import Column, ListSpec, export_response, list_context, list_page, render_list
from cuore.core.models import Job, JobStatus
from cuore.core.templatetags.cuore import money, number
from cuore.core.visibility import Scope, can_write, read_scope, require_read, require_write

RUN_JOB = "analytics.run"  # the job that scores every customer (cuore/analytics/tasks.py) ...
RUN_JOB_FALLBACK = "analytics.nightly"  # ... or the nightly one, which does the same as of today
RUNS_SHOWN = 30
RUN_CHOICES = 50
MAX_ID = 2**63 - 1
STALE_AFTER = dt.timedelta(minutes=10)
SEGMENT_ORDER = [value for value, _label in RfmSegment.choices]
TIER_ORDER = [value for value, _label in ValueTier.choices]
ABC_LABELS = dict(AbcClass.choices)
STAGE_LABELS = {
    "extract": gettext_lazy("Extract"),
    "rfm": gettext_lazy("RFM and ABC"),
    "lifetime_value": gettext_lazy("Lifetime value"),
    "churn": gettext_lazy("Churn risk"),
    "next_best_offer": gettext_lazy("Next best offers"),
    "assemble": gettext_lazy("Assemble"),
    "reports": gettext_lazy("Reports"),
    "write": gettext_lazy("Write back"),
}


def _positive_id(value: str | None) -> int | None:
    """An id from the query string; anything else is a 404 (never a server error)."""
    if value in (None, ""):
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 19) or not 0 < int(value) <= MAX_ID:
        raise Http404
    return int(value)


def _reads_all(actor: Any) -> bool:
    return read_scope(actor, "analytics") is Scope.ALL


def _require_read(actor: Any) -> None:
    try:
        require_read(actor, "analytics")
    except NotFound:
        raise Http404 from None


# ---- the overview ----------------------------------------------------------------------------------


def _rfm_grid(rows: list[dict[str, Any]], *, link: bool) -> dict[str, Any]:
    """The 5 × 5 table of the R and F scores: R from 5 (top) to 1, F from 1 to 5, with a heat level."""
    cells = {(row["r"], row["f"]): row for row in rows}
    top = max((row["customers"] for row in rows), default=0) or 1
    scores_url = reverse("analytics:scores")
    grid = []
    for r in range(5, 0, -1):
        line = []
        for f in range(1, 6):
            row = cells.get((r, f), {})
            customers = row.get("customers", 0)
            heat = customers / top
            line.append(
                {
                    "r": r,
                    "f": f,
                    "customers": customers,
                    "monetary_avg": row.get("monetary_avg"),
                    # The cell's blue, from 8 % to 85 % opaque with the number of customers.
                    "alpha": f"{0.08 + 0.77 * heat:.2f}" if customers else "0",
                    "dark": heat > 0.55,
                    "url": f"{scores_url}?{urlencode({'r': r, 'f': f})}" if link and customers else None,
                }
            )
        grid.append({"r": r, "cells": line})
    return {"rows": grid, "f_scores": list(range(1, 6))}


def _pareto(points: list[dict[str, Any]]) -> dict[str, Any]:
    """The Pareto curve's chart, and the share of customers that brings 80 % of the margin."""
    eighty = next((p["customers_percent"] for p in points if p["margin_percent"] >= 80), None)
    return {
        "chart": {
            "labels": [p["customers_percent"] for p in points],
            "datasets": [
                {"label": _("Share of the margin"), "data": [p["margin_percent"] for p in points], "kind": "curve"},
                {
                    "label": _("%(percent)s%% of the margin") % {"percent": 80},
                    "data": [80 for _p in points],
                    "kind": "mark",
                },
                {"label": _("Equal shares"), "data": [p["customers_percent"] for p in points], "kind": "diagonal"},
            ],
        },
        "eighty": eighty,
    }


def _clv_chart(distribution: dict[str, Any]) -> dict[str, Any]:
    bins = distribution.get("bins", [])
    # Short labels under the bars (the bins' bounds without cents); the tooltips give the full amounts.
    labels = [f"{number(b['from'])}–{number(b['to'])}" for b in bins]
    ranges = [f"{money(b['from'], CURRENCY)} – {money(b['to'], CURRENCY)}" for b in bins]
    data = [b["customers"] for b in bins]
    if distribution.get("above") and bins:
        labels.append(f"> {number(bins[-1]['to'])}")
        ranges.append(_("over %(amount)s") % {"amount": money(bins[-1]["to"], CURRENCY)})
        data.append(distribution["above"])
    return {
        "labels": labels,
        "ranges": ranges,
        "axis": _("Lifetime value (%(currency)s)") % {"currency": CURRENCY},
        "datasets": [{"label": _("Customers"), "data": data}],
    }


def _segments_over_time(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Customers per segment at each run of the history: one stacked bar per run."""
    runs: dict[int, str] = {}
    counts: dict[tuple[int, str], int] = {}
    for row in rows:
        runs.setdefault(row["run_id"], row["as_of"])
        counts[(row["run_id"], row["name"])] = row["customers"]
    names = [name for name in SEGMENT_ORDER if any(key[1] == name for key in counts)]
    dates = list(runs.values())
    return {
        # A date scored more than once names its run too.
        "labels": [
            _date(as_of) if dates.count(as_of) == 1 else f"{_date(as_of)} (#{run_id})" for run_id, as_of in runs.items()
        ],
        "datasets": [
            {
                "label": str(SEGMENT_LABELS.get(name, name)),
                "segment": name,
                "data": [counts.get((run_id, name), 0) for run_id in runs],
            }
            for name in names
        ],
    }


def _churn_by_tier(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(rows, key=lambda row: TIER_ORDER.index(row["name"]) if row["name"] in TIER_ORDER else 99)
    return {
        "labels": [str(TIER_LABELS.get(row["name"], row["name"])) for row in ordered],
        "datasets": [
            {
                "label": _("Mean churn risk"),
                "data": [
                    round(100 * row["churn_risk"], 1) if row["churn_risk"] is not None else None for row in ordered
                ],
            },
            {
                "label": _("Share at high risk"),
                "data": [
                    round(100 * row["high_risk"] / row["customers"], 1) if row["customers"] else 0 for row in ordered
                ],
            },
        ],
    }


def _table(rows: list[dict[str, Any]], labels: dict[str, Any], order: list[str]) -> dict[str, Any]:
    """A report's rows (segment, class or tier) in their natural order, with their labels and totals."""
    total_customers = sum(row["customers"] for row in rows) or 1
    lines = [
        {
            **row,
            "label": str(labels.get(row["name"], row["name"])),
            "customer_share": row["customers"] / total_customers,
        }
        for row in sorted(rows, key=lambda row: order.index(row["name"]) if row["name"] in order else 99)
    ]
    totals = {key: sum(row[key] or 0 for row in rows) for key in ("customers", "monetary_total", "margin", "clv")}
    return {"rows": lines, "totals": totals}


def _date(value: str | dt.date) -> str:
    day = dt.date.fromisoformat(value) if isinstance(value, str) else value
    return dateformat.format(day, formats.get_format("SHORT_DATE_FORMAT"))


def overview_context(run: AnalyticsRun, reports: dict[str, Any], *, latest: bool) -> dict[str, Any]:
    """What the overview shows of a run's reports (the module docstring of ``reports`` has their shapes)."""
    tiers = _table(reports.get("tiers", []), TIER_LABELS, TIER_ORDER)
    churn_rows = reports.get("churn_by_tier", [])
    high_risk = sum(row["high_risk"] for row in churn_rows)
    pareto = _pareto(reports.get("pareto", []))
    return {
        "grid": _rfm_grid(reports.get("rfm_grid", []), link=latest),
        "pareto": pareto,
        "tiers": tiers,
        "abc": _table(reports.get("abc", []), ABC_LABELS, list(ABC_LABELS)),
        "segments": _table(reports.get("segments", []), SEGMENT_LABELS, SEGMENT_ORDER),
        "churn_by_tier": [
            {**row, "label": str(TIER_LABELS.get(row["name"], row["name"]))}
            for row in sorted(
                churn_rows, key=lambda row: TIER_ORDER.index(row["name"]) if row["name"] in TIER_ORDER else 99
            )
        ],
        "clv_distribution": reports.get("clv_distribution", {}),
        "headline": {
            "customers": tiers["totals"]["customers"],
            "margin": tiers["totals"]["margin"],
            "clv": tiers["totals"]["clv"],
            "high_risk": high_risk,
        },
        "charts": {
            "pareto": pareto["chart"],
            "clv": _clv_chart(reports.get("clv_distribution", {})),
            "segments": _segments_over_time(reports.get("segments_over_time", [])),
            "churn": _churn_by_tier(churn_rows),
        },
    }


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    """The reports of the latest successful run (or of ``?run=``) as charts and tables."""
    actor = request.user
    run_id = _positive_id(request.GET.get("run"))
    try:
        run, reports = selectors.analytics_reports(actor=actor, run_id=run_id)
    except NotFound:
        raise Http404 from None
    last = selectors.analytics_run_last()
    context: dict[str, Any] = {
        "run": run,
        "latest": run is not None and last is not None and run.pk == last.pk,
        "can_run": can_write(actor, "analytics"),
        "pending": _pending_job(),
        "currency": CURRENCY,
        "runs": list(
            selectors.analytics_run_list(actor=actor)
            .filter(status=RunStatus.SUCCEEDED)
            .only("id", "as_of", "started_at")[:RUN_CHOICES]
        ),
    }
    if run is not None and reports:
        context.update(overview_context(run, reports, latest=context["latest"]))
    return render(request, "analytics/overview.html", context)


# ---- the scores list -------------------------------------------------------------------------------


def _score_export(name: str, labels: dict[str, Any]):
    return lambda score: str(labels.get(getattr(score, name), getattr(score, name)))


SCORES = ListSpec(
    name="analytics_scores",
    columns=(
        Column(
            "contact",
            gettext_lazy("Contact"),
            sort="contact",
            template="analytics/_cell_contact.html",
            export=lambda score: score.contact.full_name,
        ),
        Column(
            "rfm_segment",
            gettext_lazy("Segment"),
            template="analytics/_cell_segment.html",
            export=_score_export("rfm_segment", SEGMENT_LABELS),
        ),
        Column(
            "rfm",
            gettext_lazy("R F M"),
            template="analytics/_cell_rfm.html",
            export=lambda score: f"{score.r_score}{score.f_score}{score.m_score}",
        ),
        Column("abc_class", gettext_lazy("Class")),
        Column(
            "value_tier",
            gettext_lazy("Tier"),
            template="analytics/_cell_tier.html",
            export=_score_export("value_tier", TIER_LABELS),
        ),
        Column("frequency", gettext_lazy("Orders"), sort="-frequency", template="analytics/_cell_number.html"),
        Column(
            "recency_days",
            gettext_lazy("Days since last order"),
            sort="recency",
            template="analytics/_cell_number.html",
        ),
        Column("monetary_total", gettext_lazy("Spent"), sort="-spent", template="analytics/_cell_money.html"),
        Column("margin", gettext_lazy("Margin"), sort="-margin", template="analytics/_cell_money.html"),
        Column("clv", gettext_lazy("CLV"), sort="-clv", template="analytics/_cell_money.html"),
        Column("p_alive", gettext_lazy("P(alive)"), template="analytics/_cell_percent.html", default=False),
        Column("churn_risk", gettext_lazy("Churn risk"), sort="-churn", template="analytics/_cell_churn.html"),
        Column(
            "expected_purchases",
            gettext_lazy("Expected purchases"),
            default=False,
            template="analytics/_cell_decimal.html",
        ),
        Column("preferred_category__name", gettext_lazy("Preferred category"), default=False),
        Column(
            "tenure_days", gettext_lazy("Days since first order"), default=False, template="analytics/_cell_number.html"
        ),
    ),
    orderings={
        "contact": ("contact_id",),
        "-contact": ("-contact_id",),
        "-frequency": ("-frequency", "-contact_id"),
        "frequency": ("frequency", "contact_id"),
        "recency": ("recency_days", "contact_id"),
        "-recency": ("-recency_days", "-contact_id"),
        "-spent": ("-monetary_total", "-contact_id"),
        "spent": ("monetary_total", "contact_id"),
        "-margin": ("-margin", "-contact_id"),
        "margin": ("margin", "contact_id"),
        # CLV and churn risk may be empty (a run too small to fit the models): those rows are left
        # out of these two orderings, as keyset pages need a value to start from.
        "-clv": ("-clv", "-contact_id"),
        "clv": ("clv", "contact_id"),
        "-churn": ("-churn_risk", "-contact_id"),
        "churn": ("churn_risk", "contact_id"),
    },
    default_ordering="-spent",
)
NULLABLE_ORDERINGS = {"-clv": "clv", "clv": "clv", "-churn": "churn_risk", "churn": "churn_risk"}


@login_required
@require_GET
def scores(request: HttpRequest) -> HttpResponse:
    """The current scores of the contacts the user may see: filters, sorting, more rows, CSV."""
    actor = request.user
    _require_read(actor)
    form = ScoreFilterForm(request.GET or None)
    form.is_valid()  # a filter in error is shown beside its field; the others still apply
    filters = getattr(form, "cleaned_data", {})
    risk = filters.get("min_churn_risk")
    rows = selectors.contact_score_list(
        actor=actor,
        segment=filters.get("segment") or None,
        abc_class=filters.get("abc_class") or None,
        value_tier=filters.get("value_tier") or None,
        min_churn_risk=risk / 100 if risk is not None else None,
    ).select_related("contact")
    if filters.get("r"):
        rows = rows.filter(r_score=filters["r"])
    if filters.get("f"):
        rows = rows.filter(f_score=filters["f"])
    nullable = NULLABLE_ORDERINGS.get(SCORES.ordering_key(request.GET))
    if nullable:
        rows = rows.exclude(**{f"{nullable}__isnull": True})
    if request.GET.get("export") == "csv":
        return export_response(SCORES, rows, request.GET, filename="scores.csv")
    page = list_page(request, SCORES, rows)
    context = {
        "form": form,
        "title": _("Customer scores"),
        "currency": CURRENCY,
        "last_run": selectors.analytics_run_last(),
        "reads_all": _reads_all(actor),
        "table_testid": "scores-table",
        **list_context(request, page),
    }
    return render_list(request, "analytics/scores.html", context)


# ---- the runs ----------------------------------------------------------------------------------------


def _pending_job() -> Job | None:
    """The queued or running scoring job, if there is one (view-only: what "Run now" shows)."""
    return (
        Job.objects.filter(name__in=[RUN_JOB, RUN_JOB_FALLBACK], status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .order_by("id")
        .first()
    )


def _run_line(run: AnalyticsRun) -> dict[str, Any]:
    figures = run.figures or {}
    stages = [
        {**stage, "label": str(STAGE_LABELS.get(stage.get("stage"), stage.get("stage")))}
        for stage in figures.get("stages", [])
    ]
    seconds = figures.get("seconds")
    if seconds is None and run.finished_at:
        seconds = (run.finished_at - run.started_at).total_seconds()
    churn = figures.get("churn") or {}
    return {
        "run": run,
        "seconds": seconds,
        "stages": stages,
        "peak_mb": max((stage.get("peak_rss_mb") or 0 for stage in stages), default=None),
        "churn": churn,
        "lifetime_value": [_fit(kind, fit) for kind, fit in (figures.get("lifetime_value") or {}).items()],
        "scored": figures.get("scored") or {},
    }


FIT_DETAILS = ("log_likelihood", "n_customers")  # shown apart from the parameters


def _fit(kind: str, fit: dict[str, Any]) -> dict[str, Any]:
    """A population's lifetime-value fit: its parameters by model, or why there is none."""
    models = []
    for key, label in (("bgnbd", "BG/NBD"), ("gamma_gamma", "Gamma-Gamma")):
        values = fit.get(key) or {}
        if values:
            models.append(
                {
                    "label": label,
                    "parameters": [(name, value) for name, value in values.items() if name not in FIT_DETAILS],
                    "customers": values.get("n_customers"),
                    "log_likelihood": values.get("log_likelihood"),
                }
            )
    return {"kind": kind, "skipped": fit.get("skipped", ""), "models": models}


@login_required
@require_GET
def runs(request: HttpRequest) -> HttpResponse:
    """Every run, newest first: how it went, how long each stage took, and how good its models are."""
    actor = request.user
    try:
        listed = list(selectors.analytics_run_list(actor=actor).defer("reports")[:RUNS_SHOWN])
    except NotFound:
        raise Http404 from None
    pending = _pending_job()
    return render(
        request,
        "analytics/runs.html",
        {
            "lines": [_run_line(run) for run in listed],
            "can_run": can_write(actor, "analytics"),
            "pending": pending,
            # Queued for long: no worker is running (a plain ``cuore serve`` runs none).
            "pending_stale": pending is not None
            and pending.status == JobStatus.QUEUED
            and pending.run_after < timezone.now() - STALE_AFTER,
            "reads_all": _reads_all(actor),
        },
    )


@login_required
@require_POST
def run_start(request: HttpRequest) -> HttpResponse:
    """Queue a scoring run for the background worker ("Run now"); one at a time."""
    actor = request.user
    try:
        require_write(actor, "analytics")
    except NotFound:
        raise Http404 from None
    except Forbidden:
        return HttpResponseForbidden(_("Your role may not start analytics runs."))
    pending = _pending_job()
    if pending is not None:
        messages.info(request, _("A run is already queued: it starts as soon as the worker is free."))
    else:
        from cuore.core import jobs

        handlers = jobs.registered_jobs()
        name = RUN_JOB if RUN_JOB in handlers else RUN_JOB_FALLBACK if RUN_JOB_FALLBACK in handlers else None
        if name is None:
            messages.error(request, _("Runs cannot be queued here: start one with “cuore analytics run”."))
        else:
            jobs.enqueue(name, {}, max_attempts=1)
            messages.success(
                request,
                _("The run is queued: a background worker runs it in a few minutes. Reload this page to see it."),
            )
    return HttpResponseRedirect(reverse("analytics:runs"))
