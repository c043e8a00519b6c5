"""Services of the interactions app: logging on any channel, idempotently; corrections; conversations."""

from __future__ import annotations

import datetime as dt

import pytest

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.audit import audit_channel
from cuore.core.errors import Forbidden, NotFound, ValidationFailed
from cuore.core.models import AuditEntry
from cuore.interactions import services
from cuore.interactions.models import Conversation, Interaction
from cuore.interactions.tests.factories import make_conversation, make_interaction, make_ticket
from cuore.orders.tests.factories import make_order
from cuore.sales.tests.factories import make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


def audit(action: str) -> list[tuple]:
    return list(
        AuditEntry.objects.filter(action=action)
        .order_by("id")
        .values_list("actor__username", "object_type", "object_id", "channel", "changes")
    )


# ---- logging -------------------------------------------------------------------------------------


def test_log_creates_the_interaction_and_its_audit_entry(rep, clock):
    contact = make_contact(owner=rep)
    when = clock.now - dt.timedelta(hours=2)

    logged = services.interaction_log(
        actor=rep,
        channel="phone",
        direction="out",
        contact=contact,
        occurred_at=when,
        subject="  Called about the renewal  ",
        body="She will think about it.",
    )

    interaction = Interaction.objects.get()
    assert logged.created is True
    assert logged.interaction == interaction
    assert (
        interaction.channel,
        interaction.direction,
        interaction.occurred_at,
        interaction.contact_id,
        interaction.account_id,
        interaction.user_id,
        interaction.subject,
        interaction.body,
        interaction.conversation_id,
        interaction.source,
        interaction.external_id,
    ) == (
        "phone",
        "out",
        when,
        contact.id,
        None,
        rep.id,
        "Called about the renewal",
        "She will think about it.",
        None,
        "",
        "",
    )
    assert audit("interaction.create") == [
        (
            "rep",
            "interactions.interaction",
            str(interaction.id),
            "job",
            {"channel": [None, "phone"], "direction": [None, "out"], "contact": [None, contact.id]},
        )
    ]


def test_log_is_audited_under_the_channel_it_came_through(rep):
    contact = make_contact(owner=rep)

    with audit_channel("import"):
        logged = services.interaction_log(
            actor=rep, channel="email", direction="in", contact=contact, source="gmail", external_id="m-1"
        )

    assert audit("interaction.create") == [
        (
            "rep",
            "interactions.interaction",
            str(logged.interaction.id),
            "import",
            {
                "channel": [None, "email"],
                "direction": [None, "in"],
                "contact": [None, contact.id],
                "source": [None, "gmail"],
                "external_id": [None, "m-1"],
            },
        )
    ]


def test_occurred_at_defaults_to_now(rep, clock):
    logged = services.interaction_log(actor=rep, channel="sms", direction="in", contact=make_contact(owner=rep))

    assert logged.interaction.occurred_at == clock.now


def test_the_same_source_and_external_id_are_logged_once(rep):
    contact = make_contact(owner=rep)

    first = services.interaction_log(
        actor=rep, channel="email", direction="in", contact=contact, source="gmail", external_id="msg-42", subject="A"
    )
    again = services.interaction_log(
        actor=rep,
        channel="email",
        direction="in",
        contact=contact,
        source=" gmail ",
        external_id=" msg-42 ",
        subject="A, again",
    )

    assert (first.created, again.created) == (True, False)
    assert again.interaction.pk == first.interaction.pk
    assert list(Interaction.objects.values_list("subject", flat=True)) == ["A"]
    assert len(audit("interaction.create")) == 1


def test_the_same_external_id_from_another_source_is_another_interaction(rep):
    contact = make_contact(owner=rep)

    gmail = services.interaction_log(
        actor=rep, channel="email", direction="in", contact=contact, source="gmail", external_id="1"
    )
    twilio = services.interaction_log(
        actor=rep, channel="sms", direction="in", contact=contact, source="twilio", external_id="1"
    )

    assert (gmail.created, twilio.created) == (True, True)
    assert Interaction.objects.count() == 2


def test_interactions_without_an_external_id_are_never_merged(rep):
    contact = make_contact(owner=rep)

    for _ in range(2):
        services.interaction_log(actor=rep, channel="note", direction="out", contact=contact, source="crm")

    assert Interaction.objects.count() == 2


