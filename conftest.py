"""Fixtures shared by every app's tests: users of each role and an API client that speaks JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from cuore.core.roles import Role
from cuore.users.models import Team, User
from cuore.users.services import token_create

ROLES = [role.value for role in Role]


class ApiClient:
    """A Django test client that sends and reads JSON with a bearer token."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _call(
        self, method: str, path: str, data: Any = None, headers: dict | None = None, raw: bytes | str | None = None
    ):
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        all_headers = {**self.headers, **(headers or {})}
        kwargs: dict[str, Any] = {"headers": all_headers}
        if method in {"post", "patch", "put", "delete"}:
            kwargs["content_type"] = "application/json"
            if raw is not None:
                kwargs["data"] = raw
            elif data is not None:
                kwargs["data"] = json.dumps(data)
        elif data is not None:
            kwargs["data"] = data
        response = getattr(self.client, method)(url, **kwargs)
        response.json_body = (
            json.loads(response.content)
            if response.content and response["Content-Type"].startswith("application/json")
            else None
        )
        return response

    def get(self, path, params=None, **kw):
        return self._call("get", path, params, **kw)

    def post(self, path, data=None, **kw):
        return self._call("post", path, data, **kw)

    def patch(self, path, data=None, **kw):
        return self._call("patch", path, data, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)


def pytest_sessionstart(session):
    """The pages are tested in Italian too: compile any translation catalogue that changed."""
    from cuore.core.i18n import compile_catalogues

    compile_catalogues()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (throttling counts live there)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """A page shown in Italian must not leave Italian active for the next test."""
    from django.utils import translation

    yield
    translation.deactivate()


@pytest.fixture
def team(db) -> Team:
    return Team.objects.create(name="North")


@pytest.fixture
def other_team(db) -> Team:
    return Team.objects.create(name="South")


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    counter = {"n": 0}

    def make(role: str = Role.SALES, team: Team | None = None, username: str | None = None) -> User:
        counter["n"] += 1
        name = username or f"{role}{counter['n']}"
        return User.objects.create_user(
            username=name, password="Secret-pass-123", role=role, team=team, email=f"{name}@example.com"
        )

    return make


@pytest.fixture
def api_for() -> Callable[[User], ApiClient]:
    def make(user: User) -> ApiClient:
        return ApiClient(token_create(actor=None, user=user).raw)

    return make


@pytest.fixture
def users_by_role(make_user, team) -> dict[str, User]:
    """One user per role; the sales user is in team North."""
    return {role: make_user(role=role, team=team if role == Role.SALES else None) for role in ROLES}
