"""Reads on users, teams and API tokens."""

from __future__ import annotations

from django.db.models import QuerySet

from cuore.core.errors import NotFound
from cuore.core.visibility import can_write, require_read
from cuore.users.models import ApiToken, Team, User
from cuore.users.services import TOKEN_PREFIX, token_hash


def user_list(
    *, actor: User, role: str | None = None, team_id: int | None = None, q: str | None = None
) -> QuerySet[User]:
    """Return the users ``actor`` may see, optionally filtered."""
    require_read(actor, "users")
    users = User.objects.select_related("team")
    if role:
        users = users.filter(role=role)
    if team_id:
        users = users.filter(team_id=team_id)
    if q:
        users = users.filter(username__istartswith=q.strip())
    return users


def user_get_for_actor(*, actor: User, user_id: int) -> User:
    require_read(actor, "users")
    user = User.objects.select_related("team").filter(pk=user_id).first()
    if user is None:
        raise NotFound("user")
    return user


def user_get_by_username(username: str) -> User | None:
    """Find a user by name, whatever the case (names are unique regardless of case)."""
    return User.objects.select_related("team").filter(username__iexact=username).first()


def user_for_command(username: str | None) -> User:
    """The user a command acts as: the named active user, or the first active administrator."""
    from cuore.core.errors import ValidationFailed
    from cuore.core.roles import Role

    users = User.objects.filter(is_active=True)
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise ValidationFailed(field="--user", reason=f"no active user called {username!r}")
        return user
    admin = users.filter(role=Role.ADMIN).order_by("pk").first()
    if admin is None:
        raise ValidationFailed(
            field="--user", reason="no active administrator: create one (cuore createadmin) or name a user"
        )
    return admin


def team_list(*, actor: User) -> QuerySet[Team]:
    require_read(actor, "teams")
    return Team.objects.all()


def team_get_for_actor(*, actor: User, team_id: int) -> Team:
    require_read(actor, "teams")
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise NotFound("team")
    return team


def team_get_by_name(name: str) -> Team | None:
    return Team.objects.filter(name__iexact=name.strip()).first()


def token_list(*, actor: User) -> QuerySet[ApiToken]:
    """Return the actor's own tokens, newest first."""
    return ApiToken.objects.filter(user=actor).order_by("-created_at", "-id")


def token_get_for_actor(*, actor: User, token_id: int) -> ApiToken:
    """Return one of the actor's own tokens; an administrator (who may change users) reaches anyone's."""
    tokens = ApiToken.objects.all() if can_write(actor, "users") else ApiToken.objects.filter(user=actor)
    token = tokens.filter(pk=token_id).first()
    if token is None:
        raise NotFound("token")
    return token


def token_authenticate(raw: str) -> ApiToken | None:
    """Return the active token matching ``raw`` with its active user, or ``None``."""
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__team")
        .filter(key_hash=token_hash(raw), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    return token
