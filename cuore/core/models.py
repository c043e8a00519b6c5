"""Shared model pieces: timestamps, the append-only audit log, stored idempotent responses, background jobs."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    """Add creation and last-change times, both UTC."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Channel(models.TextChoices):
    UI = "ui", _("Web interface")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    JOB = "job", _("Job")


class AuditEntry(models.Model):
    """Record one change: who, what, which fields went from what to what, when, and through which channel."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["object_type", "object_id", "-id"], name="audit_object_idx"),
            models.Index(fields=["actor", "-id"], name="audit_actor_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(channel__in=Channel.values), name="audit_channel_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label or 'system'} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit entries are append-only.")


class IdempotencyRecord(models.Model):
    """Remember the answer to a create request so a retry with the same key gets it again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_user_key_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class SavedView(models.Model):
    """A user's named view of a list: its filters, sorting and columns, as a query string."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    list_name = models.CharField(max_length=32)
    name = models.CharField(max_length=100)
    query = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "list_name", "name"], name="savedview_user_list_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.list_name}: {self.name}"


class JobStatus(models.TextChoices):
    # Not translated: only the command line (in English) shows them.
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class Job(models.Model):
    """Hold one piece of background work: the handler to call, its payload, and how its attempts went.

    Workers claim a job by setting a lease (``lease_until``); a running job whose lease has expired
    belongs to a worker that died and is claimed again. See ``cuore.core.jobs``.
    """

    name = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    run_after = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    lease_until = models.DateTimeField(null=True, blank=True)
    worker_id = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    # A periodic occurrence's key (name@time): one job per occurrence however many workers schedule it.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The claim query: due queued jobs, oldest first ...
            models.Index(fields=["run_after", "id"], condition=models.Q(status="queued"), name="job_queued_due_idx"),
            # ... and running jobs whose worker stopped renewing the lease.
            models.Index(fields=["lease_until"], condition=models.Q(status="running"), name="job_running_lease_idx"),
            # Is an occurrence of this periodic job still waiting or running?
            models.Index(fields=["name", "status"], name="job_name_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=JobStatus.values), name="job_status_valid"),
            models.UniqueConstraint(
                fields=["dedupe_key"], condition=models.Q(dedupe_key__isnull=False), name="job_dedupe_key_unique"
            ),
            models.CheckConstraint(condition=models.Q(max_attempts__gte=1), name="job_max_attempts_positive"),
            models.CheckConstraint(
                condition=models.Q(attempts__lte=models.F("max_attempts")), name="job_attempts_within_max"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="running") | models.Q(lease_until__isnull=False),
                name="job_running_has_lease",
            ),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.name} ({self.status})"
