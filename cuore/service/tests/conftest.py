"""Fixtures of the service tests: a controllable clock, SLA policies, queues, customers and tickets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from cuore.contacts.models import Account, Contact, ContactAccount
from cuore.service import services
from cuore.service.models import Article, Queue, SlaPolicy, Ticket
from cuore.service.services import TargetMinutes

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)

# priority -> (first response, resolution) in minutes
DEFAULT_MINUTES = {"low": (480, 4800), "normal": (240, 2400), "high": (60, 480), "urgent": (15, 120)}
GOLD_MINUTES = {"low": (120, 1440), "normal": (60, 720), "high": (30, 240), "urgent": (5, 60)}


def targets_of(minutes: dict[str, tuple[int, int]]) -> list[TargetMinutes]:
    return [TargetMinutes(priority, first, resolution) for priority, (first, resolution) in minutes.items()]


class Clock:
    """What ``timezone.now()`` answers while the test runs; creation times (auto_now_add) follow it too."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def set(self, now: dt.datetime) -> None:
        self.now = now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fixed = Clock(START)
    monkeypatch.setattr(timezone, "now", lambda: fixed.now)
    return fixed


@pytest.fixture
def default_policy(db) -> SlaPolicy:
    return services.sla_policy_create(actor=None, name="Standard", is_default=True, targets=targets_of(DEFAULT_MINUTES))


@pytest.fixture
def gold_policy(db) -> SlaPolicy:
    return services.sla_policy_create(actor=None, name="Gold", targets=targets_of(GOLD_MINUTES))


@pytest.fixture
def gold_queue(gold_policy) -> Queue:
    return services.queue_create(actor=None, name="Gold customers", sla_policy=gold_policy)


@pytest.fixture
def plain_queue(db) -> Queue:
    return services.queue_create(actor=None, name="General")


@pytest.fixture
def account(db) -> Account:
    return Account.objects.create(name="Acme Srl", name_key="acme srl")


@pytest.fixture
def other_account(db) -> Account:
    return Account.objects.create(name="Beta Spa", name_key="beta spa")


@pytest.fixture
def contact(account, other_account) -> Contact:
    """Anna Neri, whose primary account is Acme (she also works with Beta)."""
    person = Contact.objects.create(first_name="Anna", last_name="Neri", first_name_key="anna", last_name_key="neri")
    ContactAccount.objects.create(contact=person, account=other_account, is_primary=False)
    ContactAccount.objects.create(contact=person, account=account, is_primary=True)
    return person


@pytest.fixture
def make_ticket(db) -> Callable[..., Ticket]:
    def make(subject: str = "Printer jammed", **kwargs: Any) -> Ticket:
        return services.ticket_create(actor=None, subject=subject, **kwargs)

    return make


@pytest.fixture
def make_article(db) -> Callable[..., Article]:
    def make(title: str, body: str = "Some text.", **kwargs: Any) -> Article:
        return services.article_create(actor=None, title=title, body=body, **kwargs)

    return make
