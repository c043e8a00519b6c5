"""Merging two contacts, splitting a source record off one, and undoing both (cuore.identity.merging).

Here rather than in cuore/identity/tests: the history that moves belongs to orders, sales, service and
interactions, which the identity app may not import (import-linter's layers).
"""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.contacts.models import Address, ConsentEvent, Contact, ContactAccount, ContactPoint, Tag
from cuore.contacts.services import consent_record
from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.models import AuditEntry
from cuore.core.roles import Role
from cuore.identity.merging import contacts_merge, merge_undo, record_split
from cuore.identity.models import LinkMethod, LinkStatus, MergeEvent, RecordKind, Source, SourceRecord
from cuore.interactions.models import Interaction
from cuore.interactions.tests.factories import make_interaction, make_ticket
from cuore.orders.models import Order
from cuore.orders.tests.factories import make_order
from cuore.sales.models import Deal
from cuore.sales.tests.factories import make_deal, make_pipeline
from cuore.service.models import Ticket


@pytest.fixture
def admin(make_user):
    return make_user(role=Role.ADMIN)


@pytest.fixture
def pair(admin):
    """Two contacts for one person, each with its own history."""
    kept = make_contact(first_name="Giuseppe", last_name="Verdi", email="g.verdi@example.com", phone="+393331112222")
    other = make_contact(first_name="Beppe", last_name="Verdi", email="beppe@example.com", phone="+393331112222")
    account = make_account(name="Verdi Srl")
    ContactAccount.objects.create(contact=kept, account=account, role="owner")
    ContactAccount.objects.create(contact=other, account=account, role="buyer")
    Address.objects.create(contact=other, line1="Via Roma 1", city="Busseto", postal_code="43011")
    tag = Tag.objects.create(name="opera")
    other.tags.add(tag)
    history = {
        "order": make_order(contact=other),
        "interaction": make_interaction(contact=other, subject="asked for a quote"),
        "ticket": make_ticket(subject="late delivery", contact=other),
        "deal": make_deal(stage=make_pipeline().stages.first(), contact=other),
        "consent": consent_record(
            actor=admin,
            contact=other,
            purpose="newsletter",
            channel="email",
            status="granted",
            source="web form",
            occurred_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        ),
    }
    return kept, other, account, tag, history


def test_a_merge_moves_the_whole_history_and_undo_puts_it_back(admin, pair):
    kept, other, account, tag, history = pair
    other_id, other_phone = other.pk, ContactPoint.objects.get(contact=other, value_normalized="+393331112222").pk

    # when the second contact is merged into the first
    event = contacts_merge(actor=admin, survivor=kept, other=other, reason="same person: Beppe is Giuseppe")

    # then its orders, interactions, tickets, deals, consents, points, address and tags are the survivor's
    assert not Contact.objects.filter(pk=other_id).exists()
    assert Order.objects.get(pk=history["order"].pk).contact_id == kept.pk
    assert Interaction.objects.get(pk=history["interaction"].pk).contact_id == kept.pk
    assert Ticket.objects.get(pk=history["ticket"].pk).contact_id == kept.pk
    assert Deal.objects.get(pk=history["deal"].pk).contact_id == kept.pk
    assert ConsentEvent.objects.get(pk=history["consent"].pk).contact_id == kept.pk
    assert set(ContactPoint.objects.filter(contact=kept).values_list("value_normalized", flat=True)) == {
        "g.verdi@example.com",
        "beppe@example.com",
        "+393331112222",
    }
    assert Address.objects.filter(contact=kept, line1="Via Roma 1").exists()
    assert list(kept.tags.all()) == [tag]
    # the twin rows (the same phone, the same account link) could not move: they are kept in the event
    assert {row["model"] for row in event.dropped} == {"contacts.contactpoint", "contacts.contactaccount"}
    assert ContactAccount.objects.filter(account=account).count() == 1
    assert event.actor == admin and event.reason == "same person: Beppe is Giuseppe"
    assert AuditEntry.objects.filter(action="contact.merge", object_id=str(kept.pk)).exists()

    # when the merge is undone
    merge_undo(actor=admin, event=event)

    # then the contact is back with its id and fields, and exactly its history moved back
    restored = Contact.objects.get(pk=other_id)
    assert (restored.first_name, restored.last_name) == ("Beppe", "Verdi")
    assert Order.objects.get(pk=history["order"].pk).contact_id == other_id
    assert Interaction.objects.get(pk=history["interaction"].pk).contact_id == other_id
    assert Ticket.objects.get(pk=history["ticket"].pk).contact_id == other_id
    assert Deal.objects.get(pk=history["deal"].pk).contact_id == other_id
    assert ConsentEvent.objects.get(pk=history["consent"].pk).contact_id == other_id
    assert ContactPoint.objects.filter(pk=other_phone, contact_id=other_id).exists()
    assert ContactAccount.objects.get(contact_id=other_id, account=account).role == "buyer"
    assert Address.objects.filter(contact_id=other_id, line1="Via Roma 1").exists()
    assert not Address.objects.filter(contact=kept).exists()
    assert list(restored.tags.all()) == [tag] and not kept.tags.exists()
    assert set(ContactPoint.objects.filter(contact=kept).values_list("value_normalized", flat=True)) == {
        "g.verdi@example.com",
        "+393331112222",
    }
    event.refresh_from_db()
    assert event.undone_at is not None and event.undone_by == admin
    with pytest.raises(Conflict, match="already been undone"):
        merge_undo(actor=admin, event=event)


