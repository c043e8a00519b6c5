"""Import jobs: a file, its source and kind, the column mapping, progress, and the rows that failed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ImportKind(models.TextChoices):
    CONTACTS = "contacts", _("Contacts")
    ACCOUNTS = "accounts", _("Accounts")
    PRODUCTS = "products", _("Products")
    ORDERS = "orders", _("Orders")
    INTERACTIONS = "interactions", _("Interactions")


class ImportStatus(models.TextChoices):
    READY = "ready", _("Ready: check the mapping and start")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Done")
    FAILED = "failed", _("Failed")


class ImportMapping(models.Model):
    """The column mapping last used for a source and kind: header (normalised) → field, reused next time."""

    source = models.ForeignKey("identity.Source", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    mapping = models.JSONField(default=dict)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "kind"], name="import_mapping_unique")]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.kind}"


class ImportJob(models.Model):
    """One file imported into one kind of record from one source."""

    kind = models.CharField(_("kind"), max_length=16, choices=ImportKind.choices)
    source = models.ForeignKey("identity.Source", on_delete=models.PROTECT, related_name="+")
    # Where the uploaded file is kept, relative to DATA_DIR/imports.
    path = models.CharField(max_length=300)
    filename = models.CharField(_("file"), max_length=200)
    size = models.BigIntegerField(default=0)
    file_format = models.CharField(max_length=8, blank=True)
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=4, blank=True)
    headers = models.JSONField(default=list)
    # Header as in the file → field name, or null for a column left out.
    mapping = models.JSONField(default=dict)
    status = models.CharField(_("status"), max_length=10, choices=ImportStatus.choices, default=ImportStatus.READY)
    rows_read = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    # Identity resolution after a contacts import, and other figures.
    figures = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="import_job_recent_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="import_job_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="import_job_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} from {self.filename}"


class ImportRowError(models.Model):
    """A problem with one cell (or the whole row) of an import: the line, the column and the reason."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    column = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=500)

    class Meta:
        indexes = [models.Index(fields=["job", "line"], name="import_row_error_idx")]

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"
