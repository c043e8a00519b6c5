"""The analytics runs and the current scores they leave on each customer (the history is in the warehouse)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class RunStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class RfmSegment(models.TextChoices):
    CHAMPIONS = "champions", _("Champions")
    LOYAL = "loyal", _("Loyal")
    POTENTIAL_LOYALISTS = "potential_loyalists", _("Potential loyalists")
    NEW = "new", _("New")
    PROMISING = "promising", _("Promising")
    NEED_ATTENTION = "need_attention", _("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", _("About to sleep")
    AT_RISK = "at_risk", _("At risk")
    CANT_LOSE_THEM = "cant_lose_them", _("Can't lose them")
    HIBERNATING = "hibernating", _("Hibernating")
    LOST = "lost", _("Lost")


class AbcClass(models.TextChoices):
    A = "A", _("A")
    B = "B", _("B")
    C = "C", _("C")


class ValueTier(models.TextChoices):
    MOST_VALUABLE = "most_valuable", _("Most valuable")
    GROWABLE = "growable", _("Growable")
    STEADY = "steady", _("Steady")
    BELOW_ZERO = "below_zero", _("Below zero")


class AnalyticsRun(models.Model):
    """One run of the analytics engine: when, over which date, with which parameters, and how it ended."""

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    as_of = models.DateField(_("as of"))
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    reports = models.JSONField(_("reports"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-started_at"], name="analyticsrun_status_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="analyticsrun_status_valid")
        ]

    def __str__(self) -> str:
        return f"analytics run {self.pk} as of {self.as_of} ({self.status})"


class ScoreFields(models.Model):
    """The RFM figures, scores, segment and ABC class shared by contact and account scores."""

    recency_days = models.PositiveIntegerField(_("recency (days)"))
    frequency = models.PositiveIntegerField(_("orders"))
    monetary_total = models.DecimalField(_("spent"), max_digits=16, decimal_places=2)
    monetary_avg = models.DecimalField(_("average order"), max_digits=16, decimal_places=2)
    margin = models.DecimalField(_("margin"), max_digits=16, decimal_places=2)
    tenure_days = models.PositiveIntegerField(_("tenure (days)"))
    r_score = models.PositiveSmallIntegerField(_("R"))
    f_score = models.PositiveSmallIntegerField(_("F"))
    m_score = models.PositiveSmallIntegerField(_("M"))
    rfm_segment = models.CharField(_("RFM segment"), max_length=20, choices=RfmSegment.choices)
    abc_class = models.CharField(_("ABC class"), max_length=1, choices=AbcClass.choices)
    expected_purchases = models.FloatField(_("expected purchases (12 months)"), null=True, blank=True)
    p_alive = models.FloatField(_("P(alive)"), null=True, blank=True)
    clv = models.DecimalField(_("lifetime value (12 months)"), max_digits=16, decimal_places=2, null=True, blank=True)
    value_tier = models.CharField(_("value tier"), max_length=16, choices=ValueTier.choices, default=ValueTier.STEADY)
    churn_risk = models.FloatField(_("churn risk"), null=True, blank=True)
    churn_reasons = models.JSONField(_("churn reasons"), default=list, blank=True)
    next_best_offers = models.JSONField(_("next best offers"), default=list, blank=True)

    class Meta:
        abstract = True


def _score_constraints(prefix: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(r_score__range=(1, 5)) & Q(f_score__range=(1, 5)) & Q(m_score__range=(1, 5)),
            name=f"{prefix}_rfm_range",
        ),
        models.CheckConstraint(condition=Q(rfm_segment__in=RfmSegment.values), name=f"{prefix}_segment_valid"),
        models.CheckConstraint(condition=Q(abc_class__in=AbcClass.values), name=f"{prefix}_abc_valid"),
        models.CheckConstraint(condition=Q(value_tier__in=ValueTier.values), name=f"{prefix}_tier_valid"),
    ]


class ContactScore(ScoreFields):
    """A contact's current scores: those of the last successful run (one row per contact who has bought)."""

    contact = models.OneToOneField("contacts.Contact", on_delete=models.CASCADE, related_name="score")
    run = models.ForeignKey(AnalyticsRun, on_delete=models.PROTECT, related_name="+")
    preferred_category = models.ForeignKey(
        "orders.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["rfm_segment", "contact"], name="contactscore_segment_idx"),
            models.Index(fields=["abc_class", "contact"], name="contactscore_abc_idx"),
            models.Index(fields=["value_tier", "contact"], name="contactscore_tier_idx"),
        ]
        constraints = _score_constraints("contactscore")

    def __str__(self) -> str:
        return f"scores of contact {self.contact_id}: {self.rfm_segment} {self.abc_class}"


