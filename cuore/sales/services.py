"""Writes on pipelines, stages, deals and activities; every one audited, every deal move kept as history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import list_currencies
from django.db import transaction
from django.db.models import Model, ProtectedError
from django.utils import timezone

from cuore.core.audit import apply_changes, audit_record, snapshot
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.normalize import text_key
from cuore.core.visibility import Scope, read_scope, require_write, team_member
from cuore.sales.models import Activity, ActivityKind, Deal, DealStageChange, DealStatus, Pipeline, Stage
from cuore.users.models import Team, User

PIPELINE_FIELDS = {"name", "is_default"}
STAGE_FIELDS = {"name", "probability", "position"}
DEAL_FIELDS = {"name", "amount", "currency", "expected_close", "owner", "team", "contact", "account"}
ACTIVITY_FIELDS = {"kind", "subject", "notes", "due_at", "assignee", "team", "contact", "account", "deal"}

AMOUNT_MAX_DIGITS = 14
AMOUNT_DECIMAL_PLACES = 2
# Stages being renumbered are parked above every real position first, so that the unique
# (pipeline, position) constraint, checked row by row, never sees two stages on one position.
_PARKING = 20000


@dataclass(frozen=True)
class StageSpec:
    """A stage to create with a new pipeline."""

    name: str
    probability: int


def _created(instance: Model) -> dict[str, list[Any]]:
    return {name: [None, value] for name, value in snapshot(instance).items() if value not in (None, "", False)}


def _deleted(instance: Model) -> dict[str, list[Any]]:
    return {name: [value, None] for name, value in snapshot(instance).items() if value not in (None, "", False)}


def _unknown_fields(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed({name: "cannot be changed" for name in sorted(unknown)})


def _text(value: Any, *, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(field=field, reason="must be text")
    if "\x00" in value:  # PostgreSQL cannot store it; no one types it
        raise ValidationFailed(field=field, reason="must not contain NUL characters")
    return value.strip()


def _required_text(value: Any, *, field: str, max_length: int) -> str:
    text = _text("" if value is None else value, field=field)
    if not text:
        raise ValidationFailed(field=field, reason="is required")
    if len(text) > max_length:
        raise ValidationFailed(field=field, reason=f"must be at most {max_length} characters")
    return text


def _probability(value: Any, *, field: str = "probability") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationFailed(field=field, reason="must be a whole number between 0 and 100")
    return value


def _position(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(field="position", reason="must be a whole number, 1 or more")
    return value


_CENT = Decimal("0.01")
_AMOUNT_LIMIT = Decimal(10) ** (AMOUNT_MAX_DIGITS - AMOUNT_DECIMAL_PLACES)


def _amount(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValidationFailed(field="amount", reason="must be a number")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationFailed(field="amount", reason="must be a number") from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed(field="amount", reason="must be zero or more")
    if amount >= _AMOUNT_LIMIT:
        raise ValidationFailed(field="amount", reason=f"must be less than {_AMOUNT_LIMIT:,}")
    cents = amount.quantize(_CENT)
    if cents != amount:
        raise ValidationFailed(field="amount", reason="must have at most 2 decimal places")
    return cents


def _currency(value: Any) -> str:
    code = value.strip().upper() if isinstance(value, str) else ""
    if len(code) != 3 or code not in list_currencies():
        raise ValidationFailed(field="currency", reason="must be an ISO 4217 currency code, such as EUR")
    return code


def _utc(value: dt.datetime | None, *, field: str) -> dt.datetime | None:
    """Return an aware time in UTC; a time without a zone is ambiguous, so it is refused."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        raise ValidationFailed(field=field, reason="must be a date and time")
    if timezone.is_naive(value):
        raise ValidationFailed(field=field, reason="must include a time zone")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationFailed(field=field, reason="is out of range") from None


def _check_active(person: User | None, *, field: str) -> None:
    if person is not None and not person.is_active:
        raise ValidationFailed(field=field, reason="is not an active user")