def test_an_external_id_needs_a_source(rep):
    contact = make_contact(owner=rep)

    with pytest.raises(ValidationFailed) as raised:
        services.interaction_log(
            actor=rep, channel="email", direction="in", contact=contact, source="  ", external_id="msg-1"
        )

    assert raised.value.errors == {"source": "is required with an external id"}
    assert not Interaction.objects.exists()


def test_an_interaction_needs_a_contact_or_an_account(rep):
    with pytest.raises(ValidationFailed) as raised:
        services.interaction_log(actor=rep, channel="email", direction="in")

    assert list(raised.value.errors) == ["contact_id"]
    assert not Interaction.objects.exists()
    assert not AuditEntry.objects.exists()


def test_an_account_alone_is_enough(rep):
    account = make_account(owner=rep)

    logged = services.interaction_log(actor=rep, channel="meeting", direction="out", account=account)

    assert (logged.interaction.contact_id, logged.interaction.account_id) == (None, account.id)


def test_contact_and_account_come_from_a_linked_ticket(agent):
    contact, account = make_contact(), make_account()
    ticket = make_ticket(contact=contact, account=account)

    logged = services.interaction_log(actor=agent, channel="email", direction="in", ticket=ticket)

    assert (logged.interaction.contact_id, logged.interaction.account_id, logged.interaction.ticket_id) == (
        contact.id,
        account.id,
        ticket.id,
    )


def test_contact_and_account_come_from_a_linked_deal(rep):
    contact, account = make_contact(owner=rep), make_account(owner=rep)
    deal = make_deal(stage=stage_of(make_pipeline(), "Lead"), owner=rep, contact=contact, account=account)

    logged = services.interaction_log(actor=rep, channel="meeting", direction="out", deal=deal)

    assert (logged.interaction.contact_id, logged.interaction.account_id, logged.interaction.deal_id) == (
        contact.id,
        account.id,
        deal.id,
    )


def test_contact_and_account_come_from_a_linked_order(rep):
    contact, account = make_contact(owner=rep), make_account(owner=rep)
    order = make_order(contact=contact, account=account)

    logged = services.interaction_log(actor=rep, channel="phone", direction="in", order=order)

    assert (logged.interaction.contact_id, logged.interaction.account_id, logged.interaction.order_id) == (
        contact.id,
        account.id,
        order.id,
    )


def test_a_contact_given_wins_over_the_linked_records(rep):
    given, of_order = make_contact(owner=rep), make_contact(owner=rep)
    order = make_order(contact=of_order)

    logged = services.interaction_log(actor=rep, channel="phone", direction="in", contact=given, order=order)

    assert (logged.interaction.contact_id, logged.interaction.account_id) == (given.id, None)


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"channel": "fax"}, ["channel"]),
        ({"direction": "sideways"}, ["direction"]),
        ({"occurred_at": dt.datetime(2026, 3, 10, 11, 0)}, ["occurred_at"]),
        ({"occurred_at": dt.datetime(2026, 3, 11, 12, 1, tzinfo=dt.UTC)}, ["occurred_at"]),
        ({"channel": "fax", "direction": "up"}, ["channel", "direction"]),
    ],
)
def test_log_refuses_bad_values_naming_each_field(rep, clock, overrides, errors):
    args = {"channel": "email", "direction": "in", "contact": make_contact(owner=rep), **overrides}

    with pytest.raises(ValidationFailed) as raised:
        services.interaction_log(actor=rep, **args)

    assert sorted(raised.value.errors) == errors
    assert not Interaction.objects.exists()


def test_naive_and_far_future_times_say_why(rep, clock):
    contact = make_contact(owner=rep)

    with pytest.raises(ValidationFailed) as naive:
        services.interaction_log(
            actor=rep, channel="email", direction="in", contact=contact, occurred_at=dt.datetime(2026, 3, 10, 11, 0)
        )
    with pytest.raises(ValidationFailed) as future:
        services.interaction_log(
            actor=rep, channel="email", direction="in", contact=contact, occurred_at=clock.now + dt.timedelta(days=2)
        )

    assert naive.value.errors == {"occurred_at": "must include a time zone"}
    assert future.value.errors == {"occurred_at": "cannot be more than a day in the future"}


def test_up_to_a_day_ahead_is_accepted_for_clocks_that_run_fast(rep, clock):
    when = clock.now + dt.timedelta(days=1)

    logged = services.interaction_log(
        actor=rep, channel="email", direction="in", contact=make_contact(owner=rep), occurred_at=when
    )

    assert logged.interaction.occurred_at == when


