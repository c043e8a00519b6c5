"""Run the analytics engine and write its current scores back to the operational database."""

from __future__ import annotations

import datetime as dt
import time

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from cuore.analytics import alerts, pipeline, reports, segments, warehouse
from cuore.analytics.meter import StageMeter
from cuore.analytics.models import AccountScore, AnalyticsRun, ContactScore, RunStatus
from cuore.core.errors import Conflict, ValidationFailed

WRITE_BATCH = 2_000
JSON_COLUMNS = {"churn_reasons", "next_best_offers"}


def _insert_sql(model, key: str) -> str:
    columns = [f"{key}_id", *pipeline.SCORE_COLUMNS[1:], "run_id"]
    names = ", ".join(connection.ops.quote_name(model._meta.get_field(column).column) for column in columns)
    json_placeholder = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    values = ", ".join(json_placeholder if column in JSON_COLUMNS else "%s" for column in columns)
    return f"INSERT INTO {model._meta.db_table} ({names}) VALUES ({values})"


def _scores_write_back(con, *, run: AnalyticsRun) -> None:
    """Replace the current contact and account scores with this run's, in one transaction."""
    # A prepared INSERT run over each batch (executemany): the same rows bulk_create would write,
    # without building a model object per customer (10 s instead of 36 s for 660 000 scores).
    with transaction.atomic(), connection.cursor() as cursor:
        for model, key in ((ContactScore, "contact"), (AccountScore, "account")):
            model.objects.all().delete()
            sql = _insert_sql(model, key)
            for rows in pipeline.scores_read(con, kind=key, batch_rows=WRITE_BATCH):
                cursor.executemany(sql, [(*row, run.pk) for row in rows])


def _validate(abc_cuts: tuple[int, int], horizon_months: int, monthly_discount_rate: float, churn_days: int) -> None:
    abc_a, abc_b = abc_cuts
    if not (abc_a > 0 and abc_b >= 0 and abc_a + abc_b <= 100):
        raise ValidationFailed(field="abc_cuts", reason="A > 0, B ≥ 0 and A + B ≤ 100 (percent of the margin)")
    if not 1 <= horizon_months <= 120:
        raise ValidationFailed(field="horizon_months", reason="from 1 to 120 months")
    if not 0 <= monthly_discount_rate < 1:
        raise ValidationFailed(field="monthly_discount_rate", reason="from 0 (no discount) to below 1 per month")
    if not 7 <= churn_days <= 730:
        raise ValidationFailed(field="churn_days", reason="from 7 to 730 days")


def analytics_run(
    *,
    as_of: dt.date | None = None,
    abc_cuts: tuple[int, int] = (80, 15),
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    churn_days: int = 90,
) -> AnalyticsRun:
    """Score every customer as of ``as_of`` (today, UTC, by default).

    RFM, segment, preferred category, ABC, lifetime value, value tier, churn risk and next best
    offers (``pipeline``). The scores go to the warehouse history and replace the current
    ContactScore / AccountScore rows in one transaction, so a failed run leaves the last good scores
    in place; the run is then marked failed and the error raised again. Segments and alerts are
    evaluated on the new scores once they are in place.
    """
    _validate(abc_cuts, horizon_months, monthly_discount_rate, churn_days)
    params = pipeline.Parameters(
        as_of=as_of or timezone.now().date(),
        abc_a=abc_cuts[0],
        abc_b=abc_cuts[1],
        horizon_months=horizon_months,
        monthly_discount_rate=monthly_discount_rate,
        churn_days=churn_days,
    )
    # Holding the warehouse open for writing is what makes a run the only one: any other run still
    # marked running was interrupted (its process died) and is recorded as such.
    try:
        con = warehouse.warehouse_connect()
    except warehouse.WarehouseBusy as busy:
        raise Conflict(str(busy)) from None
    AnalyticsRun.objects.filter(status=RunStatus.RUNNING).update(
        status=RunStatus.FAILED, finished_at=timezone.now(), error="interrupted: the run stopped before it finished"
    )
    run = AnalyticsRun.objects.create(started_at=timezone.now(), as_of=params.as_of, parameters=params.as_json())
    started = time.monotonic()
    meter = StageMeter()
    figures: dict = {"stages": meter.stages}
    try:
        try:
            with meter.stage("extract"):
                figures["extracted"] = warehouse.warehouse_extract(con, as_of=params.as_of)
            figures.update(pipeline.pipeline_run(pipeline.DuckDBRunner(con), params, measure=meter.stage))
            figures["scored"] = figures.pop("assemble")["scored"]
            figures["contacts"] = pipeline.scores_summary(con, kind="contact")
            figures["accounts"] = pipeline.scores_summary(con, kind="account")
            # The history and the current scores change together: the warehouse transaction commits
            # only once the operational one has. The reports read the history, this run's included.
            con.execute("BEGIN TRANSACTION")
            try:
                with meter.stage("reports"):
                    pipeline.history_append(con, run_id=run.pk, as_of=params.as_of)
                    figures["segments"] = segments.segments_record(con, run)
                    run.reports = reports.reports_compute(con)
                with meter.stage("write"):
                    _scores_write_back(con, run=run)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            figures["alerts"] = alerts.alerts_evaluate(con, run)  # never raises: the scores stand
        finally:
            con.close()
    except BaseException as error:
        figures["seconds"] = round(time.monotonic() - started, 3)
        AnalyticsRun.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED,
            finished_at=timezone.now(),
            figures=figures,
            error=f"{type(error).__name__}: {error}",
        )
        raise
    figures["seconds"] = round(time.monotonic() - started, 3)
    run.status = RunStatus.SUCCEEDED
    run.finished_at = timezone.now()
    run.figures = figures
    run.save(update_fields=["status", "finished_at", "figures", "reports"])
    return run


@transaction.atomic
def analytics_reset() -> None:
    """Forget every run, score and the warehouse (for ``cuore demo --reset``, which replaces the data).

    Rows tied to a run (scores, segment snapshots, alerts) go; definitions (segments, alert rules)
    stay, with any nullable link to a run cleared.
    """
    for model in apps.get_app_config("analytics").get_models():
        for field in model._meta.get_fields():
            if field.many_to_one and field.related_model is AnalyticsRun:
                if field.null:
                    model._default_manager.exclude(**{field.name: None}).update(**{field.name: None})
                else:
                    model._default_manager.all().delete()
    AnalyticsRun.objects.all().delete()
    warehouse.warehouse_path().unlink(missing_ok=True)
