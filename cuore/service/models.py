"""Customer service: queues, SLA policies, tickets with their SLA clock, and the knowledge base."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cuore.core.models import TimeStampedModel


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class SlaPolicy(models.Model):
    """A set of first-response and resolution targets, one per priority."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_default = models.BooleanField(_("default"), default=False)

    class Meta:
        verbose_name_plural = "SLA policies"
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="sla_one_default"),
        ]

    def __str__(self) -> str:
        return self.name


class SlaTarget(models.Model):
    """How soon a ticket of one priority must get its first answer and be solved, in minutes."""

    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices)
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "priority"], name="slatarget_unique"),
            models.CheckConstraint(condition=Q(priority__in=Priority.values), name="slatarget_priority_valid"),
            models.CheckConstraint(
                condition=Q(first_response_minutes__gte=1)
                & Q(resolution_minutes__gte=models.F("first_response_minutes")),
                name="slatarget_minutes_sane",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.priority}: {self.first_response_minutes}/{self.resolution_minutes} min"


class Queue(models.Model):
    """Where tickets wait to be picked up, with the SLA policy that applies to them."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    sla_policy = models.ForeignKey(SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="queues")
    team = models.ForeignKey("users.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    def __str__(self) -> str:
        return self.name


class TicketStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("ticket status", "New")
    OPEN = "open", pgettext_lazy("ticket status", "Open")
    PENDING = "pending", pgettext_lazy("ticket status", "Pending")
    SOLVED = "solved", pgettext_lazy("ticket status", "Solved")
    CLOSED = "closed", pgettext_lazy("ticket status", "Closed")


class TicketChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    CHAT = "chat", _("Chat")
    WEB_FORM = "web_form", _("Web form")
    SOCIAL = "social", _("Social")
    STORE = "store", _("Store")


class Ticket(TimeStampedModel):
    """A customer's request, worked through its statuses against its SLA."""

    number = models.CharField(_("number"), max_length=32, unique=True)
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    account = models.ForeignKey(
        "contacts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="tickets"
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=TicketChannel.choices, default=TicketChannel.EMAIL)
    status = models.CharField(_("status"), max_length=8, choices=TicketStatus.choices, default=TicketStatus.NEW)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    category = models.CharField(_("category"), max_length=50, blank=True)
    queue = models.ForeignKey(Queue, null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    first_response_breached = models.BooleanField(_("first response breached"), default=False)
    resolution_breached = models.BooleanField(_("resolution breached"), default=False)
    satisfaction_rating = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    satisfaction_comment = models.TextField(_("satisfaction comment"), blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "-id"], name="ticket_status_idx"),
            models.Index(fields=["assignee", "status"], name="ticket_assignee_idx"),
            models.Index(fields=["queue", "status"], name="ticket_queue_idx"),
            models.Index(fields=["contact", "-id"], name="ticket_contact_idx"),
            models.Index(fields=["account", "-id"], name="ticket_account_idx"),
            models.Index(fields=["status", "resolution_due"], name="ticket_due_idx"),
            # The "resolution_due" ordering of the ticket list: soonest due first, id breaking ties.
            models.Index(fields=["resolution_due", "id"], name="ticket_resolution_order_idx"),
            # The dashboard's SLA compliance by month of opening: one range scan per month.
            models.Index(fields=["created_at"], name="ticket_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TicketStatus.values), name="ticket_status_valid"),
            models.CheckConstraint(condition=Q(priority__in=Priority.values), name="ticket_priority_valid"),
            models.CheckConstraint(condition=Q(channel__in=TicketChannel.values), name="ticket_channel_valid"),
            models.CheckConstraint(
                condition=Q(satisfaction_rating__isnull=True)
                | Q(satisfaction_rating__gte=1, satisfaction_rating__lte=5),
                name="ticket_satisfaction_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"


class Article(TimeStampedModel):
    """A knowledge-base article or FAQ answer."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("body"))
    language = models.CharField(_("language"), max_length=8, default="en")
    published = models.BooleanField(_("published"), default=False)
    is_faq = models.BooleanField(_("FAQ"), default=False)
    category = models.CharField(_("category"), max_length=50, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["language", "published"], name="article_lang_idx"),
            # The "title" ordering of the knowledge-base list.
            models.Index(fields=["title", "id"], name="article_title_idx"),
        ]

    def __str__(self) -> str:
        return self.title
