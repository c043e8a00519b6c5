"""Alerts: rules checked after every run that give a customer's owner a task, with the reason in numbers.

The rules (``AlertRule``; two are created with the app, both for class A):

- ``p_alive_below``: the customer's P(alive) at this run is below ``threshold`` (default 0.5).
- ``expected_purchases_drop``: the customer's expected purchases over the horizon are at most
  ``threshold`` × those of the previous successful run, which were above zero (default 0.5: halved).

Only customers whose ABC class at this run is one of the rule's ``abc_classes`` match. Both compare
the run's scores with those of the previous successful run, read from the warehouse history, so
only the matching customers (a few thousand of a million) are ever read into Python.

For each match an ``Alert`` is recorded (one per rule, contact and run) with the figures of the
reason, and a to-do for the contact's owner, due in ``TASK_DUE_DAYS`` days, whose subject and notes
give the reason in the owner's language ("P(alive) fell from 0.82 to 0.41"). No second task is
created while the task of an earlier alert of the same rule on the same contact is still open (the
alert then points to that task, outcome ``task_open``). A contact without an owner, or whose owner
is inactive or may not have tasks, gets no task (outcome ``no_owner``, counted in the run's figures):
giving it to someone else would land it on a desk that does not know the customer; the alerts list
shows these for a manager to assign.

The tasks are written through ``sales.services.activity_create`` on the audit channel ``job``, with
the owner as the acting user (the service requires one: the owner gives themself the task).
``alerts_evaluate`` never raises: the run's scores stand whatever happens here; a failure is
recorded in the run's figures under ``alerts``.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import duckdb
from django.db import transaction
from django.db.models import QuerySet
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from cuore.analytics.models import (
    AbcClass,
    Alert,
    AlertKind,
    AlertOutcome,
    AlertRule,
    AnalyticsRun,
    RunStatus,
)
from cuore.contacts.models import Contact
from cuore.core.audit import apply_changes, audit_channel, audit_record
from cuore.core.errors import NotFound, ValidationFailed
from cuore.core.visibility import can_write, require_read, require_write, scope_queryset
from cuore.sales.models import ActivityKind
from cuore.sales.services import activity_create

logger = logging.getLogger(__name__)

TASK_DUE_DAYS = 3
BATCH = 500
RULE_NAME_MAX = 100
# The rules of a new installation (also created by the migration 0003): (name, kind, threshold), class A.
DEFAULT_RULES = [
    ("Class A: P(alive) below 0.5", AlertKind.P_ALIVE_BELOW, 0.5),
    ("Class A: expected purchases halved", AlertKind.EXPECTED_PURCHASES_DROP, 0.5),
]


def alert_rules_ensure() -> list[AlertRule]:
    """Every rule, by id; the default ones created first when there are none (``cuore demo --reset`` empties it).

    Rules are never deleted otherwise (they are switched off), so an empty table means a reset.
    """
    rules = list(AlertRule.objects.order_by("id"))
    if not rules:
        rules = AlertRule.objects.bulk_create(
            AlertRule(name=name, kind=kind, threshold=threshold, abc_classes=["A"], active=True)
            for name, kind, threshold in DEFAULT_RULES
        )
    return rules


# ---- evaluation after a run ------------------------------------------------------------------------


def _previous_run(run: AnalyticsRun) -> AnalyticsRun | None:
    return (
        AnalyticsRun.objects.filter(status=RunStatus.SUCCEEDED, started_at__lte=run.started_at)
        .exclude(pk=run.pk)
        .order_by("-started_at", "-id")
        .first()
    )


def _matches(con: duckdb.DuckDBPyConnection, rule: AlertRule, run: AnalyticsRun, previous: AnalyticsRun | None):
    """The customers matching ``rule`` at ``run``: (contact_id, abc_class, now, before), by contact id."""
    classes = [value for value in rule.abc_classes if value in AbcClass.values]
    if not classes:
        return []
    column = "p_alive" if rule.kind == AlertKind.P_ALIVE_BELOW else "expected_purchases"
    if rule.kind == AlertKind.P_ALIVE_BELOW:
        condition = "cur.p_alive < ?"
    else:
        if previous is None:
            return []
        condition = "prev.expected_purchases > 0 AND cur.expected_purchases <= ? * prev.expected_purchases"
    join = "JOIN" if rule.kind == AlertKind.EXPECTED_PURCHASES_DROP else "LEFT JOIN"
    sql = (
        f"SELECT cur.contact_id, cur.abc_class, cur.{column}, prev.{column} FROM score_history cur "
        f"{join} score_history prev ON prev.run_id = ? AND prev.contact_id = cur.contact_id "
        f"WHERE cur.run_id = ? AND cur.abc_class IN ({', '.join('?' * len(classes))}) AND {condition} "
        "ORDER BY cur.contact_id"
    )
    params = [previous.pk if previous is not None else -1, run.pk, *classes, rule.threshold]
    return con.execute(sql, params).fetchall()


def _reason(rule: AlertRule, run: AnalyticsRun, previous: AnalyticsRun | None, row: tuple) -> dict[str, Any]:
    _contact_id, abc_class, now, before = row
    reason: dict[str, Any] = {
        "kind": rule.kind,
        "abc_class": abc_class,
        "threshold": rule.threshold,
        "previous_run": previous.pk if previous is not None and before is not None else None,
    }
    if rule.kind == AlertKind.P_ALIVE_BELOW:
        reason.update(p_alive=round(now, 4), previous_p_alive=None if before is None else round(before, 4))
    else:
        reason.update(
            expected_purchases=round(now, 4),
            previous_expected_purchases=round(before, 4),
            horizon_months=run.parameters.get("horizon_months", 12),
        )
    return reason


def _number(value: float, digits: int) -> str:
    return formats.number_format(value, decimal_pos=digits, use_l10n=True)


def reason_text(reason: dict[str, Any]) -> str:
    """An alert's reason in words and numbers, in the active language."""
    try:
        return _reason_text(reason)
    except (KeyError, TypeError, ValueError):  # a reason stored by an older version, or by hand
        return _("Unknown reason")


