"""Writes on accounts, contacts, contact points, addresses, tags and the consent ledger."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from cuore.contacts.models import (
    Account,
    Address,
    AddressKind,
    CompanySize,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ConsentStatus,
    Contact,
    ContactAccount,
    ContactPoint,
    LifecycleStage,
    PointKind,
    Tag,
)
from cuore.core.audit import apply_changes, audit_record, snapshot
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.normalize import email_normalize, phone_normalize, text_key, vat_normalize
from cuore.core.visibility import require_write

ACCOUNT_FIELDS = {
    "name",
    "legal_name",
    "vat_number",
    "tax_code",
    "industry",
    "size",
    "website",
    "email",
    "phone",
    "owner",
    "team",
}
CONTACT_FIELDS = {
    "first_name",
    "last_name",
    "title",
    "language",
    "birth_date",
    "lifecycle_stage",
    "source",
    "owner",
    "team",
}


def _created(instance) -> dict[str, list[Any]]:
    return {name: [None, value] for name, value in snapshot(instance).items() if value not in (None, "", False)}


def _clean_account(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if "name" in data:
        data["name"] = (data["name"] or "").strip()
        if not data["name"]:
            errors["name"] = "is required"
    if data.get("vat_number"):
        try:
            data["vat_number"] = vat_normalize(data["vat_number"])
        except ValueError as exc:
            errors["vat_number"] = str(exc)
    if data.get("size") and data["size"] not in CompanySize.values:
        errors["size"] = f"must be one of {', '.join(CompanySize.values)}"
    if data.get("email"):
        try:
            data["email"] = email_normalize(data["email"])
        except ValueError as exc:
            errors["email"] = str(exc)
    if data.get("phone"):
        try:
            data["phone"] = phone_normalize(data["phone"])
        except ValueError as exc:
            errors["phone"] = str(exc)
    if errors:
        raise ValidationFailed(errors)
    return data


@transaction.atomic
def account_create(*, actor: Any, name: str, owner: Any = None, team: Any = None, **fields: Any) -> Account:
    """Create an account owned by ``owner`` (the actor by default) in the owner's team."""
    require_write(actor, "accounts")
    owner = owner if owner is not None else actor
    data = _clean_account({"name": name, **fields})
    account = Account(**data, owner=owner, team=team if team is not None else getattr(owner, "team", None))
    account.name_key = text_key(account.name)
    account.save()
    audit_record(actor=actor, action="account.create", instance=account, changes=_created(account))
    return account


@transaction.atomic
def account_update(*, actor: Any, account: Account, data: dict[str, Any]) -> Account:
    """Change an account's fields."""
    require_write(actor, "accounts")
    unknown = set(data) - ACCOUNT_FIELDS
    if unknown:
        raise ValidationFailed({name: "cannot be changed" for name in unknown})
    changes = apply_changes(account, _clean_account(dict(data)))
    if changes:
        account.name_key = text_key(account.name)
        account.save()
        audit_record(actor=actor, action="account.update", instance=account, changes=changes)
    return account


@transaction.atomic
def account_delete(*, actor: Any, account: Account) -> None:
    """Delete an account that has no orders, deals or tickets."""
    require_write(actor, "accounts")
    before = snapshot(account)
    try:
        with transaction.atomic():
            account.delete()
    except ProtectedError:
        raise Conflict("The account has orders, deals or tickets: it cannot be deleted.") from None
    audit_record(
        actor=actor,
        action="account.delete",
        object_type="contacts.account",
        object_id=before["id"],
        object_repr=before["name"],
        changes={k: [v, None] for k, v in before.items()},
    )