def _keep_in_scope(actor: User, *, resource: str, person: User | None, team: Team | None, person_field: str) -> None:
    """Refuse a record that a team-scoped writer would put outside their own reach."""
    if read_scope(actor, resource) is not Scope.TEAM:
        return
    if not team_member(actor, owner_id=getattr(person, "pk", None), team_id=getattr(team, "pk", None)):
        raise ValidationFailed(field=person_field, reason="must be you or a member of your team")


# ---- pipelines and stages ------------------------------------------------------------------------


def _unset_default(*, actor: User, keep: Pipeline | None) -> None:
    defaults = Pipeline.objects.select_for_update().filter(is_default=True)
    if keep is not None:
        defaults = defaults.exclude(pk=keep.pk)
    for other in defaults:
        other.is_default = False
        other.save(update_fields=["is_default"])
        audit_record(actor=actor, action="pipeline.update", instance=other, changes={"is_default": [True, False]})


@transaction.atomic
def pipeline_create(*, actor: User, name: str, stages: Sequence[StageSpec], is_default: bool = False) -> Pipeline:
    """Create a pipeline with its stages in the order given; the first pipeline becomes the default."""
    require_write(actor, "pipelines")
    name = _required_text(name, field="name", max_length=100)
    errors: dict[str, str] = {}
    if Pipeline.objects.filter(name__iexact=name).exists():
        errors["name"] = "a pipeline with this name already exists"
    if not stages:
        errors["stages"] = "a pipeline needs at least one stage"
    seen: set[str] = set()
    cleaned: list[tuple[str, int]] = []
    for index, spec in enumerate(stages):
        try:
            stage_name = _required_text(spec.name, field=f"stages.{index}.name", max_length=100)
            probability = _probability(spec.probability, field=f"stages.{index}.probability")
        except ValidationFailed as exc:
            errors.update(exc.errors)
            continue
        if stage_name.lower() in seen:
            errors[f"stages.{index}.name"] = "is given twice"
        seen.add(stage_name.lower())
        cleaned.append((stage_name, probability))
    if errors:
        raise ValidationFailed(errors)
    is_default = is_default or not Pipeline.objects.filter(is_default=True).exists()
    if is_default:
        _unset_default(actor=actor, keep=None)
    pipeline = Pipeline.objects.create(name=name, is_default=is_default)
    audit_record(
        actor=actor,
        action="pipeline.create",
        instance=pipeline,
        changes={**_created(pipeline), "stages": [None, [stage_name for stage_name, _ in cleaned]]},
    )
    for position, (stage_name, probability) in enumerate(cleaned, start=1):
        stage = Stage.objects.create(pipeline=pipeline, name=stage_name, position=position, probability=probability)
        audit_record(actor=actor, action="stage.create", instance=stage, changes=_created(stage))
    return pipeline


@transaction.atomic
def pipeline_update(*, actor: User, pipeline: Pipeline, data: dict[str, Any]) -> Pipeline:
    """Rename a pipeline or make it the default one."""
    require_write(actor, "pipelines")
    _unknown_fields(data, PIPELINE_FIELDS)
    data = dict(data)
    if "name" in data:
        data["name"] = _required_text(data["name"], field="name", max_length=100)
        if Pipeline.objects.filter(name__iexact=data["name"]).exclude(pk=pipeline.pk).exists():
            raise ValidationFailed(field="name", reason="a pipeline with this name already exists")
    if "is_default" in data:
        if data["is_default"] is False and pipeline.is_default:
            raise ValidationFailed(field="is_default", reason="make another pipeline the default instead")
        if data["is_default"] is True and not pipeline.is_default:
            _unset_default(actor=actor, keep=pipeline)
    changes = apply_changes(pipeline, data)
    if changes:
        pipeline.save()
        audit_record(actor=actor, action="pipeline.update", instance=pipeline, changes=changes)
    return pipeline


def _renumber(*, actor: User, ordered: list[Stage], acting_on: Stage | None) -> None:
    """Give ``ordered`` the positions 1..n, auditing the other stages that shift."""
    moves = [(stage, position) for position, stage in enumerate(ordered, start=1) if stage.position != position]
    saved = [(stage, position) for stage, position in moves if stage.pk is not None]
    for stage, position in saved:
        Stage.objects.filter(pk=stage.pk).update(position=_PARKING + position)
    for stage, position in saved:
        Stage.objects.filter(pk=stage.pk).update(position=position)
        if stage is not acting_on:
            audit_record(
                actor=actor, action="stage.update", instance=stage, changes={"position": [stage.position, position]}
            )
    for stage, position in moves:
        stage.position = position


