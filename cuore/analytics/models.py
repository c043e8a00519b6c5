"""The analytics runs and the current scores they leave on each customer (the history is in the warehouse)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
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
