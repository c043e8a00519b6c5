"""REST endpoints for users, teams and the caller's API tokens."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.throttling import AnonRateThrottle

from cuore.core.api import Id, PathId, idempotent_create, page_of, page_response, patch_data
from cuore.core.pagination import paginate
from cuore.users import selectors, services

router = Router(tags=["users"])

RoleName = Literal["admin", "manager", "sales", "support", "marketing", "analyst"]


class TeamOut(Schema):
    id: int
    name: str


class TeamIn(Schema):
    name: str = Field(min_length=1, max_length=100)


class UserOut(Schema):
    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    role: str
    team_id: int | None
    language: str
    is_active: bool


class UserIn(Schema):
    username: str = Field(min_length=1, max_length=150)
    role: RoleName
    email: str = ""
    first_name: str = Field("", max_length=150)
    last_name: str = Field("", max_length=150)
    team_id: Id | None = None
    language: Literal["en", "it"] = "en"
    password: str | None = None


class UserPatch(Schema):
    role: RoleName | None = None
    email: str | None = None
    first_name: str | None = Field(None, max_length=150)
    last_name: str | None = Field(None, max_length=150)
    team_id: Id | None = None
    language: Literal["en", "it"] | None = None
    is_active: bool | None = None


class UserFilters(Schema):
    role: RoleName | None = None
    team_id: Id | None = None
    q: str | None = None
    ordering: Literal["username", "id"] = "username"
    cursor: str | None = None
    limit: int = 50


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class TokenCreatedOut(TokenOut):
    token: str


class TokenIn(Schema):
    name: str = Field("", max_length=100)


class CredentialsIn(Schema):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)
    name: str = Field("", max_length=100, description="a label for the token, e.g. the machine it is for")


USER_ORDERINGS = {"username": ("username", "id"), "id": ("id",)}


@router.get("/me", response=UserOut, summary="The authenticated user")
def me(request):
    return request.auth


@router.get("/users", response=page_of(UserOut))
def list_users(request, filters: Query[UserFilters]):
    users = selectors.user_list(actor=request.auth, role=filters.role, team_id=filters.team_id, q=filters.q)
    page = paginate(
        users,
        ordering_key=filters.ordering,
        ordering=USER_ORDERINGS[filters.ordering],
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return page_response(page)


@router.get("/users/{user_id}", response=UserOut)
def get_user(request, user_id: PathId):
    return selectors.user_get_for_actor(actor=request.auth, user_id=user_id)


def _team_or_none(actor, team_id):
    return selectors.team_get_for_actor(actor=actor, team_id=team_id) if team_id is not None else None


@router.post("/users", response={201: UserOut})
def create_user(request, payload: UserIn):
    def create():
        return services.user_create(
            actor=request.auth,
            username=payload.username,
            role=payload.role,
            password=payload.password,
            email=payload.email,
            first_name=payload.first_name,
            last_name=payload.last_name,
            team=_team_or_none(request.auth, payload.team_id),
            language=payload.language,
        )

    return idempotent_create(request, create, UserOut)


@router.patch("/users/{user_id}", response=UserOut)
def update_user(request, user_id: PathId, payload: UserPatch):
    user = selectors.user_get_for_actor(actor=request.auth, user_id=user_id)
    data = patch_data(payload, nullable={"team_id"})
    if "team_id" in data:
        data["team"] = _team_or_none(request.auth, data.pop("team_id"))
    return services.user_update(actor=request.auth, user=user, data=data)


@router.get("/teams", response=page_of(TeamOut))
def list_teams(request, cursor: str | None = None, limit: int = 50):
    page = paginate(
        selectors.team_list(actor=request.auth),
        ordering_key="name",
        ordering=("name", "id"),
        cursor=cursor,
        limit=limit,
    )
    return page_response(page)


@router.get("/teams/{team_id}", response=TeamOut)
def get_team(request, team_id: PathId):
    return selectors.team_get_for_actor(actor=request.auth, team_id=team_id)


@router.post("/teams", response={201: TeamOut})
def create_team(request, payload: TeamIn):
    return idempotent_create(request, lambda: services.team_create(actor=request.auth, name=payload.name), TeamOut)


@router.get("/tokens", response=page_of(TokenOut), summary="The caller's API tokens")
def list_tokens(request, cursor: str | None = None, limit: int = 50):
    page = paginate(
        selectors.token_list(actor=request.auth),
        ordering_key="-created",
        ordering=("-created_at", "-id"),
        cursor=cursor,
        limit=limit,
    )
    return page_response(page)


@router.post("/tokens", response={201: TokenCreatedOut}, summary="Issue a token for the caller (shown once)")
def create_token(request, payload: TokenIn):
    issued = services.token_create(actor=request.auth, user=request.auth, name=payload.name)
    issued.token.token = issued.raw
    return Status(201, issued.token)


@router.post(
    "/auth/token",
    auth=None,
    response={201: TokenCreatedOut},
    throttle=[AnonRateThrottle("10/m")],
    summary="Exchange a username and password for an API token (shown once)",
)
def token_from_password(request, payload: CredentialsIn):
    """No bearer token needed. Ten attempts a minute per address; a wrong password is a 401."""
    issued = services.token_create_with_password(
        username=payload.username, password=payload.password, name=payload.name
    )
    if issued is None:
        raise HttpError(401, "Wrong username or password.")
    issued.token.token = issued.raw
    return Status(201, issued.token)


@router.post("/tokens/{token_id}/revoke", response=TokenOut)
def revoke_token(request, token_id: PathId):
    token = selectors.token_get_for_actor(actor=request.auth, token_id=token_id)
    return services.token_revoke(actor=request.auth, token=token)