def test_a_contact_cannot_be_merged_into_itself_and_read_only_roles_cannot_merge(admin, make_user, pair):
    kept, other, *_ = pair
    with pytest.raises(ValidationFailed):
        contacts_merge(actor=admin, survivor=kept, other=kept)
    from cuore.core.errors import Forbidden

    with pytest.raises(Forbidden):
        contacts_merge(actor=make_user(role=Role.ANALYST), survivor=kept, other=other)
    assert Contact.objects.filter(pk=other.pk).exists()


def test_undoing_a_merge_whose_survivor_was_merged_away_later_is_refused_until_that_is_undone(admin, pair):
    kept, other, *_ = pair
    third = make_contact(first_name="G.", last_name="Verdi")
    first = contacts_merge(actor=admin, survivor=kept, other=other)
    second = contacts_merge(actor=admin, survivor=third, other=kept)

    with pytest.raises(Conflict, match="undo that first"):
        merge_undo(actor=admin, event=first)

    merge_undo(actor=admin, event=second)
    merge_undo(actor=admin, event=first)
    assert Contact.objects.filter(pk__in=[kept.pk, other.pk, third.pk]).count() == 3
    assert Order.objects.filter(contact=other).count() == 1


def _record(source, key, contact, **values):
    return SourceRecord.objects.create(
        source=source,
        kind=RecordKind.CONTACT,
        source_key=key,
        values=values,
        raw={"id": key},
        contact=contact,
        status=LinkStatus.LINKED,
        link_method=LinkMethod.PROBABILISTIC,
    )


def test_a_split_takes_a_record_and_the_history_imported_under_it_to_a_new_contact(admin):
    shop, till = Source.objects.create(name="webshop"), Source.objects.create(name="till")
    contact = make_contact(first_name="Anna", last_name="Bianchi")
    mine = _record(shop, "W1", contact, first_name="Anna", last_name="Bianchi", email="anna@example.com")
    wrong = _record(till, "T9", contact, first_name="Annalisa", last_name="Bianchi", email="annalisa@example.com")
    their_order, my_order = make_order(contact=contact), make_order(contact=contact)
    SourceRecord.objects.create(
        source=till, kind=RecordKind.ORDER, source_key="O1", parent=wrong, contact=contact,
        object_type="orders.order", object_id=their_order.pk,
    )  # fmt: skip
    SourceRecord.objects.create(
        source=shop, kind=RecordKind.ORDER, source_key="O2", parent=mine, contact=contact,
        object_type="orders.order", object_id=my_order.pk,
    )  # fmt: skip

    # when the till's record is split off
    event = record_split(actor=admin, record=wrong, reason="a different person with the same surname")

    # then it has a contact of its own, built from it, with the order imported under it
    new = Contact.objects.get(pk=event.other_id)
    assert (new.first_name, new.last_name) == ("Annalisa", "Bianchi")
    assert SourceRecord.objects.get(pk=wrong.pk).contact == new
    assert SourceRecord.objects.get(pk=wrong.pk).link_method == LinkMethod.SPLIT
    assert Order.objects.get(pk=their_order.pk).contact == new
    assert Order.objects.get(pk=my_order.pk).contact == contact
    assert SourceRecord.objects.get(pk=mine.pk).contact == contact
    assert ContactPoint.objects.filter(contact=new, value_normalized="annalisa@example.com").exists()

    # when the split is undone, the record and its order are back and the new contact is gone
    merge_undo(actor=admin, event=event)
    assert SourceRecord.objects.get(pk=wrong.pk).contact == contact
    assert Order.objects.get(pk=their_order.pk).contact == contact
    assert not Contact.objects.filter(pk=new.pk).exists()
    assert MergeEvent.objects.get(pk=event.pk).undone_at is not None


def test_the_only_record_of_a_contact_cannot_be_split_off(admin):
    contact = make_contact()
    record = _record(Source.objects.create(name="crm"), "1", contact, last_name=contact.last_name)
    with pytest.raises(Conflict, match="only record"):
        record_split(actor=admin, record=record)


def test_the_contact_kept_has_one_primary_of_each_kind_and_undo_gives_the_other_its_own_back(admin, pair):
    kept, other, _account, _tag, _history = pair
    Address.objects.create(contact=kept, line1="Via Verdi 3", city="Parma", postal_code="43121", is_primary=True)
    Address.objects.filter(contact=other).update(is_primary=True)
    primaries = {
        contact.pk: sorted(
            list(contact.points.filter(is_primary=True).values_list("pk", flat=True))
            + [-pk for pk in contact.addresses.filter(is_primary=True).values_list("pk", flat=True)]
        )
        for contact in (kept, other)
    }

    event = contacts_merge(actor=admin, survivor=kept, other=other)

    # The survivor's own email, phone and address stay primary; the other's moved rows are not.
    kinds = set(kept.points.values_list("kind", flat=True))
    assert {kind: kept.points.filter(kind=kind, is_primary=True).count() for kind in kinds} == dict.fromkeys(kinds, 1)
    assert kept.points.filter(kind="email").count() == 2
    assert list(kept.addresses.filter(is_primary=True).values_list("city", flat=True)) == ["Parma"]

    merge_undo(actor=admin, event=event)

    restored = Contact.objects.get(pk=other.pk)
    for contact in (kept, restored):
        assert (
            sorted(
                list(contact.points.filter(is_primary=True).values_list("pk", flat=True))
                + [-pk for pk in contact.addresses.filter(is_primary=True).values_list("pk", flat=True)]
            )
            == primaries[contact.pk]
        )
