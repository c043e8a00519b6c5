"""Factories for accounts and contacts, through the bulk-free ORM (tests only)."""

from __future__ import annotations

import itertools

from cuore.contacts.models import Account, Contact, ContactPoint, PointKind
from cuore.core.normalize import email_normalize, phone_normalize, text_key

_seq = itertools.count(1)


def make_account(*, name: str | None = None, owner=None, team=None, vat_number: str = "", **fields) -> Account:
    name = name or f"Company {next(_seq)}"
    return Account.objects.create(
        name=name,
        name_key=text_key(name),
        owner=owner,
        team=team if team is not None else getattr(owner, "team", None),
        vat_number=vat_number,
        **fields,
    )


def make_contact(
    *,
    first_name: str = "Mario",
    last_name: str | None = None,
    owner=None,
    team=None,
    email: str | None = None,
    phone: str | None = None,
    **fields,
) -> Contact:
    last_name = last_name or f"Rossi{next(_seq)}"
    contact = Contact.objects.create(
        first_name=first_name,
        last_name=last_name,
        first_name_key=text_key(first_name),
        last_name_key=text_key(last_name),
        owner=owner,
        team=team if team is not None else getattr(owner, "team", None),
        **fields,
    )
    if email:
        ContactPoint.objects.create(
            contact=contact, kind=PointKind.EMAIL, value=email, value_normalized=email_normalize(email), is_primary=True
        )
    if phone:
        ContactPoint.objects.create(
            contact=contact,
            kind=PointKind.MOBILE,
            value=phone,
            value_normalized=phone_normalize(phone),
            is_primary=True,
        )
    return contact