# ---- conversations -------------------------------------------------------------------------------


def test_a_conversation_of_another_contact_is_refused(rep):
    mine, theirs = make_contact(owner=rep), make_contact(owner=rep)
    conversation = make_conversation(contact=theirs)

    with pytest.raises(ValidationFailed) as raised:
        services.interaction_log(actor=rep, channel="email", direction="in", contact=mine, conversation=conversation)

    assert raised.value.errors == {"conversation_id": "belongs to another contact"}
    assert not Interaction.objects.exists()


def test_a_conversation_with_a_contact_is_refused_to_an_account_only_interaction(rep):
    conversation = make_conversation(contact=make_contact(owner=rep))

    with pytest.raises(ValidationFailed) as raised:
        services.interaction_log(
            actor=rep, channel="email", direction="in", account=make_account(owner=rep), conversation=conversation
        )

    assert list(raised.value.errors) == ["conversation_id"]


def test_start_conversation_opens_a_thread_that_later_messages_move_forward(rep, clock):
    contact = make_contact(owner=rep)
    opened_at = clock.now - dt.timedelta(hours=3)

    first = services.interaction_log(
        actor=rep,
        channel="chat",
        direction="in",
        contact=contact,
        occurred_at=opened_at,
        subject="Where is my parcel?",
        start_conversation=True,
    ).interaction
    conversation = Conversation.objects.get()
    reply = services.interaction_log(
        actor=rep, channel="chat", direction="out", contact=contact, conversation=conversation
    ).interaction
    conversation.refresh_from_db()

    assert (conversation.subject, conversation.channel, conversation.contact_id) == (
        "Where is my parcel?",
        "chat",
        contact.id,
    )
    assert (conversation.started_at, conversation.last_at) == (opened_at, clock.now)
    assert first.conversation_id == reply.conversation_id == conversation.id


def test_an_older_message_does_not_move_a_conversation_back(rep, clock):
    contact = make_contact(owner=rep)
    conversation = make_conversation(contact=contact, at=clock.now)

    services.interaction_log(
        actor=rep,
        channel="email",
        direction="in",
        contact=contact,
        conversation=conversation,
        occurred_at=clock.now - dt.timedelta(days=3),
    )

    conversation.refresh_from_db()
    assert conversation.last_at == clock.now


def test_start_conversation_with_a_conversation_given_opens_no_other(rep):
    contact = make_contact(owner=rep)
    conversation = make_conversation(contact=contact)

    logged = services.interaction_log(
        actor=rep, channel="email", direction="in", contact=contact, conversation=conversation, start_conversation=True
    )

    assert Conversation.objects.count() == 1
    assert logged.interaction.conversation_id == conversation.id


def test_conversation_create(rep, clock):
    contact = make_contact(owner=rep)

    conversation = services.conversation_create(actor=rep, contact=contact, channel="social", subject=" Complaint ")

    assert (conversation.subject, conversation.channel, conversation.contact_id) == ("Complaint", "social", contact.id)
    assert (conversation.started_at, conversation.last_at) == (clock.now, clock.now)
    assert audit("conversation.create") == [
        (
            "rep",
            "interactions.conversation",
            str(conversation.id),
            "job",
            {"contact": [None, contact.id], "channel": [None, "social"]},
        )
    ]


def test_conversation_create_refuses_an_unknown_channel(rep):
    with pytest.raises(ValidationFailed) as raised:
        services.conversation_create(actor=rep, contact=make_contact(owner=rep), channel="pigeon")

    assert list(raised.value.errors) == ["channel"]
    assert not Conversation.objects.exists()


# ---- tickets: the first response -----------------------------------------------------------------


def test_an_outbound_reply_on_a_ticket_records_its_first_response(agent, clock):
    ticket = make_ticket(contact=make_contact())
    answered_at = clock.advance(minutes=30)

    services.interaction_log(actor=agent, channel="email", direction="out", ticket=ticket, body="Try turning it off.")
    services.interaction_log(
        actor=agent, channel="email", direction="out", ticket=ticket, occurred_at=clock.advance(minutes=30)
    )

    ticket.refresh_from_db()
    assert ticket.first_response_at == answered_at
    assert AuditEntry.objects.filter(action="ticket.first_response", object_id=str(ticket.id)).count() == 1


