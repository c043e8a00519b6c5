"""Pipelines and their stages, deals, and activities (calls, meetings, emails, to-dos)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cuore.core.models import TimeStampedModel


class Pipeline(models.Model):
    """A sequence of stages a deal goes through."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="pipeline_one_default"),
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    """One step of a pipeline, with its position and the probability that a deal there is won."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"))
    probability = models.PositiveSmallIntegerField(_("win probability (%)"))

    class Meta:
        ordering = ["pipeline", "position"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "position"], name="stage_position_unique"),
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_name_unique"),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100), name="stage_probability_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pipeline} / {self.name}"


class DealStatus(models.TextChoices):
    # A context per word: Italian agrees the adjective with "trattativa" (aperta) and "ticket" (aperto).
    OPEN = "open", pgettext_lazy("deal status", "Open")
    WON = "won", pgettext_lazy("deal status", "Won")
    LOST = "lost", pgettext_lazy("deal status", "Lost")


class Deal(TimeStampedModel):
    """A sales opportunity with an amount, an expected close date and a stage."""

    name = models.CharField(_("name"), max_length=200)
    # text_key(name): what the name search and the "name" ordering use, whatever the case and accents.
    name_key = models.CharField(max_length=200, editable=False, default="")
    pipeline = models.ForeignKey(Pipeline, on_delete=models.PROTECT, related_name="deals")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="deals")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    expected_close = models.DateField(_("expected close"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=DealStatus.choices, default=DealStatus.OPEN)
    lost_reason = models.CharField(_("lost reason"), max_length=200, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey("users.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )
    account = models.ForeignKey(
        "contacts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="deals"
    )

    class Meta:
        indexes = [
            models.Index(fields=["owner", "-created_at", "-id"], name="deal_owner_created_idx"),
            models.Index(fields=["team", "-created_at", "-id"], name="deal_team_created_idx"),
            # The Kanban board: each stage's newest open deals.
            models.Index(fields=["stage", "status", "-created_at", "-id"], name="deal_stage_newest_idx"),
            models.Index(fields=["status", "expected_close"], name="deal_status_close_idx"),
            models.Index(fields=["contact", "-id"], name="deal_contact_idx"),
            models.Index(fields=["account", "-id"], name="deal_account_idx"),
            # The orderings of the deal list: newest, by name, largest first, closing soonest.
            models.Index(fields=["-created_at", "-id"], name="deal_created_idx"),
            models.Index(fields=["name_key", "id"], name="deal_name_idx"),
            models.Index(fields=["-amount", "-id"], name="deal_amount_idx"),
            models.Index(fields=["expected_close", "id"], name="deal_close_order_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(condition=Q(status__in=DealStatus.values), name="deal_status_valid"),
            models.CheckConstraint(condition=~Q(status="lost") | ~Q(lost_reason=""), name="deal_lost_needs_reason"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(closed_at__isnull=False), name="deal_closed_has_date"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DealStageChange(models.Model):
    """A deal's move from one stage (or status) to another: the deal's history on the timeline."""

    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    from_status = models.CharField(max_length=8, blank=True)
    to_status = models.CharField(max_length=8, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["deal", "-changed_at"], name="dealchange_deal_idx")]

    def __str__(self) -> str:
        return f"deal {self.deal_id}: {self.from_stage_id}→{self.to_stage_id} {self.to_status}"


class ActivityKind(models.TextChoices):
    CALL = "call", _("Call")
    MEETING = "meeting", _("Meeting")
    EMAIL = "email", _("Email")
    TODO = "todo", _("To-do")


class Activity(TimeStampedModel):
    """A task to do: a call to make, a meeting to hold, an email to send, a to-do."""

    kind = models.CharField(_("kind"), max_length=8, choices=ActivityKind.choices, default=ActivityKind.TODO)
    subject = models.CharField(_("subject"), max_length=200)
    notes = models.TextField(_("notes"), blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey("users.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    account = models.ForeignKey(
        "contacts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="activities"
    )
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="activities")

    class Meta:
        verbose_name_plural = "activities"
        indexes = [
            models.Index(fields=["assignee", "done", "due_at"], name="activity_assignee_idx"),
            models.Index(fields=["team", "done", "due_at"], name="activity_team_idx"),
            models.Index(fields=["contact", "-id"], name="activity_contact_idx"),
            models.Index(fields=["deal", "-id"], name="activity_deal_idx"),
            # The orderings of the activity list: newest first, soonest due first.
            models.Index(fields=["-created_at", "-id"], name="activity_created_idx"),
            models.Index(fields=["due_at", "id"], name="activity_due_order_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ActivityKind.values), name="activity_kind_valid"),
            models.CheckConstraint(condition=Q(done=False) | Q(done_at__isnull=False), name="activity_done_has_date"),
        ]

    def __str__(self) -> str:
        return self.subject
