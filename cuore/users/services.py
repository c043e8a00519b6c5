"""Writes on users, teams and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone

from cuore.core.audit import apply_changes, audit_record, snapshot
from cuore.core.errors import Conflict, ValidationFailed
from cuore.core.roles import Role
from cuore.core.visibility import require_write
from cuore.users.models import ApiToken, Team, User

TOKEN_PREFIX = "cuore_"


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(field="role", reason=f"must be one of {', '.join(Role.values)}")


@transaction.atomic
def team_create(*, actor: User | None, name: str) -> Team:
    """Create a team."""
    if actor is not None:
        require_write(actor, "teams")
    name = name.strip()
    if not name:
        raise ValidationFailed(field="name", reason="is required")
    if Team.objects.filter(name__iexact=name).exists():
        raise ValidationFailed(field="name", reason="a team with this name already exists")
    team = Team.objects.create(name=name)
    audit_record(actor=actor, action="team.create", instance=team, changes={"name": [None, name]})
    return team


@transaction.atomic
def user_create(
    *,
    actor: User | None,
    username: str,
    role: str,
    password: str | None = None,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    team: Team | None = None,
    language: str = "en",
) -> User:
    """Create a user with a role (and a team); ``actor=None`` means the command line or set-up."""
    if actor is not None:
        require_write(actor, "users")
    username = username.strip()
    if not username:
        raise ValidationFailed(field="username", reason="is required")
    if len(username) > 150:
        raise ValidationFailed(field="username", reason="must be at most 150 characters")
    _check_role(role)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationFailed(field="username", reason="is already taken")
    user = User(
        username=username,
        role=role,
        email=email.strip(),
        first_name=first_name,
        last_name=last_name,
        team=team,
        language=language,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if password is None:
        user.set_unusable_password()
    else:
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            raise ValidationFailed(field="password", reason=" ".join(exc.messages)) from None
        user.set_password(password)
    user.save()
    audit_record(
        actor=actor,
        action="user.create",
        instance=user,
        changes={k: [None, v] for k, v in snapshot(user, ["username", "role", "team", "email"]).items()},
    )
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, data: dict) -> User:
    """Change a user's profile, role, team or active flag."""
    require_write(actor, "users")
    if "role" in data:
        _check_role(data["role"])
        data["is_staff"] = data["is_superuser"] = data["role"] == Role.ADMIN
    if user.pk == actor.pk and (data.get("is_active") is False or data.get("role", actor.role) != actor.role):
        raise Conflict("You cannot deactivate yourself or change your own role.")
    changes = apply_changes(user, data)
    if changes:
        user.save()
        audit_record(actor=actor, action="user.update", instance=user, changes=changes)
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> User:
    """Set the language the web application speaks to ``user`` (their own choice: no role needed)."""
    choices = dict(User._meta.get_field("language").choices or [])
    if language not in choices:
        raise ValidationFailed(field="language", reason=f"must be one of {', '.join(choices)}")
    if user.language != language:
        before = user.language
        user.language = language
        user.save(update_fields=["language"])
        audit_record(actor=user, action="user.update", instance=user, changes={"language": [before, language]})
    return user


@transaction.atomic
def user_set_password(*, actor: User | None, user: User, password: str) -> None:
    """Set a user's password after checking it against the password rules."""
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationFailed(field="password", reason=" ".join(exc.messages)) from None
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(actor=actor, action="user.set_password", instance=user, changes={"password": ["***", "***"]})


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str


@transaction.atomic
def token_create(*, actor: User | None, user: User, name: str = "") -> IssuedToken:
    """Issue an API token for ``user``; the raw value is returned once and never stored."""
    if actor is not None and actor.pk != user.pk:
        require_write(actor, "users")
    if not user.is_active:
        raise ValidationFailed(field="user", reason="is not active")
    secret = secrets.token_urlsafe(32)
    raw = f"{TOKEN_PREFIX}{secret}"
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100], prefix=raw[: len(TOKEN_PREFIX) + 6], key_hash=token_hash(raw)
    )
    audit_record(
        actor=actor,
        action="token.create",
        instance=token,
        changes={"user": [None, user.pk], "name": [None, token.name]},
    )
    return IssuedToken(token=token, raw=raw)


def token_create_with_password(*, username: str, password: str, name: str = "") -> IssuedToken | None:
    """Issue a token to whoever proves they are ``username``; ``None`` for wrong or inactive credentials.

    The answer does not say which of the two was wrong. The token acts as the user, so the user is
    also the actor of the audit entry.
    """
    # Names are unique whatever the case: log in whatever the case (Django's own look-up is exact).
    canonical = User.objects.filter(username__iexact=username).values_list("username", flat=True).first()
    user = authenticate(username=canonical or username, password=password)
    if user is None:
        return None
    return token_create(actor=user, user=user, name=name or "password login")


@transaction.atomic
def token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    """Revoke a token; requests that present it are refused from now on."""
    if actor.pk != token.user_id:
        require_write(actor, "users")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, action="token.revoke", instance=token, changes={"revoked_at": [None, token.revoked_at]}
        )
    return token


def token_touch(*, token: ApiToken) -> None:
    """Record that a token was used, at most once a minute so reads do not turn into writes."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
