"""Services of the sales app: exact outcomes, history rows and audit entries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from cuore.contacts.tests.factories import make_account, make_contact
from cuore.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from cuore.core.models import AuditEntry
from cuore.sales import services
from cuore.sales.models import Activity, Deal, DealStageChange, Pipeline, Stage
from cuore.sales.services import StageSpec
from cuore.sales.tests.factories import make_activity, make_deal, make_pipeline, stage_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(make_user):
    return make_user(role="manager", username="manager")


@pytest.fixture
def rep(make_user, team):
    return make_user(role="sales", team=team, username="rep")


@pytest.fixture
def pipeline():
    return make_pipeline(name="Sales", is_default=True)


def audit(action: str) -> list[tuple]:
    return list(
        AuditEntry.objects.filter(action=action).order_by("id").values_list("actor__username", "object_id", "changes")
    )


def history(deal: Deal) -> list[tuple]:
    return list(
        DealStageChange.objects.filter(deal=deal)
        .order_by("id")
        .values_list("from_stage__name", "to_stage__name", "from_status", "to_status", "changed_by__username")
    )


def positions(pipeline: Pipeline) -> list[tuple[str, int]]:
    return list(Stage.objects.filter(pipeline=pipeline).order_by("position").values_list("name", "position"))


# ---- pipelines and stages ------------------------------------------------------------------------


def test_pipeline_create_makes_stages_in_order_and_the_first_pipeline_default(manager):
    pipeline = services.pipeline_create(
        actor=manager, name=" New business ", stages=[StageSpec("Lead", 10), StageSpec("Won soon", 90)]
    )

    assert (pipeline.name, pipeline.is_default) == ("New business", True)
    assert list(pipeline.stages.order_by("position").values_list("name", "position", "probability")) == [
        ("Lead", 1, 10),
        ("Won soon", 2, 90),
    ]
    assert audit("pipeline.create") == [
        (
            "manager",
            str(pipeline.id),
            {
                "id": [None, pipeline.id],
                "name": [None, "New business"],
                "is_default": [None, True],
                "stages": [None, ["Lead", "Won soon"]],
            },
        )
    ]
    lead, won = pipeline.stages.order_by("position")
    assert [(entry[1], entry[2]["name"]) for entry in audit("stage.create")] == [
        (str(lead.id), [None, "Lead"]),
        (str(won.id), [None, "Won soon"]),
    ]


def test_a_new_default_pipeline_takes_over_from_the_old_one(manager, pipeline):
    second = services.pipeline_create(actor=manager, name="Renewals", stages=[StageSpec("Due", 50)], is_default=True)

    pipeline.refresh_from_db()
    assert (pipeline.is_default, second.is_default) == (False, True)
    assert audit("pipeline.update") == [("manager", str(pipeline.id), {"is_default": [True, False]})]


def test_a_second_pipeline_is_not_default_unless_asked(manager, pipeline):
    second = services.pipeline_create(actor=manager, name="Renewals", stages=[StageSpec("Due", 50)])

    assert second.is_default is False
    assert Pipeline.objects.get(is_default=True) == pipeline


@pytest.mark.parametrize(
    ("name", "stages", "errors"),
    [
        ("sales", [StageSpec("A", 1)], {"name": "a pipeline with this name already exists"}),
        ("Other", [], {"stages": "a pipeline needs at least one stage"}),
        ("Other", [StageSpec("A", 1), StageSpec("a", 2)], {"stages.1.name": "is given twice"}),
        ("Other", [StageSpec("A", 101)], {"stages.0.probability": "must be a whole number between 0 and 100"}),
        ("Other", [StageSpec(" ", 5)], {"stages.0.name": "is required"}),
        ("  ", [StageSpec("A", 5)], {"name": "is required"}),
    ],
)
def test_pipeline_create_validation(manager, pipeline, name, stages, errors):
    with pytest.raises(ValidationFailed) as caught:
        services.pipeline_create(actor=manager, name=name, stages=stages)

    assert caught.value.errors == errors
    assert Pipeline.objects.count() == 1


def test_only_admins_and_managers_change_pipelines(make_user, team):
    with pytest.raises(Forbidden):
        services.pipeline_create(actor=make_user(role="sales", team=team), name="X", stages=[StageSpec("A", 1)])
    with pytest.raises(NotFound):
        services.pipeline_create(actor=make_user(role="support"), name="X", stages=[StageSpec("A", 1)])
    assert not Pipeline.objects.exists()


def test_pipeline_update_renames_and_refuses_to_leave_no_default(manager, pipeline):
    services.pipeline_update(actor=manager, pipeline=pipeline, data={"name": "Direct sales"})

    with pytest.raises(ValidationFailed) as caught:
        services.pipeline_update(actor=manager, pipeline=pipeline, data={"is_default": False})

    assert caught.value.errors == {"is_default": "make another pipeline the default instead"}
    pipeline.refresh_from_db()
    assert (pipeline.name, pipeline.is_default) == ("Direct sales", True)
    assert audit("pipeline.update") == [("manager", str(pipeline.id), {"name": ["Sales", "Direct sales"]})]


def test_pipeline_update_makes_another_pipeline_default(manager, pipeline):
    other = make_pipeline(name="Renewals")

    services.pipeline_update(actor=manager, pipeline=other, data={"is_default": True})

    assert list(Pipeline.objects.filter(is_default=True)) == [other]
    assert [entry[1:] for entry in audit("pipeline.update")] == [
        (str(pipeline.id), {"is_default": [True, False]}),
        (str(other.id), {"is_default": [False, True]}),
    ]


def test_stage_create_inserts_at_a_position_and_shifts_the_others(manager, pipeline):
    stage = services.stage_create(actor=manager, pipeline=pipeline, name="Demo", probability=30, position=2)

    assert positions(pipeline) == [("Lead", 1), ("Demo", 2), ("Proposal", 3), ("Negotiation", 4)]
    assert audit("stage.update") == [
        ("manager", str(stage_of(pipeline, "Proposal").id), {"position": [2, 3]}),
        ("manager", str(stage_of(pipeline, "Negotiation").id), {"position": [3, 4]}),
    ]
    assert audit("stage.create") == [
        (
            "manager",
            str(stage.id),
            {
                "id": [None, stage.id],
                "pipeline": [None, pipeline.id],
                "name": [None, "Demo"],
                "position": [None, 2],
                "probability": [None, 30],
            },
        )
    ]


def test_stage_create_without_position_or_past_the_end_appends(manager, pipeline):
    services.stage_create(actor=manager, pipeline=pipeline, name="Closing", probability=90)
    services.stage_create(actor=manager, pipeline=pipeline, name="Signed", probability=95, position=99)

    assert positions(pipeline) == [("Lead", 1), ("Proposal", 2), ("Negotiation", 3), ("Closing", 4), ("Signed", 5)]
    assert audit("stage.update") == []


def test_stage_names_are_unique_in_their_pipeline(manager, pipeline):
    with pytest.raises(ValidationFailed) as caught:
        services.stage_create(actor=manager, pipeline=pipeline, name="lead", probability=5)

    assert caught.value.errors == {"name": "the pipeline already has a stage with this name"}
    services.stage_create(actor=manager, pipeline=make_pipeline(name="Other", stages=()), name="Lead", probability=5)


def test_stage_update_moves_a_stage_up_and_reweighs_it(manager, pipeline):
    negotiation = stage_of(pipeline, "Negotiation")

    services.stage_update(actor=manager, stage=negotiation, data={"position": 1, "probability": 85})

    assert positions(pipeline) == [("Negotiation", 1), ("Lead", 2), ("Proposal", 3)]
    negotiation.refresh_from_db()
    assert negotiation.probability == 85
    assert [entry[1:] for entry in audit("stage.update")] == [
        (str(stage_of(pipeline, "Lead").id), {"position": [1, 2]}),
        (str(stage_of(pipeline, "Proposal").id), {"position": [2, 3]}),
        (str(negotiation.id), {"probability": [80, 85], "position": [3, 1]}),
    ]


def test_stage_update_moves_a_stage_down(manager, pipeline):
    services.stage_update(actor=manager, stage=stage_of(pipeline, "Lead"), data={"position": 3, "name": "Prospect"})

    assert positions(pipeline) == [("Proposal", 1), ("Negotiation", 2), ("Prospect", 3)]


def test_stage_delete_refuses_a_stage_with_deals_even_closed_ones(manager, pipeline):
    lead = stage_of(pipeline, "Lead")
    make_deal(stage=lead, status="won")

    with pytest.raises(Conflict):
        services.stage_delete(actor=manager, stage=lead)

    assert Stage.objects.filter(pk=lead.pk).exists()
    assert audit("stage.delete") == []


def test_stage_delete_renumbers_the_stages_after_it(manager, pipeline):
    proposal = stage_of(pipeline, "Proposal")
    proposal_id = proposal.id

    services.stage_delete(actor=manager, stage=proposal)

    assert positions(pipeline) == [("Lead", 1), ("Negotiation", 2)]
    assert [entry[1:] for entry in audit("stage.delete")] == [
        (
            str(proposal_id),
            {
                "id": [proposal_id, None],
                "pipeline": [pipeline.id, None],
                "name": ["Proposal", None],
                "position": [2, None],
                "probability": [50, None],
            },
        )
    ]
    assert audit("stage.update") == [("manager", str(stage_of(pipeline, "Negotiation").id), {"position": [3, 2]})]


def test_the_last_stage_of_a_pipeline_stays(manager):
    pipeline = make_pipeline(name="Tiny", stages=(("Only", 50),))

    with pytest.raises(Conflict):
        services.stage_delete(actor=manager, stage=stage_of(pipeline, "Only"))


# ---- deals ---------------------------------------------------------------------------------------


def test_deal_create_defaults_to_the_default_pipelines_first_stage_the_actor_and_their_team(rep, pipeline, team):
    make_pipeline(name="Another")

    deal = services.deal_create(actor=rep, name="  Fornitura Énergia ", amount="1500.5", currency="eur")

    deal.refresh_from_db()
    assert (deal.name, deal.name_key, deal.pipeline, deal.stage.name, deal.status) == (
        "Fornitura Énergia",
        "fornitura energia",
        pipeline,
        "Lead",
        "open",
    )
    assert (deal.amount, deal.currency, deal.owner, deal.team) == (Decimal("1500.50"), "EUR", rep, team)
    assert history(deal) == [(None, "Lead", "", "open", "rep")]
    assert audit("deal.create") == [
        (
            "rep",
            str(deal.id),
            {
                "id": [None, deal.id],
                "name": [None, "Fornitura Énergia"],
                "name_key": [None, "fornitura energia"],
                "pipeline": [None, pipeline.id],
                "stage": [None, deal.stage_id],
                "amount": [None, "1500.50"],
                "currency": [None, "EUR"],
                "status": [None, "open"],
                "owner": [None, rep.id],
                "team": [None, team.id],
            },
        )
    ]


def test_deal_create_in_a_named_pipeline_or_stage(rep, pipeline):
    other = make_pipeline(name="Renewals", stages=(("Due", 60), ("Renewed", 95)))

    in_pipeline = services.deal_create(actor=rep, name="A", pipeline=other)
    in_stage = services.deal_create(actor=rep, name="B", stage=stage_of(other, "Renewed"))

    assert (in_pipeline.pipeline, in_pipeline.stage.name) == (other, "Due")
    assert (in_stage.pipeline, in_stage.stage.name) == (other, "Renewed")


def test_deal_create_refuses_a_stage_of_another_pipeline(rep, pipeline):
    other = make_pipeline(name="Renewals", stages=(("Due", 60),))

    with pytest.raises(ValidationFailed) as caught:
        services.deal_create(actor=rep, name="A", pipeline=pipeline, stage=stage_of(other, "Due"))

    assert caught.value.errors == {"stage_id": "belongs to another pipeline"}
    assert not Deal.objects.exists()


def test_deal_create_without_a_default_pipeline_needs_one(rep):
    make_pipeline(name="Not default")

    with pytest.raises(ValidationFailed) as caught:
        services.deal_create(actor=rep, name="A")

    assert caught.value.errors == {"pipeline_id": "is required: there is no default pipeline"}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"amount": "-1"}, {"amount": "must be zero or more"}),
        ({"amount": "10.005"}, {"amount": "must have at most 2 decimal places"}),
        ({"amount": "1000000000000"}, {"amount": "must be less than 1,000,000,000,000"}),
        ({"amount": "ten"}, {"amount": "must be a number"}),
        ({"currency": "EURO"}, {"currency": "must be an ISO 4217 currency code, such as EUR"}),
        ({"currency": "QQQ"}, {"currency": "must be an ISO 4217 currency code, such as EUR"}),
        ({"name": ""}, {"name": "is required"}),
        ({"name": "", "amount": "-5"}, {"name": "is required", "amount": "must be zero or more"}),
    ],
)
def test_deal_create_validation(rep, pipeline, fields, errors):
    with pytest.raises(ValidationFailed) as caught:
        services.deal_create(actor=rep, **{"name": "Deal", **fields})

    assert caught.value.errors == errors
    assert not Deal.objects.exists()


def test_a_sales_rep_gives_deals_to_teammates_but_not_to_other_teams(make_user, rep, team, other_team, pipeline):
    teammate = make_user(role="sales", team=team)
    stranger = make_user(role="sales", team=other_team)

    deal = services.deal_create(actor=rep, name="A", owner=teammate)
    with pytest.raises(ValidationFailed) as caught:
        services.deal_create(actor=rep, name="B", owner=stranger)

    assert (deal.owner, deal.team) == (teammate, team)
    assert caught.value.errors == {"owner_id": "must be you or a member of your team"}
    with pytest.raises(ValidationFailed) as caught:
        services.deal_update(actor=rep, deal=deal, data={"team": other_team})
    assert caught.value.errors == {"team_id": "must be you or a member of your team"}


def test_a_manager_gives_deals_to_anyone_but_not_to_inactive_users(make_user, manager, other_team, pipeline):
    stranger = make_user(role="sales", team=other_team)
    gone = make_user(role="sales", team=other_team)
    gone.is_active = False
    gone.save()

    deal = services.deal_create(actor=manager, name="A", owner=stranger)
    with pytest.raises(ValidationFailed) as caught:
        services.deal_create(actor=manager, name="B", owner=gone)

    assert (deal.owner, deal.team) == (stranger, other_team)
    assert caught.value.errors == {"owner_id": "is not an active user"}


def test_analysts_and_support_do_not_create_deals(make_user, pipeline):
    with pytest.raises(Forbidden):
        services.deal_create(actor=make_user(role="analyst"), name="A")
    with pytest.raises(NotFound):
        services.deal_create(actor=make_user(role="support"), name="A")


def test_deal_update_records_what_changed(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, name="Old name", amount="100.00")
    contact = make_contact(owner=rep)

    services.deal_update(
        actor=rep,
        deal=deal,
        data={"name": "New name", "amount": Decimal("250"), "expected_close": dt.date(2026, 5, 31), "contact": contact},
    )

    deal.refresh_from_db()
    assert (deal.name, deal.name_key, deal.amount, deal.expected_close, deal.contact) == (
        "New name",
        "new name",
        Decimal("250.00"),
        dt.date(2026, 5, 31),
        contact,
    )
    assert audit("deal.update") == [
        (
            "rep",
            str(deal.id),
            {
                "name": ["Old name", "New name"],
                "amount": ["100.00", "250.00"],
                "expected_close": [None, "2026-05-31"],
                "contact": [None, contact.id],
            },
        )
    ]
    assert history(deal) == []


def test_deal_update_refuses_the_stage_and_status(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)

    with pytest.raises(ValidationFailed) as caught:
        services.deal_update(actor=rep, deal=deal, data={"stage": stage_of(pipeline, "Proposal"), "status": "won"})

    assert caught.value.errors == {"stage": "cannot be changed", "status": "cannot be changed"}


def test_deal_update_with_nothing_new_writes_nothing(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, name="Same")

    services.deal_update(actor=rep, deal=deal, data={"name": "Same"})

    assert audit("deal.update") == []


def test_deal_delete_takes_its_history_and_activities_along(rep, pipeline):
    deal = services.deal_create(actor=rep, name="Gone")
    deal_id = deal.id
    make_activity(assignee=rep, deal=deal)
    make_activity(assignee=rep, deal=deal)
    kept = make_activity(assignee=rep)

    services.deal_delete(actor=rep, deal=deal)

    assert not Deal.objects.exists()
    assert not DealStageChange.objects.exists()
    assert list(Activity.objects.all()) == [kept]
    [(actor, object_id, changes)] = audit("deal.delete")
    assert (actor, object_id, changes["name"], changes["activities"]) == ("rep", str(deal_id), ["Gone", None], [2, 0])


def test_move_to_stage_writes_history_and_audit(rep, pipeline):
    lead, proposal = stage_of(pipeline, "Lead"), stage_of(pipeline, "Proposal")
    deal = make_deal(stage=lead, owner=rep)

    moved = services.deal_move_to_stage(actor=rep, deal=deal, stage=proposal)

    assert (moved.stage, moved.status) == (proposal, "open")
    deal.refresh_from_db()
    assert deal.stage == proposal
    assert history(deal) == [("Lead", "Proposal", "open", "open", "rep")]
    assert audit("deal.move") == [("rep", str(deal.id), {"stage": [lead.id, proposal.id]})]


def test_move_to_the_stage_it_is_in_changes_nothing(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)

    services.deal_move_to_stage(actor=rep, deal=deal, stage=stage_of(pipeline, "Lead"))

    assert history(deal) == []
    assert audit("deal.move") == []


def test_move_to_a_stage_of_another_pipeline_is_invalid(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)
    other = make_pipeline(name="Other", stages=(("Elsewhere", 40),))

    with pytest.raises(ValidationFailed) as caught:
        services.deal_move_to_stage(actor=rep, deal=deal, stage=stage_of(other, "Elsewhere"))

    assert caught.value.errors == {"stage_id": "belongs to another pipeline"}
    assert history(deal) == []


@pytest.mark.parametrize("status", ["won", "lost"])
def test_a_closed_deal_does_not_move(rep, pipeline, status):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, status=status)

    with pytest.raises(Conflict) as caught:
        services.deal_move_to_stage(actor=rep, deal=deal, stage=stage_of(pipeline, "Proposal"))

    assert caught.value.field == "status"
    deal.refresh_from_db()
    assert deal.stage.name == "Lead"
    assert history(deal) == []


def test_the_state_checked_is_the_stored_one_not_a_stale_copy(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)
    Deal.objects.filter(pk=deal.pk).update(status="won", closed_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    with pytest.raises(Conflict):
        services.deal_move_to_stage(actor=rep, deal=deal, stage=stage_of(pipeline, "Proposal"))
    with pytest.raises(Conflict):
        services.deal_win(actor=rep, deal=deal)


def test_win_closes_the_deal_in_its_stage(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Negotiation"), owner=rep)

    won = services.deal_win(actor=rep, deal=deal)

    deal.refresh_from_db()
    assert (deal.status, deal.closed_at, deal.stage.name) == ("won", won.closed_at, "Negotiation")
    assert deal.closed_at is not None
    assert history(deal) == [("Negotiation", "Negotiation", "open", "won", "rep")]
    assert audit("deal.win") == [
        ("rep", str(deal.id), {"status": ["open", "won"], "closed_at": [None, deal.closed_at.isoformat()]})
    ]
    with pytest.raises(Conflict):
        services.deal_win(actor=rep, deal=deal)


def test_lose_needs_a_reason(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Proposal"), owner=rep)

    with pytest.raises(ValidationFailed) as caught:
        services.deal_lose(actor=rep, deal=deal, reason="   ")

    assert caught.value.errors == {"reason": "is required"}
    deal.refresh_from_db()
    assert deal.status == "open"


def test_lose_records_the_reason(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Proposal"), owner=rep)

    services.deal_lose(actor=rep, deal=deal, reason=" Too expensive ")

    deal.refresh_from_db()
    assert (deal.status, deal.lost_reason) == ("lost", "Too expensive")
    assert history(deal) == [("Proposal", "Proposal", "open", "lost", "rep")]
    assert audit("deal.lose") == [
        (
            "rep",
            str(deal.id),
            {
                "status": ["open", "lost"],
                "closed_at": [None, deal.closed_at.isoformat()],
                "lost_reason": ["", "Too expensive"],
            },
        )
    ]


def test_reopen_brings_a_lost_deal_back_to_open(rep, pipeline):
    deal = make_deal(stage=stage_of(pipeline, "Proposal"), owner=rep, status="lost")
    closed_at = deal.closed_at

    services.deal_reopen(actor=rep, deal=deal)

    deal.refresh_from_db()
    assert (deal.status, deal.closed_at, deal.lost_reason) == ("open", None, "")
    assert history(deal) == [("Proposal", "Proposal", "lost", "open", "rep")]
    assert audit("deal.reopen") == [
        (
            "rep",
            str(deal.id),
            {"status": ["lost", "open"], "closed_at": [closed_at.isoformat(), None], "lost_reason": ["price", ""]},
        )
    ]
    with pytest.raises(Conflict):
        services.deal_reopen(actor=rep, deal=deal)


def test_a_deal_keeps_its_whole_history(rep, pipeline):
    deal = services.deal_create(actor=rep, name="Journey")
    deal = services.deal_move_to_stage(actor=rep, deal=deal, stage=stage_of(pipeline, "Proposal"))
    deal = services.deal_win(actor=rep, deal=deal)
    deal = services.deal_reopen(actor=rep, deal=deal)
    deal = services.deal_move_to_stage(actor=rep, deal=deal, stage=stage_of(pipeline, "Negotiation"))
    services.deal_lose(actor=rep, deal=deal, reason="Budget cut")

    assert history(deal) == [
        (None, "Lead", "", "open", "rep"),
        ("Lead", "Proposal", "open", "open", "rep"),
        ("Proposal", "Proposal", "open", "won", "rep"),
        ("Proposal", "Proposal", "won", "open", "rep"),
        ("Proposal", "Negotiation", "open", "open", "rep"),
        ("Negotiation", "Negotiation", "open", "lost", "rep"),
    ]


# ---- activities ----------------------------------------------------------------------------------


def test_activity_create_defaults_to_the_actor_and_their_team(rep, team):
    due = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

    activity = services.activity_create(actor=rep, subject=" Call back ", kind="call", due_at=due)

    assert (activity.subject, activity.kind, activity.assignee, activity.team, activity.done) == (
        "Call back",
        "call",
        rep,
        team,
        False,
    )
    assert audit("activity.create") == [
        (
            "rep",
            str(activity.id),
            {
                "id": [None, activity.id],
                "kind": [None, "call"],
                "subject": [None, "Call back"],
                "due_at": [None, "2026-03-02T09:30:00+00:00"],
                "assignee": [None, rep.id],
                "team": [None, team.id],
            },
        )
    ]


def test_an_activity_on_a_deal_is_about_the_deals_contact_and_account(rep, pipeline):
    contact, account = make_contact(owner=rep), make_account(owner=rep)
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep, contact=contact, account=account)
    other_contact = make_contact(owner=rep)

    plain = services.activity_create(actor=rep, subject="Send offer", deal=deal)
    explicit = services.activity_create(actor=rep, subject="Meet", deal=deal, contact=other_contact)

    assert (plain.deal, plain.contact, plain.account) == (deal, contact, account)
    assert (explicit.contact, explicit.account) == (other_contact, account)


def test_activity_create_validation(rep, make_user, other_team):
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(actor=rep, subject="", kind="fax", due_at=dt.datetime(2026, 3, 2, 9, 30))
    assert caught.value.errors == {
        "subject": "is required",
        "kind": "must be one of call, meeting, email, todo",
        "due_at": "must include a time zone",
    }
    with pytest.raises(ValidationFailed) as caught:
        services.activity_create(actor=rep, subject="X", assignee=make_user(role="sales", team=other_team))
    assert caught.value.errors == {"assignee_id": "must be you or a member of your team"}
    assert not Activity.objects.exists()


def test_support_and_marketing_keep_their_own_activities(make_user):
    agent = make_user(role="support")

    activity = services.activity_create(actor=agent, subject="Follow up ticket")

    assert (activity.assignee, activity.team) == (agent, None)
    with pytest.raises(Forbidden):
        services.activity_create(actor=make_user(role="analyst"), subject="No")


def test_activity_update_records_what_changed(rep, make_user, team):
    teammate = make_user(role="sales", team=team)
    activity = make_activity(assignee=rep, subject="Old")

    services.activity_update(actor=rep, activity=activity, data={"subject": "New", "assignee": teammate, "notes": "x"})

    activity.refresh_from_db()
    assert (activity.subject, activity.assignee, activity.notes) == ("New", teammate, "x")
    assert audit("activity.update") == [
        ("rep", str(activity.id), {"subject": ["Old", "New"], "assignee": [rep.id, teammate.id], "notes": ["", "x"]})
    ]
    with pytest.raises(ValidationFailed) as caught:
        services.activity_update(actor=rep, activity=activity, data={"done": True})
    assert caught.value.errors == {"done": "cannot be changed"}


def test_complete_and_reopen_an_activity(rep):
    activity = make_activity(assignee=rep)

    services.activity_complete(actor=rep, activity=activity)
    activity.refresh_from_db()
    done_at = activity.done_at
    with pytest.raises(Conflict):
        services.activity_complete(actor=rep, activity=activity)
    services.activity_reopen(actor=rep, activity=activity)
    with pytest.raises(Conflict):
        services.activity_reopen(actor=rep, activity=activity)

    activity.refresh_from_db()
    assert done_at is not None
    assert (activity.done, activity.done_at) == (False, None)
    assert audit("activity.complete") == [
        ("rep", str(activity.id), {"done": [False, True], "done_at": [None, done_at.isoformat()]})
    ]
    assert audit("activity.reopen") == [
        ("rep", str(activity.id), {"done": [True, False], "done_at": [done_at.isoformat(), None]})
    ]


def test_activity_delete_is_audited(rep):
    activity = make_activity(assignee=rep, subject="Obsolete")
    activity_id = activity.id

    services.activity_delete(actor=rep, activity=activity)

    assert not Activity.objects.exists()
    [(actor, object_id, changes)] = audit("activity.delete")
    assert (actor, object_id, changes["subject"], changes["assignee"]) == (
        "rep",
        str(activity_id),
        ["Obsolete", None],
        [rep.id, None],
    )


def test_a_new_owner_brings_the_deal_to_their_team_unless_a_team_is_given(
    manager, make_user, rep, team, other_team, pipeline
):
    stranger = make_user(role="sales", team=other_team)
    deal = make_deal(stage=stage_of(pipeline, "Lead"), owner=rep)

    services.deal_update(actor=manager, deal=deal, data={"owner": stranger})
    moved_team = deal.team
    services.deal_update(actor=manager, deal=deal, data={"owner": rep, "team": other_team})

    assert moved_team == other_team
    assert (deal.owner, deal.team) == (rep, other_team)
    assert [entry[2] for entry in audit("deal.update")] == [
        {"owner": [rep.id, stranger.id], "team": [team.id, other_team.id]},
        {"owner": [stranger.id, rep.id]},
    ]
    with pytest.raises(ValidationFailed) as caught:
        services.deal_update(actor=rep, deal=deal, data={"owner": stranger})
    assert caught.value.errors == {"owner_id": "must be you or a member of your team"}