def _stage_name_taken(pipeline: Pipeline, name: str, *, excluding: Stage | None = None) -> bool:
    stages = Stage.objects.filter(pipeline=pipeline, name__iexact=name)
    if excluding is not None:
        stages = stages.exclude(pk=excluding.pk)
    return stages.exists()


def _siblings(pipeline: Pipeline, *, excluding: Stage | None = None) -> list[Stage]:
    stages = Stage.objects.select_for_update().filter(pipeline=pipeline).order_by("position", "id")
    if excluding is not None:
        stages = stages.exclude(pk=excluding.pk)
    return list(stages)


@transaction.atomic
def stage_create(*, actor: User, pipeline: Pipeline, name: str, probability: int, position: int | None = None) -> Stage:
    """Add a stage to a pipeline at ``position`` (1 is first; at the end when not given or past the end)."""
    require_write(actor, "pipelines")
    name = _required_text(name, field="name", max_length=100)
    probability = _probability(probability)
    if position is not None:
        position = _position(position)
    if _stage_name_taken(pipeline, name):
        raise ValidationFailed(field="name", reason="the pipeline already has a stage with this name")
    siblings = _siblings(pipeline)
    index = len(siblings) if position is None else min(position - 1, len(siblings))
    stage = Stage(pipeline=pipeline, name=name, probability=probability, position=index + 1)
    _renumber(actor=actor, ordered=[*siblings[:index], stage, *siblings[index:]], acting_on=stage)
    stage.save()
    audit_record(actor=actor, action="stage.create", instance=stage, changes=_created(stage))
    return stage


@transaction.atomic
def stage_update(*, actor: User, stage: Stage, data: dict[str, Any]) -> Stage:
    """Rename a stage, change its win probability or move it to another position in its pipeline."""
    require_write(actor, "pipelines")
    _unknown_fields(data, STAGE_FIELDS)
    data = dict(data)
    if "name" in data:
        data["name"] = _required_text(data["name"], field="name", max_length=100)
        if _stage_name_taken(stage.pipeline, data["name"], excluding=stage):
            raise ValidationFailed(field="name", reason="the pipeline already has a stage with this name")
    if "probability" in data:
        data["probability"] = _probability(data["probability"])
    before = stage.position
    if "position" in data:
        position = _position(data.pop("position"))
        siblings = _siblings(stage.pipeline, excluding=stage)
        index = min(position - 1, len(siblings))
        _renumber(actor=actor, ordered=[*siblings[:index], stage, *siblings[index:]], acting_on=stage)
    changes = apply_changes(stage, data)
    if stage.position != before:
        changes["position"] = [before, stage.position]
    if changes:
        stage.save()
        audit_record(actor=actor, action="stage.update", instance=stage, changes=changes)
    return stage


@transaction.atomic
def stage_delete(*, actor: User, stage: Stage) -> None:
    """Delete a stage that holds no deal; the stages after it move up one position."""
    require_write(actor, "pipelines")
    if Deal.objects.filter(stage=stage).exists():
        raise Conflict("The stage holds deals: move them to another stage first.")
    siblings = _siblings(stage.pipeline, excluding=stage)
    if not siblings:
        raise Conflict("A pipeline needs at least one stage.")
    changes = _deleted(stage)
    stage_id, label = stage.pk, str(stage)
    try:
        with transaction.atomic():
            stage.delete()
    except ProtectedError:  # a deal entered the stage since the check above
        raise Conflict("The stage holds deals: move them to another stage first.") from None
    audit_record(
        actor=actor,
        action="stage.delete",
        object_type="sales.stage",
        object_id=stage_id,
        object_repr=label,
        changes=changes,
    )
    _renumber(actor=actor, ordered=siblings, acting_on=None)


# ---- deals ---------------------------------------------------------------------------------------


