"""Bearer-token authentication for the API."""

from __future__ import annotations

from ninja.security import HttpBearer

from cuore.users.selectors import token_authenticate
from cuore.users.services import token_touch


class BearerAuth(HttpBearer):
    """Accept ``Authorization: Bearer <token>`` for an active, unrevoked token of an active user."""

    def authenticate(self, request, token: str):
        api_token = token_authenticate(token)
        if api_token is None:
            return None
        token_touch(token=api_token)
        request.api_token = api_token
        return api_token.user
