"""Fixtures of the interaction tests: a controllable clock and the people who log touches."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


class Clock:
    """What ``timezone.now()`` answers while the test runs; creation times (auto_now_add) follow it too."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fixed = Clock(NOW)
    monkeypatch.setattr(timezone, "now", lambda: fixed.now)
    return fixed


@pytest.fixture
def rep(make_user, team):
    """A sales rep of team North."""
    return make_user(role="sales", team=team, username="rep")


@pytest.fixture
def teammate(make_user, team):
    """Another sales rep of team North."""
    return make_user(role="sales", team=team, username="teammate")


@pytest.fixture
def stranger(make_user, other_team):
    """A sales rep of team South."""
    return make_user(role="sales", team=other_team, username="stranger")


@pytest.fixture
def manager(make_user):
    return make_user(role="manager", username="manager")


@pytest.fixture
def agent(make_user):
    """A support agent."""
    return make_user(role="support", username="agent")
