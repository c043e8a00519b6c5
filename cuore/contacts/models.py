"""Companies (accounts), people (contacts), their contact points, addresses, tags and consent ledger."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cuore.core.models import TimeStampedModel


class Tag(models.Model):
    """A free label put on contacts and accounts."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(_("colour"), max_length=7, default="#6c757d")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CompanySize(models.TextChoices):
    MICRO = "1-9", _("1–9 employees")
    SMALL = "10-49", _("10–49 employees")
    MEDIUM = "50-249", _("50–249 employees")
    LARGE = "250-999", _("250–999 employees")
    ENTERPRISE = "1000+", _("1000+ employees")


class Account(TimeStampedModel):
    """A company the organisation sells to or serves."""

    name = models.CharField(_("name"), max_length=200)
    name_key = models.CharField(max_length=200, editable=False)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    vat_number = models.CharField(_("VAT number"), max_length=16, blank=True)
    tax_code = models.CharField(_("tax code"), max_length=32, blank=True)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    size = models.CharField(_("size"), max_length=8, choices=CompanySize.choices, blank=True)
    website = models.URLField(_("website"), blank=True)
    email = models.CharField(_("email"), max_length=254, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey("users.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    tags = models.ManyToManyField(Tag, blank=True, related_name="accounts")

    class Meta:
        indexes = [
            models.Index(fields=["name_key", "id"], name="account_name_idx"),
            models.Index(fields=["owner", "-id"], name="account_owner_idx"),
            models.Index(fields=["team", "-id"], name="account_team_idx"),
            models.Index(fields=["vat_number"], name="account_vat_idx"),
            models.Index(fields=["-updated_at", "-id"], name="account_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="account_name_required"),
            models.CheckConstraint(condition=Q(size__in=["", *CompanySize.values]), name="account_size_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class LifecycleStage(models.TextChoices):
    SUBSCRIBER = "subscriber", _("Subscriber")
    LEAD = "lead", _("Lead")
    QUALIFIED = "qualified", _("Qualified")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    FORMER_CUSTOMER = "former_customer", _("Former customer")


class Contact(TimeStampedModel):
    """A person: a lead, a customer, someone at an account."""

    first_name = models.CharField(_("first name"), max_length=100, blank=True)
    last_name = models.CharField(_("last name"), max_length=100, blank=True)
    first_name_key = models.CharField(max_length=100, editable=False, default="")
    last_name_key = models.CharField(max_length=100, editable=False, default="")
    title = models.CharField(_("title"), max_length=100, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=16, choices=LifecycleStage.choices, default=LifecycleStage.LEAD
    )
    source = models.CharField(_("source"), max_length=50, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey("users.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    accounts = models.ManyToManyField(Account, through="ContactAccount", related_name="contacts", blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")

    class Meta:
        indexes = [
            # Owner and team ride along so that a sales rep's name search is answered from the index
            # alone (core.visibility: the team scope is checked on the rows read in order).
            models.Index(
                fields=["last_name_key", "first_name_key", "id", "team", "owner"], name="contact_name_scope_idx"
            ),
            models.Index(fields=["first_name_key", "id", "team", "owner"], name="contact_first_name_scope_idx"),
            models.Index(fields=["owner", "-id"], name="contact_owner_idx"),
            models.Index(fields=["team", "-id"], name="contact_team_idx"),
            models.Index(fields=["lifecycle_stage", "-id"], name="contact_stage_idx"),
            models.Index(fields=["-updated_at", "-id"], name="contact_updated_idx"),
            # The dashboard's new contacts per month: one range count per month.
            models.Index(fields=["created_at"], name="contact_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~(Q(first_name="") & Q(last_name="")), name="contact_name_required"),
            models.CheckConstraint(condition=Q(lifecycle_stage__in=LifecycleStage.values), name="contact_stage_valid"),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class ContactAccount(models.Model):
    """Link a contact to an account with the role they play there."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="account_links")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="contact_links")
    role = models.CharField(_("role"), max_length=100, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "account"], name="contact_account_unique")]
        indexes = [models.Index(fields=["account", "contact"], name="contactaccount_account_idx")]

    def __str__(self) -> str:
        return f"{self.contact_id} @ {self.account_id} ({self.role})"


class PointKind(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    MOBILE = "mobile", _("Mobile")
    SOCIAL = "social", _("Social handle")
    EXTERNAL_ID = "external_id", _("External id")


class ContactPoint(models.Model):
    """One way to reach or recognise a contact: an email, a phone, a social handle, an external id."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="points")
    kind = models.CharField(_("kind"), max_length=16, choices=PointKind.choices)
    value = models.CharField(_("value"), max_length=254)
    value_normalized = models.CharField(max_length=254)
    # The social network (``instagram``) or the source system of an external id (``webshop``).
    label = models.CharField(_("label"), max_length=50, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)
    is_verified = models.BooleanField(_("verified"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["kind", "value_normalized"], name="point_lookup_idx"),
            models.Index(fields=["contact", "kind"], name="point_contact_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["contact", "kind", "value_normalized"], name="point_unique_per_contact"),
            models.UniqueConstraint(
                fields=["label", "value_normalized"],
                condition=Q(kind="external_id"),
                name="point_external_id_unique",
            ),
            models.CheckConstraint(condition=Q(kind__in=PointKind.values), name="point_kind_valid"),
            models.CheckConstraint(condition=~Q(value_normalized=""), name="point_value_required"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.value}"


class AddressKind(models.TextChoices):
    HOME = "home", _("Home")
    WORK = "work", _("Work")
    BILLING = "billing", _("Billing")
    SHIPPING = "shipping", _("Shipping")
    REGISTERED = "registered", _("Registered office")


class Address(models.Model):
    """A postal address of a contact or of an account (exactly one of the two)."""

    contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="addresses")
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(_("kind"), max_length=16, choices=AddressKind.choices, default=AddressKind.WORK)
    line1 = models.CharField(_("address"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=16, blank=True)
    city = models.CharField(_("city"), max_length=100)
    province = models.CharField(_("province / state"), max_length=100, blank=True)
    country = models.CharField(_("country"), max_length=2, default="IT")
    is_primary = models.BooleanField(_("primary"), default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(contact__isnull=False, account__isnull=True) | Q(contact__isnull=True, account__isnull=False)
                ),
                name="address_one_owner",
            ),
            models.CheckConstraint(condition=Q(kind__in=AddressKind.values), name="address_kind_valid"),
        ]

    def __str__(self) -> str:
        return ", ".join(part for part in [self.line1, self.postal_code, self.city, self.country] if part)


class ConsentPurpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing communications")
    NEWSLETTER = "newsletter", _("Newsletter")
    PROFILING = "profiling", _("Profiling")
    THIRD_PARTY = "third_party", _("Sharing with third parties")


class ConsentChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    SMS = "sms", _("SMS")
    PHONE = "phone", _("Phone")
    POST = "post", _("Post")
    ANY = "any", _("Any channel")


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", _("Granted")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class ConsentEvent(models.Model):
    """One entry of the append-only consent ledger; the current state is the latest per purpose × channel."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consent_events")
    purpose = models.CharField(_("purpose"), max_length=16, choices=ConsentPurpose.choices)
    channel = models.CharField(_("channel"), max_length=8, choices=ConsentChannel.choices)
    status = models.CharField(_("status"), max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(_("source"), max_length=100)
    proof = models.TextField(_("proof"), blank=True)
    occurred_at = models.DateTimeField(_("when"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "purpose", "channel", "-occurred_at", "-id"], name="consent_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(purpose__in=ConsentPurpose.values), name="consent_purpose_valid"),
            models.CheckConstraint(condition=Q(channel__in=ConsentChannel.values), name="consent_channel_valid"),
            models.CheckConstraint(condition=Q(status__in=ConsentStatus.values), name="consent_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.purpose}/{self.channel} {self.status}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("The consent ledger is append-only.")
        super().save(*args, **kwargs)
