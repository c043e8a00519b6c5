"""Alerts: the rules after a run, the tasks they give the owners (once), their reasons, and failures."""

from __future__ import annotations

import datetime as dt
import itertools

import duckdb
import pytest
from django.utils import timezone

from cuore.analytics import alerts, warehouse
from cuore.analytics.models import Alert, AlertKind, AlertOutcome, AlertRule, AnalyticsRun, RunStatus
from cuore.analytics.services import analytics_run
from cuore.analytics.tests.test_engine import AS_OF, _order, shop  # noqa: F401  (the shop fixture)
from cuore.contacts.tests.factories import make_contact
from cuore.core.errors import Forbidden, ValidationFailed
from cuore.core.models import AuditEntry
from cuore.orders.tests.factories import make_category, make_product
from cuore.sales.models import Activity
from cuore.sales.services import activity_complete

pytestmark = pytest.mark.django_db
_clock = itertools.count(1)


@pytest.fixture(autouse=True)
def _warehouse_in_tmp(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def _run(status=RunStatus.SUCCEEDED, as_of=dt.date(2025, 6, 30)) -> AnalyticsRun:
    started = timezone.now() + dt.timedelta(minutes=next(_clock))
    return AnalyticsRun.objects.create(
        started_at=started, as_of=as_of, status=status, parameters={"horizon_months": 12}
    )


def _history(con, run: AnalyticsRun, rows: list[tuple]) -> None:
    """Rows of (contact, ABC class, expected purchases, P(alive)) for ``run``."""
    for contact, abc_class, expected, alive in rows:
        con.execute(
            "INSERT INTO score_history (run_id, as_of, contact_id, abc_class, expected_purchases, p_alive) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [run.pk, run.as_of, contact.pk, abc_class, expected, alive],
        )


@pytest.fixture
def rules():
    """The two rules the migration creates."""
    by_kind = {rule.kind: rule for rule in AlertRule.objects.all()}
    assert set(by_kind) == {AlertKind.P_ALIVE_BELOW, AlertKind.EXPECTED_PURCHASES_DROP}
    return by_kind


@pytest.fixture
def world(make_user, team, rules):
    """Customers of class A (and one B) with the figures of two runs.

    ========  =====  ===========  ============  ===========================================
    who       class  P(alive)     expected      owner
    ========  =====  ===========  ============  ===========================================
    falling   A      0.82 → 0.41  4.2 → 1.9     rep (English)
    steady    A      0.90 → 0.60  3.0 → 2.0     rep
    low       A      0.30 → 0.45  2.0 → 1.0     nobody
    b_class   B      0.90 → 0.20  4.0 → 0.5     rep
    newcomer  A      –    → 0.30  –    → 1.0    Italian rep
    zero      A      0.80 → 0.70  0.0 → 0.0     rep
    gone_rep  A      0.90 → 0.10  1.0 → 0.9     an inactive user
    ========  =====  ===========  ============  ===========================================
    """
    rep = make_user(role="sales", team=team, username="rep")
    italian = make_user(role="sales", team=team, username="italo")
    italian.language = "it"
    italian.save()
    inactive = make_user(role="sales", team=team, username="left")
    inactive.is_active = False
    inactive.save()
    people = {
        "falling": make_contact(first_name="Falling", last_name="Star", owner=rep),
        "steady": make_contact(first_name="Steady", owner=rep),
        "low": make_contact(first_name="Low"),
        "b_class": make_contact(first_name="Bee", owner=rep),
        "newcomer": make_contact(first_name="Nuovo", last_name="Cliente", owner=italian),
        "zero": make_contact(first_name="Zero", owner=rep),
        "gone_rep": make_contact(first_name="Orphan", owner=inactive),
    }
    con = duckdb.connect()
    warehouse.history_tables_ensure(con)
    previous, current = _run(), _run(status=RunStatus.RUNNING, as_of=dt.date(2025, 7, 31))
    p = people
    _history(
        con,
        previous,
        [
            (p["falling"], "A", 4.2, 0.82),
            (p["steady"], "A", 3.0, 0.90),
            (p["low"], "A", 2.0, 0.30),
            (p["b_class"], "A", 4.0, 0.90),
            (p["zero"], "A", 0.0, 0.80),
            (p["gone_rep"], "A", 1.0, 0.90),
        ],
    )
    _history(
        con,
        current,
        [
            (p["falling"], "A", 1.9, 0.41),
            (p["steady"], "A", 2.0, 0.60),
            (p["low"], "A", 1.0, 0.45),
            (p["b_class"], "B", 0.5, 0.20),
            (p["newcomer"], "A", 1.0, 0.30),
            (p["zero"], "A", 0.0, 0.70),
            (p["gone_rep"], "A", 0.9, 0.10),
        ],
    )
    yield {"con": con, "people": people, "rep": rep, "italian": italian, "previous": previous, "run": current}
    con.close()


def _alerts(run) -> dict[tuple[str, str], tuple[str, int | None]]:
    return {
        (alert.contact.first_name, alert.rule.kind): (alert.outcome, alert.task_id)
        for alert in Alert.objects.filter(run=run).select_related("contact", "rule")
    }


def test_the_rules_create_a_task_for_the_owner_of_each_matching_customer(world, rules):
    con, people, run, rep = world["con"], world["people"], world["run"], world["rep"]

    figures = alerts.alerts_evaluate(con, run)

    p_alive, drop = rules[AlertKind.P_ALIVE_BELOW], rules[AlertKind.EXPECTED_PURCHASES_DROP]
    assert figures == {
        "previous_run": world["previous"].pk,
        "rules": {
            str(p_alive.pk): {"matched": 4, "task_created": 2, "task_open": 0, "no_owner": 2},
            str(drop.pk): {"matched": 2, "task_created": 1, "task_open": 0, "no_owner": 1},
        },
    }
    found = _alerts(run)
    assert {key: outcome for key, (outcome, _task) in found.items()} == {
        ("Falling", AlertKind.P_ALIVE_BELOW): AlertOutcome.TASK_CREATED,
        ("Falling", AlertKind.EXPECTED_PURCHASES_DROP): AlertOutcome.TASK_CREATED,
        ("Low", AlertKind.P_ALIVE_BELOW): AlertOutcome.NO_OWNER,
        ("Low", AlertKind.EXPECTED_PURCHASES_DROP): AlertOutcome.NO_OWNER,  # exactly half: at most half
        ("Nuovo", AlertKind.P_ALIVE_BELOW): AlertOutcome.TASK_CREATED,
        ("Orphan", AlertKind.P_ALIVE_BELOW): AlertOutcome.NO_OWNER,  # the owner is inactive
    }
    tasks = {
        (task.contact.first_name, task.subject): (task.assignee.username, task.kind, task.done)
        for task in Activity.objects.select_related("contact", "assignee")
    }
    assert tasks == {
        ("Falling", "Customer at risk: Falling Star. P(alive) fell from 0.82 to 0.41"): ("rep", "todo", False),
        ("Falling", "Customer at risk: Falling Star. Expected purchases in 12 months halved: 4.2 → 1.9"): (
            "rep",
            "todo",
            False,
        ),
        ("Nuovo", "Cliente a rischio: Nuovo Cliente. P(alive) è 0,30, sotto 0,50"): ("italo", "todo", False),
    }
    task = Activity.objects.get(pk=found[("Falling", AlertKind.P_ALIVE_BELOW)][1])
    assert task.team == rep.team and task.contact == people["falling"]
    assert timezone.now() + dt.timedelta(days=2) < task.due_at <= timezone.now() + dt.timedelta(days=3)
    assert task.notes.startswith("P(alive) fell from 0.82 to 0.41 (class A, analytics run of ")
    assert "Alert rule: Class A: P(alive) below 0.5." in task.notes
    assert set(AuditEntry.objects.filter(action="activity.create").values_list("channel", flat=True)) == {"job"}

    alert = Alert.objects.get(contact=people["falling"], rule=p_alive)
    assert alert.reason == {
        "kind": "p_alive_below",
        "abc_class": "A",
        "threshold": 0.5,
        "previous_run": world["previous"].pk,
        "p_alive": 0.41,
        "previous_p_alive": 0.82,
    }
    assert Alert.objects.get(contact=people["falling"], rule=drop).reason == {
        "kind": "expected_purchases_drop",
        "abc_class": "A",
        "threshold": 0.5,
        "previous_run": world["previous"].pk,
        "expected_purchases": 1.9,
        "previous_expected_purchases": 4.2,
        "horizon_months": 12,
    }
    assert alerts.reason_text(Alert.objects.get(contact=people["low"], rule=p_alive).reason) == (
        "P(alive) is 0.45, below 0.50"  # it rose: it did not "fall"
    )


def test_no_second_task_while_the_first_is_open_and_a_new_one_once_it_is_done(world, rules):
    con, run, rep = world["con"], world["run"], world["rep"]
    alerts.alerts_evaluate(con, run)
    run.status = RunStatus.SUCCEEDED
    run.save()
    first_tasks = set(Activity.objects.values_list("pk", flat=True))

    # The next run finds the same figures.
    nxt = _run(status=RunStatus.RUNNING, as_of=dt.date(2025, 8, 31))
    con.execute(
        "INSERT INTO score_history SELECT ? AS run_id, ? AS as_of, * EXCLUDE (run_id, as_of) FROM score_history "
        "WHERE run_id = ?",
        [nxt.pk, nxt.as_of, run.pk],
    )
    # (expected purchases equal to the previous run's: no drop this time)
    falling_p_alive = Alert.objects.get(run=run, contact__first_name="Falling", rule__kind=AlertKind.P_ALIVE_BELOW)
    activity_complete(actor=rep, activity=falling_p_alive.task)

    figures = alerts.alerts_evaluate(con, nxt)

    p_alive = rules[AlertKind.P_ALIVE_BELOW]
    assert figures["rules"][str(p_alive.pk)] == {"matched": 4, "task_created": 1, "task_open": 1, "no_owner": 2}
    found = _alerts(nxt)
    assert found[("Falling", AlertKind.P_ALIVE_BELOW)][0] == AlertOutcome.TASK_CREATED  # the first one was done
    assert found[("Nuovo", AlertKind.P_ALIVE_BELOW)] == (
        AlertOutcome.TASK_OPEN,
        Alert.objects.get(run=run, contact__first_name="Nuovo").task_id,
    )
    new_tasks = set(Activity.objects.values_list("pk", flat=True)) - first_tasks
    assert len(new_tasks) == 1
    assert Activity.objects.get(pk=new_tasks.pop()).subject.endswith("P(alive) is 0.41, below 0.50")


def test_evaluating_a_run_twice_changes_nothing(world):
    alerts.alerts_evaluate(world["con"], world["run"])
    before = (Alert.objects.count(), Activity.objects.count())

    alerts.alerts_evaluate(world["con"], world["run"])

    assert (Alert.objects.count(), Activity.objects.count()) == before == (6, 3)


def test_inactive_rules_and_classes_outside_the_rule_are_left_alone(world, rules):
    p_alive, drop = rules[AlertKind.P_ALIVE_BELOW], rules[AlertKind.EXPECTED_PURCHASES_DROP]
    drop.active = False
    drop.save()
    p_alive.abc_classes = ["B"]
    p_alive.save()

    figures = alerts.alerts_evaluate(world["con"], world["run"])

    assert list(figures["rules"]) == [str(p_alive.pk)]
    assert {key for key in _alerts(world["run"])} == {("Bee", AlertKind.P_ALIVE_BELOW)}


def test_the_first_run_has_no_drops_to_compare(world, rules):
    AnalyticsRun.objects.filter(pk=world["previous"].pk).update(status=RunStatus.FAILED)

    figures = alerts.alerts_evaluate(world["con"], world["run"])

    assert figures["previous_run"] is None
    assert figures["rules"][str(rules[AlertKind.EXPECTED_PURCHASES_DROP].pk)]["matched"] == 0
    reason = Alert.objects.get(contact__first_name="Falling").reason
    assert (reason["previous_p_alive"], reason["previous_run"]) == (None, None)
    assert alerts.reason_text(reason) == "P(alive) is 0.41, below 0.50"


def test_a_failure_is_reported_not_raised(world, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(alerts, "activity_create", broken)

    figures = alerts.alerts_evaluate(world["con"], world["run"])

    assert figures["error"] == "RuntimeError: disk full"
    assert not Activity.objects.exists()


# ---- through the run --------------------------------------------------------------------------------


def test_a_run_evaluates_the_alerts_and_a_failure_there_leaves_the_run_good(shop, monkeypatch):  # noqa: F811
    first = analytics_run(as_of=AS_OF)
    assert first.figures["alerts"]["previous_run"] is None
    assert set(first.figures["alerts"]["rules"]) == {str(pk) for pk in AlertRule.objects.values_list("pk", flat=True)}

    def broken(con, rule, run, previous):
        raise duckdb.Error("no such table")

    monkeypatch.setattr(alerts, "_matches", broken)
    second = analytics_run(as_of=AS_OF + dt.timedelta(days=1))

    assert second.status == RunStatus.SUCCEEDED
    assert second.figures["alerts"] == {"previous_run": first.pk, "rules": {}, "error": "Error: no such table"}


@pytest.fixture
def regular_shop(make_user, team):
    """Thirty customers, each with an owner, buying every 2–4 weeks through the year before AS_OF."""
    rep = make_user(role="sales", team=team, username="owner")
    category = make_category(name="Coffee")
    product = make_product(category=category)
    contacts = []
    for index in range(30):
        contact = make_contact(first_name=f"c{index}", owner=rep)
        step = 14 + 7 * (index % 3)
        for days in range(365 - index * 3, 0, -step):
            _order(contact, AS_OF - dt.timedelta(days=days), [(product, 1 + index % 4, "20.00", "8.00", "0")])
        contacts.append(contact)
    return {"rep": rep, "contacts": contacts}


def test_customers_who_stop_buying_give_their_owner_a_task(regular_shop):
    first = analytics_run(as_of=AS_OF)
    assert first.figures["lifetime_value"]["contact"].get("skipped") is None
    later = analytics_run(as_of=AS_OF + dt.timedelta(days=240))  # nobody bought for eight months

    con = warehouse.warehouse_connect(read_only=True)
    try:
        falling = {
            row[0]
            for row in con.execute(
                "SELECT contact_id FROM score_history WHERE run_id = ? AND abc_class = 'A' AND p_alive < 0.5",
                [later.pk],
            ).fetchall()
        }
    finally:
        con.close()
    assert falling  # the method sees them go quiet
    rule = AlertRule.objects.get(kind=AlertKind.P_ALIVE_BELOW)
    tasks = Activity.objects.filter(subject__contains="P(alive)")
    assert set(tasks.values_list("contact_id", flat=True)) == falling
    assert set(tasks.values_list("assignee__username", flat=True)) == {"owner"}
    assert set(Alert.objects.filter(rule=rule, run=later).values_list("contact_id", flat=True)) == falling
    assert later.figures["alerts"]["rules"][str(rule.pk)]["task_created"] == len(falling)


# ---- the rules --------------------------------------------------------------------------------------


def test_rules_are_tuned_by_those_allowed_with_their_values_checked(make_user, rules):
    rule = rules[AlertKind.EXPECTED_PURCHASES_DROP]
    analyst = make_user(role="analyst")

    changed = alerts.alert_rule_update(actor=analyst, rule=rule, data={"threshold": 0.4, "abc_classes": ["B", "A"]})

    assert (changed.threshold, changed.abc_classes) == (0.4, ["A", "B"])
    assert AuditEntry.objects.get(action="alert_rule.update").changes == {
        "threshold": [0.5, 0.4],
        "abc_classes": [["A"], ["A", "B"]],
    }
    with pytest.raises(ValidationFailed) as refused:
        alerts.alert_rule_update(
            actor=analyst, rule=rule, data={"threshold": 1, "abc_classes": ["D"], "active": "yes", "kind": "x"}
        )
    assert refused.value.errors == {
        "kind": "cannot be changed",
        "threshold": "must be above 0 and below 1 (the share of the previous expected purchases)",
        "abc_classes": "must be a list of one or more of A, B, C",
        "active": "must be true or false",
    }
    with pytest.raises(Forbidden):
        alerts.alert_rule_update(actor=make_user(role="marketing"), rule=rule, data={"active": False})