def _record_change(
    *, actor: User, deal: Deal, from_stage: Stage | None, from_status: str, when: dt.datetime
) -> DealStageChange:
    return DealStageChange.objects.create(
        deal=deal,
        from_stage=from_stage,
        to_stage=deal.stage,
        from_status=from_status,
        to_status=deal.status,
        changed_by=actor,
        changed_at=when,
    )


def _lock(deal: Deal) -> Deal:
    """Return the deal read again under a row lock, so that two concurrent moves cannot both pass their checks."""
    return Deal.objects.select_for_update(of=("self",)).select_related("stage").get(pk=deal.pk)


def _clean_deal(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    checks = {
        "name": lambda v: _required_text(v, field="name", max_length=200),
        "amount": _amount,
        "currency": _currency,
    }
    for name, check in checks.items():
        if name in data:
            try:
                data[name] = check(data[name])
            except ValidationFailed as exc:
                errors.update(exc.errors)
    if (
        "expected_close" in data
        and data["expected_close"] is not None
        and not isinstance(data["expected_close"], dt.date)
    ):
        errors["expected_close"] = "must be a date"
    if errors:
        raise ValidationFailed(errors)
    return data


@transaction.atomic
def deal_create(
    *,
    actor: User,
    name: str,
    pipeline: Pipeline | None = None,
    stage: Stage | None = None,
    amount: Decimal | int | str = Decimal("0"),
    currency: str = "EUR",
    expected_close: dt.date | None = None,
    owner: User | None = None,
    team: Team | None = None,
    contact: Any = None,
    account: Any = None,
) -> Deal:
    """Open a deal in ``stage`` (by default the first stage of ``pipeline``, or of the default pipeline).

    The owner is the actor unless given, the team the owner's team unless given.
    """
    require_write(actor, "deals")
    data = _clean_deal({"name": name, "amount": amount, "currency": currency, "expected_close": expected_close})
    if pipeline is None:
        pipeline = stage.pipeline if stage is not None else Pipeline.objects.filter(is_default=True).first()
        if pipeline is None:
            raise ValidationFailed(field="pipeline_id", reason="is required: there is no default pipeline")
    if stage is None:
        stage = pipeline.stages.order_by("position", "id").first()
        if stage is None:
            raise ValidationFailed(field="pipeline_id", reason="the pipeline has no stages")
    elif stage.pipeline_id != pipeline.pk:
        raise ValidationFailed(field="stage_id", reason="belongs to another pipeline")
    _check_active(owner, field="owner_id")
    owner = owner if owner is not None else actor
    team = team if team is not None else owner.team
    _keep_in_scope(actor, resource="deals", person=owner, team=team, person_field="owner_id")
    deal = Deal(
        **data,
        name_key=text_key(data["name"]),
        pipeline=pipeline,
        stage=stage,
        status=DealStatus.OPEN,
        owner=owner,
        team=team,
        contact=contact,
        account=account,
    )
    deal.save()
    audit_record(actor=actor, action="deal.create", instance=deal, changes=_created(deal))
    _record_change(actor=actor, deal=deal, from_stage=None, from_status="", when=deal.created_at)
    return deal


@transaction.atomic
def deal_update(*, actor: User, deal: Deal, data: dict[str, Any]) -> Deal:
    """Change a deal's name, amount, currency, expected close, owner, team, contact or account.

    A new owner brings the deal to their team unless a team is given too.

    The stage and the status change only through ``deal_move_to_stage``, ``deal_win``, ``deal_lose``
    and ``deal_reopen``, which keep the deal's history.
    """
    require_write(actor, "deals")
    _unknown_fields(data, DEAL_FIELDS)
    data = _clean_deal(dict(data))
    _check_active(data.get("owner"), field="owner_id")
    if data.get("owner") is not None and "team" not in data:
        data["team"] = data["owner"].team  # as on creation, the team follows the owner unless given
    if "owner" in data or "team" in data:
        _keep_in_scope(
            actor,
            resource="deals",
            person=data.get("owner", deal.owner),
            team=data.get("team", deal.team),
            person_field="owner_id" if "owner" in data else "team_id",
        )
    changes = apply_changes(deal, data)
    if changes:
        deal.name_key = text_key(deal.name)
        deal.save()
        audit_record(actor=actor, action="deal.update", instance=deal, changes=changes)
    return deal


@transaction.atomic
def deal_delete(*, actor: User, deal: Deal) -> None:
    """Delete a deal with its history and its activities."""
    require_write(actor, "deals")
    changes = _deleted(deal)
    activities = Activity.objects.filter(deal=deal).count()
    if activities:
        changes["activities"] = [activities, 0]
    deal_id, label = deal.pk, str(deal)
    deal.delete()
    audit_record(
        actor=actor,
        action="deal.delete",
        object_type="sales.deal",
        object_id=deal_id,
        object_repr=label,
        changes=changes,
    )


@transaction.atomic
def deal_move_to_stage(*, actor: User, deal: Deal, stage: Stage) -> Deal:
    """Move an open deal to another stage of its pipeline; moving to the stage it is in changes nothing."""
    require_write(actor, "deals")
    locked = _lock(deal)
    if stage.pipeline_id != locked.pipeline_id:
        raise ValidationFailed(field="stage_id", reason="belongs to another pipeline")
    if locked.status != DealStatus.OPEN:
        raise Conflict(f"The deal is {locked.status}: reopen it before moving it.", field="status")
    if stage.pk == locked.stage_id:
        return locked
    from_stage = locked.stage
    locked.stage = stage
    locked.save(update_fields=["stage", "updated_at"])
    _record_change(actor=actor, deal=locked, from_stage=from_stage, from_status=locked.status, when=locked.updated_at)
    audit_record(actor=actor, action="deal.move", instance=locked, changes={"stage": [from_stage.pk, stage.pk]})
    return locked


def _close(*, actor: User, deal: Deal, status: str, action: str, lost_reason: str = "") -> Deal:
    locked = _lock(deal)
    if locked.status != DealStatus.OPEN:
        raise Conflict(f"The deal is already {locked.status}.", field="status")
    now = timezone.now()
    changes = apply_changes(locked, {"status": status, "closed_at": now, "lost_reason": lost_reason})
    locked.save(update_fields=["status", "closed_at", "lost_reason", "updated_at"])
    _record_change(actor=actor, deal=locked, from_stage=locked.stage, from_status=DealStatus.OPEN, when=now)
    audit_record(actor=actor, action=action, instance=locked, changes=changes)
    return locked


@transaction.atomic
def deal_win(*, actor: User, deal: Deal) -> Deal:
    """Mark an open deal as won."""
    require_write(actor, "deals")
    return _close(actor=actor, deal=deal, status=DealStatus.WON, action="deal.win")


@transaction.atomic
def deal_lose(*, actor: User, deal: Deal, reason: str) -> Deal:
    """Mark an open deal as lost, saying why."""
    require_write(actor, "deals")
    reason = _required_text(reason, field="reason", max_length=200)
    return _close(actor=actor, deal=deal, status=DealStatus.LOST, action="deal.lose", lost_reason=reason)


@transaction.atomic
def deal_reopen(*, actor: User, deal: Deal) -> Deal:
    """Open again a won or lost deal, in the stage it was closed in."""
    require_write(actor, "deals")
    locked = _lock(deal)
    if locked.status == DealStatus.OPEN:
        raise Conflict("The deal is already open.", field="status")
    from_status = locked.status
    changes = apply_changes(locked, {"status": DealStatus.OPEN, "closed_at": None, "lost_reason": ""})
    locked.save(update_fields=["status", "closed_at", "lost_reason", "updated_at"])
    _record_change(actor=actor, deal=locked, from_stage=locked.stage, from_status=from_status, when=locked.updated_at)
    audit_record(actor=actor, action="deal.reopen", instance=locked, changes=changes)
    return locked


# ---- activities ----------------------------------------------------------------------------------


def _clean_activity(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    if "subject" in data:
        try:
            data["subject"] = _required_text(data["subject"], field="subject", max_length=200)
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if "kind" in data and data["kind"] not in ActivityKind.values:
        errors["kind"] = f"must be one of {', '.join(ActivityKind.values)}"
    if "notes" in data:
        try:
            data["notes"] = _text(data["notes"] or "", field="notes")
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if "due_at" in data:
        try:
            data["due_at"] = _utc(data["due_at"], field="due_at")
        except ValidationFailed as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    return data


@transaction.atomic
def activity_create(
    *,
    actor: User,
    subject: str,
    kind: str = ActivityKind.TODO,
    notes: str = "",
    due_at: dt.datetime | None = None,
    assignee: User | None = None,
    team: Team | None = None,
    contact: Any = None,
    account: Any = None,
    deal: Deal | None = None,
) -> Activity:
    """Create an activity assigned to ``assignee`` (the actor by default) in the assignee's team.

    An activity about a deal is also about the deal's contact and account unless others are given.
    """
    require_write(actor, "activities")
    data = _clean_activity({"subject": subject, "kind": kind, "notes": notes, "due_at": due_at})
    _check_active(assignee, field="assignee_id")
    assignee = assignee if assignee is not None else actor
    team = team if team is not None else assignee.team
    _keep_in_scope(actor, resource="activities", person=assignee, team=team, person_field="assignee_id")
    if deal is not None:
        contact = contact if contact is not None else deal.contact
        account = account if account is not None else deal.account
    activity = Activity.objects.create(
        **data, assignee=assignee, team=team, contact=contact, account=account, deal=deal
    )
    audit_record(actor=actor, action="activity.create", instance=activity, changes=_created(activity))
    return activity


@transaction.atomic
def activity_update(*, actor: User, activity: Activity, data: dict[str, Any]) -> Activity:
    """Change an activity's kind, subject, notes, due time, assignee, team or links.

    A new assignee brings the activity to their team unless a team is given too.
    """
    require_write(actor, "activities")
    _unknown_fields(data, ACTIVITY_FIELDS)
    data = _clean_activity(dict(data))
    _check_active(data.get("assignee"), field="assignee_id")
    if data.get("assignee") is not None and "team" not in data:
        data["team"] = data["assignee"].team  # as on creation, the team follows the assignee unless given
    if "assignee" in data or "team" in data:
        _keep_in_scope(
            actor,
            resource="activities",
            person=data.get("assignee", activity.assignee),
            team=data.get("team", activity.team),
            person_field="assignee_id" if "assignee" in data else "team_id",
        )
    changes = apply_changes(activity, data)
    if changes:
        activity.save()
        audit_record(actor=actor, action="activity.update", instance=activity, changes=changes)
    return activity


@transaction.atomic
def activity_complete(*, actor: User, activity: Activity) -> Activity:
    """Mark an open activity as done now."""
    require_write(actor, "activities")
    now = timezone.now()
    # A conditional update, so that of two concurrent completions exactly one succeeds.
    if not Activity.objects.filter(pk=activity.pk, done=False).update(done=True, done_at=now, updated_at=now):
        raise Conflict("The activity is already done.", field="done")
    changes = apply_changes(activity, {"done": True, "done_at": now})
    activity.updated_at = now
    audit_record(actor=actor, action="activity.complete", instance=activity, changes=changes)
    return activity


@transaction.atomic
def activity_reopen(*, actor: User, activity: Activity) -> Activity:
    """Mark a done activity as still to do."""
    require_write(actor, "activities")
    now = timezone.now()
    if not Activity.objects.filter(pk=activity.pk, done=True).update(done=False, done_at=None, updated_at=now):
        raise Conflict("The activity is not done.", field="done")
    changes = apply_changes(activity, {"done": False, "done_at": None})
    activity.updated_at = now
    audit_record(actor=actor, action="activity.reopen", instance=activity, changes=changes)
    return activity


@transaction.atomic
def activity_delete(*, actor: User, activity: Activity) -> None:
    """Delete an activity."""
    require_write(actor, "activities")
    changes = _deleted(activity)
    activity_id, label = activity.pk, str(activity)
    activity.delete()
    audit_record(
        actor=actor,
        action="activity.delete",
        object_type="sales.activity",
        object_id=activity_id,
        object_repr=label,
        changes=changes,
    )
