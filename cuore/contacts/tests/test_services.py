"""Contact and account services: validation, normalisation, audit, consent ledger."""

import datetime as dt

import pytest
from django.utils import timezone

from cuore.contacts import selectors, services
from cuore.contacts.models import ConsentEvent, ContactPoint
from cuore.contacts.tests.factories import make_contact
from cuore.core.audit import audit_channel
from cuore.core.errors import Forbidden, ValidationFailed
from cuore.core.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_contact_create_normalises_points_and_audits(make_user):
    rep = make_user(role="sales")

    with audit_channel("import"):
        contact = services.contact_create(
            actor=rep,
            first_name="  Nicolò ",
            last_name="D'Amico",
            emails=["Nico@Example.COM"],
            phones=["347 123 4567", "+44 20 7946 0958"],
        )

    assert (contact.first_name, contact.first_name_key, contact.last_name_key) == ("Nicolò", "nicolo", "damico")
    assert contact.owner == rep
    points = list(contact.points.order_by("id").values_list("kind", "value_normalized", "is_primary"))
    assert points == [
        ("email", "nico@example.com", True),
        ("phone", "+393471234567", True),
        ("phone", "+442079460958", False),
    ]
    entry = AuditEntry.objects.get(action="contact.create")
    assert (entry.actor_id, entry.channel, entry.changes["last_name"]) == (rep.id, "import", [None, "D'Amico"])


def test_contact_create_refuses_bad_email_and_saves_nothing(make_user):
    with pytest.raises(ValidationFailed) as excinfo:
        services.contact_create(
            actor=make_user(role="admin"), last_name="Verdi", emails=["ok@example.com", "not-an-email"]
        )

    assert excinfo.value.errors == {"emails.1": "is not a valid email address"}
    assert not ContactPoint.objects.exists()
    from cuore.contacts.models import Contact

    assert not Contact.objects.exists()


def test_contact_needs_a_name(make_user):
    with pytest.raises(ValidationFailed) as excinfo:
        services.contact_create(actor=make_user(role="admin"), first_name=" ", last_name="")
    assert "last_name" in excinfo.value.errors


def test_analyst_cannot_write(make_user):
    with pytest.raises(Forbidden):
        services.contact_create(actor=make_user(role="analyst"), last_name="Bianchi")


def test_update_records_before_and_after(make_user):
    admin = make_user(role="admin")
    contact = make_contact(last_name="Neri")

    services.contact_update(actor=admin, contact=contact, data={"last_name": "Nerì", "title": "CFO"})

    entry = AuditEntry.objects.get(action="contact.update")
    assert entry.changes == {"last_name": ["Neri", "Nerì"], "title": ["", "CFO"]}
    contact.refresh_from_db()
    assert contact.last_name_key == "neri"


def test_update_without_change_writes_no_audit(make_user):
    contact = make_contact(last_name="Neri")

    services.contact_update(actor=make_user(role="admin"), contact=contact, data={"last_name": "Neri"})

    assert not AuditEntry.objects.filter(action="contact.update").exists()


def test_account_vat_is_normalised_and_checked(make_user):
    admin = make_user(role="admin")

    account = services.account_create(actor=admin, name="Acme S.p.A.", vat_number="IT 0074 3110 157")

    assert account.vat_number == "IT00743110157"
    with pytest.raises(ValidationFailed) as excinfo:
        services.account_create(actor=admin, name="Broken", vat_number="00743110158")
    assert excinfo.value.errors == {"vat_number": "the check digit of this Italian VAT number is wrong"}


def test_external_id_belongs_to_one_contact(make_user):
    admin = make_user(role="admin")
    first, second = make_contact(), make_contact()
    services.contact_point_add(actor=admin, contact=first, kind="external_id", value="C-77", label="webshop")

    with pytest.raises(ValidationFailed) as excinfo:
        services.contact_point_add(actor=admin, contact=second, kind="external_id", value="C-77", label="webshop")

    assert excinfo.value.errors == {"value": "this webshop id belongs to another contact"}


def test_primary_moves_when_primary_point_removed(make_user):
    admin = make_user(role="admin")
    contact = make_contact(email="a@example.com")
    services.contact_point_add(actor=admin, contact=contact, kind="email", value="b@example.com")
    primary = contact.points.get(is_primary=True)

    services.contact_point_remove(actor=admin, point=primary)

    assert list(contact.points.values_list("value", "is_primary")) == [("b@example.com", True)]


def test_consent_state_is_the_latest_event_per_purpose_and_channel(make_user):
    marketer = make_user(role="marketing")
    contact = make_contact()
    now = timezone.now()
    services.consent_record(
        actor=marketer,
        contact=contact,
        purpose="marketing",
        channel="email",
        status="granted",
        source="web form",
        occurred_at=now - dt.timedelta(days=10),
    )
    services.consent_record(
        actor=marketer,
        contact=contact,
        purpose="marketing",
        channel="email",
        status="withdrawn",
        source="unsubscribe link",
        occurred_at=now - dt.timedelta(days=1),
    )
    services.consent_record(
        actor=marketer,
        contact=contact,
        purpose="newsletter",
        channel="email",
        status="granted",
        source="web form",
        occurred_at=now - dt.timedelta(days=5),
    )

    state = selectors.consent_state(actor=marketer, contact=contact)

    assert [(e.purpose, e.channel, e.status) for e in state] == [
        ("marketing", "email", "withdrawn"),
        ("newsletter", "email", "granted"),
    ]
    assert ConsentEvent.objects.count() == 3


def test_consent_ledger_is_append_only(make_user):
    event = services.consent_record(
        actor=make_user(role="marketing"),
        contact=make_contact(),
        purpose="marketing",
        channel="sms",
        status="granted",
        source="store",
    )

    event.status = "withdrawn"
    with pytest.raises(RuntimeError):
        event.save()


def test_consent_in_the_future_is_refused(make_user):
    with pytest.raises(ValidationFailed) as excinfo:
        services.consent_record(
            actor=make_user(role="marketing"),
            contact=make_contact(),
            purpose="marketing",
            channel="sms",
            status="granted",
            source="x",
            occurred_at=timezone.now() + dt.timedelta(days=1),
        )
    assert excinfo.value.errors == {"occurred_at": "cannot be in the future"}


def test_audit_log_refuses_update_in_the_database(make_user):
    from django.db import DatabaseError, transaction

    services.tag_create(actor=make_user(role="admin"), name="vip")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.update(action="tampered")
    assert AuditEntry.objects.get().action == "tag.create"
