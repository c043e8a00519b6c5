"""Sources, the records they sent, how each is linked to a golden contact, the review queue and merges.

Every record an import or an integration brings is kept as a ``SourceRecord`` (the source, the
source's own id, the raw values and the values as read), whatever became of it: nothing a source
said is thrown away. A person's records are linked to one ``Contact`` — the golden record, whose
fields are computed from them (``golden.py``). ``MergeEvent`` keeps what a merge or a split moved, so
that it can be undone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Source(models.Model):
    """A system records come from: the web shop, the till, an old CRM's export, event sign-ups."""

    name = models.SlugField(_("name"), max_length=50, unique=True)
    label = models.CharField(_("label"), max_length=100, blank=True)
    # Survivorship: a field taken "from the most trusted source" comes from the highest trust.
    trust = models.PositiveSmallIntegerField(_("trust"), default=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(trust__lte=100), name="source_trust_range")]

    def __str__(self) -> str:
        return self.label or self.name


class RecordKind(models.TextChoices):
    CONTACT = "contact", _("Contact")
    ACCOUNT = "account", _("Account")
    PRODUCT = "product", _("Product")
    ORDER = "order", _("Order")
    INTERACTION = "interaction", _("Interaction")


class LinkStatus(models.TextChoices):
    PENDING = "pending", _("Waiting to be resolved")
    LINKED = "linked", _("Linked")


class LinkMethod(models.TextChoices):
    CRM = "crm", _("Entered in Cuore")
    NEW = "new", _("New contact")
    EXTERNAL_ID = "external_id", _("Same external id")
    EMAIL = "email", _("Same verified email")
    TAX_CODE = "tax_code", _("Same tax code")
    PROBABILISTIC = "probabilistic", _("Probabilistic match")
    MANUAL = "manual", _("Linked by hand")
    MERGE = "merge", _("Moved by a merge")
    SPLIT = "split", _("Split off")


class SourceRecord(models.Model):
    """One record as a source sent it, and what it is linked to."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="records")
    kind = models.CharField(_("kind"), max_length=12, choices=RecordKind.choices)
    source_key = models.CharField(_("id in the source"), max_length=128)
    # The row as the source sent it (header → cell), and its values as read (field → value, JSON types).
    raw = models.JSONField(default=dict)
    values = models.JSONField(default=dict)
    # For orders and interactions: the customer's record in the same source.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="source_records"
    )
    # What the record became when it is not a contact (account, product, order, interaction): "app.model" + id.
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=LinkStatus.choices, default=LinkStatus.PENDING)
    link_method = models.CharField(_("linked by"), max_length=16, choices=LinkMethod.choices, blank=True)
    link_score = models.FloatField(_("match probability"), null=True, blank=True)
    # Which fields agreed and how much each weighed: [{"comparison", "level", "weight"}, …].
    link_evidence = models.JSONField(default=list, blank=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "kind", "source_key"], name="source_record_unique"),
            models.CheckConstraint(condition=Q(kind__in=RecordKind.values), name="source_record_kind_valid"),
        ]
        indexes = [
            models.Index(fields=["contact", "-updated_at"], name="source_record_contact_idx"),
            models.Index(fields=["kind", "status"], name="source_record_status_idx"),
            models.Index(fields=["object_type", "object_id"], name="source_record_object_idx"),
            models.Index(fields=["parent"], name="source_record_parent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}:{self.kind}:{self.source_key}"


class BlockKey(models.Model):
    """A blocking key of a contact record: a new record is compared only with records sharing a key."""

    record = models.ForeignKey(SourceRecord, on_delete=models.CASCADE, related_name="block_keys")
    key = models.CharField(max_length=160)

    class Meta:
        indexes = [models.Index(fields=["key", "record"], name="block_key_idx")]

    def __str__(self) -> str:
        return self.key


class MatchModelState(models.Model):
    """The matching model (m and u probabilities, prior) estimated from the data by the last resolution."""

    kind = models.CharField(max_length=12, choices=RecordKind.choices, unique=True)
    parameters = models.JSONField()
    records = models.PositiveIntegerField(default=0)
    trained_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} model of {self.trained_at:%Y-%m-%d %H:%M}"


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("To review")
    ACCEPTED = "accepted", _("Merged")
    REJECTED = "rejected", _("Not the same person")


class ReviewItem(models.Model):
    """Two contacts that may be the same person: the match fell between the two thresholds."""

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    record = models.ForeignKey(SourceRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    candidate_record = models.ForeignKey(
        SourceRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    probability = models.FloatField()
    weight = models.FloatField()
    evidence = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One open question per pair (stored with the lower contact id first).
            models.UniqueConstraint(
                fields=["contact", "candidate"], condition=Q(status="open"), name="review_item_open_unique"
            ),
            models.CheckConstraint(condition=Q(status__in=ReviewStatus.values), name="review_item_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "-probability"], name="review_item_queue_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} ~ {self.candidate_id} ({self.probability:.2f}, {self.status})"


class MergeKind(models.TextChoices):
    MERGE = "merge", _("Merge")
    SPLIT = "split", _("Split")


class MergeEvent(models.Model):
    """A merge of two contacts or the split of a record off a contact, with what it moved, to undo it."""

    kind = models.CharField(max_length=8, choices=MergeKind.choices)
    # merge: the contact that stays; split: the contact the record left. No database constraint: the id
    # must outlive the contact (merged away later, then restored by undoing that merge with the same id).
    contact = models.ForeignKey(
        "contacts.Contact", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    # merge: the contact merged away (deleted; its fields are in ``snapshot``); split: the new contact.
    other_id = models.BigIntegerField()
    snapshot = models.JSONField(default=dict)
    # {"app.model": {"field": [ids…]}}: the rows moved, to move back.
    moved = models.JSONField(default=dict)
    # Rows that could not move (the survivor already had the same email, the same account link…):
    # [{"model": "app.model", "fields": {…}}], re-created on undo.
    dropped = models.JSONField(default=list)
    tags = models.JSONField(default=list)
    record = models.ForeignKey(SourceRecord, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["contact", "-created_at"], name="merge_event_contact_idx"),
            models.Index(fields=["other_id"], name="merge_event_other_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(kind__in=MergeKind.values), name="merge_event_kind_valid")]

    def __str__(self) -> str:
        return f"{self.kind} {self.other_id} → {self.contact_id}"
