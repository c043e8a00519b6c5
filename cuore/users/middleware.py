"""Show the web application in the language the signed-in user chose."""

from __future__ import annotations

from django.utils import translation


class UserLanguageMiddleware:
    """After authentication: a signed-in user's saved language wins over the browser's.

    ``LocaleMiddleware`` has already picked a language from the browser for anonymous pages (the
    login page); once the user is known, their own choice is activated for the rest of the request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language and language != translation.get_language():
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        if language:
            response.headers.setdefault("Content-Language", language)
        return response