@pytest.mark.parametrize(
    ("channel", "direction"),
    [("email", "in"), ("note", "out"), ("note", "in"), ("phone", "in")],
)
def test_inbound_messages_and_internal_notes_are_not_a_first_response(agent, clock, channel, direction):
    ticket = make_ticket(contact=make_contact())
    clock.advance(minutes=5)

    services.interaction_log(actor=agent, channel=channel, direction=direction, ticket=ticket)

    ticket.refresh_from_db()
    assert ticket.first_response_at is None
    assert Interaction.objects.filter(ticket=ticket).count() == 1


def test_a_reply_timestamped_a_little_ahead_still_logs_and_stops_the_clock(agent, clock):
    # A client clock running fast is tolerated for the interaction (up to a day); the reply must not
    # then fail on the ticket's own rule, and the ticket cannot be answered later than now.
    ticket = make_ticket(contact=make_contact())

    logged = services.interaction_log(
        actor=agent, channel="email", direction="out", ticket=ticket, occurred_at=clock.now + dt.timedelta(hours=2)
    )

    ticket.refresh_from_db()
    assert logged.created is True
    assert ticket.first_response_at == clock.now


def test_a_reply_older_than_its_ticket_logs_and_answers_the_ticket_when_it_was_opened(agent, clock):
    # An imported thread: the reply was sent before the ticket was opened in Cuore.
    ticket = make_ticket(contact=make_contact())
    clock.advance(hours=1)

    logged = services.interaction_log(
        actor=agent,
        channel="email",
        direction="out",
        ticket=ticket,
        occurred_at=ticket.created_at - dt.timedelta(hours=1),
        source="gmail",
        external_id="reply-1",
    )

    ticket.refresh_from_db()
    assert logged.created is True
    assert logged.interaction.occurred_at == ticket.created_at - dt.timedelta(hours=1)
    assert ticket.first_response_at == ticket.created_at


# ---- corrections ---------------------------------------------------------------------------------


@pytest.fixture
def logged_by_rep(rep, clock):
    return services.interaction_log(
        actor=rep, channel="phone", direction="out", contact=make_contact(owner=rep), subject="Call"
    ).interaction


def test_the_author_corrects_an_interaction(rep, clock, logged_by_rep):
    earlier = clock.now - dt.timedelta(hours=1)

    updated = services.interaction_update(
        actor=rep,
        interaction=logged_by_rep,
        data={"subject": "Call back", "direction": "in", "occurred_at": earlier},
    )

    logged_by_rep.refresh_from_db()
    assert updated is logged_by_rep
    assert (logged_by_rep.subject, logged_by_rep.direction, logged_by_rep.occurred_at) == ("Call back", "in", earlier)
    assert audit("interaction.update") == [
        (
            "rep",
            "interactions.interaction",
            str(logged_by_rep.id),
            "job",
            {
                "subject": ["Call", "Call back"],
                "direction": ["out", "in"],
                "occurred_at": [clock.now.isoformat(), earlier.isoformat()],
            },
        )
    ]


def test_an_update_that_changes_nothing_writes_no_audit_entry(rep, logged_by_rep):
    services.interaction_update(actor=rep, interaction=logged_by_rep, data={"subject": "Call"})

    assert audit("interaction.update") == []


def test_another_sales_rep_may_not_correct_it(teammate, logged_by_rep):
    with pytest.raises(Forbidden):
        services.interaction_update(actor=teammate, interaction=logged_by_rep, data={"subject": "Mine now"})

    logged_by_rep.refresh_from_db()
    assert logged_by_rep.subject == "Call"


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_a_manager_or_an_admin_corrects_anyone_s(make_user, logged_by_rep, role):
    boss = make_user(role=role)

    services.interaction_update(actor=boss, interaction=logged_by_rep, data={"body": "Fixed by the boss"})

    logged_by_rep.refresh_from_db()
    assert logged_by_rep.body == "Fixed by the boss"


def test_support_may_not_correct_a_rep_s_interaction(agent, logged_by_rep):
    with pytest.raises(Forbidden):
        services.interaction_update(actor=agent, interaction=logged_by_rep, data={"body": "x"})