class AccountScore(ScoreFields):
    """An account's current scores, over the orders placed by or for it, from the last successful run."""

    account = models.OneToOneField("contacts.Account", on_delete=models.CASCADE, related_name="score")
    run = models.ForeignKey(AnalyticsRun, on_delete=models.PROTECT, related_name="+")
    preferred_category = models.ForeignKey(
        "orders.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["rfm_segment", "account"], name="accountscore_segment_idx"),
            models.Index(fields=["abc_class", "account"], name="accountscore_abc_idx"),
            models.Index(fields=["value_tier", "account"], name="accountscore_tier_idx"),
        ]
        constraints = _score_constraints("accountscore")

    def __str__(self) -> str:
        return f"scores of account {self.account_id}: {self.rfm_segment} {self.abc_class}"


# --- segments and alerts -------------------------------------------------------------------------


class Segment(models.Model):
    """A saved group of contacts: conditions on profile, scores and behaviour, evaluated at every run.

    ``definition`` is the JSON described in ``cuore.analytics.segments``; who was in the segment at
    each run is kept in the warehouse table ``segment_membership``, the sizes in ``SegmentSnapshot``.
    """

    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(_("definition"), default=dict)
    created_by = models.ForeignKey(
        "users.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    last_run = models.ForeignKey(
        AnalyticsRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("last run")
    )
    last_count = models.PositiveIntegerField(_("contacts at the last run"), null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("name"), name="segment_name_unique"),
        ]
        indexes = [models.Index(fields=["name", "id"], name="segment_name_idx")]

    def __str__(self) -> str:
        return self.name


class SegmentSnapshot(models.Model):
    """A segment's size at one run, and how many contacts entered and left it since its previous run."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="snapshots")
    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="+")
    previous_run = models.ForeignKey(AnalyticsRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    as_of = models.DateField(_("as of"))
    customers = models.PositiveIntegerField(_("contacts"))
    entered = models.PositiveIntegerField(_("entered"))
    left = models.PositiveIntegerField(_("left"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "run"], name="segmentsnapshot_one_per_run"),
        ]
        indexes = [models.Index(fields=["segment", "-run"], name="segmentsnapshot_segment_idx")]

    def __str__(self) -> str:
        return f"segment {self.segment_id} at run {self.run_id}: {self.customers}"


class AlertKind(models.TextChoices):
    P_ALIVE_BELOW = "p_alive_below", _("P(alive) below a threshold")
    EXPECTED_PURCHASES_DROP = "expected_purchases_drop", _("Expected purchases dropped")


class AlertRule(models.Model):
    """A rule checked after every run; a customer who matches it gets a task for their owner (``alerts``).

    ``p_alive_below``: P(alive) < threshold. ``expected_purchases_drop``: expected purchases ≤
    threshold × those of the previous run. Only customers of the ABC classes in ``abc_classes``.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=24, choices=AlertKind.choices)
    threshold = models.FloatField(_("threshold"))
    abc_classes = models.JSONField(_("ABC classes"), default=list)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AlertKind.values), name="alertrule_kind_valid"),
            models.CheckConstraint(condition=Q(threshold__gt=0, threshold__lte=1), name="alertrule_threshold_range"),
        ]

    def __str__(self) -> str:
        return self.name


class AlertOutcome(models.TextChoices):
    TASK_CREATED = "task_created", _("Task created")
    TASK_OPEN = "task_open", _("An earlier task is still open")
    NO_OWNER = "no_owner", _("No owner to assign")


class Alert(models.Model):
    """A customer who matched an alert rule at a run, why (structured, shown through ``alerts``), and the task."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="+")
    reason = models.JSONField(_("reason"), default=dict)
    outcome = models.CharField(_("outcome"), max_length=16, choices=AlertOutcome.choices)
    # The task this alert created, or the earlier alert's task still open (outcome task_open).
    task = models.ForeignKey("sales.Activity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "contact", "run"], name="alert_one_per_rule_contact_run"),
            models.CheckConstraint(condition=Q(outcome__in=AlertOutcome.values), name="alert_outcome_valid"),
        ]
        indexes = [
            models.Index(fields=["rule", "contact", "-id"], name="alert_rule_contact_idx"),
            models.Index(fields=["run", "-id"], name="alert_run_idx"),
            models.Index(fields=["contact", "-id"], name="alert_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"alert {self.rule_id} on contact {self.contact_id} at run {self.run_id}"
