"""Factories for pipelines, deals and activities, straight through the ORM (tests only)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from cuore.core.normalize import text_key
from cuore.sales.models import Activity, Deal, DealStatus, Pipeline, Stage

_seq = itertools.count(1)

DEFAULT_STAGES = (("Lead", 10), ("Proposal", 50), ("Negotiation", 80))


def make_pipeline(
    *, name: str | None = None, stages: tuple[tuple[str, int], ...] = DEFAULT_STAGES, is_default: bool = False
) -> Pipeline:
    pipeline = Pipeline.objects.create(name=name or f"Pipeline {next(_seq)}", is_default=is_default)
    for position, (stage_name, probability) in enumerate(stages, start=1):
        Stage.objects.create(pipeline=pipeline, name=stage_name, position=position, probability=probability)
    return pipeline


def stage_of(pipeline: Pipeline, name: str) -> Stage:
    return Stage.objects.get(pipeline=pipeline, name=name)


def make_deal(
    *,
    stage: Stage,
    name: str | None = None,
    owner=None,
    team=None,
    amount: Decimal | str = "1000.00",
    currency: str = "EUR",
    expected_close: dt.date | None = None,
    status: str = DealStatus.OPEN,
    **fields,
) -> Deal:
    name = name or f"Deal {next(_seq)}"
    closed = status != DealStatus.OPEN
    return Deal.objects.create(
        name=name,
        name_key=text_key(name),
        pipeline_id=stage.pipeline_id,
        stage=stage,
        amount=Decimal(amount),
        currency=currency,
        expected_close=expected_close,
        status=status,
        lost_reason="price" if status == DealStatus.LOST else "",
        closed_at=dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC) if closed else None,
        owner=owner,
        team=team if team is not None else getattr(owner, "team", None),
        **fields,
    )


def make_activity(
    *,
    subject: str | None = None,
    assignee=None,
    team=None,
    kind: str = "todo",
    due_at: dt.datetime | None = None,
    done: bool = False,
    **fields,
) -> Activity:
    return Activity.objects.create(
        subject=subject or f"Activity {next(_seq)}",
        kind=kind,
        due_at=due_at,
        assignee=assignee,
        team=team if team is not None else getattr(assignee, "team", None),
        done=done,
        done_at=dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC) if done else None,
        **fields,
    )