def test_an_interaction_without_an_author_may_be_corrected_by_anyone_who_writes(teammate, rep):
    imported = make_interaction(contact=make_contact(owner=rep), user=None)

    services.interaction_update(actor=teammate, interaction=imported, data={"subject": "Triaged"})

    imported.refresh_from_db()
    assert (imported.user_id, imported.subject) == (None, "Triaged")


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"contact": None}, {"contact": "cannot be changed"}),
        ({"source": "x", "subject": "y"}, {"source": "cannot be changed"}),
        (
            {"channel": "fax"},
            {"channel": "must be one of email, phone, sms, chat, social, web_form, meeting, store, letter, note"},
        ),
        ({"occurred_at": dt.datetime(2026, 3, 10, 9, 0)}, {"occurred_at": "must include a time zone"}),
        (
            {"occurred_at": dt.datetime(2026, 3, 12, 12, 1, tzinfo=dt.UTC)},
            {"occurred_at": "cannot be more than a day in the future"},
        ),
    ],
)
def test_update_refuses_unknown_fields_and_bad_values(rep, clock, logged_by_rep, data, errors):
    with pytest.raises(ValidationFailed) as raised:
        services.interaction_update(actor=rep, interaction=logged_by_rep, data=data)

    assert raised.value.errors == errors
    logged_by_rep.refresh_from_db()
    assert (logged_by_rep.subject, logged_by_rep.channel, logged_by_rep.source) == ("Call", "phone", "")


def test_the_author_deletes_it_and_the_audit_log_keeps_what_it_was(rep, logged_by_rep):
    interaction_id, contact_id = logged_by_rep.id, logged_by_rep.contact_id

    services.interaction_delete(actor=rep, interaction=logged_by_rep)

    assert not Interaction.objects.exists()
    [(username, object_type, object_id, channel, changes)] = audit("interaction.delete")
    assert (username, object_type, object_id, channel) == (
        "rep",
        "interactions.interaction",
        str(interaction_id),
        "job",
    )
    assert changes["id"] == [interaction_id, None]
    assert changes["contact"] == [contact_id, None]
    assert changes["subject"] == ["Call", None]
    assert "body" not in changes


def test_another_rep_may_not_delete_it_a_manager_may(teammate, manager, logged_by_rep):
    with pytest.raises(Forbidden):
        services.interaction_delete(actor=teammate, interaction=logged_by_rep)
    assert Interaction.objects.count() == 1

    services.interaction_delete(actor=manager, interaction=logged_by_rep)

    assert not Interaction.objects.exists()
    assert [entry[0] for entry in audit("interaction.delete")] == ["manager"]


# ---- roles that may not write --------------------------------------------------------------------


def test_an_analyst_reads_but_may_not_write(make_user, logged_by_rep):
    analyst = make_user(role="analyst")
    contact = make_contact()

    with pytest.raises(Forbidden):
        services.interaction_log(actor=analyst, channel="email", direction="in", contact=contact)
    with pytest.raises(Forbidden):
        services.interaction_update(actor=analyst, interaction=logged_by_rep, data={"subject": "x"})
    with pytest.raises(Forbidden):
        services.interaction_delete(actor=analyst, interaction=logged_by_rep)
    with pytest.raises(Forbidden):
        services.conversation_create(actor=analyst, contact=contact, channel="email")

    assert Interaction.objects.count() == 1
    assert not Conversation.objects.exists()


def test_marketing_sees_no_interactions_so_writing_is_not_found(make_user, logged_by_rep):
    marketer = make_user(role="marketing")
    contact = make_contact()

    with pytest.raises(NotFound):
        services.interaction_log(actor=marketer, channel="email", direction="in", contact=contact)
    with pytest.raises(NotFound):
        services.interaction_update(actor=marketer, interaction=logged_by_rep, data={"subject": "x"})
    with pytest.raises(NotFound):
        services.interaction_delete(actor=marketer, interaction=logged_by_rep)
    with pytest.raises(NotFound):
        services.conversation_create(actor=marketer, contact=contact, channel="email")

    assert Interaction.objects.count() == 1


def test_an_analyst_replaying_a_known_external_id_is_still_refused(make_user, rep):
    # The write check comes before the duplicate lookup: a replay is no way around the role.
    contact = make_contact(owner=rep)
    services.interaction_log(actor=rep, channel="email", direction="in", contact=contact, source="s", external_id="1")

    with pytest.raises(Forbidden):
        services.interaction_log(
            actor=make_user(role="analyst"),
            channel="email",
            direction="in",
            contact=contact,
            source="s",
            external_id="1",
        )


def test_a_deactivated_user_may_not_write(rep):
    rep.is_active = False

    with pytest.raises(NotFound):
        services.interaction_log(actor=rep, channel="email", direction="in", contact=make_contact())

    assert not Interaction.objects.exists()