def _clean_contact(data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for name in ("first_name", "last_name", "title", "source", "language"):
        if name in data and data[name] is not None:
            data[name] = data[name].strip()
    if creating and not (data.get("first_name") or data.get("last_name")):
        errors["last_name"] = "a contact needs a first or a last name"
    if "lifecycle_stage" in data and data["lifecycle_stage"] not in LifecycleStage.values:
        errors["lifecycle_stage"] = f"must be one of {', '.join(LifecycleStage.values)}"
    birth = data.get("birth_date")
    if isinstance(birth, dt.date) and (birth > timezone.now().date() or birth.year < 1900):
        errors["birth_date"] = "must be between 1900 and today"
    if errors:
        raise ValidationFailed(errors)
    return data


def _set_name_keys(contact: Contact) -> None:
    contact.first_name_key = text_key(contact.first_name)
    contact.last_name_key = text_key(contact.last_name)


@transaction.atomic
def contact_create(
    *,
    actor: Any,
    first_name: str = "",
    last_name: str = "",
    owner: Any = None,
    team: Any = None,
    emails: list[str] | None = None,
    phones: list[str] | None = None,
    **fields: Any,
) -> Contact:
    """Create a contact with its first emails and phones; the first of each is primary."""
    require_write(actor, "contacts")
    owner = owner if owner is not None else actor
    data = _clean_contact({"first_name": first_name, "last_name": last_name, **fields}, creating=True)
    contact = Contact(**data, owner=owner, team=team if team is not None else getattr(owner, "team", None))
    _set_name_keys(contact)
    points = [(PointKind.EMAIL, value, f"emails.{i}") for i, value in enumerate(emails or [])]
    points += [(PointKind.PHONE, value, f"phones.{i}") for i, value in enumerate(phones or [])]
    prepared = [_prepare_point(kind, value, field=field) for kind, value, field in points]
    contact.save()
    audit_record(actor=actor, action="contact.create", instance=contact, changes=_created(contact))
    seen: set[tuple[str, str]] = set()
    for (kind, value, normalized), (_, _, field) in zip(prepared, points, strict=True):
        if (kind, normalized) in seen:
            raise ValidationFailed(field=field, reason="is given twice")
        seen.add((kind, normalized))
        primary = not any(k == kind for k, _ in seen - {(kind, normalized)})
        ContactPoint.objects.create(
            contact=contact, kind=kind, value=value, value_normalized=normalized, is_primary=primary
        )
    return contact


@transaction.atomic
def contact_update(*, actor: Any, contact: Contact, data: dict[str, Any]) -> Contact:
    """Change a contact's fields."""
    require_write(actor, "contacts")
    unknown = set(data) - CONTACT_FIELDS
    if unknown:
        raise ValidationFailed({name: "cannot be changed" for name in unknown})
    data = _clean_contact(dict(data), creating=False)
    changes = apply_changes(contact, data)
    if not (contact.first_name or contact.last_name):
        raise ValidationFailed(field="last_name", reason="a contact needs a first or a last name")
    if changes:
        _set_name_keys(contact)
        contact.save()
        audit_record(actor=actor, action="contact.update", instance=contact, changes=changes)
    return contact


@transaction.atomic
def contact_delete(*, actor: Any, contact: Contact) -> None:
    """Delete a contact that has no orders, deals or tickets, with its points, addresses and timeline."""
    require_write(actor, "contacts")
    before = snapshot(contact)
    try:
        with transaction.atomic():
            contact.delete()
    except ProtectedError:
        raise Conflict("The contact has orders, deals or tickets: it cannot be deleted.") from None
    audit_record(
        actor=actor,
        action="contact.delete",
        object_type="contacts.contact",
        object_id=before["id"],
        object_repr=f"{before['first_name']} {before['last_name']}".strip(),
        changes={k: [v, None] for k, v in before.items()},
    )


def _prepare_point(kind: str, value: str, *, label: str = "", field: str = "value") -> tuple[str, str, str]:
    if kind not in PointKind.values:
        raise ValidationFailed(field="kind", reason=f"must be one of {', '.join(PointKind.values)}")
    raw = (value or "").strip()
    if not raw:
        raise ValidationFailed(field=field, reason="is required")
    if len(raw) > 254:
        raise ValidationFailed(field=field, reason="must be at most 254 characters")
    try:
        if kind == PointKind.EMAIL:
            normalized = email_normalize(raw)
        elif kind in (PointKind.PHONE, PointKind.MOBILE):
            normalized = phone_normalize(raw)
        elif kind == PointKind.SOCIAL:
            normalized = raw.lstrip("@").lower()
        else:
            if not label.strip():
                raise ValidationFailed(field="label", reason="an external id needs the name of its source system")
            normalized = raw
    except ValueError as exc:
        raise ValidationFailed(field=field, reason=str(exc)) from None
    return kind, raw, normalized


@transaction.atomic
def contact_point_add(
    *,
    actor: Any,
    contact: Contact,
    kind: str,
    value: str,
    label: str = "",
    is_primary: bool = False,
    is_verified: bool = False,
) -> ContactPoint:
    """Add an email, phone, social handle or external id to a contact."""
    require_write(actor, "contacts")
    kind, raw, normalized = _prepare_point(kind, value, label=label)
    label = label.strip()
    if ContactPoint.objects.filter(contact=contact, kind=kind, value_normalized=normalized).exists():
        raise ValidationFailed(field="value", reason="the contact already has it")
    if (
        kind == PointKind.EXTERNAL_ID
        and ContactPoint.objects.filter(kind=kind, label=label, value_normalized=normalized).exists()
    ):
        raise ValidationFailed(field="value", reason=f"this {label} id belongs to another contact")
    has_primary = ContactPoint.objects.filter(contact=contact, kind=kind, is_primary=True).exists()
    if is_primary and has_primary:
        ContactPoint.objects.filter(contact=contact, kind=kind, is_primary=True).update(is_primary=False)
    point = ContactPoint.objects.create(
        contact=contact,
        kind=kind,
        value=raw,
        value_normalized=normalized,
        label=label,
        is_primary=is_primary or not has_primary,
        is_verified=is_verified,
    )
    audit_record(actor=actor, action="contact.point_add", instance=contact, changes={f"{kind}": [None, raw]})
    return point


@transaction.atomic
def contact_point_update(*, actor: Any, point: ContactPoint, data: dict[str, Any]) -> ContactPoint:
    """Change a contact point's value, label, primary or verified flag."""
    require_write(actor, "contacts")
    data = dict(data)
    if "value" in data or "label" in data:
        label = data.get("label", point.label)
        _, raw, normalized = _prepare_point(point.kind, data.get("value", point.value), label=label)
        clash = ContactPoint.objects.filter(
            contact_id=point.contact_id, kind=point.kind, value_normalized=normalized
        ).exclude(pk=point.pk)
        if clash.exists():
            raise ValidationFailed(field="value", reason="the contact already has it")
        data.update(value=raw, value_normalized=normalized)
    if data.get("is_primary"):
        ContactPoint.objects.filter(contact_id=point.contact_id, kind=point.kind, is_primary=True).exclude(
            pk=point.pk
        ).update(is_primary=False)
    changes = apply_changes(point, data)
    if changes:
        point.save()
        audit_record(
            actor=actor,
            action="contact.point_update",
            instance=point.contact,
            changes={f"{point.kind}.{k}": v for k, v in changes.items()},
        )
    return point


@transaction.atomic
def contact_point_remove(*, actor: Any, point: ContactPoint) -> None:
    """Remove a contact point; if it was primary, the oldest remaining one of its kind becomes primary."""
    require_write(actor, "contacts")
    contact, kind, value, was_primary = point.contact, point.kind, point.value, point.is_primary
    point.delete()
    if was_primary:
        successor = ContactPoint.objects.filter(contact=contact, kind=kind).order_by("id").first()
        if successor:
            ContactPoint.objects.filter(pk=successor.pk).update(is_primary=True)
    audit_record(actor=actor, action="contact.point_remove", instance=contact, changes={kind: [value, None]})


ADDRESS_FIELDS = {"kind", "line1", "line2", "postal_code", "city", "province", "country", "is_primary"}


def _clean_address(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    for name in ("line1", "city"):
        if name in data and not (data[name] or "").strip():
            errors[name] = "is required"
    if "kind" in data and data["kind"] not in AddressKind.values:
        errors["kind"] = f"must be one of {', '.join(AddressKind.values)}"
    if "country" in data:
        country = (data["country"] or "").strip().upper()
        if len(country) != 2 or not country.isalpha():
            errors["country"] = "must be a two-letter ISO 3166 code"
        data["country"] = country
    if errors:
        raise ValidationFailed(errors)
    return data


@transaction.atomic
def address_add(*, actor: Any, owner: Contact | Account, **fields: Any) -> Address:
    """Add a postal address to a contact or an account."""
    resource = "contacts" if isinstance(owner, Contact) else "accounts"
    require_write(actor, resource)
    data = _clean_address({"line1": "", "city": "", **fields})
    key = "contact" if isinstance(owner, Contact) else "account"
    siblings = Address.objects.filter(**{key: owner})
    if data.get("is_primary"):
        siblings.filter(is_primary=True).update(is_primary=False)
    elif not siblings.exists():
        data["is_primary"] = True
    address = Address.objects.create(**{key: owner}, **data)
    audit_record(actor=actor, action=f"{key}.address_add", instance=owner, changes={"address": [None, str(address)]})
    return address


@transaction.atomic
def address_update(*, actor: Any, address: Address, data: dict[str, Any]) -> Address:
    """Change a postal address."""
    owner = address.contact or address.account
    require_write(actor, "contacts" if address.contact_id else "accounts")
    unknown = set(data) - ADDRESS_FIELDS
    if unknown:
        raise ValidationFailed({name: "cannot be changed" for name in unknown})
    data = _clean_address(dict(data))
    if data.get("is_primary"):
        key = "contact" if address.contact_id else "account"
        Address.objects.filter(**{key: owner}, is_primary=True).exclude(pk=address.pk).update(is_primary=False)
    changes = apply_changes(address, data)
    if changes:
        address.save()
        audit_record(
            actor=actor,
            action="address.update",
            instance=owner,
            changes={f"address.{k}": v for k, v in changes.items()},
        )
    return address


@transaction.atomic
def address_remove(*, actor: Any, address: Address) -> None:
    """Remove a postal address."""
    owner = address.contact or address.account
    require_write(actor, "contacts" if address.contact_id else "accounts")
    text = str(address)
    address.delete()
    audit_record(actor=actor, action="address.remove", instance=owner, changes={"address": [text, None]})


@transaction.atomic
def contact_link_account(
    *, actor: Any, contact: Contact, account: Account, role: str = "", is_primary: bool = False
) -> ContactAccount:
    """Link a contact to an account (or change the role of an existing link)."""
    require_write(actor, "contacts")
    links = ContactAccount.objects.filter(contact=contact)
    if is_primary or not links.exists():
        links.filter(is_primary=True).exclude(account=account).update(is_primary=False)
        is_primary = True
    link, created = ContactAccount.objects.update_or_create(
        contact=contact, account=account, defaults={"role": role.strip()[:100], "is_primary": is_primary}
    )
    audit_record(
        actor=actor,
        action="contact.link_account",
        instance=contact,
        changes={"account": [None, account.pk], "role": [None, link.role]},
    )
    return link


@transaction.atomic
def contact_unlink_account(*, actor: Any, contact: Contact, account: Account) -> None:
    """Remove a contact's link to an account."""
    require_write(actor, "contacts")
    deleted, _ = ContactAccount.objects.filter(contact=contact, account=account).delete()
    if not deleted:
        raise ValidationFailed(field="account_id", reason="the contact is not linked to this account")
    audit_record(
        actor=actor, action="contact.unlink_account", instance=contact, changes={"account": [account.pk, None]}
    )


@transaction.atomic
def tag_create(*, actor: Any, name: str, color: str = "#6c757d") -> Tag:
    """Create a tag."""
    require_write(actor, "tags")
    name = name.strip()
    if not name:
        raise ValidationFailed(field="name", reason="is required")
    if Tag.objects.filter(name__iexact=name).exists():
        raise ValidationFailed(field="name", reason="a tag with this name already exists")
    if not (len(color) == 7 and color.startswith("#") and all(c in "0123456789abcdefABCDEF" for c in color[1:])):
        raise ValidationFailed(field="color", reason="must be a colour like #1a2b3c")
    tag = Tag.objects.create(name=name, color=color)
    audit_record(actor=actor, action="tag.create", instance=tag, changes=_created(tag))
    return tag


@transaction.atomic
def tag_delete(*, actor: Any, tag: Tag) -> None:
    """Delete a tag and remove it from every contact and account."""
    require_write(actor, "tags")
    name, pk = tag.name, tag.pk
    tag.delete()
    audit_record(
        actor=actor,
        action="tag.delete",
        object_type="contacts.tag",
        object_id=pk,
        object_repr=name,
        changes={"name": [name, None]},
    )


@transaction.atomic
def tag_attach(*, actor: Any, target: Contact | Account, tag: Tag) -> None:
    """Put a tag on a contact or an account."""
    require_write(actor, "contacts" if isinstance(target, Contact) else "accounts")
    target.tags.add(tag)
    audit_record(actor=actor, action="tag.attach", instance=target, changes={"tags": [None, tag.name]})


@transaction.atomic
def tag_detach(*, actor: Any, target: Contact | Account, tag: Tag) -> None:
    """Take a tag off a contact or an account."""
    require_write(actor, "contacts" if isinstance(target, Contact) else "accounts")
    target.tags.remove(tag)
    audit_record(actor=actor, action="tag.detach", instance=target, changes={"tags": [tag.name, None]})


@transaction.atomic
def consent_record(
    *,
    actor: Any,
    contact: Contact,
    purpose: str,
    channel: str,
    status: str,
    source: str,
    proof: str = "",
    occurred_at: dt.datetime | None = None,
) -> ConsentEvent:
    """Append a consent given or withdrawn to the ledger; the current state follows from it."""
    require_write(actor, "consents")
    errors: dict[str, str] = {}
    if purpose not in ConsentPurpose.values:
        errors["purpose"] = f"must be one of {', '.join(ConsentPurpose.values)}"
    if channel not in ConsentChannel.values:
        errors["channel"] = f"must be one of {', '.join(ConsentChannel.values)}"
    if status not in ConsentStatus.values:
        errors["status"] = f"must be one of {', '.join(ConsentStatus.values)}"
    if not (source or "").strip():
        errors["source"] = "is required: say where the consent was collected"
    now = timezone.now()
    when = occurred_at or now
    if timezone.is_naive(when):
        errors["occurred_at"] = "must include a time zone"
    elif when > now + dt.timedelta(minutes=5):
        errors["occurred_at"] = "cannot be in the future"
    if errors:
        raise ValidationFailed(errors)
    event = ConsentEvent.objects.create(
        contact=contact,
        purpose=purpose,
        channel=channel,
        status=status,
        source=source.strip()[:100],
        proof=proof,
        occurred_at=when,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        actor=actor,
        action=f"consent.{status}",
        instance=contact,
        changes={f"consent.{purpose}.{channel}": [None, status]},
    )
    return event
