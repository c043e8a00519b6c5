"""The timeline: one row per touch on any channel, grouped into conversations."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class InteractionChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    CHAT = "chat", _("Chat")
    SOCIAL = "social", _("Social")
    WEB_FORM = "web_form", _("Web form")
    MEETING = "meeting", _("Meeting")
    STORE = "store", _("Store")
    LETTER = "letter", _("Letter")
    NOTE = "note", _("Internal note")


class Direction(models.TextChoices):
    IN = "in", _("Inbound")
    OUT = "out", _("Outbound")


class Conversation(models.Model):
    """A thread of interactions on one subject with one contact."""

    subject = models.CharField(_("subject"), max_length=200, blank=True)
    channel = models.CharField(_("channel"), max_length=10, choices=InteractionChannel.choices)
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="conversations",
        db_index=False,  # served by conversation_contact_last_idx
    )
    started_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["contact", "-last_at", "-id"], name="conversation_contact_last_idx"),
            models.Index(fields=["-last_at", "-id"], name="conversation_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.subject or f"conversation {self.pk}"


class Interaction(models.Model):
    """One touch between the organisation and a customer, on any channel, in or out."""

    channel = models.CharField(_("channel"), max_length=10, choices=InteractionChannel.choices)
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    occurred_at = models.DateTimeField(_("when"))
    contact = models.ForeignKey(
        "contacts.Contact",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="interactions",
        db_index=False,  # served by interaction_contact_idx
    )
    account = models.ForeignKey(
        "contacts.Account",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="interactions",
        db_index=False,  # served by interaction_account_idx
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"), blank=True)
    conversation = models.ForeignKey(
        Conversation,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
        db_index=False,  # served by interaction_conversation_idx
    )
    ticket = models.ForeignKey(
        "service.Ticket",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
        db_index=False,  # served by interaction_ticket_idx
    )
    deal = models.ForeignKey(
        "sales.Deal",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
        db_index=False,  # served by interaction_deal_idx
    )
    order = models.ForeignKey(
        "orders.Order",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="interactions",
        db_index=False,  # served by interaction_order_idx
    )
    # An interaction that came from another system keeps that system's name and id, so that ingesting
    # the same message twice finds the first copy instead of creating a second one.
    source = models.CharField(_("source"), max_length=50, blank=True)
    external_id = models.CharField(_("external id"), max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "-occurred_at", "-id"], name="interaction_contact_idx"),
            models.Index(fields=["account", "-occurred_at", "-id"], name="interaction_account_idx"),
            models.Index(fields=["ticket", "-occurred_at", "-id"], name="interaction_ticket_idx"),
            models.Index(fields=["deal", "-occurred_at", "-id"], name="interaction_deal_idx"),
            models.Index(fields=["order", "-occurred_at", "-id"], name="interaction_order_idx"),
            models.Index(fields=["conversation", "-occurred_at", "-id"], name="interaction_conversation_idx"),
            models.Index(fields=["-occurred_at", "-id"], name="interaction_recent_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="interaction_external_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=InteractionChannel.values), name="interaction_channel_valid"
            ),
            models.CheckConstraint(condition=Q(direction__in=Direction.values), name="interaction_direction_valid"),
            models.CheckConstraint(
                condition=Q(external_id="") | ~Q(source=""), name="interaction_external_id_has_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.direction} {self.occurred_at:%Y-%m-%d}"