def _reason_text(reason: dict[str, Any]) -> str:
    if reason.get("kind") == AlertKind.P_ALIVE_BELOW:
        now, before = reason["p_alive"], reason.get("previous_p_alive")
        if before is not None and before > now:
            return _("P(alive) fell from %(before)s to %(now)s") % {
                "before": _number(before, 2),
                "now": _number(now, 2),
            }
        return _("P(alive) is %(now)s, below %(threshold)s") % {
            "now": _number(now, 2),
            "threshold": _number(reason["threshold"], 2),
        }
    if reason.get("kind") == AlertKind.EXPECTED_PURCHASES_DROP:
        values = {
            "months": reason.get("horizon_months", 12),
            "before": _number(reason["previous_expected_purchases"], 1),
            "now": _number(reason["expected_purchases"], 1),
        }
        if reason["expected_purchases"] <= 0.5 * reason["previous_expected_purchases"]:
            return _("Expected purchases in %(months)s months halved: %(before)s → %(now)s") % values
        return _("Expected purchases in %(months)s months dropped: %(before)s → %(now)s") % values
    return _("Unknown reason")


def _task_texts(rule: AlertRule, run: AnalyticsRun, contact: Contact, reason: dict[str, Any]) -> tuple[str, str]:
    name = f"{contact.first_name} {contact.last_name}".strip()
    why = reason_text(reason)
    subject = _("Customer at risk: %(name)s. %(reason)s") % {"name": name, "reason": why}
    notes = _(
        "%(reason)s (class %(abc_class)s, analytics run of %(as_of)s). Alert rule: %(rule)s. "
        "Get in touch to understand why and what would bring them back."
    ) % {
        "reason": why,
        "abc_class": reason["abc_class"],
        "as_of": formats.date_format(run.as_of, "SHORT_DATE_FORMAT"),
        "rule": rule.name,
    }
    return subject[:200], notes


def _assignable(owner: Any) -> bool:
    return owner is not None and owner.is_active and can_write(owner, "activities")


def _rule_evaluate(
    con: duckdb.DuckDBPyConnection, rule: AlertRule, run: AnalyticsRun, previous: AnalyticsRun | None
) -> dict[str, int]:
    counts = {"matched": 0, AlertOutcome.TASK_CREATED: 0, AlertOutcome.TASK_OPEN: 0, AlertOutcome.NO_OWNER: 0}
    rows = _matches(con, rule, run, previous)
    counts["matched"] = len(rows)
    due = timezone.now() + dt.timedelta(days=TASK_DUE_DAYS)
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        ids = [row[0] for row in batch]
        with transaction.atomic():
            done_before = set(
                Alert.objects.filter(rule=rule, run=run, contact_id__in=ids).values_list("contact_id", flat=True)
            )
            open_tasks = dict(
                Alert.objects.filter(rule=rule, contact_id__in=ids, task__isnull=False, task__done=False)
                .order_by("contact_id", "-id")
                .values_list("contact_id", "task_id")
            )
            contacts = Contact.objects.select_related("owner", "owner__team").in_bulk(ids)
            alerts = []
            for row in batch:
                contact = contacts.get(row[0])
                if contact is None or row[0] in done_before:  # deleted since the extraction, or already done
                    continue
                reason = _reason(rule, run, previous, row)
                task_id = open_tasks.get(contact.pk)
                if task_id is not None:
                    outcome = AlertOutcome.TASK_OPEN
                elif contact.owner is not None and _assignable(contact.owner):
                    owner = contact.owner
                    with translation.override(owner.language or "en"):
                        subject, notes = _task_texts(rule, run, contact, reason)
                    task = activity_create(
                        actor=owner,
                        assignee=owner,
                        kind=ActivityKind.TODO,
                        subject=subject,
                        notes=notes,
                        due_at=due,
                        contact=contact,
                    )
                    task_id, outcome = task.pk, AlertOutcome.TASK_CREATED
                else:
                    outcome = AlertOutcome.NO_OWNER
                counts[outcome] += 1
                alerts.append(
                    Alert(rule=rule, contact_id=contact.pk, run=run, reason=reason, outcome=outcome, task_id=task_id)
                )
            Alert.objects.bulk_create(alerts)
    return {str(key): value for key, value in counts.items()}


def alerts_evaluate(con: duckdb.DuckDBPyConnection, run: AnalyticsRun) -> dict[str, Any]:
    """Check every active rule on ``run``'s scores (already in the warehouse history); return the figures.

    Never raises: a failure is returned as ``{"error": ...}`` for the run's figures, and the alerts
    of the rules done before it stay.
    """
    figures: dict[str, Any] = {"previous_run": None, "rules": {}}
    try:
        rules = [rule for rule in alert_rules_ensure() if rule.active]
        previous = _previous_run(run) if rules else None
        figures["previous_run"] = previous.pk if previous is not None else None
        with audit_channel("job"):
            for rule in rules:
                figures["rules"][str(rule.pk)] = _rule_evaluate(con, rule, run, previous)
    except Exception as error:  # the run's scores stand; the failure is reported, not raised
        logger.exception("alerts of analytics run %s failed", run.pk)
        figures["error"] = f"{type(error).__name__}: {error}"
    return figures


# ---- rules and alerts: reads and writes ------------------------------------------------------------


def alert_rule_list(*, actor: Any) -> QuerySet[AlertRule]:
    """Every alert rule, by id."""
    require_read(actor, "alert_rules")
    return AlertRule.objects.order_by("id")


def alert_rule_get_for_actor(*, actor: Any, rule_id: int) -> AlertRule:
    rule = alert_rule_list(actor=actor).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("alert rule")
    return rule


def _clean_rule(rule: AlertRule, data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    unknown = set(data) - {"name", "threshold", "abc_classes", "active"}
    errors.update({name: "cannot be changed" for name in sorted(unknown)})
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip() or "\x00" in name or len(name.strip()) > RULE_NAME_MAX:
            errors["name"] = f"is required, at most {RULE_NAME_MAX} characters"
        elif AlertRule.objects.filter(name__iexact=name.strip()).exclude(pk=rule.pk).exists():
            errors["name"] = "is already the name of another rule"
        else:
            cleaned["name"] = name.strip()
    if "threshold" in data:
        threshold = data["threshold"]
        upper_open = rule.kind == AlertKind.EXPECTED_PURCHASES_DROP
        valid = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
        if not valid or not (0 < threshold < 1 if upper_open else 0 < threshold <= 1):
            errors["threshold"] = (
                "must be above 0 and below 1 (the share of the previous expected purchases)"
                if upper_open
                else "must be above 0 and at most 1"
            )
        else:
            cleaned["threshold"] = float(threshold)
    if "abc_classes" in data:
        classes = data["abc_classes"]
        if not isinstance(classes, list) or not classes or any(value not in AbcClass.values for value in classes):
            errors["abc_classes"] = "must be a list of one or more of A, B, C"
        else:
            cleaned["abc_classes"] = sorted(set(classes))
    if "active" in data:
        if not isinstance(data["active"], bool):
            errors["active"] = "must be true or false"
        else:
            cleaned["active"] = data["active"]
    if errors:
        raise ValidationFailed(errors)
    return cleaned


@transaction.atomic
def alert_rule_update(*, actor: Any, rule: AlertRule, data: dict[str, Any]) -> AlertRule:
    """Change a rule's name, threshold, ABC classes or whether it is active (from the next run on)."""
    require_write(actor, "alert_rules")
    cleaned = _clean_rule(rule, dict(data))
    locked = AlertRule.objects.select_for_update().get(pk=rule.pk)
    changes = apply_changes(locked, cleaned)
    if changes:
        locked.save()
        audit_record(actor=actor, action="alert_rule.update", instance=locked, changes=changes)
    return locked


def alert_list(
    *, actor: Any, rule_id: int | None = None, run_id: int | None = None, contact_id: int | None = None
) -> QuerySet[Alert]:
    """The alerts on contacts ``actor`` may see, filtered (order them by ``-id``)."""
    require_read(actor, "alerts")
    alerts = scope_queryset(
        Alert.objects.select_related("rule", "contact", "task", "run"),
        actor=actor,
        resource="alerts",
        owner_paths=("contact__owner",),
        team_paths=("contact__team",),
    )
    if rule_id is not None:
        alerts = alerts.filter(rule_id=rule_id)
    if run_id is not None:
        alerts = alerts.filter(run_id=run_id)
    if contact_id is not None:
        alerts = alerts.filter(contact_id=contact_id)
    return alerts
